// tokenize: what HF's tokenizer(text[, text_pair]) returns (special tokens added, no truncation
// unless max_length is set), as {"input_ids", "token_type_ids", "attention_mask", "tokens",
// "offsets"}; tokens = convert_ids_to_tokens(input_ids), offsets = [start, end) in code points of
// the text the token came from (HF fast tokenizers' offset_mapping; [0, 0] for added tokens).
// Needs only the tokenizer files.
#pragma once
#include "tasks/task.h"

namespace bigbird::tasks {

struct TokenizeOptions {
  int64_t max_length = -1;  // < 0: no truncation
  bool add_special_tokens = true;
};

class TokenizeTask : public Task {
 public:
  TokenizeTask(const TaskModel& tm, TokenizeOptions options);

  InputKind input_kind() const override { return InputKind::TextOrPair; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor&, const EncoderRow&, const ThreadingContext&) const override {
    return {};
  }  // no encoder rows
  json finish(const Item& item) const override;

 private:
  TokenizeOptions options_;
};

}  // namespace bigbird::tasks
