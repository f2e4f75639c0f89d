// Fully connected layers in PyTorch's convention: y = x · Wᵀ + b, W is [out, in].
#pragma once
#include <cstdint>
#include <string>

namespace bigbird {

// x [rows, in], W [out, in], bias [out] or nullptr, y [rows, out]. BLAS (OpenBLAS) sgemm.
void linear(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// The same with y += x · Wᵀ + b (accumulate), used for residual connections.
void linear_accumulate(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// Scalar reference (double accumulation) for tests.
void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// linear() runs on OpenMP's threads (omp_set_num_threads): it splits the product into tiles fixed
// by the shape and calls BLAS single-threaded on each, so results do not depend on the thread
// count and BLAS never oversubscribes the cores. This sets OpenBLAS's own pool to one thread and
// OpenMP's to n (OpenBLAS's OpenMP build would otherwise leave OpenMP at one thread).
void set_blas_threads(int n);

// The OpenBLAS kernel family in use (e.g. "Cooperlake", "Haswell"), for benchmark reports.
// OpenBLAS honours OPENBLAS_CORETYPE: =Haswell on an AVX-512 machine halves sgemm's speed.
std::string blas_core_name();

}  // namespace bigbird
