// The BigBird encoder (HF BigBirdModel) and its task heads, loaded from an HF checkpoint dir.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/weight_store.h"
#include "kernels/gemm_bf16.h"
#include "models/bigbird_config.h"
#include "sparse/plan.h"

namespace bigbird {

struct LinearW {
  ConstView w;  // [out, in]
  ConstView b;  // [out] or empty
  int64_t out() const { return w.dim(0); }
  int64_t in() const { return w.dim(1); }
};
struct NormW {
  ConstView g, b;
};

struct EncoderLayerW {
  LinearW q, k, v, o;
  NormW attn_ln;
  LinearW ffn_in, ffn_out;
  NormW out_ln;
};

// Which heads the checkpoint has, from config.json's `architectures`.
enum class Architecture { Model, PreTraining, MaskedLM, SequenceClassification, QuestionAnswering, TokenClassification };
Architecture parse_architecture(const std::vector<std::string>& architectures);
const char* architecture_name(Architecture a);

struct BigBirdWeights {
  ConstView word, position, token_type;  // embeddings
  NormW emb_ln;
  std::vector<EncoderLayerW> layers;
  std::optional<LinearW> pooler;
  // MLM head (cls.predictions): transform dense + LN, decoder tied to word embeddings.
  std::optional<LinearW> mlm_transform;
  NormW mlm_ln;
  LinearW mlm_decoder;
  std::optional<LinearW> nsp;            // cls.seq_relationship
  std::optional<LinearW> cls_dense;      // classifier.dense (sequence classification)
  LinearW cls_out;                       // classifier.out_proj
  std::optional<LinearW> qa_intermediate;  // qa_classifier.intermediate.dense
  LinearW qa_output;                       // qa_classifier.output.dense
  NormW qa_ln;                             // qa_classifier.output.LayerNorm
  LinearW qa_outputs;                      // qa_classifier.qa_outputs
  std::optional<LinearW> token_cls;        // classifier (token classification)
};

// Which random plan each block-sparse layer uses.
enum class PlanSource { Seeded, HF };

struct EncoderInput {
  TensorI64 input_ids;       // [batch, L]
  TensorI64 attention_mask;  // [batch, L] of 0/1, or empty (all ones)
  TensorI64 token_type_ids;  // [batch, L], or empty (zeros)
};

struct ForwardOptions {
  std::optional<AttentionType> attention;  // overrides config.attention_type
  PlanSource plan_source = PlanSource::Seeded;
  uint64_t seed = 0;
  std::map<int, RandomPlan> injected_plans;  // layer -> plan (pins that layer)
  bool keep_hidden_states = false;
  // Run the scalar reference kernels (double accumulation) instead of the fast ones: slow, for
  // tests that hold the fast path to the reference on arbitrary shapes.
  bool reference_kernels = false;
  // Opt-in bf16 products (AVX512-BF16, float32 accumulation) for the six projections of every
  // layer; attention, norms and activations stay float32. Weights are converted once, on first
  // use. Throws on a CPU without AVX512-BF16. Error against float32: tests/test_encoder_parity.cpp.
  bool bf16 = false;
};

struct EncoderOutput {
  int64_t input_len = 0;   // L_in
  int64_t padded_len = 0;  // Lp (block multiple under block_sparse)
  AttentionType attention_used = AttentionType::BlockSparse;
  bool fell_back = false;  // block_sparse requested, full attention used (short input)
  Tensor embedding_output;                // [b, Lp, H] (only with keep_hidden_states)
  std::vector<Tensor> hidden_states;      // per layer [b, Lp, H] (only with keep_hidden_states)
  Tensor sequence_output;                 // [b, L_in, H]
  std::vector<RandomPlan> plans;          // per layer, when block_sparse ran
};

class BigBirdModel {
 public:
  // Reads dir/config.json and dir/model.safetensors (or a sharded index); checks every tensor.
  static std::unique_ptr<BigBirdModel> load(const std::string& dir);
  // Random weights (for benchmarks): every tensor approximately N(0, 0.02) (a rescaled sum of
  // four uniforms, bounded at ±3.46σ) except LayerNorm (1, 0); deterministic in `seed`.
  static std::unique_ptr<BigBirdModel> random(const BigBirdConfig& config, Architecture arch, uint64_t seed);

  // Every tensor a checkpoint of this configuration and architecture holds: HF name and shape.
  static std::vector<std::pair<std::string, Shape>> tensor_names(const BigBirdConfig& config, Architecture arch);

  const BigBirdConfig& config() const { return config_; }
  Architecture architecture() const { return arch_; }
  const BigBirdWeights& weights() const { return w_; }

  EncoderOutput encode(const EncoderInput& in, const ForwardOptions& opt) const;

  // Several inputs of different lengths in one call, without padding them to a common length:
  // each is encoded exactly as encode() would encode it alone (its own block padding,
  // full-attention fall-back and random plans; rows within one input share its length), while
  // the token-wise work (projections, feed-forward, norms) runs over all their tokens at once.
  // One output per input, in order. An injected plan must fit every block-sparse input.
  std::vector<EncoderOutput> encode_batch(const std::vector<EncoderInput>& inputs, const ForwardOptions& opt) const;

  // Converts the layers' weights for ForwardOptions::bf16 now rather than on first use (e.g.
  // before timing). Thread-safe; a no-op after the first call.
  void prepare_bf16() const { bf16_layers(); }

  // Heads (inputs are encoder outputs). Each throws if the checkpoint has no such head.
  Tensor pooler(const Tensor& sequence_output) const;                     // [b, H]
  Tensor mlm_logits(const Tensor& sequence_output) const;                 // [b, L, V]
  Tensor nsp_logits(const Tensor& pooled) const;                          // [b, 2]
  Tensor sequence_classification_logits(const Tensor& sequence_output) const;  // [b, num_labels]
  Tensor qa_logits(const Tensor& sequence_output) const;                  // [b, L, 2] (unmasked)
  Tensor token_classification_logits(const Tensor& sequence_output) const;  // [b, L, num_labels]

  bool has_pooler() const { return w_.pooler.has_value(); }
  bool has_mlm() const { return w_.mlm_transform.has_value(); }
  bool has_nsp() const { return w_.nsp.has_value(); }

 private:
  std::vector<EncoderOutput> encode_groups(const std::vector<const EncoderInput*>& inputs,
                                           const ForwardOptions& opt) const;
  // The encoder layers' weights as bf16 panels (built on first use of ForwardOptions::bf16).
  struct LayerBf16 {
    PackedWeightBf16 q, k, v, o, ffn_in, ffn_out;
  };
  const std::vector<LayerBf16>& bf16_layers() const;
  mutable std::once_flag bf16_once_;
  mutable std::vector<LayerBf16> bf16_;

  BigBirdConfig config_;
  Architecture arch_ = Architecture::Model;
  std::unique_ptr<WeightStore> store_;
  std::vector<std::vector<float>> owned_;  // random weights
  BigBirdWeights w_;
};

// HF's question mask for BigBirdForQuestionAnswering: question_length = index of the first
// sep_token_id + 1 (1 when absent). qmask[p] = p < question_length.
std::vector<int64_t> question_lengths(const TensorI64& input_ids, int64_t sep_token_id);

}  // namespace bigbird
