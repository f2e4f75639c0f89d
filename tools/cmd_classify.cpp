// `bigbird classify`: HF TextClassificationPipeline (top_k=None) on a sequence-classification
// checkpoint (src/tasks/classify.h).
#include "commands.h"
#include "long_input_flags.h"
#include "task_cli.h"
#include "tasks/classify.h"

namespace bigbird::cli {

Runner add_classify(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::ClassifyOptions>();
  auto top_k = std::make_shared<int>(0);
  add_task_options(app, *a, tasks::InputKind::TextOrPair);
  app.add_option("--top-k", *top_k, "keep the K best labels (default: all of id2label)")->check(positive_number());
  app.add_option("--function-to-apply", o->function_to_apply,
                 "softmax | sigmoid | none (default: HF's rule from num_labels and problem_type)")
      ->check(CLI::IsMember({"softmax", "sigmoid", "none"}));
  add_long_input_options(app, o->long_input, /*windows=*/true, /*aggregation=*/true);
  add_fasta_options(app, *a);
  return [a, o, top_k] {
    if (*top_k > 0) o->top_k = *top_k;
    const tasks::FastaOptions fasta = fasta_options(*a, o->long_input, "labels");
    auto tm = load_task_model(*a);
    tasks::ClassifyTask task(*tm, *o);
    return run_task(*a, task, [&] { return single_text_input(*a); }, {}, &fasta);
  };
}

}  // namespace bigbird::cli
