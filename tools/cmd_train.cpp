// `bigbird train`: fine-tuning and pre-training with HF Trainer's flags and semantics (see
// src/train/trainer.h for what this version supports).
#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "train/trainer.h"

namespace bigbird::cli {

Runner add_train(CLI::App& app) {
  struct Args {
    train::TrainArgs t;
    CommonOptions common;
  };
  auto a = std::make_shared<Args>();
  train::TrainArgs& t = a->t;
  app.add_option("--task", t.task, "mlm (default), text-classification, token-classification, question-answering")
      ->check(CLI::IsMember({"mlm", "text-classification", "token-classification", "question-answering"}));
  app.add_option("--model", t.model, "the checkpoint to start from (an HF directory)")->required();
  app.add_option("--train-file", t.train_file,
                 "training data: a pre-tokenised batch (.safetensors: input_ids, attention_mask, token_type_ids, "
                 "labels, optional rand_attn.layer{L}) used for every step")
      ->required();
  app.add_option("--output-dir", t.output_dir, "where the trained checkpoint goes (config.json, model.safetensors)")
      ->required();
  app.add_option("--learning-rate", t.learning_rate, "AdamW's learning rate (default 5e-5)");
  app.add_option("--weight-decay", t.weight_decay, "decoupled weight decay, not on biases and LayerNorm (default 0)");
  app.add_option("--adam-beta1", t.adam_beta1, "default 0.9");
  app.add_option("--adam-beta2", t.adam_beta2, "default 0.999");
  app.add_option("--adam-epsilon", t.adam_epsilon, "default 1e-8");
  app.add_option("--max-grad-norm", t.max_grad_norm, "clip the gradients' global 2-norm to this (default 1.0)");
  app.add_option("--lr-scheduler-type", t.lr_scheduler_type,
                 "linear (default), cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup");
  app.add_option("--warmup-steps", t.warmup_steps, "linear warmup steps (default 0)")->check(CLI::NonNegativeNumber);
  app.add_option("--max-steps", t.max_steps, "optimizer steps to run")->check(CLI::PositiveNumber);
  app.add_option("--logging-steps", t.logging_steps, "log a JSON line every N steps (default 500)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--trace", t.trace,
                 "also write loss.step{k}, grad_norm.step{k}, loss.final, param.<name>, param_step1.<name>, "
                 "exp_avg.<name>, exp_avg_sq.<name> to this safetensors file");
  add_common_options(app, a->common);
  return [a] {
    a->common.check();
    a->t.forward = a->common.forward_options();
    train::train(a->t, a->common.threading());
    return 0;
  };
}

}  // namespace bigbird::cli
