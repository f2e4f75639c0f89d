// Multi-head attention kernels for one sequence: HF BigBird's block-sparse and full attention.
//
// q, k, v and out are [L, ld] row-major; head h uses columns [h*d, (h+1)*d). mask is [L] with
// 1 for tokens and 0 for padding (nullptr = all tokens). out may be q itself (same ld): every
// query row of a head is read only by the work that writes that row and head.
//
// The fast kernels (simd/attention_impl.h, one source for the scalar, AVX2 and AVX-512 paths)
// transpose the keys once per call, then per query tile compute the scores against its key
// blocks with a register-tiled micro-kernel, a numerically stable online softmax over chunks of
// 512 keys, and the weighted values read in place.
#pragma once
#include <cstdint>
#include <vector>

#include "core/counter_rng.h"
#include "core/threading.h"
#include "kernels/simd/dispatch.h"
#include "sparse/layout.h"

namespace bigbird {

struct AttentionInput {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t ld = 0;  // row stride of q, k, v
  float* out = nullptr;
  int64_t ld_out = 0;
  int64_t L = 0;
  int heads = 0;
  int64_t d = 0;
  const float* mask = nullptr;
};

// Buffers of the fast kernels: the keys transposed per head, one score/output tile per thread
// and the key lists. Grown on first use; pass the same workspace to every layer (and call) so
// that the hot path allocates nothing.
struct AttentionWorkspace {
  std::vector<float> kt;
  std::vector<float> scratch;
  std::vector<simd::KeyPiece> pieces;
  // block_sparse_attention_bf16: the keys and values as bf16 pairs, per-thread scratch.
  std::vector<uint32_t> kt2, v2, scratch_bf16;
};

// Dropout on the softmax probabilities of full attention, as HF's BigBirdSelfAttention applies
// attention_probs_dropout_prob in training: out = dropout(softmax(s))·v, the softmax's normaliser
// unchanged. Probability (i, j) of head h is kept iff counter_uniform(key, e) >= p, with
//   e = ((seq·heads + h)·L + i)·L + j
// (row-major numbering of the [batch, heads, L, L] probabilities, seq = the sequence's index in
// its batch), and then multiplied by `scale`. Inactive by default (p = 0): the kernels then run
// exactly as without it. Block-sparse attention has none (HF applies none there).
struct ProbsDropout {
  float p = 0.0f;
  float scale = 1.0f;  // 1/(1-p) rounded to float (0 when p = 1)
  uint64_t key = 0;    // counter_key(seed, step, site) of core/counter_rng.h
  uint64_t seq = 0;
  bool active() const { return p > 0.0f; }
  // The counter of probability (i, 0) of head h (add j for key j).
  uint64_t row(int heads, int h, int64_t L, int64_t i) const {
    const uint64_t n = static_cast<uint64_t>(L);
    return ((seq * static_cast<uint64_t>(heads) + static_cast<uint64_t>(h)) * n + static_cast<uint64_t>(i)) * n;
  }
  // keep·scale of the probability with counter e.
  float factor(uint64_t e) const { return counter_uniform(key, e) >= p ? scale : 0.0f; }
};

// HF's additive penalty inside block-sparse attention.
constexpr float kSparsePenalty = -10000.0f;
// HF's additive penalty in original_full attention: torch.finfo(float32).min.
constexpr float kFullPenalty = -3.4028234663852886e38f;

// Block-sparse attention over `layout` (L must equal layout.seq_len()): scores q·k/√d plus the
// layout's mask rules with penalty -10000, one softmax per query row over its whole key list
// (duplicated blocks counted twice), then every query row's output multiplied by m[q].
// Memory O(L) (the transposed keys) plus O(block·512) per thread; never builds an L x L
// matrix. Parallel over (head, query block), the global query blocks first; the result does
// not depend on the thread count. `path` forces one SIMD path (tests); Auto takes the widest.
void block_sparse_attention(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                            AttentionWorkspace* ws = nullptr, SimdPath path = SimdPath::Auto);

// block_sparse_attention with bf16 products (`--dtype bf16` inference; AVX512-BF16 only: throws
// without it): scores bf16(q)·bf16(k)ᵀ and outputs bf16(p)·bf16(v) on VDPBF16PS with float32
// accumulation; the penalties, the online softmax's max and sum and the rescaling in float32, as
// the float32 kernel. Error: that of rounding q, k, v and the probabilities to bf16 (about 2^-9
// relative each). Keys are paired along the sequence for p·v, so a layout with an odd block
// (pieces that start at odd keys) runs the float32 kernel instead: block_sparse_bf16_applies()
// says which. Deterministic whatever the thread count. Full attention has no bf16 variant.
void block_sparse_attention_bf16(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                                 AttentionWorkspace* ws = nullptr);
bool block_sparse_bf16_applies(const BlockLayout& layout);

// HF original_full: softmax(q·kᵀ/√d + (1 - m[k])·finfo.min)·v; padded query rows computed
// normally. Tiles of 64 query rows stream over the keys in chunks of 512 with an online
// softmax: O(L) memory in all, O(64·512) per thread. With an active `drop` (training), tiles of
// 64 query rows against all keys instead (sgemm: a 64 x L score tile per thread), the
// probabilities dropped before the product with v.
void full_attention(const ThreadingContext& ctx, const AttentionInput& a, AttentionWorkspace* ws = nullptr,
                    SimdPath path = SimdPath::Auto, const ProbsDropout& drop = {});

// Scalar references (double accumulation, one query row at a time) for tests.
void block_sparse_attention_ref(const AttentionInput& a, const BlockLayout& layout);
void full_attention_ref(const AttentionInput& a, const ProbsDropout& drop = {});
// The key list of query row qi of head h as the references see it: under `layout`, every key of
// every listed block (a repeated block twice) with its mask rule's penalty (-10000); with
// layout == nullptr, every key with full attention's padding penalty (finfo.min).
void reference_row_keys(const AttentionInput& a, const BlockLayout* layout, int h, int64_t qi,
                        std::vector<int64_t>& keys, std::vector<double>& pens);
// The softmax probabilities of query row qi of head h as the kernels compute them (in the
// reference's double precision): over `layout`'s key list (a repeated block twice, each entry
// with its mask rule), or HF's full attention when layout is nullptr. probs[j] belongs to key
// row keys[j]; the probabilities sum to 1. O(keys·d), for attention maps (`bigbird attention`).
void attention_row_probs(const AttentionInput& a, const BlockLayout* layout, int h, int64_t qi,
                         std::vector<int64_t>& keys, std::vector<double>& probs);
// Dense reference over an expanded layout: weights count_key·e^(s+(1-m_k)P) + count_qk·e^(s+(1-m_q m_k)P).
void dense_layout_attention_ref(const AttentionInput& a, const DenseLayout& dense);

}  // namespace bigbird
