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

WeightStore WeightStore::open_torch_file(const std::string& path) {
  WeightStore ws;
  ws.source_ = path;
  ws.torch_ = true;
  ws.torch_files_.push_back(TorchCheckpoint::open(path));
  for (const auto& n : ws.torch_files_[0].names()) ws.where_[n] = 0;
  return ws;
}

WeightStore WeightStore::open_dir(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path bin = fs::path(dir) / "pytorch_model.bin";
  const fs::path bin_index = fs::path(dir) / "pytorch_model.bin.index.json";
  if (fs::exists(single)) return open_file(single.string());
  const bool torch = !fs::exists(index) && !fs::exists(bin) && fs::exists(bin_index);
  if (!fs::exists(index)) {
    if (fs::exists(bin)) return open_torch_file(bin.string());
    if (!torch)
      fail("no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json in '",
           dir, "'");
    index = bin_index;
  }
  const nlohmann::json j = read_json_object(index.string());
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    fail("'", index.string(), "' has no weight_map object");
  WeightStore ws;
  ws.source_ = index.string();
  ws.torch_ = torch;
  std::map<std::string, size_t> shard_index;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail("'", index.string(), "': weight_map entry '", it.key(), "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
      fail("'", index.string(), "': shard name '", shard, "' must be a plain file name");
    auto s = shard_index.find(shard);
    if (s == shard_index.end()) {
      const std::string path = (fs::path(dir) / shard).string();
      if (torch)
        ws.torch_files_.push_back(TorchCheckpoint::open(path));
      else
        ws.files_.push_back(SafeTensors::open(path));
      s = shard_index.emplace(shard, torch ? ws.torch_files_.size() - 1 : ws.files_.size() - 1).first;
    }
    if (torch ? !ws.torch_files_[s->second].has(it.key()) : !ws.files_[s->second].has(it.key()))
      fail("'", index.string(), "' maps '", it.key(), "' to '", shard, "', which does not contain it");
    ws.where_[it.key()] = s->second;
  }
  return ws;
}

Shape WeightStore::shape(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("'", source_, "': missing tensor '", name, "'");
  return torch_ ? torch_files_[it->second].entry(name).shape : files_[it->second].entry(name).shape;
}

bool WeightStore::is_float(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("'", source_, "': missing tensor '", name, "'");
  const DType d = torch_ ? torch_files_[it->second].entry(name).dtype : files_[it->second].entry(name).dtype;
  return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64;
}

Tensor WeightStore::read_f32(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("'", source_, "': missing tensor '", name, "'");
  return torch_ ? torch_files_[it->second].read_f32(name) : files_[it->second].read_f32(name);
}

TensorI64 WeightStore::read_i64(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("'", source_, "': missing tensor '", name, "'");
  return torch_ ? torch_files_[it->second].read_i64(name) : files_[it->second].read_i64(name);
}

ConstView WeightStore::get(const std::string& name, const Shape& expected) {
  auto it = where_.find(name);
  if (it == where_.end())
    fail("'", source_, "': missing tensor '", name, "' (expected shape ", to_string(expected), ")");
  const Shape found = shape(name);
  if (found != expected)
    fail("'", source_, "': tensor '", name, "' has shape ", to_string(found), ", expected ", to_string(expected));
  auto c = cache_.find(name);
  if (c != cache_.end()) return {c->second, expected};
  if (torch_) {
    Tensor t = torch_files_[it->second].read_f32(name);  // converts F16/BF16/F64; throws on integer dtypes
    converted_.push_back(std::move(t.data));
    cache_[name] = converted_.back().data();
    return {converted_.back().data(), expected};
  }
  const SafeTensors& st = files_[it->second];
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
