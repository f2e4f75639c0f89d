// The two transformer layers of the encoders, as free functions over the call's activations
// x [rows, hidden] (rows of every input of an EncoderBatch):
//
//   post_ln_layer (BigBird, BERT-style):  a = LN(x + Wo·attn(x) + bo)
//                                         x = LN(a + W2·act(W1·a + b1) + b2)
//   pre_ln_layer  (BigBird-Pegasus):      x += Wo·attn(LN(x)) + bo
//                                         x += W2·act(W1·LN(x) + b1) + b2
//
// Each keeps the order of operations (and so the bits) of HF's layer; backward passes go beside.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "layers/encoder_stack.h"
#include "layers/linear.h"
#include "layers/types.h"

namespace bigbird {

struct EncoderLayerW {
  Linear q, k, v, o;  // attention projections and output
  NormW attn_ln;      // post-LN: after the attention sublayer; pre-LN: before it
  Linear ffn_in, ffn_out;
  NormW ffn_ln;  // post-LN: after the feed-forward sublayer; pre-LN: before it
};

// Work buffers of one call, allocated once for every layer: q, k, v [rows, hidden] (the
// attention output overwrites q, the post-LN attention sublayer's output reuses k), the
// feed-forward intermediate in row chunks of at most 2048 rows, and for pre-LN the normed input.
struct LayerBuffers {
  LayerBuffers(const StackShape& s, int64_t rows, bool pre_ln);
  int64_t chunk = 0;
  std::vector<float> q, k, v, h, inter;
  AttentionWorkspace ws;
};

void post_ln_layer(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch, int layer,
                   float* x, LayerBuffers& buf);

// The pre-LN feed-forward sublayer, also the decoder's: x += W2·act(W1·LN(x) + b1) + b2 over
// [rows, in] (h: [rows, in] scratch; inter grown to at most 2048 rows of W1's width).
void pre_ln_feed_forward(const Compute& c, const NormW& ln, const Linear& w1, const Linear& w2, Activation act,
                         float eps, float* x, int64_t rows, float* h, std::vector<float>& inter);
void pre_ln_layer(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch, int layer,
                  float* x, LayerBuffers& buf);

}  // namespace bigbird
