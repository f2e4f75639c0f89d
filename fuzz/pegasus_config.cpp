// BigBird-Pegasus's config.json and generation_config.json (models/pegasus_config.*): accepted,
// with sizes the model can use, or a bigbird::Error. The input is config.json, or (when it holds a
// 0 byte) config.json before the first 0 byte and generation_config.json after it.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "models/pegasus_config.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = fuzz::scratch_dir();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find('\0');
  fuzz::write_file(dir + "/config.json", in.substr(0, cut));
  const std::string gpath = dir + "/generation_config.json";
  if (cut == std::string_view::npos) std::remove(gpath.c_str());
  else fuzz::write_file(gpath, in.substr(cut + 1));
  fuzz::accepts([&] {
    const BigBirdPegasusConfig c = load_pegasus_config(dir);
    FUZZ_CHECK(c.vocab_size > 0 && c.d_model > 0 && c.encoder_layers > 0 && c.decoder_layers > 0);
    FUZZ_CHECK(c.encoder_ffn_dim > 0 && c.decoder_ffn_dim > 0 && c.max_position_embeddings > 0);
    FUZZ_CHECK(c.block_size > 0 && c.num_random_blocks >= 0);
    FUZZ_CHECK(c.encoder_head_dim() > 0 && c.d_model % c.encoder_attention_heads == 0);
    FUZZ_CHECK(c.decoder_head_dim() > 0 && c.d_model % c.decoder_attention_heads == 0);
    FUZZ_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size);
    FUZZ_CHECK(c.max_tokens_for_full_fallback() > 0);  // UBSan: no signed overflow
  });
  return 0;
}
