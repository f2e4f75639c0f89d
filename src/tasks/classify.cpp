#include "tasks/classify.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace bigbird::tasks {

ClassifyTask::ClassifyTask(const TaskModel& tm, ClassifyOptions options)
    : Task(tm), options_(std::move(options)), long_(tm, options_.long_input, "classify", true) {
  tm.require(tm.model().architecture() == Architecture::SequenceClassification, "classify",
             "sequence-classification head (BigBirdForSequenceClassification)");
  BB_CHECK(!options_.top_k || *options_.top_k >= 1, "--top-k must be at least 1, got ", *options_.top_k);
  function_ = options_.function_to_apply;
  if (function_.empty()) {
    const std::string& pt = tm.problem_type();
    const int64_t n = tm.model().config().num_labels;
    if (pt == "multi_label_classification" || n == 1) function_ = "sigmoid";
    else if (pt == "single_label_classification" || n > 1) function_ = "softmax";
    else function_ = "none";
  }
  BB_CHECK(function_ == "softmax" || function_ == "sigmoid" || function_ == "none", "unknown function to apply '",
           function_, "' (expected softmax, sigmoid or none)");
}

std::unique_ptr<Item> ClassifyTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.text, "the text");
  if (in.text_pair) check_text(*in.text_pair, "the text pair");

  // HF's BigBirdTokenizer returns no token_type_ids by default (model_input_names), so the pipeline
  // runs the model with type 0 everywhere, also for a pair (and each window).
  return long_.prepare_pooled(in.text, in.text_pair ? std::optional<std::string_view>(*in.text_pair) : std::nullopt,
                              opt);
}

Tensor ClassifyTask::head(const Tensor& seq, const EncoderRow&, const ThreadingContext& ctx) const {
  const int64_t H = seq.dim(2);
  Tensor first(Shape{1, 1, H});
  std::copy_n(seq.ptr(), H, first.ptr());
  Tensor logits = tm_.model().sequence_classification_logits(first, ctx);  // [1, n]
  logits.shape = Shape{logits.dim(1)};
  return logits;
}

std::vector<float> ClassifyTask::scores(const Item& item) const {
  const Tensor logits = static_cast<const PooledItem&>(item).result();  // the windows' mean (or max) logits
  const int64_t n = logits.dim(0);
  std::vector<float> scores(logits.data);
  if (function_ == "softmax") scores = softmax(logits.ptr(), n);
  else if (function_ == "sigmoid")
    for (auto& s : scores) s = 1.0f / (1.0f + std::exp(-s));
  return scores;
}

json ClassifyTask::ranked(const std::vector<float>& scores) const {
  const int64_t n = static_cast<int64_t>(scores.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)];
  });
  if (options_.top_k && static_cast<int64_t>(*options_.top_k) < n) order.resize(static_cast<size_t>(*options_.top_k));
  json out = json::array();
  for (int64_t i : order) {
    json entry;
    entry["label"] = tm_.label(i);
    entry["score"] = score_json(scores[static_cast<size_t>(i)]);
    out.push_back(std::move(entry));
  }
  return out;
}

json ClassifyTask::finish(const Item& item) const { return ranked(scores(item)); }

json ClassifyTask::finish_strands(const Item& forward, const Item& reverse) const {
  std::vector<float> a = scores(forward);
  const std::vector<float> b = scores(reverse);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((static_cast<double>(a[i]) + b[i]) / 2);
  return ranked(a);
}

}  // namespace bigbird::tasks
