// u8 x s8 → int32 products with VPDPBUSD (AVX512-VNNI). Like gemm_bf16_avx512.cpp, only this
// file's code carries the target, in a namespace of its own.
//
// Activations are stored as u = q + 128 (0..255, the unsigned operand of VPDPBUSD) and the sum
// corrected with the weight column sums: Σ_k q·qw = Σ_k u·qw − 128·colsum. Every sum is exact
// int32 (in ≤ 65536), and the epilogue is linear_int8_ref's float32 expression, a multiply and
// an add each rounded on its own (no contraction into fma).
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
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2"))), apply_to = function)
#endif
namespace bigbird::simd::avx512vnni {
namespace {

constexpr int kMaxRows = 6;  // 6 x 4 accumulators + 4 panel vectors + 1 broadcast ≤ 32 registers

// The 32-bit word of 4 u8 activations at p, broadcast to every lane.
inline __m512i broadcast4(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return _mm512_set1_epi32(w);
}

// Rows of x → u = q + 128, 4·ceil(in/4) bytes per row (tail u = 128: q = 0 against weight 0),
// and s_x per row; quantize_row_int8's rules (gemm_int8.h).
void quantize_rows(const float* x, int64_t rows, int64_t in, uint8_t* a, float* sx) {
  const int64_t ld = (in + 3) / 4 * 4;
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    uint8_t* ar = a + r * ld;
    // The largest |x|: integer maximum of the bit patterns (NaN > Inf > every finite value).
    __m512i m = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 16 <= in; i += 16) m = _mm512_max_epi32(m, _mm512_and_si512(_mm512_loadu_si512(xr + i), absmask));
    const __mmask16 tail = static_cast<__mmask16>((1u << (in - i)) - 1u);
    if (i < in) m = _mm512_max_epi32(m, _mm512_and_si512(_mm512_maskz_loadu_epi32(tail, xr + i), absmask));
    const uint32_t mb = static_cast<uint32_t>(_mm512_reduce_max_epi32(m));
    float amax;
    std::memcpy(&amax, &mb, 4);
    const float inv = mb ? 127.0f / amax : 0.0f;
    if (mb >= 0x7f800000u || mb == 0 || std::isinf(inv)) {
      std::memset(ar, 128, static_cast<size_t>(ld));
      sx[r] = mb >= 0x7f800000u ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
      continue;
    }
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
    i = 0;
    for (; i + 16 <= in; i += 16) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + i), vinv));  // nearest even
      q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), off);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ar + i), _mm512_cvtepi32_epi8(q));
    }
    if (i < in) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + i), vinv));
      q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), off);
      _mm512_mask_cvtepi32_storeu_epi8(ar + i, tail, q);
    }
    for (i = in; i < ld; ++i) ar[i] = 128;
    sx[r] = amax / 127.0f;
  }
}

// MR rows x 64 columns: acc = Σ_p u[r][4p..4p+3] · panel[p][:] (quads), then
// y (=|+=) float(acc − 128·colsum) · (s_x · s_w) + bias.
template <int MR>
inline void tile(const uint8_t* a, int64_t ld, int64_t kq, const uint32_t* panel, const int32_t* colsum,
                 const float* scale, const float* sx, const float* bias, float* y, int64_t ldy, int ncols,
                 bool accumulate) {
  __m512i acc[MR][4];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) acc[r][x] = _mm512_setzero_si512();
  for (int64_t p = 0; p < kq; ++p) {
    const uint32_t* bp = panel + p * 64;
    __m512i b[4];
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) b[x] = _mm512_loadu_si512(bp + 16 * x);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512i av = broadcast4(a + r * ld + 4 * p);
#pragma GCC unroll 4
      for (int x = 0; x < 4; ++x) acc[r][x] = _mm512_dpbusd_epi32(acc[r][x], av, b[x]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m512 sxv = _mm512_set1_ps(sx[r]);
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) {
      const int n = std::min(16, ncols - 16 * x);
      if (n <= 0) break;
      const __mmask16 m = static_cast<__mmask16>(n == 16 ? 0xffffu : (1u << n) - 1u);
      const __m512i cs = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, colsum + 16 * x), 7);  // 128·colsum
      const __m512 s = _mm512_mul_ps(sxv, _mm512_maskz_loadu_ps(m, scale + 16 * x));
      float* yp = y + r * ldy + 16 * x;
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][x], cs)), s);
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + 16 * x));
      if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), v);
      _mm512_mask_storeu_ps(yp, m, v);
    }
  }
}

}  // namespace

void gemm_chunk(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                const int32_t* colsum, int64_t out, const float* bias, float* y, int64_t ldy, bool accumulate,
                uint64_t* abuf) {
  const int64_t kq = (in + 3) / 4, ld = 4 * kq;
  uint8_t* a = reinterpret_cast<uint8_t*>(abuf);
  float sx[kInt8RowChunk];
  quantize_rows(x, rows, in, a, sx);
  const int tiles = static_cast<int>((rows + kMaxRows - 1) / kMaxRows);
  const int base = static_cast<int>(rows / tiles), extra = static_cast<int>(rows % tiles);
  for (int64_t n0 = 0; n0 < out; n0 += kInt8PanelCols) {
    const uint32_t* panel = panels + (n0 / kInt8PanelCols) * kq * kInt8PanelCols;
    const int ncols = static_cast<int>(std::min<int64_t>(kInt8PanelCols, out - n0));
    const float* b = bias ? bias + n0 : nullptr;
    const int32_t* cs = colsum + n0;
    const float* sw = scale + n0;
    for (int t = 0, r0 = 0; t < tiles; ++t) {
      const int mr = base + (t < extra ? 1 : 0);
      const uint8_t* ap = a + r0 * ld;
      float* yp = y + r0 * ldy + n0;
      switch (mr) {
        case 6: tile<6>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 5: tile<5>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 4: tile<4>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 3: tile<3>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        case 2: tile<2>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
        default: tile<1>(ap, ld, kq, panel, cs, sw, sx + r0, b, yp, ldy, ncols, accumulate); break;
      }
      r0 += mr;
    }
  }
}

}  // namespace bigbird::simd::avx512vnni
#pragma GCC diagnostic pop
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
void gemm_int8_chunk_vnni(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                          const int32_t* colsum, int64_t out, const float* bias, float* y, int64_t ldy,
                          bool accumulate, uint64_t* abuf) {
  avx512vnni::gemm_chunk(x, rows, in, panels, scale, colsum, out, bias, y, ldy, accumulate, abuf);
}
}  // namespace bigbird::simd
