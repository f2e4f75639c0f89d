// BigBird's config.json (models/bigbird_config.*): accepted, with sizes the model can use, or a
// bigbird::Error.
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "models/bigbird_config.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::scratch_dir() + "/config.json";
  fuzz::write_file(path, data, size);
  fuzz::accepts([&] {
    const BigBirdConfig c = load_bigbird_config(path);
    FUZZ_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0);
    FUZZ_CHECK(c.intermediate_size > 0 && c.max_position_embeddings > 0 && c.block_size > 0);
    FUZZ_CHECK(c.num_random_blocks >= 0 && c.type_vocab_size >= 0 && c.num_labels > 0);
    FUZZ_CHECK(c.hidden_size % c.num_attention_heads == 0 && c.head_dim() > 0);
    FUZZ_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size);
    FUZZ_CHECK(c.sep_token_id >= 0 && c.sep_token_id < c.vocab_size);
    FUZZ_CHECK(c.max_tokens_for_full_fallback() > 0);  // UBSan: no signed overflow
    FUZZ_CHECK(c.id2label.empty() || static_cast<int64_t>(c.id2label.size()) == c.id2label.rbegin()->first + 1);
    const double p = c.classifier_dropout_prob();
    FUZZ_CHECK(p >= 0 && p <= 1);
  });
  return 0;
}
