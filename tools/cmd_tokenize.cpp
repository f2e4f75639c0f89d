// `bigbird tokenize`: ids, tokens and offsets as HF's tokenizer(text[, text_pair]) returns them
// (src/tasks/tokenize.h). --model may hold only the tokenizer files.
#include "commands.h"
#include "task_cli.h"
#include "tasks/tokenize.h"

namespace bigbird::cli {

Runner add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::TokenizeOptions>();
  auto no_special = std::make_shared<bool>(false);
  add_task_options(app, *a, tasks::InputKind::TextOrPair, /*needs_weights=*/false);
  app.add_option("--max-length", o->max_length, "truncate to this many tokens (longest_first; default: no truncation)")
      ->check(positive_number());
  app.add_flag("--no-special-tokens", *no_special, "do not add [CLS]/[SEP] (add_special_tokens=False)");
  return [a, o, no_special] {
    o->add_special_tokens = !*no_special;
    auto tm = tasks::TaskModel::load(a->model, a->tokenizer, /*with_weights=*/false);
    tasks::TokenizeTask task(*tm, *o);
    return run_task(*a, task, [&] { return single_text_input(*a); });
  };
}

}  // namespace bigbird::cli
