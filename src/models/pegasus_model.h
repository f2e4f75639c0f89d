// HF BigBirdPegasusForConditionalGeneration, loaded from an HF checkpoint directory: the pre-LN
// encoder (block-sparse or full attention, the BigBird kernels), the pre-LN decoder (causal
// self-attention, cross-attention on the encoder output) and the LM head tied to model.shared.
//
// Maths (HF 4.27.1, float32):
//   encoder  h = shared[ids]·√d_model + pos[0..L_in)   (internal padding rows: shared[pad], no scale, no pos)
//            h += Wo·attn(LN(h));  h += fc2(act(fc1(LN(h))));  out = LN_final(h), unpadded
//   decoder  h = shared[ids]·√d_model + pos[p0..p0+T)
//            h += Wo·causal_attn(LN(h));  h += Wo'·cross_attn(LN(h), enc);  h += fc2(act(fc1(LN(h))))
//            out = LN_final(h);  logits = out·lm_headᵀ + final_logits_bias
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/weight_store.h"
#include "layers/encoder_layer.h"
#include "layers/encoder_stack.h"
#include "layers/linear.h"
#include "layers/random_weights.h"
#include "layers/types.h"
#include "models/pegasus_config.h"

namespace bigbird {

struct PegasusAttentionW {
  Linear q, k, v, o;  // biases only when config.use_bias
};

// Encoder layers are EncoderLayerW (pre-LN): attn_ln = self_attn_layer_norm, q/k/v =
// self_attn.self.{query,key,value}, o = self_attn.output, ffn_ln = final_layer_norm, ffn_in/out = fc1/fc2.
struct PegasusDecoderLayerW {
  NormW self_ln;
  PegasusAttentionW self_attn;  // self_attn.{q,k,v,out}_proj
  NormW cross_ln;
  PegasusAttentionW cross_attn;  // encoder_attn.{q,k,v,out}_proj
  NormW ffn_ln;
  Linear fc1, fc2;
};

struct PegasusWeights {
  ConstView shared;         // [V, H] model.shared = encoder/decoder embed_tokens
  ConstView enc_positions;  // [max_pos, H] learned
  ConstView dec_positions;  // [max_pos, H] learned
  std::vector<EncoderLayerW> encoder;
  NormW encoder_ln;  // model.encoder.layernorm_embedding (a final LayerNorm despite its name)
  std::vector<PegasusDecoderLayerW> decoder;
  NormW decoder_ln;  // model.decoder.layernorm_embedding
  Linear lm_head;    // [V, H], bias final_logits_bias [V]
};

// The encoder's output: hidden_states are the raw layer outputs, sequence_output is after the
// final LayerNorm (unpadded).
struct PegasusEncoderOutput : EncoderOutput {
  TensorI64 attention_mask;  // [b, L_in] as given (ones when absent): the cross-attention mask
  Precision precision = Precision::F32;  // the encoder's (ForwardOptions::precision): the decoder's too
};

// Cross-attention keys/values of every decoder layer for one encoded batch: computed once per
// input and shared by all decoder rows (beams) of that input.
struct CrossAttentionCache {
  int64_t items = 0, len = 0;
  // The projections' dtype of the decoder steps that use this cache (the encoder's): the cross K/V
  // projections, every decoder projection and the LM head run in it.
  Precision precision = Precision::F32;
  int64_t heads = 0, head_dim = 0;
  // per layer [items, heads, len, head_dim]: head-major, so that a decoder step streams each head's
  // keys and values contiguously (token-major rows would touch one 4 KiB page per key and head)
  std::vector<std::vector<float>> k, v;
  std::vector<float> mask;               // [items, len] 0/1
};

// Decoder self-attention keys/values: per layer [rows, capacity, H]; position p of row r is at
// (r·capacity + p)·H.
struct SelfAttentionCache {
  int64_t rows = 0, capacity = 0;
  std::vector<std::vector<float>> k, v;
  void reset(int64_t layers, int64_t rows, int64_t capacity, int64_t hidden);
};

struct PegasusDecoderOutput {
  Tensor embedding_output;            // [rows, T, H] (keep_hidden only)
  std::vector<Tensor> layer_outputs;  // per layer [rows, T, H] (keep_hidden only)
  Tensor output;                      // [rows, T, H] after the final LayerNorm
  Tensor logits;                      // [rows, T, V]
};

class PegasusModel {
 public:
  // Reads dir/config.json (+ generation_config.json) and dir/model.safetensors (or a sharded
  // index); checks every tensor's shape; ties lm_head and the embeddings to model.shared.
  static std::unique_ptr<PegasusModel> load(const std::string& dir, const ConfigOverrides& ov = {});  // ov: --config-overrides
  // Random weights for benchmarks, bound by the loader's name/shape walk: see RandomWeights.
  static std::unique_ptr<PegasusModel> random(const BigBirdPegasusConfig& config, uint64_t seed);

  const BigBirdPegasusConfig& config() const { return config_; }
  const PegasusWeights& weights() const { return w_; }
  StackShape encoder_shape() const;

  // The encoder. in.token_type_ids is ignored. Fall-back to full attention is decided per call
  // (the padding mask is kept in the fall-back, unlike HF 4.27.1). opt.precision runs the encoder's
  // projections in bf16 or int8, and is recorded in the output: the decoder steps on it (cross
  // K/V, every decoder projection, the LM head) run in the same dtype.
  PegasusEncoderOutput encode(const EncoderInput& in, const ForwardOptions& opt, const ThreadingContext& ctx) const;

  CrossAttentionCache cross_attention_cache(const PegasusEncoderOutput& enc, const ThreadingContext& ctx) const;

  // Uncached decoder pass over whole prefixes dec_ids [rows, T]; row r attends to encoder item
  // row_item[r]. Costs O(T²) per row: the reference the cached path is checked against.
  PegasusDecoderOutput decode(const CrossAttentionCache& cross, const TensorI64& dec_ids,
                              const std::vector<int64_t>& row_item, bool keep_hidden,
                              const ThreadingContext& ctx) const;

  // The decoder on T new tokens for each of n rows, at positions [p0, p0 + T). Row i reads and
  // extends self-attention cache row cache_row[i] (positions < p0 must be filled) and attends to
  // encoder item row_item[i]. ids [n, T]; x receives the final hidden states [n, T, H] (after the
  // final LayerNorm). With `keep`, also the embedding and per-layer outputs.
  void decoder_forward(const int64_t* ids, int64_t n, int64_t T, int64_t p0, const int64_t* cache_row,
                       const int64_t* row_item, SelfAttentionCache& self, const CrossAttentionCache& cross, Tensor& x,
                       PegasusDecoderOutput* keep, const ThreadingContext& ctx) const;

  // logits [rows, V] = h [rows, H]·lm_headᵀ + final_logits_bias.
  void lm_logits(const float* h, int64_t rows, float* logits, const ThreadingContext& ctx,
                 Precision precision = Precision::F32) const;

 private:
  BigBirdPegasusConfig config_;
  std::unique_ptr<WeightStore> store_;
  std::vector<float> zero_bias_;  // final_logits_bias when the checkpoint has none
  std::unique_ptr<RandomWeights> random_;
  PegasusWeights w_;
};

}  // namespace bigbird
