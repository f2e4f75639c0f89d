// Element-wise optimizer kernels: torch 1.13's AdamW update of one tensor chunk and the double
// sum of squares behind clip_grad_norm_, each as a readable scalar reference and AVX2 / AVX-512
// versions chosen at run time (SimdPath, as the other kernels).
//
// The AdamW update is the fixtures' bit-level order (train_case_adamw_mlm): every float operation
// rounded on its own, the two fused multiply-adds explicit. The vector versions do the same IEEE
// operations lane by lane (mul, fma, sqrt, div and add are correctly rounded in both), so every
// path gives the same bits. The sum of squares accumulates in double; the vector versions sum
// lanes in a fixed order, so a path's result never depends on the thread count (but differs
// between paths in the last bits of the double).
#pragma once

#include <cstdint>

#include "kernels/simd/dispatch.h"

namespace bigbird {

// The per-tensor scalars of one AdamW step (float, as torch's foreach-free path applies them).
struct AdamWScalars {
  float decay_mul;  // 1 − lr·weight_decay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bc2_sqrt;  // √(1 − beta2^t)
  float eps;
  float neg_step_size;  // −lr / (1 − beta1^t)
};

// For k < n: θ ← θ·decay_mul + (−step_size·m') / (√v' / bc2_sqrt + eps), with
// m' = fma(g, 1−β1, β1·m) and v' = fma((1−β2)·g, g, β2·v) stored back into m and v.
void adamw_update(const AdamWScalars& s, float* theta, const float* g, float* m, float* v, int64_t n,
                  SimdPath path = SimdPath::Auto);
void adamw_update_ref(const AdamWScalars& s, float* theta, const float* g, float* m, float* v, int64_t n);

// Σ g[k]² in double.
double sum_squares(const float* g, int64_t n, SimdPath path = SimdPath::Auto);
double sum_squares_ref(const float* g, int64_t n);

}  // namespace bigbird
