// Inputs longer than the model takes, for the text tasks (classify, embed, tag, fill-mask):
//  - truncation: cut as HF's tokenizer(text[, pair], truncation=True, max_length=M) does
//    (longest_first for pairs, [CLS]/[SEP] kept); M = --max-length, else the model's maximum;
//  - windows (--stride S): as HF's fast tokenizers make them with return_overflowing_tokens=True,
//    stride=S: each window is the input's special tokens around up to M - specials tokens of the
//    windowed text, consecutive windows share S tokens, the last one reaches the end (and is
//    shorter). For a pair the second text is windowed and the first is repeated in every window
//    (HF's only_second, as for QA). Each window is encoded on its own; the task combines the
//    windows' head outputs (combine(): element-wise mean or max).
// Without either, an input that does not fit is an InputError that names both flags.
//
// Memory: a document's windows are rows of one Item; run_items encodes --batch-size rows at a
// time and keeps only each row's head output (a few floats per label or hidden unit), never a
// window's activations, so memory is the token ids plus the head outputs: linear in the
// document's length with a small constant, whatever the number of windows.
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
  std::vector<EncoderRow> rows;
  // Without windows: the encoding of the one row (truncated when asked). With windows: the whole
  // input's encoding, untruncated; window w's token i (i in [0, spans[w].len)) is the encoding's
  // token `offset + spans[w].start + i`, at position `offset + i` of row w.
  Encoding encoding;
  std::vector<WindowSpan> spans;
  int64_t offset = 0;
  int64_t full_length = 0;  // tokens of the whole input, special tokens included
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
  // The windows' outputs (same shape each) combined element-wise by the aggregation, in double.
  Tensor combine(const std::vector<Tensor>& outputs) const;
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
