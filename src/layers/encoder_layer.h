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
#include "layers/dropout.h"
#include "layers/encoder_stack.h"
#include "layers/gradients.h"
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

// What post_ln_layer_backward needs of its forward, [rows, ·] each: the layer input x, q, k, v,
// the attention output, the two LayerNorm inputs z1 = ctx·Woᵀ + bo + x and z2 = act(h)·W2ᵀ + b2 + a,
// a = LN(z1), and the feed-forward pre-activation h = a·W1ᵀ + b1. About 8·hidden + ffn floats per
// token and layer.
struct PostLnCache {
  std::vector<float> x, q, k, v, ctx, z1, a, h, z2;
};

// The temporaries of post_ln_layer_train and post_ln_layer_backward ([rows, hidden] or
// [rows, ffn] each): resized, never cleared (every element is written before it is read).
struct PostLnScratch {
  std::vector<float> act, dz2, da, dh, dq, dk, dv;
};

// What a training step computes into, kept by the caller from step to step (beside the gradient
// pool, TrainingOptions::workspace): every layer's cache, the layers' temporaries, the attention
// workspace and, with gradient checkpointing, the layer inputs. A step that reuses them allocates
// nothing of its activations: at 4k tokens several GB of fresh pages a step otherwise, cleared and
// faulted in on one thread while the others wait.
struct TrainWorkspace {
  std::vector<PostLnCache> caches;
  std::vector<std::vector<float>> inputs;
  PostLnScratch scratch;
  AttentionWorkspace attention;
};

// A post-LN layer's training dropouts (HF: BigBirdSelfOutput's on the attention output dense,
// BigBirdOutput's on the feed-forward output dense, each before its residual sum and LayerNorm,
// over the call's [rows, hidden] tensors; BigBirdSelfAttention's on the probabilities of full
// attention, see EncoderBatch::attention). Default: none.
struct LayerDropout {
  Dropout attention_output, ffn_output, attention_probs;
};

// post_ln_layer for training: the same maths with the sums feeding each LayerNorm computed
// explicitly (not fused into it, so the rounding differs from post_ln_layer by float epsilons),
// keeping what the backward needs in `cache` (resized; reusable across layers and calls: the same
// inputs give the same bits, which gradient checkpointing relies on).
void post_ln_layer_train(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch,
                         int layer, float* x, PostLnCache& cache, AttentionWorkspace& ws, PostLnScratch& tmp,
                         const LayerDropout& drop = {});

// Backward of post_ln_layer_train: dx holds ∂L/∂(layer output) and receives ∂L/∂(layer input);
// the layer's weight gradients are accumulated into `g`. `drop` must be the forward's.
void post_ln_layer_backward(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch,
                            int layer, const PostLnCache& cache, float* dx, Gradients& g, PostLnScratch& tmp,
                            const LayerDropout& drop = {});

// The pre-LN feed-forward sublayer, also the decoder's: x += W2·act(W1·LN(x) + b1) + b2 over
// [rows, in] (h: [rows, in] scratch; inter grown to at most 2048 rows of W1's width).
void pre_ln_feed_forward(const Compute& c, const NormW& ln, const Linear& w1, const Linear& w2, Activation act,
                         float eps, float* x, int64_t rows, float* h, std::vector<float>& inter);
void pre_ln_layer(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch, int layer,
                  float* x, LayerBuffers& buf);

}  // namespace bigbird
