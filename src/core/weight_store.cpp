#include "core/weight_store.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/json_file.h"

namespace bigbird {

namespace fs = std::filesystem;

WeightStore WeightStore::open_file(const std::string& path) {
  WeightStore ws;
  ws.source_ = path;
  ws.files_.push_back(SafeTensors::open(path));
  for (const auto& n : ws.files_[0].names()) ws.where_[n] = 0;
  return ws;
}

WeightStore WeightStore::open_dir(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) return open_file(single.string());
  if (!fs::exists(index)) {
    if (fs::exists(fs::path(dir) / "pytorch_model.bin"))
      fail("'", dir,
           "' has only pytorch_model.bin: convert it to model.safetensors (safetensors is the supported format)");
    fail("no model.safetensors or model.safetensors.index.json in '", dir, "'");
  }
  const nlohmann::json j = read_json_object(index.string());
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    fail("'", index.string(), "' has no weight_map object");
  WeightStore ws;
  ws.source_ = index.string();
  std::map<std::string, size_t> shard_index;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail("'", index.string(), "': weight_map entry '", it.key(), "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
      fail("'", index.string(), "': shard name '", shard, "' must be a plain file name");
    auto s = shard_index.find(shard);
    if (s == shard_index.end()) {
      ws.files_.push_back(SafeTensors::open((fs::path(dir) / shard).string()));
      s = shard_index.emplace(shard, ws.files_.size() - 1).first;
    }
    if (!ws.files_[s->second].has(it.key()))
      fail("'", index.string(), "' maps '", it.key(), "' to '", shard, "', which does not contain it");
    ws.where_[it.key()] = s->second;
  }
  return ws;
}

Shape WeightStore::shape(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("'", source_, "': missing tensor '", name, "'");
  return files_[it->second].entry(name).shape;
}

ConstView WeightStore::get(const std::string& name, const Shape& expected) {
  auto it = where_.find(name);
  if (it == where_.end())
    fail("'", source_, "': missing tensor '", name, "' (expected shape ", to_string(expected), ")");
  const SafeTensors& st = files_[it->second];
  const TensorEntry& e = st.entry(name);
  if (e.shape != expected)
    fail("'", source_, "': tensor '", name, "' has shape ", to_string(e.shape), ", expected ", to_string(expected));
  auto c = cache_.find(name);
  if (c != cache_.end()) return {c->second, expected};
  const float* p = st.f32_in_place(name);
  if (!p) {
    Tensor t = st.read_f32(name);  // converts F16/BF16/F64; throws on integer dtypes
    converted_.push_back(std::move(t.data));
    p = converted_.back().data();
  }
  cache_[name] = p;
  return {p, expected};
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& [n, i] : where_) out.push_back(n);
  return out;
}

}  // namespace bigbird
