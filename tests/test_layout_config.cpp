// Layouts as configuration (window_blocks, global_blocks, num_random_blocks): the layout builder
// against its definition, the attention kernels (forward and backward) on every such layout
// against the dense expansion, the config keys, and a model whose receptive field the layout sets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "models/bigbird_config.h"
#include "models/bigbird_model.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "attention_problem.h"
#include "test_util.h"

using namespace bigbird;
namespace fs = std::filesystem;

namespace {

// A random layout case: spec, block count just above the fall-back and a little more.
struct Case {
  LayoutSpec spec;
  int n = 0, B = 0, heads = 0, r = 0;
  RandomPlan plan;
  std::string what;
};

Case random_case(std::mt19937_64& rng, int i) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  c.spec.window_blocks = 2 * uni(0, 3) + 1;  // 1, 3, 5, 7
  c.spec.global_blocks = uni(0, 3);
  c.r = uni(0, 3);
  c.B = std::array{4, 8, 16}[static_cast<size_t>(uni(0, 2))];
  c.heads = uni(1, 3);
  c.n = static_cast<int>(c.spec.fallback_blocks(c.r)) + 1 + uni(0, 4);
  c.plan = seeded_random_plan(static_cast<uint64_t>(i), 0, c.n, c.r, c.heads);
  if (c.r > 0) c.plan.at(0, 0, 0) = 0;  // a repeated block (global when g > 0) must count twice
  c.what = "case " + std::to_string(i) + " w=" + std::to_string(c.spec.window_blocks) +
           " g=" + std::to_string(c.spec.global_blocks) + " r=" + std::to_string(c.r) + " n=" + std::to_string(c.n) +
           " B=" + std::to_string(c.B) + " heads=" + std::to_string(c.heads);
  return c;
}

}  // namespace

TEST(LayoutSpec, DefaultsAreHfItcBitForBit) {
  for (int r : {0, 1, 3}) {
    const int n = 2 * r + 8, heads = 2;
    const RandomPlan plan = seeded_random_plan(9, 1, n, r, heads);
    const BlockLayout a = make_layout(LayoutSpec{}, n, 16, heads, plan);
    const BlockLayout b = itc_layout(n, 16, heads, plan);
    ASSERT_EQ(a.offsets, b.offsets);
    ASSERT_EQ(a.keys.size(), b.keys.size());
    for (size_t i = 0; i < a.keys.size(); ++i) {
      EXPECT_EQ(a.keys[i].block, b.keys[i].block);
      EXPECT_EQ(a.keys[i].kind, b.keys[i].kind);
    }
    EXPECT_EQ(LayoutSpec{}.fallback_blocks(r), 5 + 2 * r);  // HF's (5 + 2r)·block rule
  }
}

TEST(LayoutSpec, RowsFollowTheDefinition) {
  // Each row's multiset of (block, mask rule) against the definition in sparse/layout.h, counted
  // per block rather than built in order.
  std::mt19937_64 rng(11);
  for (int i = 0; i < 60; ++i) {
    const Case c = random_case(rng, i);
    if (c.spec.is_itc()) continue;  // HF's own rows (1 and n-2 differ): DefaultsAreHfItcBitForBit
    const BlockLayout L = make_layout(c.spec, c.n, c.B, c.heads, c.plan);
    const int g = static_cast<int>(c.spec.global_blocks), half = static_cast<int>(c.spec.window_blocks / 2);
    for (int h = 0; h < c.heads; ++h)
      for (int q = 0; q < c.n; ++q) {
        std::vector<int> key_rule(static_cast<size_t>(c.n), 0), qk_rule(static_cast<size_t>(c.n), 0);
        for (const KeyBlock& kb : L.row(h, q)) ++(kb.kind == MaskKind::Key ? key_rule : qk_rule)[static_cast<size_t>(kb.block)];
        const bool global_row = q < g || q >= c.n - g;
        for (int b = 0; b < c.n; ++b) {
          const bool global_key = b < g || b >= c.n - g;
          int want_key = global_row || global_key ? 1 : 0;
          int want_qk = 0;
          if (!global_row) {
            if (!global_key && std::abs(b - q) <= half) ++want_qk;
            const int row = std::clamp(q - 1, 0, c.n - 3);
            for (int j = 0; j < c.r; ++j) want_qk += c.plan.at(h, row, j) == b ? 1 : 0;
          }
          ASSERT_EQ(key_rule[static_cast<size_t>(b)], want_key) << c.what << " h=" << h << " q=" << q << " b=" << b;
          ASSERT_EQ(qk_rule[static_cast<size_t>(b)], want_qk) << c.what << " h=" << h << " q=" << q << " b=" << b;
        }
      }
  }
}

TEST(LayoutSpec, ForwardKernelsEqualTheDenseExpansion) {
  // Scalar reference and fast kernel against the dense expansion of each layout (padding in the
  // last blocks). Tolerance: float32 sums of at most n·B terms of O(1) values, 1e-5 absolute.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 30; ++i) {
    const Case c = random_case(rng, 100 + i);
    const BlockLayout layout = make_layout(c.spec, c.n, c.B, c.heads, c.plan);
    const int64_t L = static_cast<int64_t>(c.n) * c.B;
    test::AttnProblem p = test::make_attn_problem(L, c.heads, 8, 1, i % 2 ? L - c.B - 1 : L, 700 + static_cast<uint64_t>(i));
    std::vector<float> ref(p.q.size(), 0.f), dense(p.q.size(), 0.f), fast(p.q.size(), 0.f);
    block_sparse_attention_ref(p.input(ref.data()), layout);
    dense_layout_attention_ref(p.input(dense.data()), expand_dense(layout));
    block_sparse_attention(test::ctx(), p.input(fast.data()), layout);
    EXPECT_LT(p.diff_cols(ref, dense), 1e-6) << c.what;
    EXPECT_LT(p.diff_cols(fast, dense), 1e-5) << c.what;
  }
}

TEST(LayoutSpec, BackwardKernelsEqualFiniteDifferencesOfTheDenseForward) {
  // The backward reference against central differences of the dense expansion's forward (an
  // independent definition of the layout's maths), and the fast backward against the reference.
  // Loss = sum(out · G). In double-accumulated references with eps 1e-3 the difference quotient's
  // error is O(eps²) plus float rounding of the inputs' perturbation: 2e-3 absolute is ample for
  // O(1) gradients; the fast kernel (float32) is held to 1e-4 of the reference.
  std::mt19937_64 rng(8);
  for (int i = 0; i < 8; ++i) {
    const Case c = random_case(rng, 200 + i);
    const BlockLayout layout = make_layout(c.spec, c.n, c.B, c.heads, c.plan);
    const DenseLayout dense = expand_dense(layout);
    const int64_t L = static_cast<int64_t>(c.n) * c.B;
    test::AttnProblem p = test::make_attn_problem(L, c.heads, 4, 1, L - 2, 900 + static_cast<uint64_t>(i));
    const std::vector<float> G = test::random_vec(p.q.size(), 1234 + static_cast<uint64_t>(i));
    std::vector<float> dq(p.q.size(), 0.f), dk(p.q.size(), 0.f), dv(p.q.size(), 0.f);
    std::vector<float> out(p.q.size(), 0.f);
    block_sparse_attention_backward_ref(p.input(out.data()), layout, G.data(), dq.data(), dk.data(), dv.data());
    std::vector<float> fq(p.q.size(), 0.f), fk(p.q.size(), 0.f), fv(p.q.size(), 0.f);
    block_sparse_attention_backward(test::ctx(), p.input(out.data()), layout, G.data(), fq.data(), fk.data(), fv.data());
    EXPECT_LT(p.diff_cols(fq, dq), 1e-4) << c.what;
    EXPECT_LT(p.diff_cols(fk, dk), 1e-4) << c.what;
    EXPECT_LT(p.diff_cols(fv, dv), 1e-4) << c.what;
    auto loss = [&]() {
      std::vector<float> o(p.q.size(), 0.f);
      dense_layout_attention_ref(p.input(o.data()), dense);
      double s = 0;
      for (int64_t t = 0; t < p.L; ++t)
        for (int64_t col = 0; col < p.heads * p.d; ++col) {
          const size_t j = static_cast<size_t>(t * p.ld + col);
          s += static_cast<double>(o[j]) * G[j];
        }
      return s;
    };
    std::mt19937_64 pick(static_cast<uint64_t>(i));
    for (int probe = 0; probe < 12; ++probe) {
      const int64_t t = std::uniform_int_distribution<int64_t>(0, p.L - 1)(pick);
      const int64_t col = std::uniform_int_distribution<int64_t>(0, p.heads * p.d - 1)(pick);
      const size_t j = static_cast<size_t>(t * p.ld + col);
      for (auto [x, grad, name] : {std::tuple{&p.q, &dq, "q"}, std::tuple{&p.k, &dk, "k"}, std::tuple{&p.v, &dv, "v"}}) {
        const float keep = (*x)[j];
        const float eps = 1e-3f;
        (*x)[j] = keep + eps;
        const double up = loss();
        (*x)[j] = keep - eps;
        const double down = loss();
        (*x)[j] = keep;
        const double fd = (up - down) / (2.0 * eps);
        EXPECT_NEAR((*grad)[j], fd, 2e-3) << c.what << " d" << name << "[" << t << ", " << col << "]";
      }
    }
  }
}

TEST(LayoutSpec, RejectsBadValuesAndTooFewBlocks) {
  LayoutSpec even;
  even.window_blocks = 4;
  EXPECT_THROW(even.validate("cfg"), Error);
  LayoutSpec negative;
  negative.global_blocks = -1;
  EXPECT_THROW(negative.validate("cfg"), Error);
  LayoutSpec zero;
  zero.window_blocks = 0;
  EXPECT_THROW(zero.validate("cfg"), Error);
  LayoutSpec wide;
  wide.window_blocks = 5;
  wide.global_blocks = 2;  // fall-back: max(9, 5) + 2r blocks
  EXPECT_EQ(wide.fallback_blocks(1), 11);
  EXPECT_THROW(make_layout(wide, 11, 8, 1, seeded_random_plan(0, 0, 11, 1, 1)), Error);
  EXPECT_NO_THROW(make_layout(wide, 12, 8, 1, seeded_random_plan(0, 0, 12, 1, 1)));
}

namespace {
// A copy of the fixtures' BigBirdForPreTraining with config keys replaced.
fs::path model_with(const test::TempDir& tmp, const std::string& name, const nlohmann::json& keys) {
  const fs::path src = test::data_path("roberta-tiny/pretraining");
  const fs::path dst = tmp.path / name;
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dst / e.path().filename());
  nlohmann::json j;
  std::ifstream(src / "config.json") >> j;
  for (auto it = keys.begin(); it != keys.end(); ++it) j[it.key()] = it.value();
  std::ofstream(dst / "config.json", std::ios::trunc) << j.dump(2);
  return dst;
}

std::vector<float> first_block_output(const BigBirdModel& m, const EncoderInput& in, bool* fell_back) {
  ForwardOptions opt;
  opt.plan_source = PlanSource::Zeros;
  const EncoderOutput out = m.encode(in, opt, test::ctx());
  *fell_back = out.fell_back;
  const int64_t H = m.config().hidden_size, B = m.config().block_size;
  return {out.sequence_output.data.begin(), out.sequence_output.data.begin() + B * H};
}
}  // namespace

TEST(LayoutSpec, ModelConfigSetsTheReceptiveField) {
  // A window-only layout (global_blocks 0, no random blocks, window 3) with 2 layers: the first
  // block's outputs see blocks 0..2 only, so changing a token in the last block leaves them
  // unchanged; HF's ITC layout (global last block) sees it. The defaults load as HF's.
  test::TempDir tmp;
  const auto window = BigBirdModel::load(model_with(tmp, "window", {{"global_blocks", 0}, {"num_random_blocks", 0}, {"window_blocks", 3}}).string());
  const auto itc = BigBirdModel::load(model_with(tmp, "itc", nlohmann::json::object()).string());
  ASSERT_EQ(window->config().num_hidden_layers, 2);
  EXPECT_EQ(window->config().layout.global_blocks, 0);
  EXPECT_TRUE(itc->config().layout.is_itc());
  const int64_t B = itc->config().block_size, L = 16 * B;
  EncoderInput a;
  a.input_ids = TensorI64({1, L});
  for (int64_t t = 0; t < L; ++t) a.input_ids.data[static_cast<size_t>(t)] = 5 + (t * 7) % 90;
  EncoderInput b = a;
  b.input_ids.data[static_cast<size_t>(L - 3)] = 3;  // the last block
  bool fb = true;
  const auto wa = first_block_output(*window, a, &fb);
  EXPECT_FALSE(fb);
  const auto wb = first_block_output(*window, b, &fb);
  const auto ia = first_block_output(*itc, a, &fb);
  EXPECT_FALSE(fb);
  const auto ib = first_block_output(*itc, b, &fb);
  EXPECT_EQ(wa, wb) << "window-only layout: block 0 must not see the last block";
  EXPECT_GT(test::max_abs_diff(ia, ib), 1e-4) << "ITC: block 0 (global) sees every block";
  EXPECT_GT(test::max_abs_diff(ia, wa), 1e-4) << "the layouts differ";
}

TEST(LayoutSpec, ConfigKeysAreValidated) {
  test::TempDir tmp;
  EXPECT_THROW(BigBirdModel::load(model_with(tmp, "even", {{"window_blocks", 2}}).string()), Error);
  EXPECT_THROW(BigBirdModel::load(model_with(tmp, "neg", {{"global_blocks", -1}}).string()), Error);
  EXPECT_THROW(BigBirdModel::load(model_with(tmp, "str", {{"global_blocks", "two"}}).string()), Error);
  try {
    BigBirdModel::load(model_with(tmp, "even2", {{"window_blocks", 4}}).string());
    FAIL() << "window_blocks 4 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("window_blocks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

TEST(ConfigOverrides, ParseAndTypeLikeHfUpdateFromString) {
  EXPECT_TRUE(parse_config_overrides("").empty());
  const ConfigOverrides ov = parse_config_overrides("window_blocks=5, global_blocks = 2,hidden_act=gelu");
  ASSERT_EQ(ov.items.size(), 3u);
  EXPECT_EQ(ov.items[1].first, "global_blocks");
  EXPECT_EQ(ov.items[1].second, "2");
  EXPECT_THROW(parse_config_overrides("window_blocks"), Error);
  EXPECT_THROW(parse_config_overrides("=3"), Error);
  EXPECT_THROW(parse_config_overrides("a=1,a=2"), Error);
  nlohmann::json j = {{"block_size", 16}, {"use_bias", true}, {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu_new"},
                      {"classifier_dropout", nullptr}};
  const std::vector<std::string> known = {"window_blocks"};
  apply_config_overrides(j, parse_config_overrides("block_size=32,use_bias=false,layer_norm_eps=1e-5,hidden_act=relu,"
                                                   "classifier_dropout=0.25,window_blocks=7"),
                         known, "c.json");
  EXPECT_EQ(j["block_size"], 32);
  EXPECT_EQ(j["use_bias"], false);
  EXPECT_DOUBLE_EQ(j["layer_norm_eps"].get<double>(), 1e-5);
  EXPECT_EQ(j["hidden_act"], "relu");
  EXPECT_DOUBLE_EQ(j["classifier_dropout"].get<double>(), 0.25);
  EXPECT_EQ(j["window_blocks"], 7);
  for (const char* bad : {"block_size=3.5", "block_size=x", "use_bias=maybe", "layer_norm_eps=small", "bogus_key=1"})
    EXPECT_THROW(apply_config_overrides(j, parse_config_overrides(bad), known, "c.json"), Error) << bad;
}

TEST(ConfigOverrides, CliForwardEqualsTheEditedConfigAndTrainSavesThem) {
  // `forward --config-overrides` gives the bits of a model directory whose config.json holds the
  // same values; `train --config-overrides` writes them into the trained model's config.json.
  test::TempDir tmp;
  // (The input file carries HF's plans for r = 3, which both runs use.)
  const std::string kv = "window_blocks=5,global_blocks=2";
  const fs::path edited = model_with(tmp, "edited", {{"window_blocks", 5}, {"global_blocks", 2}});
  const std::string in = test::data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors");
  const std::string base = test::data_path("roberta-tiny/pretraining");
  auto a = test::run_cli("forward --model " + base + " --inputs " + in + " --outputs " + tmp.file("a.st") +
                         " --config-overrides " + kv);
  ASSERT_EQ(a.status, 0) << a.output;
  auto b = test::run_cli("forward --model " + edited.string() + " --inputs " + in + " --outputs " + tmp.file("b.st"));
  ASSERT_EQ(b.status, 0) << b.output;
  auto itc = test::run_cli("forward --model " + base + " --inputs " + in + " --outputs " + tmp.file("c.st"));
  ASSERT_EQ(itc.status, 0) << itc.output;
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(read(tmp.file("a.st")), read(tmp.file("b.st")));
  EXPECT_NE(read(tmp.file("a.st")), read(tmp.file("c.st")));

  auto bad = test::run_cli("forward --model " + base + " --inputs " + in + " --outputs " + tmp.file("d.st") +
                           " --config-overrides window_blocks=4");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("error: "), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("window_blocks"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(tmp.file("d.st")));
  auto unknown = test::run_cli("forward --model " + base + " --inputs " + in + " --outputs " + tmp.file("d.st") +
                               " --config-overrides windw_blocks=5");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("unknown key 'windw_blocks'"), std::string::npos) << unknown.output;

  {
    std::ofstream text(tmp.file("train.txt"));
    for (int i = 0; i < 40; ++i) text << "Paris is the capital of France and Berlin is the capital of Germany.\n";
  }
  auto t = test::run_cli("train --task mlm --model " + test::data_path("../../models/tiny-mlm") + " --train-file " +
                         tmp.file("train.txt") + " --max-steps 1 --max-seq-length 512 --config-overrides " + kv +
                         ",num_random_blocks=1" +
                         " --output-dir " + tmp.file("out") + " --no-progress");
  ASSERT_EQ(t.status, 0) << t.output;
  nlohmann::json saved;
  std::ifstream(tmp.file("out/config.json")) >> saved;
  EXPECT_EQ(saved["window_blocks"], 5);
  EXPECT_EQ(saved["global_blocks"], 2);
  EXPECT_EQ(saved["num_random_blocks"], 1);
  const BigBirdConfig c = load_bigbird_config(tmp.file("out/config.json"));
  EXPECT_EQ(c.layout.window_blocks, 5);
  EXPECT_EQ(c.layout.global_blocks, 2);
}
