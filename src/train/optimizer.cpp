#include "train/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"
#include "kernels/optimizer_kernels.h"

// The fixtures' bit-level order needs every float operation rounded on its own: no contraction
// of a multiply and an add into an fma other than the explicit std::fma calls.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace bigbird::train {

namespace {

// Element-wise work is split into chunks of this many elements (fixed, so the bits never depend
// on the thread count; the norm's partial sums are also per chunk).
constexpr int64_t kChunk = 1 << 14;

int64_t num_chunks(int64_t n) { return (n + kChunk - 1) / kChunk; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool hf_weight_decay(const std::string& name) {
  if (name.find("bias") != std::string::npos) return false;
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return true;
  const std::string module = name.substr(0, dot);
  const size_t prev = module.rfind('.');
  const std::string last = lower(prev == std::string::npos ? module : module.substr(prev + 1));
  return last.find("layernorm") == std::string::npos && last.find("layer_norm") == std::string::npos;
}

double clip_grad_norm(const std::vector<std::pair<float*, int64_t>>& grads, double max_norm,
                      const ThreadingContext& ctx) {
  BB_CHECK(max_norm > 0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be positive and finite, got ",
           max_norm);
  // Tasks: (tensor, chunk) pairs in a fixed order; each sums its squares in double.
  std::vector<std::pair<size_t, int64_t>> tasks;
  for (size_t t = 0; t < grads.size(); ++t) {
    BB_CHECK(grads[t].second >= 0 && (grads[t].first != nullptr || grads[t].second == 0), "clip_grad_norm: gradient ",
             t, " has no data or a negative size");
    for (int64_t c = 0; c < num_chunks(grads[t].second); ++c) tasks.emplace_back(t, c);
  }
  std::vector<double> partial(tasks.size(), 0.0);
  parallel_for(ctx.when(tasks.size() > 1), static_cast<int64_t>(tasks.size()), [&](int64_t i) {
    const auto [t, c] = tasks[static_cast<size_t>(i)];
    const float* g = grads[t].first;
    const int64_t begin = c * kChunk, end = std::min(grads[t].second, begin + kChunk);
    partial[static_cast<size_t>(i)] = sum_squares(g + begin, end - begin);
  });
  double sum = 0.0;
  for (double s : partial) sum += s;
  // torch's total is a float32 tensor; the clip factor is computed from it in float32.
  const float total = static_cast<float>(std::sqrt(sum));
  const float denom = total + static_cast<float>(1e-6);
  const float recip = 1.0f / denom;
  const float coef = std::min(recip * static_cast<float>(max_norm), 1.0f);
  parallel_for(ctx.when(tasks.size() > 1), static_cast<int64_t>(tasks.size()), [&](int64_t i) {
    const auto [t, c] = tasks[static_cast<size_t>(i)];
    float* g = grads[t].first;
    const int64_t begin = c * kChunk, end = std::min(grads[t].second, begin + kChunk);
    for (int64_t k = begin; k < end; ++k) g[k] = g[k] * coef;
  });
  return total;
}

AdamW::AdamW(AdamWConfig cfg) : cfg_(cfg) {
  BB_CHECK(cfg.beta1 >= 0 && cfg.beta1 < 1, "AdamW: beta1 must be in [0, 1), got ", cfg.beta1);
  BB_CHECK(cfg.beta2 >= 0 && cfg.beta2 < 1, "AdamW: beta2 must be in [0, 1), got ", cfg.beta2);
  BB_CHECK(cfg.eps >= 0, "AdamW: eps must be non-negative, got ", cfg.eps);
  BB_CHECK(cfg.weight_decay >= 0, "AdamW: weight_decay must be non-negative, got ", cfg.weight_decay);
}

void AdamW::step(const std::vector<Param>& params, double lr, const ThreadingContext& ctx) {
  BB_CHECK(lr >= 0 && std::isfinite(lr), "AdamW: learning rate must be non-negative and finite, got ", lr);
  // Validate everything before changing anything.
  std::set<std::string> seen;
  for (const Param& p : params) {
    BB_CHECK(seen.insert(p.name).second, "AdamW: parameter ", p.name, " is listed twice (a tied parameter goes once)");
    if (p.grad == nullptr) continue;
    BB_CHECK(p.data != nullptr && p.n >= 0, "AdamW: parameter ", p.name, " has no data or a negative size");
    auto it = state_.find(p.name);
    BB_CHECK(it == state_.end() || static_cast<int64_t>(it->second.exp_avg.size()) == p.n, "AdamW: parameter ", p.name,
             " has ", p.n, " elements but its optimizer state has ", it->second.exp_avg.size());
  }
  // Per-parameter scalars (double, as Python computes them) and the (parameter, chunk) tasks.
  struct Job {
    const Param* p;
    State* s;
    AdamWScalars k;
  };
  std::vector<Job> jobs;
  std::vector<std::pair<size_t, int64_t>> tasks;
  for (const Param& p : params) {
    if (p.grad == nullptr) continue;
    State& s = state_[p.name];
    if (s.exp_avg.empty() && s.step == 0) {
      s.exp_avg.assign(static_cast<size_t>(p.n), 0.0f);
      s.exp_avg_sq.assign(static_cast<size_t>(p.n), 0.0f);
    }
    s.step += 1;
    const double t = static_cast<double>(s.step);
    const double wd = p.decay ? cfg_.weight_decay : 0.0;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, t);
    const double bc2 = 1.0 - std::pow(cfg_.beta2, t);
    const double step_size = lr / bc1;
    Job j{&p,
          &s,
          {static_cast<float>(1.0 - lr * wd), static_cast<float>(cfg_.beta1), static_cast<float>(1.0 - cfg_.beta1),
           static_cast<float>(cfg_.beta2), static_cast<float>(1.0 - cfg_.beta2), static_cast<float>(std::sqrt(bc2)),
           static_cast<float>(cfg_.eps), static_cast<float>(-step_size)}};
    for (int64_t c = 0; c < num_chunks(p.n); ++c) tasks.emplace_back(jobs.size(), c);
    jobs.push_back(j);
  }
  parallel_for(ctx.when(tasks.size() > 1), static_cast<int64_t>(tasks.size()), [&](int64_t i) {
    const auto [ji, c] = tasks[static_cast<size_t>(i)];
    const Job& j = jobs[ji];
    const int64_t begin = c * kChunk, end = std::min(j.p->n, begin + kChunk);
    adamw_update(j.k, j.p->data + begin, j.p->grad + begin, j.s->exp_avg.data() + begin, j.s->exp_avg_sq.data() + begin,
                 end - begin);
  });
}

int64_t AdamW::steps(const std::string& name) const {
  auto it = state_.find(name);
  return it == state_.end() ? 0 : it->second.step;
}

std::vector<OutTensor> AdamW::state_tensors() const {
  std::vector<OutTensor> out;
  out.reserve(state_.size() * 3);
  for (const auto& [name, s] : state_) {
    const Shape shape{static_cast<int64_t>(s.exp_avg.size())};
    out.push_back(OutTensor::f32("exp_avg." + name, shape, s.exp_avg.data()));
    out.push_back(OutTensor::f32("exp_avg_sq." + name, shape, s.exp_avg_sq.data()));
    out.push_back(OutTensor::i64("adamw.step." + name, Shape{1}, &s.step));
  }
  return out;
}

void AdamW::load_state(const SafeTensors& st) {
  static const std::string kStep = "adamw.step.", kAvg = "exp_avg.", kAvgSq = "exp_avg_sq.";
  auto starts = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  std::map<std::string, State> loaded;
  for (const std::string& key : st.names()) {
    if (!starts(key, kStep)) continue;
    const std::string name = key.substr(kStep.size());
    const TensorI64 step = st.read_i64(key);
    BB_CHECK(step.data.size() == 1 && step.data[0] >= 1, st.path(), ": ", key, " must hold one step count >= 1");
    State s;
    s.step = step.data[0];
    for (const std::string* prefix : {&kAvg, &kAvgSq}) {
      const std::string tname = *prefix + name;
      BB_CHECK(st.has(tname), st.path(), ": optimizer state of ", name, " lacks ", tname);
      BB_CHECK(st.entry(tname).dtype == DType::F32, st.path(), ": ", tname, " must be F32, is ",
               dtype_name(st.entry(tname).dtype));
      Tensor t = st.read_f32(tname);
      (prefix == &kAvg ? s.exp_avg : s.exp_avg_sq) = std::move(t.data);
    }
    BB_CHECK(s.exp_avg.size() == s.exp_avg_sq.size(), st.path(), ": exp_avg.", name, " has ", s.exp_avg.size(),
             " elements but exp_avg_sq.", name, " has ", s.exp_avg_sq.size());
    loaded.emplace(name, std::move(s));
  }
  // Moments without a step count are a broken checkpoint, not something to ignore.
  for (const std::string& key : st.names()) {
    std::string name;
    if (starts(key, kAvgSq)) name = key.substr(kAvgSq.size());
    else if (starts(key, kAvg)) name = key.substr(kAvg.size());
    else continue;
    BB_CHECK(loaded.count(name), st.path(), ": ", key, " has no ", kStep, name);
  }
  state_ = std::move(loaded);
}

}  // namespace bigbird::train
