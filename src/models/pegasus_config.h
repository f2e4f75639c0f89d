// BigBirdPegasusConfig: every config.json field that changes the maths of HF's
// BigBirdPegasusForConditionalGeneration, plus its generation defaults (generation_config.json
// when present, else config.json, as HF 4.27 does).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/bigbird_config.h"

namespace bigbird {

enum class EarlyStopping { False, True, Never };
EarlyStopping parse_early_stopping(const std::string& s);  // "true" | "false" | "never"
const char* early_stopping_name(EarlyStopping e);

// HF GenerationConfig fields that generate() honours here (defaults are HF's).
struct GenerationDefaults {
  int64_t max_length = 20;
  std::optional<int64_t> max_new_tokens;
  int64_t min_length = 0;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::False;
  int64_t no_repeat_ngram_size = 0;
  std::optional<int64_t> pad_token_id = 0;
  std::vector<int64_t> eos_token_id{1};  // empty = no eos (HF accepts an int or a list)
  std::optional<int64_t> bos_token_id = 2;
  std::optional<int64_t> decoder_start_token_id = 2;
  std::optional<int64_t> forced_eos_token_id;
  std::optional<int64_t> forced_bos_token_id;
  // Settings that would change HF's output but are not implemented, as "name=value"; generation
  // refuses to run while any is present (sampling, repetition penalties, bad words, ...).
  std::vector<std::string> unsupported;
};

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
  bool scale_embedding = true;     // token embeddings × sqrt(d_model)
  bool use_bias = false;           // bias of every attention projection (encoder and decoder)
  bool tie_word_embeddings = true; // lm_head = model.shared when lm_head.weight is absent
  AttentionType attention_type = AttentionType::BlockSparse;  // encoder only
  int64_t block_size = 64;
  int64_t num_random_blocks = 3;
  int64_t pad_token_id = 0;        // the id used for the encoder's internal padding rows
  double layer_norm_eps = 1e-5;    // nn.LayerNorm default; not a config field in HF
  GenerationDefaults generation;

  int64_t encoder_head_dim() const { return d_model / encoder_attention_heads; }
  int64_t decoder_head_dim() const { return d_model / decoder_attention_heads; }
  // HF's fall-back rule: block_sparse on an input of length <= (5 + 2r) * block runs full attention.
  int64_t max_tokens_for_full_fallback() const { return (5 + 2 * num_random_blocks) * block_size; }
};

// Parses `dir`/config.json and, when present, `dir`/generation_config.json. Throws bigbird::Error
// on a missing file, bad JSON, a wrong field type, an unknown activation_function or
// attention_type, or inconsistent sizes.
BigBirdPegasusConfig load_pegasus_config(const std::string& dir);

}  // namespace bigbird
