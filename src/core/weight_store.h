// Checkpoint weights by HF name: model.safetensors (memory-mapped) or a sharded checkpoint
// (model.safetensors.index.json), else PyTorch's pytorch_model.bin or its sharded form
// (pytorch_model.bin.index.json; core/torch_checkpoint.h), in HF's order of preference. F32
// safetensors are used in place; other float dtypes (and every PyTorch tensor) are converted to
// float32 once, on first use. Every lookup checks the shape and names the tensor in its error.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"
#include "core/torch_checkpoint.h"

namespace bigbird {

class WeightStore {
 public:
  // `dir` holds model.safetensors, model.safetensors.index.json (+ shards), pytorch_model.bin or
  // pytorch_model.bin.index.json (+ shards): the first that exists, as HF's from_pretrained.
  static WeightStore open_dir(const std::string& dir);
  // A single safetensors file.
  static WeightStore open_file(const std::string& path);
  // A single torch.save file.
  static WeightStore open_torch_file(const std::string& path);

  bool has(const std::string& name) const { return where_.count(name) != 0; }
  Shape shape(const std::string& name) const;
  // The tensor `name`, which must have shape `expected`; throws naming tensor, expected and found shape.
  ConstView get(const std::string& name, const Shape& expected);
  std::vector<std::string> names() const;
  const std::string& source() const { return source_; }
  // Whether `name` has a floating-point dtype, and copies of it (what `bigbird convert` writes).
  bool is_float(const std::string& name) const;
  Tensor read_f32(const std::string& name) const;
  TensorI64 read_i64(const std::string& name) const;

 private:
  std::string source_;
  std::vector<SafeTensors> files_;
  std::vector<TorchCheckpoint> torch_files_;
  std::map<std::string, size_t> where_;       // name -> index into files_ or (torch_) torch_files_
  bool torch_ = false;
  std::deque<std::vector<float>> converted_;  // owned float32 copies (stable addresses)
  std::map<std::string, const float*> cache_;
};

}  // namespace bigbird
