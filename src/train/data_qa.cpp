// Question-answering data: HF run_qa's prepare_train_features (fast-tokenizer overflow windows).
#include <algorithm>

#include "core/error.h"
#include "text/utf8.h"
#include "train/data.h"
#include "train/data_io.h"

namespace bigbird::train {

std::vector<Example> qa_features(const QaRecord& record, const Tokenizer& tokenizer, const QaOptions& options) {
  BB_CHECK(tokenizer.cls_id() >= 0 && tokenizer.sep_id() >= 0,
           "question answering needs a tokenizer with [CLS] and [SEP] (", tokenizer.class_name(), " has none)");
  BB_CHECK(record.answer_texts.size() == record.answer_starts.size(), "the answer has ", record.answer_texts.size(),
           " texts but ", record.answer_starts.size(), " starts");
  EncodeOptions plain;
  plain.add_special_tokens = false;
  // run_qa strips the question's leading whitespace (it would waste tokens when truncating).
  const std::vector<int64_t> q = tokenizer.encode(utf8::lstrip(record.question), plain).input_ids;
  const Encoding ctx = tokenizer.encode(record.context, plain);

  const int64_t L = options.max_seq_length, nq = static_cast<int64_t>(q.size());
  const int64_t room = L - nq - 3;  // context tokens per window: [CLS] q [SEP] c [SEP]
  if (room <= 0)
    fail("the question is ", nq, " tokens long: with max_seq_length ", L, " no room is left for the context");
  BB_CHECK(options.doc_stride >= 0, "doc_stride must not be negative, got ", options.doc_stride);
  const int64_t n = static_cast<int64_t>(ctx.input_ids.size()), step = room - options.doc_stride;
  // As HF's fast tokenizers (tokenizers 0.13, transformers 4.27): the stride only matters, and is
  // only checked, when the context overflows the window; a context that fits makes one window
  // whatever the stride.
  if (n > room && options.doc_stride >= room)
    fail("doc_stride (", options.doc_stride, ") must be smaller than the context tokens of a window (", room,
         " = max_seq_length ", L, " - ", nq, " question tokens - 3 special tokens) when the context (", n,
         " tokens) is split into windows");

  const bool has_answer = !record.answer_starts.empty();
  const int64_t start_char = has_answer ? record.answer_starts[0] : 0;
  const int64_t end_char = has_answer ? start_char + utf8::length(record.answer_texts[0]) : 0;

  std::vector<Example> out;
  for (int64_t start = 0;; start += step) {
    const int64_t stop = std::min(start + room, n), len = stop - start;
    Example x;
    x.input_ids.push_back(tokenizer.cls_id());
    x.input_ids.insert(x.input_ids.end(), q.begin(), q.end());
    x.input_ids.push_back(tokenizer.sep_id());
    x.input_ids.insert(x.input_ids.end(), ctx.input_ids.begin() + start, ctx.input_ids.begin() + stop);
    x.input_ids.push_back(tokenizer.sep_id());
    x.token_type_ids.assign(x.input_ids.size(), 1);
    std::fill(x.token_type_ids.begin(), x.token_type_ids.begin() + nq + 2, 0);
    x.attention_mask.assign(x.input_ids.size(), 1);
    // Offsets (run_qa's prepare_validation_features): the context's tokens only.
    x.offsets.assign(x.input_ids.size(), {-1, -1});
    std::copy(ctx.offsets.begin() + start, ctx.offsets.begin() + stop, x.offsets.begin() + nq + 2);

    // Positions: the cls index (0) unless the window holds the whole answer.
    x.start_position = x.end_position = 0;
    const auto off = [&](int64_t k) { return ctx.offsets[static_cast<size_t>(k)]; };  // k: context token
    if (has_answer && len > 0 && off(start).first <= start_char && off(stop - 1).second >= end_char) {
      int64_t ts = start;
      while (ts < stop && off(ts).first <= start_char) ++ts;
      int64_t te = stop - 1;
      while (te >= start && off(te).second >= end_char) --te;
      x.start_position = nq + 2 + (ts - 1 - start);
      x.end_position = nq + 2 + (te + 1 - start);
    }
    out.push_back(std::move(x));
    if (stop >= n) break;
  }
  return out;
}

std::vector<QaRecord> read_qa_records(const std::string& path) {
  std::vector<QaRecord> out;
  for (const detail::JsonRecord& r : detail::read_jsonl_file(path)) {
    QaRecord q;
    if (r.value.contains("id")) {
      const nlohmann::json& id = r.value["id"];
      if (!id.is_string() && !id.is_number_integer())
        detail::record_fail(path, r.line, "field \"id\" must be a string, got ", detail::json_type(id));
      q.id = id.is_string() ? id.get<std::string>() : std::to_string(id.get<int64_t>());
    }
    q.question = detail::string_field(r, "question", path);
    q.context = detail::string_field(r, "context", path);
    const nlohmann::json& a = detail::field(r, "answers", path);
    if (!a.is_object())
      detail::record_fail(path, r.line,
                          "field \"answers\" must be an object {\"text\": [...], \"answer_start\": [...]}, got ",
                          detail::json_type(a));
    for (const char* key : {"text", "answer_start"}) {
      if (!a.contains(key)) detail::record_fail(path, r.line, "missing field \"answers.", key, "\"");
      if (!a[key].is_array())
        detail::record_fail(path, r.line, "field \"answers.", key, "\" must be a list, got ",
                            detail::json_type(a[key]));
    }
    for (const nlohmann::json& t : a["text"]) {
      if (!t.is_string())
        detail::record_fail(path, r.line, "field \"answers.text\" must be a list of strings, got ",
                            detail::json_type(t));
      q.answer_texts.push_back(t.get<std::string>());
    }
    for (const nlohmann::json& s : a["answer_start"]) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0)
        detail::record_fail(path, r.line,
                            "field \"answers.answer_start\" must be a list of non-negative integers, got ", s.dump());
      q.answer_starts.push_back(s.get<int64_t>());
    }
    if (q.answer_texts.size() != q.answer_starts.size())
      detail::record_fail(path, r.line, "\"answers\" has ", q.answer_texts.size(), " texts but ",
                          q.answer_starts.size(), " starts");
    q.line = r.line;
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<Example> load_qa(const std::string& path, const Tokenizer& tokenizer, const QaOptions& options) {
  std::vector<Example> out;
  const std::vector<QaRecord> records = read_qa_records(path);
  for (size_t i = 0; i < records.size(); ++i) {
    const QaRecord& r = records[i];
    std::vector<Example> f = detail::with_location(path, r.line, [&] { return qa_features(r, tokenizer, options); });
    for (Example& x : f) {
      x.example_index = static_cast<int64_t>(i);
      out.push_back(std::move(x));
    }
  }
  return out;
}

}  // namespace bigbird::train
