// `bigbird train`: fine-tuning and pre-training with HF Trainer's flags and semantics (see
// src/train/trainer.h for what this version supports).
#include <csignal>
#include <cstdio>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "train/trainer.h"

namespace bigbird::cli {

Runner add_train(CLI::App& app) {
  struct Args {
    train::TrainArgs t;
    CommonOptions common;
    bool no_progress = false;
  };
  auto a = std::make_shared<Args>();
  train::TrainArgs& t = a->t;
  app.add_option("--task", t.task, "mlm (default), text-classification, token-classification, question-answering")
      ->check(CLI::IsMember({"mlm", "text-classification", "token-classification", "question-answering"}));
  app.add_option("--model", t.model,
                 "the checkpoint to start from (an HF directory; a missing task head is initialised as HF does)");
  app.add_option("--config", t.config, "train a new model from scratch: its config.json (needs --tokenizer)");
  app.add_option("--tokenizer", t.tokenizer, "the directory with the tokenizer files (default: --model)");
  app.add_option("--train-file", t.train_file,
                 "training data: mlm: text (documents separated by blank lines) or JSONL {\"text\"}; "
                 "text-classification: JSONL {\"text\", [\"text_pair\",] \"label\"}; token-classification: JSONL "
                 "{\"tokens\", \"tags\"}; question-answering: SQuAD JSONL; or a pre-tokenised batch (.safetensors: "
                 "input_ids, attention_mask, token_type_ids, labels, optional rand_attn.layer{L}) used for every step")
      ->required();
  app.add_option("--validation-file", t.validation_file, "evaluated at the end (and every --eval-steps): JSON lines");
  app.add_option("--num-train-epochs", t.num_train_epochs, "passes over the data (default 3; --max-steps wins)");
  app.add_option("--per-device-train-batch-size", t.per_device_train_batch_size, "examples per batch (default 8)")
      ->check(positive_number());
  app.add_option("--gradient-accumulation-steps", t.gradient_accumulation_steps,
                 "batches whose gradients are averaged into one update (default 1)")
      ->check(positive_number());
  app.add_option("--max-seq-length", t.max_seq_length,
                 "tokens per example (default: mlm min(model_max_length, 1024), text-classification 128, "
                 "token-classification 512, question-answering 384)")
      ->check(positive_number());
  app.add_option("--doc-stride", t.doc_stride, "question-answering: tokens shared by consecutive windows (default 128)")
      ->check(positive_number());
  app.add_option("--text-column", t.text_column,
                 "mlm and text-classification JSONL: the field holding the text (default text), e.g. sequence for "
                 "{\"sequence\": \"ACGT...\", \"label\": \"ei\"}");
  app.add_option("--label-column", t.label_column,
                 "text-classification JSONL: the field holding the label (default label); a list of labels makes "
                 "the task multi-label");
  app.add_option("--eval-steps", t.eval_steps, "evaluate every N steps (default: at the end only)")
      ->check(non_negative_number());
  app.add_option("--save-steps", t.save_steps,
                 "write checkpoint-{step} (model, optimizer state, data position) every N steps (default 500; 0: "
                 "never); Ctrl-C also saves one")
      ->check(non_negative_number());
  app.add_option("--resume-from-checkpoint", t.resume_from_checkpoint,
                 "continue the run that wrote this checkpoint-{step} directory (model, optimizer, data position; "
                 "bit-identical to an uninterrupted run with the same flags)");
  app.add_flag("--gradient-checkpointing", t.gradient_checkpointing,
               "keep only each layer's input and recompute the layer in the backward (less memory, ~1/3 more time)");
  app.add_flag("--no-progress", a->no_progress, "no progress bar on a terminal (JSON log lines only)");
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
  app.add_option("--warmup-steps", t.warmup_steps, "linear warmup steps (default 0)")->check(non_negative_number());
  app.add_option("--max-steps", t.max_steps, "optimizer steps to run")->check(positive_number());
  app.add_option("--logging-steps", t.logging_steps, "log a JSON line every N steps (default 500)")
      ->check(non_negative_number());
  app.add_option("--trace", t.trace,
                 "also write loss.step{k}, grad_norm.step{k}, loss.final, param.<name>, param_step1.<name>, "
                 "exp_avg.<name>, exp_avg_sq.<name> to this safetensors file");
  CommonOptionsSpec spec;
  spec.training_seed = true;
  // Training draws a fresh random plan per step (the paper's intent) unless told otherwise.
  spec.default_plan = "seeded";
  add_common_options(app, a->common, spec);
  return [a] {
    a->common.check();
    a->t.seed = a->common.seed;
    a->t.forward = a->common.forward_options();
    a->t.forward.seed = a->common.seed;
    // Evaluation passes: the plan given, else zeros (HF >= 4.30's Trainer.evaluate runs in eval mode).
    a->t.eval_plan_source = a->common.plan_given() ? a->t.forward.plan_source : PlanSource::Zeros;
    a->t.progress = !a->no_progress;
    a->t.config_overrides = a->common.overrides();
    try {
      train::train(a->t, a->common.threading());
    } catch (const train::TrainingInterrupted& e) {
      std::fprintf(
          stderr, "interrupted (%s) after step %lld of %lld: saved %s; continue with --resume-from-checkpoint %s\n",
          e.signal == SIGINT    ? "SIGINT"
          : e.signal == SIGTERM ? "SIGTERM"
                                : "SIGHUP",
          static_cast<long long>(e.step), static_cast<long long>(e.total), e.checkpoint.c_str(), e.checkpoint.c_str());
      return 128 + e.signal;
    }
    return 0;
  };
}

}  // namespace bigbird::cli
