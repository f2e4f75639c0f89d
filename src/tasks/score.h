// score: a masked LM's pseudo-log-likelihood of a text (Salazar et al. 2020, "Masked Language
// Model Scoring"): each token of the text is masked in turn, alone, and the model's log-
// probability of the true token at that position is summed. For DNA this gives bits per base:
// -sum(log2 p) over the bases the scored tokens cover (per-base tokenizers: one base a token).
//
// Answer: {"pseudo_log_likelihood": sum of ln p (nats), "tokens": tokens scored,
//          "bases": characters they cover, "bits_per_base": -sum(log2 p) / bases}.
// A text of n tokens costs n forward passes (run --batch-size at a time, side by side).
// The text must fit the model (`--fasta` cuts records into windows that do) and must not itself
// contain the mask token.
#pragma once
#include "tasks/task.h"

namespace bigbird::tasks {

class ScoreTask : public Task {
 public:
  explicit ScoreTask(const TaskModel& tm);

  InputKind input_kind() const override { return InputKind::Text; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // the logits at the masked position [V]
  json finish(const Item& item) const override;
  // Both strands: the mean of their pseudo-log-likelihoods and bits per base.
  json finish_strands(const Item& forward, const Item& reverse) const override;
};

}  // namespace bigbird::tasks
