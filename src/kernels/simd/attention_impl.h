// The fused attention kernel, written once over a vector type `Vec` (vec_*.h) and compiled for
// each instruction set through kernel_table_impl.h. Included inside a per-ISA namespace.
//
// One job is up to kTileRows query rows of one head against a list of key pieces. The key list
// is processed in chunks of at most kChunkCols columns; per chunk:
//   S = scale · Q·Kᵀ        register-tiled micro-kernel over the transposed keys (kt): for each
//                            t < d, one row of kt (NV vectors) times MR broadcast query values
//   S += penalties           HF's two mask rules, per piece
//   online softmax           running max m_i and sum l_i per row; O rescaled by e^(m_old - m_new)
//   O += P·V                 register-tiled micro-kernel reading V rows in place
// and at the end out_i = O_i / l_i (· m_q for block-sparse). Nothing depends on the thread that
// runs a job, so results are identical whatever the thread count.

#include "kernels/simd/row_tiles_impl.h"

// s[r, 0 .. NV*W) = scale · Σ_t q_r[t]·kt[t*ldkt + c] for rows r < MR. Reads NV full vectors
// of each kt row.
template <int NV, int MR>
inline void qk_tile(const float* q, int64_t ldq, const float* kt, int64_t ldkt, int d, float* s, int64_t lds,
                    float scale) {
  constexpr int W = Vec::W;
  typename Vec::V acc[MR][NV];
  const float* qr[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    qr[r] = q + r * ldq;
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) acc[r][x] = Vec::zero();
  }
  for (int t = 0; t < d; ++t) {
    const float* kr = kt + t * ldkt;
    typename Vec::V kv[NV];
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) kv[x] = Vec::load(kr + x * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const typename Vec::V b = Vec::set1(qr[r][t]);
#pragma GCC unroll 4
      for (int x = 0; x < NV; ++x) acc[r][x] = Vec::fma(b, kv[x], acc[r][x]);
    }
  }
  const typename Vec::V sc = Vec::set1(scale);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) Vec::store(s + r * lds + x * W, Vec::mul(acc[r][x], sc));
  }
}

template <int NV>
inline void qk_cols(const AttnRowsJob& j, const float* kt, float* s, int64_t lds, int64_t c) {
  constexpr int MR = tile_rows<NV>();
  for_row_tiles<MR>(j.nq, [&](int i0, int rows) {
    with_rows<MR>(rows, [&]<int R>() {
      qk_tile<NV, R>(j.q + i0 * j.ldq, j.ldq, kt + c, j.ldkt, j.d, s + i0 * lds + c, lds, j.scale);
    });
  });
}

// S[:, 0 .. len) for one piece (s points at the piece's first column). Writes up to
// 4·W - 1 columns past len (the caller's slack); later pieces overwrite them.
inline void qk_piece(const AttnRowsJob& j, const KeyPiece& pc, float* s, int64_t lds) {
  constexpr int W = Vec::W;
  const float* kt = j.kt + pc.start;
  for (int64_t c = 0; c < pc.len;) {
    const int64_t nv = std::min<int64_t>(4, (pc.len - c + W - 1) / W);
    switch (nv) {
      case 4: qk_cols<4>(j, kt, s, lds, c); break;
      case 3: qk_cols<3>(j, kt, s, lds, c); break;
      case 2: qk_cols<2>(j, kt, s, lds, c); break;
      default: qk_cols<1>(j, kt, s, lds, c); break;
    }
    c += nv * W;
  }
}

// o[r, 0 .. NV*W) += Σ_j p_r[j]·v_j over the chunk's pieces, rows r < MR. The last vector of a
// V row is a partial load of tail_n lanes when Tail (never reads past the head's d columns).
template <int NV, bool Tail, int MR>
inline void pv_tile(const float* p, int64_t ldp, const KeyPiece* pieces, int np, const float* v, int64_t ldv, float* o,
                    int64_t ldo, int tail_n) {
  constexpr int W = Vec::W;
  typename Vec::V acc[MR][NV];
  const float* pr[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    pr[r] = p + r * ldp;
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) acc[r][x] = Vec::load(o + r * ldo + x * W);
  }
  for (int pi = 0; pi < np; ++pi) {
    const float* vr = v + pieces[pi].start * ldv;
    const int64_t len = pieces[pi].len;
    for (int64_t jj = 0; jj < len; ++jj, vr += ldv) {
      typename Vec::V vv[NV];
#pragma GCC unroll 4
      for (int x = 0; x < NV; ++x)
        vv[x] = (Tail && x == NV - 1) ? Vec::loadn(vr + x * W, tail_n) : Vec::load(vr + x * W);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const typename Vec::V b = Vec::set1(pr[r][jj]);
#pragma GCC unroll 4
        for (int x = 0; x < NV; ++x) acc[r][x] = Vec::fma(b, vv[x], acc[r][x]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) pr[r] += len;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int x = 0; x < NV; ++x) Vec::store(o + r * ldo + x * W, acc[r][x]);
  }
}

template <int NV, bool Tail>
inline void pv_cols(const AttnRowsJob& j, const float* s, int64_t lds, const KeyPiece* pieces, int np, float* o,
                    int64_t ldo, int c0, int tail_n) {
  constexpr int MR = tile_rows<NV>();
  for_row_tiles<MR>(j.nq, [&](int i0, int rows) {
    with_rows<MR>(rows, [&]<int R>() {
      pv_tile<NV, Tail, R>(s + i0 * lds, lds, pieces, np, j.v + c0, j.ldv, o + i0 * ldo + c0, ldo, tail_n);
    });
  });
}

inline void pv_chunk(const AttnRowsJob& j, const float* s, int64_t lds, const KeyPiece* pieces, int np, float* o,
                     int64_t ldo) {
  constexpr int W = Vec::W;
  for (int c0 = 0; c0 < j.d;) {
    const int nv = std::min(4, (j.d - c0 + W - 1) / W);
    const int tail_n = j.d - (c0 + (nv - 1) * W);  // lanes of the last vector
    const bool tail = tail_n < W;
    switch (nv * 2 + (tail ? 1 : 0)) {
      case 8: pv_cols<4, false>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 9: pv_cols<4, true>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 6: pv_cols<3, false>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 7: pv_cols<3, true>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 4: pv_cols<2, false>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 5: pv_cols<2, true>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      case 2: pv_cols<1, false>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
      default: pv_cols<1, true>(j, s, lds, pieces, np, o, ldo, c0, tail_n); break;
    }
    c0 += nv * W;
  }
}

// Adds HF's penalties to one score row over one piece: (1 - m_k)·P or (1 - m_q·m_k)·P.
inline void add_penalty(float* row, const float* mk, int64_t len, MaskKind kind, float mq, float penalty) {
  constexpr int W = Vec::W;
  const typename Vec::V one = Vec::set1(1.0f), pen = Vec::set1(penalty), vmq = Vec::set1(mq);
  for (int64_t c = 0; c < len; c += W) {
    const int n = static_cast<int>(std::min<int64_t>(W, len - c));
    typename Vec::V m = Vec::loadn(mk + c, n);
    if (kind == MaskKind::QueryKey) m = Vec::mul(vmq, m);
    const typename Vec::V r = Vec::add(Vec::loadn(row + c, n), Vec::mul(Vec::sub(one, m), pen));
    Vec::storen(row + c, r, n);
  }
}

// Scales n floats by a (n a multiple of W, or the last vector partial).
inline void scale_row(float* x, int64_t n, float a) {
  constexpr int W = Vec::W;
  const typename Vec::V va = Vec::set1(a);
  for (int64_t c = 0; c < n; c += W) {
    const int k = static_cast<int>(std::min<int64_t>(W, n - c));
    Vec::storen(x + c, Vec::mul(Vec::loadn(x + c, k), va), k);
  }
}

inline void attend_rows_impl(const AttnRowsJob& j) {
  constexpr int W = Vec::W;
  const int64_t lds = kChunkCols + kColPad;
  const int64_t ldo = (j.d + 15) / 16 * 16;
  float* S = j.scratch;
  float* O = S + kTileRows * lds;
  float* M = O + kTileRows * ldo;
  float* Lsum = M + kTileRows;
  for (int i = 0; i < j.nq; ++i) {
    M[i] = -INFINITY;
    Lsum[i] = 0.0f;
    std::fill(O + i * ldo, O + i * ldo + ldo, 0.0f);
  }
  for (int p0 = 0; p0 < j.n_pieces;) {
    // The chunk: pieces [p0, p1) with at most kChunkCols columns.
    int p1 = p0;
    int64_t kc = 0;
    while (p1 < j.n_pieces && (p1 == p0 || kc + j.pieces[p1].len <= kChunkCols)) kc += j.pieces[p1++].len;
    // Start fetching the chunk's keys and values into L2 (scattered blocks: the hardware
    // prefetchers do not see them coming).
    for (int p = p0; p < p1; ++p) {
      const KeyPiece& pc = j.pieces[p];
      for (int t = 0; t < j.d; ++t)
        for (int64_t c = 0; c < pc.len; c += 16) __builtin_prefetch(j.kt + t * j.ldkt + pc.start + c, 0, 2);
      for (int64_t r = 0; r < pc.len; ++r)
        for (int c = 0; c < j.d; c += 16) __builtin_prefetch(j.v + (pc.start + r) * j.ldv + c, 0, 2);
    }
    int64_t col = 0;
    for (int p = p0; p < p1; ++p) {
      qk_piece(j, j.pieces[p], S + col, lds);
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
      typename Vec::V vmx = Vec::set1(-INFINITY);
      int64_t c = 0;
      for (; c + W <= kc; c += W) vmx = Vec::max(vmx, Vec::load(row + c));
      float mx = Vec::hmax(vmx);
      for (; c < kc; ++c) mx = std::max(mx, row[c]);
      const float m_new = std::max(M[i], mx);
      const float alpha = M[i] == -INFINITY ? 0.0f : std::exp(M[i] - m_new);
      const typename Vec::V vm = Vec::set1(m_new);
      typename Vec::V vsum = Vec::zero();
      for (c = 0; c < kc; c += W) {
        const int n = static_cast<int>(std::min<int64_t>(W, kc - c));
        if (n == W) {
          const typename Vec::V e = Vec::exp(Vec::sub(Vec::load(row + c), vm));
          Vec::store(row + c, e);
          vsum = Vec::add(vsum, e);
        } else {
          Vec::storen(row + c, Vec::exp(Vec::sub(Vec::loadn(row + c, n), vm)), n);
          vsum = Vec::add(vsum, Vec::loadn(row + c, n));
        }
      }
      Lsum[i] = Lsum[i] * alpha + Vec::hsum(vsum);
      if (alpha != 1.0f && p0 > 0) scale_row(O + i * ldo, ldo, alpha);
      M[i] = m_new;
    }
    pv_chunk(j, S, lds, j.pieces + p0, p1 - p0, O, ldo);
    p0 = p1;
  }
  for (int i = 0; i < j.nq; ++i) {
    const float inv = 1.0f / Lsum[i];
    const float mo = (j.zero_padded_queries && j.mask) ? j.mask[j.q0 + i] : 1.0f;
    const typename Vec::V vinv = Vec::set1(inv), vmo = Vec::set1(mo);
    const float* o = O + i * ldo;
    float* dst = j.out + i * j.ldo;
    for (int c = 0; c < j.d; c += W) {
      const int n = std::min(W, j.d - c);
      typename Vec::V y = Vec::mul(Vec::load(o + c), vinv);
      if (mo != 1.0f) y = Vec::mul(y, vmo);
      Vec::storen(dst + c, y, n);
    }
  }
}

inline void pack_kt_impl(const float* k, int64_t ld, int64_t L, int64_t row0, int64_t row1, int64_t /*d*/, float* kt,
                         int64_t ldkt) {
  constexpr int64_t W = Vec::W, T = W < 16 ? 16 : W;  // T x T tiles of W x W register transposes
  for (int64_t r0 = row0; r0 < row1; r0 += T) {
    const int64_t r1 = std::min(row1, r0 + T);
    for (int64_t j0 = 0; j0 < L; j0 += T) {
      const int64_t j1 = std::min(L, j0 + T);
      if (r1 - r0 == T && j1 - j0 == T) {
        for (int64_t a = 0; a < T; a += W)
          for (int64_t b = 0; b < T; b += W)
            Vec::transpose(k + (j0 + b) * ld + r0 + a, ld, kt + (r0 + a) * ldkt + j0 + b, ldkt);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        float* dst = kt + r * ldkt;
        for (int64_t jj = j0; jj < j1; ++jj) dst[jj] = k[jj * ld + r];
      }
    }
    for (int64_t r = r0; r < r1; ++r) std::fill(kt + r * ldkt + L, kt + (r + 1) * ldkt, 0.0f);
  }
}

// The attention backward's per-row softmax (attention_backward.cpp): s ← softmax(s + pen) over n
// scores in place (pen may be null: no penalties). Max over the row, e^(x − max) with Vec::exp,
// one float sum (W partial sums), then p = e·(1/Σ).
inline void softmax_row_impl(float* s, const float* pen, int64_t n) {
  constexpr int W = Vec::W;
  using V = typename Vec::V;
  V vmx = Vec::set1(-INFINITY);
  int64_t c = 0;
  if (pen) {
    for (; c + W <= n; c += W) {
      const V x = Vec::add(Vec::load(s + c), Vec::load(pen + c));
      Vec::store(s + c, x);
      vmx = Vec::max(vmx, x);
    }
  } else {
    for (; c + W <= n; c += W) vmx = Vec::max(vmx, Vec::load(s + c));
  }
  float mx = Vec::hmax(vmx);
  for (; c < n; ++c) {
    if (pen) s[c] += pen[c];
    mx = std::max(mx, s[c]);
  }
  const V vm = Vec::set1(mx);
  V sum = Vec::zero();
  for (c = 0; c < n; c += W) {
    const int k = static_cast<int>(std::min<int64_t>(W, n - c));
    const V e = Vec::keep(Vec::exp(Vec::sub(Vec::loadn(s + c, k), vm)), k);
    Vec::storen(s + c, e, k);
    sum = Vec::add(sum, e);
  }
  const V inv = Vec::set1(1.0f / Vec::hsum(sum));
  for (c = 0; c < n; c += W) {
    const int k = static_cast<int>(std::min<int64_t>(W, n - c));
    Vec::storen(s + c, Vec::mul(Vec::loadn(s + c, k), inv), k);
  }
}

// The softmax backward of one row in place: dp_c ← p_c·(dp_c − Σ_l p_l dp_l).
inline void softmax_grad_row_impl(const float* p, float* dp, int64_t n) {
  constexpr int W = Vec::W;
  using V = typename Vec::V;
  V acc[2] = {Vec::zero(), Vec::zero()};
  for (int64_t c = 0; c < n; c += W) {
    const int k = static_cast<int>(std::min<int64_t>(W, n - c));
    acc[(c / W) & 1] = Vec::fma(Vec::loadn(p + c, k), Vec::loadn(dp + c, k), acc[(c / W) & 1]);
  }
  const V dot = Vec::set1(Vec::hsum(Vec::add(acc[0], acc[1])));
  for (int64_t c = 0; c < n; c += W) {
    const int k = static_cast<int>(std::min<int64_t>(W, n - c));
    Vec::storen(dp + c, Vec::mul(Vec::loadn(p + c, k), Vec::sub(Vec::loadn(dp + c, k), dot)), k);
  }
}
