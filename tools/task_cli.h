// What the task commands (fill-mask, classify, qa, tag, embed, tokenize) share: the model,
// tokenizer, input and output options, single and batch (--input FILE.jsonl) mode.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common_options.h"
#include "tasks/fasta_input.h"
#include "tasks/jsonl.h"
#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::cli {

struct TaskArgs {
  std::string model, tokenizer;
  std::string text, text_pair, file;  // single mode
  std::string input, output;          // batch mode / where answers go
  int batch_size = 16;
  bool skip_bad_lines = false;
  bool no_progress = false;
  std::string fasta;                   // --fasta FILE (DNA windows, tasks/fasta_input.h)
  int64_t window = -1;                 // --window N
  std::string reverse_complement;      // --reverse-complement average
  CommonOptions common;                // --threads, --attention, --random-plan, --seed, --dtype (not tokenize)
  CLI::Option* text_option = nullptr;  // TEXT (or QA's JSON): given, even if empty?
  bool text_given() const { return text_option && text_option->count() > 0; }

  tasks::RunOptions run_options() const;
};

// Registers the shared options. `kind` decides the single-mode inputs: TEXT and --file for text
// tasks, plus --text-pair for pair tasks; QA registers its own (--question, --context, JSON).
// `needs_weights` = false: --model may hold only the tokenizer files, and no model runs, so the
// common options (common_options.h) are not registered; otherwise they are, with `common`.
void add_task_options(CLI::App& app, TaskArgs& a, tasks::InputKind kind, bool needs_weights = true);

// Refuses an --output that is an input: --input, --file, or a file of --model / --tokenizer.
void check_task_output(const TaskArgs& a);

// The checkpoint and tokenizer of a task command, after the common options are checked.
std::unique_ptr<tasks::TaskModel> load_task_model(const TaskArgs& a);

// The single-mode input of a text task: TEXT, else --file FILE, else stdin (not a terminal).
tasks::InputRecord single_text_input(const TaskArgs& a);

// Reads all of stdin; error when stdin is a terminal (nothing was given).
std::string read_stdin_input(const char* usage);

// --fasta, --window and --reverse-complement (embed, classify, score). `stride` is the command's
// --stride storage (its long-input flag, or score's own).
void add_fasta_options(CLI::App& app, TaskArgs& a);

// The FASTA run a command's flags ask for: the stride comes from the command's --stride (which
// then no longer windows single texts: `long_input` is reset), `field` names the answer.
tasks::FastaOptions fasta_options(const TaskArgs& a, tasks::LongInputOptions& long_input, const std::string& field);

using WriterFactory = std::function<std::unique_ptr<tasks::ResultWriter>(std::ostream&)>;

// Runs the task: batch mode with --input (JSONL in, one JSON line out per input), else on the
// single input `single()` returns. Answers go to --output (written atomically) or stdout.
// `make_writer` defaults to JSON lines. Returns the exit status.
// With `fasta` (and --fasta given), the task runs over the FASTA file's windows instead.
int run_task(const TaskArgs& a, const tasks::Task& task, const std::function<tasks::InputRecord()>& single,
             const WriterFactory& make_writer = {}, const tasks::FastaOptions* fasta = nullptr);

}  // namespace bigbird::cli
