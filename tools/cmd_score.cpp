// `bigbird score`: a masked LM's pseudo-log-likelihood and bits per base (src/tasks/score.h), of
// a text, of each line of a JSONL file, or of each window of a FASTA file.
#include "commands.h"
#include "task_cli.h"
#include "tasks/score.h"

namespace bigbird::cli {

Runner add_score(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto stride = std::make_shared<tasks::LongInputOptions>();
  add_task_options(app, *a, tasks::InputKind::Text);
  add_fasta_options(app, *a);
  app.add_option("--stride", stride->stride, "with --fasta: tokens shared by consecutive windows (default 0)")
      ->check(CLI::NonNegativeNumber);
  return [a, stride] {
    const bool windows = stride->stride >= 0;
    const tasks::FastaOptions fasta = fasta_options(*a, *stride, "");
    BB_CHECK(!windows || !a->fasta.empty(), "--stride needs --fasta: score runs a text whole");
    auto tm = load_task_model(*a);
    tasks::ScoreTask task(*tm);
    return run_task(*a, task, [&] { return single_text_input(*a); }, {}, &fasta);
  };
}

}  // namespace bigbird::cli
