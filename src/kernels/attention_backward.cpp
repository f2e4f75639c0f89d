#include "kernels/attention_backward.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "core/error.h"

namespace bigbird {

namespace {

// A run of consecutive positions (keys in pass 1, queries in pass 2) under one mask rule.
struct Span {
  int64_t start;
  int64_t len;
  MaskKind kind;
};

// Per (head, query row): the softmax max, its sum and Σ_l p_l dp_l, as pass 1 computed them.
struct RowStats {
  float max;
  float sum;
  float dot;  // Σ p dp
};

void check_backward(const AttentionInput& a, const float* dout, const float* dq, const float* dk, const float* dv,
                    const char* what) {
  BB_CHECK(a.q && a.k && a.v && dout && dq && dk && dv, what, ": null input");
  BB_CHECK(a.heads > 0 && a.d > 0 && a.L >= 0 && a.ld >= a.heads * a.d && a.ld_out >= a.heads * a.d, what,
           ": bad strides (ld ", a.ld, ", ld_out ", a.ld_out, ", heads ", a.heads, ", d ", a.d, ")");
}

// What distinguishes the two attentions: the penalty and whether the output is scaled by m[q].
struct Rule {
  const AttentionInput& a;
  const float* dout;
  float penalty;
  bool scale_by_mask;  // block-sparse: o_i = m[i]·(...), padded query rows get no gradient
  float scale;         // 1/√d

  float m(int64_t i) const { return a.mask ? a.mask[i] : 1.0f; }
  // The coefficient of row i's output (0: no gradient flows through the row).
  float coef(int64_t i) const { return scale_by_mask ? m(i) : 1.0f; }
  float pen(MaskKind kind, float mq, float mk) const {
    return (kind == MaskKind::Key ? 1.0f - mk : 1.0f - mq * mk) * penalty;
  }
  // do = coef·dout_i, head h.
  void load_do(int h, int64_t i, float c, float* out) const {
    const float* g = dout + i * a.ld_out + h * a.d;
    for (int64_t t = 0; t < a.d; ++t) out[t] = c * g[t];
  }
};

// Float dot product with 8 independent partial sums (vectorisable, fixed order: the same bits
// wherever it is called).
inline float dot(const float* x, const float* y, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 8 <= n; t += 8)
    for (int u = 0; u < 8; ++u) acc[u] += x[t + u] * y[t + u];
  for (int u = 0; t < n; ++t, ++u) acc[u] += x[t] * y[t];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Score of query row i (pointer qi) against key row kj under penalty pen: one definition for both passes.
inline float score(const float* qi, const float* kj, int64_t d, float scale, float pen) {
  return dot(qi, kj, d) * scale + pen;
}

// Per-worker buffers of pass 1.
struct RowScratch {
  std::vector<float> p, dp, dout;
  std::vector<double> acc;
};

// Pass 1 for query row i of head h over `spans` of keys: writes dq_i and the row's stats.
void backward_row(const Rule& R, int h, int64_t i, std::span<const Span> spans, RowScratch& w, float* dq,
                  RowStats& st) {
  const AttentionInput& a = R.a;
  const int64_t d = a.d;
  float* dqi = dq + i * a.ld + h * d;
  const float c = R.coef(i);
  st = {0.0f, 1.0f, 0.0f};
  if (c == 0.0f) {
    std::fill(dqi, dqi + d, 0.0f);
    return;
  }
  const float* qi = a.q + i * a.ld + h * d;
  const float mq = R.m(i);
  float* s = w.p.data();
  float mx = -INFINITY;
  int64_t n = 0;
  for (const Span& sp : spans)
    for (int64_t j = sp.start; j < sp.start + sp.len; ++j, ++n) {
      s[n] = score(qi, a.k + j * a.ld + h * d, d, R.scale, R.pen(sp.kind, mq, R.m(j)));
      mx = std::max(mx, s[n]);
    }
  if (n == 0) {
    std::fill(dqi, dqi + d, 0.0f);
    return;
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  const float sum_f = static_cast<float>(sum);
  float* g = w.dout.data();
  R.load_do(h, i, c, g);
  float* dp = w.dp.data();
  double pdp = 0;
  n = 0;
  for (const Span& sp : spans)
    for (int64_t j = sp.start; j < sp.start + sp.len; ++j, ++n) {
      s[n] = s[n] / sum_f;
      dp[n] = dot(g, a.v + j * a.ld + h * d, d);
      pdp += static_cast<double>(s[n]) * dp[n];
    }
  const float pdp_f = static_cast<float>(pdp);
  double* acc = w.acc.data();
  std::fill(acc, acc + d, 0.0);
  n = 0;
  for (const Span& sp : spans)
    for (int64_t j = sp.start; j < sp.start + sp.len; ++j, ++n) {
      const double ds = s[n] * (dp[n] - pdp_f);
      const float* kj = a.k + j * a.ld + h * d;
      for (int64_t t = 0; t < d; ++t) acc[t] += ds * kj[t];
    }
  for (int64_t t = 0; t < d; ++t) dqi[t] = static_cast<float>(acc[t] * R.scale);
  st = {mx, sum_f, pdp_f};
}

// Per-worker buffers of pass 2.
struct KeyScratch {
  std::vector<float> dout;
  std::vector<double> dk, dv;
};

// Pass 2 for keys [k0, k0 + nk) of head h: every query row of `spans` (in order) that attends to
// them with the span's mask rule; writes dk and dv of those keys.
void backward_keys(const Rule& R, int h, int64_t k0, int64_t nk, std::span<const Span> spans, const RowStats* stats,
                   KeyScratch& w, float* dk, float* dv) {
  const AttentionInput& a = R.a;
  const int64_t d = a.d;
  double* adk = w.dk.data();
  double* adv = w.dv.data();
  std::fill(adk, adk + nk * d, 0.0);
  std::fill(adv, adv + nk * d, 0.0);
  float* g = w.dout.data();
  for (const Span& sp : spans)
    for (int64_t i = sp.start; i < sp.start + sp.len; ++i) {
      const float c = R.coef(i);
      if (c == 0.0f) continue;
      const RowStats& st = stats[i];
      const float* qi = a.q + i * a.ld + h * d;
      const float mq = R.m(i);
      R.load_do(h, i, c, g);
      for (int64_t jj = 0; jj < nk; ++jj) {
        const int64_t j = k0 + jj;
        const float s = score(qi, a.k + j * a.ld + h * d, d, R.scale, R.pen(sp.kind, mq, R.m(j)));
        const float p = std::exp(s - st.max) / st.sum;
        if (p == 0.0f) continue;  // contributes exact zeros
        const float dp = dot(g, a.v + j * a.ld + h * d, d);
        const double ds = p * (dp - st.dot);
        double* rk = adk + jj * d;
        double* rv = adv + jj * d;
        for (int64_t t = 0; t < d; ++t) {
          rk[t] += ds * qi[t];
          rv[t] += static_cast<double>(p) * g[t];
        }
      }
    }
  for (int64_t jj = 0; jj < nk; ++jj) {
    float* rk = dk + (k0 + jj) * a.ld + h * d;
    float* rv = dv + (k0 + jj) * a.ld + h * d;
    for (int64_t t = 0; t < d; ++t) {
      rk[t] = static_cast<float>(adk[jj * d + t] * R.scale);
      rv[t] = static_cast<float>(adv[jj * d + t]);
    }
  }
}

}  // namespace

void block_sparse_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                                     const float* dout, float* dq, float* dk, float* dv) {
  check_backward(a, dout, dq, dk, dv, "block_sparse_attention_backward");
  BB_CHECK(a.L == layout.seq_len(), "block_sparse_attention_backward: sequence length ", a.L, " != layout length ",
           layout.seq_len());
  BB_CHECK(a.heads == layout.heads, "block_sparse_attention_backward: ", a.heads, " heads but layout has ",
           layout.heads);
  const int n = layout.n_blocks;
  const int64_t B = layout.block;
  const Rule R{a, dout, kSparsePenalty, true, static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)))};
  // Key spans of every (head, query block), aligned with layout.keys.
  std::vector<Span> key_spans(layout.keys.size());
  for (size_t e = 0; e < layout.keys.size(); ++e) key_spans[e] = {layout.keys[e].block * B, B, layout.keys[e].kind};
  // Transposed layout: for every (head, key block), the query blocks attending to it (in query
  // block order, then in row order; a block listed twice in a row appears twice).
  const size_t groups = static_cast<size_t>(a.heads) * n;
  std::vector<int64_t> t_off(groups + 1, 0);
  for (int h = 0; h < a.heads; ++h)
    for (int qb = 0; qb < n; ++qb)
      for (const KeyBlock& kb : layout.row(h, qb)) ++t_off[static_cast<size_t>(h) * n + kb.block + 1];
  for (size_t g = 0; g < groups; ++g) t_off[g + 1] += t_off[g];
  std::vector<Span> query_spans(static_cast<size_t>(t_off[groups]));
  {
    std::vector<int64_t> fill(t_off.begin(), t_off.end() - 1);
    for (int h = 0; h < a.heads; ++h)
      for (int qb = 0; qb < n; ++qb)
        for (const KeyBlock& kb : layout.row(h, qb))
          query_spans[static_cast<size_t>(fill[static_cast<size_t>(h) * n + kb.block]++)] = {qb * B, B, kb.kind};
  }
  const int64_t max_keys = static_cast<int64_t>(layout.max_row_blocks()) * B;
  const int T = ctx.threads();
  std::vector<RowScratch> rows(static_cast<size_t>(T));
  std::vector<KeyScratch> keys(static_cast<size_t>(T));
  std::vector<RowStats> stats(static_cast<size_t>(a.heads * a.L));
  // Blocks in the order 0, n-1, 1, ..., n-2 (the global ones, the longest, first).
  auto block_of = [n](int64_t qi) { return static_cast<int>(qi == 0 ? 0 : (qi == 1 ? n - 1 : qi - 1)); };
  parallel_for(ctx, static_cast<int64_t>(groups), [&](int64_t t, int worker) {
    RowScratch& w = rows[static_cast<size_t>(worker)];
    if (w.p.size() < static_cast<size_t>(max_keys)) {
      w.p.resize(static_cast<size_t>(max_keys));
      w.dp.resize(static_cast<size_t>(max_keys));
      w.dout.resize(static_cast<size_t>(a.d));
      w.acc.resize(static_cast<size_t>(a.d));
    }
    const int qb = block_of(t / a.heads), h = static_cast<int>(t % a.heads);
    const size_t r = static_cast<size_t>(h) * n + qb;
    const std::span<const Span> spans(key_spans.data() + layout.offsets[r],
                                      static_cast<size_t>(layout.offsets[r + 1] - layout.offsets[r]));
    for (int64_t i = qb * B; i < (qb + 1) * B; ++i) backward_row(R, h, i, spans, w, dq, stats[h * a.L + i]);
  });
  parallel_for(ctx, static_cast<int64_t>(groups), [&](int64_t t, int worker) {
    KeyScratch& w = keys[static_cast<size_t>(worker)];
    if (w.dk.size() < static_cast<size_t>(B * a.d)) {
      w.dk.resize(static_cast<size_t>(B * a.d));
      w.dv.resize(static_cast<size_t>(B * a.d));
      w.dout.resize(static_cast<size_t>(a.d));
    }
    const int kb = block_of(t / a.heads), h = static_cast<int>(t % a.heads);
    const size_t g = static_cast<size_t>(h) * n + kb;
    const std::span<const Span> spans(query_spans.data() + t_off[g], static_cast<size_t>(t_off[g + 1] - t_off[g]));
    backward_keys(R, h, kb * B, B, spans, stats.data() + h * a.L, w, dk, dv);
  });
}

void full_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const float* dout, float* dq,
                             float* dk, float* dv) {
  check_backward(a, dout, dq, dk, dv, "full_attention_backward");
  const Rule R{a, dout, kFullPenalty, false, static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)))};
  constexpr int64_t kTile = 64;  // query rows per pass-1 task, keys per pass-2 task
  const int64_t tiles = (a.L + kTile - 1) / kTile;
  const Span all[1] = {{0, a.L, MaskKind::Key}};
  const int T = ctx.threads();
  std::vector<RowScratch> rows(static_cast<size_t>(T));
  std::vector<KeyScratch> keys(static_cast<size_t>(T));
  std::vector<RowStats> stats(static_cast<size_t>(a.heads * a.L));
  const int64_t tasks = a.heads * tiles;
  parallel_for(ctx, tasks, [&](int64_t t, int worker) {
    RowScratch& w = rows[static_cast<size_t>(worker)];
    if (w.p.size() < static_cast<size_t>(a.L)) {
      w.p.resize(static_cast<size_t>(a.L));
      w.dp.resize(static_cast<size_t>(a.L));
      w.dout.resize(static_cast<size_t>(a.d));
      w.acc.resize(static_cast<size_t>(a.d));
    }
    const int h = static_cast<int>(t / tiles);
    const int64_t q0 = (t % tiles) * kTile, q1 = std::min(a.L, q0 + kTile);
    for (int64_t i = q0; i < q1; ++i) backward_row(R, h, i, all, w, dq, stats[h * a.L + i]);
  });
  parallel_for(ctx, tasks, [&](int64_t t, int worker) {
    KeyScratch& w = keys[static_cast<size_t>(worker)];
    if (w.dk.size() < static_cast<size_t>(kTile * a.d)) {
      w.dk.resize(static_cast<size_t>(kTile * a.d));
      w.dv.resize(static_cast<size_t>(kTile * a.d));
      w.dout.resize(static_cast<size_t>(a.d));
    }
    const int h = static_cast<int>(t / tiles);
    const int64_t k0 = (t % tiles) * kTile;
    backward_keys(R, h, k0, std::min(kTile, a.L - k0), all, stats.data() + h * a.L, w, dk, dv);
  });
}

// ---------------------------------------------------------------- scalar references

namespace {
double m_at(const AttentionInput& a, int64_t i) { return a.mask ? a.mask[i] : 1.0; }

// One query row against its key list (keys may repeat, each with its own penalty): accumulates
// dk and dv (double, [L][heads*d]) and writes dq_i. `c` multiplies the row's output.
void ref_row_backward(const AttentionInput& a, int h, int64_t qi, const std::vector<int64_t>& keys,
                      const std::vector<double>& pens, double c, const float* dout, float* dq, std::vector<double>& dk,
                      std::vector<double>& dv) {
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
    pdp += p[j] * dp[j];
  }
  std::vector<double> gq(static_cast<size_t>(d), 0.0);
  for (size_t j = 0; j < nk; ++j) {
    const double ds = p[j] * (dp[j] - pdp);
    const int64_t k = keys[j];
    for (int64_t t = 0; t < d; ++t) {
      gq[t] += ds * a.k[k * a.ld + h * d + t] * scale;
      dk[k * hd + h * d + t] += ds * a.q[qi * a.ld + h * d + t] * scale;
      dv[k * hd + h * d + t] += p[j] * g[t];
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
  const int64_t B = layout.block, hd = a.heads * a.d;
  std::vector<double> gk(static_cast<size_t>(a.L * hd), 0.0), gv(gk.size(), 0.0);
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens;
      const double mq = m_at(a, qi);
      for (const KeyBlock& kb : layout.row(h, static_cast<int>(qi / B)))
        for (int64_t j = 0; j < B; ++j) {
          const int64_t k = kb.block * B + j;
          const double mk = m_at(a, k);
          keys.push_back(k);
          pens.push_back((kb.kind == MaskKind::Key ? 1.0 - mk : 1.0 - mq * mk) * kSparsePenalty);
        }
      ref_row_backward(a, h, qi, keys, pens, mq, dout, dq, gk, gv);
    }
  write_kv(a, gk, gv, dk, dv);
}

void full_attention_backward_ref(const AttentionInput& a, const float* dout, float* dq, float* dk, float* dv) {
  check_backward(a, dout, dq, dk, dv, "full_attention_backward_ref");
  const int64_t hd = a.heads * a.d;
  std::vector<double> gk(static_cast<size_t>(a.L * hd), 0.0), gv(gk.size(), 0.0);
  std::vector<int64_t> keys(static_cast<size_t>(a.L));
  std::vector<double> pens(static_cast<size_t>(a.L));
  for (int64_t k = 0; k < a.L; ++k) {
    keys[k] = k;
    pens[k] = (1.0 - m_at(a, k)) * static_cast<double>(kFullPenalty);
  }
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) ref_row_backward(a, h, qi, keys, pens, 1.0, dout, dq, gk, gv);
  write_kv(a, gk, gv, dk, dv);
}

}  // namespace bigbird
