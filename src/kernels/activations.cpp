#include "kernels/activations.h"

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

void activate_inplace(Activation a, float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) x[i] = activate(a, x[i]);
}

}  // namespace bigbird
