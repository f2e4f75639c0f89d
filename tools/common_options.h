// The options every model-running subcommand takes (forward, bench, generate, bench-decode,
// summarize, fill-mask, classify, qa, tag, embed), registered by one function with the same
// names, help text, validation and defaults everywhere:
//
//   --threads N                          0 (default): all cores
//   --attention block_sparse|original_full   default: the checkpoint's config.attention_type
//   --random-plan hf|seeded              hf (default): HF 4.27's numpy draw of the random blocks
//   --seed N                             seed of --random-plan seeded (default 0)
//   --dtype f32|bf16                     f32 (default, exact); bf16 opt-in (AVX512-BF16)
//
// An option a model or a command cannot honour is refused with one `error: ...` line (exit
// status 1), never ignored: --dtype bf16 on a CPU without AVX512-BF16 or in a command without a
// bf16 path; --seed without --random-plan seeded; --random-plan or --seed with --attention
// original_full (no random blocks). tokenize and compare run no model and take none of these.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "core/threading.h"
#include "models/bigbird_model.h"
#include "tasks/task.h"

namespace bigbird::cli {

struct CommonOptions {
  int threads = 0;                  // 0: all cores
  std::string attention;            // "" = config.attention_type; bench: a comma list
  std::string random_plan = "hf";   // hf | seeded
  std::string dtype = "f32";        // f32 | bf16
  uint64_t seed = 0;                // for --random-plan seeded

  // Checks the options against each other, this CPU and the command (see the top of this file),
  // then sets the thread count. Every model-running command calls it first, before any work.
  //
  // MERGE: this is the one place the thread count is applied. Today it calls apply_threads()
  // (global OpenMP + BLAS threads); once the library takes a ThreadingContext, build it here
  // (threading()) and hand it down instead.
  void apply() const;

  // What the library takes. threading() is for the merge and not called yet: constructing a
  // ThreadingContext pins OpenBLAS to one thread, which the global-threads path (apply_threads:
  // BLAS runs multi-threaded) does not expect.
  ThreadingContext threading() const { return ThreadingContext(threads); }
  std::optional<AttentionType> attention_type() const;  // nullopt: config.attention_type
  PlanSource plan_source() const { return random_plan == "seeded" ? PlanSource::Seeded : PlanSource::HF; }
  bool bf16() const { return dtype == "bf16"; }
  // attention, plan_source, seed, bf16 (the rest stays ForwardOptions' default).
  ForwardOptions forward_options() const;
  // attention, plan_source, seed (the task commands have no bf16 path: apply() refuses it).
  tasks::RunOptions run_options() const;

  // Throws `--dtype bf16: no bf16 path yet in <what>` when bf16 was asked for: for a path that
  // only runs float32 and is only known after registration (e.g. forward on a Pegasus checkpoint).
  void refuse_bf16(const std::string& what) const;
  // Once the model is loaded: refuses an explicit --random-plan/--seed when no --attention was
  // given and the model's config.attention_type is original_full (no random blocks).
  void check_model(AttentionType config_attention) const;

  // Set by add_common_options.
  std::string command;         // the subcommand's name, for messages
  std::string no_bf16;         // non-empty: what has no bf16 path here (for the message)
  bool attention_list = false;  // --attention takes a comma list (bench sweeps)
  const CLI::Option* random_plan_opt = nullptr;
  const CLI::Option* seed_opt = nullptr;
};

struct CommonOptionsSpec {
  // Non-empty: the command has no bf16 path; --dtype bf16 is refused, naming this (e.g. "the
  // BigBird-Pegasus model").
  std::string no_bf16;
  // --attention takes a comma list of values (bench runs one configuration per value).
  bool attention_list = false;
};

// Registers --threads, --attention, --random-plan, --seed and --dtype on `app`.
void add_common_options(CLI::App& app, CommonOptions& o, const CommonOptionsSpec& spec = {});

}  // namespace bigbird::cli
