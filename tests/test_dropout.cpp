// Training-mode dropout (TrainingOptions::dropout, layers/dropout.h): the counter-based masks,
// HF's sites and probabilities, and the gradients through them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "kernels/attention.h"
#include "layers/dropout.h"
#include "models/bigbird_config.h"
#include "models/bigbird_model.h"
#include "test_util.h"
#include "train_fixtures.h"

using namespace bigbird;

namespace {

TrainingOptions with_dropout(uint64_t seed = 9, uint64_t step = 4) {
  TrainingOptions t;
  t.dropout = true, t.dropout_seed = seed, t.step = step;
  return t;
}

std::vector<float> dropped_ones(const ThreadingContext& ctx, const Dropout& d, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n), 1.0f);
  apply_dropout(ctx, d, x.data(), n);
  return x;
}

}  // namespace

// Over n elements the kept fraction has standard deviation sqrt(p(1-p)/n); 5 of them bound it
// (a false failure once in ~2 million runs; the masks are fixed, so it either always passes or never).
TEST(Dropout, KeepRateAndScale) {
  const int64_t n = 1 << 20;
  for (float p : {0.1f, 0.5f, 0.9f}) {
    const Dropout d{p, 123, 7, dropout_site::ffn_output(3)};
    const std::vector<float> x = dropped_ones(test::ctx(), d, n);
    int64_t kept = 0;
    for (float v : x) {
      if (v != 0.0f) {
        ++kept;
        ASSERT_EQ(v, static_cast<float>(1.0 / (1.0 - static_cast<double>(p)))) << "kept values scaled by 1/(1-p)";
      }
    }
    const double frac = static_cast<double>(kept) / static_cast<double>(n);
    EXPECT_NEAR(frac, 1.0 - p, 5 * std::sqrt(p * (1.0 - p) / static_cast<double>(n))) << "p " << p;
  }
  // p = 1 drops everything (no 0·inf), p = 0 is the identity.
  for (float v : dropped_ones(test::ctx(), Dropout{1.0f, 1, 1, 1}, 1000)) ASSERT_EQ(v, 0.0f);
  for (float v : dropped_ones(test::ctx(), Dropout{0.0f, 1, 1, 1}, 1000)) ASSERT_EQ(v, 1.0f);
}

// Masks of different sites, steps or seeds are independent: both kept at rate (1-p)² (5 standard
// deviations of that rate).
TEST(Dropout, MasksOfSitesStepsAndSeedsAreIndependent) {
  const int64_t n = 1 << 18;
  const float p = 0.3f;
  const Dropout base{p, 5, 10, dropout_site::attention_output(0)};
  const std::vector<float> a = dropped_ones(test::ctx(), base, n);
  for (Dropout other : {Dropout{p, 5, 10, dropout_site::attention_output(1)}, Dropout{p, 5, 11, base.site},
                        Dropout{p, 6, 10, base.site}, Dropout{p, 5, 10, dropout_site::ffn_output(0)}}) {
    const std::vector<float> b = dropped_ones(test::ctx(), other, n);
    int64_t both = 0;
    for (size_t i = 0; i < a.size(); ++i) both += a[i] != 0.0f && b[i] != 0.0f;
    const double q = (1.0 - p) * (1.0 - p);
    EXPECT_NEAR(static_cast<double>(both) / static_cast<double>(n), q, 5 * std::sqrt(q * (1 - q) / n))
        << other.seed << " " << other.step << " " << other.site;
  }
}

// The mask of element e depends on e alone: any thread count, and any split of the tensor into
// calls at offsets `first`, give the same result.
TEST(Dropout, MaskIndependentOfThreadsAndSplits) {
  const int64_t n = 100003;  // not a multiple of the per-task chunk
  const Dropout d{0.25f, 77, 3, dropout_site::kEmbeddings};
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i % 101) - 50.0f;
  std::vector<float> one = x, two = x, split = x;
  apply_dropout(ThreadingContext(1), d, one.data(), n);
  apply_dropout(ThreadingContext(2), d, two.data(), n);
  apply_dropout(ThreadingContext(2), d, split.data(), 40000);
  apply_dropout(ThreadingContext(1), d, split.data() + 40000, n - 40000, 40000);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, split);
  EXPECT_NE(one, x);
}

TEST(Dropout, ConfigFields) {
  test::TempDir dir;
  auto load = [&](const std::string& body) {
    std::ofstream(dir.file("config.json")) << body;
    return load_bigbird_config(dir.file("config.json"));
  };
  BigBirdConfig c = load("{}");  // HF's defaults
  EXPECT_EQ(c.hidden_dropout_prob, 0.1);
  EXPECT_EQ(c.attention_probs_dropout_prob, 0.1);
  EXPECT_FALSE(c.classifier_dropout.has_value());
  EXPECT_EQ(c.classifier_dropout_prob(), 0.1);
  c = load(R"({"hidden_dropout_prob": 0.2, "attention_probs_dropout_prob": 0.05, "classifier_dropout": null})");
  EXPECT_EQ(c.hidden_dropout_prob, 0.2);
  EXPECT_EQ(c.attention_probs_dropout_prob, 0.05);
  EXPECT_EQ(c.classifier_dropout_prob(), 0.2);  // null: falls back to hidden_dropout_prob
  c = load(R"({"hidden_dropout_prob": 0.2, "classifier_dropout": 0.4})");
  EXPECT_EQ(c.classifier_dropout_prob(), 0.4);
  EXPECT_THROW(load(R"({"hidden_dropout_prob": 1.5})"), Error);
}

// p = 0 everywhere: dropout on is dropout off, bit for bit; dropout off ignores the probabilities.
TEST(Dropout, ZeroProbabilityIsBitIdenticalToNoDropout) {
  for (const test::TrainArch& ta : test::kTrainArchs) {
    BigBirdConfig cfg = test::tiny_train_config(ta.arch);
    cfg.hidden_dropout_prob = 0, cfg.attention_probs_dropout_prob = 0, cfg.classifier_dropout = 0.0;
    auto zero = BigBirdModel::random(cfg, ta.arch, 5);
    cfg.hidden_dropout_prob = 0.3, cfg.classifier_dropout = 0.4;
    auto some = BigBirdModel::random(cfg, ta.arch, 5);
    const test::TrainCase tc = test::tiny_train_case(ta.arch);
    for (const char* att : {"block_sparse", "original_full"}) {
      SCOPED_TRACE(std::string(ta.name) + " " + att);
      ForwardOptions opt;
      opt.attention = parse_attention_type(att);
      const GradOutput off = zero->loss_and_grads(tc.in, tc.labels, opt, test::ctx());
      test::expect_same_bits(off, zero->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), with_dropout()));
      test::expect_same_bits(off, some->loss_and_grads(tc.in, tc.labels, opt, test::ctx()));
      // ... and with p > 0 the masks change the loss, a new step gives new masks, the same step the same.
      const GradOutput on = some->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), with_dropout(9, 4));
      EXPECT_NE(on.loss, off.loss);
      EXPECT_NE(on.loss, some->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), with_dropout(9, 5)).loss);
      test::expect_same_bits(on, some->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), with_dropout(9, 4)));
    }
  }
}

// Each head's own dropouts act: with hidden_dropout_prob = 0 only the classifier dropouts remain
// (sequence and token classification), and they change the loss.
TEST(Dropout, ClassifierDropoutAlone) {
  for (Architecture arch : {Architecture::SequenceClassification, Architecture::TokenClassification}) {
    BigBirdConfig cfg = test::tiny_train_config(arch);
    cfg.hidden_dropout_prob = 0, cfg.classifier_dropout = 0.5;
    auto m = BigBirdModel::random(cfg, arch, 5);
    const test::TrainCase tc = test::tiny_train_case(arch);
    const GradOutput off = m->loss_and_grads(tc.in, tc.labels, {}, test::ctx());
    const GradOutput on = m->loss_and_grads(tc.in, tc.labels, {}, test::ctx(), with_dropout());
    EXPECT_NE(on.loss, off.loss) << architecture_name(arch);
  }
}

TEST(Dropout, GradientsBitIdenticalForAnyThreadCount) {
  for (Architecture arch : {Architecture::PreTraining, Architecture::SequenceClassification,
                            Architecture::QuestionAnswering, Architecture::TokenClassification}) {
    BigBirdConfig cfg = test::tiny_train_config(arch);
    cfg.hidden_dropout_prob = 0.2, cfg.classifier_dropout = 0.3;
    auto m = BigBirdModel::random(cfg, arch, 5);
    const test::TrainCase tc = test::tiny_train_case(arch);
    SCOPED_TRACE(architecture_name(arch));
    test::expect_same_bits(m->loss_and_grads(tc.in, tc.labels, {}, ThreadingContext(1), with_dropout()),
                           m->loss_and_grads(tc.in, tc.labels, {}, ThreadingContext(2), with_dropout()));
  }
}

// Finite differences with dropout on (p = 0.2 hidden, 0.3 classifier): the masks are fixed by the
// seed and step, so the loss is a smooth function of the weights and the check of test_grad.cpp
// applies unchanged: on the reference kernels, for the entry of largest gradient of every tensor
// (|g| >= 5e-3), (L(θ+h) − L(θ−h)) / 2h with h = 1e-2·max(|θ|, 0.1) agrees with the gradient to
// 3e-2·|g| + 5e-4 (float32 loss rounding ~2.5e-4 in the quotient, O(h²) curvature a few per cent).
TEST(Dropout, FiniteDifferencesOnEveryHead) {
  for (const test::TrainArch& ta : test::kTrainArchs) {
    BigBirdConfig cfg = test::tiny_train_config(ta.arch);
    cfg.hidden_dropout_prob = 0.2, cfg.classifier_dropout = 0.3;
    auto m = BigBirdModel::random(cfg, ta.arch, 11);
    const test::TrainCase tc = test::tiny_train_case(ta.arch);
    for (const char* att : {"block_sparse", "original_full"}) {
      SCOPED_TRACE(std::string(ta.name) + " " + att);
      ForwardOptions opt;
      opt.attention = parse_attention_type(att);
      opt.reference_kernels = true;
      const TrainingOptions train = with_dropout(21, 2);
      auto loss = [&] {
        return static_cast<double>(m->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), train).loss);
      };
      const GradOutput g = m->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), train);
      ASSERT_TRUE(std::isfinite(g.loss));
      size_t checked = 0;
      for (size_t pi = 0; pi < g.grads.size(); ++pi) {
        const auto& [name, grad] = g.grads[pi];
        const ConstView& w = m->named_parameters()[pi].second;
        const auto it = std::max_element(grad.data.begin(), grad.data.end(),
                                         [](float x, float y) { return std::fabs(x) < std::fabs(y); });
        if (it == grad.data.end() || std::fabs(*it) < 5e-3f || name.find(".key.bias") != std::string::npos) continue;
        float* p = const_cast<float*>(w.data) + (it - grad.data.begin());
        const float saved = *p, h = 1e-2f * std::max(std::fabs(saved), 0.1f);
        *p = saved + h;
        const double up = loss();
        *p = saved - h;
        const double down = loss();
        *p = saved;
        EXPECT_NEAR((up - down) / (2.0 * h), *it, 3e-2 * std::fabs(*it) + 5e-4) << name;
        ++checked;
      }
      EXPECT_GE(checked, 5u);
    }
  }
}

// The kernels' dropout on attention probabilities draws from the same hash as Dropout: the
// ProbsDropout made from a Dropout keeps counter e iff the Dropout keeps element e.
TEST(Dropout, AttentionProbsMaskIsTheDropoutMask) {
  const Dropout d{0.3f, 17, 5, dropout_site::attention_probs(2)};
  const ProbsDropout pd{d.p, d.scale(), d.key(), 0};
  for (uint64_t e = 0; e < 20000; e += 7) ASSERT_EQ(pd.factor(e), d.keep(e) ? d.scale() : 0.0f) << e;
  // e = ((seq·heads + h)·L + i)·L + j
  const ProbsDropout second{d.p, d.scale(), d.key(), 2};
  EXPECT_EQ(second.row(12, 3, 100, 7) + 9, ((2u * 12 + 3) * 100 + 7) * 100 + 9);
}

namespace {
// The first `len` tokens of a masked-LM case (labels included): short enough for the fall-back.
test::TrainCase truncated(const test::TrainCase& tc, int64_t len) {
  test::TrainCase t;
  const int64_t b = tc.in.input_ids.dim(0), L = tc.in.input_ids.dim(1);
  t.in.input_ids = TensorI64(Shape{b, len});
  t.in.attention_mask = TensorI64(Shape{b, len}, 1);
  t.labels.labels = TensorI64(Shape{b, len});
  for (int64_t r = 0; r < b; ++r)
    for (int64_t i = 0; i < len; ++i) {
      t.in.input_ids.data[static_cast<size_t>(r * len + i)] = tc.in.input_ids.data[static_cast<size_t>(r * L + i)];
      t.labels.labels.data[static_cast<size_t>(r * len + i)] = tc.labels.labels.data[static_cast<size_t>(r * L + i)];
    }
  for (int64_t i = len - 6; i < len; ++i) t.in.attention_mask.data[static_cast<size_t>(len + i)] = 0;  // padding
  return t;
}
}  // namespace

// HF's dropout on the attention probabilities (attention_probs_dropout_prob) acts where full
// attention runs: original_full, and block_sparse's fall-back on short inputs; block-sparse
// attention has none. Where it acts it changes the loss, and the gradients stay the same bits at
// 1 and 2 threads; p = 0 (or dropout off) is no dropout, bit for bit.
TEST(Dropout, AttentionProbsOnFullAttention) {
  for (Architecture arch : {Architecture::MaskedLM, Architecture::SequenceClassification}) {
    BigBirdConfig cfg = test::tiny_train_config(arch);
    cfg.hidden_dropout_prob = 0, cfg.classifier_dropout = 0.0, cfg.attention_probs_dropout_prob = 0;
    auto zero = BigBirdModel::random(cfg, arch, 5);
    cfg.attention_probs_dropout_prob = 0.2;
    auto some = BigBirdModel::random(cfg, arch, 5);
    const test::TrainCase tc = test::tiny_train_case(arch);
    SCOPED_TRACE(architecture_name(arch));
    ForwardOptions sparse;  // 83 tokens: block-sparse runs (the fall-back is at <= 56)
    test::expect_same_bits(zero->loss_and_grads(tc.in, tc.labels, sparse, test::ctx(), with_dropout()),
                           some->loss_and_grads(tc.in, tc.labels, sparse, test::ctx(), with_dropout()));
    ForwardOptions full;
    full.attention = AttentionType::OriginalFull;
    const GradOutput off = zero->loss_and_grads(tc.in, tc.labels, full, test::ctx(), with_dropout());
    test::expect_same_bits(off, some->loss_and_grads(tc.in, tc.labels, full, test::ctx()));
    const GradOutput on = some->loss_and_grads(tc.in, tc.labels, full, ThreadingContext(1), with_dropout());
    EXPECT_NE(on.loss, off.loss);
    test::expect_same_bits(on, some->loss_and_grads(tc.in, tc.labels, full, ThreadingContext(2), with_dropout()));
    EXPECT_NE(on.loss, some->loss_and_grads(tc.in, tc.labels, full, test::ctx(), with_dropout(9, 5)).loss);
    // The fast kernels against the reference ones (the same masks; float against double): the
    // bound of test_grad.cpp, 1e-4·max|g| per tensor (key biases: rounding noise around 0).
    ForwardOptions full_ref = full;
    full_ref.reference_kernels = true;
    const GradOutput ref = some->loss_and_grads(tc.in, tc.labels, full_ref, test::ctx(), with_dropout());
    EXPECT_NEAR(on.loss, ref.loss, 1e-5 * std::fabs(ref.loss));
    for (size_t i = 0; i < ref.grads.size(); ++i) {
      const std::string& name = ref.grads[i].first;
      double worst = 0, scale = 0;
      for (size_t e = 0; e < ref.grads[i].second.data.size(); ++e) {
        worst = std::max(worst, std::fabs(double(on.grads[i].second.data[e]) - ref.grads[i].second.data[e]));
        scale = std::max(scale, std::fabs(double(ref.grads[i].second.data[e])));
      }
      if (name.find(".key.bias") == std::string::npos) {
        EXPECT_LE(worst, 1e-4 * scale + 1e-7) << name;
      }
    }
    if (arch == Architecture::MaskedLM) {  // the fall-back of block_sparse on a short input
      const test::TrainCase s = truncated(tc, 40);
      const GradOutput fb_off = zero->loss_and_grads(s.in, s.labels, sparse, test::ctx(), with_dropout());
      const GradOutput fb_on = some->loss_and_grads(s.in, s.labels, sparse, ThreadingContext(1), with_dropout());
      EXPECT_NE(fb_on.loss, fb_off.loss);
      test::expect_same_bits(fb_on, some->loss_and_grads(s.in, s.labels, sparse, ThreadingContext(2), with_dropout()));
    }
  }
}
