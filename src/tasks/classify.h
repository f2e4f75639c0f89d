// classify: HF TextClassificationPipeline (transformers 4.27.1) called with top_k=None: every
// label of id2label as {"label", "score"}, best first (ties keep label order), or the first
// top_k. The scores are softmax(logits) for a single-label model (num_labels > 1), sigmoid for
// num_labels == 1 or problem_type "multi_label_classification" (HF's function_to_apply rule),
// unless function_to_apply says otherwise. Input: a text or a text pair ([CLS] A [SEP] B [SEP]).
// Long inputs (tasks/long_input.h): truncated, or windows whose logits are averaged (or their
// element-wise max taken) before the function is applied.
#pragma once
#include <optional>

#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::tasks {

struct ClassifyOptions {
  std::optional<int> top_k;       // all labels when unset
  std::string function_to_apply;  // "" (HF's rule), "softmax", "sigmoid" or "none"
  LongInputOptions long_input;    // truncation / windows over the text (the pair's second text)
};

class ClassifyTask : public Task {
 public:
  // Throws bigbird::Error if the model has no sequence-classification head or an option is bad.
  ClassifyTask(const TaskModel& tm, ClassifyOptions options);

  InputKind input_kind() const override { return InputKind::TextOrPair; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // [num_labels]
  json finish(const Item& item) const override;
  // The mean of the two strands' scores (after the function), best first.
  json finish_strands(const Item& forward, const Item& reverse) const override;
  // The function applied to the logits ("softmax", "sigmoid" or "none").
  const std::string& function_to_apply() const { return function_; }

 private:
  std::vector<float> scores(const Item& item) const;  // the function applied to the item's logits
  json ranked(const std::vector<float>& scores) const;  // [{"label", "score"}], best first, top_k

  ClassifyOptions options_;
  std::string function_;
  LongInputs long_;
};

}  // namespace bigbird::tasks
