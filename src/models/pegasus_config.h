// BigBirdPegasusConfig: every config.json field that changes the maths of HF's
// BigBirdPegasusForConditionalGeneration, plus its generation defaults (generation_config.json
// when present, else config.json, as HF 4.27 does).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/bigbird_config.h"
#include "models/generation_defaults.h"

namespace bigbird {

struct BigBirdPegasusConfig {
  std::string model_type = "bigbird_pegasus";
  std::vector<std::string> architectures;
  int64_t vocab_size = 96103;
  int64_t d_model = 1024;
  int64_t encoder_layers = 16;
  int64_t decoder_layers = 16;
  int64_t encoder_attention_heads = 16;
  int64_t decoder_attention_heads = 16;
  int64_t encoder_ffn_dim = 4096;
  int64_t decoder_ffn_dim = 4096;
  int64_t max_position_embeddings = 4096;
  std::string activation_function = "gelu_new";
  bool scale_embedding = true;      // token embeddings × sqrt(d_model)
  bool use_bias = false;            // bias of every attention projection (encoder and decoder)
  bool tie_word_embeddings = true;  // lm_head = model.shared when lm_head.weight is absent
  AttentionType attention_type = AttentionType::BlockSparse;  // encoder only
  int64_t block_size = 64;
  int64_t num_random_blocks = 3;
  LayoutSpec layout;  // this engine's extension keys window_blocks, global_blocks (sparse/layout.h)
  int64_t pad_token_id = 0;      // the id used for the encoder's internal padding rows
  double layer_norm_eps = 1e-5;  // nn.LayerNorm default; not a config field in HF
  GenerationDefaults generation;

  int64_t encoder_head_dim() const { return d_model / encoder_attention_heads; }
  int64_t decoder_head_dim() const { return d_model / decoder_attention_heads; }
  // HF's fall-back rule: block_sparse on an input of length <= (5 + 2r) * block runs full attention.
  // Other layouts (window_blocks, global_blocks): LayoutSpec::fallback_blocks.
  int64_t max_tokens_for_full_fallback() const { return layout.fallback_blocks(num_random_blocks) * block_size; }
};

// Parses `dir`/config.json and, when present, `dir`/generation_config.json. Throws bigbird::Error
// on a missing file, bad JSON, a wrong field type, an unknown activation_function or
// attention_type, or inconsistent sizes.
// `ov`: --config-overrides, applied to config.json before it is read.
BigBirdPegasusConfig load_pegasus_config(const std::string& dir, const ConfigOverrides& ov = {});

}  // namespace bigbird
