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

// Case i's kernel layout: every third case adds no ETC block, the others 1 or 2 (with_global_tokens).
int etc_blocks(int i) { return i % 3; }

// The attention problem of a case with `extra` ETC blocks: the sequence's last block padded
// (from `seq_valid`), and only the first extra·B − 3 rows of the ETC blocks real (global tokens),
// the rest their block padding.
test::AttnProblem case_problem(const Case& c, int extra, int64_t d, int64_t seq_valid, uint64_t seed) {
  const int64_t Ls = static_cast<int64_t>(c.n) * c.B, L = Ls + static_cast<int64_t>(extra) * c.B;
  test::AttnProblem p = test::make_attn_problem(L, c.heads, d, 1, L, seed);
  for (int64_t t = seq_valid; t < Ls; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  for (int64_t t = Ls + std::max<int64_t>(1, extra * c.B - 3); extra > 0 && t < L; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  return p;
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

TEST(LayoutSpec, GlobalTokenRowsFollowTheDefinition) {
  // with_global_tokens: the base rows keep their keys in order and then attend to each ETC block
  // once (key rule); the ETC rows attend to every block once (key rule).
  std::mt19937_64 rng(13);
  for (int i = 0; i < 20; ++i) {
    const Case c = random_case(rng, 300 + i);
    const BlockLayout base = make_layout(c.spec, c.n, c.B, c.heads, c.plan);
    const int extra = 1 + i % 2;
    const BlockLayout L = with_global_tokens(base, extra);
    ASSERT_EQ(L.n_blocks, c.n + extra) << c.what;
    ASSERT_EQ(L.block, c.B);
    for (int h = 0; h < c.heads; ++h) {
      for (int q = 0; q < c.n; ++q) {
        const auto want = base.row(h, q), got = L.row(h, q);
        ASSERT_EQ(got.size(), want.size() + static_cast<size_t>(extra)) << c.what << " h=" << h << " q=" << q;
        for (size_t j = 0; j < want.size(); ++j) {
          EXPECT_EQ(got[j].block, want[j].block);
          EXPECT_EQ(got[j].kind, want[j].kind);
        }
        for (int e = 0; e < extra; ++e) {
          EXPECT_EQ(got[want.size() + static_cast<size_t>(e)].block, c.n + e);
          EXPECT_EQ(got[want.size() + static_cast<size_t>(e)].kind, MaskKind::Key);
        }
      }
      for (int q = c.n; q < c.n + extra; ++q) {
        const auto got = L.row(h, q);
        ASSERT_EQ(got.size(), static_cast<size_t>(c.n + extra));
        for (int b = 0; b < c.n + extra; ++b) {
          EXPECT_EQ(got[static_cast<size_t>(b)].block, b);
          EXPECT_EQ(got[static_cast<size_t>(b)].kind, MaskKind::Key);
        }
      }
    }
  }
  EXPECT_THROW(with_global_tokens(itc_layout(5, 4, 1, seeded_random_plan(0, 0, 5, 0, 1)), -1), Error);
}

TEST(LayoutSpec, ForwardKernelsEqualTheDenseExpansion) {
  // Scalar reference and fast kernel against the dense expansion of each layout (padding in the
  // last blocks), two thirds of them with ETC global-token blocks appended (their tails padding).
  // Tolerance: float32 sums of at most n·B terms of O(1) values, 1e-5 absolute.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 30; ++i) {
    const Case c = random_case(rng, 100 + i);
    const int extra = etc_blocks(i);
    const BlockLayout layout = with_global_tokens(make_layout(c.spec, c.n, c.B, c.heads, c.plan), extra);
    const int64_t Ls = static_cast<int64_t>(c.n) * c.B;
    test::AttnProblem p = case_problem(c, extra, 8, i % 2 ? Ls - c.B - 1 : Ls, 700 + static_cast<uint64_t>(i));
    std::vector<float> ref(p.q.size(), 0.f), dense(p.q.size(), 0.f), fast(p.q.size(), 0.f);
    block_sparse_attention_ref(p.input(ref.data()), layout);
    dense_layout_attention_ref(p.input(dense.data()), expand_dense(layout));
    block_sparse_attention(test::ctx(), p.input(fast.data()), layout);
    EXPECT_LT(p.diff_cols(ref, dense), 1e-6) << c.what << " etc blocks " << extra;
    EXPECT_LT(p.diff_cols(fast, dense), 1e-5) << c.what << " etc blocks " << extra;
  }
}

TEST(LayoutSpec, BackwardKernelsEqualFiniteDifferencesOfTheDenseForward) {
  // The backward reference against central differences of the dense expansion's forward (an
  // independent definition of the layout's maths), and the fast backward against the reference.
  // Loss = sum(out · G). In double-accumulated references with eps 1e-3 the difference quotient's
  // error is O(eps²) plus float rounding of the inputs' perturbation: 2e-3 absolute is ample for
  // O(1) gradients; the fast kernel (float32) is held to 1e-4 of the reference.
  std::mt19937_64 rng(8);
  for (int i = 0; i < 9; ++i) {
    const Case c = random_case(rng, 200 + i);
    const int extra = etc_blocks(i);
    const BlockLayout layout = with_global_tokens(make_layout(c.spec, c.n, c.B, c.heads, c.plan), extra);
    const DenseLayout dense = expand_dense(layout);
    test::AttnProblem p = case_problem(c, extra, 4, static_cast<int64_t>(c.n) * c.B - 2, 900 + static_cast<uint64_t>(i));
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

// ---------------------------------------------------------------- ETC: num_global_tokens

namespace {
BigBirdConfig etc_config(int64_t global_tokens) {
  BigBirdConfig c;
  c.vocab_size = 60, c.hidden_size = 16, c.num_hidden_layers = 2, c.num_attention_heads = 2;
  c.intermediate_size = 24, c.max_position_embeddings = 256, c.type_vocab_size = 2;
  c.block_size = 8, c.num_random_blocks = 0, c.sep_token_id = 7;
  c.layout.global_blocks = 0, c.layout.window_blocks = 3, c.layout.global_tokens = global_tokens;
  return c;
}

// Random weights (std 0.02) make every attention nearly uniform and every value small, so a change
// two hops away shrinks to float32 noise; scaling the value and output projections by `f` lets it
// through (f² per hop).
void amplify_values(const BigBirdModel& m, float f) {
  for (const auto& [name, view] : m.named_parameters())
    if (name.find("attention.self.value.weight") != std::string::npos ||
        name.find("attention.output.dense.weight") != std::string::npos)
      for (int64_t i = 0; i < numel(view.shape); ++i) const_cast<float*>(view.data)[i] *= f;
}

EncoderInput token_input(int64_t L, int64_t salt = 0) {
  EncoderInput in;
  in.input_ids = TensorI64({1, L});
  for (int64_t t = 0; t < L; ++t) in.input_ids.data[static_cast<size_t>(t)] = 8 + (t * 7 + salt) % 50;
  return in;
}
}  // namespace

TEST(GlobalTokens, CarryInformationAcrossTheSequence) {
  // Window-only layout (no global block, no random block), 2 layers, 16 blocks of 8: without
  // global tokens the first block cannot see the last; with 3 ETC global tokens it does (layer 1:
  // the global tokens read every token, layer 2: block 0 reads them). The outputs keep the
  // input's shape; the ETC rows (3 tokens padded to one block) count in padded_len only.
  const auto plain = BigBirdModel::random(etc_config(0), Architecture::Model, 3);
  const auto etc = BigBirdModel::random(etc_config(3), Architecture::Model, 3);
  amplify_values(*plain, 8.0f);
  amplify_values(*etc, 8.0f);
  const int64_t L = 16 * 8 - 5, H = 16;
  const EncoderInput a = token_input(L);
  EncoderInput b = a;  // blocks 8 on changed: beyond block 0's reach of 2 blocks in 2 window layers
  for (int64_t t = 8 * 8; t < L; ++t) b.input_ids.data[static_cast<size_t>(t)] = 8 + (t * 11) % 50;
  ForwardOptions opt;
  auto first_block = [&](const BigBirdModel& m, const EncoderInput& in) {
    const EncoderOutput o = m.encode(in, opt, test::ctx());
    EXPECT_EQ(o.attention_used, AttentionType::BlockSparse);
    EXPECT_EQ(o.sequence_output.shape, (Shape{1, L, H}));
    return std::vector<float>(o.sequence_output.data.begin(), o.sequence_output.data.begin() + 8 * H);
  };
  EXPECT_EQ(first_block(*plain, a), first_block(*plain, b)) << "window-only: block 0 must not see the last block";
  EXPECT_GT(test::max_abs_diff(first_block(*etc, a), first_block(*etc, b)), 1e-4)  // ~1000 ulps of these O(1) outputs
      << "ETC: the global tokens carry the last blocks to block 0";
  EXPECT_EQ(etc->encode(a, opt, test::ctx()).padded_len, 16 * 8 + 8);

  // The same weights through the scalar reference kernels (block-sparse and full attention), and
  // a short input (full-attention fall-back: the global tokens join as 3 more rows).
  ForwardOptions ref = opt;
  ref.reference_kernels = true;
  const EncoderOutput fast = etc->encode(a, opt, test::ctx()), slow = etc->encode(a, ref, test::ctx());
  EXPECT_LT(test::max_abs_diff(fast.sequence_output.data, slow.sequence_output.data), 1e-5);
  const EncoderInput short_in = token_input(20);
  const EncoderOutput s1 = etc->encode(short_in, opt, test::ctx()), s2 = etc->encode(short_in, ref, test::ctx());
  EXPECT_TRUE(s1.fell_back);
  EXPECT_EQ(s1.padded_len, 23);
  EXPECT_EQ(s1.sequence_output.shape, (Shape{1, 20, H}));
  EXPECT_LT(test::max_abs_diff(s1.sequence_output.data, s2.sequence_output.data), 1e-5);
  // Batched with another input of a different length, each gets what it gets alone (to 1e-5, as
  // EncoderShapes.BatchOfMixedLengthsEqualsEachAlone: the projections run over the call's rows).
  const std::vector<EncoderOutput> both = etc->encode_batch({a, short_in}, opt, test::ctx());
  EXPECT_LT(test::max_abs_diff(both[0].sequence_output.data, fast.sequence_output.data), 1e-5);
  EXPECT_LT(test::max_abs_diff(both[1].sequence_output.data, s1.sequence_output.data), 1e-5);
}

TEST(GlobalTokens, AreASetWithoutPositions) {
  // Global tokens have no position: swapping two of their vectors permutes keys every softmax
  // sums over, so every token's output stays the same (to float32 summation order, 1e-5), under
  // block-sparse and full attention alike; changing one vector changes every token's output.
  for (AttentionType att : {AttentionType::BlockSparse, AttentionType::OriginalFull}) {
    SCOPED_TRACE(attention_type_name(att));
    const auto m = BigBirdModel::random(etc_config(3), Architecture::Model, 5);
    const int64_t H = 16;
    float* g = nullptr;
    for (const auto& [name, view] : m->named_parameters())
      if (name == "bert.embeddings.global_token_embeddings.weight") g = const_cast<float*>(view.data);
    ASSERT_NE(g, nullptr);
    const EncoderInput in = token_input(20 * 8 - 3);
    ForwardOptions opt;
    opt.attention = att;
    const std::vector<float> before = m->encode(in, opt, test::ctx()).sequence_output.data;
    std::swap_ranges(g, g + H, g + 2 * H);  // global tokens 0 and 2
    const std::vector<float> swapped = m->encode(in, opt, test::ctx()).sequence_output.data;
    EXPECT_LT(test::max_abs_diff(before, swapped), 1e-5);
    g[H + 1] += 0.5f;
    const std::vector<float> changed = m->encode(in, opt, test::ctx()).sequence_output.data;
    double least = 1e9;  // the smallest change over the tokens
    for (int64_t t = 0; t < 20 * 8 - 3; ++t)
      least = std::min(least, test::max_abs_diff(before.data() + t * H, changed.data() + t * H, static_cast<size_t>(H)));
    EXPECT_GT(least, 1e-5);
  }
}

TEST(GlobalTokens, CheckpointsCarryTheirVectors) {
  // An HF checkpoint with num_global_tokens set but no vectors: a clear error at load; training
  // initialises them (and says so), saves them, and the saved model loads and runs.
  test::TempDir tmp;
  try {
    BigBirdModel::load(model_with(tmp, "etc", {{"num_global_tokens", 2}}).string());
    FAIL() << "a checkpoint without global-token vectors loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_global_tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("global_token_embeddings"), std::string::npos) << e.what();
  }
  EXPECT_THROW(BigBirdModel::load(model_with(tmp, "neg", {{"num_global_tokens", -1}}).string()), Error);
  EXPECT_THROW(BigBirdModel::load(model_with(tmp, "str", {{"num_global_tokens", "2"}}).string()), Error);
  std::vector<std::string> init;
  const auto m = BigBirdModel::load_for_training(model_with(tmp, "etc2", {{"num_global_tokens", 2}}).string(),
                                                 Architecture::MaskedLM, 0, 7, &init);
  EXPECT_NE(std::find(init.begin(), init.end(), "bert.embeddings.global_token_embeddings.weight"), init.end());

  {
    std::ofstream text(tmp.file("train.txt"));
    for (int i = 0; i < 40; ++i) text << "Paris is the capital of France and Berlin is the capital of Germany.\n";
  }
  const std::string tiny = test::data_path("../../models/tiny-mlm");
  auto t = test::run_cli("train --task mlm --model " + tiny + " --train-file " + tmp.file("train.txt") +
                         " --max-steps 2 --max-seq-length 512 --config-overrides num_global_tokens=2 --output-dir " +
                         tmp.file("out") + " --no-progress");
  ASSERT_EQ(t.status, 0) << t.output;
  const auto trained = BigBirdModel::load(tmp.file("out"));
  EXPECT_EQ(trained->config().layout.global_tokens, 2);
  bool found = false;
  for (const auto& [name, view] : trained->named_parameters())
    if (name.find("global_token_embeddings") != std::string::npos) found = view.shape == Shape({2, trained->config().hidden_size});
  EXPECT_TRUE(found);
  auto fm = test::run_cli("fill-mask --model " + tmp.file("out") + " --tokenizer " + tiny +
                          " --top-k 2 \"Paris is the [MASK] of France.\"");
  EXPECT_EQ(fm.status, 0) << fm.output;
}
