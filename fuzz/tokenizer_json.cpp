// HF tokenizer.json (text/hf_tokenizer_json.cpp): normalizers, pre-tokenizers, BPE / WordPiece /
// Unigram models, post-processors, decoders and added tokens, from the file alone (no
// tokenizer_config.json). The input is the file. A tokenizer that loads must encode text and a
// pair with consistent fields and ids inside its vocabulary, and decode what it made.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "text/tokenizer.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = fuzz::scratch_dir();
  fuzz::write_file(dir + "/tokenizer.json", data, size);
  fuzz::accepts([&] {
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(dir);
    FUZZ_CHECK(tok->vocab_size() > 0);
    for (int max_length : {0, 7}) {
      EncodeOptions o;
      if (max_length) o.max_length = max_length;
      const std::string text = "Hello, wor\xc3\xa9ld! ACGTNNNNNNNNNNNNACGT  x\ty \xe2\x96\x81z";
      const Encoding e = tok->encode(text, std::string_view("A pair, too."), o);
      const size_t n = e.input_ids.size();
      FUZZ_CHECK(e.tokens.size() == n);
      FUZZ_CHECK(e.offsets.size() == n);
      FUZZ_CHECK(e.special_tokens_mask.size() == n);
      FUZZ_CHECK(e.attention_mask.size() == n);
      FUZZ_CHECK(e.token_type_ids.size() == n);
      for (int64_t id : e.input_ids) FUZZ_CHECK(id >= 0 && id < tok->vocab_size());
      for (const auto& [b, end] : e.offsets) FUZZ_CHECK(b <= end);
      tok->decode(e.input_ids, true);
      tok->decode(e.input_ids, false);
    }
  });
  return 0;
}
