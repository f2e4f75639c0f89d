// The fast kernels (kernel_table_impl.h) compiled for AVX2 + FMA. Only the code between push and
// pop carries the target: the standard headers come before the pragma, and everything defined
// under it lives in a namespace of its own, so no AVX2 instruction can leak into code that runs
// on other CPUs. The table itself is constant-initialised data, copied outside the target.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "kernels/simd/dispatch.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2"))), apply_to = function)
#endif
namespace bigbird::simd::avx2 {
namespace {
#include "kernels/simd/vec_avx2.h"
#include "kernels/simd/kernel_table_impl.h"
}  // namespace
}  // namespace bigbird::simd::avx2
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
constinit const KernelTable kAvx2Table = avx2::kTable;
}  // namespace bigbird::simd
