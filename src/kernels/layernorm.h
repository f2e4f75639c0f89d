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

// Backward of y = (z - mean)/sqrt(var + eps)·gamma + beta per row of width dim (z = the LayerNorm's input, e.g.
// x + res + bias, which the caller kept): dz (written; may alias dy) = ∂L/∂z; dgamma += Σ_rows dy·ẑ,
// dbeta += Σ_rows dy (null: skipped). gamma null = ones. Mean and variance are recomputed from z (two-pass, as the
// forward); each row's arithmetic is in double. Deterministic for any thread count: fixed row chunks (fixed by the
// shape), partial sums of dgamma/dbeta added in chunk order.
void layernorm_backward(const ThreadingContext& ctx, const float* z, const float* dy, int64_t rows, int64_t dim,
                        const float* gamma, float eps, float* dz, float* dgamma, float* dbeta);
// Scalar reference of layernorm_backward (double), same semantics.
void layernorm_backward_ref(const float* z, const float* dy, int64_t rows, int64_t dim, const float* gamma, float eps,
                            float* dz, float* dgamma, float* dbeta);

}  // namespace bigbird
