#include "models/bigbird_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "kernels/activations.h"

namespace bigbird {

AttentionType parse_attention_type(const std::string& s) {
  if (s == "block_sparse") return AttentionType::BlockSparse;
  if (s == "original_full") return AttentionType::OriginalFull;
  fail("unknown attention_type '", s, "' (expected block_sparse or original_full)");
}

const char* attention_type_name(AttentionType t) {
  return t == AttentionType::BlockSparse ? "block_sparse" : "original_full";
}

namespace {
template <typename T>
void get(const nlohmann::json& j, const char* key, T* out, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return;
  try {
    *out = j[key].get<T>();
  } catch (const std::exception&) {
    fail(path, ": field '", key, "' has the wrong type (", j[key].dump(), ")");
  }
}
}  // namespace

BigBirdConfig load_bigbird_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot open model config '", path, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": not a JSON object");
  BigBirdConfig c;
  get(j, "model_type", &c.model_type, path);
  get(j, "architectures", &c.architectures, path);
  get(j, "vocab_size", &c.vocab_size, path);
  get(j, "hidden_size", &c.hidden_size, path);
  get(j, "num_hidden_layers", &c.num_hidden_layers, path);
  get(j, "num_attention_heads", &c.num_attention_heads, path);
  get(j, "intermediate_size", &c.intermediate_size, path);
  get(j, "hidden_act", &c.hidden_act, path);
  get(j, "max_position_embeddings", &c.max_position_embeddings, path);
  get(j, "type_vocab_size", &c.type_vocab_size, path);
  get(j, "layer_norm_eps", &c.layer_norm_eps, path);
  get(j, "use_bias", &c.use_bias, path);
  get(j, "rescale_embeddings", &c.rescale_embeddings, path);
  get(j, "block_size", &c.block_size, path);
  get(j, "num_random_blocks", &c.num_random_blocks, path);
  get(j, "pad_token_id", &c.pad_token_id, path);
  get(j, "sep_token_id", &c.sep_token_id, path);
  std::string att = "block_sparse";
  get(j, "attention_type", &att, path);
  try {
    c.attention_type = parse_attention_type(att);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  std::string pos = "absolute";
  get(j, "position_embedding_type", &pos, path);
  if (pos != "absolute")
    fail(path, ": unsupported position_embedding_type '", pos, "' (BigBird uses 'absolute')");
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
  get(j, "num_labels", &c.num_labels, path);

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
