#include "models/bigbird_config.h"

#include <fstream>

#include "core/error.h"
#include "core/json_file.h"
#include "kernels/activations.h"

namespace bigbird {

BigBirdConfig load_bigbird_config(const std::string& path) {
  std::ifstream probe(path);
  if (!probe) fail("cannot open model config '", path, "'");
  const nlohmann::json j = read_json_object(path);
  BigBirdConfig c;
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
  if (j.contains("id2label") && j["id2label"].is_object()) {
    for (auto it = j["id2label"].begin(); it != j["id2label"].end(); ++it) {
      try {
        c.id2label[std::stoll(it.key())] = it.value().get<std::string>();
      } catch (const std::exception&) {
        fail(path, ": bad id2label entry '", it.key(), "'");
      }
    }
    c.num_labels = static_cast<int64_t>(c.id2label.size());
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
  BB_CHECK(c.num_random_blocks >= 0, path, ": num_random_blocks must be >= 0");
  BB_CHECK(c.type_vocab_size >= 0, path, ": type_vocab_size must be >= 0");
  BB_CHECK(c.hidden_size % c.num_attention_heads == 0, path, ": hidden_size ", c.hidden_size,
           " is not a multiple of num_attention_heads ", c.num_attention_heads);
  return c;
}

}  // namespace bigbird
