// `bigbird qa`: HF QuestionAnsweringPipeline on a question-answering checkpoint
// (src/tasks/question_answering.h). Single input: a JSON object {"question", "context"} as the
// argument or on stdin, or --question Q --context FILE.
#include "commands.h"
#include "core/atomic_file.h"
#include "task_cli.h"
#include "tasks/question_answering.h"

namespace bigbird::cli {

Runner add_qa(CLI::App& app) {
  auto a = std::make_shared<TaskArgs>();
  auto o = std::make_shared<tasks::QaOptions>();
  auto question = std::make_shared<std::string>();
  auto context = std::make_shared<std::string>();
  add_task_options(app, *a, tasks::InputKind::QuestionContext);
  a->text_option =
      app.add_option("json", a->text, "the input as JSON: {\"question\": ..., \"context\": ...} (default: stdin)");
  app.add_option("--question", *question, "the question (with --context)");
  app.add_option("--context", *context, "file holding the context ('-': stdin) (with --question)");
  app.add_option("--top-k", o->top_k, "answers to return, best first (default 1)")->check(positive_number());
  app.add_option("--max-answer-len", o->max_answer_len, "longest answer in tokens (default 15)")
      ->check(positive_number());
  app.add_option("--max-seq-len", o->max_seq_len,
                 "tokens per window, padded to it (default min(384, model_max_length))")
      ->check(positive_number());
  app.add_option("--doc-stride", o->doc_stride,
                 "context tokens between window starts (default min(max-seq-len/2, 128); at least max-seq-len/64)")
      ->check(positive_number());
  app.add_option("--max-question-len", o->max_question_len, "question tokens kept (default 64)")
      ->check(positive_number());
  app.add_flag("--handle-impossible-answer", o->handle_impossible_answer,
               "also consider the empty answer (score of [CLS]), as HF's handle_impossible_answer=True");
  return [a, o, question, context] {
    auto single = [&] {
      if (!question->empty() || !context->empty()) {
        BB_CHECK(!question->empty() && !context->empty(), "give both --question and --context FILE");
        BB_CHECK(!a->text_given(), "give the input either as JSON or with --question/--context, not both");
        tasks::InputRecord r;
        r.question = *question;
        r.context = tasks::read_text_file(*context);
        tasks::check_text(r.question, "the question");
        tasks::check_text(r.context, "the context");
        return r;
      }
      std::string j = a->text_given() ? a->text
                                      : read_stdin_input(
                                            "give {\"question\": ..., \"context\": ...} as an argument or "
                                            "on stdin, --question Q --context FILE, or --input FILE.jsonl");
      if (j.empty()) tasks::input_fail("empty input");
      return tasks::parse_record(j, tasks::InputKind::QuestionContext);
    };
    BB_CHECK(a->input.empty() || (question->empty() && context->empty()),
             "give either --question/--context or --input FILE.jsonl, not both");
    check_output_is_not_input(a->output, "--output", *context, "--context");
    auto tm = load_task_model(*a);
    tasks::QaTask task(*tm, *o);
    return run_task(*a, task, single);
  };
}

}  // namespace bigbird::cli
