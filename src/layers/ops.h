// Element-wise steps of a layer on the fast kernels or, for Compute::reference(), on the scalar
// references (double accumulation): one switch here instead of one per model.
#pragma once
#include <cstdint>

#include "kernels/activations.h"
#include "layers/types.h"

namespace bigbird {

// y = LayerNorm(x + res + bias) per row of width dim (res, bias may be null; y may alias x or res).
void layer_norm(const Compute& c, const float* x, const float* res, const float* bias, float* y, int64_t rows,
                int64_t dim, const NormW& norm, float eps);

// x[r, c] = act(x[r, c] + bias[c]) over rows x cols (bias may be null).
void bias_activation(const Compute& c, Activation act, float* x, int64_t rows, int64_t cols, const float* bias);

// x[i] = act(x[i]) over n values.
void activation(const Compute& c, Activation act, float* x, int64_t n);

// y[i] += x[i] over n values (a residual sum), parallel over fixed pieces (the same bits on any
// thread count: each element is one float addition).
void add_inplace(const Compute& c, float* y, const float* x, int64_t n);

// y[i] = x[i] over n values, parallel over fixed pieces (a copy of a large activation).
void copy(const Compute& c, const float* x, float* y, int64_t n);

// dx = dy·act'(x) over n values (dx may alias dy), x = the activation's input.
void activation_backward(const Compute& c, Activation act, const float* x, const float* dy, float* dx, int64_t n);

// Backward of layer_norm over its input z (= x + res + bias, kept by the caller): dz = ∂L/∂z
// (written; may alias dy), the norm's weight and bias gradients accumulated (null: skipped).
void layer_norm_backward(const Compute& c, const float* z, const float* dy, int64_t rows, int64_t dim,
                         const NormW& norm, float eps, float* dz, float* dgamma, float* dbeta);

}  // namespace bigbird
