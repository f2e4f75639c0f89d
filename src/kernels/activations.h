// Element-wise activations, named as HF's ACT2FN (transformers 4.27).
#pragma once
#include <cstdint>
#include <string>

#include "core/threading.h"
#include "kernels/simd/dispatch.h"

namespace bigbird {

enum class Activation {
  Gelu,
  Gelu10,
  GeluFast,
  GeluNew,
  GeluPython,
  GeluPytorchTanh,
  GeluAccurate,
  Laplace,
  Linear,
  Mish,
  QuickGelu,
  Relu,
  Relu2,
  Relu6,
  Sigmoid,
  Silu,
  Swish,
  Tanh
};

bool is_known_activation(const std::string& name);
std::string known_activations();                       // comma-separated list, for error messages
Activation parse_activation(const std::string& name);  // throws bigbird::Error

// The exact value (double evaluation, rounded once): the reference of the fast paths below.
float activate(Activation a, float x);

// In place over n values (parallel for large n).
void activate_inplace(const ThreadingContext& ctx, Activation a, float* x, int64_t n, SimdPath path = SimdPath::Auto);

// The exact derivative act'(x) (double evaluation) of `activate` for every Activation. At kinks, torch's choice:
// relu'(0) = relu2'(0) = 0; relu6' = 1 on the open (0, 6) only; gelu_10' = gelu' where -10 ≤ gelu(x) ≤ 10, else 0.
double activate_derivative(Activation a, double x);

// dx[i] = dy[i]·act'(x[i]), x = the activation's input (pre-activation); dx may alias dy. The GELU
// family (except gelu_10) runs float32 SIMD derivatives (KernelTable::gelu_grad) within
// kGeluGradAbsTol + kGeluGradRelTol·|act'(x)| of the exact derivative (tests/test_backward_ops.cpp
// sweeps them), times dy; the others evaluate activate_derivative (product in double, rounded
// once). Parallel over fixed pieces; the bits do not depend on the thread count.
void activation_backward(const ThreadingContext& ctx, Activation a, const float* x, const float* dy, float* dx,
                         int64_t n, SimdPath path = SimdPath::Auto);
constexpr double kGeluGradAbsTol = 1e-6;
constexpr double kGeluGradRelTol = 1e-6;

// The reference: dx[i] = dy[i]·activate_derivative(x[i]) (product in double, rounded once), serial.
void activation_backward_ref(Activation a, const float* x, const float* dy, float* dx, int64_t n);

// x[r, c] = act(x[r, c] + bias[c]) over rows x cols (bias may be null): a linear layer's bias
// add fused into its activation. Parallel over rows.
//
// The GELU family runs float32 SIMD approximations:
//   gelu, gelu_python, gelu_10 (erf form): x·erfc(-x/√2)/2 with Numerical Recipes' erfc
//   gelu_new, gelu_pytorch_tanh, gelu_accurate, gelu_fast (tanh form): x / (1 + e^(-2u))
// Both stay within kGeluAbsTol + kGeluRelTol·|gelu(x)| of the exact value on every SIMD path:
// tests/test_kernels.cpp sweeps [-20, 20] in steps of 1e-4 plus tiny, huge and infinite-range
// inputs; the worst case seen is 0.31 of that bound. The other activations evaluate `activate`
// element by element.
void bias_activate_inplace(const ThreadingContext& ctx, Activation a, float* x, int64_t rows, int64_t cols,
                           const float* bias, SimdPath path = SimdPath::Auto);
constexpr double kGeluAbsTol = 1e-7;
constexpr double kGeluRelTol = 1e-6;

}  // namespace bigbird
