#include "tasks/long_input.h"

#include <algorithm>
#include <limits>

namespace bigbird::tasks {

std::vector<WindowSpan> window_spans(int64_t n, int64_t room, int64_t step) {
  BB_CHECK(room >= 1 && step >= 1, "window_spans: room ", room, " and step ", step, " must be positive");
  std::vector<WindowSpan> out;
  // A step larger than the room (QA: a long question) skips tokens; the windows then end once
  // one would start past the last token.
  for (int64_t start = 0; start == 0 || start < n; start += step) {
    out.push_back({start, std::min(room, n - start)});
    if (n - start <= room) break;  // this window reaches the end
  }
  return out;
}

LongInputs::LongInputs(const TaskModel& tm, LongInputOptions options, std::string task, bool windows_allowed)
    : tm_(tm), options_(std::move(options)), task_(std::move(task)), windows_allowed_(windows_allowed) {
  const std::string& a = options_.aggregation;
  BB_CHECK(a == "mean" || a == "max", "unknown aggregation '", a, "' (expected mean or max)");
  BB_CHECK(!options_.windows() || windows_allowed_, task_,
           " does not split inputs into windows: --stride is not offered");
  BB_CHECK(options_.max_length < 0 || options_.truncation || options_.windows(), "--max-length ", options_.max_length,
           " needs --truncation true or --stride S (", task_, " does not cut inputs otherwise)");
  const RunOptions ro;
  if (options_.max_length >= 0) {
    const int64_t specials = tm_.tokenizer().num_special_tokens_to_add(false);
    BB_CHECK(options_.max_length > specials, "--max-length ", options_.max_length,
             " leaves no room for text: the special tokens alone take ", specials);
    BB_CHECK(tm_.fits(options_.max_length, ro), "--max-length ", options_.max_length,
             " is longer than the model takes (", tm_.max_tokens(ro), ", max_position_embeddings)");
  }
  if (options_.windows()) {
    const int64_t room = limit(ro) - tm_.tokenizer().num_special_tokens_to_add(false);
    BB_CHECK(options_.stride < room, "--stride ", options_.stride, " is too large: a window holds ", room,
             " tokens of text (", limit(ro),
             " with its special tokens), and consecutive windows must differ; use at most ", room - 1);
    const int64_t step = room - options_.stride;
    BB_CHECK(step * kMaxWindowOverlap >= room, "--stride ", options_.stride, " is too large for windows of ", room,
             " tokens of text: each token would be encoded up to ", room / step, " times (the limit is ",
             kMaxWindowOverlap, "); use at most ", room - (room + kMaxWindowOverlap - 1) / kMaxWindowOverlap);
  }
}

int64_t LongInputs::limit(const RunOptions& opt) const {
  const int64_t model_max = std::min(tm_.tokenizer().model_max_length(), tm_.max_tokens(opt));
  return options_.max_length >= 0 ? std::min(options_.max_length, model_max) : model_max;
}

LongRows LongInputs::prepare(std::string_view text, std::optional<std::string_view> pair, const RunOptions& opt) const {
  const Tokenizer& tok = tm_.tokenizer();
  const int64_t M = limit(opt);
  LongRows out;
  if (!options_.windows()) {
    EncodeOptions eo;
    if (options_.truncation) {
      eo.max_length = M;  // HF truncation=True: longest_first, special tokens kept
      eo.truncation = Truncation::LongestFirst;
    }
    out.encoding = tok.encode(text, pair, eo);
    const int64_t n = static_cast<int64_t>(out.encoding.size());
    if (!tm_.fits(n, opt)) {
      const std::string how = windows_allowed_ ? ", or --stride S to run it in overlapping windows" : "";
      throw TooLongError(detail::concat(
          "the input is ", n, " tokens long (special tokens included) but the model takes at most ", M,
          " (max_position_embeddings ", tm_.model().config().max_position_embeddings,
          "): give --truncation true to keep its first ", M, " tokens", how,
          windows_allowed_ ? "" : std::string(" (") + task_ + " does not split inputs into windows)",
          ", or shorten the text"));
    }
    out.full_length = n;
    out.rows.push_back(EncoderRow{out.encoding.input_ids, {}, {}});
    return out;
  }

  out.encoding = tok.encode(text, pair);
  const int64_t total = static_cast<int64_t>(out.encoding.size());
  out.full_length = total;
  // The windowed text: the pair's second text, else the text.
  const int64_t seg = pair ? 1 : 0;
  int64_t b = -1, e = -1;
  for (int64_t i = 0; i < total; ++i)
    if (out.encoding.sequence_ids[static_cast<size_t>(i)] == seg) {
      if (b < 0) b = i;
      e = i + 1;
    }
  if (b < 0) b = e = total - 1;  // an empty text: the one window is the whole input
  const int64_t n = e - b, others = total - n;
  out.offset = b;
  if (total <= M) {
    out.spans.push_back({0, n});
  } else {
    const int64_t room = M - others;
    if (room <= options_.stride)
      input_fail("the first text is ", pair ? others - tok.num_special_tokens_to_add(true) : 0,
                 " tokens long: windows of ", M, " tokens with --stride ", options_.stride,
                 " leave no room to slide over the text pair (give a shorter first text or a smaller --stride)");
    const int64_t step = room - options_.stride;
    if (step * kMaxWindowOverlap < room)
      input_fail("the first text leaves windows of ", room, " tokens of the text pair: with --stride ", options_.stride,
                 " each token would be encoded up to ", room / step, " times (the limit is ", kMaxWindowOverlap,
                 "); give a smaller --stride");
    out.spans = window_spans(n, room, step);
  }
  out.text_end = e;
  for (size_t w = 0; w < out.spans.size(); ++w) {
    const int64_t n_row = others + out.spans[w].len;
    BB_CHECK(tm_.fits(n_row, opt), "internal: a window of ", n_row, " tokens does not fit the model");
  }
  return out;
}

EncoderRow LongRows::window(size_t w) const {
  BB_CHECK(w < spans.size(), "internal: window ", w, " of ", spans.size());
  const WindowSpan& s = spans[w];
  const auto& ids = encoding.input_ids;
  const int64_t b = offset, e = text_end;
  EncoderRow row;
  row.input_ids.reserve(ids.size() - static_cast<size_t>(e - b) + static_cast<size_t>(s.len));
  row.input_ids.insert(row.input_ids.end(), ids.begin(), ids.begin() + b);
  row.input_ids.insert(row.input_ids.end(), ids.begin() + b + s.start, ids.begin() + b + s.start + s.len);
  row.input_ids.insert(row.input_ids.end(), ids.begin() + e, ids.end());
  return row;
}

std::vector<int64_t> LongRows::window_lengths() const {
  std::vector<int64_t> n;
  const int64_t others = static_cast<int64_t>(encoding.size()) - (text_end - offset);
  for (const WindowSpan& s : spans) n.push_back(others + s.len);
  return n;
}

std::unique_ptr<PooledItem> LongInputs::prepare_pooled(std::string_view text, std::optional<std::string_view> pair,
                                                       const RunOptions& opt) const {
  auto item = std::make_unique<PooledItem>();
  item->input = prepare(text, pair, opt);
  item->rows = std::move(item->input.rows);
  item->input.rows.clear();
  item->pool = WindowPool(options_.aggregation);
  return item;
}

void WindowPool::add(const Tensor& t) {
  if (count_ == 0) {
    first_ = t;
    sum_.assign(t.data.begin(), t.data.end());
  } else {
    BB_CHECK(t.data.size() == first_.data.size(), "internal: window outputs of ", t.data.size(), " and ",
             first_.data.size(), " values");
    if (aggregation_ == "max") {
      for (size_t j = 0; j < t.data.size(); ++j) first_.data[j] = std::max(first_.data[j], t.data[j]);
    } else {
      for (size_t j = 0; j < t.data.size(); ++j) sum_[j] += t.data[j];
    }
  }
  ++count_;
}

Tensor WindowPool::result() const {
  BB_CHECK(count_ > 0, "internal: no window outputs to combine");
  Tensor out = first_;
  if (count_ == 1 || aggregation_ == "max") return out;
  for (size_t j = 0; j < out.data.size(); ++j) out.data[j] = static_cast<float>(sum_[j] / static_cast<double>(count_));
  return out;
}

}  // namespace bigbird::tasks
