#include "models/bigbird_config.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/json_file.h"
#include "kernels/activations.h"

namespace bigbird {

namespace {
// Every key load_bigbird_config reads (what --config-overrides may add to a file that lacks it).
const std::vector<std::string> kKnownKeys = {
    "model_type", "architectures", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "use_bias",
    "rescale_embeddings", "tie_word_embeddings", "block_size", "num_random_blocks", "window_blocks",
    "global_blocks", "num_global_tokens", "pad_token_id", "sep_token_id", "hidden_dropout_prob", "attention_probs_dropout_prob",
    "classifier_dropout", "attention_type", "position_embedding_type", "num_labels", "problem_type",
    "bos_token_id", "eos_token_id"};
}  // namespace

BigBirdConfig load_bigbird_config(const std::string& path, const ConfigOverrides& ov) {
  std::ifstream probe(path);
  if (!probe) fail("cannot open model config '", path, "'");
  nlohmann::json j = read_json_object(path);
  apply_config_overrides(j, ov, kKnownKeys, path);
  BigBirdConfig c;
  c.overrides = ov;
  json_get(j, "model_type", &c.model_type, path);
  json_get(j, "architectures", &c.architectures, path);
  json_get(j, "vocab_size", &c.vocab_size, path);
  json_get(j, "hidden_size", &c.hidden_size, path);
  json_get(j, "num_hidden_layers", &c.num_hidden_layers, path);
  json_get(j, "num_attention_heads", &c.num_attention_heads, path);
  json_get(j, "intermediate_size", &c.intermediate_size, path);
  json_get(j, "hidden_act", &c.hidden_act, path);
  json_get(j, "max_position_embeddings", &c.max_position_embeddings, path);
  json_get(j, "type_vocab_size", &c.type_vocab_size, path);
  json_get(j, "layer_norm_eps", &c.layer_norm_eps, path);
  json_get(j, "use_bias", &c.use_bias, path);
  json_get(j, "rescale_embeddings", &c.rescale_embeddings, path);
  json_get(j, "tie_word_embeddings", &c.tie_word_embeddings, path);
  json_get(j, "block_size", &c.block_size, path);
  json_get(j, "num_random_blocks", &c.num_random_blocks, path);
  json_get(j, "window_blocks", &c.layout.window_blocks, path);
  json_get(j, "global_blocks", &c.layout.global_blocks, path);
  json_get(j, "num_global_tokens", &c.layout.global_tokens, path);
  json_get(j, "pad_token_id", &c.pad_token_id, path);
  json_get(j, "sep_token_id", &c.sep_token_id, path);
  json_get(j, "hidden_dropout_prob", &c.hidden_dropout_prob, path);
  json_get(j, "attention_probs_dropout_prob", &c.attention_probs_dropout_prob, path);
  if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null()) {
    double p = 0;
    json_get(j, "classifier_dropout", &p, path);
    c.classifier_dropout = p;
  }
  for (auto [name, p] : {std::pair{"hidden_dropout_prob", c.hidden_dropout_prob},
                         std::pair{"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
                         std::pair{"classifier_dropout", c.classifier_dropout_prob()}})
    BB_CHECK(p >= 0 && p <= 1, path, ": ", name, " must be in [0, 1], got ", p);
  std::string att = "block_sparse";
  json_get(j, "attention_type", &att, path);
  try {
    c.attention_type = parse_attention_type(att);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  std::string pos = "absolute";
  json_get(j, "position_embedding_type", &pos, path);
  if (pos != "absolute") fail(path, ": unsupported position_embedding_type '", pos, "' (BigBird uses 'absolute')");
  if (!is_known_activation(c.hidden_act))
    fail(path, ": unknown hidden_act '", c.hidden_act, "' (known: ", known_activations(), ")");
  if (j.contains("id2label") && !j["id2label"].is_null()) {
    BB_CHECK(j["id2label"].is_object(), path, ": field 'id2label' must be an object {\"0\": label, ...}, got ",
             j["id2label"].dump());
    for (auto it = j["id2label"].begin(); it != j["id2label"].end(); ++it) {
      const std::string& key = it.key();
      const bool digits = !key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos;
      BB_CHECK(digits, path, ": id2label key '", key, "' is not a label index (0, 1, ...)");
      BB_CHECK(it.value().is_string(), path, ": id2label['", key, "'] must be a string, got ", it.value().dump());
      c.id2label[std::stoll(key)] = it.value().get<std::string>();
    }
    const int64_t n = static_cast<int64_t>(c.id2label.size());
    BB_CHECK(n > 0, path, ": id2label is empty");
    BB_CHECK(c.id2label.rbegin()->first == n - 1, path, ": id2label keys must be 0 to ", n - 1,
             " (one per label), got ", c.id2label.rbegin()->first, " as the largest of ", n);
    c.num_labels = n;
  }
  json_get(j, "num_labels", &c.num_labels, path);
  if (j.contains("problem_type") && !j["problem_type"].is_null()) json_get(j, "problem_type", &c.problem_type, path);
  BB_CHECK(c.problem_type.empty() || c.problem_type == "regression" ||
               c.problem_type == "single_label_classification" || c.problem_type == "multi_label_classification",
           path, ": unknown problem_type '", c.problem_type,
           "' (regression, single_label_classification or multi_label_classification)");

  auto positive = [&](const char* name, int64_t v) { BB_CHECK(v > 0, path, ": ", name, " must be positive, got ", v); };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  positive("block_size", c.block_size);
  BB_CHECK(c.num_random_blocks >= 0, path, ": num_random_blocks must be >= 0, got ", c.num_random_blocks);
  BB_CHECK(c.type_vocab_size >= 0, path, ": type_vocab_size must be >= 0, got ", c.type_vocab_size);
  positive("num_labels", c.num_labels);
  c.layout.validate(path);
  // The fall-back length (HF's (5 + 2r) * block_size; other layouts: LayoutSpec::fallback_blocks),
  // and the sizes of a layer, must fit an int64.
  int64_t fallback = 0;
  BB_CHECK(!__builtin_mul_overflow(c.num_random_blocks, int64_t{2}, &fallback) &&
               !__builtin_add_overflow(fallback, std::max<int64_t>(5, 2 * c.layout.global_blocks + c.layout.window_blocks), &fallback) &&
               !__builtin_mul_overflow(fallback, c.block_size, &fallback),
           path, ": num_random_blocks ", c.num_random_blocks, " and block_size ", c.block_size,
           " are too large (the full-attention fall-back length overflows)");
  int64_t product = 0;
  BB_CHECK(!__builtin_mul_overflow(c.vocab_size, c.hidden_size, &product) &&
               !__builtin_mul_overflow(c.intermediate_size, c.hidden_size, &product) &&
               !__builtin_mul_overflow(c.max_position_embeddings, c.hidden_size, &product) &&
               product < (int64_t{1} << 48),
           path, ": sizes too large (vocab_size, hidden_size, intermediate_size, max_position_embeddings)");
  // Token ids index the embedding table: each must be a row of it. null or absent: HF's default.
  auto id_in_vocab = [&](const char* name, int64_t id) {
    BB_CHECK(id >= 0 && id < c.vocab_size, path, ": ", name, " ", id, " is outside the vocabulary [0, ", c.vocab_size,
             ")");
  };
  id_in_vocab("pad_token_id", c.pad_token_id);
  id_in_vocab("sep_token_id", c.sep_token_id);
  for (const char* key : {"bos_token_id", "eos_token_id"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    const nlohmann::json& v = j[key];
    const nlohmann::json ids = v.is_array() ? v : nlohmann::json::array({v});
    for (const auto& id : ids) {
      BB_CHECK(id.is_number_integer(), path, ": field '", key, "' must be a token id (or a list of them), got ",
               v.dump());
      BB_CHECK(!id.is_number_unsigned() || id.get<uint64_t>() < static_cast<uint64_t>(c.vocab_size), path, ": ", key,
               " ", id.dump(), " is outside the vocabulary [0, ", c.vocab_size, ")");
      id_in_vocab(key, id.get<int64_t>());
    }
  }
  BB_CHECK(c.hidden_size % c.num_attention_heads == 0, path, ": hidden_size ", c.hidden_size,
           " is not a multiple of num_attention_heads ", c.num_attention_heads);
  return c;
}

}  // namespace bigbird
