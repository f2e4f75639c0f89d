#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/gemm_bf16.h"
#include "kernels/simd/attention_bf16.h"

namespace bigbird {

namespace {

using simd::KeyPiece;

void check_input(const AttentionInput& a) {
  BB_CHECK(a.q && a.k && a.v && a.out, "attention: null input");
  BB_CHECK(a.heads > 0 && a.d > 0 && a.ld >= a.heads * a.d && a.ld_out >= a.heads * a.d, "attention: bad strides");
}

// The mask the kernels see: nullptr when every position is a token (the penalties and the
// output scaling are then exact no-ops, so skipping them changes nothing).
const float* effective_mask(const AttentionInput& a) {
  if (!a.mask) return nullptr;
  for (int64_t i = 0; i < a.L; ++i)
    if (a.mask[i] != 1.0f) return a.mask;
  return nullptr;
}

// Row stride of the transposed keys: ≥ L + kColPad (the micro-kernels read whole vectors past
// a piece's end), and an odd number of 64-byte lines so that the d rows of a key tile spread
// over the cache sets instead of aliasing when L is a power of two.
int64_t kt_stride(int64_t L) {
  int64_t ld = (L + 15) / 16 * 16 + simd::kColPad;
  if ((ld / 16) % 2 == 0) ld += 16;
  return ld;
}

// Sizes the workspace for this call (no-op when already large enough).
void prepare(AttentionWorkspace& ws, const AttentionInput& a, int threads, size_t pieces_per_thread) {
  const size_t kt = static_cast<size_t>(a.heads * a.d * kt_stride(a.L));
  if (ws.kt.size() < kt) ws.kt.resize(kt);
  const size_t sc = static_cast<size_t>(threads * simd::scratch_floats(a.d));
  if (ws.scratch.size() < sc) ws.scratch.resize(sc);
  const size_t pc = static_cast<size_t>(threads) * pieces_per_thread;
  if (ws.pieces.size() < pc) ws.pieces.resize(pc);
}

// Packs kt for all heads, 16 rows of kt per task.
void pack_keys(const ThreadingContext& ctx, const simd::KernelTable& K, const AttentionInput& a, float* kt,
               int64_t ldkt) {
  const int64_t rows = a.heads * a.d, per = 16;
  parallel_for(
      ctx, (rows + per - 1) / per,
      [&](int64_t t) { K.pack_kt(a.k, a.ld, a.L, t * per, std::min(rows, (t + 1) * per), a.d, kt, ldkt); },
      Schedule::Static);
}

// The job of query rows [q0, q0 + nq) of head h against the transposed keys in `kt` (stride ldkt).
simd::AttnRowsJob rows_job(const AttentionInput& a, const float* kt, int64_t ldkt, const float* mask, int h, int64_t q0,
                           int64_t nq, float scale, float* scratch) {
  simd::AttnRowsJob j;
  j.q = a.q + q0 * a.ld + h * a.d;
  j.ldq = a.ld;
  j.kt = kt + h * a.d * ldkt;
  j.ldkt = ldkt;
  j.v = a.v + h * a.d;
  j.ldv = a.ld;
  j.mask = mask;
  j.out = a.out + q0 * a.ld_out + h * a.d;
  j.ldo = a.ld_out;
  j.q0 = q0;
  j.nq = static_cast<int>(nq);
  j.d = static_cast<int>(a.d);
  j.scale = scale;
  j.scratch = scratch;
  return j;
}

}  // namespace

namespace {

// The key pieces of query block qb of head h: adjacent blocks of one kind merged (up to
// kChunkCols columns). Returns their number.
int build_pieces(const BlockLayout& layout, int h, int qb, KeyPiece* pieces) {
  const int64_t B = layout.block;
  int np = 0;
  for (const KeyBlock& kb : layout.row(h, qb)) {
    for (int64_t c = 0; c < B; c += simd::kChunkCols) {
      const int64_t start = kb.block * B + c, len = std::min<int64_t>(simd::kChunkCols, B - c);
      KeyPiece* last = np ? &pieces[np - 1] : nullptr;
      if (last && last->kind == kb.kind && last->start + last->len == start && last->len + len <= simd::kChunkCols)
        last->len += len;
      else pieces[np++] = {start, len, kb.kind};
    }
  }
  return np;
}

// The job loop of block-sparse attention (keys already packed): attend(job, worker) per job.
template <class Attend>
void sparse_jobs(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                 AttentionWorkspace& w, int64_t ldkt, size_t max_pieces, Attend&& attend) {
  const int n = layout.n_blocks;
  const int64_t B = layout.block;
  const int sub = static_cast<int>((B + simd::kTileRows - 1) / simd::kTileRows);  // row tiles per block
  const float* mask = effective_mask(a);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)));
  const int64_t per_block = static_cast<int64_t>(a.heads) * sub;
  const int64_t tasks = per_block * n;
  // Query blocks in the order 0, n-1, 1, 2, ..., n-2: the two global blocks (which attend to
  // all n blocks) start first, so the dynamic schedule balances the threads.
  parallel_for(ctx, tasks, [&](int64_t t, int worker) {
    float* scratch = w.scratch.data() + worker * simd::scratch_floats(a.d);
    KeyPiece* pieces = w.pieces.data() + static_cast<size_t>(worker) * max_pieces;
    const int qi = static_cast<int>(t / per_block);
    const int qb = qi == 0 ? 0 : (qi == 1 ? n - 1 : qi - 1);
    const int h = static_cast<int>((t % per_block) / sub);
    const int s = static_cast<int>(t % sub);
    const int np = build_pieces(layout, h, qb, pieces);
    const int64_t q0 = qb * B + s * simd::kTileRows;
    simd::AttnRowsJob j = rows_job(a, w.kt.data(), ldkt, mask, h, q0,
                                   std::min<int64_t>(simd::kTileRows, B - s * simd::kTileRows), scale, scratch);
    j.pieces = pieces;
    j.n_pieces = np;
    j.penalty = kSparsePenalty;
    j.zero_padded_queries = true;
    attend(j, h, worker);
  });
}

void check_sparse(const AttentionInput& a, const BlockLayout& layout) {
  check_input(a);
  BB_CHECK(a.L == layout.seq_len(), "block_sparse_attention: sequence length ", a.L, " != layout length ",
           layout.seq_len());
  BB_CHECK(a.heads == layout.heads, "block_sparse_attention: ", a.heads, " heads but layout has ", layout.heads);
}

size_t sparse_max_pieces(const BlockLayout& layout) {
  return layout.max_row_blocks() * static_cast<size_t>((layout.block + simd::kChunkCols - 1) / simd::kChunkCols);
}

}  // namespace

void block_sparse_attention(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                            AttentionWorkspace* ws, SimdPath path) {
  check_sparse(a, layout);
  const simd::KernelTable& K = simd::kernels(path);
  AttentionWorkspace local;
  AttentionWorkspace& w = ws ? *ws : local;
  const size_t max_pieces = sparse_max_pieces(layout);
  prepare(w, a, ctx.threads(), max_pieces);
  const int64_t ldkt = kt_stride(a.L);
  pack_keys(ctx, K, a, w.kt.data(), ldkt);
  sparse_jobs(ctx, a, layout, w, ldkt, max_pieces, [&](const simd::AttnRowsJob& j, int, int) { K.attend_rows(j); });
}

bool block_sparse_bf16_applies(const BlockLayout& layout) { return layout.block % 2 == 0; }

void block_sparse_attention_bf16(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                                 AttentionWorkspace* ws) {
  if (!block_sparse_bf16_applies(layout)) {  // odd blocks: pieces of odd starts, no key pairs
    block_sparse_attention(ctx, a, layout, ws);
    return;
  }
  check_sparse(a, layout);
  BB_CHECK(bf16_supported(), "block_sparse_attention_bf16: this CPU has no AVX512-BF16");
  AttentionWorkspace local;
  AttentionWorkspace& w = ws ? *ws : local;
  const size_t max_pieces = sparse_max_pieces(layout);
  // The float32 workspace without its transposed keys (the bf16 pairs replace them).
  const size_t sc = static_cast<size_t>(ctx.threads() * simd::scratch_floats(a.d));
  if (w.scratch.size() < sc) w.scratch.resize(sc);
  const size_t pc = static_cast<size_t>(ctx.threads()) * max_pieces;
  if (w.pieces.size() < pc) w.pieces.resize(pc);
  const int64_t ldkt2 = kt_stride(a.L), dp = (a.d + 1) / 2;
  const int64_t ldv2 = simd::bf16_ldv2(a.heads * a.d);
  const int64_t per_thread = simd::bf16_scratch_words(a.heads, a.d);
  const size_t kt2 = static_cast<size_t>((a.heads * dp + 16) * ldkt2), v2 = static_cast<size_t>(ldkt2 / 2 * ldv2);
  const size_t bs = static_cast<size_t>(ctx.threads() * per_thread);
  if (w.kt2.size() < kt2) w.kt2.resize(kt2);
  if (w.v2.size() < v2) w.v2.resize(v2);
  if (w.scratch_bf16.size() < bs) w.scratch_bf16.resize(bs);
  parallel_for(
      ctx, ldkt2 / 16,
      [&](int64_t t, int worker) {
        simd::pack_kv_bf16_avx512(a.k, a.v, a.ld, a.L, a.heads, a.d, t * 16, t * 16 + 16, w.kt2.data(), ldkt2,
                                  w.v2.data(), ldv2, w.scratch_bf16.data() + worker * per_thread);
      },
      Schedule::Static);
  sparse_jobs(ctx, a, layout, w, ldkt2, max_pieces, [&](const simd::AttnRowsJob& j, int h, int worker) {
    simd::AttnBf16Keys keys;
    keys.kt2 = w.kt2.data() + h * dp * ldkt2;
    keys.ldkt2 = ldkt2;
    keys.v2 = w.v2.data() + h * a.d;
    keys.ldv2 = ldv2;
    keys.q2 = w.scratch_bf16.data() + worker * per_thread;
    simd::attend_rows_bf16_avx512(j, keys);
  });
}

namespace {
// full_attention with dropout on the probabilities: per (head, tile of kDropTile query rows)
//   S = Q·Kᵀ/√d (sgemm), P = softmax(S + pen) per row, P̃ = P ⊙ keep·scale, out = P̃·V (sgemm)
// with a kDropTile x L score tile per thread. OpenBLAS runs single-threaded inside the tasks, and
// each task writes only its own rows and head: the bits do not depend on the thread count.
void full_attention_dropout(const ThreadingContext& ctx, const AttentionInput& a, const simd::KernelTable& K,
                            const ProbsDropout& drop) {
  constexpr int64_t kDropTile = 64;
  const int64_t L = a.L, d = a.d;
  const int64_t tiles = (L + kDropTile - 1) / kDropTile;
  const float* mask = effective_mask(a);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  std::vector<float> pen;  // (1 − m_k)·finfo.min, as attend_rows adds it
  if (mask) {
    pen.resize(static_cast<size_t>(L));
    for (int64_t j = 0; j < L; ++j) pen[static_cast<size_t>(j)] = (1.0f - mask[j]) * kFullPenalty;
  }
  std::vector<std::vector<float>> tile(static_cast<size_t>(std::min<int64_t>(ctx.threads(), a.heads * tiles)));
  parallel_for(ctx, a.heads * tiles, [&](int64_t t, int worker) {
    std::vector<float>& S = tile[static_cast<size_t>(worker)];
    if (S.size() < static_cast<size_t>(kDropTile * L)) S.resize(static_cast<size_t>(kDropTile * L));
    const int h = static_cast<int>(t / tiles);
    const int64_t q0 = (t % tiles) * kDropTile, nq = std::min(kDropTile, L - q0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nq), static_cast<int>(L), static_cast<int>(d),
                scale, a.q + q0 * a.ld + h * d, static_cast<int>(a.ld), a.k + h * d, static_cast<int>(a.ld), 0.0f,
                S.data(), static_cast<int>(L));
    for (int64_t i = 0; i < nq; ++i) {
      float* row = S.data() + i * L;
      K.softmax_row(row, mask ? pen.data() : nullptr, L);
      K.dropout_row(row, L, drop.key, drop.row(a.heads, h, L, q0 + i), drop.p, drop.scale, nullptr);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(nq), static_cast<int>(d),
                static_cast<int>(L), 1.0f, S.data(), static_cast<int>(L), a.v + h * d, static_cast<int>(a.ld), 0.0f,
                a.out + q0 * a.ld_out + h * d, static_cast<int>(a.ld_out));
  });
}
}  // namespace

void full_attention(const ThreadingContext& ctx, const AttentionInput& a, AttentionWorkspace* ws, SimdPath path,
                    const ProbsDropout& drop) {
  check_input(a);
  const simd::KernelTable& K = simd::kernels(path);
  if (drop.active()) {
    full_attention_dropout(ctx, a, K, drop);
    return;
  }
  AttentionWorkspace local;
  AttentionWorkspace& w = ws ? *ws : local;
  const int64_t T = simd::kTileRows;
  const int64_t tiles = (a.L + T - 1) / T;
  const int64_t n_pieces = (a.L + simd::kChunkCols - 1) / simd::kChunkCols;
  prepare(w, a, ctx.threads(), static_cast<size_t>(n_pieces));
  if (w.pieces.size() < static_cast<size_t>(n_pieces)) w.pieces.resize(static_cast<size_t>(n_pieces));
  for (int64_t p = 0; p < n_pieces; ++p)  // shared by every task: keys [0, L) in chunks
    w.pieces[static_cast<size_t>(p)] = {p * simd::kChunkCols,
                                        std::min<int64_t>(simd::kChunkCols, a.L - p * simd::kChunkCols), MaskKind::Key};
  const int64_t ldkt = kt_stride(a.L);
  const float* mask = effective_mask(a);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)));
  const int64_t tasks = static_cast<int64_t>(a.heads) * tiles;
  pack_keys(ctx, K, a, w.kt.data(), ldkt);
  parallel_for(ctx, tasks, [&](int64_t t, int worker) {
    float* scratch = w.scratch.data() + worker * simd::scratch_floats(a.d);
    const int h = static_cast<int>(t / tiles);
    const int64_t q0 = (t % tiles) * T;
    simd::AttnRowsJob j = rows_job(a, w.kt.data(), ldkt, mask, h, q0, std::min(T, a.L - q0), scale, scratch);
    j.pieces = w.pieces.data();
    j.n_pieces = static_cast<int>(n_pieces);
    j.penalty = kFullPenalty;
    j.zero_padded_queries = false;
    K.attend_rows(j);
  });
}

// ---------------------------------------------------------------- scalar references

namespace {
double m_at(const AttentionInput& a, int64_t i) { return a.mask ? a.mask[i] : 1.0; }

// The unnormalised softmax weights w_j = mult_j·exp(score_j + pen_j - max) of query row qi of
// head h against a weighted key list, in double; returns their sum.
double row_weights(const AttentionInput& a, int h, int64_t qi, const std::vector<int64_t>& keys,
                   const std::vector<double>& pens, const std::vector<double>& mult, double scale,
                   std::vector<double>& w) {
  const int64_t d = a.d;
  w.resize(keys.size());
  double mx = -INFINITY;
  for (size_t j = 0; j < keys.size(); ++j) {
    double dot = 0;
    for (int64_t t = 0; t < d; ++t)
      dot += static_cast<double>(a.q[qi * a.ld + h * d + t]) * a.k[keys[j] * a.ld + h * d + t];
    w[j] = dot * scale + pens[j];
    mx = std::max(mx, w[j]);
  }
  double sum = 0;
  for (size_t j = 0; j < keys.size(); ++j) {
    w[j] = mult[j] * std::exp(w[j] - mx);
    sum += w[j];
  }
  return sum;
}

// One query row against a weighted key list: weight w_j multiplies exp(score_j + pen_j). `drop`
// (optional, per key) multiplies the probabilities after the softmax (dropout's keep·scale).
void ref_row(const AttentionInput& a, int h, int64_t qi, const std::vector<int64_t>& keys,
             const std::vector<double>& pens, const std::vector<double>& mult, double scale, double out_scale,
             const std::vector<double>* drop = nullptr) {
  const int64_t d = a.d;
  std::vector<double> sc;
  const double sum = row_weights(a, h, qi, keys, pens, mult, scale, sc);
  for (int64_t t = 0; t < d; ++t) {
    double acc = 0;
    for (size_t j = 0; j < keys.size(); ++j) acc += sc[j] * (drop ? (*drop)[j] : 1.0) * a.v[keys[j] * a.ld + h * d + t];
    a.out[qi * a.ld_out + h * d + t] = static_cast<float>(acc / sum * out_scale);
  }
}

}  // namespace

void reference_row_keys(const AttentionInput& a, const BlockLayout* layout, int h, int64_t qi,
                        std::vector<int64_t>& keys, std::vector<double>& pens) {
  keys.clear();
  pens.clear();
  if (!layout) {
    for (int64_t k = 0; k < a.L; ++k) {
      keys.push_back(k);
      pens.push_back((1.0 - m_at(a, k)) * static_cast<double>(kFullPenalty));
    }
    return;
  }
  const int64_t B = layout->block;
  const double mq = m_at(a, qi);
  for (const KeyBlock& kb : layout->row(h, static_cast<int>(qi / B)))
    for (int64_t j = 0; j < B; ++j) {
      const int64_t k = kb.block * B + j;
      const double mk = m_at(a, k);
      keys.push_back(k);
      pens.push_back((kb.kind == MaskKind::Key ? 1.0 - mk : 1.0 - mq * mk) * kSparsePenalty);
    }
}

void block_sparse_attention_ref(const AttentionInput& a, const BlockLayout& layout) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens;
      reference_row_keys(a, &layout, h, qi, keys, pens);
      ref_row(a, h, qi, keys, pens, std::vector<double>(keys.size(), 1.0), scale, m_at(a, qi));
    }
}

void full_attention_ref(const AttentionInput& a, const ProbsDropout& drop) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens, factor;
      reference_row_keys(a, nullptr, h, qi, keys, pens);
      const std::vector<double> mult(keys.size(), 1.0);
      if (drop.active())
        for (int64_t k = 0; k < a.L; ++k)
          factor.push_back(drop.factor(drop.row(a.heads, h, a.L, qi) + static_cast<uint64_t>(k)));
      ref_row(a, h, qi, keys, pens, mult, scale, 1.0, drop.active() ? &factor : nullptr);
    }
}

void attention_row_probs(const AttentionInput& a, const BlockLayout* layout, int h, int64_t qi,
                         std::vector<int64_t>& keys, std::vector<double>& probs) {
  BB_CHECK(h >= 0 && h < a.heads && qi >= 0 && qi < a.L, "attention_row_probs: head ", h, " or row ", qi,
           " out of range");
  BB_CHECK(!layout || layout->seq_len() == a.L, "attention_row_probs: layout of ", layout ? layout->seq_len() : 0,
           " rows for an input of ", a.L);
  std::vector<double> pens;
  reference_row_keys(a, layout, h, qi, keys, pens);
  const std::vector<double> mult(keys.size(), 1.0);
  const double sum = row_weights(a, h, qi, keys, pens, mult, 1.0 / std::sqrt(static_cast<double>(a.d)), probs);
  for (double& p : probs) p /= sum;
}

void dense_layout_attention_ref(const AttentionInput& a, const DenseLayout& D) {
  BB_CHECK(D.L == a.L && D.heads == a.heads, "dense_layout_attention_ref: shape mismatch");
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  const size_t per_head = static_cast<size_t>(a.L) * a.L;
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens, mult;
      const double mq = m_at(a, qi);
      for (int64_t k = 0; k < a.L; ++k) {
        const size_t idx = h * per_head + static_cast<size_t>(qi) * a.L + k;
        const double mk = m_at(a, k);
        if (D.key_count[idx]) {
          keys.push_back(k);
          pens.push_back((1.0 - mk) * kSparsePenalty);
          mult.push_back(D.key_count[idx]);
        }
        if (D.qk_count[idx]) {
          keys.push_back(k);
          pens.push_back((1.0 - mq * mk) * kSparsePenalty);
          mult.push_back(D.qk_count[idx]);
        }
      }
      ref_row(a, h, qi, keys, pens, mult, scale, mq);
    }
}

}  // namespace bigbird
