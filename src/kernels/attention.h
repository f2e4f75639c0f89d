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

// HF original_full: softmax(q·kᵀ/√d + (1 - m[k])·finfo.min)·v; padded query rows computed
// normally. Tiles of 64 query rows stream over the keys in chunks of 512 with an online
// softmax: O(L) memory in all, O(64·512) per thread.
void full_attention(const ThreadingContext& ctx, const AttentionInput& a, AttentionWorkspace* ws = nullptr,
                    SimdPath path = SimdPath::Auto);

// Scalar references (double accumulation, one query row at a time) for tests.
void block_sparse_attention_ref(const AttentionInput& a, const BlockLayout& layout);
void full_attention_ref(const AttentionInput& a);
// Dense reference over an expanded layout: weights count_key·e^(s+(1-m_k)P) + count_qk·e^(s+(1-m_q m_k)P).
void dense_layout_attention_ref(const AttentionInput& a, const DenseLayout& dense);

}  // namespace bigbird
