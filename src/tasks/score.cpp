#include "tasks/score.h"

#include <cmath>
#include <limits>

namespace bigbird::tasks {

namespace {

struct ScoreItem : Item {
  std::vector<int64_t> ids;
  std::vector<int64_t> positions;  // the tokens scored, in order
  std::vector<double> log_p;       // ln p(true token | the rest), per position
  int64_t bases = 0;
  int64_t mask_id = -1;

  int64_t windows() const override { return static_cast<int64_t>(positions.size()); }
  EncoderRow make_window(int64_t w) const override {
    EncoderRow r{ids, {}, {}};
    r.input_ids[static_cast<size_t>(positions[static_cast<size_t>(w)])] = mask_id;
    return r;
  }
  void take_window(int64_t w, Tensor&& logits) override {
    const int64_t V = static_cast<int64_t>(logits.data.size());
    const float* x = logits.ptr();
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(x[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(x[v]) - mx);
    const int64_t truth = ids[static_cast<size_t>(positions[static_cast<size_t>(w)])];
    log_p[static_cast<size_t>(w)] = static_cast<double>(x[truth]) - mx - std::log(sum);
  }
  std::vector<int64_t> row_lengths() const override {
    return std::vector<int64_t>(positions.size(), static_cast<int64_t>(ids.size()));
  }
};

}  // namespace

ScoreTask::ScoreTask(const TaskModel& tm) : Task(tm) {
  tm.require(tm.model().has_mlm(), "score", "masked-LM head (BigBirdForMaskedLM or BigBirdForPreTraining)");
  BB_CHECK(tm.tokenizer().mask_id() >= 0, "the tokenizer has no mask token: score needs one");
}

std::unique_ptr<Item> ScoreTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.text, "the text");
  const Tokenizer& tok = tm_.tokenizer();
  Encoding e = tok.encode(in.text);
  tm_.check_fits(static_cast<int64_t>(e.size()), opt, "score");
  auto item = std::make_unique<ScoreItem>();
  item->mask_id = tok.mask_id();
  item->ids = e.input_ids;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.input_ids[i] == item->mask_id)
      input_fail("the text contains the mask token ", tok.special_token("mask_token"),
                 ": score masks each token in turn and needs the text without it");
    if (e.sequence_ids[i] != 0 || tok.is_special_id(e.input_ids[i])) continue;
    item->positions.push_back(static_cast<int64_t>(i));
    item->bases += e.offsets[i].second - e.offsets[i].first;
  }
  if (item->positions.empty()) input_fail("the text gives no tokens to score");
  item->log_p.assign(item->positions.size(), 0.0);
  return item;
}

Tensor ScoreTask::head(const Tensor& seq, const EncoderRow& row, const ThreadingContext& ctx) const {
  const int64_t H = seq.dim(2);
  const int64_t mask = tm_.tokenizer().mask_id();
  int64_t pos = -1;
  for (size_t i = 0; i < row.input_ids.size(); ++i)
    if (row.input_ids[i] == mask) pos = static_cast<int64_t>(i);
  BB_CHECK(pos >= 0, "internal: a score row without its mask");
  Tensor at(Shape{1, 1, H});
  std::copy_n(seq.ptr() + pos * H, H, at.ptr());
  Tensor logits = tm_.model().mlm_logits(at, ctx);  // [1, 1, V]
  logits.shape = Shape{logits.dim(2)};
  return logits;
}

json ScoreTask::finish(const Item& base) const {
  const auto& item = static_cast<const ScoreItem&>(base);
  double pll = 0;
  for (double lp : item.log_p) pll += lp;
  json out;
  out["pseudo_log_likelihood"] = pll;
  out["tokens"] = static_cast<int64_t>(item.positions.size());
  out["bases"] = item.bases;
  out["bits_per_base"] = item.bases > 0 ? -pll / std::log(2.0) / static_cast<double>(item.bases) : 0.0;
  return out;
}

json ScoreTask::finish_strands(const Item& forward, const Item& reverse) const {
  const json f = finish(forward), r = finish(reverse);
  json out = f;
  out["pseudo_log_likelihood"] = 0.5 * (f["pseudo_log_likelihood"].get<double>() + r["pseudo_log_likelihood"].get<double>());
  out["bits_per_base"] = 0.5 * (f["bits_per_base"].get<double>() + r["bits_per_base"].get<double>());
  out["tokens"] = f["tokens"];
  return out;
}

}  // namespace bigbird::tasks
