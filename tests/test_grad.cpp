// Gradients of the whole model (BigBirdModel::loss_and_grads and `bigbird grad`): HF's backward on
// the fixtures, finite differences on other shapes and heads, thread-count independence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "sparse/plan_io.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::data_path;
using bigbird::test::run_cli;
using bigbird::test::TempDir;

namespace {

struct Case {
  EncoderInput in;
  TrainLabels labels;
  ForwardOptions opt;
};

Case read_case(const SafeTensors& st) {
  Case c;
  c.in.input_ids = st.read_i64("input_ids");
  if (st.has("attention_mask")) c.in.attention_mask = st.read_i64("attention_mask");
  if (st.has("token_type_ids")) c.in.token_type_ids = st.read_i64("token_type_ids");
  c.labels.labels = st.read_i64("labels");
  c.opt.injected_plans = plans_from_safetensors(st);
  return c;
}

// HF's float32 gradients vs float64 autograd differ by up to 2.3e-6 x max|g| (fixture README);
// ours are held to 1e-4 x max|g| per tensor (the runner's bound). Key biases: exactly 0 in exact
// arithmetic, HF's values are rounding noise: |g| <= 1e-5.
void expect_grads_match(const GradOutput& got, const SafeTensors& ref) {
  EXPECT_NEAR(got.loss, ref.read_f32("loss").data[0], 1e-5 * std::fabs(ref.read_f32("loss").data[0]));
  size_t compared = 0;
  auto check = [&](const std::string& name, const Tensor& t) {
    const std::string key = "grad." + name;
    ASSERT_TRUE(ref.has(key)) << key << " is not in the fixture";
    const Tensor want = ref.read_f32(key);
    ASSERT_EQ(t.shape, want.shape) << key;
    double worst = 0, scale = 0, mx = 0;
    for (size_t i = 0; i < t.data.size(); ++i) {
      worst = std::max(worst, std::fabs(double(t.data[i]) - want.data[i]));
      scale = std::max(scale, std::fabs(double(want.data[i])));
      mx = std::max(mx, std::fabs(double(t.data[i])));
    }
    if (name.find(".key.bias") != std::string::npos) EXPECT_LE(mx, 1e-5) << key;
    else EXPECT_LE(worst, 1e-4 * scale + 1e-7) << key << " (max|g| " << scale << ")";
    ++compared;
  };
  for (const auto& [name, t] : got.grads) check(name, t);
  check("embedding_output", got.embedding_output);
  size_t in_fixture = 0;
  for (const std::string& n : ref.names()) in_fixture += n.rfind("grad.", 0) == 0;
  EXPECT_EQ(compared, in_fixture) << "every gradient of the fixture, and no other";
}

}  // namespace

TEST(Grad, MaskedLmMatchesHfBackward) {
  const SafeTensors ref = SafeTensors::open(data_path("roberta-tiny/grad_case_i_mlm.safetensors"));
  auto m = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  const Case c = read_case(ref);
  expect_grads_match(m->loss_and_grads(c.in, c.labels, c.opt, test::ctx()), ref);
}

TEST(Grad, SequenceClassificationMatchesHfBackward) {
  const SafeTensors ref = SafeTensors::open(data_path("roberta-tiny/grad_case_seqcls.safetensors"));
  auto m = BigBirdModel::load(data_path("roberta-tiny/seqcls"));
  const Case c = read_case(ref);
  const GradOutput g = m->loss_and_grads(c.in, c.labels, c.opt, test::ctx());
  expect_grads_match(g, ref);
  // Row 1's 37 padded positions get exactly no gradient.
  const int64_t L = 256, H = 64;
  const TensorI64& mask = c.in.attention_mask;
  for (int64_t t = 0; t < L; ++t) {
    if (mask.data[static_cast<size_t>(L + t)] != 0) continue;
    for (int64_t j = 0; j < H; ++j) ASSERT_EQ(g.embedding_output.data[static_cast<size_t>((L + t) * H + j)], 0.0f);
  }
}

TEST(Grad, BitIdenticalForAnyThreadCount) {
  const SafeTensors ref = SafeTensors::open(data_path("roberta-tiny/grad_case_i_mlm.safetensors"));
  auto m = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  const Case c = read_case(ref);
  const GradOutput a = m->loss_and_grads(c.in, c.labels, c.opt, ThreadingContext(1));
  const GradOutput b = m->loss_and_grads(c.in, c.labels, c.opt, ThreadingContext(2));
  const GradOutput d = m->loss_and_grads(c.in, c.labels, c.opt, ThreadingContext(3));
  EXPECT_EQ(a.loss, b.loss);
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    EXPECT_EQ(a.grads[i].second.data, b.grads[i].second.data) << a.grads[i].first;
    EXPECT_EQ(a.grads[i].second.data, d.grads[i].second.data) << a.grads[i].first;
  }
  EXPECT_EQ(a.embedding_output.data, b.embedding_output.data);
}

TEST(Grad, CliWritesLossAndEveryGradient) {
  TempDir dir;
  const std::string in = data_path("roberta-tiny/grad_case_seqcls.safetensors"), out = dir.file("g.safetensors");
  auto r = run_cli("grad --model " + data_path("roberta-tiny/seqcls") + " --inputs " + in + " --outputs " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const SafeTensors got = SafeTensors::open(out), ref = SafeTensors::open(in);
  EXPECT_NEAR(got.read_f32("loss").data[0], 0.9936102f, 1e-5);
  for (const std::string& n : ref.names()) {
    if (n.rfind("grad.", 0) == 0) {
      EXPECT_TRUE(got.has(n)) << n;
    }
  }
  EXPECT_EQ(got.read_f32("grad.bert.pooler.weight").data, std::vector<float>(64 * 64, 0.0f));  // no gradient
  // Errors: one line, nothing written.
  const std::string bad = dir.file("bad.safetensors");
  write_safetensors(bad, {OutTensor::i64("input_ids", TensorI64(Shape{1, 8}, 5))});
  auto e = run_cli("grad --model " + data_path("roberta-tiny/seqcls") + " --inputs " + bad + " --outputs " +
                   dir.file("x.safetensors"));
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.output.find("error: "), std::string::npos) << e.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.safetensors")));
}

// Finite differences of the loss on small random models of every head, other shapes than the
// fixtures (block 8, r 1, 3 heads, odd lengths with internal padding, both attention types), on
// the scalar reference kernels (double accumulation): for the entry of largest gradient of every
// tensor (|g| >= 5e-3), (L(θ+h) − L(θ−h)) / 2h with h = 1e-2·max(|θ|, 0.1) agrees with the
// gradient to 3e-2·|g| + 5e-4: the loss is a float32 (a few units of 1e-7 at these values), so the
// quotient carries up to ~2.5e-4 of rounding, and O(h²) curvature stays below a few per cent.
namespace {
struct FdArch {
  Architecture arch;
  const char* name;
};

BigBirdConfig fd_config() {
  BigBirdConfig cfg;
  cfg.vocab_size = 60, cfg.hidden_size = 24, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 3;
  cfg.intermediate_size = 40, cfg.max_position_embeddings = 128, cfg.type_vocab_size = 2;
  cfg.block_size = 8, cfg.num_random_blocks = 1, cfg.hidden_act = "gelu_new", cfg.layer_norm_eps = 1e-12;
  cfg.num_labels = 3, cfg.sep_token_id = 7;
  return cfg;
}

// Two rows of 83 tokens (11 blocks of 8 after padding: block-sparse, not the fall-back), the
// second padded from token 70.
EncoderInput fd_input() {
  const int64_t b = 2, L = 83;
  EncoderInput in;
  in.input_ids = TensorI64(Shape{b, L});
  in.attention_mask = TensorI64(Shape{b, L}, 1);
  for (int64_t i = 0; i < b * L; ++i) in.input_ids.data[static_cast<size_t>(i)] = 8 + (i * 37 + 11) % 52;
  for (int64_t t = 70; t < L; ++t) in.attention_mask.data[static_cast<size_t>(L + t)] = 0;
  return in;
}

// The central difference at each picked parameter's largest gradient entry (|g| >= min_grad),
// held to the tolerance above; returns the names checked.
template <typename Pick>
std::vector<std::string> check_fd(BigBirdModel& m, const EncoderInput& in, const TrainLabels& lab,
                                  const ForwardOptions& opt, const Pick& pick) {
  const GradOutput g = m.loss_and_grads(in, lab, opt, test::ctx());
  EXPECT_TRUE(std::isfinite(g.loss));
  std::vector<std::string> checked;
  for (size_t pi = 0; pi < g.grads.size(); ++pi) {
    const auto& [name, grad] = g.grads[pi];
    const ConstView& w = m.named_parameters()[pi].second;
    EXPECT_EQ(m.named_parameters()[pi].first, name);
    const float min_grad = pick(pi, name);
    if (min_grad <= 0 || name.find(".key.bias") != std::string::npos) continue;
    const auto it = std::max_element(grad.data.begin(), grad.data.end(),
                                     [](float x, float y) { return std::fabs(x) < std::fabs(y); });
    if (it == grad.data.end() || std::fabs(*it) < min_grad) continue;
    float* p = const_cast<float*>(w.data) + (it - grad.data.begin());
    const float saved = *p, h = 1e-2f * std::max(std::fabs(saved), 0.1f);
    *p = saved + h;
    const double up = m.loss_and_grads(in, lab, opt, test::ctx()).loss;
    *p = saved - h;
    const double down = m.loss_and_grads(in, lab, opt, test::ctx()).loss;
    *p = saved;
    const double fd = (up - down) / (2.0 * h);
    EXPECT_NEAR(fd, *it, 3e-2 * std::fabs(*it) + 5e-4) << name;
    checked.push_back(name);
  }
  return checked;
}
}  // namespace

TEST(Grad, FiniteDifferencesOnEveryHead) {
  const BigBirdConfig cfg = fd_config();
  for (const FdArch fa :
       {FdArch{Architecture::PreTraining, "pretraining"}, FdArch{Architecture::MaskedLM, "mlm"},
        FdArch{Architecture::SequenceClassification, "seqcls"}, FdArch{Architecture::TokenClassification, "tokcls"},
        FdArch{Architecture::QuestionAnswering, "qa"}}) {
    for (const char* att : {"block_sparse", "original_full"}) {
      SCOPED_TRACE(std::string(fa.name) + " " + att);
      BigBirdConfig c = cfg;
      if (fa.arch == Architecture::QuestionAnswering) c.num_labels = 2;
      auto m = BigBirdModel::random(c, fa.arch, 11);
      EncoderInput in = fd_input();
      const int64_t b = 2, L = 83;
      in.input_ids.data[5] = 7;  // the only [SEP]: row 0's question is tokens 1-5 (masked by the QA head)
      TrainLabels lab;
      if (fa.arch == Architecture::SequenceClassification) lab.labels = TensorI64(Shape{b}), lab.labels.data = {2, 0};
      else if (fa.arch == Architecture::QuestionAnswering) {
        lab.start_positions = TensorI64(Shape{b}), lab.start_positions.data = {9, 30};
        lab.end_positions = TensorI64(Shape{b}), lab.end_positions.data = {12, 500};  // clamped: ignored
      } else {
        lab.labels = TensorI64(Shape{b, L}, -100);
        const int64_t classes = fa.arch == Architecture::TokenClassification ? 3 : 60;
        for (int64_t i = 0; i < b * L; i += 7) lab.labels.data[static_cast<size_t>(i)] = (i * 13) % classes;
        if (fa.arch == Architecture::PreTraining)
          lab.next_sentence_label = TensorI64(Shape{b}), lab.next_sentence_label.data = {1, 0};
      }
      ForwardOptions opt;
      opt.attention = parse_attention_type(att);
      opt.plan_source = PlanSource::Seeded;
      opt.reference_kernels = true;
      const auto checked = check_fd(*m, in, lab, opt, [](size_t, const std::string&) { return 5e-3f; });
      EXPECT_GE(checked.size(), 5u);
    }
  }
}

TEST(Grad, FiniteDifferencesWithGlobalTokens) {
  // The ETC extension (num_global_tokens): the same finite-difference check as above, on the ITC
  // layout and on a window-only one, block-sparse and full; the global tokens' own vectors must be
  // among the parameters checked.
  BigBirdConfig cfg = fd_config();
  cfg.layout.global_tokens = 3;
  for (const Architecture arch : {Architecture::MaskedLM, Architecture::SequenceClassification})
    for (const int64_t global_blocks : {1, 0})
      for (const char* att : {"block_sparse", "original_full"}) {
        SCOPED_TRACE(std::string(architecture_name(arch)) + " global_blocks " + std::to_string(global_blocks) + " " + att);
        BigBirdConfig c = cfg;
        c.layout.global_blocks = global_blocks;
        auto m = BigBirdModel::random(c, arch, 17);
        // Value and output projections x4: with std-0.02 weights the route through the global
        // tokens is two near-uniform attention hops, and their gradient would be too small to check.
        for (const auto& [name, view] : m->named_parameters())
          if (name.find("attention.self.value.weight") != std::string::npos ||
              name.find("attention.output.dense.weight") != std::string::npos)
            for (int64_t i = 0; i < numel(view.shape); ++i) const_cast<float*>(view.data)[i] *= 4.0f;
        const EncoderInput in = fd_input();
        const int64_t b = 2, L = 83;
        TrainLabels lab;
        if (arch == Architecture::SequenceClassification) lab.labels = TensorI64(Shape{b}), lab.labels.data = {2, 0};
        else {
          lab.labels = TensorI64(Shape{b, L}, -100);
          for (int64_t i = 0; i < b * L; i += 7) lab.labels.data[static_cast<size_t>(i)] = (i * 13) % 60;
        }
        ForwardOptions opt;
        opt.attention = parse_attention_type(att);
        opt.reference_kernels = true;
        // The global vectors (threshold 1e-4), and a third of the other parameters (5e-3).
        const auto checked = check_fd(*m, in, lab, opt, [](size_t pi, const std::string& name) {
          if (name.find("global_token_embeddings") != std::string::npos) return 1e-4f;
          return pi % 3 == 0 ? 5e-3f : 0.0f;
        });
        EXPECT_NE(std::find_if(checked.begin(), checked.end(),
                               [](const std::string& n) { return n.find("global_token_embeddings") != std::string::npos; }),
                  checked.end())
            << "the global tokens' vectors got no gradient worth checking";
      }
}
