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

}  // namespace bigbird
