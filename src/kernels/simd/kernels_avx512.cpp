// The fast kernels (kernel_table_impl.h) compiled for AVX-512 (F, VL, BW, DQ). Only the code
// between push and pop carries the target: the standard headers come before the pragma, and
// everything defined under it lives in a namespace of its own, so no AVX-512 instruction can
// leak into code that runs on other CPUs. The table itself is constant-initialised data, copied
// outside the target.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "kernels/simd/dispatch.h"

#pragma GCC push_options
// GCC 12 reports _mm512_undefined_ps() inside its own intrinsics as (maybe) uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2"))), apply_to = function)
#endif
namespace bigbird::simd::avx512 {
namespace {
#include "kernels/simd/vec_avx512.h"
#include "kernels/simd/kernel_table_impl.h"
}  // namespace
}  // namespace bigbird::simd::avx512
#pragma GCC diagnostic pop
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
constinit const KernelTable kAvx512Table = avx512::kTable;
}  // namespace bigbird::simd
