// `bigbird embed`: one vector per input (src/tasks/embed.h), as JSON or a .npy matrix.
#include "commands.h"
#include "long_input_flags.h"
#include "task_cli.h"
#include "tasks/embed.h"

namespace bigbird::cli {

Runner add_embed(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::EmbedOptions>();
  auto format = std::make_shared<std::string>();
  add_task_options(app, *a, tasks::InputKind::TextOrPair);
  app.add_option("--pooling", o->pooling, "mean (default, over all tokens) | cls | pooler")
      ->check(CLI::IsMember({"mean", "cls", "pooler"}));
  app.add_option("--format", *format, "json | npy (default: npy when --output ends in .npy, else json)")
      ->check(CLI::IsMember({"json", "npy"}));
  add_long_input_options(app, o->long_input, /*windows=*/true, /*aggregation=*/true);
  add_fasta_options(app, *a);
  return [a, o, format] {
    const tasks::FastaOptions fasta = fasta_options(*a, o->long_input, "embedding");
    const bool npy = *format == "npy" || (format->empty() && a->output.size() > 4 &&
                                          a->output.compare(a->output.size() - 4, 4, ".npy") == 0);
    BB_CHECK(!npy || !a->output.empty(), "--format npy needs --output FILE.npy");
    auto tm = load_task_model(*a);
    tasks::EmbedTask task(*tm, *o);
    WriterFactory writer;
    if (npy) writer = [&](std::ostream& out) { return std::make_unique<tasks::NpyWriter>(out, task.dim()); };
    return run_task(
        *a, task, [&] { return single_text_input(*a); }, writer, &fasta);
  };
}

}  // namespace bigbird::cli
