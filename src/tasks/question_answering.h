// qa: HF QuestionAnsweringPipeline (transformers 4.27.1) with its slow-tokenizer path
// (squad_convert_examples_to_features), which is what BigBirdTokenizer gets:
//  - the context is split into words at " ", "\t", "\r", "\n" and U+202F; each word is tokenized
//    on its own; the question is tokenized and cut to max_question_len tokens;
//  - windows [CLS] question [SEP] context tokens [SEP], padded to max_seq_len, start every
//    doc_stride context tokens (the last one reaches the end of the context);
//  - the model gets input_ids and attention_mask only (BigBird derives token types and masks the
//    question's logits itself);
//  - per window, start and end logits outside the context (question, special tokens, <unk>,
//    padding; [CLS] is kept) are set to -10000, softmax'ed, [CLS] zeroed; spans start <= end <
//    start + max_answer_len score p_start * p_end; each window gives its top_k;
//  - the answers of all windows sorted by score, top_k kept. An answer covers whole words:
//    "answer" = the words joined by one space, "start" = the first character of the first word,
//    "end" = the last character that SQuAD's char_to_word_offset maps to the last word (so the
//    whitespace after it; for the context's last word, its last character), in code points.
// Output: a list of {"score", "start", "end", "answer"}, best first (HF returns a bare object when
// it has one answer; we always return a list).
#pragma once
#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::tasks {

// kMaxWindowOverlap (tasks/long_input.h) bounds max_seq_len / doc_stride.

struct QaOptions {
  int top_k = 1;
  int max_answer_len = 15;
  int max_seq_len = -1;  // -1: min(tokenizer.model_max_length, 384)
  int doc_stride = -1;   // -1: min(max_seq_len / 2, 128); at least max_seq_len / kMaxWindowOverlap
  int max_question_len = 64;
  bool handle_impossible_answer = false;
};

class QaTask : public Task {
 public:
  // Throws bigbird::Error if the model has no question-answering head or an option is bad.
  QaTask(const TaskModel& tm, QaOptions options);

  InputKind input_kind() const override { return InputKind::QuestionContext; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // [L, 2], question masked
  json finish(const Item& item) const override;
  const QaOptions& options() const { return options_; }

 private:
  QaOptions options_;
};

}  // namespace bigbird::tasks
