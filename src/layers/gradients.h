// Gradient buffers, one per weight, found by the weight's data pointer: a layer asks for the
// gradient of the view it computed with, so a tied weight (one tensor used twice, e.g. the MLM
// decoder and the word embeddings) gets one buffer that both uses accumulate into.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace bigbird {

class Gradients {
 public:
  // The gradient of `w` (zeros on first use); nullptr for an empty view.
  float* of(const ConstView& w) {
    if (w.empty()) return nullptr;
    std::vector<float>& g = buffers_[w.data];
    if (g.empty()) g.assign(static_cast<size_t>(numel(w.shape)), 0.0f);
    return g.data();
  }
  // Moves the gradient of `w` out (empty when nothing flowed into it: PyTorch's None).
  std::vector<float> take(const ConstView& w) {
    auto it = buffers_.find(w.data);
    if (it == buffers_.end()) return {};
    std::vector<float> g = std::move(it->second);
    buffers_.erase(it);
    return g;
  }

 private:
  std::unordered_map<const float*, std::vector<float>> buffers_;
};

}  // namespace bigbird
