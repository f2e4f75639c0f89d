// The optimizer side of training: HF Trainer's weight-decay groups, torch 1.13's clip_grad_norm_
// and AdamW bit for bit against the training fixture (first update of train_case_adamw_mlm), the
// state round trip, HF's learning-rate schedules, and thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "test_util.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace bigbird::train {
namespace {

using test::data_path;

std::set<std::string> split_commas(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.insert(item);
  return out;
}

size_t count_bit_diffs(const float* a, const float* b, int64_t n) {
  size_t d = 0;
  for (int64_t i = 0; i < n; ++i) d += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return d;
}

// The parameters of grad_case_i_mlm (tied ones once), θ0, gradients and the first AdamW update.
struct MlmFixture {
  SafeTensors theta0 = SafeTensors::open(data_path("roberta-tiny/pretraining/model.safetensors"));
  SafeTensors grads = SafeTensors::open(data_path("roberta-tiny/grad_case_i_mlm.safetensors"));
  SafeTensors train = SafeTensors::open(data_path("roberta-tiny/train_case_adamw_mlm.safetensors"));
  std::vector<std::string> names;  // grad.* order, embedding_output excluded
  std::set<std::string> without_grad;
  std::map<std::string, std::vector<float>> data, grad;

  MlmFixture() {
    without_grad = split_commas(train.metadata().at("params_without_grad"));
    EXPECT_EQ(without_grad, split_commas(grads.metadata().at("params_without_grad")));
    for (const std::string& key : grads.names()) {
      if (key.rfind("grad.", 0) != 0 || key == "grad.embedding_output") continue;
      const std::string name = key.substr(5);
      names.push_back(name);
      data[name] = theta0.read_f32(name).data;
      if (!without_grad.count(name)) grad[name] = grads.read_f32(key).data;
    }
  }

  std::vector<Param> params() {
    std::vector<Param> out;
    for (const std::string& name : names) {
      auto g = grad.find(name);
      out.push_back(Param{name, data[name].data(), g == grad.end() ? nullptr : g->second.data(),
                          static_cast<int64_t>(data[name].size()), hf_weight_decay(name)});
    }
    return out;
  }
  std::vector<std::pair<float*, int64_t>> grad_list() {
    std::vector<std::pair<float*, int64_t>> out;
    for (const std::string& name : names) {
      auto g = grad.find(name);
      if (g != grad.end()) out.emplace_back(g->second.data(), static_cast<int64_t>(g->second.size()));
    }
    return out;
  }
};

TEST(OptimWeightDecay, HfRule) {
  EXPECT_TRUE(hf_weight_decay("bert.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(hf_weight_decay("bert.encoder.layer.0.attention.self.query.weight"));
  EXPECT_FALSE(hf_weight_decay("bert.encoder.layer.0.attention.self.query.bias"));
  EXPECT_FALSE(hf_weight_decay("bert.embeddings.LayerNorm.weight"));
  EXPECT_FALSE(hf_weight_decay("cls.predictions.transform.LayerNorm.weight"));
  EXPECT_FALSE(hf_weight_decay("cls.predictions.bias"));
  // Pegasus's LayerNorm modules.
  EXPECT_FALSE(hf_weight_decay("model.encoder.layers.0.self_attn_layer_norm.weight"));
  EXPECT_FALSE(hf_weight_decay("model.encoder.layers.0.final_layer_norm.weight"));
  EXPECT_FALSE(hf_weight_decay("model.encoder.layer_norm.weight"));
  EXPECT_TRUE(hf_weight_decay("model.encoder.layers.0.fc1.weight"));
}

TEST(OptimWeightDecay, ReproducesFixtureParamGroups) {
  const SafeTensors train = SafeTensors::open(data_path("roberta-tiny/train_case_adamw_mlm.safetensors"));
  const auto groups = nlohmann::json::parse(train.metadata().at("param_groups"));
  ASSERT_EQ(groups.size(), 2u);
  size_t decayed = 0, total = 0;
  for (const auto& g : groups) {
    const double wd = g.at("weight_decay").get<double>();
    for (const auto& n : g.at("params")) {
      EXPECT_EQ(hf_weight_decay(n.get<std::string>()), wd > 0) << n;
      decayed += wd > 0;
      ++total;
    }
  }
  EXPECT_EQ(decayed, 18u);
  EXPECT_EQ(total, 46u);
}

TEST(OptimFixture, FirstClippedAdamWStepBitForBit) {
  MlmFixture f;
  ASSERT_EQ(f.names.size(), 46u);
  ASSERT_EQ(f.without_grad.size(), 4u);
  const auto opt = nlohmann::json::parse(f.train.metadata().at("optimizer"));
  AdamWConfig cfg;
  cfg.beta1 = opt.at("betas")[0].get<double>();
  cfg.beta2 = opt.at("betas")[1].get<double>();
  cfg.eps = opt.at("eps").get<double>();
  cfg.weight_decay = opt.at("weight_decay").get<double>();
  const double lr = opt.at("lr").get<double>(), max_norm = opt.at("max_grad_norm").get<double>();
  EXPECT_EQ(lr, 1e-3);
  EXPECT_EQ(cfg.weight_decay, 0.01);
  EXPECT_EQ(max_norm, 1.0);

  const double total = clip_grad_norm(f.grad_list(), max_norm, test::ctx());
  const float expected_total = f.train.read_f32("grad_norm.step0").data[0];
  EXPECT_NEAR(total, expected_total, 2e-7 * expected_total);
  EXPECT_EQ(static_cast<float>(total), expected_total) << "total norm differs from torch's float32 value";

  AdamW adamw(cfg);
  adamw.step(f.params(), lr, test::ctx());
  size_t differing = 0;
  for (const std::string& name : f.names) {
    const std::vector<float>& got = f.data[name];
    const Tensor want = f.train.read_f32("param_step1." + name);
    ASSERT_EQ(static_cast<size_t>(want.size()), got.size()) << name;
    const size_t d = count_bit_diffs(got.data(), want.ptr(), want.size());
    EXPECT_EQ(d, 0u) << name << ": " << d << " entries differ from torch's bits, max |diff| "
                     << test::max_abs_diff(got.data(), want.ptr(), got.size());
    differing += d;
    if (f.without_grad.count(name)) {
      const Tensor t0 = f.theta0.read_f32(name);
      EXPECT_EQ(count_bit_diffs(got.data(), t0.ptr(), t0.size()), 0u) << name << " has no gradient: must stay θ0";
      EXPECT_EQ(adamw.steps(name), 0) << name;
    } else {
      EXPECT_EQ(adamw.steps(name), 1) << name;
    }
  }
  EXPECT_EQ(differing, 0u);
  // The optimizer state exists exactly for the parameters torch kept state for.
  std::set<std::string> with_state;
  for (const OutTensor& t : adamw.state_tensors())
    if (t.name.rfind("adamw.step.", 0) == 0) with_state.insert(t.name.substr(11));
  EXPECT_EQ(with_state, split_commas(f.train.metadata().at("params_with_optimizer_state")));
}

// Random parameters and gradients: a few tensors spanning several element chunks, one without
// gradient, one without decay.
struct RandomModel {
  std::vector<std::vector<float>> data, grad;
  std::vector<int64_t> sizes{70000, 3, 40001, 129};
  explicit RandomModel(uint64_t seed) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      data.push_back(test::random_vec(static_cast<size_t>(sizes[i]), seed + i, 0.5f));
      grad.push_back(test::random_vec(static_cast<size_t>(sizes[i]), seed + 100 + i, 2.0f));
    }
  }
  std::vector<Param> params() {
    return {Param{"a.weight", data[0].data(), grad[0].data(), sizes[0], true},
            Param{"a.bias", data[1].data(), grad[1].data(), sizes[1], false},
            Param{"b.weight", data[2].data(), grad[2].data(), sizes[2], true},
            Param{"c.weight", data[3].data(), nullptr, sizes[3], true}};
  }
  std::vector<std::pair<float*, int64_t>> grads() {
    return {{grad[0].data(), sizes[0]}, {grad[1].data(), sizes[1]}, {grad[2].data(), sizes[2]}};
  }
  void perturb_grads(uint64_t seed) {
    for (size_t i = 0; i < grad.size(); ++i) grad[i] = test::random_vec(grad[i].size(), seed + i, 1.0f);
  }
};

AdamWConfig test_config() {
  AdamWConfig cfg;
  cfg.weight_decay = 0.01;
  return cfg;
}

TEST(OptimAdamW, StateRoundTripContinuesBitIdentically) {
  RandomModel a(1), b(1);
  AdamW oa(test_config()), ob(test_config());
  oa.step(a.params(), 1e-3, test::ctx());
  ob.step(b.params(), 1e-3, test::ctx());
  EXPECT_EQ(oa.steps("a.weight"), 1);
  EXPECT_EQ(oa.steps("c.weight"), 0);  // no gradient: no state
  EXPECT_EQ(oa.steps("unknown"), 0);

  test::TempDir dir;
  write_safetensors(dir.file("optim.safetensors"), ob.state_tensors());
  const SafeTensors st = SafeTensors::open(dir.file("optim.safetensors"));
  EXPECT_FALSE(st.has("exp_avg.c.weight"));
  EXPECT_EQ(st.read_i64("adamw.step.a.weight").data, std::vector<int64_t>{1});
  AdamW restored(test_config());
  restored.load_state(st);
  EXPECT_EQ(restored.steps("b.weight"), 1);

  a.perturb_grads(7);
  b.perturb_grads(7);
  oa.step(a.params(), 5e-4, test::ctx());
  restored.step(b.params(), 5e-4, test::ctx());
  for (size_t i = 0; i < a.data.size(); ++i)
    EXPECT_EQ(count_bit_diffs(a.data[i].data(), b.data[i].data(), a.sizes[i]), 0u) << i;
  EXPECT_EQ(restored.steps("a.weight"), 2);
  EXPECT_EQ(restored.steps("c.weight"), 0);
  const auto sa = oa.state_tensors(), sb = restored.state_tensors();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].name, sb[i].name);
    EXPECT_EQ(sa[i].bytes, sb[i].bytes) << sa[i].name;
  }
  // The parameter without gradient kept its value (no decay).
  RandomModel fresh(1);
  EXPECT_EQ(count_bit_diffs(a.data[3].data(), fresh.data[3].data(), a.sizes[3]), 0u);
}

TEST(OptimAdamW, LoadStateRejectsBrokenCheckpoints) {
  RandomModel m(3);
  AdamW opt(test_config());
  opt.step(m.params(), 1e-3);
  test::TempDir dir;
  auto write_without = [&](const std::string& drop) {
    std::vector<OutTensor> ts;
    for (OutTensor& t : opt.state_tensors())
      if (t.name != drop) ts.push_back(std::move(t));
    const std::string path = dir.file("s.safetensors");
    write_safetensors(path, ts);
    return SafeTensors::open(path);
  };
  AdamW fresh(test_config());
  EXPECT_THROW(fresh.load_state(write_without("exp_avg_sq.a.weight")), Error);
  EXPECT_THROW(fresh.load_state(write_without("exp_avg.b.weight")), Error);
  EXPECT_THROW(fresh.load_state(write_without("adamw.step.a.bias")), Error);
  EXPECT_NO_THROW(fresh.load_state(write_without("")));
  // A state whose size differs from the parameter's is refused at the next step.
  std::vector<float> small(5, 0.0f), g(5, 1.0f);
  EXPECT_THROW(fresh.step({Param{"a.weight", small.data(), g.data(), 5, true}}, 1e-3), Error);
  // A parameter listed twice (an untied alias) is refused.
  std::vector<Param> twice = m.params();
  twice.push_back(twice[0]);
  EXPECT_THROW(fresh.step(twice, 1e-3), Error);
}

TEST(OptimAdamW, ZeroGradientIsDecayedAndStateful) {
  std::vector<float> x{1.0f, -2.0f, 0.5f}, g(3, 0.0f);
  AdamW opt(test_config());
  opt.step({Param{"w", x.data(), g.data(), 3, true}}, 1e-3);
  const float mul = static_cast<float>(1.0 - 1e-3 * 0.01);
  EXPECT_EQ(x[0], 1.0f * mul);
  EXPECT_EQ(x[1], -2.0f * mul);
  EXPECT_EQ(opt.steps("w"), 1);
}

TEST(OptimThreads, StepAndClipIndependentOfThreadCount) {
  std::vector<std::vector<std::vector<float>>> results;
  std::vector<double> norms;
  for (int threads : {1, 2, 3}) {
    const ThreadingContext ctx(threads);
    RandomModel m(11);
    AdamW opt(test_config());
    for (int s = 0; s < 3; ++s) {
      norms.push_back(clip_grad_norm(m.grads(), 1.0, ctx));
      opt.step(m.params(), 1e-3, ctx);
      m.perturb_grads(50 + static_cast<uint64_t>(s));
    }
    std::vector<std::vector<float>> r = m.data;
    for (const OutTensor& t : opt.state_tensors()) {
      std::vector<float> bytes_as_float(t.bytes.size() / sizeof(float));
      std::memcpy(bytes_as_float.data(), t.bytes.data(), bytes_as_float.size() * sizeof(float));
      r.push_back(std::move(bytes_as_float));
    }
    results.push_back(std::move(r));
  }
  for (size_t k = 1; k < results.size(); ++k) {
    ASSERT_EQ(results[k].size(), results[0].size());
    for (size_t i = 0; i < results[0].size(); ++i) {
      ASSERT_EQ(results[k][i].size(), results[0][i].size());
      EXPECT_EQ(count_bit_diffs(results[k][i].data(), results[0][i].data(), results[0][i].size()), 0u) << k << " " << i;
    }
  }
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_EQ(norms[3 + s], norms[s]);
    EXPECT_EQ(norms[6 + s], norms[s]);
  }
}

TEST(OptimClip, FactorAndNoClipBelowMax) {
  std::vector<float> a{3.0f, 0.0f}, b{4.0f};
  const double total = clip_grad_norm({{a.data(), 2}, {b.data(), 1}}, 1.0);
  EXPECT_EQ(total, 5.0);
  const float c = std::min((1.0f / (5.0f + static_cast<float>(1e-6))) * 1.0f, 1.0f);
  EXPECT_EQ(a[0], 3.0f * c);
  EXPECT_EQ(b[0], 4.0f * c);
  std::vector<float> small{0.1f, 0.2f};
  const std::vector<float> before = small;
  const double t2 = clip_grad_norm({{small.data(), 2}}, 10.0);
  EXPECT_NEAR(t2, std::sqrt(0.05), 1e-7);
  EXPECT_EQ(small, before);  // c = 1: an exact no-op
}

TEST(OptimSchedule, HfFormulas) {
  const double lr = 1e-3;
  EXPECT_EQ(lr_at(LrSchedule::Constant, lr, 0, 10, 100), lr);
  EXPECT_EQ(lr_at(LrSchedule::Constant, lr, 1000, 10, 100), lr);

  EXPECT_EQ(lr_at(LrSchedule::ConstantWithWarmup, lr, 0, 4, 100), 0.0);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::ConstantWithWarmup, lr, 1, 4, 100), lr * 0.25);
  EXPECT_EQ(lr_at(LrSchedule::ConstantWithWarmup, lr, 4, 4, 100), lr);
  EXPECT_EQ(lr_at(LrSchedule::ConstantWithWarmup, lr, 500, 4, 100), lr);

  EXPECT_EQ(lr_at(LrSchedule::Linear, lr, 0, 10, 100), 0.0);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Linear, lr, 5, 10, 100), lr * 0.5);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Linear, lr, 10, 10, 100), lr);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Linear, lr, 55, 10, 100), lr * 0.5);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Linear, lr, 99, 10, 100), lr / 90.0);
  EXPECT_EQ(lr_at(LrSchedule::Linear, lr, 100, 10, 100), 0.0);
  EXPECT_EQ(lr_at(LrSchedule::Linear, lr, 150, 10, 100), 0.0);  // max(0, ...)
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Linear, lr, 3, 0, 4), lr * 0.25);

  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Cosine, lr, 2, 10, 110), lr * 0.2);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Cosine, lr, 10, 10, 110), lr);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Cosine, lr, 35, 10, 110), lr * 0.5 * (1.0 + std::cos(std::numbers::pi / 4)));
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Cosine, lr, 60, 10, 110), lr * 0.5);
  EXPECT_NEAR(lr_at(LrSchedule::Cosine, lr, 110, 10, 110), 0.0, 1e-20);
  // HF's half-cosine is not clamped at the end: past total_steps it rises again.
  EXPECT_NEAR(lr_at(LrSchedule::Cosine, lr, 160, 10, 110), lr * 0.5, 1e-18);

  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::CosineWithRestarts, lr, 25, 0, 100),
                   lr * 0.5 * (1.0 + std::cos(std::numbers::pi * 0.25)));
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::CosineWithRestarts, lr, 99, 0, 100),
                   lr * 0.5 * (1.0 + std::cos(std::numbers::pi * 0.99)));
  EXPECT_EQ(lr_at(LrSchedule::CosineWithRestarts, lr, 100, 0, 100), 0.0);
  EXPECT_EQ(lr_at(LrSchedule::CosineWithRestarts, lr, 130, 0, 100), 0.0);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::CosineWithRestarts, lr, 3, 6, 100), lr * 0.5);

  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Polynomial, lr, 5, 10, 110), lr * 0.5);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Polynomial, lr, 10, 10, 110), lr);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Polynomial, lr, 60, 10, 110), (lr - 1e-7) * 0.5 + 1e-7);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Polynomial, lr, 110, 10, 110), 1e-7);
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::Polynomial, lr, 200, 10, 110), 1e-7);
  EXPECT_THROW(lr_at(LrSchedule::Polynomial, 1e-8, 0, 0, 10), Error);  // lr_end must be below lr
}

TEST(OptimSchedule, ParseNames) {
  EXPECT_EQ(parse_lr_schedule("constant"), LrSchedule::Constant);
  EXPECT_EQ(parse_lr_schedule("constant_with_warmup"), LrSchedule::ConstantWithWarmup);
  EXPECT_EQ(parse_lr_schedule("linear"), LrSchedule::Linear);
  EXPECT_EQ(parse_lr_schedule("cosine"), LrSchedule::Cosine);
  EXPECT_EQ(parse_lr_schedule("cosine_with_restarts"), LrSchedule::CosineWithRestarts);
  EXPECT_EQ(parse_lr_schedule("polynomial"), LrSchedule::Polynomial);
  for (LrSchedule s : {LrSchedule::Constant, LrSchedule::Linear, LrSchedule::Polynomial})
    EXPECT_EQ(parse_lr_schedule(lr_schedule_name(s)), s);
  try {
    parse_lr_schedule("warmup_linear");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("warmup_linear"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cosine_with_restarts"), std::string::npos) << msg;
    EXPECT_NE(msg.find("polynomial"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace bigbird::train
