#include "layers/ops.h"

#include <algorithm>

#include "kernels/layernorm.h"

namespace bigbird {

void layer_norm(const Compute& c, const float* x, const float* res, const float* bias, float* y, int64_t rows,
                int64_t dim, const NormW& norm, float eps) {
  if (c.reference()) layernorm_ref(x, res, bias, y, rows, dim, norm.g.data, norm.b.data, eps);
  else layernorm_fused(c.ctx, x, res, bias, y, rows, dim, norm.g.data, norm.b.data, eps);
}

void bias_activation(const Compute& c, Activation act, float* x, int64_t rows, int64_t cols, const float* bias) {
  if (!c.reference()) return bias_activate_inplace(c.ctx, act, x, rows, cols, bias);
  for (int64_t i = 0; i < rows * cols; ++i) x[i] = activate(act, x[i] + (bias ? bias[i % cols] : 0.0f));
}

void layer_norm_backward(const Compute& c, const float* z, const float* dy, int64_t rows, int64_t dim,
                         const NormW& norm, float eps, float* dz, float* dgamma, float* dbeta) {
  if (c.reference()) return layernorm_backward_ref(z, dy, rows, dim, norm.g.data, eps, dz, dgamma, dbeta);
  layernorm_backward(c.ctx, z, dy, rows, dim, norm.g.data, eps, dz, dgamma, dbeta);
}

void activation(const Compute& c, Activation act, float* x, int64_t n) {
  if (!c.reference()) return activate_inplace(c.ctx, act, x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = activate(act, x[i]);
}

void add_inplace(const Compute& c, float* y, const float* x, int64_t n) {
  constexpr int64_t kPiece = 1 << 16;  // elements per task
  parallel_for(
      c.ctx.when(n > 2 * kPiece), (n + kPiece - 1) / kPiece,
      [&](int64_t t) {
        const int64_t i1 = std::min(n, (t + 1) * kPiece);
        for (int64_t i = t * kPiece; i < i1; ++i) y[i] += x[i];
      },
      Schedule::Static);
}

void copy(const Compute& c, const float* x, float* y, int64_t n) {
  constexpr int64_t kPiece = 1 << 16;  // elements per task
  parallel_for(
      c.ctx.when(n > 2 * kPiece), (n + kPiece - 1) / kPiece,
      [&](int64_t t) {
        const int64_t i0 = t * kPiece;
        std::copy(x + i0, x + std::min(n, i0 + kPiece), y + i0);
      },
      Schedule::Static);
}

void activation_backward(const Compute& c, Activation act, const float* x, const float* dy, float* dx, int64_t n) {
  if (c.reference()) return activation_backward_ref(act, x, dy, dx, n);
  activation_backward(c.ctx, act, x, dy, dx, n);
}

}  // namespace bigbird
