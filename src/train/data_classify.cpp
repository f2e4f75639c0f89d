// Sequence-classification data: HF run_glue's label handling and preprocess_function.
#include <optional>

#include "core/error.h"
#include "train/data.h"
#include "train/data_io.h"

namespace bigbird::train {

const char* problem_type_name(ProblemType p) {
  switch (p) {
    case ProblemType::SingleLabel: return "single_label_classification";
    case ProblemType::Regression: return "regression";
    case ProblemType::MultiLabel: return "multi_label_classification";
  }
  return "single_label_classification";
}

ClassificationData load_classification(const std::string& path, const Tokenizer& tokenizer,
                                       const ClassificationOptions& options) {
  using detail::JsonRecord;
  BB_CHECK(options.max_seq_length >= 1, "max_seq_length must be at least 1, got ", options.max_seq_length);
  const std::vector<JsonRecord> records = detail::read_jsonl_file(path);
  const std::string& col = options.label_column;

  // The problem type: lists -> multi-label, any float -> regression, else single-label.
  enum Kind { Unknown, List, Scalar };
  Kind kind = Unknown;
  bool any_float = false;
  for (const JsonRecord& r : records) {
    const nlohmann::json& v = detail::field(r, col, path);
    const Kind k = v.is_array() ? List : Scalar;
    if (kind != Unknown && k != kind)
      detail::record_fail(path, r.line, "field \"", col, "\" is ", k == List ? "a list" : "not a list",
                          " but earlier labels are ", kind == List ? "lists" : "not lists");
    kind = k;
    if (v.is_number_float()) any_float = true;
  }
  ClassificationData data;
  data.problem = kind == List ? ProblemType::MultiLabel
                 : any_float  ? ProblemType::Regression
                              : ProblemType::SingleLabel;

  // Labels (one key per label, or per element of a list).
  std::vector<std::vector<std::string>> keys(records.size());
  std::vector<float> values(records.size(), 0.0f);
  detail::LabelCollector collector;
  for (size_t i = 0; i < records.size(); ++i) {
    const JsonRecord& r = records[i];
    const nlohmann::json& v = r.value.at(col);
    const std::string what = "field \"" + col + "\"";
    if (data.problem == ProblemType::Regression) {
      if (!v.is_number()) detail::record_fail(path, r.line, what, " must be a number, got ", detail::json_type(v));
      values[i] = v.get<float>();
    } else if (data.problem == ProblemType::MultiLabel) {
      for (const nlohmann::json& e : v) keys[i].push_back(collector.add(e, "an element of " + what, path, r.line));
    } else {
      keys[i].push_back(collector.add(v, what, path, r.line));
    }
  }
  if (data.problem == ProblemType::Regression) {
    data.num_labels = 1;
  } else {
    detail::resolve_labels(collector.sorted(), options.label2id, &data.id2label, &data.label2id);
    data.num_labels = static_cast<int64_t>(data.id2label.size());
  }

  EncodeOptions enc;
  enc.max_length = options.max_seq_length;
  enc.truncation = Truncation::LongestFirst;
  for (size_t i = 0; i < records.size(); ++i) {
    const JsonRecord& r = records[i];
    const std::string text = detail::string_field(r, options.text_column, path);
    std::optional<std::string> pair;
    if (r.value.contains(options.text_pair_column)) pair = detail::string_field(r, options.text_pair_column, path);
    Example x;
    if (data.problem == ProblemType::Regression) {
      x.float_labels = {values[i]};
    } else if (data.problem == ProblemType::MultiLabel) {
      x.float_labels.assign(static_cast<size_t>(data.num_labels), 0.0f);
      for (const std::string& k : keys[i])
        x.float_labels[static_cast<size_t>(detail::label_id(data.label2id, k, path, r.line))] = 1.0f;
    } else {
      x.labels = {detail::label_id(data.label2id, keys[i][0], path, r.line)};
    }
    const Encoding e = detail::with_location(path, r.line, [&] {
      return pair ? tokenizer.encode(text, std::string_view(*pair), enc) : tokenizer.encode(text, enc);
    });
    x.input_ids = e.input_ids;
    x.token_type_ids = e.token_type_ids;
    x.attention_mask = e.attention_mask;
    data.examples.push_back(std::move(x));
  }
  return data;
}

}  // namespace bigbird::train
