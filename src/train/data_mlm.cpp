// Masked-LM data: HF run_mlm's tokenize + group_texts, and DataCollatorForLanguageModeling.
#include <algorithm>

#include "core/error.h"
#include "text/utf8.h"
#include "train/data.h"
#include "train/data_io.h"

namespace bigbird::train {

namespace {

bool has_json_extension(const std::string& path) {
  const auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".jsonl") || ends_with(".json");
}

// The first non-blank line parses as a JSON object.
bool looks_like_jsonl(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (detail::is_blank(line)) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    return j.is_object();
  }
  return false;
}

// Documents of a plain-text file: runs of non-blank lines, joined with "\n". Each line must be
// valid UTF-8 ("PATH:LINE: the line is not valid UTF-8 ...").
std::vector<std::string> text_documents(const std::string& text, const std::string& path) {
  std::vector<std::string> docs;
  std::string cur;
  bool open = false;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    detail::with_location(path, line_no, [&] { utf8::validate(line, "the line"); });
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (detail::is_blank(line)) {
      if (open) docs.push_back(std::move(cur));
      cur.clear();
      open = false;
      continue;
    }
    if (open) cur += '\n';
    cur.append(line);
    open = true;
  }
  if (open) docs.push_back(std::move(cur));
  return docs;
}

// splitmix64's finaliser: a bijective 64-bit mix.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Counter-based draws keyed by (seed, epoch, index): draw(position, stream) is a pure function.
class CounterRng {
 public:
  CounterRng(uint64_t seed, int64_t epoch, int64_t index)
      : key_(mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index))) {}
  uint64_t bits(int64_t position, uint64_t stream) const {
    return mix64(key_ ^ mix64(static_cast<uint64_t>(position) * 4 + stream));
  }
  double uniform(int64_t position, uint64_t stream) const {  // [0, 1)
    return static_cast<double>(bits(position, stream) >> 11) * 0x1.0p-53;
  }
  int64_t below(int64_t position, uint64_t stream, int64_t n) const {  // [0, n), Lemire's multiply
    return static_cast<int64_t>((static_cast<unsigned __int128>(bits(position, stream)) * static_cast<uint64_t>(n)) >>
                                64);
  }

 private:
  uint64_t key_;
};

}  // namespace

std::vector<Example> group_mlm_documents(const std::vector<std::string>& documents, const Tokenizer& tokenizer,
                                         int64_t max_seq_length, int64_t group_batch_size) {
  BB_CHECK(max_seq_length >= 1, "max_seq_length must be at least 1, got ", max_seq_length);
  BB_CHECK(group_batch_size >= 1, "group_batch_size must be at least 1, got ", group_batch_size);
  const size_t L = static_cast<size_t>(max_seq_length);
  std::vector<Example> out;
  for (size_t b = 0; b < documents.size(); b += static_cast<size_t>(group_batch_size)) {
    const size_t e = std::min(documents.size(), b + static_cast<size_t>(group_batch_size));
    Example all;
    for (size_t d = b; d < e; ++d) {
      const Encoding enc = tokenizer.encode(documents[d]);  // no truncation: run_mlm's tokenize_function
      all.input_ids.insert(all.input_ids.end(), enc.input_ids.begin(), enc.input_ids.end());
      all.token_type_ids.insert(all.token_type_ids.end(), enc.token_type_ids.begin(), enc.token_type_ids.end());
      all.attention_mask.insert(all.attention_mask.end(), enc.attention_mask.begin(), enc.attention_mask.end());
      all.special_tokens_mask.insert(all.special_tokens_mask.end(), enc.special_tokens_mask.begin(),
                                     enc.special_tokens_mask.end());
    }
    size_t total = all.input_ids.size();
    if (total >= L) total = (total / L) * L;  // group_texts drops the remainder of the batch
    const auto slice = [](const std::vector<int64_t>& v, size_t from, size_t to) {
      return v.empty() ? std::vector<int64_t>{} : std::vector<int64_t>(v.begin() + from, v.begin() + to);
    };
    for (size_t i = 0; i < total; i += L) {
      const size_t j = std::min(total, i + L);
      Example x;
      x.input_ids = slice(all.input_ids, i, j);
      x.token_type_ids = slice(all.token_type_ids, i, j);
      x.attention_mask = slice(all.attention_mask, i, j);
      x.special_tokens_mask = slice(all.special_tokens_mask, i, j);
      out.push_back(std::move(x));
    }
  }
  return out;
}

std::vector<Example> load_mlm_corpus(const std::string& path, const Tokenizer& tokenizer, int64_t max_seq_length,
                                     int64_t group_batch_size, const std::string& text_column) {
  const std::string text = detail::read_whole_file(path);
  std::vector<std::string> docs;
  if (has_json_extension(path) || looks_like_jsonl(text)) {
    for (const detail::JsonRecord& r : detail::read_jsonl_file(path))
      docs.push_back(detail::string_field(r, text_column, path));
  } else {
    docs = text_documents(text, path);
    if (docs.empty()) fail(path, ": empty file (expected text, documents separated by blank lines)");
  }
  try {
    return group_mlm_documents(docs, tokenizer, max_seq_length, group_batch_size);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

MaskingInfo MaskingInfo::from(const Tokenizer& tokenizer) {
  MaskingInfo info;
  info.mask_id = tokenizer.mask_id();
  info.vocab_size = tokenizer.vocab_size();
  info.special_ids = tokenizer.all_special_ids();
  BB_CHECK(info.mask_id >= 0, "the tokenizer has no mask token, which masked-LM training needs");
  return info;
}

Example mask_tokens(const Example& example, const MaskingInfo& info, uint64_t seed, int64_t epoch, int64_t index,
                    double mlm_probability) {
  BB_CHECK(mlm_probability >= 0.0 && mlm_probability <= 1.0, "mlm_probability must be in [0, 1], got ",
           mlm_probability);
  BB_CHECK(info.mask_id >= 0 && info.vocab_size > 0, "mask_tokens: no mask id or vocabulary size");
  const size_t n = example.input_ids.size();
  BB_CHECK(example.special_tokens_mask.empty() || example.special_tokens_mask.size() == n,
           "mask_tokens: special_tokens_mask has ", example.special_tokens_mask.size(), " entries for ", n, " tokens");
  Example out = example;
  out.labels.assign(n, kIgnoreIndex);
  const CounterRng rng(seed, epoch, index);
  for (size_t t = 0; t < n; ++t) {
    const int64_t id = example.input_ids[t];
    const bool special = example.special_tokens_mask.empty()
                             ? std::find(info.special_ids.begin(), info.special_ids.end(), id) != info.special_ids.end()
                             : example.special_tokens_mask[t] != 0;
    const bool padding = !example.attention_mask.empty() && example.attention_mask[t] == 0;
    if (special || padding) continue;
    const int64_t pos = static_cast<int64_t>(t);
    if (!(rng.uniform(pos, 0) < mlm_probability)) continue;
    out.labels[t] = id;
    if (rng.uniform(pos, 1) < 0.8) out.input_ids[t] = info.mask_id;
    else if (rng.uniform(pos, 2) < 0.5) out.input_ids[t] = rng.below(pos, 3, info.vocab_size);
    // else: unchanged
  }
  return out;
}

}  // namespace bigbird::train
