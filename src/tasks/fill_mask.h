// fill-mask: HF FillMaskPipeline (transformers 4.27.1). For each [MASK] of the text, the top_k
// tokens by probability (softmax of the masked-LM logits at that position), each as
// {"score", "token", "token_str", "sequence"}: token_str = decode([token]); sequence = the input
// ids with that one mask filled, padding ids dropped, decoded with skip_special_tokens when the
// text has a single mask (kept when it has several, so the other masks stay visible). One mask:
// a list of candidates, best first; several masks: one such list per mask, in text order.
// Long inputs: truncated when asked (tasks/long_input.h; the masks must survive the cut), no windows.
#pragma once
#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::tasks {

struct FillMaskOptions {
  int top_k = 5;
  LongInputOptions long_input;  // truncation only (stride must stay unset)
};

class FillMaskTask : public Task {
 public:
  // Throws bigbird::Error if the model has no masked-LM head, the tokenizer no mask token, or
  // top_k is outside [1, vocab_size].
  FillMaskTask(const TaskModel& tm, FillMaskOptions options);

  InputKind input_kind() const override { return InputKind::Text; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // [masks, vocab]
  json finish(const Item& item) const override;

 private:
  FillMaskOptions options_;
  LongInputs long_;
};

}  // namespace bigbird::tasks
