// The bf16 block-sparse attention kernel (attention_bf16.h) for AVX512-BF16. Like
// kernels_avx512.cpp, only this file's code carries the target, in a namespace of its own.
//
// The structure is attention_impl.h's (chunks of ≤ kChunkCols keys, an online softmax in float32,
// register tiles of MR query rows x NV vectors); the products run on VDPBF16PS:
//   S tile:  acc[r][x] += (q_r[2p], q_r[2p+1]) · (kt2[p][c..c+16])     dp = ceil(d/2) steps
//   O tile:  acc[r][x] += (P_r[2m], P_r[2m+1]) · (v2[m][c..c+16])      len/2 steps per piece
// The probabilities of a chunk are rounded to bf16 pairs in place, over the first half of their
// own score row. Nothing depends on the thread that runs a job.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "kernels/simd/attention_bf16.h"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,bmi2")
#ifdef __clang__  // clang (the fuzz build) ignores `#pragma GCC target`
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,bmi2"))), apply_to = function)
#endif
namespace bigbird::simd::avx512bf16_attn {
namespace {
#include "kernels/simd/vec_avx512.h"

using Words = __m512i;

inline __m512bh as_bh(Words w) { return (__m512bh)w; }
inline Words bcast(uint32_t w) { return _mm512_set1_epi32(static_cast<int>(w)); }

// 16 floats → 16 bf16 (round to nearest even), zero-extended into 32-bit words.
inline Words bf16_words(__m512 x) { return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x)); }

// One row of n floats → ceil(n/2) pair words (the odd tail's second half 0).
inline void to_pairs(const float* x, int64_t n, uint32_t* out) {
  int64_t c = 0;
  for (; c + 32 <= n; c += 32)
    _mm512_storeu_si512(out + c / 2,
                        (Words)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + c + 16), _mm512_loadu_ps(x + c)));
  if (c < n) {
    const int a = static_cast<int>(std::min<int64_t>(16, n - c)), b = static_cast<int>(n - c) - a;
    const __m512 lo = Vec::loadn(x + c, a), hi = b > 0 ? Vec::loadn(x + c + 16, b) : Vec::zero();
    const int words = static_cast<int>((n - c + 1) / 2);
    _mm512_mask_storeu_epi32(out + c / 2, Vec::lanes(words), (Words)_mm512_cvtne2ps_pbh(hi, lo));
  }
}

#include "kernels/simd/row_tiles_impl.h"

// s[r, 0 .. NV*16) = scale · Σ_p q2[r][p]·kt2[p][c] (pairs) for rows r < MR.
template <int NV, int MR>
inline void qk_tile(const uint32_t* q2, int dp, const uint32_t* kt, int64_t ldkt, float* s, int64_t lds, float scale) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) acc[r][x] = Vec::zero();
  for (int p = 0; p < dp; ++p) {
    const uint32_t* kr = kt + p * ldkt;
    Words kv[NV];
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) kv[x] = _mm512_loadu_si512(kr + x * 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512bh b = as_bh(bcast(q2[r * dp + p]));
#pragma GCC unroll 4
      for (int x = 0; x < NV; ++x) acc[r][x] = _mm512_dpbf16_ps(acc[r][x], b, as_bh(kv[x]));
    }
  }
  const __m512 sc = Vec::set1(scale);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) Vec::store(s + r * lds + x * 16, Vec::mul(acc[r][x], sc));
}

template <int NV>
inline void qk_cols(const AttnRowsJob& j, const AttnBf16Keys& K, const uint32_t* kt, float* s, int64_t lds,
                    int64_t c) {
  constexpr int MR = tile_rows<NV>();
  const int dp = (j.d + 1) / 2;
  for_row_tiles<MR>(j.nq, [&](int i0, int rows) {
    with_rows<MR>(rows, [&]<int R>() {
      qk_tile<NV, R>(K.q2 + i0 * dp, dp, kt + c, K.ldkt2, s + i0 * lds + c, lds, j.scale);
    });
  });
}

// S[:, 0 .. len) for one piece; writes up to 63 columns past len (the caller's slack).
inline void qk_piece(const AttnRowsJob& j, const AttnBf16Keys& K, const KeyPiece& pc, float* s, int64_t lds) {
  const uint32_t* kt = K.kt2 + pc.start;
  for (int64_t c = 0; c < pc.len;) {
    const int64_t nv = std::min<int64_t>(4, (pc.len - c + 15) / 16);
    switch (nv) {
      case 4: qk_cols<4>(j, K, kt, s, lds, c); break;
      case 3: qk_cols<3>(j, K, kt, s, lds, c); break;
      case 2: qk_cols<2>(j, K, kt, s, lds, c); break;
      default: qk_cols<1>(j, K, kt, s, lds, c); break;
    }
    c += nv * 16;
  }
}

// o[r, 0 .. NV*16) += Σ_m P2_r[m]·v2[m] over the chunk's pieces (pairs of keys), rows r < MR.
// p2 row r: the chunk's pair words (piece after piece, len/2 each) at p2 + r*ldp.
template <int NV, int MR>
inline void pv_tile(const uint32_t* p2, int64_t ldp, const KeyPiece* pieces, int np, const uint32_t* v2, int64_t ldv,
                    float* o, int64_t ldo) {
  __m512 acc[MR][NV];
  const uint32_t* pr[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    pr[r] = p2 + r * ldp;
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) acc[r][x] = Vec::load(o + r * ldo + x * 16);
  }
  for (int pi = 0; pi < np; ++pi) {
    const uint32_t* vr = v2 + (pieces[pi].start / 2) * ldv;
    const int64_t pairs = pieces[pi].len / 2;
    for (int64_t m = 0; m < pairs; ++m, vr += ldv) {
      Words vv[NV];
#pragma GCC unroll 4
      for (int x = 0; x < NV; ++x) vv[x] = _mm512_loadu_si512(vr + x * 16);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const __m512bh b = as_bh(bcast(pr[r][m]));
#pragma GCC unroll 4
        for (int x = 0; x < NV; ++x) acc[r][x] = _mm512_dpbf16_ps(acc[r][x], b, as_bh(vv[x]));
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) pr[r] += pairs;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) Vec::store(o + r * ldo + x * 16, acc[r][x]);
}

template <int NV>
inline void pv_cols(const AttnRowsJob& j, const AttnBf16Keys& K, const uint32_t* p2, int64_t ldp,
                    const KeyPiece* pieces, int np, float* o, int64_t ldo, int c0) {
  constexpr int MR = tile_rows<NV>();
  for_row_tiles<MR>(j.nq, [&](int i0, int rows) {
    with_rows<MR>(rows, [&]<int R>() {
      pv_tile<NV, R>(p2 + i0 * ldp, ldp, pieces, np, K.v2 + c0, K.ldv2, o + i0 * ldo + c0, ldo);
    });
  });
}

// O[:, 0 .. d) += P·V for the chunk. Whole vectors of v2 (its rows are padded past heads·d) and
// of O (ldo a multiple of 16): the lanes past d are never stored to the output.
inline void pv_chunk(const AttnRowsJob& j, const AttnBf16Keys& K, const uint32_t* p2, int64_t ldp,
                     const KeyPiece* pieces, int np, float* o, int64_t ldo) {
  for (int c0 = 0; c0 < j.d;) {
    const int nv = std::min(4, (j.d - c0 + 15) / 16);
    switch (nv) {
      case 4: pv_cols<4>(j, K, p2, ldp, pieces, np, o, ldo, c0); break;
      case 3: pv_cols<3>(j, K, p2, ldp, pieces, np, o, ldo, c0); break;
      case 2: pv_cols<2>(j, K, p2, ldp, pieces, np, o, ldo, c0); break;
      default: pv_cols<1>(j, K, p2, ldp, pieces, np, o, ldo, c0); break;
    }
    c0 += nv * 16;
  }
}

// As attention_impl.h's add_penalty.
inline void add_penalty(float* row, const float* mk, int64_t len, MaskKind kind, float mq, float penalty) {
  const __m512 one = Vec::set1(1.0f), pen = Vec::set1(penalty), vmq = Vec::set1(mq);
  for (int64_t c = 0; c < len; c += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, len - c));
    __m512 m = Vec::loadn(mk + c, n);
    if (kind == MaskKind::QueryKey) m = Vec::mul(vmq, m);
    Vec::storen(row + c, Vec::add(Vec::loadn(row + c, n), Vec::mul(Vec::sub(one, m), pen)), n);
  }
}

inline void scale_row(float* x, int64_t n, float a) {
  const __m512 va = Vec::set1(a);
  for (int64_t c = 0; c < n; c += 16) {
    const int k = static_cast<int>(std::min<int64_t>(16, n - c));
    Vec::storen(x + c, Vec::mul(Vec::loadn(x + c, k), va), k);
  }
}

void attend_rows(const AttnRowsJob& j, const AttnBf16Keys& K) {
  constexpr int W = Vec::W;
  const int64_t lds = kChunkCols + kColPad;
  const int64_t ldo = (j.d + 15) / 16 * 16;
  const int dp = (j.d + 1) / 2;
  float* S = j.scratch;
  float* O = S + kTileRows * lds;
  float* M = O + kTileRows * ldo;
  float* Lsum = M + kTileRows;
  for (int i = 0; i < j.nq; ++i) {
    M[i] = -INFINITY;
    Lsum[i] = 0.0f;
    std::fill(O + i * ldo, O + i * ldo + ldo, 0.0f);
    to_pairs(j.q + i * j.ldq, j.d, K.q2 + i * dp);
  }
  for (int p0 = 0; p0 < j.n_pieces;) {
    int p1 = p0;
    int64_t kc = 0;
    while (p1 < j.n_pieces && (p1 == p0 || kc + j.pieces[p1].len <= kChunkCols)) kc += j.pieces[p1++].len;
    for (int p = p0; p < p1; ++p) {  // the chunk's keys and values into L2 (scattered blocks)
      const KeyPiece& pc = j.pieces[p];
      for (int t = 0; t < dp; ++t)
        for (int64_t c = 0; c < pc.len; c += 16) __builtin_prefetch(K.kt2 + t * K.ldkt2 + pc.start + c, 0, 2);
      for (int64_t r = 0; r < pc.len / 2; ++r)
        for (int c = 0; c < j.d; c += 16) __builtin_prefetch(K.v2 + (pc.start / 2 + r) * K.ldv2 + c, 0, 2);
    }
    int64_t col = 0;
    for (int p = p0; p < p1; ++p) {
      qk_piece(j, K, j.pieces[p], S + col, lds);
      col += j.pieces[p].len;
    }
    for (int i = 0; i < j.nq; ++i) {
      float* row = S + i * lds;
      if (j.mask) {
        const float mq = j.mask[j.q0 + i];
        col = 0;
        for (int p = p0; p < p1; ++p) {
          add_penalty(row + col, j.mask + j.pieces[p].start, j.pieces[p].len, j.pieces[p].kind, mq, j.penalty);
          col += j.pieces[p].len;
        }
      }
      __m512 vmx = Vec::set1(-INFINITY);
      int64_t c = 0;
      for (; c + W <= kc; c += W) vmx = Vec::max(vmx, Vec::load(row + c));
      float mx = Vec::hmax(vmx);
      for (; c < kc; ++c) mx = std::max(mx, row[c]);
      const float m_new = std::max(M[i], mx);
      const float alpha = M[i] == -INFINITY ? 0.0f : std::exp(M[i] - m_new);
      const __m512 vm = Vec::set1(m_new);
      __m512 vsum = Vec::zero();
      // e = exp(s - m_new) summed in float32, then rounded to bf16 pairs over the row's first
      // kc/2 words (a vector's 32 scores are read before its 16 words are written, and the words
      // of later vectors land past what earlier ones read).
      uint32_t* w = reinterpret_cast<uint32_t*>(row);
      for (c = 0; c < kc; c += 2 * W) {
        const int a = static_cast<int>(std::min<int64_t>(W, kc - c));
        const int b = static_cast<int>(std::min<int64_t>(W, std::max<int64_t>(0, kc - c - W)));
        const __m512 lo = Vec::keep(Vec::exp(Vec::sub(Vec::loadn(row + c, a), vm)), a);
        const __m512 hi = b > 0 ? Vec::keep(Vec::exp(Vec::sub(Vec::loadn(row + c + W, b), vm)), b) : Vec::zero();
        vsum = Vec::add(vsum, Vec::add(lo, hi));
        _mm512_storeu_si512(w + c / 2, (Words)_mm512_cvtne2ps_pbh(hi, lo));
      }
      Lsum[i] = Lsum[i] * alpha + Vec::hsum(vsum);
      if (alpha != 1.0f && p0 > 0) scale_row(O + i * ldo, ldo, alpha);
      M[i] = m_new;
    }
    pv_chunk(j, K, reinterpret_cast<const uint32_t*>(S), lds, j.pieces + p0, p1 - p0, O, ldo);
    p0 = p1;
  }
  for (int i = 0; i < j.nq; ++i) {
    const float inv = 1.0f / Lsum[i];
    const float mo = (j.zero_padded_queries && j.mask) ? j.mask[j.q0 + i] : 1.0f;
    const __m512 vinv = Vec::set1(inv), vmo = Vec::set1(mo);
    const float* o = O + i * ldo;
    float* dst = j.out + i * j.ldo;
    for (int c = 0; c < j.d; c += W) {
      const int n = std::min(W, j.d - c);
      __m512 y = Vec::mul(Vec::load(o + c), vinv);
      if (mo != 1.0f) y = Vec::mul(y, vmo);
      Vec::storen(dst + c, y, n);
    }
  }
}

void pack_kv(const float* k, const float* v, int64_t ld, int64_t L, int heads, int64_t d, int64_t j0, int64_t j1,
             uint32_t* kt2, int64_t ldkt2, uint32_t* v2, int64_t ldv2, uint32_t* tmp) {
  const int64_t dp = (d + 1) / 2, rows = heads * dp, ldt = (rows + 15) / 16 * 16, hd = heads * d;
  for (int64_t b0 = j0; b0 < j1; b0 += 16) {
    // Keys: 16 rows of pairs (per head ceil(d/2) words) into tmp, then 16x16 transposes.
    for (int64_t jj = 0; jj < 16; ++jj) {
      uint32_t* t = tmp + jj * ldt;
      const int64_t j = b0 + jj;
      if (j < L)
        for (int h = 0; h < heads; ++h) to_pairs(k + j * ld + h * d, d, t + h * dp);
      else std::fill(t, t + rows, 0u);
      std::fill(t + rows, t + ldt, 0u);
    }
    for (int64_t p0 = 0; p0 < rows; p0 += 16)
      Vec::transpose(reinterpret_cast<const float*>(tmp + p0), ldt, reinterpret_cast<float*>(kt2 + p0 * ldkt2 + b0),
                     ldkt2);
    // Values: pairs of rows (2m, 2m+1) interleaved per column.
    for (int64_t m = b0 / 2; m < (b0 + 16) / 2; ++m) {
      uint32_t* dst = v2 + m * ldv2;
      const float* r0 = 2 * m < L ? v + 2 * m * ld : nullptr;
      const float* r1 = 2 * m + 1 < L ? v + (2 * m + 1) * ld : nullptr;
      for (int64_t c = 0; c < ldv2; c += 16) {
        const int n = static_cast<int>(std::clamp<int64_t>(hd - c, 0, 16));
        const __m512 a = r0 && n ? Vec::loadn(r0 + c, n) : Vec::zero();
        const __m512 b = r1 && n ? Vec::loadn(r1 + c, n) : Vec::zero();
        _mm512_storeu_si512(dst + c, _mm512_or_si512(bf16_words(a), _mm512_slli_epi32(bf16_words(b), 16)));
      }
    }
  }
}

}  // namespace
}  // namespace bigbird::simd::avx512bf16_attn
#pragma GCC diagnostic pop
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

namespace bigbird::simd {
void attend_rows_bf16_avx512(const AttnRowsJob& j, const AttnBf16Keys& keys) {
  avx512bf16_attn::attend_rows(j, keys);
}
void pack_kv_bf16_avx512(const float* k, const float* v, int64_t ld, int64_t L, int heads, int64_t d, int64_t j0,
                         int64_t j1, uint32_t* kt2, int64_t ldkt2, uint32_t* v2, int64_t ldv2, uint32_t* tmp) {
  avx512bf16_attn::pack_kv(k, v, ld, L, heads, d, j0, j1, kt2, ldkt2, v2, ldv2, tmp);
}
}  // namespace bigbird::simd
