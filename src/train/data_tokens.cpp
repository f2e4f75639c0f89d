// Token-classification data: HF run_ner's label list and tokenize_and_align_labels
// (label_all_tokens=False).
#include "core/error.h"
#include "train/data.h"
#include "train/data_io.h"

namespace bigbird::train {

TokenClassificationData load_token_classification(const std::string& path, const Tokenizer& tokenizer,
                                                  const TokenClassificationOptions& options) {
  using detail::JsonRecord;
  const int64_t max_len = options.max_seq_length < 0 ? tokenizer.model_max_length() : options.max_seq_length;
  const int64_t nspecial = tokenizer.num_special_tokens_to_add(false);
  BB_CHECK(max_len > nspecial, "max_seq_length must be larger than ", nspecial, " (the special tokens), got ", max_len);
  const std::vector<JsonRecord> records = detail::read_jsonl_file(path);

  struct Row {
    std::vector<std::string> words, tags;
  };
  std::vector<Row> rows(records.size());
  detail::LabelCollector collector;
  for (size_t i = 0; i < records.size(); ++i) {
    const JsonRecord& r = records[i];
    const std::string tags_col = !options.tags_column.empty()   ? options.tags_column
                                 : r.value.contains("ner_tags") ? std::string("ner_tags")
                                                                : std::string("tags");
    const nlohmann::json& words = detail::field(r, options.tokens_column, path);
    const nlohmann::json& tags = detail::field(r, tags_col, path);
    if (!words.is_array())
      detail::record_fail(path, r.line, "field \"", options.tokens_column, "\" must be a list of strings, got ",
                          detail::json_type(words));
    if (!tags.is_array())
      detail::record_fail(path, r.line, "field \"", tags_col, "\" must be a list, got ", detail::json_type(tags));
    if (words.size() != tags.size())
      detail::record_fail(path, r.line, "\"", options.tokens_column, "\" has ", words.size(), " words but \"", tags_col,
                          "\" has ", tags.size(), " tags");
    for (size_t w = 0; w < words.size(); ++w) {
      if (!words[w].is_string())
        detail::record_fail(path, r.line, "field \"", options.tokens_column, "\" must be a list of strings, got ",
                            detail::json_type(words[w]), " at position ", w);
      rows[i].words.push_back(words[w].get<std::string>());
      rows[i].tags.push_back(collector.add(tags[w], "a tag of field \"" + tags_col + "\"", path, r.line));
    }
  }

  TokenClassificationData data;
  detail::resolve_labels(collector.sorted(), options.label2id, &data.id2label, &data.label2id);

  EncodeOptions plain;
  plain.add_special_tokens = false;
  const bool bert_style = tokenizer.cls_id() >= 0 && tokenizer.sep_id() >= 0;  // [CLS] A [SEP], else A </s>
  for (size_t i = 0; i < records.size(); ++i) {
    const JsonRecord& r = records[i];
    std::vector<int64_t> ids, labels;
    for (size_t w = 0; w < rows[i].words.size(); ++w) {
      const int64_t tag = detail::label_id(data.label2id, rows[i].tags[w], path, r.line);
      const Encoding e = detail::with_location(path, r.line, [&] { return tokenizer.encode(rows[i].words[w], plain); });
      for (size_t t = 0; t < e.input_ids.size(); ++t) {
        ids.push_back(e.input_ids[t]);
        labels.push_back(t == 0 ? tag : kIgnoreIndex);
      }
    }
    const size_t room = static_cast<size_t>(max_len - nspecial);
    if (ids.size() > room) {
      ids.resize(room);
      labels.resize(room);
    }
    Example x;
    if (bert_style) {
      x.input_ids.push_back(tokenizer.cls_id());
      x.labels.push_back(kIgnoreIndex);
    }
    x.input_ids.insert(x.input_ids.end(), ids.begin(), ids.end());
    x.labels.insert(x.labels.end(), labels.begin(), labels.end());
    x.input_ids.push_back(bert_style ? tokenizer.sep_id() : tokenizer.eos_id());
    x.labels.push_back(kIgnoreIndex);
    x.token_type_ids.assign(x.input_ids.size(), 0);
    x.attention_mask.assign(x.input_ids.size(), 1);
    data.examples.push_back(std::move(x));
  }
  return data;
}

}  // namespace bigbird::train
