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
// Texts longer than the tokenizer's model_max_length are truncated, as HF does (truncation=True
// is the pipeline's default), unless long_input.truncation is false (then they are an error).
// Windows (long_input.stride, tasks/long_input.h): each token's logits come from the window where
// it is furthest from a cut, i.e. max over windows of min(tokens of context before it in the
// window, after it), where the text's own start and end are not cuts; ties go to the earlier
// window. The entities are then made as above over the whole text, start/end into the whole
// text. (HF 4.27's pipeline instead resolves overlapping *entities* of the windows, longest then
// best-scored first, and only for aggregation != none; choosing per token works for every
// aggregation and gives each token the context of its best-centred window.)
#pragma once
#include <vector>

#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::tasks {

struct TagOptions {
  std::string aggregation = "simple";  // none | simple | first | average | max
  std::vector<std::string> ignore_labels = {"O"};
  // HF's pipeline truncates by default.
  LongInputOptions long_input = [] {
    LongInputOptions o;
    o.truncation = true;
    return o;
  }();
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
  LongInputs long_;
};

}  // namespace bigbird::tasks
