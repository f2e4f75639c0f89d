// Writes small random BigBird checkpoints (config.json + safetensors) of any shape for tests.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/safetensors.h"
#include "models/bigbird_model.h"

namespace bigbird::test {

struct CheckpointSpec {
  int64_t vocab = 97, hidden = 48, heads = 3, layers = 3, intermediate = 80, max_pos = 512, block = 8, r = 2;
  std::string hidden_act = "gelu_new";
  std::string architecture = "BigBirdForPreTraining";
  std::string attention_type = "block_sparse";
  int64_t num_labels = 3;
  bool use_bias = true;
  bool rescale_embeddings = false;
  std::string dtype = "F32";  // F32 | BF16 | F16 (stored; converted on load)
  int shards = 1;
};

inline nlohmann::json config_json(const CheckpointSpec& s) {
  nlohmann::json j = {{"model_type", "big_bird"},
                      {"architectures", {s.architecture}},
                      {"vocab_size", s.vocab},
                      {"hidden_size", s.hidden},
                      {"num_attention_heads", s.heads},
                      {"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"hidden_act", s.hidden_act},
                      {"max_position_embeddings", s.max_pos},
                      {"type_vocab_size", 2},
                      {"layer_norm_eps", 1e-12},
                      {"use_bias", s.use_bias},
                      {"rescale_embeddings", s.rescale_embeddings},
                      {"attention_type", s.attention_type},
                      {"block_size", s.block},
                      {"num_random_blocks", s.r},
                      {"pad_token_id", 0},
                      {"sep_token_id", 5},
                      {"position_embedding_type", "absolute"}};
  nlohmann::json labels = nlohmann::json::object();
  for (int64_t i = 0; i < s.num_labels; ++i) labels[std::to_string(i)] = std::string("L").append(std::to_string(i));
  j["id2label"] = labels;
  return j;
}

inline uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return static_cast<uint16_t>((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

// Writes `dir`/config.json and the weights; returns nothing, throws on I/O errors.
inline void write_checkpoint(const std::string& dir, const CheckpointSpec& s, uint64_t seed = 1) {
  std::filesystem::create_directories(dir);
  nlohmann::json cj = config_json(s);
  std::ofstream(dir + "/config.json") << cj.dump(2);
  BigBirdConfig c = load_bigbird_config(dir + "/config.json");
  auto names = BigBirdModel::tensor_names(c, parse_architecture(c.architectures));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  std::vector<std::vector<OutTensor>> shards(static_cast<size_t>(s.shards));
  nlohmann::json weight_map = nlohmann::json::object();
  size_t i = 0;
  for (auto& [name, shape] : names) {
    std::vector<float> v(static_cast<size_t>(numel(shape)));
    const bool lnw = name.find("LayerNorm.weight") != std::string::npos;
    for (auto& x : v) x = (lnw ? 1.0f : 0.0f) + nd(rng);
    OutTensor t = OutTensor::f32(name, shape, v.data());
    if (s.dtype != "F32") {
      t.dtype = s.dtype == "BF16" ? DType::BF16 : DType::F16;
      t.bytes.resize(v.size() * 2);
      for (size_t k = 0; k < v.size(); ++k) {
        uint16_t h;
        if (s.dtype == "BF16") {
          h = to_bf16(v[k]);
        } else {  // F16 via _Float16
          _Float16 f = static_cast<_Float16>(v[k]);
          std::memcpy(&h, &f, 2);
        }
        std::memcpy(t.bytes.data() + 2 * k, &h, 2);
      }
    }
    const size_t shard = i++ % shards.size();
    const std::string file = s.shards == 1 ? "model.safetensors"
                                           : "model-0000" + std::to_string(shard + 1) + "-of-0000" +
                                                 std::to_string(s.shards) + ".safetensors";
    weight_map[name] = file;
    shards[shard].push_back(std::move(t));
  }
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string file =
        s.shards == 1 ? "model.safetensors"
                      : "model-0000" + std::to_string(k + 1) + "-of-0000" + std::to_string(s.shards) + ".safetensors";
    write_safetensors(dir + "/" + file, shards[k], {{"format", "pt"}});
  }
  if (s.shards > 1)
    std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"weight_map", weight_map}}.dump();
}

}  // namespace bigbird::test
