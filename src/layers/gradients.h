// Gradient buffers, one per weight, found by the weight's data pointer: a layer asks for the
// gradient of the view it computed with, so a tied weight (one tensor used twice, e.g. the MLM
// decoder and the word embeddings) gets one buffer that both uses accumulate into.
//
// A GradientPool keeps the buffers of earlier steps (handed back by the caller after the optimizer
// step) and gives them out again zeroed: the gradients of a training step then cost a memset
// instead of fresh pages (a base model's word-embedding gradient alone is 150 MB, whose page
// faults and clearing took several percent of a step).
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "core/threading.h"

namespace bigbird {

class GradientPool {
 public:
  // ctx: the threads that clear a reused buffer (nullptr: the calling thread alone).
  explicit GradientPool(const ThreadingContext* ctx = nullptr) : ctx_(ctx) {}
  // Keeps v for reuse (nothing for an empty one).
  void give(std::vector<float>&& v) {
    if (!v.empty()) free_.emplace(v.size(), std::move(v));
  }
  // n zeros: a kept buffer of that size when there is one, else a new one.
  std::vector<float> zeros(size_t n) {
    auto it = free_.find(n);
    if (it == free_.end()) return std::vector<float>(n, 0.0f);
    std::vector<float> v = std::move(it->second);
    free_.erase(it);
    constexpr size_t kPiece = size_t{1} << 18;  // floats per task
    float* p = v.data();
    parallel_for(ctx_ ? ctx_->when(n > 2 * kPiece) : ThreadingContext::serial(),
                 static_cast<int64_t>((n + kPiece - 1) / kPiece),
                 [&](int64_t t) {
                   const size_t i0 = static_cast<size_t>(t) * kPiece;
                   std::fill(p + i0, p + std::min(n, i0 + kPiece), 0.0f);
                 },
                 Schedule::Static);
    return v;
  }

 private:
  const ThreadingContext* ctx_;
  std::multimap<size_t, std::vector<float>> free_;
};

class Gradients {
 public:
  explicit Gradients(GradientPool* pool = nullptr) : pool_(pool) {}
  // The gradient of `w` (zeros on first use); nullptr for an empty view.
  float* of(const ConstView& w) {
    if (w.empty()) return nullptr;
    std::vector<float>& g = buffers_[w.data];
    if (g.empty()) g = zeros(static_cast<size_t>(numel(w.shape)));
    return g.data();
  }
  // n zeros, from the pool when there is one.
  std::vector<float> zeros(size_t n) { return pool_ ? pool_->zeros(n) : std::vector<float>(n, 0.0f); }
  // Moves the gradient of `w` out (empty when nothing flowed into it: PyTorch's None).
  std::vector<float> take(const ConstView& w) {
    auto it = buffers_.find(w.data);
    if (it == buffers_.end()) return {};
    std::vector<float> g = std::move(it->second);
    buffers_.erase(it);
    return g;
  }

 private:
  GradientPool* pool_;
  std::unordered_map<const float*, std::vector<float>> buffers_;
};

}  // namespace bigbird
