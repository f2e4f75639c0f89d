// `bigbird summarize`: HF SummarizationPipeline on a BigBird-Pegasus checkpoint (src/tasks/summarize.h).
// Text in (argument, --file, stdin, or --input FILE.jsonl), [{"summary_text": ...}] out; every
// generation flag of `bigbird generate`.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "generation_flags.h"
#include "task_cli.h"
#include "tasks/summarize.h"

namespace bigbird::cli {

namespace {

struct SummarizeArgs {
  TaskArgs task;
  GenerationFlags gen;
  std::string truncation = "true";
  std::string clean_up = "false";
};

bool parse_bool(const char* flag, const std::string& s) {
  if (s == "true" || s == "True" || s == "1") return true;
  if (s == "false" || s == "False" || s == "0") return false;
  fail("--", flag, ": '", s, "' is not true or false");
}

std::string single_text(const TaskArgs& a) {
  BB_CHECK(!a.text_given() || a.file.empty(), "give the text either as an argument or with --file, not both");
  if (!a.file.empty()) return tasks::read_text_file(a.file);
  if (a.text_given()) return a.text == "-" ? tasks::read_text_file("-") : a.text;
  return read_stdin_input("give a TEXT argument, --file FILE, --input FILE.jsonl, or pipe the text on stdin");
}

int run(const SummarizeArgs& sa) {
  const TaskArgs& a = sa.task;
  const bool batch = !a.input.empty();
  if (batch)
    BB_CHECK(!a.text_given() && a.file.empty(),
             "give either a single input (TEXT, --file) or --input FILE.jsonl, not both");
  a.common.check();
  check_task_output(a);
  auto s = tasks::Summarizer::load(a.model, a.tokenizer, a.common.overrides());

  tasks::SummarizeOptions o;
  o.generation = apply_generation_flags(sa.gen, s->default_generation());
  validate_generation(o.generation, s->model().config().vocab_size, 1);  // a bad flag fails before any work
  o.truncation = parse_bool("truncation", sa.truncation);
  o.clean_up_tokenization_spaces = parse_bool("clean-up-tokenization-spaces", sa.clean_up);
  o.batch_size = a.batch_size;
  o.plan_source = a.common.plan_source();
  o.seed = a.common.seed;
  o.attention = a.common.attention_type();
  o.precision = a.common.precision();
  o.threading = a.common.threading();
  const bool progress = !a.no_progress && ::isatty(STDERR_FILENO);

  tasks::SummaryInput one;
  if (!batch) {  // before creating the output file: a bad input leaves nothing behind
    one = s->prepare(single_text(a), o);
    if (one.truncated())
      std::fprintf(stderr, "warning: the input is %lld tokens long, truncated to %lld (the model's limit)\n",
                   static_cast<long long>(one.full_length), static_cast<long long>(one.input_ids.size()));
  }

  tasks::OutputSink sink(a.output);
  tasks::JsonLinesWriter writer(sink.stream());
  if (!batch) {
    tasks::TokenProgress bar(progress, false, 1);
    const GenerationResult r = s->generate(one, o, [&] { bar.token(); });
    bar.done();
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    writer.write(s->answer(r, o));
  } else {
    tasks::SummarizeBatchOptions bo;
    bo.run = o;
    bo.skip_bad_lines = a.skip_bad_lines;
    bo.progress = progress;
    tasks::BatchStats stats;
    if (a.input == "-") {
      bo.source = "stdin";
      stats = tasks::summarize_jsonl(*s, std::cin, -1, writer, bo);
    } else {
      BB_CHECK(!std::filesystem::is_directory(a.input), "cannot read '", a.input, "': it is a directory");
      std::ifstream in(a.input, std::ios::binary);
      if (!in) fail("cannot read '", a.input, "': ", std::strerror(errno));
      bo.source = a.input;
      stats = tasks::summarize_jsonl(*s, in, progress ? tasks::count_records(a.input) : -1, writer, bo);
    }
    if (stats.bad > 0)
      std::fprintf(stderr, "warning: %lld of %lld inputs skipped\n", static_cast<long long>(stats.bad),
                   static_cast<long long>(stats.inputs));
  }
  writer.finish();
  sink.commit();
  return 0;
}

}  // namespace

Runner add_summarize(CLI::App& app) {
  auto sa = std::make_shared<SummarizeArgs>();
  add_task_options(app, sa->task, tasks::InputKind::Text, true);
  sa->task.text_option->description("the text to summarize ('-': stdin; default: --file, or stdin)");
  add_generation_flags(app, sa->gen);
  app.add_option("--truncation", sa->truncation,
                 "true (default): cut inputs longer than the model takes, as the tokenizer's truncation=True; "
                 "false: such an input is an error");
  app.add_option("--clean-up-tokenization-spaces", sa->clean_up,
                 "false (default, as the pipeline): decode without HF's clean-up of spaces before punctuation");
  return [sa] { return run(*sa); };
}

}  // namespace bigbird::cli
