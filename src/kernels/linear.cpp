#include "kernels/linear.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace bigbird {

namespace {
// Rows per GEMM task. Fixed (never derived from the thread count) so that every output element
// is computed by the same single-threaded BLAS call whatever --threads is: bit-identical results.
constexpr int64_t kRowChunk = 128;

void gemm_rows(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y,
               float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(out),
              static_cast<int>(in), 1.0f, x, static_cast<int>(in), W, static_cast<int>(in), beta, y,
              static_cast<int>(out));
  if (bias)
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = y + r * out;
      for (int64_t o = 0; o < out; ++o) yr[o] += bias[o];
    }
}

void gemm_bias(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y,
               float beta) {
  if (rows == 0 || out == 0) return;
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  // Inside the parallel region the OpenMP build of OpenBLAS runs each call on one thread. Always
  // enter it, even for one chunk: outside it OpenBLAS would split the rows over its own threads,
  // and its sgemm rounds a row differently depending on how many rows a call has.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * kRowChunk, nr = std::min(kRowChunk, rows - r0);
    gemm_rows(x + r0 * in, nr, in, W, bias, out, y + r0 * out, beta);
  }
}
}  // namespace

void linear(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y) {
  gemm_bias(x, rows, in, W, bias, out, y, 0.0f);
}

void linear_accumulate(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out,
                       float* y) {
  gemm_bias(x, rows, in, W, bias, out, y, 1.0f);
}

void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * W[o * in + i];
      y[r * out + o] = static_cast<float>(acc);
    }
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace bigbird
