#include "kernels/linear.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/simd/dispatch.h"

namespace bigbird {

namespace {

// The tile grid of y = x·Wᵀ (rows x out): tiles of kRowTile rows (all columns), or of kColTile
// columns when there are few rows: a grid that depends on the shape only, so every output element
// is computed by the same sgemm call whatever the thread count (OpenBLAS's own threading splits by
// thread count and, with some kernels, changes the bits). Inside parallel_for's tasks OpenBLAS runs
// single-threaded, so the two never oversubscribe the cores.
struct ForwardGrid {
  int64_t rt = 0, ct = 0, nr = 0, nc = 0;
  ForwardGrid(int64_t rows, int64_t out) {
    constexpr int64_t kRowTile = 512, kColTile = 256;
    rt = rows > kRowTile ? kRowTile : rows;
    ct = rows > kRowTile ? out : std::min(out, kColTile);
    nr = rows > 0 ? (rows + rt - 1) / rt : 0, nc = out > 0 ? (out + ct - 1) / ct : 0;
  }
  int64_t tiles() const { return nr * nc; }
};

// Tile t of job j. The bias goes into the tile of y just before its product (a copy, or an add
// when accumulating) and sgemm then runs with beta = 1: no pass over y of its own (with beta = 0,
// BLAS clears y in a pass of its own anyway).
void forward_tile(const LinearJob& j, int64_t rows, const ForwardGrid& g, int64_t t) {
  const simd::KernelTable& K = simd::kernels(SimdPath::Auto);
  const float beta = (j.bias || j.accumulate) ? 1.0f : 0.0f;
  const int64_t r0 = (t / g.nc) * g.rt, c0 = (t % g.nc) * g.ct;
  const int64_t m = std::min(g.rt, rows - r0), n = std::min(g.ct, j.out - c0);
  float* yt = j.y + r0 * j.out + c0;
  if (j.bias) {
    if (j.accumulate) K.add_bias_rows(yt, m, n, j.bias + c0, j.out);
    else
      for (int64_t r = 0; r < m; ++r) std::copy(j.bias + c0, j.bias + c0 + n, yt + r * j.out);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(j.in),
              1.0f, j.x + r0 * j.in, static_cast<int>(j.in), j.W + c0 * j.in, static_cast<int>(j.in), beta, yt,
              static_cast<int>(j.out));
}

}  // namespace

void linear_many(const ThreadingContext& ctx, int64_t rows, const LinearJob* jobs, int n_jobs) {
  std::vector<ForwardGrid> grids;
  std::vector<int64_t> first(1, 0);  // first task of each job
  for (int j = 0; j < n_jobs; ++j) {
    grids.emplace_back(rows, jobs[j].out);
    first.push_back(first.back() + grids.back().tiles());
  }
  parallel_for(ctx, first.back(), [&](int64_t t) {
    const int j = static_cast<int>(std::upper_bound(first.begin(), first.end(), t) - first.begin()) - 1;
    forward_tile(jobs[j], rows, grids[static_cast<size_t>(j)], t - first[static_cast<size_t>(j)]);
  });
}

void linear(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, const float* bias,
            int64_t out, float* y) {
  const LinearJob j{x, in, W, bias, out, y, false};
  linear_many(ctx, rows, &j, 1);
}

void linear_accumulate(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                       const float* bias, int64_t out, float* y) {
  const LinearJob j{x, in, W, bias, out, y, true};
  linear_many(ctx, rows, &j, 1);
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

namespace {

// The task lists of one backward job (shapes only decide them, so the bits do not depend on the
// thread count):
//   dx = dy·W: tiles of kRowTile rows (all columns), or of kColTile columns when there are few rows;
//   dW += dyᵀ·x: tiles of kOutTile rows x kInTile columns of dW, each one sgemm over all rows (K = rows);
//   db += Σ_r dy[r]: columns in chunks of kCols, rows summed in order in double.
struct BackwardTasks {
  static constexpr int64_t kRowTile = 512, kColTile = 256, kOutTile = 64, kInTile = 512, kCols = 256;
  int64_t rt = 0, ct = 0, nr = 0, nc = 0, no = 0, ni = 0, nb = 0;
  BackwardTasks(const LinearBackwardJob& j, int64_t rows) {
    if (j.dx && rows > 0 && j.in > 0) {
      rt = rows > kRowTile ? kRowTile : rows;
      ct = rows > kRowTile ? j.in : std::min(j.in, kColTile);
      nr = (rows + rt - 1) / rt, nc = (j.in + ct - 1) / ct;
    }
    if (j.dW && rows > 0 && j.in > 0 && j.out > 0) no = (j.out + kOutTile - 1) / kOutTile, ni = (j.in + kInTile - 1) / kInTile;
    if (j.db && rows > 0 && j.out > 0) nb = (j.out + kCols - 1) / kCols;
  }
  int64_t dw_tasks() const { return no * ni; }
  int64_t dx_tasks() const { return nr * nc; }
  int64_t count() const { return dw_tasks() + dx_tasks() + nb; }
};

// Task t of job j: first the dW tiles (the largest), then dx's, then db's.
void backward_task(const LinearBackwardJob& j, int64_t rows, const BackwardTasks& k, int64_t t) {
  if (t < k.dw_tasks()) {
    const int64_t o0 = (t / k.ni) * k.kOutTile, i0 = (t % k.ni) * k.kInTile;
    const int64_t m = std::min(k.kOutTile, j.out - o0), n = std::min(k.kInTile, j.in - i0);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(rows), 1.0f, j.dy + o0, static_cast<int>(j.out), j.x + i0, static_cast<int>(j.in),
                1.0f, j.dW + o0 * j.in + i0, static_cast<int>(j.in));
    return;
  }
  t -= k.dw_tasks();
  if (t < k.dx_tasks()) {
    const int64_t r0 = (t / k.nc) * k.rt, c0 = (t % k.nc) * k.ct;
    const int64_t m = std::min(k.rt, rows - r0), n = std::min(k.ct, j.in - c0);
    if (j.out == 0) {
      for (int64_t r = 0; r < m; ++r) std::fill(j.dx + (r0 + r) * j.in + c0, j.dx + (r0 + r) * j.in + c0 + n, 0.0f);
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(j.out), 1.0f, j.dy + r0 * j.out, static_cast<int>(j.out), j.W + c0,
                static_cast<int>(j.in), 0.0f, j.dx + r0 * j.in + c0, static_cast<int>(j.in));
    return;
  }
  t -= k.dx_tasks();
  const int64_t c0 = t * k.kCols, n = std::min(k.kCols, j.out - c0);
  double acc[BackwardTasks::kCols] = {};
  for (int64_t r = 0; r < rows; ++r) {
    const float* d = j.dy + r * j.out + c0;
    for (int64_t c = 0; c < n; ++c) acc[c] += d[c];
  }
  for (int64_t c = 0; c < n; ++c) j.db[c0 + c] = static_cast<float>(j.db[c0 + c] + acc[c]);
}

}  // namespace

void linear_backward_many(const ThreadingContext& ctx, int64_t rows, const LinearBackwardJob* jobs, int n_jobs) {
  std::vector<BackwardTasks> tasks;
  std::vector<int64_t> first(1, 0);  // first task of each job
  int64_t work = 0;                  // multiply-adds, to decide whether threads pay
  for (int j = 0; j < n_jobs; ++j) {
    tasks.emplace_back(jobs[j], rows);
    first.push_back(first.back() + tasks.back().count());
    work += rows * jobs[j].in * std::max<int64_t>(jobs[j].out, 1);
  }
  parallel_for(ctx.when(work > (1 << 16)), first.back(), [&](int64_t t) {
    const int j = static_cast<int>(std::upper_bound(first.begin(), first.end(), t) - first.begin()) - 1;
    backward_task(jobs[j], rows, tasks[static_cast<size_t>(j)], t - first[static_cast<size_t>(j)]);
  });
}

void linear_backward(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, int64_t out,
                     const float* dy, float* dx, float* dW, float* db) {
  const LinearBackwardJob j{x, in, W, out, dy, dx, dW, db};
  linear_backward_many(ctx, rows, &j, 1);
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
