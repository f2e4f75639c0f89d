// `bigbird fill-mask`: HF FillMaskPipeline on a masked-LM checkpoint (src/tasks/fill_mask.h).
#include "commands.h"
#include "long_input_flags.h"
#include "task_cli.h"
#include "tasks/fill_mask.h"

namespace bigbird::cli {

Runner add_fill_mask(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::FillMaskOptions>();
  add_task_options(app, *a, tasks::InputKind::Text);
  app.add_option("--top-k", o->top_k, "candidates per [MASK], best first (default 5)");
  add_long_input_options(app, o->long_input, /*windows=*/false, /*aggregation=*/false);
  return [a, o] {
    auto tm = load_task_model(*a);
    tasks::FillMaskTask task(*tm, *o);
    return run_task(*a, task, [&] { return single_text_input(*a); });
  };
}

}  // namespace bigbird::cli
