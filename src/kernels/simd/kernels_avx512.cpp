// The fast kernels compiled for the avx512 path. Only this file's code carries the target: the
// standard headers come before the pragma, and everything defined under it lives in a namespace
// of its own, so no avx512 instruction can leak into code that runs on other CPUs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "kernels/simd/dispatch.h"

#pragma GCC push_options
// GCC 12 reports _mm512_undefined_ps() inside its own intrinsics as (maybe) uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2")
namespace bigbird::simd::avx512 {
namespace {
#include "kernels/simd/vec_avx512.h"
#include "kernels/simd/attention_impl.h"
#include "kernels/simd/elementwise_impl.h"

void attend_rows(const AttnRowsJob& j) { attend_rows_impl(j); }
void pack_kt(const float* k, int64_t ld, int64_t L, int64_t row0, int64_t row1, int64_t d, float* kt, int64_t ldkt) {
  pack_kt_impl(k, ld, L, row0, row1, d, kt, ldkt);
}
void layernorm_rows(const float* x, const float* res, const float* bias, float* y, int64_t rows, int64_t dim,
                    const float* gamma, const float* beta, float eps) {
  layernorm_rows_impl(x, res, bias, y, rows, dim, gamma, beta, eps);
}
void gelu_rows(float* x, int64_t rows, int64_t cols, const float* bias, bool tanh_form, bool clip10) {
  gelu_rows_impl(x, rows, cols, bias, tanh_form, clip10);
}
void add_bias_rows(float* x, int64_t rows, int64_t cols, const float* bias, int64_t ldx) {
  add_bias_rows_impl(x, rows, cols, bias, ldx);
}
}  // namespace
}  // namespace bigbird::simd::avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace bigbird::simd {
const KernelTable kAvx512Table = {avx512::attend_rows, avx512::pack_kt, avx512::layernorm_rows, avx512::gelu_rows,
                                  avx512::add_bias_rows};
}  // namespace bigbird::simd
