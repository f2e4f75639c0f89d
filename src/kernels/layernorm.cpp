#include "kernels/layernorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace bigbird {

void layernorm(const ThreadingContext& ctx, const float* x, float* y, int64_t rows, int64_t dim, const float* gamma,
               const float* beta, float eps, SimdPath path) {
  layernorm_fused(ctx, x, nullptr, nullptr, y, rows, dim, gamma, beta, eps, path);
}

void layernorm_fused(const ThreadingContext& ctx, const float* x, const float* res, const float* bias, float* y,
                     int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, SimdPath path) {
  const simd::KernelTable& K = simd::kernels(path);
  const int64_t per = std::max<int64_t>(1, 8192 / std::max<int64_t>(dim, 1));  // rows per task
  parallel_for(
      ctx.when(rows * dim > 32768), (rows + per - 1) / per,
      [&](int64_t t) {
        const int64_t r0 = t * per, nr = std::min(per, rows - r0);
        K.layernorm_rows(x + r0 * dim, res ? res + r0 * dim : nullptr, bias, y + r0 * dim, nr, dim, gamma, beta, eps);
      },
      Schedule::Static);
}

void layernorm_ref(const float* x, const float* res, const float* bias, float* y, int64_t rows, int64_t dim,
                   const float* gamma, const float* beta, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    std::vector<double> z(static_cast<size_t>(dim));
    for (int64_t i = 0; i < dim; ++i) {
      double v = static_cast<double>(x[r * dim + i]) + (res ? res[r * dim + i] : 0.0f);
      v += bias ? bias[i] : 0.0f;
      z[static_cast<size_t>(i)] = v;
      sum += v;
    }
    const double mean = sum / static_cast<double>(dim);
    double var = 0;
    for (double v : z) var += (v - mean) * (v - mean);
    var /= static_cast<double>(dim);
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
    for (int64_t i = 0; i < dim; ++i) {
      double v = (z[static_cast<size_t>(i)] - mean) * inv;
      if (gamma) v *= gamma[i];
      if (beta) v += beta[i];
      y[r * dim + i] = static_cast<float>(v);
    }
  }
}

namespace {
// One row of the backward. ẑ = (z - mean)·inv, g = dy·gamma:
// dz = inv·(g - mean(g) - ẑ·mean(g·ẑ)). Adds dy·ẑ and dy into pg/pb when given. dz may alias dy.
void layernorm_backward_row(const float* z, const float* dy, int64_t dim, const float* gamma, float eps, float* dz,
                            double* pg, double* pb) {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) sum += z[i];
  const double mean = sum / static_cast<double>(dim);
  double var = 0;
  for (int64_t i = 0; i < dim; ++i) var += (z[i] - mean) * (z[i] - mean);
  var /= static_cast<double>(dim);
  const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
  double sg = 0, sgx = 0;
  for (int64_t i = 0; i < dim; ++i) {
    const double xh = (z[i] - mean) * inv, d = dy[i];
    const double g = gamma ? d * gamma[i] : d;
    sg += g;
    sgx += g * xh;
    if (pg) pg[i] += d * xh;
    if (pb) pb[i] += d;
  }
  if (!dz) return;
  const double mg = sg / static_cast<double>(dim), mgx = sgx / static_cast<double>(dim);
  for (int64_t i = 0; i < dim; ++i) {
    const double xh = (z[i] - mean) * inv;
    const double g = gamma ? static_cast<double>(dy[i]) * gamma[i] : dy[i];
    dz[i] = static_cast<float>(inv * (g - mg - xh * mgx));
  }
}
}  // namespace

void layernorm_backward(const ThreadingContext& ctx, const float* z, const float* dy, int64_t rows, int64_t dim,
                        const float* gamma, float eps, float* dz, float* dgamma, float* dbeta) {
  if (rows <= 0 || dim <= 0) return;
  // At most kChunks chunks of whole rows, fixed by the shape: partial dgamma/dbeta per chunk (double), added in
  // chunk order at the end.
  constexpr int64_t kChunks = 64;
  const int64_t min_rows = std::max<int64_t>(1, 8192 / dim);
  const int64_t per = std::max(min_rows, (rows + kChunks - 1) / kChunks);
  const int64_t nchunks = (rows + per - 1) / per;
  const bool partials = dgamma || dbeta;
  std::vector<double> pg(dgamma ? static_cast<size_t>(nchunks * dim) : 0);
  std::vector<double> pb(dbeta ? static_cast<size_t>(nchunks * dim) : 0);
  parallel_for(
      ctx.when(rows * dim > 32768), nchunks,
      [&](int64_t t) {
        const int64_t r0 = t * per, nr = std::min(per, rows - r0);
        double* g = dgamma ? pg.data() + t * dim : nullptr;
        double* b = dbeta ? pb.data() + t * dim : nullptr;
        for (int64_t r = r0; r < r0 + nr; ++r)
          layernorm_backward_row(z + r * dim, dy + r * dim, dim, gamma, eps, dz ? dz + r * dim : nullptr, g, b);
      },
      Schedule::Static);
  if (!partials) return;
  for (int64_t i = 0; i < dim; ++i) {
    double sg = 0, sb = 0;
    for (int64_t t = 0; t < nchunks; ++t) {
      if (dgamma) sg += pg[static_cast<size_t>(t * dim + i)];
      if (dbeta) sb += pb[static_cast<size_t>(t * dim + i)];
    }
    if (dgamma) dgamma[i] = static_cast<float>(dgamma[i] + sg);
    if (dbeta) dbeta[i] = static_cast<float>(dbeta[i] + sb);
  }
}

void layernorm_backward_ref(const float* z, const float* dy, int64_t rows, int64_t dim, const float* gamma, float eps,
                            float* dz, float* dgamma, float* dbeta) {
  std::vector<double> sg(static_cast<size_t>(std::max<int64_t>(dim, 0))), sb(sg.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * dim;
    const float* d = dy + r * dim;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += zr[i];
    mean /= static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i) var += (zr[i] - mean) * (zr[i] - mean);
    var /= static_cast<double>(dim);
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
    // dz_i = Σ_j ∂y_j/∂z_i · dy_j with ∂ẑ_j/∂z_i = inv·(δ_ij - 1/dim - ẑ_i·ẑ_j/dim), written as that sum.
    std::vector<double> xh(static_cast<size_t>(dim)), g(static_cast<size_t>(dim));
    for (int64_t i = 0; i < dim; ++i) {
      xh[static_cast<size_t>(i)] = (zr[i] - mean) * inv;
      g[static_cast<size_t>(i)] = static_cast<double>(d[i]) * (gamma ? gamma[i] : 1.0f);
    }
    std::vector<double> out(static_cast<size_t>(dim));
    for (int64_t i = 0; i < dim; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < dim; ++j) {
        const double jac = inv * ((i == j ? 1.0 : 0.0) - 1.0 / static_cast<double>(dim) -
                                  xh[static_cast<size_t>(i)] * xh[static_cast<size_t>(j)] / static_cast<double>(dim));
        acc += jac * g[static_cast<size_t>(j)];
      }
      out[static_cast<size_t>(i)] = acc;
    }
    for (int64_t i = 0; i < dim; ++i) {
      sg[static_cast<size_t>(i)] += static_cast<double>(d[i]) * xh[static_cast<size_t>(i)];
      sb[static_cast<size_t>(i)] += d[i];
    }
    if (dz)
      for (int64_t i = 0; i < dim; ++i) dz[r * dim + i] = static_cast<float>(out[static_cast<size_t>(i)]);
  }
  for (int64_t i = 0; i < dim; ++i) {
    if (dgamma) dgamma[i] = static_cast<float>(dgamma[i] + sg[static_cast<size_t>(i)]);
    if (dbeta) dbeta[i] = static_cast<float>(dbeta[i] + sb[static_cast<size_t>(i)]);
  }
}

}  // namespace bigbird
