// embed: one vector per input from the encoder's last hidden state: the [CLS] token's
// ("cls"), the mean over all tokens, special tokens included ("mean", the default), or the
// pooler's tanh(W·h_cls + b) ("pooler", checkpoints that have one). Output: a JSON list of
// floats, or rows of a float32 .npy matrix [inputs, hidden] (NpyWriter). Long inputs
// (tasks/long_input.h): truncated, or windows whose pooled vectors are averaged (or max'ed).
#pragma once
#include <ostream>

#include "tasks/jsonl.h"
#include "tasks/long_input.h"
#include "tasks/task.h"

namespace bigbird::tasks {

struct EmbedOptions {
  std::string pooling = "mean";  // mean | cls | pooler
  // Truncation / windows over the text (the pair's second text). Truncated by default, as
  // embedding users expect (sentence-transformers cuts to max_seq_length; `bigbird serve`'s
  // /embed answers every input with the CLI's vector): --truncation false gives the error.
  LongInputOptions long_input = [] {
    LongInputOptions o;
    o.truncation = true;
    return o;
  }();
};

class EmbedTask : public Task {
 public:
  EmbedTask(const TaskModel& tm, EmbedOptions options);

  InputKind input_kind() const override { return InputKind::TextOrPair; }
  std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const override;
  Tensor head(const Tensor& sequence_output, const EncoderRow& row,
              const ThreadingContext& ctx) const override;  // [hidden]
  json finish(const Item& item) const override;
  // The mean of the two strands' vectors.
  json finish_strands(const Item& forward, const Item& reverse) const override;
  int64_t dim() const { return tm_.model().config().hidden_size; }

 private:
  EmbedOptions options_;
  LongInputs long_;
};

// Collects the vectors and writes them as one float32 .npy matrix [n, dim] on finish(). A
// skipped input becomes a row of NaN.
class NpyWriter : public ResultWriter {
 public:
  NpyWriter(std::ostream& out, int64_t dim) : out_(out), dim_(dim) {}
  void write(const json& answer) override;
  void write_error(const std::string& message) override;
  void finish() override;

 private:
  std::ostream& out_;
  int64_t dim_;
  std::vector<float> data_;
};

}  // namespace bigbird::tasks
