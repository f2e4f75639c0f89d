// `bigbird tag`: HF TokenClassificationPipeline on a token-classification checkpoint
// (src/tasks/tag.h).
#include <sstream>

#include "commands.h"
#include "long_input_flags.h"
#include "task_cli.h"
#include "tasks/tag.h"

namespace bigbird::cli {

Runner add_tag(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::TagOptions>();
  auto ignore = std::make_shared<std::string>("O");
  add_task_options(app, *a, tasks::InputKind::Text);
  app.add_option("--aggregation", o->aggregation, "none | simple (default) | first | average | max")
      ->check(CLI::IsMember({"none", "simple", "first", "average", "max"}));
  app.add_option("--ignore-labels", *ignore, "comma-separated labels to drop (default O; '' keeps all)");
  add_long_input_options(app, o->long_input, /*windows=*/true, /*aggregation=*/false);
  return [a, o, ignore] {
    o->ignore_labels.clear();
    std::stringstream ss(*ignore);
    for (std::string l; std::getline(ss, l, ',');)
      if (!l.empty()) o->ignore_labels.push_back(l);
    auto tm = load_task_model(*a);
    tasks::TagTask task(*tm, *o);
    return run_task(*a, task, [&] { return single_text_input(*a); });
  };
}

}  // namespace bigbird::cli
