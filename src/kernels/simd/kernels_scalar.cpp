// The fast kernels compiled for the scalar path. Only this file's code carries the target: the
// standard headers come before the pragma, and everything defined under it lives in a namespace
// of its own, so no scalar instruction can leak into code that runs on other CPUs.
#include <algorithm>
#include <cmath>
#include <cstdint>


#include "kernels/simd/dispatch.h"



namespace bigbird::simd::scalar {
namespace {
#include "kernels/simd/vec_scalar.h"
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
}  // namespace bigbird::simd::scalar


namespace bigbird::simd {
const KernelTable kScalarTable = {scalar::attend_rows, scalar::pack_kt, scalar::layernorm_rows, scalar::gelu_rows,
                                  scalar::add_bias_rows};
}  // namespace bigbird::simd
