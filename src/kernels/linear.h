// Fully connected layers in PyTorch's convention: y = x · Wᵀ + b, W is [out, in].
#pragma once
#include <cstdint>

namespace bigbird {

// x [rows, in], W [out, in], bias [out] or nullptr, y [rows, out]. BLAS (OpenBLAS) sgemm.
void linear(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// The same with y += x · Wᵀ + b (accumulate), used for residual connections.
void linear_accumulate(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// Scalar reference (double accumulation) for tests.
void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// Threads that BLAS may use (OpenBLAS pthread pool); keeps BLAS and OpenMP from oversubscribing.
void set_blas_threads(int n);

}  // namespace bigbird
