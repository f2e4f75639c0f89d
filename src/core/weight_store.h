// Checkpoint weights by HF name: model.safetensors (memory-mapped) or a sharded checkpoint
// (model.safetensors.index.json). F32 tensors are used in place; F16/BF16/F64 are converted to
// float32 once at load. Every lookup checks the shape and names the tensor in its error.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace bigbird {

class WeightStore {
 public:
  // `dir` holds model.safetensors or model.safetensors.index.json (+ shards).
  static WeightStore open_dir(const std::string& dir);
  // A single safetensors file.
  static WeightStore open_file(const std::string& path);

  bool has(const std::string& name) const { return where_.count(name) != 0; }
  Shape shape(const std::string& name) const;
  // The tensor `name`, which must have shape `expected`; throws naming tensor, expected and found shape.
  ConstView get(const std::string& name, const Shape& expected);
  std::vector<std::string> names() const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<SafeTensors> files_;
  std::map<std::string, size_t> where_;       // name -> file index
  std::deque<std::vector<float>> converted_;  // owned float32 copies (stable addresses)
  std::map<std::string, const float*> cache_;
};

}  // namespace bigbird
