// bf16 x bf16 → float32 products with VDPBF16PS (AVX512-BF16). Like kernels_avx512.cpp, only
// this file's code carries the target, in a namespace of its own.
#include <algorithm>
#include <cstdint>
#include <immintrin.h>

#include "kernels/simd/gemm_bf16_kernel.h"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma"))), apply_to = function)
#endif
namespace bigbird::simd::avx512bf16 {
namespace {

constexpr int kMaxRows = 6;  // 6 x 4 accumulators + 4 panel vectors + 1 broadcast ≤ 32 registers

// Rows of x → bf16 pairs (round to nearest even), ceil(in/2) words per row, odd tail padded with 0.
void convert_rows(const float* x, int64_t rows, int64_t in, uint32_t* a) {
  const int64_t kp = (in + 1) / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    uint16_t* ar = reinterpret_cast<uint16_t*>(a + r * kp);
    int64_t i = 0;
    for (; i + 16 <= in; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ar + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(xr + i)));
    if (i < in) {
      const __mmask16 m = static_cast<__mmask16>((1u << (in - i)) - 1u);
      const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, xr + i));
      _mm256_mask_storeu_epi16(ar + i, m, v);
    }
    if (in % 2) ar[in] = 0;
  }
}

// MR rows x 64 columns: acc = Σ_p a[r][p] · panel[p][:] (pairs), then y (=|+=) acc + bias.
template <int MR>
inline void tile(const uint32_t* a, int64_t kp, const uint32_t* panel, const float* bias, float* y, int64_t ldy,
                 int ncols, bool accumulate) {
  __m512 acc[MR][4];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) acc[r][x] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    const uint32_t* bp = panel + p * 64;
    __m512bh b[4];
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) b[x] = (__m512bh)_mm512_loadu_si512(bp + 16 * x);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * kp + p]));
#pragma GCC unroll 4
      for (int x = 0; x < 4; ++x) acc[r][x] = _mm512_dpbf16_ps(acc[r][x], av, b[x]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) {
      const int n = std::min(16, ncols - 16 * x);
      if (n <= 0) break;
      const __mmask16 m = static_cast<__mmask16>(n == 16 ? 0xffffu : (1u << n) - 1u);
      float* yp = y + r * ldy + 16 * x;
      __m512 v = acc[r][x];
      if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), v);
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + 16 * x));
      _mm512_mask_storeu_ps(yp, m, v);
    }
}

}  // namespace

void gemm_chunk(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out, const float* bias,
                float* y, int64_t ldy, bool accumulate, uint32_t* abuf) {
  const int64_t kp = (in + 1) / 2;
  convert_rows(x, rows, in, abuf);
  const int tiles = static_cast<int>((rows + kMaxRows - 1) / kMaxRows);
  const int base = static_cast<int>(rows / tiles), extra = static_cast<int>(rows % tiles);
  for (int64_t n0 = 0; n0 < out; n0 += kBf16PanelCols) {
    const uint32_t* panel = panels + (n0 / kBf16PanelCols) * kp * kBf16PanelCols;
    const int ncols = static_cast<int>(std::min<int64_t>(kBf16PanelCols, out - n0));
    const float* b = bias ? bias + n0 : nullptr;
    for (int t = 0, r0 = 0; t < tiles; ++t) {
      const int mr = base + (t < extra ? 1 : 0);
      const uint32_t* a = abuf + r0 * kp;
      float* yp = y + r0 * ldy + n0;
      switch (mr) {
        case 6: tile<6>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
        case 5: tile<5>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
        case 4: tile<4>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
        case 3: tile<3>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
        case 2: tile<2>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
        default: tile<1>(a, kp, panel, b, yp, ldy, ncols, accumulate); break;
      }
      r0 += mr;
    }
  }
}

}  // namespace bigbird::simd::avx512bf16
#pragma GCC diagnostic pop
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
void gemm_bf16_chunk_avx512(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out,
                            const float* bias, float* y, int64_t ldy, bool accumulate, uint32_t* abuf) {
  avx512bf16::gemm_chunk(x, rows, in, panels, out, bias, y, ldy, accumulate, abuf);
}
}  // namespace bigbird::simd
