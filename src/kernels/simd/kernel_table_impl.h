// The fast kernels and their KernelTable, written once and compiled once per instruction set by
// kernels_{scalar,avx2,avx512}.cpp. Each of those files includes the standard headers and
// dispatch.h, sets `#pragma GCC target` (none for scalar), opens `namespace
// bigbird::simd::<isa> { namespace {`, includes its vec_*.h (the type `Vec`) and then this file,
// and finally copies `<isa>::kTable` into the table dispatch.cpp uses, outside the target.
//
// So everything below is compiled under the target and has internal linkage in a namespace of
// its own: no AVX instruction can leak into code that runs on other CPUs. kTable is constexpr
// (constant-initialised, no code runs at start-up) and holds only addresses.
//
// Adding a kernel: its _impl in attention_impl.h / elementwise_impl.h (or a new *_impl.h
// included here), a wrapper below, a field in KernelTable (dispatch.h) and a row in kTable.
#include "kernels/simd/attention_impl.h"
#include "kernels/simd/elementwise_impl.h"

void attend_rows(const AttnRowsJob& j) { attend_rows_impl(j); }
void pack_kt(const float* k, int64_t ld, int64_t L, int64_t row0, int64_t row1, int64_t d, float* kt, int64_t ldkt) {
  pack_kt_impl(k, ld, L, row0, row1, d, kt, ldkt);
}
void softmax_row(float* s, const float* pen, int64_t n) { softmax_row_impl(s, pen, n); }
void softmax_grad_row(const float* p, float* dp, int64_t n) { softmax_grad_row_impl(p, dp, n); }
void dropout_row(float* x, int64_t n, uint64_t key, uint64_t e0, float p, float scale, float* f) {
  dropout_row_impl(x, n, key, e0, p, scale, f);
}
void layernorm_rows(const float* x, const float* res, const float* bias, float* y, int64_t rows, int64_t dim,
                    const float* gamma, const float* beta, float eps) {
  layernorm_rows_impl(x, res, bias, y, rows, dim, gamma, beta, eps);
}
void gelu_rows(float* x, int64_t rows, int64_t cols, const float* bias, bool tanh_form, bool clip10) {
  gelu_rows_impl(x, rows, cols, bias, tanh_form, clip10);
}
void gelu_grad(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form) {
  gelu_grad_impl(x, dy, dx, n, tanh_form);
}
void add_bias_rows(float* x, int64_t rows, int64_t cols, const float* bias, int64_t ldx) {
  add_bias_rows_impl(x, rows, cols, bias, ldx);
}

// One row per kernel, in KernelTable's field order (designated initialisers: a row out of order
// does not compile; a row left out draws -Wmissing-field-initializers).
constexpr KernelTable kTable = {
    .attend_rows = attend_rows,
    .pack_kt = pack_kt,
    .softmax_row = softmax_row,
    .softmax_grad_row = softmax_grad_row,
    .dropout_row = dropout_row,
    .layernorm_rows = layernorm_rows,
    .gelu_rows = gelu_rows,
    .gelu_grad = gelu_grad,
    .add_bias_rows = add_bias_rows,
};
