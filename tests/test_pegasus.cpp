// BigBirdPegasus: config, weights, encoder/decoder parity with HF 4.27.1 (pegasus-tiny fixtures with
// injected plans), the fall-back that keeps the padding mask, the KV-cached decoder, and the CLI.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "kernels/decoder_attention.h"
#include "models/decoder_session.h"
#include "models/generation.h"
#include "models/pegasus_generate.h"
#include "pegasus_fixtures.h"

using namespace bigbird;
using namespace pegasus_test;

// ------------------------------------------------------------------------- config

TEST(PegasusConfig, ReadsTheTinyCheckpoint) {
  const BigBirdPegasusConfig c = load_pegasus_config(model_dir());
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.encoder_layers, 2);
  EXPECT_EQ(c.decoder_layers, 2);
  EXPECT_EQ(c.encoder_attention_heads, 4);
  EXPECT_EQ(c.decoder_ffn_dim, 128);
  EXPECT_EQ(c.activation_function, "gelu_new");
  EXPECT_TRUE(c.scale_embedding);
  EXPECT_FALSE(c.use_bias);
  EXPECT_EQ(c.attention_type, AttentionType::BlockSparse);
  EXPECT_EQ(c.block_size, 16);
  EXPECT_EQ(c.num_random_blocks, 3);
  EXPECT_EQ(c.max_tokens_for_full_fallback(), 176);
  EXPECT_EQ(c.generation.eos_token_id, std::vector<int64_t>{1});
  EXPECT_EQ(c.generation.decoder_start_token_id, 2);
  EXPECT_EQ(c.generation.max_length, 20);
  EXPECT_FALSE(c.generation.forced_eos_token_id.has_value());
  EXPECT_TRUE(c.generation.unsupported.empty());
}

namespace {
// A model directory whose config.json is the tiny one with `patch` applied.
std::string patched_model(const std::string& name, const nlohmann::json& patch) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path(name);
  fs::create_directories(dir);
  std::ifstream f(model_dir() + "/config.json");
  nlohmann::json j = nlohmann::json::parse(f);
  j.merge_patch(patch);
  std::ofstream(dir / "config.json") << j.dump(2);
  fs::copy_file(model_dir() + "/model.safetensors", dir / "model.safetensors", fs::copy_options::overwrite_existing);
  return dir.string();
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(PegasusConfig, BadConfigsGiveClearErrors) {
  expect_error(
      [] {
        load_pegasus_config(patched_model("act", {{"activation_function", "swishy"}}));
      },
      "unknown activation_function 'swishy'");
  expect_error(
      [] {
        load_pegasus_config(patched_model("att", {{"attention_type", "sparse"}}));
      },
      "unknown attention_type 'sparse'");
  expect_error(
      [] {
        load_pegasus_config(patched_model("heads", {{"encoder_attention_heads", 5}}));
      },
      "not a multiple of encoder_attention_heads");
  expect_error(
      [] {
        load_pegasus_config(patched_model("type", {{"d_model", "big"}}));
      },
      "'d_model' has the wrong type");
  expect_error([] { PegasusModel::load(patched_model("mt", {{"model_type", "big_bird"}})); }, "not BigBirdPegasus");
  expect_error([] { PegasusModel::load(patched_model("shape", {{"decoder_ffn_dim", 96}})); }, "fc1.weight");
  expect_error([] { load_pegasus_config("/nonexistent/dir"); }, "cannot open");
  const BigBirdPegasusConfig sampled = load_pegasus_config(patched_model("sample", {{"do_sample", true}}));
  expect_error([&] { GenerationConfig::from_defaults(sampled.generation); }, "do_sample=true");
}

TEST(PegasusConfig, GenerationConfigJsonWins) {
  const std::string dir = patched_model("genconf", {{"num_beams", 3}});
  std::ofstream(dir + "/generation_config.json")
      << R"({"num_beams": 5, "early_stopping": "never", "eos_token_id": [7, 8]})";
  const BigBirdPegasusConfig c = load_pegasus_config(dir);
  EXPECT_EQ(c.generation.num_beams, 5);
  EXPECT_EQ(c.generation.early_stopping, EarlyStopping::Never);
  EXPECT_EQ(c.generation.eos_token_id, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(c.generation.max_length, 20);  // GenerationConfig's default, not config.json's
}

TEST(PegasusWeights, TiesAbsentAliasesToShared) {
  // The test checkpoint has no lm_head.weight / embed_tokens (dropped like HF's safetensors do).
  const PegasusWeights& w = model().weights();
  EXPECT_EQ(w.lm_head.weight().data, w.shared.data);
  EXPECT_EQ(w.lm_head.bias().shape, Shape{512});
}

// ------------------------------------------------------------------------- forward parity

struct ParityCase {
  std::string inputs, expected;
};

class PegasusParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(PegasusParity, MatchesHF) {
  const SafeTensors in = SafeTensors::open(fixture(GetParam().inputs));
  const SafeTensors want = SafeTensors::open(fixture(GetParam().expected));
  const PegasusEncoderOutput enc = encode_case(in, true);
  const auto check = [&](const std::string& name, const Tensor& got, double tol) {
    EXPECT_LE(max_abs_diff(got, want.read_f32(name)), tol) << name;
  };
  check("encoder.embedding_output", enc.embedding_output, 1e-4);
  ASSERT_EQ(enc.hidden_states.size(), 2u);
  for (size_t l = 0; l < 2; ++l) check("encoder.layer" + std::to_string(l) + ".output", enc.hidden_states[l], 1e-4);
  check("encoder.output", enc.sequence_output, 1e-4);
  for (size_t l = 0; l < enc.plans.size(); ++l) {
    const TensorI64 p = want.read_i64("rand_attn.layer" + std::to_string(l));
    EXPECT_EQ(std::vector<int64_t>(enc.plans[l].blocks.begin(), enc.plans[l].blocks.end()), p.data);
  }

  const TensorI64 dec_ids = in.read_i64("decoder_input_ids");
  std::vector<int64_t> items(static_cast<size_t>(dec_ids.dim(0)));
  for (size_t i = 0; i < items.size(); ++i) items[i] = static_cast<int64_t>(i);
  const PegasusDecoderOutput dec =
      model().decode(model().cross_attention_cache(enc, test::ctx()), dec_ids, items, true, test::ctx());
  check("decoder.embedding_output", dec.embedding_output, 1e-4);
  for (size_t l = 0; l < 2; ++l) check("decoder.layer" + std::to_string(l) + ".output", dec.layer_outputs[l], 1e-4);
  check("decoder.output", dec.output, 1e-4);
  check("logits", dec.logits, 1e-3);

  // Greedy decode without eos stop, cached and uncached: tokens exact, step logits close.
  const TensorI64 tokens = want.read_i64("greedy.tokens");
  for (bool cache : {true, false}) {
    GenerationConfig g;
    g.max_length = tokens.dim(1);
    g.use_cache = cache;
    g.pad_token_id = 0;
    const GenerationResult r = pegasus_generate(model(), enc, g, test::ctx());
    EXPECT_EQ(r.sequences.shape, tokens.shape);
    EXPECT_EQ(r.sequences.data, tokens.data) << "use_cache=" << cache;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PegasusParity,
    ::testing::Values(ParityCase{"case_enc256_dec12", "case_enc256_dec12"},
                      ParityCase{"case_enc250_dec12", "case_enc250_dec12"},
                      ParityCase{"case_enc100_b2_padrow1_original_full", "case_enc100_b2_padrow1_original_full"},
                      // HF 4.27.1 drops the padding mask after its fall-back; we keep it.
                      ParityCase{"case_enc100_b2_padrow1_fallback", "case_enc100_b2_padrow1_original_full"}),
    [](const auto& info) { return info.param.inputs; });

TEST(PegasusEncoder, FallbackIsDecidedPerCallAndKeepsTheMask) {
  const SafeTensors short_in = SafeTensors::open(fixture("case_enc100_b2_padrow1_fallback"));
  const PegasusEncoderOutput a = encode_case(short_in, false);
  EXPECT_TRUE(a.fell_back);
  EXPECT_EQ(a.attention_used, AttentionType::OriginalFull);
  EXPECT_EQ(a.padded_len, 100);
  // Row 1 is padded: changing a padded token's id must not change any unpadded output.
  EncoderInput in{short_in.read_i64("input_ids"), short_in.read_i64("attention_mask"), {}};
  in.input_ids.data[199] = 77;
  const PegasusEncoderOutput b = model().encode(in, ForwardOptions{}, test::ctx());
  for (int64_t t = 0; t < 80; ++t)
    for (int64_t j = 0; j < 64; ++j)
      ASSERT_NEAR(a.sequence_output.data[static_cast<size_t>((100 + t) * 64 + j)],
                  b.sequence_output.data[static_cast<size_t>((100 + t) * 64 + j)], 1e-5);
  // The same model object runs block_sparse again on a long input (HF's switch would be sticky).
  const PegasusEncoderOutput c = encode_case(SafeTensors::open(fixture("case_enc250_dec12")), false);
  EXPECT_FALSE(c.fell_back);
  EXPECT_EQ(c.attention_used, AttentionType::BlockSparse);
  EXPECT_EQ(c.padded_len, 256);
  EXPECT_EQ(c.sequence_output.shape, (Shape{1, 250, 64}));
}

TEST(PegasusEncoder, Batch2Length300MatchesHF) {
  const SafeTensors st = SafeTensors::open(fixture("generate_enc300_b2_greedy"));
  const PegasusEncoderOutput enc = encode_case(st, false);
  EXPECT_EQ(enc.padded_len, 304);
  EXPECT_LE(max_abs_diff(enc.sequence_output, st.read_f32("encoder.output")), 1e-4);
}

TEST(PegasusEncoder, BadInputsGiveClearErrors) {
  const SafeTensors st = SafeTensors::open(fixture("case_enc256_dec12"));
  EncoderInput in{st.read_i64("input_ids"), st.read_i64("attention_mask"), {}};
  ForwardOptions opt;
  opt.injected_plans = plans_from_safetensors(st);
  EncoderInput bad = in;
  bad.input_ids.data[3] = 512;
  expect_error([&] { model().encode(bad, opt, test::ctx()); }, "input_ids[0, 3] = 512 is out of range");
  bad = in;
  bad.attention_mask.data[5] = 2;
  expect_error([&] { model().encode(bad, opt, test::ctx()); }, "must be 0 or 1");
  bad = in;
  bad.attention_mask = TensorI64(Shape{1, 255}, 1);
  expect_error([&] { model().encode(bad, opt, test::ctx()); }, "does not match input_ids");
  ForwardOptions wrong = opt;
  wrong.injected_plans[0].blocks.pop_back();
  wrong.injected_plans[0].r = 2;
  expect_error([&] { model().encode(in, wrong, test::ctx()); }, "injected rand_attn.layer0");
  EncoderInput too_long{TensorI64(Shape{1, 1025}, 5), {}, {}};
  expect_error([&] { model().encode(too_long, opt, test::ctx()); }, "longer than max_position_embeddings");
}

// ------------------------------------------------------------------------- cached decoder

TEST(PegasusDecoder, CachedStepsEqualTheFullDecoder) {
  const SafeTensors st = SafeTensors::open(fixture("case_enc100_b2_padrow1_original_full"));
  const PegasusEncoderOutput enc = encode_case(st, false);
  const TensorI64 ids = st.read_i64("decoder_input_ids");  // [2, 8]
  const int64_t T = ids.dim(1), V = 512;
  const PegasusDecoderOutput full =
      model().decode(model().cross_attention_cache(enc, test::ctx()), ids, {0, 1}, false, test::ctx());

  // Token by token.
  DecoderSession s(model(), enc, 1, T, test::ctx());
  std::vector<float> logits(2 * V);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t tok[2] = {ids.data[static_cast<size_t>(t)], ids.data[static_cast<size_t>(T + t)]};
    s.append(tok, 1, {}, logits.data());
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t v = 0; v < V; ++v)
        ASSERT_NEAR(logits[static_cast<size_t>(r * V + v)], full.logits.data[static_cast<size_t>((r * T + t) * V + v)],
                    2e-5);
  }
  EXPECT_EQ(s.length(), T);

  // Prefill in one chunk, then swap the rows with reorder: each row continues the other's prefix.
  DecoderSession p(model(), enc, 2, T, test::ctx());  // 2 items × 2 rows: rows 0,1 read item 0; rows 2,3 item 1
  std::vector<int64_t> head(4 * (T - 1)), last(4);
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t src = r / 2;  // both rows of an item start from that item's ids
    std::copy_n(ids.data.begin() + src * T, T - 1, head.begin() + r * (T - 1));
    last[static_cast<size_t>(r)] = ids.data[static_cast<size_t>(src * T + T - 1)];
  }
  p.append(head.data(), T - 1, {}, nullptr);
  p.reorder({1, 0, 3, 2});
  std::vector<float> out(4 * V);
  p.append(last.data(), 1, {}, out.data());
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t v = 0; v < V; ++v)
      ASSERT_NEAR(out[static_cast<size_t>(r * V + v)],
                  full.logits.data[static_cast<size_t>(((r / 2) * T + T - 1) * V + v)], 2e-5);

  // A row left out of a step cannot be extended later; the cache has a fixed capacity.
  DecoderSession q(model(), enc, 1, 2, test::ctx());
  const int64_t two[2] = {2, 2};
  q.append(two, 1, {1, 0}, nullptr);
  expect_error([&] { q.append(two, 1, {}, nullptr); }, "left out of an earlier step");
  DecoderSession full_cap(model(), enc, 1, 1, test::ctx());
  full_cap.append(two, 1, {}, nullptr);
  expect_error([&] { full_cap.append(two, 1, {}, nullptr); }, "cache holds 1 positions");
}

TEST(DecoderAttention, MatchesReferenceAndHFsAllMaskedRow) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int heads = 3;
  const int64_t d = 5, H = heads * d, n = 37, rows = 4;
  std::vector<float> q(rows * H), k(n * H), v(n * H), mask(n, 1.0f), zero(n, 0.0f), out(rows * H), ref(rows * H);
  for (auto* vec : {&q, &k, &v})
    for (auto& x : *vec) x = nd(rng);
  for (int64_t j = 0; j < n; j += 3) mask[static_cast<size_t>(j)] = 0.0f;
  std::vector<KeyValueSpan> spans{{k.data(), v.data(), H, n, mask.data()},
                                  {k.data(), v.data(), H, 1, nullptr},
                                  {k.data() + 5 * H, v.data() + 5 * H, H, 20, nullptr},
                                  {k.data(), v.data(), H, n, zero.data()}};
  DecoderAttentionArgs a{q.data(), H, out.data(), H, rows, heads, d};
  decoder_attention(test::ctx(), a, spans);
  a.out = ref.data();
  decoder_attention_ref(a, spans);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref[i], 1e-5);
  for (int64_t t = 0; t < H; ++t) {
    EXPECT_NEAR(out[static_cast<size_t>(H + t)], v[static_cast<size_t>(t)], 1e-6);  // one key: its value
    double mean = 0;  // every key masked: HF averages all values uniformly
    for (int64_t j = 0; j < n; ++j) mean += v[static_cast<size_t>(j * H + t)];
    EXPECT_NEAR(out[static_cast<size_t>(3 * H + t)], mean / n, 1e-5);
  }
}

TEST(DecoderAttention, HeadMajorSpansEqualTokenMajorBitForBit) {
  // The cross-attention cache's layout [heads, n, d] against the projection's [n, heads·d]: the
  // same numbers in another place, read in the same order, so the outputs are the same bits; the
  // reference agrees; strides that make heads overlap are refused.
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int heads = 4;
  const int64_t d = 16, H = heads * d, n = 300, rows = 3;
  std::vector<float> q(rows * H), k(n * H), v(n * H), mask(n, 1.0f);
  for (auto* vec : {&q, &k, &v})
    for (auto& x : *vec) x = nd(rng);
  for (int64_t j = 0; j < n; j += 7) mask[static_cast<size_t>(j)] = 0.0f;
  std::vector<float> kh(k.size()), vh(v.size());
  for (int64_t j = 0; j < n; ++j)
    for (int h = 0; h < heads; ++h)
      for (int64_t t = 0; t < d; ++t) {
        kh[static_cast<size_t>((h * n + j) * d + t)] = k[static_cast<size_t>(j * H + h * d + t)];
        vh[static_cast<size_t>((h * n + j) * d + t)] = v[static_cast<size_t>(j * H + h * d + t)];
      }
  std::vector<float> a1(rows * H), a2(rows * H), ref(rows * H);
  const std::vector<KeyValueSpan> tok(rows, KeyValueSpan{k.data(), v.data(), H, n, mask.data()});
  const std::vector<KeyValueSpan> hm(rows, KeyValueSpan{kh.data(), vh.data(), d, n, mask.data(), n * d});
  DecoderAttentionArgs a{q.data(), H, a1.data(), H, rows, heads, d};
  decoder_attention(test::ctx(), a, tok);
  a.out = a2.data();
  decoder_attention(test::ctx(), a, hm);
  EXPECT_EQ(a1, a2);
  a.out = ref.data();
  decoder_attention_ref(a, hm);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(a2[i], ref[i], 1e-5);
  const std::vector<KeyValueSpan> overlap(rows, KeyValueSpan{kh.data(), vh.data(), d, n, nullptr, n * d - 1});
  expect_error([&] { decoder_attention(test::ctx(), a, overlap); }, "overlap");
}

// ------------------------------------------------------------------------- CLI: forward

TEST(PegasusCli, ForwardWritesEveryTensorAndGreedyTokens) {
  const std::string out = temp_path("forward.safetensors");
  const CliResult r = run_cli("forward --model '" + model_dir() + "' --inputs '" + fixture("case_enc250_dec12") +
                              "' --outputs '" + out + "' --generate 16 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  const SafeTensors got = SafeTensors::open(out), want = SafeTensors::open(fixture("case_enc250_dec12"));
  for (const char* n : {"encoder.embedding_output", "encoder.layer0.output", "encoder.layer1.output", "encoder.output",
                        "decoder.embedding_output", "decoder.layer0.output", "decoder.layer1.output", "decoder.output"})
    EXPECT_LE(max_abs_diff(got.read_f32(n), want.read_f32(n)), 1e-4) << n;
  EXPECT_LE(max_abs_diff(got.read_f32("logits"), want.read_f32("logits")), 1e-3);
  EXPECT_LE(max_abs_diff(got.read_f32("greedy.step_logits"), want.read_f32("greedy.step_logits")), 1e-3);
  EXPECT_EQ(got.read_i64("greedy.tokens").data, want.read_i64("greedy.tokens").data);
  EXPECT_EQ(got.read_i64("rand_attn.layer1").data, want.read_i64("rand_attn.layer1").data);
  std::filesystem::remove(out);
}

TEST(PegasusCli, ForwardErrors) {
  const std::string in = temp_path("fwd_in.safetensors"), out = temp_path("fwd_out.safetensors");
  const std::string base = "forward --model '" + model_dir() + "' --inputs '" + in + "' --outputs '" + out + "'";
  TensorI64 ids(Shape{1, 200}, 5);
  write_safetensors(in, {OutTensor::i64("attention_mask", ids)});
  CliResult r = run_cli(base);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("has no input_ids"), std::string::npos) << r.err;
  const int32_t plan[1] = {0};
  write_safetensors(in, {OutTensor::i64("input_ids", ids), OutTensor::i32("rand_attn.layer5", Shape{1, 1, 1}, plan)});
  r = run_cli(base);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("rand_attn.layer5 but the encoder has 2 layers"), std::string::npos) << r.err;
  write_safetensors(in,
                    {OutTensor::i64("input_ids", ids), OutTensor::i64("decoder_input_ids", TensorI64(Shape{2, 3}, 2))});
  r = run_cli(base);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("decoder_input_ids must be [1, length >= 1]"), std::string::npos) << r.err;
  r = run_cli("forward --model /nonexistent --inputs '" + in + "' --outputs '" + out + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove(in);
}
