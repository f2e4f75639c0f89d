#include "layers/random_weights.h"

#include <algorithm>
#include <cmath>

namespace bigbird {

namespace {

// SplitMix64's finaliser: a counter-based generator, so every element is a pure function of
// (seed, tensor, index).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fill_normal(float* x, int64_t n, uint64_t seed, float sigma) {
  const float scale = sigma * std::sqrt(3.0f) / 65536.0f;  // var(sum of 4 U(0, 65536)) = 4·65536²/12
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = mix64(seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1));
    const float s = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    x[i] = (s - 131070.0f) * scale;
  }
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

ConstView RandomWeights::operator()(const std::string& name, const Shape& shape) {
  std::vector<float>& data = owned_.emplace_back(static_cast<size_t>(numel(shape)), 0.0f);
  const uint64_t index = ++tensors_;
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const bool bias = ends_with(name, "bias");
  const bool norm = lower.find("layernorm") != std::string::npos || lower.find("layer_norm") != std::string::npos;
  if (norm && !bias) std::fill(data.begin(), data.end(), 1.0f);
  else if (!bias) fill_normal(data.data(), static_cast<int64_t>(data.size()), mix64(seed_ ^ mix64(index)), 0.02f);
  return ConstView{data.data(), shape};
}

}  // namespace bigbird
