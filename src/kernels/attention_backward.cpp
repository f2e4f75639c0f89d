#include "kernels/attention_backward.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "core/error.h"

namespace bigbird {

namespace {

void check_backward(const AttentionInput& a, const float* dout, const float* dq, const float* dk, const float* dv,
                    const char* what) {
  BB_CHECK(a.q && a.k && a.v && dout && dq && dk && dv, what, ": null input");
  BB_CHECK(a.heads > 0 && a.d > 0 && a.L >= 0 && a.ld >= a.heads * a.d && a.ld_out >= a.heads * a.d, what,
           ": bad strides (ld ", a.ld, ", ld_out ", a.ld_out, ", heads ", a.heads, ", d ", a.d, ")");
}

// The mask the kernels see: nullptr when every position is a token (penalties and output
// scaling are then exact no-ops), as in the forward.
const float* effective_mask(const AttentionInput& a) {
  if (!a.mask) return nullptr;
  for (int64_t i = 0; i < a.L; ++i)
    if (a.mask[i] != 1.0f) return a.mask;
  return nullptr;
}

// Row-major C = alpha·op(A)·op(B) + beta·C. Called inside parallel_for's tasks, where OpenBLAS
// runs on the calling thread (threading.h): the bits depend on the shape only.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}

// A buffer that grows without initialising (every use writes before it reads).
template <class T>
struct Buf {
  std::unique_ptr<T[]> p;
  int64_t n = 0;
  void grow(int64_t size) {
    if (size > n) {
      p.reset(new T[static_cast<size_t>(size)]);
      n = size;
    }
  }
  T* data() const { return p.get(); }
};

// Per-worker buffers (sized for the largest tile of the call).
struct Scratch {
  Buf<float> s, ds;         // [rows, keys]: scores → probabilities; dP → dS
  Buf<float> m;             // [rows, keys]: dropout's keep·scale (full attention with dropout)
  Buf<float> kp, vp;        // gathered key and value panels [keys, d] (block-sparse)
  Buf<float> gk, gv;        // the panel's key and value gradients [keys, d]
  Buf<float> g;             // c_i·dout_i rows [rows, d] (blocks with some c_i ≠ 1)
  Buf<float> pen, pen_row;  // penalties of the panel (m_q = 1) and of one row (m_q ≠ 1)
  Buf<double> ak, av;       // the head's dk and dv sums [L, d]

  void size(int64_t rows, int64_t keys, int64_t d, int64_t L, bool panels, bool dropout = false) {
    s.grow(rows * keys);
    ds.grow(rows * keys);
    if (dropout) m.grow(rows * keys);
    if (panels) {
      kp.grow(keys * d);
      vp.grow(keys * d);
    }
    gk.grow(keys * d);
    gv.grow(keys * d);
    g.grow(rows * d);
    pen.grow(keys);
    pen_row.grow(keys);
    ak.grow(L * d);
    av.grow(L * d);
  }
};

// One query tile against its whole key list, as block-level products (nothing else attends from
// these rows, so the softmax needs no statistics from elsewhere):
//   S = scale·Q·Kpᵀ;  P = softmax(S + pen) per row;  dP = G·Vpᵀ;  dS = P ⊙ (dP − rowsum(P ⊙ dP));
//   dQ = scale·dS·Kp (written to dq);  gk = scale·dSᵀ·Q;  gv = Pᵀ·G  ([nk, d], for the caller to add).
struct Tile {
  const float* q;  // [nq, d] at stride ldq
  int64_t ldq;
  const float* kp;  // [nk, d] at stride ldp (keys of the row, in list order)
  const float* vp;
  int64_t ldp;
  const float* g;  // c_i·dout_i, [nq, d] at stride ldg
  int64_t ldg;
  float* dq;  // [nq, d] at stride lddq
  int64_t lddq;
  int64_t nq, nk, d;
  // Dropout on the probabilities (full attention): key c of row r has counter e0 + r·e_ld + c.
  const ProbsDropout* drop = nullptr;
  uint64_t e0 = 0, e_ld = 0;
};

template <class PenaltyOfRow>
void tile_backward(const simd::KernelTable& K, const Tile& t, float scale, Scratch& w, PenaltyOfRow pen_of_row) {
  float* S = w.s.data();
  float* dS = w.ds.data();
  const int64_t lds = t.nk;
  sgemm(false, true, t.nq, t.nk, t.d, scale, t.q, t.ldq, t.kp, t.ldp, 0.0f, S, lds);
  for (int64_t r = 0; r < t.nq; ++r) K.softmax_row(S + r * lds, pen_of_row(r), t.nk);
  sgemm(false, true, t.nq, t.nk, t.d, 1.0f, t.g, t.ldg, t.vp, t.ldp, 0.0f, dS, lds);
  float* M = nullptr;  // with dropout: keep·scale per probability; dP ⊙= M (the gradient of P̃ = P ⊙ M is dP ⊙ M)
  if (t.drop) {
    M = w.m.data();
    for (int64_t r = 0; r < t.nq; ++r)
      K.dropout_row(dS + r * lds, t.nk, t.drop->key, t.e0 + static_cast<uint64_t>(r) * t.e_ld, t.drop->p, t.drop->scale,
                    M + r * lds);
  }
  for (int64_t r = 0; r < t.nq; ++r) K.softmax_grad_row(S + r * lds, dS + r * lds, t.nk);
  sgemm(false, false, t.nq, t.d, t.nk, scale, dS, lds, t.kp, t.ldp, 0.0f, t.dq, t.lddq);
  sgemm(true, false, t.nk, t.d, t.nq, scale, dS, lds, t.q, t.ldq, 0.0f, w.gk.data(), t.d);
  if (M)  // dV = P̃ᵀ·G
    for (int64_t e = 0; e < t.nq * lds; ++e) S[e] *= M[e];
  sgemm(true, false, t.nk, t.d, t.nq, 1.0f, S, lds, t.g, t.ldg, 0.0f, w.gv.data(), t.d);
}

// Adds panel rows [r0, r0 + n) of gk, gv to the head's sums at rows [j0, j0 + n).
void add_panel(const Scratch& w, int64_t r0, int64_t j0, int64_t n, int64_t d, double* ak, double* av) {
  const float* gk = w.gk.data() + r0 * d;
  const float* gv = w.gv.data() + r0 * d;
  double* rk = ak + j0 * d;
  double* rv = av + j0 * d;
  for (int64_t e = 0; e < n * d; ++e) {
    rk[e] += gk[e];
    rv[e] += gv[e];
  }
}

// dk, dv of head h from its sums.
void write_head(const AttentionInput& a, int h, const Scratch& w, float* dk, float* dv) {
  const int64_t d = a.d;
  for (int64_t j = 0; j < a.L; ++j) {
    float* rk = dk + j * a.ld + h * d;
    float* rv = dv + j * a.ld + h * d;
    for (int64_t t = 0; t < d; ++t) {
      rk[t] = static_cast<float>(w.ak.data()[j * d + t]);
      rv[t] = static_cast<float>(w.av.data()[j * d + t]);
    }
  }
}

}  // namespace

void block_sparse_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                                     const float* dout, float* dq, float* dk, float* dv, SimdPath path) {
  check_backward(a, dout, dq, dk, dv, "block_sparse_attention_backward");
  BB_CHECK(a.L == layout.seq_len(), "block_sparse_attention_backward: sequence length ", a.L, " != layout length ",
           layout.seq_len());
  BB_CHECK(a.heads == layout.heads, "block_sparse_attention_backward: ", a.heads, " heads but layout has ",
           layout.heads);
  const simd::KernelTable& K = simd::kernels(path);
  const int n = layout.n_blocks;
  const int64_t B = layout.block, d = a.d;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float* mask = effective_mask(a);
  const int64_t max_keys = static_cast<int64_t>(layout.max_row_blocks()) * B;
  std::vector<Scratch> scratch(static_cast<size_t>(std::min<int64_t>(ctx.threads(), a.heads)));
  // One task per head: its query blocks in order, each adding its panel gradients to the head's
  // sums in that order, so the bits do not depend on the thread count.
  parallel_for(ctx, a.heads, [&](int64_t task, int worker) {
    const int h = static_cast<int>(task);
    Scratch& w = scratch[static_cast<size_t>(worker)];
    w.size(B, max_keys, d, a.L, true);
    std::fill_n(w.ak.data(), a.L * d, 0.0);
    std::fill_n(w.av.data(), a.L * d, 0.0);
    for (int qb = 0; qb < n; ++qb) {
      const std::span<const KeyBlock> row = layout.row(h, qb);
      const int64_t q0 = qb * B, nk = static_cast<int64_t>(row.size()) * B;
      float* dq_blk = dq + q0 * a.ld + h * d;
      // G = c_i·dout_i (c_i = m[q0 + i]); read in place when every c_i is 1.
      const float* g = dout + q0 * a.ld_out + h * d;
      int64_t ldg = a.ld_out;
      bool ones = true, zeros = true;
      for (int64_t i = 0; mask && i < B; ++i) {
        ones = ones && mask[q0 + i] == 1.0f;
        zeros = zeros && mask[q0 + i] == 0.0f;
      }
      if ((mask && zeros) || row.empty()) {  // a padded block, or no keys: no gradient flows
        for (int64_t i = 0; i < B; ++i) std::fill_n(dq_blk + i * a.ld, d, 0.0f);
        continue;
      }
      if (!ones) {
        for (int64_t i = 0; i < B; ++i) {
          const float c = mask[q0 + i];
          const float* src = g + i * a.ld_out;
          for (int64_t t = 0; t < d; ++t) w.g.data()[i * d + t] = c == 0.0f ? 0.0f : c * src[t];
        }
        g = w.g.data();
        ldg = d;
      }
      // Key and value panels (read in place when the blocks are consecutive, as for the global
      // query blocks), and the penalties (1 − m_k)·P of rows with m_q = 1 (both mask kinds agree there).
      bool in_place = true;
      for (size_t e = 0; e < row.size(); ++e) in_place = in_place && row[e].block == row[0].block + static_cast<int>(e);
      const float* kp = a.k + row[0].block * B * a.ld + h * d;
      const float* vp = a.v + row[0].block * B * a.ld + h * d;
      int64_t ldp = a.ld;
      if (!in_place) {
        for (size_t e = 0; e < row.size(); ++e) {
          const int64_t j0 = row[e].block * B;
          for (int64_t jj = 0; jj < B; ++jj) {
            const int64_t r = static_cast<int64_t>(e) * B + jj;
            std::copy_n(a.k + (j0 + jj) * a.ld + h * d, d, w.kp.data() + r * d);
            std::copy_n(a.v + (j0 + jj) * a.ld + h * d, d, w.vp.data() + r * d);
          }
        }
        kp = w.kp.data();
        vp = w.vp.data();
        ldp = d;
      }
      if (mask)
        for (size_t e = 0; e < row.size(); ++e)
          for (int64_t jj = 0; jj < B; ++jj)
            w.pen.data()[static_cast<int64_t>(e) * B + jj] = (1.0f - mask[row[e].block * B + jj]) * kSparsePenalty;
      auto pen_of_row = [&](int64_t i) -> const float* {
        if (!mask) return nullptr;
        const float mq = mask[q0 + i];
        if (mq == 1.0f) return w.pen.data();
        for (size_t e = 0; e < row.size(); ++e) {
          const int64_t j0 = row[e].block * B;
          for (int64_t jj = 0; jj < B; ++jj) {
            const float mk = row[e].kind == MaskKind::QueryKey ? mq * mask[j0 + jj] : mask[j0 + jj];
            w.pen_row.data()[static_cast<int64_t>(e) * B + jj] = (1.0f - mk) * kSparsePenalty;
          }
        }
        return w.pen_row.data();
      };
      const Tile t{.q = a.q + q0 * a.ld + h * d,
                   .ldq = a.ld,
                   .kp = kp,
                   .vp = vp,
                   .ldp = ldp,
                   .g = g,
                   .ldg = ldg,
                   .dq = dq_blk,
                   .lddq = a.ld,
                   .nq = B,
                   .nk = nk,
                   .d = d};
      tile_backward(K, t, scale, w, pen_of_row);
      for (int64_t i = 0; !ones && i < B; ++i)  // padded rows: exact zeros (not −0 from the product)
        if (mask[q0 + i] == 0.0f) std::fill_n(dq_blk + i * a.ld, d, 0.0f);
      for (size_t e = 0; e < row.size(); ++e)
        add_panel(w, static_cast<int64_t>(e) * B, row[e].block * B, B, d, w.ak.data(), w.av.data());
    }
    write_head(a, h, w, dk, dv);
  });
}

void full_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const float* dout, float* dq,
                             float* dk, float* dv, SimdPath path, const ProbsDropout& drop) {
  check_backward(a, dout, dq, dk, dv, "full_attention_backward");
  const simd::KernelTable& K = simd::kernels(path);
  const int64_t d = a.d, L = a.L;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  constexpr int64_t kTile = 64;  // query rows per tile: a [64, L] score tile
  const float* mask = effective_mask(a);
  std::vector<float> pen;  // (1 − m_k)·finfo.min, the same for every row
  if (mask) {
    pen.resize(static_cast<size_t>(L));
    for (int64_t j = 0; j < L; ++j) pen[static_cast<size_t>(j)] = (1.0f - mask[j]) * kFullPenalty;
  }
  const float* pen_all = mask ? pen.data() : nullptr;
  std::vector<Scratch> scratch(static_cast<size_t>(std::min<int64_t>(ctx.threads(), a.heads)));
  // One task per head, its query tiles in order (fixed summation order of dk, dv).
  parallel_for(ctx, a.heads, [&](int64_t task, int worker) {
    const int h = static_cast<int>(task);
    Scratch& w = scratch[static_cast<size_t>(worker)];
    w.size(kTile, L, d, L, false, drop.active());
    std::fill_n(w.ak.data(), L * d, 0.0);
    std::fill_n(w.av.data(), L * d, 0.0);
    for (int64_t q0 = 0; q0 < L; q0 += kTile) {
      const int64_t nq = std::min(kTile, L - q0);
      const Tile t{.q = a.q + q0 * a.ld + h * d,
                   .ldq = a.ld,
                   .kp = a.k + h * d,
                   .vp = a.v + h * d,
                   .ldp = a.ld,
                   .g = dout + q0 * a.ld_out + h * d,
                   .ldg = a.ld_out,
                   .dq = dq + q0 * a.ld + h * d,
                   .lddq = a.ld,
                   .nq = nq,
                   .nk = L,
                   .d = d,
                   .drop = drop.active() ? &drop : nullptr,
                   .e0 = drop.row(a.heads, h, L, q0),
                   .e_ld = static_cast<uint64_t>(L)};
      tile_backward(K, t, scale, w, [&](int64_t) { return pen_all; });
      add_panel(w, 0, 0, L, d, w.ak.data(), w.av.data());
    }
    write_head(a, h, w, dk, dv);
  });
}

// ---------------------------------------------------------------- scalar references

namespace {
double m_at(const AttentionInput& a, int64_t i) { return a.mask ? a.mask[i] : 1.0; }

// One query row against its key list (keys may repeat, each with its own penalty): accumulates
// dk and dv (double, [L][heads*d]) and writes dq_i. `c` multiplies the row's output; `drop`
// (optional, per key) the probabilities after the softmax (dropout's keep·scale).
void ref_row_backward(const AttentionInput& a, int h, int64_t qi, const std::vector<int64_t>& keys,
                      const std::vector<double>& pens, double c, const float* dout, float* dq, std::vector<double>& dk,
                      std::vector<double>& dv, const std::vector<double>* drop = nullptr) {
  const int64_t d = a.d, hd = a.heads * d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const size_t nk = keys.size();
  std::vector<double> p(nk), dp(nk), g(static_cast<size_t>(d));
  for (int64_t t = 0; t < d; ++t) g[t] = c * dout[qi * a.ld_out + h * d + t];
  double mx = -INFINITY;
  for (size_t j = 0; j < nk; ++j) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t)
      s += static_cast<double>(a.q[qi * a.ld + h * d + t]) * a.k[keys[j] * a.ld + h * d + t];
    p[j] = s * scale + pens[j];
    mx = std::max(mx, p[j]);
  }
  double sum = 0;
  for (size_t j = 0; j < nk; ++j) sum += (p[j] = std::exp(p[j] - mx));
  double pdp = 0;
  for (size_t j = 0; j < nk; ++j) {
    p[j] /= sum;
    dp[j] = 0;
    for (int64_t t = 0; t < d; ++t) dp[j] += g[t] * a.v[keys[j] * a.ld + h * d + t];
    if (drop) dp[j] *= (*drop)[j];
    pdp += p[j] * dp[j];
  }
  std::vector<double> gq(static_cast<size_t>(d), 0.0);
  for (size_t j = 0; j < nk; ++j) {
    const double ds = p[j] * (dp[j] - pdp);
    const int64_t k = keys[j];
    for (int64_t t = 0; t < d; ++t) {
      gq[t] += ds * a.k[k * a.ld + h * d + t] * scale;
      dk[k * hd + h * d + t] += ds * a.q[qi * a.ld + h * d + t] * scale;
      dv[k * hd + h * d + t] += p[j] * (drop ? (*drop)[j] : 1.0) * g[t];
    }
  }
  for (int64_t t = 0; t < d; ++t) dq[qi * a.ld + h * d + t] = static_cast<float>(gq[t]);
}

void write_kv(const AttentionInput& a, const std::vector<double>& gk, const std::vector<double>& gv, float* dk,
              float* dv) {
  const int64_t hd = a.heads * a.d;
  for (int64_t i = 0; i < a.L; ++i)
    for (int64_t c = 0; c < hd; ++c) {
      dk[i * a.ld + c] = static_cast<float>(gk[i * hd + c]);
      dv[i * a.ld + c] = static_cast<float>(gv[i * hd + c]);
    }
}
}  // namespace

void block_sparse_attention_backward_ref(const AttentionInput& a, const BlockLayout& layout, const float* dout,
                                         float* dq, float* dk, float* dv) {
  check_backward(a, dout, dq, dk, dv, "block_sparse_attention_backward_ref");
  BB_CHECK(a.L == layout.seq_len() && a.heads == layout.heads, "block_sparse_attention_backward_ref: shape mismatch");
  const int64_t hd = a.heads * a.d;
  std::vector<double> gk(static_cast<size_t>(a.L * hd), 0.0), gv(gk.size(), 0.0);
  std::vector<int64_t> keys;
  std::vector<double> pens;
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      reference_row_keys(a, &layout, h, qi, keys, pens);
      ref_row_backward(a, h, qi, keys, pens, m_at(a, qi), dout, dq, gk, gv);
    }
  write_kv(a, gk, gv, dk, dv);
}

void full_attention_backward_ref(const AttentionInput& a, const float* dout, float* dq, float* dk, float* dv,
                                 const ProbsDropout& drop) {
  check_backward(a, dout, dq, dk, dv, "full_attention_backward_ref");
  const int64_t hd = a.heads * a.d;
  std::vector<double> gk(static_cast<size_t>(a.L * hd), 0.0), gv(gk.size(), 0.0);
  std::vector<int64_t> keys(static_cast<size_t>(a.L));
  std::vector<double> pens(static_cast<size_t>(a.L));
  for (int64_t k = 0; k < a.L; ++k) {
    keys[k] = k;
    pens[k] = (1.0 - m_at(a, k)) * static_cast<double>(kFullPenalty);
  }
  std::vector<double> factor(drop.active() ? static_cast<size_t>(a.L) : 0);
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      for (size_t k = 0; k < factor.size(); ++k) factor[k] = drop.factor(drop.row(a.heads, h, a.L, qi) + k);
      ref_row_backward(a, h, qi, keys, pens, 1.0, dout, dq, gk, gv, drop.active() ? &factor : nullptr);
    }
  write_kv(a, gk, gv, dk, dv);
}

}  // namespace bigbird
