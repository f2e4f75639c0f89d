// The tokenizers (text/): BigBird's and Pegasus's, as shipped with models/tiny-mlm and
// models/tiny-pegasus. The input picks the tokenizer and the options (special tokens, max_length,
// truncation, padding, a pair), then the text (and the pair, after the first 0 byte) is encoded
// and decoded, and the bytes left are decoded as token ids. Invalid UTF-8 and ids outside the
// vocabulary are bigbird::Errors; an encoding must be consistent (one entry per token in every
// vector, ids in the vocabulary, offsets inside the text they point into).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

using namespace bigbird;

namespace {

const Tokenizer& tokenizer(int which) {
  static const std::unique_ptr<Tokenizer> bigbird = Tokenizer::load(fuzz::source_path("models/tiny-mlm"));
  static const std::unique_ptr<Tokenizer> pegasus = Tokenizer::load(fuzz::source_path("models/tiny-pegasus"));
  return which == 0 ? *bigbird : *pegasus;
}

void check_encoding(const Tokenizer& tok, const Encoding& e, std::string_view text,
                    std::optional<std::string_view> pair, const EncodeOptions& o, bool check_length = true) {
  const size_t n = e.input_ids.size();
  FUZZ_CHECK(e.token_type_ids.size() == n && e.attention_mask.size() == n && e.special_tokens_mask.size() == n);
  FUZZ_CHECK(e.tokens.size() == n && e.offsets.size() == n && e.sequence_ids.size() == n);
  const int64_t len[2] = {utf8::length(text), pair ? utf8::length(*pair) : 0};
  for (size_t i = 0; i < n; ++i) {
    FUZZ_CHECK(e.input_ids[i] >= 0 && e.input_ids[i] < tok.vocab_size());
    FUZZ_CHECK(e.tokens[i] == tok.id_to_token(e.input_ids[i]));
    FUZZ_CHECK(e.attention_mask[i] == 0 || e.attention_mask[i] == 1);
    const int64_t s = e.sequence_ids[i];
    FUZZ_CHECK(s == -1 || s == 0 || (s == 1 && pair));
    const auto [b, end] = e.offsets[i];
    if (s < 0) FUZZ_CHECK(b == 0 && end == 0);
    else FUZZ_CHECK(0 <= b && b <= end && end <= len[s]);
  }
  // Truncation that is possible leaves at most max_length tokens. HF truncates nothing (and logs
  // an error) when it would have to remove every token of the text, or more.
  if (!check_length) return;
  const int64_t specials = o.add_special_tokens ? tok.num_special_tokens_to_add(pair.has_value()) : 0;
  if (o.max_length >= specials && o.truncation == Truncation::LongestFirst && e.warnings.empty())
    FUZZ_CHECK(static_cast<int64_t>(n) <= std::max(o.max_length, int64_t{0}) || o.padding == Padding::MaxLength);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizer(0), tokenizer(1);  // loaded once, before the first input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const Tokenizer& tok = tokenizer(in.ConsumeIntegralInRange<int>(0, 1));
  EncodeOptions o;
  o.add_special_tokens = in.ConsumeBool();
  o.max_length = in.ConsumeIntegralInRange<int64_t>(-1, 40);
  o.truncation = static_cast<Truncation>(in.ConsumeIntegralInRange<int>(0, 3));
  o.padding = static_cast<Padding>(in.ConsumeIntegralInRange<int>(0, 2));
  const bool use_pair = in.ConsumeBool();
  const bool skip_special = in.ConsumeBool();
  const bool clean_up = in.ConsumeBool();
  const std::string text = in.ConsumeRandomLengthString(2048);
  const std::string pair = in.ConsumeRandomLengthString(2048);
  const std::optional<std::string_view> p = use_pair ? std::optional<std::string_view>(pair) : std::nullopt;

  fuzz::accepts([&] { tok.tokenize(text); });
  const bool valid = utf8::find_invalid(text) == std::string_view::npos &&
                     (!use_pair || utf8::find_invalid(pair) == std::string_view::npos);
  std::vector<int64_t> ids;
  const bool encoded = fuzz::accepts([&] {
    const Encoding e = tok.encode(text, p, o);
    check_encoding(tok, e, text, p, o);
    ids = e.input_ids;
  });
  if (encoded) {
    FUZZ_CHECK(valid);  // invalid UTF-8 is refused
    const std::string back = tok.decode(ids, skip_special, clean_up);
    (void)back;
  }
  fuzz::accepts([&] {
    const std::vector<Encoding> rows = tok.encode_batch({text, pair, ""}, o);
    FUZZ_CHECK(rows.size() == 3);
    // Padding::Longest pads every row to the longest one, which may be a row HF could not truncate.
    bool warned = false;
    for (const Encoding& r : rows) warned = warned || !r.warnings.empty();
    for (size_t i = 0; i < rows.size(); ++i)
      check_encoding(tok, rows[i], i == 0 ? text : i == 1 ? pair : "", {}, o, !warned);
  });
  // The bytes left as token ids (two bytes each, some past the vocabulary).
  std::vector<int64_t> raw;
  while (in.remaining_bytes() >= 2) raw.push_back(in.ConsumeIntegralInRange<int64_t>(-2, tok.vocab_size() + 2));
  bool in_vocab = true;
  for (int64_t id : raw) in_vocab = in_vocab && id >= 0 && id < tok.vocab_size();
  const bool decoded = fuzz::accepts([&] { tok.decode(raw, skip_special, clean_up); });
  FUZZ_CHECK(decoded == in_vocab);
  const bool converted = fuzz::accepts([&] { tok.convert_ids_to_tokens(raw, skip_special); });
  FUZZ_CHECK(converted == in_vocab);
  return 0;
}
