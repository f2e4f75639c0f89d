// Random weights for every model (benchmarks and tests), initialised as HF initialises a new
// model: weights and embeddings ~N(0, 0.02), biases 0, LayerNorm weights 1. Pass it as the
// `get(name, shape)` of a model's weight binding: it owns every tensor it hands out.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace bigbird {

class RandomWeights {
 public:
  explicit RandomWeights(uint64_t seed) : seed_(seed) {}
  // The next tensor of the binding order. Its values are a pure function of (seed, its index in
  // that order): N(0, 0.02) as the Irwin-Hall sum of four 16-bit uniforms rescaled to unit
  // variance (bounded at ±3.46σ; ~50x faster than std::normal_distribution), 0 for a bias
  // (`*.bias`, `*_bias`), 1 for a LayerNorm weight (`*LayerNorm.weight`, `*layer_norm.weight`,
  // `*layernorm*.weight`).
  ConstView operator()(const std::string& name, const Shape& shape);

 private:
  uint64_t seed_;
  uint64_t tensors_ = 0;
  std::deque<std::vector<float>> owned_;  // a deque never moves what it holds
};

}  // namespace bigbird
