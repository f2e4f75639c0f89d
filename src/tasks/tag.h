// tag: HF TokenClassificationPipeline (transformers 4.27.1) on the fast-tokenizer path (we have
// offsets): per-token softmax over the labels, special tokens skipped, then
//  - aggregation "none": one {"entity", "score", "index", "word", "start", "end"} per token;
//  - "simple" (default): adjacent tokens with the same entity type (B-X I-X ...) grouped into
//    {"entity_group", "score" (mean), "word" (decoded text), "start", "end"};
//  - "first" / "average" / "max": tokens first merged into words (a token whose text does not
//    follow a space continues the word before it; <unk> always starts a word), the word's label
//    from its first token / its mean scores / its best token, then grouped as "simple".
// Entities labelled with one of ignore_labels (default "O") are dropped. start/end are code-point
// offsets into the text such that text[start:end] is the entity (a "▁" token's leading space is
// left out; a group of whitespace only is dropped; a lone "▁" token joins the word after it).
// Texts longer than the tokenizer's model_max_length are truncated, as HF does.
#pragma once
#include <vector>

#include "tasks/task.h"

namespace bigbird::tasks {

struct TagOptions {
  std::string aggregation = "simple";  // none | simple | first | average | max
  std::vector<std::string> ignore_labels = {"O"};
};

class TagTask : public Task {
 public:
  // Throws bigbird::Error if the model has no token-classification head or an option is bad.
  TagTask(const TaskModel& tm, TagOptions options);

  InputKind input_kind() const override { return InputKind::Text; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // [L, labels]
  json finish(const Item& item) const override;

 private:
  TagOptions options_;
};

}  // namespace bigbird::tasks
