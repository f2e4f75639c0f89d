// s8 x s8 → int32 products with VPMADDWD (AVX2), on the packed panels of the VNNI kernel. Like
// kernels_avx2.cpp, only this file's code carries the target, in a namespace of its own.
//
// Activations are stored as q widened to int16 (four per 64-bit word, one k quad); a panel's
// 32 bytes of 8 columns x 4 k are sign-extended to two vectors of int16, and VPMADDWD against
// the broadcast quad gives per column the two pair sums (k0·w0 + k1·w1, k2·w2 + k3·w3) in
// adjacent int32 lanes, added together at the end. Every sum is exact int32, and the epilogue
// is linear_int8_ref's float32 expression, a multiply and an add each rounded on its own.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <limits>

#include "kernels/simd/gemm_int8_kernel.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#pragma GCC push_options
#pragma GCC target("avx2")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#endif
namespace bigbird::simd::avx2int8 {
namespace {

constexpr int kMaxRows = 4;    // 4 x 2 accumulators + 2 panel vectors + broadcasts and products ≤ 16 registers
constexpr int kStripCols = 8;  // columns per tile

inline uint32_t hmax_epu31(__m256i v) {  // lanes are ≤ 0x7fffffff: the signed maximum
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(m));
}

inline __m256i clamp127(__m256i q) {
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

// Rows of x → q as int16, 4·ceil(in/4) per row (tail 0), and s_x per row; quantize_row_int8's
// rules (gemm_int8.h).
void quantize_rows(const float* x, int64_t rows, int64_t in, int16_t* a, float* sx) {
  const int64_t ld = (in + 3) / 4 * 4;
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    int16_t* ar = a + r * ld;
    // The largest |x|: integer maximum of the bit patterns (NaN > Inf > every finite value).
    __m256i m = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= in; i += 8)
      m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + i)), absmask));
    uint32_t mb = hmax_epu31(m);
    for (; i < in; ++i) {
      uint32_t u;
      std::memcpy(&u, xr + i, 4);
      mb = std::max(mb, u & 0x7fffffffu);
    }
    float amax;
    std::memcpy(&amax, &mb, 4);
    const float inv = mb ? 127.0f / amax : 0.0f;
    if (mb >= 0x7f800000u || mb == 0 || std::isinf(inv)) {
      std::fill(ar, ar + ld, int16_t{0});
      sx[r] = mb >= 0x7f800000u ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
      continue;
    }
    const __m256 vinv = _mm256_set1_ps(inv);
    i = 0;
    for (; i + 16 <= in; i += 16) {  // nearest even; packs interleaves 64-bit groups: 0, 2, 1, 3
      const __m256i q0 = clamp127(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv)));
      const __m256i q1 = clamp127(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i + 8), vinv)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ar + i),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    for (; i + 8 <= in; i += 8) {
      const __m256i q = clamp127(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ar + i),
                       _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)));
    }
    for (; i < in; ++i) {
      const int q = _mm_cvtss_si32(_mm_set_ss(xr[i] * inv));  // nearest even (MXCSR default)
      ar[i] = static_cast<int16_t>(std::clamp(q, -127, 127));
    }
    for (i = in; i < ld; ++i) ar[i] = 0;
    sx[r] = amax / 127.0f;
  }
}

// MR rows x ncols ≤ 8 columns of a panel (panel points at the strip's first column):
// acc = Σ_p q[r][4p..4p+3] · qw[p][:], then y (=|+=) float(acc) · (s_x · s_w) + bias.
// Not inlined: inside gemm_chunk GCC 12 spills the accumulators in the loop (~30% slower).
template <int MR>
__attribute__((noinline)) void tile(const int16_t* a, int64_t ld, int64_t kq, const uint32_t* panel, const float* scale,
                 const float* sx, const float* bias, float* y, int64_t ldy, int ncols, bool accumulate) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t p = 0; p < kq; ++p) {
    const uint32_t* bp = panel + p * kInt8PanelCols;
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 4)));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int64_t quad;
      std::memcpy(&quad, a + r * ld + 4 * p, 8);
      const __m256i av = _mm256_set1_epi64x(quad);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, w0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, w1));
    }
  }
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 sw = _mm256_maskload_ps(scale, m);
  const __m256 bv = bias ? _mm256_maskload_ps(bias, m) : _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float* yp = y + r * ldy;
    // Pair sums → columns: hadd gives c0 c1 c4 c5 | c2 c3 c6 c7.
    const __m256i dot =
        _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), _MM_SHUFFLE(3, 1, 2, 0));
    const __m256 s = _mm256_mul_ps(_mm256_set1_ps(sx[r]), sw);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), s);
    if (bias) v = _mm256_add_ps(v, bv);
    if (accumulate) v = _mm256_add_ps(_mm256_maskload_ps(yp, m), v);
    _mm256_maskstore_ps(yp, m, v);
  }
}

}  // namespace

void gemm_chunk(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                int64_t out, const float* bias, float* y, int64_t ldy, bool accumulate, uint64_t* abuf) {
  const int64_t kq = (in + 3) / 4, ld = 4 * kq;
  int16_t* a = reinterpret_cast<int16_t*>(abuf);
  float sx[kInt8RowChunk];
  quantize_rows(x, rows, in, a, sx);
  const int tiles = static_cast<int>((rows + kMaxRows - 1) / kMaxRows);
  const int base = static_cast<int>(rows / tiles), extra = static_cast<int>(rows % tiles);
  for (int64_t n0 = 0; n0 < out; n0 += kStripCols) {
    const uint32_t* panel = panels + (n0 / kInt8PanelCols) * kq * kInt8PanelCols + n0 % kInt8PanelCols;
    const int ncols = static_cast<int>(std::min<int64_t>(kStripCols, out - n0));
    const float* b = bias ? bias + n0 : nullptr;
    const float* sw = scale + n0;
    for (int t = 0, r0 = 0; t < tiles; ++t) {
      const int mr = base + (t < extra ? 1 : 0);
      const int16_t* ap = a + r0 * ld;
      float* yp = y + r0 * ldy + n0;
      switch (mr) {
        case 4: tile<4>(ap, ld, kq, panel, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 3: tile<3>(ap, ld, kq, panel, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 2: tile<2>(ap, ld, kq, panel, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        default: tile<1>(ap, ld, kq, panel, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
      }
      r0 += mr;
    }
  }
}

}  // namespace bigbird::simd::avx2int8
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
void gemm_int8_chunk_avx2(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                          const int32_t* /*colsum: the int16 activations are signed, no correction*/, int64_t out,
                          const float* bias, float* y, int64_t ldy, bool accumulate, uint64_t* abuf) {
  avx2int8::gemm_chunk(x, rows, in, panels, scale, out, bias, y, ldy, accumulate, abuf);
}
}  // namespace bigbird::simd
