#include "task_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace bigbird::cli {

tasks::RunOptions TaskArgs::run_options() const {
  tasks::RunOptions o = common.run_options();
  o.batch_size = batch_size;
  return o;
}

void check_task_output(const TaskArgs& a) {
  check_output_is_not_input(a.output, "--output", a.input, "--input");
  check_output_is_not_input(a.output, "--output", a.file, "--file");
  check_output_is_not_in_model(a.output, "--output", a.model);
  check_output_is_not_in_model(a.output, "--output", a.tokenizer);
}

std::unique_ptr<tasks::TaskModel> load_task_model(const TaskArgs& a) {
  a.common.check();
  check_task_output(a);
  return tasks::TaskModel::load(a.model, a.tokenizer, /*with_weights=*/true, a.common.overrides());
}

void add_task_options(CLI::App& app, TaskArgs& a, tasks::InputKind kind, bool needs_weights) {
  app.add_option("--model", a.model,
                 needs_weights
                     ? "checkpoint directory as HF saves it (config.json, model.safetensors, and the tokenizer "
                       "files unless --tokenizer is given)"
                     : "directory with the tokenizer files (spiece.model or tokenizer.json, ...)")
      ->required();
  app.add_option("--tokenizer", a.tokenizer,
                 "directory with spiece.model or tokenizer.json, tokenizer_config.json, special_tokens_map.json "
                 "(default: --model)");
  if (kind != tasks::InputKind::QuestionContext) {
    a.text_option = app.add_option("text", a.text, "the input text (default: --file, or stdin)");
    if (kind == tasks::InputKind::TextOrPair) app.add_option("--text-pair", a.text_pair, "second text of a pair");
    app.add_option("--file", a.file, "read the input text from this file ('-': stdin)");
  }
  app.add_option("--input", a.input, "batch mode: JSONL file ('-': stdin), one JSON object per line");
  app.add_option("--output", a.output, "write the answers here (atomically) instead of stdout");
  app.add_option("--batch-size", a.batch_size, "inputs run side by side, one thread each (default 16)")
      ->check(positive_number());
  app.add_flag("--skip-bad-lines", a.skip_bad_lines,
               "batch mode: answer a bad line with {\"error\": ...} and go on instead of stopping");
  app.add_flag("--no-progress", a.no_progress, "no progress bar on stderr");
  if (needs_weights) add_common_options(app, a.common);
}

void add_fasta_options(CLI::App& app, TaskArgs& a) {
  CLI::Option* fasta =
      app.add_option("--fasta", a.fasta,
                     "DNA input: a FASTA file (plain or gzip, '-': stdin), each record cut into windows; one output "
                     "line per window: {\"record\", \"start\", \"end\", ...} (bases, 0-based, end-exclusive); "
                     "--truncation and --aggregation are for text inputs");
  // Each window is its own answer: the text inputs' truncation and window pooling do not apply.
  for (const char* name : {"--truncation", "--aggregation"})
    if (CLI::Option* o = app.get_option_no_throw(name)) fasta->excludes(o);
  app.add_option("--window", a.window,
                 "with --fasta: tokens per window, special tokens included (default: the model's maximum); "
                 "--stride S: tokens shared by consecutive windows (default 0)")
      ->check(CLI::PositiveNumber);
  app.add_option("--reverse-complement", a.reverse_complement,
                 "with --fasta: average: run each window and its reverse complement and average the answers")
      ->check(CLI::IsMember({"average"}));
}

tasks::FastaOptions fasta_options(const TaskArgs& a, tasks::LongInputOptions& long_input, const std::string& field) {
  tasks::FastaOptions f;
  if (a.fasta.empty()) {
    BB_CHECK(a.window < 0, "--window needs --fasta (text inputs take --max-length and --stride)");
    BB_CHECK(a.reverse_complement.empty(), "--reverse-complement needs --fasta");
    return f;
  }
  f.path = a.fasta;
  f.window = a.window;
  f.stride = long_input.stride < 0 ? 0 : long_input.stride;
  BB_CHECK(long_input.max_length < 0, "--max-length is for text inputs: with --fasta give --window");
  f.reverse_complement = a.reverse_complement == "average";
  f.field = field;
  long_input = tasks::LongInputOptions{};  // each window fits: no truncation, no windows inside it
  return f;
}

std::string read_stdin_input(const char* usage) {
  if (::isatty(STDIN_FILENO)) fail("no input: ", usage);
  return tasks::read_text_file("-");
}

tasks::InputRecord single_text_input(const TaskArgs& a) {
  tasks::InputRecord r;
  BB_CHECK(!a.text_given() || a.file.empty(), "give the text either as an argument or with --file, not both");
  if (!a.file.empty()) r.text = tasks::read_text_file(a.file);
  else if (a.text_given()) r.text = a.text;
  else r.text = read_stdin_input("give a TEXT argument, --file FILE, --input FILE.jsonl, or pipe the text on stdin");
  if (r.text.empty()) tasks::input_fail("empty input: the text is empty");
  if (!a.text_pair.empty()) r.text_pair = a.text_pair;
  return r;
}

int run_task(const TaskArgs& a, const tasks::Task& task, const std::function<tasks::InputRecord()>& single,
             const WriterFactory& make_writer, const tasks::FastaOptions* fasta) {
  if (fasta && !a.fasta.empty()) {
    BB_CHECK(!a.text_given() && a.file.empty() && a.text_pair.empty() && a.input.empty(),
             "give either --fasta FILE or a text input (TEXT, --file, --text-pair, --input), not both");
    check_output_is_not_input(a.output, "--output", a.fasta, "--fasta");
    check_task_output(a);
    tasks::OutputSink sink(a.output);
    tasks::FastaOptions fo = *fasta;
    std::unique_ptr<tasks::ResultWriter> writer;
    if (make_writer) {
      writer = make_writer(sink.stream());
      fo.raw = true;
    } else {
      writer = std::make_unique<tasks::JsonLinesWriter>(sink.stream());
    }
    const tasks::FastaStats st =
        tasks::run_fasta(task, fo, *writer, a.run_options(), !a.no_progress && ::isatty(STDERR_FILENO));
    writer->finish();
    sink.commit();
    std::fprintf(stderr, "%lld records, %lld windows, %lld bases in %.1f s (%.0f bases/s)",
                 static_cast<long long>(st.records), static_cast<long long>(st.windows),
                 static_cast<long long>(st.bases), st.seconds, st.seconds > 0 ? st.bases / st.seconds : 0.0);
    if (st.scored_bases > 0)
      std::fprintf(stderr, "; %.4f bits per base over the windows", st.bits / static_cast<double>(st.scored_bases));
    std::fprintf(stderr, "\n");
    return 0;
  }
  const bool batch = !a.input.empty();
  if (batch)
    BB_CHECK(!a.text_given() && a.file.empty() && a.text_pair.empty(),
             "give either a single input (TEXT, --file, --text-pair) or --input FILE.jsonl, not both");
  check_task_output(a);
  tasks::RunOptions run = a.run_options();
  tasks::InputRecord one;
  if (!batch) one = single();  // before creating the output file: a bad input leaves nothing behind

  tasks::OutputSink sink(a.output);
  std::unique_ptr<tasks::ResultWriter> writer =
      make_writer ? make_writer(sink.stream()) : std::make_unique<tasks::JsonLinesWriter>(sink.stream());
  if (!batch) {
    writer->write(tasks::run_one(task, one, run));
  } else {
    tasks::BatchOptions bo;
    bo.run = run;
    bo.skip_bad_lines = a.skip_bad_lines;
    bo.progress = !a.no_progress && ::isatty(STDERR_FILENO);
    int64_t total = -1;
    tasks::BatchStats stats;
    if (a.input == "-") {
      bo.source = "stdin";
      stats = tasks::run_jsonl(task, std::cin, total, *writer, bo);
    } else {
      BB_CHECK(!std::filesystem::is_directory(a.input), "cannot read '", a.input, "': it is a directory");
      std::ifstream in(a.input, std::ios::binary);
      if (!in) fail("cannot read '", a.input, "': ", std::strerror(errno));
      bo.source = a.input;
      if (bo.progress) total = tasks::count_records(a.input);
      stats = tasks::run_jsonl(task, in, total, *writer, bo);
    }
    if (stats.bad > 0)
      std::fprintf(stderr, "warning: %lld of %lld inputs skipped\n", static_cast<long long>(stats.bad),
                   static_cast<long long>(stats.inputs));
  }
  writer->finish();
  sink.commit();
  return 0;
}

}  // namespace bigbird::cli
