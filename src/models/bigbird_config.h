// BigBirdConfig: every config.json field that changes the maths of the encoder and its heads.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "layers/types.h"
#include "models/config_overrides.h"
#include "sparse/layout.h"

namespace bigbird {

struct BigBirdConfig {
  std::string model_type = "big_bird";
  std::vector<std::string> architectures;
  int64_t vocab_size = 50358;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu_new";
  int64_t max_position_embeddings = 4096;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  bool use_bias = true;
  bool rescale_embeddings = false;
  bool tie_word_embeddings = true;  // the MLM decoder is the word-embedding matrix (HF's default)
  AttentionType attention_type = AttentionType::BlockSparse;
  int64_t block_size = 64;
  int64_t num_random_blocks = 3;
  LayoutSpec layout;  // this engine's extension keys window_blocks, global_blocks (sparse/layout.h)
  int64_t pad_token_id = 0;
  int64_t sep_token_id = 66;
  int64_t num_labels = 2;
  std::map<int64_t, std::string> id2label;
  std::string problem_type;  // "" (HF infers it from the labels), regression, single_/multi_label_classification
  // Dropout probabilities (applied only when training asks for dropout: TrainingOptions).
  double hidden_dropout_prob = 0.1;           // embeddings, attention output, feed-forward output, QA head
  double attention_probs_dropout_prob = 0.1;  // original_full attention's probabilities (HF's block-sparse has none)
  std::optional<double> classifier_dropout;   // classification heads; null: hidden_dropout_prob
  ConfigOverrides overrides;  // --config-overrides applied at load (written back by BigBirdModel::save)
  double classifier_dropout_prob() const { return classifier_dropout.value_or(hidden_dropout_prob); }

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // HF's fall-back rule: block_sparse on an input of length <= (5 + 2r) * block runs full attention.
  // Other layouts (window_blocks, global_blocks): LayoutSpec::fallback_blocks.
  int64_t max_tokens_for_full_fallback() const { return layout.fallback_blocks(num_random_blocks) * block_size; }
};

// Parses `path` (a config.json); throws bigbird::Error on a missing file, bad JSON, an unknown
// hidden_act / attention_type / position_embedding_type, or inconsistent sizes.
// `ov` (--config-overrides) changes the file's values before they are read and checked.
BigBirdConfig load_bigbird_config(const std::string& path, const ConfigOverrides& ov = {});

}  // namespace bigbird
