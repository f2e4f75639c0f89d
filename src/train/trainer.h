// The training loop of `bigbird train`, HF Trainer's semantics (4.27, optim="adamw_torch"):
// per step, the loss of a batch and its gradients (BigBirdModel::loss_and_grads),
// clip_grad_norm_ over every gradient, AdamW with HF's decay groups, the learning rate of the
// schedule; the trained model saved as an HF checkpoint.
//
// Data: one pre-tokenised batch (`--train-file X.safetensors`: input_ids, attention_mask,
// token_type_ids, the labels, optional rand_attn.layer{L}) used for every step, with an optional
// trace of the run (what the train_case_adamw_mlm fixture holds); or text data as HF's example
// scripts read it (train/data.h): MLM text or JSONL, classification / token classification /
// SQuAD JSONL, in shuffled batches padded to their longest row, for epochs or --max-steps.
#pragma once
#include <cstdint>
#include <string>

#include <map>
#include <stdexcept>

#include "core/threading.h"
#include "layers/types.h"
#include "models/bigbird_model.h"

namespace bigbird::train {

struct TrainArgs {
  std::string task = "mlm";            // mlm | text-classification | token-classification | question-answering
  std::string model;                   // checkpoint directory (or config + tokenizer: a new model)
  std::string config;                  // config.json of a new model (from scratch; needs tokenizer)
  std::string tokenizer;               // tokenizer directory (default: model)
  std::string resume_from_checkpoint;  // a checkpoint-{step} directory this run continues
  ConfigOverrides config_overrides;    // --config-overrides: applied to the model's config, saved with it
  bool gradient_checkpointing = false;
  bool progress = true;  // a progress bar when stderr is a terminal (JSON lines otherwise)
  std::string train_file, output_dir, trace;
  double learning_rate = 5e-5, weight_decay = 0.0, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  std::string lr_scheduler_type = "linear";
  int64_t warmup_steps = 0;
  int64_t max_steps = -1;
  double num_train_epochs = 3.0;
  int64_t per_device_train_batch_size = 8, gradient_accumulation_steps = 1;
  int64_t max_seq_length = -1;  // < 0: the task's default (mlm: min(model_max_length, 1024), classify 128, qa 384)
  int64_t doc_stride = 128;     // question answering
  // JSONL field names (--text-column, --label-column): mlm's and text-classification's text,
  // text-classification's label.
  std::string text_column = "text", label_column = "label";
  uint64_t seed = 42;
  std::string validation_file;
  int64_t eval_steps = 0;  // 0: evaluate at the end only
  int64_t save_steps = 500;
  int64_t logging_steps = 500;
  ForwardOptions forward;  // attention, random plans (injected ones come from the batch file)
  // The plan of the evaluation passes on --validation-file (HF's Trainer.evaluate runs in eval
  // mode: transformers >= 4.30 uses zeros there).
  PlanSource eval_plan_source = PlanSource::Zeros;
};

// A pre-tokenised, labelled batch as `bigbird grad` and `train --train-file X.safetensors` read
// it: input_ids [b, L], optional attention_mask, token_type_ids, rand_attn.layer{L}, and the
// labels under HF's names (labels: int64, or float for regression / multi-label; start_positions,
// end_positions, next_sentence_label).
struct LabelledBatch {
  EncoderInput in;
  TrainLabels labels;
  std::map<int, RandomPlan> plans;
};
LabelledBatch read_labelled_batch(const std::string& path);

// Thrown by train() when SIGINT/SIGTERM/SIGHUP arrived: the run stopped after an optimizer step
// and saved `checkpoint` (resume with --resume-from-checkpoint).
struct TrainingInterrupted : std::runtime_error {
  TrainingInterrupted(int sig, std::string dir, int64_t at, int64_t of)
      : std::runtime_error("interrupted"), signal(sig), checkpoint(std::move(dir)), step(at), total(of) {}
  int signal;
  std::string checkpoint;
  int64_t step, total;
};

// Runs the training and writes output_dir (and the trace); progress lines on stderr. Throws
// bigbird::Error on bad arguments or files, leaving no partial output.
void train(const TrainArgs& args, const ThreadingContext& ctx);

}  // namespace bigbird::train
