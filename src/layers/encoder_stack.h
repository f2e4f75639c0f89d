// The encoder stack every model shares, around its own embeddings and layer function:
//
//   EncoderBatch batch(shape, inputs, opt);     // validation, block padding, fall-back, every
//                                               // layer's random plan and layout
//   batch.for_each_token(ctx, embed_row);       // the model's embeddings, row by row
//   for each layer: post_ln_layer / pre_ln_layer (encoder_layer.h), batch.keep_layer(x)
//   return batch.finish(x);                     // each input's rows without its padding
//
// Rows of one sequence: its L tokens, the block padding (block-sparse only), then with the ETC
// extension (LayoutSpec::global_tokens = G > 0) the G global tokens, padded to whole blocks under
// block-sparse attention (masked rows). Positions count the sequence's tokens only; finish()
// returns the L token rows, so heads never see the global tokens.
//
// Several inputs of different lengths run in one call without padding them to a common length:
// each keeps its own block padding, attention type and plans (rows within one input share its
// length), while the token-wise work (projections, feed-forward, norms) runs over all their rows
// at once. Every input's result is the one it gets alone.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "layers/dropout.h"
#include "layers/types.h"
#include "sparse/layout.h"

namespace bigbird {

// What the stack needs to know of a model's encoder.
struct StackShape {
  int64_t hidden = 0, heads = 0, ffn = 0, layers = 0;
  int64_t vocab = 0;
  bool token_types = true;  // token_type_ids checked against type_vocab (else ignored)
  int64_t type_vocab = 0;
  int64_t max_positions = 0;
  // Internal padding rows continue the positions, so the padded length must fit max_positions
  // (BigBird); or they take no position, and only the input length must (BigBird-Pegasus).
  bool padding_has_positions = true;
  int64_t pad_token_id = 0;  // the id of internal padding rows
  AttentionType attention_type = AttentionType::BlockSparse;
  int64_t block = 64, random_blocks = 3;
  LayoutSpec layout;  // window_blocks, global_blocks (defaults: HF's ITC)
  Activation act = Activation::GeluNew;
  float eps = 1e-12f;

  int64_t head_dim() const { return hidden / heads; }
  // HF's fall-back rule: block_sparse on an input of length <= (5 + 2r)·block runs full attention
  // (other layouts: LayoutSpec::fallback_blocks(r)·block).
  int64_t full_fallback_tokens() const { return layout.fallback_blocks(random_blocks) * block; }
};

// One row of the call's activations, as the embeddings see it.
struct TokenRow {
  int64_t id;        // input id, or pad_token_id on an internal padding row
  int64_t type;      // token type (0 on padding rows or without token_type_ids)
  int64_t position;  // position within its sequence (padding rows continue the count)
  bool real;         // false on internal padding rows
  int64_t global = -1;  // ETC: the index of this global token (its own embedding), else -1
};

class EncoderBatch {
 public:
  // Checks every input (throws bigbird::Error naming the input, the position and the value) and
  // builds every layer's plan and layout, so that the layer loop allocates nothing.
  EncoderBatch(const StackShape& shape, const std::vector<const EncoderInput*>& inputs, const ForwardOptions& opt);

  int64_t rows() const { return rows_; }
  const float* mask() const { return mask_.data(); }  // [rows] 1 for tokens, 0 for padding

  // f(row, TokenRow) for every row of the call, on ctx's threads.
  template <typename F>
  void for_each_token(const ThreadingContext& ctx, const F& f) const;

  // Attention of layer `layer` over every input: q, k, v, out are [rows, hidden]. `probs`
  // (training): HF's dropout on the probabilities of full attention (original_full, or the
  // fall-back on short inputs; block-sparse attention has none), over the call's sequences
  // numbered in order across inputs (kernels/attention.h's ProbsDropout).
  void attention(const Compute& c, int layer, const float* q, const float* k, const float* v, float* out,
                 AttentionWorkspace& ws, const Dropout& probs = {}) const;

  // Backward of attention(): dout [rows, hidden] (the attention output's gradient) gives dq, dk,
  // dv [rows, hidden] (written). `probs` must be the forward's.
  void attention_backward(const Compute& c, int layer, const float* q, const float* k, const float* v,
                          const float* dout, float* dq, float* dk, float* dv, const Dropout& probs = {}) const;

  // The call's row of token t of sequence bi of input `input` (for heads and losses).
  int64_t row_of(size_t input, int64_t bi, int64_t t) const;

  // With keep_hidden_states, x [rows, hidden] becomes each input's embedding output / the next
  // layer's output ([b, Lp, hidden], padding included).
  void keep_embedding(const Tensor& x);
  void keep_layer(const Tensor& x);

  // Each input's output: its rows of x [rows, hidden] without the block padding.
  std::vector<EncoderOutput> finish(Tensor&& x);

 private:
  struct Group {
    const EncoderInput* in = nullptr;
    size_t index = 0;  // of the input in the call
    // L tokens, pad block-padding rows, Ls = L + pad, Lp = Ls + the ETC rows (global tokens and
    // their block padding).
    int64_t b = 0, L = 0, Lp = 0, pad = 0, Ls = 0, row0 = 0;
    EncoderOutput out;
    std::vector<std::optional<BlockLayout>> layouts;  // per layer (block-sparse inputs)
  };
  Tensor rows_of(const Group& g, const Tensor& x) const;
  TokenRow token(const Group& g, int64_t i) const;

  StackShape shape_;
  bool keep_ = false;
  AttentionObserver* observer_ = nullptr;
  std::vector<Group> groups_;
  int64_t rows_ = 0;
  std::vector<float> mask_;
};

template <typename F>
void EncoderBatch::for_each_token(const ThreadingContext& ctx, const F& f) const {
  for (const Group& g : groups_) {
    constexpr int64_t kRows = 64;  // rows per task
    const int64_t n = g.b * g.Lp;
    parallel_for(
        ctx, (n + kRows - 1) / kRows,
        [&](int64_t t) {
          for (int64_t i = t * kRows; i < std::min(n, (t + 1) * kRows); ++i) f(g.row0 + i, token(g, i));
        },
        Schedule::Static);
  }
}

}  // namespace bigbird
