// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta.
#pragma once
#include <cstdint>

namespace bigbird {

// x and y may alias. rows x dim, row-major.
void layernorm(const float* x, float* y, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps);

}  // namespace bigbird
