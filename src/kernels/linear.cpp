#include "kernels/linear.h"

#include <cblas.h>

#include <algorithm>

#include "kernels/simd/dispatch.h"

namespace bigbird {

// The bias goes into each tile of y just before its product (a copy, or an add when
// accumulating) and sgemm then runs with beta = 1: no pass over y of its own (with beta = 0,
// BLAS clears y in a pass of its own anyway).
static void gemm_bias(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                      const float* bias, int64_t out, float* y, bool accumulate) {
  if (rows == 0 || out == 0) return;
  const simd::KernelTable& K = simd::kernels(SimdPath::Auto);
  const float beta = (bias || accumulate) ? 1.0f : 0.0f;
  // Tiles of kRowTile rows (all columns), or of kColTile columns when there are few rows: a grid
  // that depends on the shape only, so every output element is computed by the same sgemm call
  // whatever the thread count (OpenBLAS's own threading splits by thread count and, with some
  // kernels, changes the bits). Inside parallel_for's tasks OpenBLAS runs single-threaded, so
  // the two never oversubscribe the cores.
  constexpr int64_t kRowTile = 512, kColTile = 256;
  const int64_t rt = rows > kRowTile ? kRowTile : rows;
  const int64_t ct = rows > kRowTile ? out : std::min(out, kColTile);
  const int64_t nr = (rows + rt - 1) / rt, nc = (out + ct - 1) / ct;
  parallel_for(ctx, nr * nc, [&](int64_t t) {
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
  });
}

void linear(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, const float* bias,
            int64_t out, float* y) {
  gemm_bias(ctx, x, rows, in, W, bias, out, y, false);
}

void linear_accumulate(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                       const float* bias, int64_t out, float* y) {
  gemm_bias(ctx, x, rows, in, W, bias, out, y, true);
}

void linear_matvec(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                   const float* bias, int64_t out, float* y, bool accumulate) {
  constexpr int64_t kColTile = 512;  // a multiple of sgemv's column blocking
  const int64_t nc = (out + kColTile - 1) / kColTile;
  parallel_for(ctx.when(out * in > (1 << 18)), rows * nc, [&](int64_t t) {
    const int64_t r = t / nc, c0 = (t % nc) * kColTile, n = std::min(kColTile, out - c0);
    float* yr = y + r * out + c0;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(in), 1.0f, W + c0 * in,
                static_cast<int>(in), x + r * in, 1, accumulate ? 1.0f : 0.0f, yr, 1);
    if (bias)
      for (int64_t o = 0; o < n; ++o) yr[o] += bias[c0 + o];
  });
}

void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * W[o * in + i];
      y[r * out + o] = static_cast<float>(acc);
    }
}

void linear_backward(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, int64_t out,
                     const float* dy, float* dx, float* dW, float* db) {
  if (dx && rows > 0 && in > 0) {
    if (out == 0) {
      std::fill(dx, dx + rows * in, 0.0f);
    } else {
      // dx [rows, in] = dy [rows, out] · W [out, in]: the forward's tiling with `in` as the output width.
      constexpr int64_t kRowTile = 512, kColTile = 256;
      const int64_t rt = rows > kRowTile ? kRowTile : rows;
      const int64_t ct = rows > kRowTile ? in : std::min(in, kColTile);
      const int64_t nr = (rows + rt - 1) / rt, nc = (in + ct - 1) / ct;
      parallel_for(ctx.when(rows * in * out > (1 << 16)), nr * nc, [&](int64_t t) {
        const int64_t r0 = (t / nc) * rt, c0 = (t % nc) * ct;
        const int64_t m = std::min(rt, rows - r0), n = std::min(ct, in - c0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                    static_cast<int>(out), 1.0f, dy + r0 * out, static_cast<int>(out), W + c0, static_cast<int>(in),
                    0.0f, dx + r0 * in + c0, static_cast<int>(in));
      });
    }
  }
  if (dW && rows > 0 && in > 0 && out > 0) {
    // dW [out, in] += dyᵀ [out, rows] · x [rows, in]: tiles of kOutTile rows of W by kInTile columns, each one sgemm
    // whose K is all `rows` (no split of the sum over rows, so no order that depends on the threads).
    constexpr int64_t kOutTile = 64, kInTile = 512;
    const int64_t no = (out + kOutTile - 1) / kOutTile, ni = (in + kInTile - 1) / kInTile;
    parallel_for(ctx.when(rows * in * out > (1 << 16)), no * ni, [&](int64_t t) {
      const int64_t o0 = (t / ni) * kOutTile, i0 = (t % ni) * kInTile;
      const int64_t m = std::min(kOutTile, out - o0), n = std::min(kInTile, in - i0);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(rows), 1.0f, dy + o0, static_cast<int>(out), x + i0, static_cast<int>(in), 1.0f,
                  dW + o0 * in + i0, static_cast<int>(in));
    });
  }
  if (db && rows > 0 && out > 0) {
    constexpr int64_t kCols = 256;
    const int64_t nc = (out + kCols - 1) / kCols;
    parallel_for(ctx.when(rows * out > (1 << 16)), nc, [&](int64_t t) {
      const int64_t c0 = t * kCols, n = std::min(kCols, out - c0);
      double acc[kCols] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const float* d = dy + r * out + c0;
        for (int64_t c = 0; c < n; ++c) acc[c] += d[c];
      }
      for (int64_t c = 0; c < n; ++c) db[c0 + c] = static_cast<float>(db[c0 + c] + acc[c]);
    });
  }
}

void linear_backward_ref(const float* x, int64_t rows, int64_t in, const float* W, int64_t out, const float* dy,
                         float* dx, float* dW, float* db) {
  if (dx)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < in; ++i) {
        double acc = 0;
        for (int64_t o = 0; o < out; ++o) acc += static_cast<double>(dy[r * out + o]) * W[o * in + i];
        dx[r * in + i] = static_cast<float>(acc);
      }
  if (dW)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double acc = dW[o * in + i];
        for (int64_t r = 0; r < rows; ++r) acc += static_cast<double>(dy[r * out + o]) * x[r * in + i];
        dW[o * in + i] = static_cast<float>(acc);
      }
  if (db)
    for (int64_t o = 0; o < out; ++o) {
      double acc = db[o];
      for (int64_t r = 0; r < rows; ++r) acc += dy[r * out + o];
      db[o] = static_cast<float>(acc);
    }
}

std::string blas_core_name() { return openblas_get_corename(); }

}  // namespace bigbird
