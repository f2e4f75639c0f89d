// The attention step of one encoder layer, shared by every encoder: the layer's random plan
// (injected > hf > seeded), and the block-sparse or full kernel over every row of a batch of
// padded sequences.
#pragma once
#include <cstdint>

#include "kernels/attention.h"
#include "layers/types.h"
#include "sparse/layout.h"
#include "sparse/plan.h"

namespace bigbird {

// The plan of encoder layer `layer`: the injected one (validated against the shape), HF's
// numpy draw, or the seeded default.
RandomPlan choose_layer_plan(const ForwardOptions& opt, int layer, int heads, int n_blocks, int block, int r,
                             int max_position_embeddings);

struct EncoderAttentionArgs {
  const float* q = nullptr;  // [batch, Lp, ld] projections; head h in columns [h·d, (h+1)·d)
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;  // may alias q (each job reads only the q rows and head it writes)
  int64_t ld = 0;
  int64_t batch = 0, Lp = 0;
  int heads = 0;
  int64_t d = 0;
  const float* mask = nullptr;  // [batch, Lp] of 0/1
};

// Runs attention for every row: block-sparse over `layout` when given, else HF's full attention;
// the scalar reference kernels when c.reference(). `drop` (training, full attention only): the
// dropout on the probabilities, drop.seq the index of the first sequence (sequence bi is seq + bi).
void encoder_attention(const Compute& c, const EncoderAttentionArgs& a, const BlockLayout* layout,
                       AttentionWorkspace* ws, const ProbsDropout& drop = {});

}  // namespace bigbird
