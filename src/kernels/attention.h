// Multi-head attention kernels for one sequence: HF BigBird's block-sparse and full attention.
//
// q, k, v and out are [L, ld] row-major; head h uses columns [h*d, (h+1)*d). mask is [L] with
// 1 for tokens and 0 for padding (nullptr = all tokens).
#pragma once
#include <cstdint>

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

// HF's additive penalty inside block-sparse attention.
constexpr float kSparsePenalty = -10000.0f;
// HF's additive penalty in original_full attention: torch.finfo(float32).min.
constexpr float kFullPenalty = -3.4028234663852886e38f;

// Block-sparse attention over `layout` (L must equal layout.seq_len()): scores q·k/√d plus the
// layout's mask rules with penalty -10000, one softmax per query row over its whole key list
// (duplicated blocks counted twice), then every query row's output multiplied by m[q].
// Memory O(L) per thread; never builds an L x L matrix. Parallel over (head, query block).
void block_sparse_attention(const AttentionInput& a, const BlockLayout& layout);

// HF original_full: softmax(q·kᵀ/√d + (1 - m[k])·finfo.min)·v; padded query rows computed
// normally. Tiled over query rows: O(L) memory per thread.
void full_attention(const AttentionInput& a);

// Scalar references (double accumulation, one query row at a time) for tests.
void block_sparse_attention_ref(const AttentionInput& a, const BlockLayout& layout);
void full_attention_ref(const AttentionInput& a);
// Dense reference over an expanded layout: weights count_key·e^(s+(1-m_k)P) + count_qk·e^(s+(1-m_q m_k)P).
void dense_layout_attention_ref(const AttentionInput& a, const DenseLayout& dense);

}  // namespace bigbird
