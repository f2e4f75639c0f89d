// The BigBird encoder (HF BigBirdModel) and its task heads, loaded from an HF checkpoint dir:
// its config, its weights bound by HF name, and a forward that composes the shared layers.
#pragma once
#include <cstdint>
#include <memory>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/weight_store.h"
#include "layers/encoder_layer.h"
#include "layers/encoder_stack.h"
#include "layers/linear.h"
#include "layers/random_weights.h"
#include "layers/types.h"
#include "models/bigbird_config.h"

namespace bigbird {

// Which heads the checkpoint has, from config.json's `architectures`.
enum class Architecture {
  Model,
  PreTraining,
  MaskedLM,
  SequenceClassification,
  QuestionAnswering,
  TokenClassification
};
Architecture parse_architecture(const std::vector<std::string>& architectures);
const char* architecture_name(Architecture a);

struct BigBirdWeights {
  ConstView word, position, token_type;  // embeddings
  // ETC (config num_global_tokens = G > 0, this engine's extension): [G, hidden], the global
  // tokens' input vectors (embeddings.global_token_embeddings.weight), LayerNormed like the others.
  ConstView global_tokens;
  NormW emb_ln;
  std::vector<EncoderLayerW> layers;  // attn_ln / ffn_ln: attention.output / output LayerNorm
  std::optional<Linear> pooler;
  // MLM head (cls.predictions): transform dense + LN, decoder tied to word embeddings.
  std::optional<Linear> mlm_transform;
  NormW mlm_ln;
  Linear mlm_decoder;
  std::optional<Linear> nsp;              // cls.seq_relationship
  std::optional<Linear> cls_dense;        // classifier.dense (sequence classification)
  Linear cls_out;                         // classifier.out_proj
  std::optional<Linear> qa_intermediate;  // qa_classifier.intermediate.dense
  Linear qa_output;                       // qa_classifier.output.dense
  NormW qa_ln;                            // qa_classifier.output.LayerNorm
  Linear qa_outputs;                      // qa_classifier.qa_outputs
  std::optional<Linear> token_cls;        // classifier (token classification)
};

// Labels as HF's forward takes them (empty: not given).
struct TrainLabels {
  TensorI64 labels;     // MLM, token classification [b, L]; sequence classification [b] (class ids)
  Tensor float_labels;  // sequence classification: regression [b] or multi-label [b, labels]
  TensorI64 start_positions, end_positions;  // question answering [b]
  TensorI64 next_sentence_label;             // pre-training [b]
};

// The loss of a batch and its gradients, as HF 4.27 + PyTorch's backward give them.
struct GradOutput {
  float loss = 0.0f;
  // One per parameter, named as HF's named_parameters() (tied weights once, under their first
  // name); zeros for a parameter the loss does not reach.
  std::vector<std::pair<std::string, Tensor>> grads;
  std::vector<uint8_t> reached;  // per parameter: did any gradient flow into it
  Tensor embedding_output;       // ∂loss/∂(output of the embeddings, after their dropout) [b, Lp, H]
};

class BigBirdModel {
 public:
  // Reads dir/config.json and dir/model.safetensors (or a sharded index); checks every tensor.
  // `ov`: --config-overrides, applied to config.json before it is read.
  static std::unique_ptr<BigBirdModel> load(const std::string& dir, const ConfigOverrides& ov = {});
  // The checkpoint in `dir` with the head of `arch` (num_labels outputs for the classifiers), for
  // fine-tuning: every stored tensor of the right name and shape is used; the others (a new
  // head) are initialised as HF initialises them (RandomWeights, from `seed`) and their names
  // returned in `initialised`. The pooler is a parameter where HF's class has one.
  static std::unique_ptr<BigBirdModel> load_for_training(const std::string& dir, Architecture arch, int64_t num_labels,
                                                         uint64_t seed,
                                                         std::vector<std::string>* initialised = nullptr,
                                                         const ConfigOverrides& ov = {});
  // config.json's id2label (and label2id), e.g. the label names of a fine-tuning data set.
  void set_labels(const std::vector<std::string>& id2label, const std::string& problem_type);
  // Random weights (benchmarks, tests): see RandomWeights; deterministic in `seed`.
  static std::unique_ptr<BigBirdModel> random(const BigBirdConfig& config, Architecture arch, uint64_t seed);
  // A new model to train from scratch (`bigbird train --config`): random() plus the pooler HF's
  // MaskedLM / classification models carry unused, so that the saved checkpoint is HF's layout.
  static std::unique_ptr<BigBirdModel> random_for_training(const BigBirdConfig& config, Architecture arch,
                                                           uint64_t seed);
  // Every tensor a checkpoint of this configuration and architecture holds: HF name and shape.
  static std::vector<std::pair<std::string, Shape>> tensor_names(const BigBirdConfig& config, Architecture arch);

  const BigBirdConfig& config() const { return config_; }
  Architecture architecture() const { return arch_; }
  const BigBirdWeights& weights() const { return w_; }
  StackShape stack_shape() const;

  EncoderOutput encode(const EncoderInput& in, const ForwardOptions& opt, const ThreadingContext& ctx) const;
  // Several inputs of different lengths in one call, without padding them to a common length
  // (see EncoderBatch): one output per input, in order, each as encode() gives it alone. An
  // injected plan must fit every block-sparse input.
  std::vector<EncoderOutput> encode_batch(const std::vector<EncoderInput>& inputs, const ForwardOptions& opt,
                                          const ThreadingContext& ctx) const;

  // Packs the layers' weights for opt.precision (bf16, int8) now rather than on first use (e.g.
  // before timing); nothing for float32.
  void prepare(const ForwardOptions& opt, const ThreadingContext& ctx) const;

  // Heads (inputs are encoder outputs), float32. Each throws if the checkpoint has no such head.
  Tensor pooler(const Tensor& sequence_output, const ThreadingContext& ctx) const;      // [b, H]
  Tensor mlm_logits(const Tensor& sequence_output, const ThreadingContext& ctx) const;  // [b, L, V]
  Tensor nsp_logits(const Tensor& pooled, const ThreadingContext& ctx) const;           // [b, 2]
  Tensor sequence_classification_logits(const Tensor& sequence_output, const ThreadingContext& ctx) const;
  Tensor qa_logits(const Tensor& sequence_output, const ThreadingContext& ctx) const;  // [b, L, 2] (unmasked)
  Tensor token_classification_logits(const Tensor& sequence_output, const ThreadingContext& ctx) const;

  // The loss of the checkpoint's architecture (its head, HF's loss: cross entropy over labels
  // != -100, problem_type for sequence classification, (start + end) / 2 for QA, + NSP when
  // next_sentence_label is given) and every parameter's gradient. float32; memory linear in the
  // length (the attention backward never forms an n x n matrix). `train`: gradient checkpointing
  // (the same gradients, bit for bit, with one layer's activations alive at a time) and HF's
  // training-mode dropout (hidden_dropout_prob, classifier_dropout; see TrainingOptions).
  GradOutput loss_and_grads(const EncoderInput& in, const TrainLabels& labels, const ForwardOptions& opt,
                            const ThreadingContext& ctx, const TrainingOptions& train = {}) const;
  // Every parameter as HF's named_parameters() lists it (tied weights once): name and weights.
  const std::vector<std::pair<std::string, ConstView>>& named_parameters() const { return params_; }
  // GradOutput::grads[i] belongs to named_parameters()[i]; `reached[i]` says whether any gradient
  // flowed into it (false: PyTorch's .grad None, which AdamW skips).

  // Copies every parameter into memory this model owns, so that training can update it in place
  // (a loaded checkpoint is memory-mapped read-only). Returns the writable parameters, in the
  // order of named_parameters(); the views of weights() follow them.
  std::vector<std::pair<std::string, float*>> make_trainable();
  // Writes config.json (the source's, with this architecture) and model.safetensors (every
  // parameter under its HF name; tied aliases left out, as HF saves them) into `dir`, each
  // written to a temporary name and renamed.
  void save(const std::string& dir, const std::string& source_config_json) const;

  bool has_pooler() const { return w_.pooler.has_value(); }
  bool has_mlm() const { return w_.mlm_transform.has_value(); }
  bool has_nsp() const { return w_.nsp.has_value(); }

 private:
  std::vector<EncoderOutput> forward(const std::vector<const EncoderInput*>& inputs, const ForwardOptions& opt,
                                     const ThreadingContext& ctx) const;

  BigBirdConfig config_;
  Architecture arch_ = Architecture::Model;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<RandomWeights> random_;
  template <typename Get>
  static void add_unused_pooler(BigBirdModel& m, Get& get);
  std::deque<std::vector<float>> owned_;  // make_trainable()'s copies
  std::string prefix_ = "bert.";          // "bert." or "" (a bare BigBirdModel checkpoint)
  BigBirdWeights w_;
  std::vector<std::pair<std::string, ConstView>> params_;
};

// HF's question mask for BigBirdForQuestionAnswering: question_length = index of the first
// sep_token_id + 1 (1 when absent). qmask[p] = p < question_length.
std::vector<int64_t> question_lengths(const TensorI64& input_ids, int64_t sep_token_id);

}  // namespace bigbird
