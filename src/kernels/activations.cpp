#include "kernels/activations.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"

namespace bigbird {

namespace {
const std::pair<const char*, Activation> kTable[] = {
    {"gelu", Activation::Gelu},
    {"gelu_10", Activation::Gelu10},
    {"gelu_fast", Activation::GeluFast},
    {"gelu_new", Activation::GeluNew},
    {"gelu_python", Activation::GeluPython},
    {"gelu_pytorch_tanh", Activation::GeluPytorchTanh},
    {"gelu_accurate", Activation::GeluAccurate},
    {"laplace", Activation::Laplace},
    {"linear", Activation::Linear},
    {"mish", Activation::Mish},
    {"quick_gelu", Activation::QuickGelu},
    {"relu", Activation::Relu},
    {"relu2", Activation::Relu2},
    {"relu6", Activation::Relu6},
    {"sigmoid", Activation::Sigmoid},
    {"silu", Activation::Silu},
    {"swish", Activation::Swish},
    {"tanh", Activation::Tanh},
};

inline double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
inline double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
}  // namespace

bool is_known_activation(const std::string& name) {
  for (auto& [n, a] : kTable)
    if (name == n) return true;
  return false;
}

std::string known_activations() {
  std::string s;
  for (auto& [n, a] : kTable) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

Activation parse_activation(const std::string& name) {
  for (auto& [n, a] : kTable)
    if (name == n) return a;
  fail("unknown activation '", name, "' (known: ", known_activations(), ")");
}

float activate(Activation a, float xf) {
  const double x = xf;
  double y = 0;
  switch (a) {
    case Activation::Gelu:
    case Activation::GeluPython: y = gelu_erf(x); break;
    case Activation::Gelu10: y = std::fmin(std::fmax(gelu_erf(x), -10.0), 10.0); break;
    case Activation::GeluFast: y = 0.5 * x * (1.0 + std::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))); break;
    case Activation::GeluNew:
    case Activation::GeluPytorchTanh:
    case Activation::GeluAccurate: y = gelu_tanh(x); break;
    case Activation::Laplace: {
      const double mu = 0.707107, sigma = 0.282095;
      y = 0.5 * (1.0 + std::erf((x - mu) / (sigma * std::sqrt(2.0))));
      break;
    }
    case Activation::Linear: y = x; break;
    case Activation::Mish: y = x * std::tanh(std::log1p(std::exp(x))); break;
    case Activation::QuickGelu: y = x * sigmoid(1.702 * x); break;
    case Activation::Relu: y = x > 0 ? x : 0; break;
    case Activation::Relu2: y = x > 0 ? x * x : 0; break;
    case Activation::Relu6: y = std::fmin(std::fmax(x, 0.0), 6.0); break;
    case Activation::Sigmoid: y = sigmoid(x); break;
    case Activation::Silu:
    case Activation::Swish: y = x * sigmoid(x); break;
    case Activation::Tanh: y = std::tanh(x); break;
  }
  return static_cast<float>(y);
}

namespace {
// The SIMD form of a (tanh form?, clip to ±10?), or false when a has none.
bool simd_gelu(Activation a, bool& tanh_form, bool& clip10) {
  tanh_form = clip10 = false;
  switch (a) {
    case Activation::Gelu:
    case Activation::GeluPython: return true;
    case Activation::Gelu10: clip10 = true; return true;
    case Activation::GeluNew:
    case Activation::GeluPytorchTanh:
    case Activation::GeluAccurate:
    case Activation::GeluFast: tanh_form = true; return true;
    default: return false;
  }
}
}  // namespace

void activate_inplace(const ThreadingContext& ctx, Activation a, float* x, int64_t n, SimdPath path) {
  constexpr int64_t kPiece = 4096;  // elements per task
  const int64_t rows = n / kPiece;
  bias_activate_inplace(ctx, a, x, rows, kPiece, nullptr, path);
  bias_activate_inplace(ctx, a, x + rows * kPiece, 1, n - rows * kPiece, nullptr, path);
}

void bias_activate_inplace(const ThreadingContext& ctx, Activation a, float* x, int64_t rows, int64_t cols,
                           const float* bias, SimdPath path) {
  if (rows <= 0 || cols <= 0) return;
  bool tanh_form, clip10;
  const bool fast = simd_gelu(a, tanh_form, clip10);
  const simd::KernelTable& K = simd::kernels(path);
  const int64_t per = std::max<int64_t>(1, 16384 / cols);  // rows per task
  parallel_for(
      ctx.when(rows * cols > 32768), (rows + per - 1) / per,
      [&](int64_t t) {
        const int64_t r0 = t * per, nr = std::min(per, rows - r0);
        float* xr = x + r0 * cols;
        if (fast) {
          K.gelu_rows(xr, nr, cols, bias, tanh_form, clip10);
        } else {
          for (int64_t r = 0; r < nr; ++r)
            for (int64_t c = 0; c < cols; ++c)
              xr[r * cols + c] = activate(a, xr[r * cols + c] + (bias ? bias[c] : 0.0f));
        }
      },
      Schedule::Static);
}

double activate_derivative(Activation a, double x) {
  constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/√(2π)
  auto gelu_erf_d = [&](double v) {
    return 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v);
  };
  // d/dx of 0.5·x·(1 + tanh(u(x))) with u = c1·x + c3·x³.
  auto gelu_tanh_d = [&](double c1, double c3) {
    const double t = std::tanh(c1 * x + c3 * x * x * x);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (c1 + 3.0 * c3 * x * x);
  };
  switch (a) {
    case Activation::Gelu:
    case Activation::GeluPython: return gelu_erf_d(x);
    case Activation::Gelu10: {
      const double y = gelu_erf(x);
      return (y >= -10.0 && y <= 10.0) ? gelu_erf_d(x) : 0.0;
    }
    case Activation::GeluFast: {
      const double c = 0.7978845608;
      return gelu_tanh_d(c, c * 0.044715);
    }
    case Activation::GeluNew:
    case Activation::GeluPytorchTanh:
    case Activation::GeluAccurate: {
      const double k = std::sqrt(2.0 / M_PI);
      return gelu_tanh_d(k, k * 0.044715);
    }
    case Activation::Laplace: {
      const double mu = 0.707107, sigma = 0.282095;
      const double u = (x - mu) / sigma;
      return kInvSqrt2Pi / sigma * std::exp(-0.5 * u * u);
    }
    case Activation::Linear: return 1.0;
    case Activation::Mish: {
      const double t = std::tanh(std::log1p(std::exp(x)));
      return t + x * (1.0 - t * t) * sigmoid(x);
    }
    case Activation::QuickGelu: {
      const double s = sigmoid(1.702 * x);
      return s + 1.702 * x * s * (1.0 - s);
    }
    case Activation::Relu: return x > 0 ? 1.0 : 0.0;
    case Activation::Relu2: return x > 0 ? 2.0 * x : 0.0;
    case Activation::Relu6: return (x > 0 && x < 6) ? 1.0 : 0.0;
    case Activation::Sigmoid: {
      const double s = sigmoid(x);
      return s * (1.0 - s);
    }
    case Activation::Silu:
    case Activation::Swish: {
      const double s = sigmoid(x);
      return s + x * s * (1.0 - s);
    }
    case Activation::Tanh: {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
  }
  return 0.0;
}

void activation_backward(const ThreadingContext& ctx, Activation a, const float* x, const float* dy, float* dx,
                         int64_t n, SimdPath path) {
  constexpr int64_t kPiece = 4096;  // elements per task
  bool tanh_form, clip10;
  const bool fast = simd_gelu(a, tanh_form, clip10) && !clip10;
  const simd::KernelTable& K = simd::kernels(path);
  parallel_for(
      ctx.when(n > 32768), (n + kPiece - 1) / kPiece,
      [&](int64_t t) {
        const int64_t i0 = t * kPiece, i1 = std::min(n, i0 + kPiece);
        if (fast) return K.gelu_grad(x + i0, dy + i0, dx + i0, i1 - i0, tanh_form);
        for (int64_t i = i0; i < i1; ++i)
          dx[i] = static_cast<float>(static_cast<double>(dy[i]) * activate_derivative(a, x[i]));
      },
      Schedule::Static);
}

void activation_backward_ref(Activation a, const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>(static_cast<double>(dy[i]) * activate_derivative(a, x[i]));
}

}  // namespace bigbird
