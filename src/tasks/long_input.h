// Inputs longer than the model takes, for the text tasks (classify, embed, tag, fill-mask):
//  - truncation: cut as HF's tokenizer(text[, pair], truncation=True, max_length=M) does
//    (longest_first for pairs, [CLS]/[SEP] kept); M = --max-length, else the model's maximum;
//  - windows (--stride S): as HF's fast tokenizers make them with return_overflowing_tokens=True,
//    stride=S: each window is the input's special tokens around up to M - specials tokens of the
//    windowed text, consecutive windows share S tokens, the last one reaches the end (and is
//    shorter). For a pair the second text is windowed and the first is repeated in every window
//    (HF's only_second, as for QA). Each window is encoded on its own; the task reduces the
//    windows' head outputs as they come (WindowPool: element-wise mean or max).
// Without either, an input that does not fit is an InputError that names both flags.
//
// Memory: a document's windows are made while it runs (Item::windows, WindowedItem): run_items
// builds --batch-size windows at a time, encodes them side by side and hands each head output to
// the task, which reduces it at once (a running sum or maximum; tag copies each token's scores
// from its chosen window). So memory is the document's tokenization plus one batch of windows,
// whatever the number of windows.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"

namespace bigbird::tasks {

// The most windows one token may fall in (window room / step): a smaller step is refused, as it
// only repeats work (QA's doc_stride 1, or --stride room - 1, encodes one window per token).
constexpr int kMaxWindowOverlap = 64;

struct LongInputOptions {
  bool truncation = false;
  int64_t stride = -1;               // >= 0: windows sharing `stride` tokens; < 0: no windows
  std::string aggregation = "mean";  // how windows' outputs combine: mean | max
  int64_t max_length = -1;           // tokens per input or window, specials included; < 0: the model's maximum
  bool windows() const { return stride >= 0; }
};

// Tokens [start, start + len) of a windowed sequence.
struct WindowSpan {
  int64_t start, len;
};

// Windows over n tokens, at most `room` tokens each, one starting every `step` tokens, until one
// reaches the end (n <= room: one window) or, with step > room, until the next would start at
// or past n. HF's overflowing tokens with stride S: step = room - S;
// QA's doc_stride: step = doc_stride.
std::vector<WindowSpan> window_spans(int64_t n, int64_t room, int64_t step);

// The encoder rows of one input.
struct LongRows {
  // Without windows: the one row (truncated when asked). With windows: empty (see window()).
  std::vector<EncoderRow> rows;
  // Without windows: the encoding of the one row. With windows: the whole input's encoding,
  // untruncated; window w's token i (i in [0, spans[w].len)) is the encoding's token
  // `offset + spans[w].start + i`, at position `offset + i` of row w.
  Encoding encoding;
  std::vector<WindowSpan> spans;  // empty without windows
  int64_t offset = 0;
  int64_t text_end = 0;  // one past the windowed text's last token in `encoding`
  int64_t full_length = 0;  // tokens of the whole input, special tokens included

  // Row of window w: the tokens before the windowed text, its span, the tokens after it.
  EncoderRow window(size_t w) const;
  // Tokens of each window.
  std::vector<int64_t> window_lengths() const;
};

// Element-wise mean (in double, in window order) or maximum of the windows' outputs, one at a time.
class WindowPool {
 public:
  explicit WindowPool(std::string aggregation = "mean") : aggregation_(std::move(aggregation)) {}
  void add(const Tensor& t);
  Tensor result() const;  // Error before the first add
  int64_t count() const { return count_; }

 private:
  std::string aggregation_;
  Tensor first_;  // the first output (its shape; the running maximum)
  std::vector<double> sum_;
  int64_t count_ = 0;
};

// An Item whose input may run as windows: with spans, run_items makes its windows batch by batch
// (Item::windows) and take_window reduces each; without, its one row runs as any other.
struct WindowedItem : Item {
  LongRows input;
  int64_t windows() const override { return static_cast<int64_t>(input.spans.size()); }
  EncoderRow make_window(int64_t w) const override { return input.window(static_cast<size_t>(w)); }
  std::vector<int64_t> row_lengths() const override {
    std::vector<int64_t> n = Item::row_lengths();
    for (int64_t w : input.window_lengths()) n.push_back(w);
    return n;
  }
};

// classify and embed: the windows' head outputs pooled (mean or max), or the one row's output.
struct PooledItem : WindowedItem {
  WindowPool pool;
  void take_window(int64_t, Tensor&& output) override { pool.add(output); }
  Tensor result() const { return windows() > 0 ? pool.result() : outputs.at(0); }
};

class LongInputs {
 public:
  // `task` names the command in messages; `windows_allowed` = whether --stride is offered.
  // Throws bigbird::Error on a bad option (a --max-length the model cannot take, a --stride that
  // leaves no room, an unknown aggregation).
  LongInputs(const TaskModel& tm, LongInputOptions options, std::string task, bool windows_allowed);

  // Tokenizes (text, pair) into rows: one row (truncated when asked), or windows. InputError
  // when the input does not fit and neither truncation nor windows are on, or a pair's first text
  // leaves no room for windows of the second.
  LongRows prepare(std::string_view text, std::optional<std::string_view> pair, const RunOptions& opt) const;
  // Prepares a PooledItem (classify, embed): rows or windows, and the pool of the aggregation.
  std::unique_ptr<PooledItem> prepare_pooled(std::string_view text, std::optional<std::string_view> pair,
                                             const RunOptions& opt) const;
  // Tokens per input or window (--max-length, else the most the model takes).
  int64_t limit(const RunOptions& opt) const;
  const LongInputOptions& options() const { return options_; }

 private:
  const TaskModel& tm_;
  LongInputOptions options_;
  std::string task_;
  bool windows_allowed_;
};

}  // namespace bigbird::tasks
