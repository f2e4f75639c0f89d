// bf16 x bf16 → float32 products emulated with AVX2 + FMA, for CPUs without AVX512-BF16. It reads
// the same packed panels as the VDPBF16PS kernel (pairs of bf16 in one 32-bit word) and follows
// VDPBF16PS's definition per pair: acc += hi·hi, then acc += lo·lo. A product of two bf16 values
// is exact in float32, so each step is one FMA. Only this file's code carries the target.
#include <algorithm>
#include <cstdint>
#include <immintrin.h>

#include "kernels/gemm_bf16.h"
#include "kernels/simd/gemm_bf16_kernel.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif
namespace bigbird::simd::avx2bf16 {
namespace {

constexpr int kMaxRows = 4;  // 4 rows x 16 columns: 8 accumulators + 4 panel vectors + 2 broadcasts

// MR rows x up to 16 columns (cols c0..c0+16 of a 64-column panel).
template <int MR>
inline void tile(const uint32_t* a, int64_t kp, const uint32_t* panel, const float* bias, float* y, int64_t ldy,
                 int ncols, bool accumulate) {
  const __m256i himask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
  __m256 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    const uint32_t* bp = panel + p * kBf16PanelCols;
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
    const __m256 hi0 = _mm256_castsi256_ps(_mm256_and_si256(w0, himask));
    const __m256 hi1 = _mm256_castsi256_ps(_mm256_and_si256(w1, himask));
    const __m256 lo0 = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
    const __m256 lo1 = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_set1_epi32(static_cast<int>(a[r * kp + p]));
      const __m256 ahi = _mm256_castsi256_ps(_mm256_and_si256(av, himask));
      const __m256 alo = _mm256_castsi256_ps(_mm256_slli_epi32(av, 16));
      acc[r][0] = _mm256_fmadd_ps(alo, lo0, _mm256_fmadd_ps(ahi, hi0, acc[r][0]));
      acc[r][1] = _mm256_fmadd_ps(alo, lo1, _mm256_fmadd_ps(ahi, hi1, acc[r][1]));
    }
  }
  alignas(32) float buf[16];
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(buf, acc[r][0]);
    _mm256_store_ps(buf + 8, acc[r][1]);
    float* yp = y + r * ldy;
    for (int c = 0; c < ncols; ++c) {
      float v = buf[c];
      if (accumulate) v = yp[c] + v;
      if (bias) v = v + bias[c];
      yp[c] = v;
    }
  }
}

}  // namespace

void gemm_chunk(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out, const float* bias,
                float* y, int64_t ldy, bool accumulate, uint32_t* abuf) {
  const int64_t kp = (in + 1) / 2;
  for (int64_t r = 0; r < rows; ++r) {  // activations → bf16 pairs, as the AVX-512 kernel rounds them
    const float* xr = x + r * in;
    uint32_t* ar = abuf + r * kp;
    for (int64_t p = 0; p < kp; ++p) {
      const uint32_t lo = to_bf16(xr[2 * p]), hi = 2 * p + 1 < in ? to_bf16(xr[2 * p + 1]) : 0u;
      ar[p] = lo | (hi << 16);
    }
  }
  for (int64_t n0 = 0; n0 < out; n0 += kBf16PanelCols) {
    const uint32_t* panel = panels + (n0 / kBf16PanelCols) * kp * kBf16PanelCols;
    for (int64_t c0 = n0; c0 < std::min(out, n0 + kBf16PanelCols); c0 += 16) {
      const int ncols = static_cast<int>(std::min<int64_t>(16, out - c0));
      const float* b = bias ? bias + c0 : nullptr;
      for (int64_t r0 = 0; r0 < rows; r0 += kMaxRows) {
        const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, rows - r0));
        const uint32_t* a = abuf + r0 * kp;
        const uint32_t* pc = panel + (c0 - n0);
        float* yp = y + r0 * ldy + c0;
        switch (mr) {
          case 4: tile<4>(a, kp, pc, b, yp, ldy, ncols, accumulate); break;
          case 3: tile<3>(a, kp, pc, b, yp, ldy, ncols, accumulate); break;
          case 2: tile<2>(a, kp, pc, b, yp, ldy, ncols, accumulate); break;
          default: tile<1>(a, kp, pc, b, yp, ldy, ncols, accumulate); break;
        }
      }
    }
  }
}

}  // namespace bigbird::simd::avx2bf16
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
void gemm_bf16_chunk_avx2(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out,
                          const float* bias, float* y, int64_t ldy, bool accumulate, uint32_t* abuf) {
  avx2bf16::gemm_chunk(x, rows, in, panels, out, bias, y, ldy, accumulate, abuf);
}
}  // namespace bigbird::simd
