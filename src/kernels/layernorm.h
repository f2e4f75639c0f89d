// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta.
#pragma once
#include <cstdint>

#include "core/threading.h"
#include "kernels/simd/dispatch.h"

namespace bigbird {

// x and y may alias. rows x dim, row-major.
void layernorm(const ThreadingContext& ctx, const float* x, float* y, int64_t rows, int64_t dim, const float* gamma,
               const float* beta, float eps, SimdPath path = SimdPath::Auto);

// y = LayerNorm(x + res + bias): a sublayer's residual and bias adds fused into its norm (one
// pass over memory instead of three). res, bias, gamma, beta may be null; y may alias x or res.
// Float32 SIMD (two-pass mean and variance, fixed summation order); parallel over rows.
void layernorm_fused(const ThreadingContext& ctx, const float* x, const float* res, const float* bias, float* y,
                     int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps,
                     SimdPath path = SimdPath::Auto);

// Scalar reference (double accumulation) of layernorm_fused, for tests.
void layernorm_ref(const float* x, const float* res, const float* bias, float* y, int64_t rows, int64_t dim,
                   const float* gamma, const float* beta, float eps);

}  // namespace bigbird
