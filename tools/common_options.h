// The options every model-running subcommand takes (forward, bench, generate, bench-decode,
// summarize, fill-mask, classify, qa, tag, embed, grad, train), registered by one function with
// the same names, help text, validation and defaults everywhere (except --random-plan's default,
// which follows the command, and train's --seed):
//
//   --threads N                          0 (default): all cores; at most kMaxThreads (1024): more is
//                                        refused (OpenMP would fail to start that many threads)
//   --attention block_sparse|original_full   default: the checkpoint's config.attention_type
//   --random-plan zeros|hf|seeded        which random blocks block-sparse attention uses (below)
//   --seed N                             seed of --random-plan seeded (default 0)
//   --dtype f32|bf16                     f32 (default, exact); bf16 opt-in (AVX512-BF16)
//   --config-overrides "k=v,k=v"         changes to the model's config.json at load (HF run_mlm's
//                                        syntax; models/config_overrides.h), e.g. window_blocks=5
//
// --random-plan, and the transformers version each value reproduces:
//   zeros   transformers >= 4.30 in eval mode (from_pretrained, pipelines, generate()): every
//           random block of every row is block 0, on both of HF's plan paths;
//   hf      HF's numpy draw seeded with the layer index: transformers 4.27-4.29 in any mode, and
//           every version's training mode (the draw HF's backward sees);
//   seeded  our own stateless draw from --seed (train: a fresh one every step).
// Its default depends on what the command stands for (CommonOptionsSpec::default_plan): zeros for
// every inference command (forward, generate, summarize, the task commands, bench, bench-decode),
// hf for grad (HF's training-mode gradients), seeded for train (a fresh plan per step; its
// evaluation passes use zeros, as HF's Trainer.evaluate in eval mode, unless --random-plan is given).
//
// An option a model or a command cannot honour is refused with one `error: ...` line (exit
// status 1), never ignored: --dtype bf16 on a CPU without AVX512-BF16; --seed without
// --random-plan seeded (it would change nothing). A random plan with full attention is accepted
// (there are no random blocks to draw; HF's models take the same settings). tokenize and compare
// run no model and take none of these.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/threading.h"
#include "models/bigbird_model.h"
#include "models/config_overrides.h"
#include "tasks/task.h"

namespace bigbird::cli {

// The most threads --threads takes (oversubscribing the cores is allowed up to this).
constexpr int kMaxThreads = 1024;

struct CommonOptions {
  int threads = 0;                    // 0: all cores
  std::string attention;              // "" = config.attention_type; bench: a comma list
  std::string random_plan = "zeros";  // zeros | hf | seeded (default: CommonOptionsSpec::default_plan)
  std::string dtype = "f32";          // f32 | bf16
  uint64_t seed = 0;                  // for --random-plan seeded
  std::string config_overrides;       // --config-overrides "key=value,..." (models/config_overrides.h)

  // Checks the options against each other and this CPU (see the top of this file). Every
  // model-running command calls it first, before any work.
  void check() const;

  // What the library takes: the threads of the run (made once per command, passed down), the
  // forward options, the task commands' run options.
  ThreadingContext threading() const { return ThreadingContext(threads); }
  std::optional<AttentionType> attention_type() const;  // nullopt: config.attention_type
  PlanSource plan_source() const { return parse_plan_source(random_plan); }
  Precision precision() const { return parse_precision(dtype); }
  ConfigOverrides overrides() const { return parse_config_overrides(config_overrides); }
  ForwardOptions forward_options() const;  // attention, plan_source, seed, precision
  tasks::RunOptions run_options() const;   // the same, and the threads

  // Set by add_common_options.
  std::string command;          // the subcommand's name, for messages
  bool attention_list = false;  // --attention takes a comma list (bench sweeps)
  bool training_seed = false;   // --seed is the training seed (train)
  const CLI::Option* seed_opt = nullptr;
  const CLI::Option* plan_opt = nullptr;
  bool plan_given() const;  // --random-plan was on the command line
};

struct CommonOptionsSpec {
  // --attention takes a comma list of values (bench runs one configuration per value).
  bool attention_list = false;
  // `train`: --seed is HF TrainingArguments' seed (default 42): data order, masking, new heads,
  // and the seeded random plans; it is never refused.
  bool training_seed = false;
  // --random-plan's default: "zeros" (inference: transformers >= 4.30 in eval mode), "hf" (grad:
  // HF's training mode) or "seeded" (train: a fresh plan per step).
  std::string default_plan = "zeros";
};

// Checks of numeric flags with one-line messages ("--batch-size: '0' is not a positive number"),
// in place of CLI11's PositiveNumber / NonNegativeNumber (whose messages print the range).
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Refuses an output (`flag` PATH) that is one of the files of the checkpoint or tokenizer
// directory `dir` (config.json, model.safetensors, the tokenizer files): writing it would destroy
// the model. Compares real paths (links, ./ and ../ included).
void check_output_is_not_in_model(const std::string& output, const char* flag, const std::string& dir);

// "a,b,,c" -> {"a", "b", "c"}: the comma lists of the options (bench sweeps).
std::vector<std::string> split_list(const std::string& s);

// Registers --threads, --attention, --random-plan, --seed and --dtype on `app`.
void add_common_options(CLI::App& app, CommonOptions& o, const CommonOptionsSpec& spec = {});

}  // namespace bigbird::cli
