// Owning float32 / int64 tensors (row-major) and a non-owning read-only view for weights.
#pragma once
#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace bigbird {

// A dense row-major float32 tensor that owns its data.
struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(Shape s, float fill = 0.0f) : shape(std::move(s)), data(static_cast<size_t>(numel(shape)), fill) {}
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? static_cast<int>(shape.size()) + i : i)]; }
};

// A dense row-major int64 tensor (token ids, masks, sequences).
struct TensorI64 {
  Shape shape;
  std::vector<int64_t> data;

  TensorI64() = default;
  explicit TensorI64(Shape s, int64_t fill = 0) : shape(std::move(s)), data(static_cast<size_t>(numel(shape)), fill) {}
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? static_cast<int>(shape.size()) + i : i)]; }
};

// Read-only view of float32 data owned elsewhere (a memory-mapped file or a converted buffer).
struct ConstView {
  const float* data = nullptr;
  Shape shape;
  bool empty() const { return data == nullptr; }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? static_cast<int>(shape.size()) + i : i)]; }
};

}  // namespace bigbird
