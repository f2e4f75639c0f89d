#include "kernels/linear.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "kernels/simd/dispatch.h"

namespace bigbird {

// The bias goes into each tile of y just before its product (a copy, or an add when
// accumulating) and sgemm then runs with beta = 1: no pass over y of its own (with beta = 0,
// BLAS clears y in a pass of its own anyway).
static void gemm_bias(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out,
                      float* y, bool accumulate) {
  if (rows == 0 || out == 0) return;
  static const bool blas_single = (set_blas_threads(omp_get_max_threads()), true);
  (void)blas_single;
  const simd::KernelTable& K = simd::kernels(SimdPath::Auto);
  const float beta = (bias || accumulate) ? 1.0f : 0.0f;
  // Tiles of kRowTile rows (all columns), or of kColTile columns when there are few rows: a grid
  // that depends on the shape only, so every output element is computed by the same sgemm call
  // whatever the thread count (OpenBLAS's own threading splits by thread count and, with some
  // kernels, changes the bits). Threads take tiles dynamically; inside the parallel region
  // OpenBLAS runs single-threaded, so the two never oversubscribe the cores.
  constexpr int64_t kRowTile = 512, kColTile = 256;
  const int64_t rt = rows > kRowTile ? kRowTile : rows;
  const int64_t ct = rows > kRowTile ? out : std::min(out, kColTile);
  const int64_t nr = (rows + rt - 1) / rt, nc = (out + ct - 1) / ct;
  auto tile = [&](int64_t t) {
    const int64_t r0 = (t / nc) * rt, c0 = (t % nc) * ct;
    const int64_t m = std::min(rt, rows - r0), n = std::min(ct, out - c0);
    float* yt = y + r0 * out + c0;
    if (bias) {
      if (accumulate) K.add_bias_rows(yt, m, n, bias + c0, out);
      else
        for (int64_t r = 0; r < m; ++r) std::copy(bias + c0, bias + c0 + n, yt + r * out);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(in),
                1.0f, x + r0 * in, static_cast<int>(in), W + c0 * in, static_cast<int>(in), beta, yt,
                static_cast<int>(out));
  };
  // Even a single tile runs inside a parallel region: OpenBLAS's OpenMP build follows
  // omp_get_max_threads() outside one (whatever openblas_set_num_threads said) and would split
  // the tile over threads, changing its bits with the thread count.
  if (nr * nc == 1 && omp_get_max_threads() == 1) {
    tile(0);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < nr * nc; ++t) tile(t);
}

void linear(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y) {
  gemm_bias(x, rows, in, W, bias, out, y, false);
}

void linear_accumulate(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out,
                       float* y) {
  gemm_bias(x, rows, in, W, bias, out, y, true);
}

void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * W[o * in + i];
      y[r * out + o] = static_cast<float>(acc);
    }
}

// OpenBLAS itself runs single-threaded: our fixed tiles carry the parallelism (see gemm_bias).
// In OpenBLAS's OpenMP build openblas_set_num_threads also calls omp_set_num_threads, which
// would make every OpenMP region of ours single-threaded: restore the caller's count after it.
void set_blas_threads(int n) {
  openblas_set_num_threads(1);
  omp_set_num_threads(n > 0 ? n : 1);
}

std::string blas_core_name() { return openblas_get_corename(); }

}  // namespace bigbird
