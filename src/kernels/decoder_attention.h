// Dense multi-head attention of HF's BART-family decoder (BigBirdPegasusDecoderAttention), one
// query row at a time: softmax(q·kᵀ + penalty)·v per head, q already multiplied by d^-0.5.
//
// Every query row names its own key/value span, so the same kernel serves causal self-attention
// over a KV cache (the span is the row's cached prefix: no L x L matrix, no causal mask needed)
// and cross-attention over an encoder output shared by the beams of one input.
#pragma once
#include <cstdint>
#include <vector>

#include "core/threading.h"

namespace bigbird {

// Keys and values of one query row: rows [0, n) of k and v with row stride ld; head h starts at
// h·head_stride (0: h·d, the token-major layout [n, heads·d]; head-major [heads, n, d] has ld = d,
// head_stride = n·d, so that one head's keys are one contiguous stream). mask [n] (optional): a key
// with mask 0 gets HF's additive torch.finfo(float32).min (so a row whose keys are all masked
// averages them uniformly, as HF does).
struct KeyValueSpan {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t ld = 0;
  int64_t n = 0;
  const float* mask = nullptr;
  int64_t head_stride = 0;
  int64_t head_offset(int h, int64_t d) const { return h * (head_stride ? head_stride : d); }
};

struct DecoderAttentionArgs {
  const float* q = nullptr;  // [rows, ldq], scaled
  int64_t ldq = 0;
  float* out = nullptr;  // [rows, ldo]
  int64_t ldo = 0;
  int64_t rows = 0;
  int heads = 0;
  int64_t d = 0;
};

// out[i] = attention of q[i] over spans[i] for every head. Consecutive rows with the same span
// (the beams of one input in cross-attention) are processed together, so each key/value row is
// read once per group. Parallel over (group, head); O(n·d) per (row, head), O(16·n) scratch per thread.
void decoder_attention(const ThreadingContext& ctx, const DecoderAttentionArgs& a,
                       const std::vector<KeyValueSpan>& spans);

// Scalar reference (double accumulation) for tests.
void decoder_attention_ref(const DecoderAttentionArgs& a, const std::vector<KeyValueSpan>& spans);

}  // namespace bigbird
