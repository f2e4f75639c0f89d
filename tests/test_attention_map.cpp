// Attention maps (`bigbird attention`, src/analysis/attention_map.h): the per-row probabilities
// against the kernels' own outputs on every layout, the maps of a real model against their
// definitions (rows sum to 1, no mass outside the layout, the token map summing to the block
// map), layer and head selection, the PNG writer, and the command line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "analysis/attention_map.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "models/bigbird_model.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "attention_problem.h"
#include "test_util.h"

using namespace bigbird;
namespace fs = std::filesystem;

namespace {

// out[qi] = m[qi]·Σ_j p_j v[key_j] (block-sparse) or Σ_j p_j v[key_j] (full), from the row probabilities.
std::vector<float> output_from_probs(const test::AttnProblem& p, const BlockLayout* layout) {
  std::vector<float> out(p.q.size(), 0.f);
  const AttentionInput a = p.input();
  std::vector<int64_t> keys;
  std::vector<double> probs;
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < p.L; ++qi) {
      attention_row_probs(a, layout, h, qi, keys, probs);
      double sum = 0;
      for (double x : probs) sum += x;
      EXPECT_NEAR(sum, 1.0, 1e-12);
      const double mq = layout ? p.mask[static_cast<size_t>(qi)] : 1.0;
      for (int64_t t = 0; t < p.d; ++t) {
        double acc = 0;
        for (size_t j = 0; j < keys.size(); ++j) acc += probs[j] * p.v[static_cast<size_t>(keys[j] * p.ld + h * p.d + t)];
        out[static_cast<size_t>(qi * p.ld + h * p.d + t)] = static_cast<float>(acc * mq);
      }
    }
  return out;
}

// tiny-mlm (hidden 64, 4 heads, 2 layers, block 16, r 3) with some config keys changed.
fs::path model_with(const test::TempDir& tmp, const std::string& name, const nlohmann::json& changes) {
  const fs::path src = test::data_path("../../models/tiny-mlm");
  const fs::path dir = tmp.path / name;
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dir / e.path().filename());
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  for (auto it = changes.begin(); it != changes.end(); ++it) cfg[it.key()] = it.value();
  std::ofstream(dir / "config.json") << cfg.dump(1);
  return dir;
}

EncoderInput random_ids(int64_t L, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  EncoderInput in;
  in.input_ids = TensorI64(Shape{1, L});
  for (auto& id : in.input_ids.data) id = std::uniform_int_distribution<int64_t>(5, vocab - 1)(rng);
  return in;
}

}  // namespace

TEST(AttentionMap, RowProbabilitiesReproduceTheKernels) {
  // The probabilities the maps are made of, multiplied by v, give the fast kernels' outputs: for
  // HF's ITC layout, banded layouts with and without global blocks, repeated random blocks,
  // block padding (mask 0 at the end), and full attention. Tolerance: the kernels sum in float32
  // over at most L terms of O(1) values: 2e-5 absolute.
  std::mt19937_64 rng(11);
  for (int i = 0; i < 12; ++i) {
    const int B = std::array{4, 8, 16}[static_cast<size_t>(i % 3)];
    const int heads = 1 + i % 3, r = i % 4;
    LayoutSpec spec;
    spec.window_blocks = 1 + 2 * (i % 3);
    spec.global_blocks = i % 3;
    const int n = static_cast<int>(spec.fallback_blocks(r)) + 1 + i % 4;
    RandomPlan plan = seeded_random_plan(static_cast<uint64_t>(i), 0, n, r, heads);
    if (r > 0) plan.at(0, 0, 0) = 0;  // a repeated block counts twice
    const BlockLayout layout = make_layout(spec, n, B, heads, plan);
    const int64_t L = static_cast<int64_t>(n) * B;
    // q, k scaled by 2: scores of a few units, peaked softmaxes.
    const test::AttnProblem p = test::make_attn_problem(L, heads, 8, 0, L - B / 2 - 1, 100 + static_cast<uint64_t>(i), 2.0f);
    std::vector<float> fast(p.q.size(), 0.f);
    block_sparse_attention(test::ctx(), p.input(fast.data()), layout);
    EXPECT_LT(test::max_abs_diff(output_from_probs(p, &layout), fast), 2e-5) << "case " << i;

    std::vector<float> full(p.q.size(), 0.f);
    full_attention(test::ctx(), p.input(full.data()));
    EXPECT_LT(test::max_abs_diff(output_from_probs(p, nullptr), full), 2e-5) << "full, case " << i;
  }
}

TEST(AttentionMap, ModelMapsFollowTheirDefinition) {
  // 300 tokens on tiny-mlm: block-sparse (the fall-back ends at (5 + 2·3)·16 = 176 tokens),
  // padded to 304. Each layer's block mass: rows sum to 1; zero on every (query block, key block)
  // outside the layer's layout; the token map, summed per key block and averaged per query block,
  // is the block map. The observer changes nothing in the encoder's output.
  test::TempDir tmp;
  const auto model = BigBirdModel::load(model_with(tmp, "m", nlohmann::json::object()).string());
  const BigBirdConfig& cfg = model->config();
  const EncoderInput in = random_ids(300, cfg.vocab_size, 3);
  AttentionMapOptions mo;
  mo.token_map_max = 300;
  AttentionMapCollector maps(static_cast<int>(cfg.num_hidden_layers), static_cast<int>(cfg.num_attention_heads), mo,
                             test::ctx());
  ForwardOptions fo;
  fo.plan_source = PlanSource::HF;
  const EncoderOutput plain = model->encode(in, fo, test::ctx());
  fo.attention_observer = &maps;
  const EncoderOutput seen = model->encode(in, fo, test::ctx());
  EXPECT_EQ(plain.sequence_output.data, seen.sequence_output.data);

  ASSERT_EQ(maps.layers().size(), static_cast<size_t>(cfg.num_hidden_layers));
  for (const LayerAttentionMap& lm : maps.layers()) {
    EXPECT_TRUE(lm.block_sparse);
    EXPECT_EQ(lm.L, 300);
    EXPECT_EQ(lm.Lp, 304);
    EXPECT_EQ(lm.block, 16);
    const int64_t nb = lm.n_blocks;
    ASSERT_EQ(nb, 19);
    ASSERT_EQ(lm.heads.size(), static_cast<size_t>(cfg.num_attention_heads));
    const RandomPlan& plan = seen.plans[static_cast<size_t>(lm.layer)];
    const BlockLayout layout = itc_layout(static_cast<int>(nb), 16, static_cast<int>(cfg.num_attention_heads), plan);
    for (const HeadAttentionMap& hm : lm.heads) {
      for (int64_t i = 0; i < nb; ++i) {
        std::vector<bool> listed(static_cast<size_t>(nb), false);
        for (const KeyBlock& kb : layout.row(hm.head, static_cast<int>(i))) listed[static_cast<size_t>(kb.block)] = true;
        double row = 0;
        for (int64_t j = 0; j < nb; ++j) {
          const double m = hm.block_mass[static_cast<size_t>(i * nb + j)];
          row += m;
          EXPECT_GE(m, 0.0);
          if (!listed[static_cast<size_t>(j)]) {
            EXPECT_EQ(m, 0.0) << "layer " << lm.layer << " head " << hm.head;
          }
        }
        EXPECT_NEAR(row, 1.0, 1e-9);
      }
      // The token map aggregated: float32 entries, 300 per row: 1e-5.
      ASSERT_EQ(hm.tokens.size(), static_cast<size_t>(300 * 300));
      for (int64_t i = 0; i < nb; ++i) {
        const int64_t q0 = i * 16, q1 = std::min<int64_t>(300, q0 + 16);
        for (int64_t j = 0; j < nb; ++j) {
          double s = 0;
          for (int64_t qi = q0; qi < q1; ++qi)
            for (int64_t k = j * 16; k < std::min<int64_t>(300, j * 16 + 16); ++k) s += hm.tokens[static_cast<size_t>(qi * 300 + k)];
          EXPECT_NEAR(s / static_cast<double>(q1 - q0), hm.block_mass[static_cast<size_t>(i * nb + j)], 1e-5);
        }
      }
    }
    // The mean over heads.
    for (size_t e = 0; e < lm.mean_block_mass.size(); ++e) {
      double s = 0;
      for (const HeadAttentionMap& hm : lm.heads) s += hm.block_mass[e];
      EXPECT_NEAR(lm.mean_block_mass[e], s / static_cast<double>(lm.heads.size()), 1e-12);
    }
  }
}

TEST(AttentionMap, WindowOnlyLayoutKeepsTheMassInItsBand) {
  // global_blocks=0, num_random_blocks=0, window_blocks=3: block i attends to i-1 .. i+1 only (the
  // edge blocks to their neighbours), so every mass farther than one block from the diagonal is 0.
  test::TempDir tmp;
  const auto model = BigBirdModel::load(
      model_with(tmp, "w", {{"global_blocks", 0}, {"num_random_blocks", 0}, {"window_blocks", 3}}).string());
  const EncoderInput in = random_ids(300, model->config().vocab_size, 4);
  AttentionMapOptions mo;
  mo.layer = 1;
  mo.head = 2;
  AttentionMapCollector maps(2, 4, mo, test::ctx());
  ForwardOptions fo;
  fo.attention_observer = &maps;
  model->encode(in, fo, test::ctx());
  ASSERT_EQ(maps.layers().size(), 1u);
  const LayerAttentionMap& lm = maps.layers()[0];
  EXPECT_EQ(lm.layer, 1);
  ASSERT_EQ(lm.heads.size(), 1u);
  EXPECT_EQ(lm.heads[0].head, 2);
  EXPECT_TRUE(lm.heads[0].tokens.empty());  // 300 tokens > token_map_max (256)
  const int64_t nb = lm.n_blocks;
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t j = 0; j < nb; ++j)
      if (std::abs(i - j) > 1) {
        EXPECT_EQ(lm.heads[0].block_mass[static_cast<size_t>(i * nb + j)], 0.0) << i << "," << j;
      }
}

TEST(AttentionMap, FullAttentionOnShortInputsAndBadSelections) {
  // A short input falls back to full attention: a grid of ceil(L / block) blocks, every entry
  // positive, token map present (L <= 256). Layers and heads outside the model are refused.
  test::TempDir tmp;
  const auto model = BigBirdModel::load(model_with(tmp, "f", nlohmann::json::object()).string());
  const EncoderInput in = random_ids(40, model->config().vocab_size, 5);
  AttentionMapOptions mo;
  mo.block = 16;  // the config's block_size, as `bigbird attention` passes it
  AttentionMapCollector maps(2, 4, mo, test::ctx());
  ForwardOptions fo;
  fo.attention_observer = &maps;
  const EncoderOutput eo = model->encode(in, fo, test::ctx());
  EXPECT_TRUE(eo.fell_back);
  ASSERT_EQ(maps.layers().size(), 2u);
  const LayerAttentionMap& lm = maps.layers()[0];
  EXPECT_FALSE(lm.block_sparse);
  EXPECT_EQ(lm.n_blocks, 3);  // 40 tokens in blocks of 16
  for (double m : lm.heads[0].block_mass) EXPECT_GT(m, 0.0);
  EXPECT_EQ(lm.heads[0].tokens.size(), 40u * 40u);

  EXPECT_THROW(AttentionMapCollector(2, 4, AttentionMapOptions{2, -1, 256, 64}), Error);
  EXPECT_THROW(AttentionMapCollector(2, 4, AttentionMapOptions{-1, 4, 256, 64}), Error);
  EXPECT_THROW(AttentionMapCollector(2, 4, AttentionMapOptions{-2, -1, 256, 64}), Error);
}

TEST(AttentionMap, HeatmapPng) {
  test::TempDir tmp;
  const std::vector<double> m = {1.0, 0.0, 0.25, 0.5};
  const std::string path = tmp.file("m.png");
  write_heatmap_png(path, m, 2, 3);
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  auto be32 = [&](size_t o) {
    return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[o])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(bytes[o + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(bytes[o + 2])) << 8) | static_cast<uint8_t>(bytes[o + 3]);
  };
  EXPECT_EQ(be32(16), 6u);  // width: 2 blocks of 3 pixels
  EXPECT_EQ(be32(20), 6u);
  EXPECT_THROW(write_heatmap_png(tmp.file("bad.png"), m, 3, 3), Error);  // 4 values for 3 x 3
  EXPECT_FALSE(fs::exists(tmp.file("bad.png")));
  EXPECT_THROW(write_heatmap_png(tmp.file("no/such/dir/m.png"), m, 2, 3), Error);
}

TEST(AttentionMap, CommandLine) {
  test::TempDir tmp;
  const std::string model = test::data_path("../../models/tiny-mlm");
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Paris is the capital of France. ";
  const std::string json = tmp.file("map.json"), png = tmp.file("map.png");
  auto r = test::run_cli("attention --model " + model + " --text '" + text + "' --token-map-max 1024 --output " + json + " --plot " + png);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
  EXPECT_EQ(j["attention_type"], "block_sparse");
  EXPECT_EQ(j["block_size"], 16);
  const int64_t L = j["seq_len"].get<int64_t>(), nb = j["n_blocks"].get<int64_t>();
  EXPECT_EQ(static_cast<int64_t>(j["tokens"].size()), L);
  EXPECT_EQ(nb, (L + 15) / 16);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["heads"].size(), 4u);
  EXPECT_EQ(static_cast<int64_t>(j["layers"][1]["mean_block_mass"].size()), nb);
  ASSERT_FALSE(j["bertviz"].is_null());  // at most 1024 tokens
  EXPECT_EQ(j["bertviz"]["attn"].size(), 2u);
  EXPECT_EQ(static_cast<int64_t>(j["bertviz"]["attn"][0][0].size()), L);
  EXPECT_EQ(j["bertviz"]["left_text"], j["tokens"]);
  EXPECT_TRUE(fs::exists(png));

  // One layer and head; no token map.
  r = test::run_cli("attention --model " + model + " --text '" + text + "' --layer 1 --head 0 --token-map-max 0");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json k = nlohmann::json::parse(r.output);
  ASSERT_EQ(k["layers"].size(), 1u);
  EXPECT_EQ(k["layers"][0]["layer"], 1);
  EXPECT_EQ(k["layers"][0]["heads"][0]["head"], 0);
  EXPECT_TRUE(k["bertviz"].is_null());

  // Bad requests: one error line, status 1, nothing written.
  const std::string out = tmp.file("bad.json");
  for (const std::string& args : {std::string(" --text hi --layer 2"), std::string(" --text hi --head 9"), std::string(),
                                  " --text hi --file " + tmp.file("missing.txt")}) {
    r = test::run_cli("attention --model " + model + args + " --output " + out);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
}
