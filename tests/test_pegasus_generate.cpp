// generate(): HF 4.27.1's greedy and beam search on the pegasus-tiny generate_* fixtures (model
// driven, cached and uncached; and replayed from HF's stored scores), the logits processors, and the
// edge cases (eos at the first step, max_length below the prompt, rows finishing at different steps).
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "models/logits_process.h"
#include "models/pegasus_generate.h"
#include "pegasus_fixtures.h"

using namespace bigbird;
using namespace pegasus_test;

namespace {

const char* kGenerateCases[] = {"generate_enc256_greedy",
                                "generate_enc256_beam4_lp08_early",
                                "generate_enc256_beam4_ngram3_min10",
                                "generate_enc256_beam4_ret2_lp06",
                                "generate_enc256_beam4_ret4_lp05_noforced",
                                "generate_enc300_b2_greedy",
                                "generate_enc300_b2_beam4_lp08_early",
                                "generate_enc300_b2_beam4_ngram3_min10",
                                "generate_enc300_b2_beam4_ret2_lp06",
                                "generate_enc300_b2_beam4_ret4_lp05_noforced"};

// HF keyword arguments onto a GenerationConfig (null = unset).
void apply_kwargs(GenerationConfig& g, const nlohmann::json& kw) {
  for (auto it = kw.begin(); it != kw.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    auto opt = [&](std::optional<int64_t>& o) {
      o = v.is_null() ? std::nullopt : std::optional<int64_t>(v.get<int64_t>());
    };
    if (k == "num_beams") g.num_beams = v.get<int64_t>();
    else if (k == "num_return_sequences") g.num_return_sequences = v.get<int64_t>();
    else if (k == "length_penalty") g.length_penalty = v.get<double>();
    else if (k == "max_length") g.max_length = v.get<int64_t>();
    else if (k == "max_new_tokens") opt(g.max_new_tokens);
    else if (k == "min_length") g.min_length = v.get<int64_t>();
    else if (k == "no_repeat_ngram_size") g.no_repeat_ngram_size = v.get<int64_t>();
    else if (k == "early_stopping") g.early_stopping = v.get<bool>() ? EarlyStopping::True : EarlyStopping::False;
    else if (k == "eos_token_id") g.eos_token_id = {v.get<int64_t>()};
    else if (k == "forced_eos_token_id") opt(g.forced_eos_token_id);
    else FAIL() << "unhandled generate kwarg " << k;
  }
}

// The fixture's settings: model defaults, then config_overrides, then generate()'s kwargs.
GenerationConfig fixture_config(const SafeTensors& st) {
  GenerationConfig g = GenerationConfig::from_defaults(model().config().generation);
  apply_kwargs(g, meta_json(st, "config_overrides"));
  apply_kwargs(g, meta_json(st, "generate_kwargs"));
  return g;
}

void expect_same_result(const GenerationResult& r, const SafeTensors& want, double score_tol, const std::string& what) {
  const TensorI64 seq = want.read_i64("sequences");
  EXPECT_EQ(r.sequences.shape, seq.shape) << what;
  EXPECT_EQ(r.sequences.data, seq.data) << what;
  if (want.has("sequences_scores")) {
    const Tensor s = want.read_f32("sequences_scores");
    ASSERT_EQ(r.sequences_scores.size(), s.data.size()) << what;
    for (size_t i = 0; i < s.data.size(); ++i) EXPECT_NEAR(r.sequences_scores[i], s.data[i], score_tol) << what;
    EXPECT_EQ(r.beam_indices.data, want.read_i64("beam_indices").data) << what;
  }
}

// A synthetic scorer: processed scores per prefix (rows not in the table get `fallback`).
struct TableScorer {
  int64_t vocab;
  std::map<std::vector<int64_t>, std::vector<float>> table;
  std::vector<float> fallback;
  std::vector<std::vector<uint8_t>> active_seen;
  ScoreFn fn() {
    return [this](const SearchState& st, float* scores) {
      active_seen.push_back(*st.active);
      for (int64_t r = 0; r < st.rows; ++r) {
        const std::vector<int64_t> prefix(st.tokens + r * st.cur_len, st.tokens + (r + 1) * st.cur_len);
        auto it = table.find(prefix);
        const std::vector<float>& s = it == table.end() ? fallback : it->second;
        std::copy(s.begin(), s.end(), scores + r * vocab);
      }
    };
  }
};

}  // namespace

// ------------------------------------------------------------------------- fixtures

class PegasusGenerateFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(PegasusGenerateFixture, ModelDrivenMatchesHF) {
  const SafeTensors st = SafeTensors::open(fixture(GetParam()));
  const PegasusEncoderOutput enc = encode_case(st, false);
  GenerationConfig g = fixture_config(st);
  const GenerationResult cached = pegasus_generate(model(), enc, g, test::ctx());
  expect_same_result(cached, st, 1e-4, "cached");
  EXPECT_EQ(std::to_string(cached.steps), st.metadata().at("num_steps"));
  EXPECT_EQ(std::to_string(cached.max_length), st.metadata().at("max_length_used"));
  g.use_cache = false;
  expect_same_result(pegasus_generate(model(), enc, g, test::ctx()), st, 1e-4, "uncached");
}

TEST_P(PegasusGenerateFixture, ReplayingHFScoresIsExact) {
  // The search alone, fed HF's processed scores of every step: tokens, beam indices and
  // sequences_scores must come out bit for bit.
  const SafeTensors st = SafeTensors::open(fixture(GetParam()));
  const GenerationConfig g = fixture_config(st);
  const Tensor scores = st.read_f32("scores");  // [steps, rows, V]
  const int64_t rows = scores.dim(1), V = scores.dim(2), batch = st.read_i64("input_ids").dim(0);
  ScoreFn replay = [&](const SearchState& s, float* out) {
    ASSERT_EQ(s.rows, rows);
    const int64_t step = s.cur_len - 1;
    ASSERT_LT(step, scores.dim(0));
    std::copy_n(scores.ptr() + step * rows * V, rows * V, out);
  };
  const GenerationResult r = run_search(g, TensorI64(Shape{batch, 1}, g.decoder_start_token_id), V, replay);
  expect_same_result(r, st, 0.0, "replay");
  EXPECT_EQ(r.steps, scores.dim(0));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PegasusGenerateFixture, ::testing::ValuesIn(kGenerateCases),
                         [](const auto& info) { return std::string(info.param); });

TEST(PegasusGenerate, DecoderPromptIsPrefilledThenContinued) {
  const SafeTensors st = SafeTensors::open(fixture("generate_enc300_b2_greedy"));
  const PegasusEncoderOutput enc = encode_case(st, false);
  const TensorI64 full = st.read_i64("sequences");  // [2, 21]
  TensorI64 prompt(Shape{2, 6});
  for (int64_t r = 0; r < 2; ++r) std::copy_n(full.data.begin() + r * 21, 6, prompt.data.begin() + r * 6);
  GenerationConfig g = fixture_config(st);
  g.max_new_tokens.reset();  // max_new_tokens would count from the 6-token prompt
  g.max_length = 21;
  const GenerationResult r = pegasus_generate(model(), enc, g, test::ctx(), &prompt);
  EXPECT_EQ(r.sequences.data, full.data);
  EXPECT_EQ(r.steps, 15);
}

// ------------------------------------------------------------------------- edge cases

TEST(PegasusGenerate, EosAtTheFirstStep) {
  const SafeTensors st = SafeTensors::open(fixture("generate_enc256_greedy"));
  const PegasusEncoderOutput enc = encode_case(st, false);
  const int64_t first = st.read_i64("sequences").data[1];  // the greedy first token
  GenerationConfig g = fixture_config(st);
  g.eos_token_id = {first};
  const GenerationResult r = pegasus_generate(model(), enc, g, test::ctx());
  EXPECT_EQ(r.sequences.shape, (Shape{1, 2}));
  EXPECT_EQ(r.sequences.data, (std::vector<int64_t>{2, first}));
  EXPECT_EQ(r.steps, 1);
}

TEST(PegasusGenerate, BeamEosAtTheFirstStepBecomesAHypothesis) {
  // vocab {0 pad, 1 eos, 2 start, 3, 4}; 2 beams, early stopping. Step 1: eos is the best token,
  // so [2] is a finished hypothesis (score -0.1 / 1); step 2 finishes [2,3] (-1.5 / 2) and [2,4]
  // (-2.2 / 2), the worse one is dropped, and with 2 hypotheses early stopping ends the search.
  TableScorer t{5, {}, std::vector<float>(5, -30.0f), {}};
  t.table[{2}] = {-10, -0.1f, -10, -1.0f, -2.0f};
  t.table[{2, 3}] = {-3, -0.5f, -3, -3, -3};
  t.table[{2, 4}] = {-5, -0.2f, -5, -5, -5};
  GenerationConfig g;
  g.num_beams = 2;
  g.num_return_sequences = 2;
  g.early_stopping = EarlyStopping::True;
  g.max_length = 5;
  g.eos_token_id = {1};
  g.pad_token_id = 0;
  const GenerationResult r = run_search(g, TensorI64(Shape{1, 1}, 2), 5, t.fn());
  EXPECT_EQ(r.steps, 2);
  EXPECT_EQ(r.sequences.shape, (Shape{2, 3}));
  EXPECT_EQ(r.sequences.data, (std::vector<int64_t>{2, 1, 0, 2, 3, 1}));
  ASSERT_EQ(r.sequences_scores.size(), 2u);
  EXPECT_FLOAT_EQ(r.sequences_scores[0], -0.1f);
  EXPECT_FLOAT_EQ(r.sequences_scores[1], -0.75f);
  EXPECT_EQ(r.beam_indices.data, (std::vector<int64_t>{0, -1, -1, 0, 0, -1}));
}

TEST(PegasusGenerate, GreedyRowsFinishAtDifferentSteps) {
  TableScorer t{5, {}, std::vector<float>(5, -30.0f), {}};
  t.table[{2}] = {0, 1, 0, 0.5f, 0};     // -> eos
  t.table[{3}] = {0, 0, 0, 0, 1};        // -> 4
  t.table[{3, 4}] = {0, 0, 2, 0, 0};     // -> 2
  t.table[{3, 4, 2}] = {0, 3, 0, 0, 0};  // -> eos
  GenerationConfig g;
  g.max_length = 10;
  g.eos_token_id = {1};
  g.pad_token_id = 0;
  TensorI64 prompt(Shape{2, 1});
  prompt.data = {2, 3};
  const GenerationResult r = run_search(g, prompt, 5, t.fn());
  EXPECT_EQ(r.steps, 3);
  EXPECT_EQ(r.sequences.data, (std::vector<int64_t>{2, 1, 0, 0, 3, 4, 2, 1}));
  ASSERT_EQ(t.active_seen.size(), 3u);
  EXPECT_EQ(t.active_seen[1], (std::vector<uint8_t>{0, 1}));  // a finished row is not scored again
  // The real model: enc300_b2 greedy has row 1 ending at 14 and row 0 forced at 20 (fixture).
}

TEST(PegasusGenerate, HF427JudgesTheSecondInputOneStepLonger) {
  // HF 4.27.1's BeamSearchScorer.process() increments cur_len once per unfinished input, so in a
  // batch of 2 the second input is judged "done" at len + 2. Here that keeps input 1 running one
  // more step (4 steps instead of 3), while input 0 stops after step 3.
  TableScorer t{5, {}, std::vector<float>(5, -20.0f), {}};
  t.fallback[1] = -0.5f;
  t.table[{2}] = {-20, -0.1f, -20, -1.0f, -1.5f};
  t.table[{2, 3}] = {-20, -0.3f, -20, -0.2f, -20};
  t.table[{2, 4}] = {-20, -0.6f, -20, -0.5f, -20};
  t.table[{2, 3, 3}] = {-20, -1.9f, -20, -1.8f, -20};
  t.table[{2, 4, 3}] = {-20, -1.6f, -20, -1.5f, -20};
  GenerationConfig g;
  g.num_beams = 2;
  g.max_length = 10;
  g.eos_token_id = {1};
  g.pad_token_id = 0;
  const GenerationResult r = run_search(g, TensorI64(Shape{2, 1}, 2), 5, t.fn());
  EXPECT_EQ(r.steps, 4);
  ASSERT_EQ(t.active_seen.size(), 4u);
  EXPECT_EQ(t.active_seen[3], (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(r.sequences.data, (std::vector<int64_t>{2, 1, 2, 1}));
  EXPECT_FLOAT_EQ(r.sequences_scores[0], -0.1f);
}

TEST(PegasusGenerate, MaxLengthBelowThePrompt) {
  const SafeTensors st = SafeTensors::open(fixture("generate_enc256_greedy"));
  const PegasusEncoderOutput enc = encode_case(st, false);
  const TensorI64 want = st.read_i64("sequences");
  GenerationConfig g = fixture_config(st);
  g.max_new_tokens.reset();
  g.max_length = 1;  // HF 4.27 warns and still generates one token
  GenerationResult r = pegasus_generate(model(), enc, g, test::ctx());
  EXPECT_EQ(r.sequences.data, (std::vector<int64_t>{2, want.data[1]}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("max_length"), std::string::npos);
  TensorI64 prompt(Shape{1, 4});
  std::copy_n(want.data.begin(), 4, prompt.data.begin());
  g.max_length = 2;
  r = pegasus_generate(model(), enc, g, test::ctx(), &prompt);
  EXPECT_EQ(r.sequences.data, std::vector<int64_t>(want.data.begin(), want.data.begin() + 5));
  g.num_beams = 4;  // HF's beam search crashes here; ours refuses clearly
  try {
    pegasus_generate(model(), enc, g, test::ctx(), &prompt);
    ADD_FAILURE() << "beam search with max_length <= prompt length must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("greater than the decoder prompt length"), std::string::npos) << e.what();
  }
}

TEST(PegasusGenerate, InvalidSettingsAreRejected) {
  auto rejects = [](GenerationConfig g, const std::string& needle) {
    try {
      validate_generation(g, 512, 1);
      ADD_FAILURE() << "accepted; expected an error about " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  GenerationConfig g;
  g.eos_token_id = {1};
  g.pad_token_id = 0;
  GenerationConfig b = g;
  b.num_beams = 0;
  rejects(b, "num_beams must be >= 1");
  b = g;
  b.num_return_sequences = 2;
  rejects(b, "num_return_sequences has to be 1");
  b.num_beams = 2;
  b.num_return_sequences = 3;
  rejects(b, "smaller or equal to num_beams");
  b = g;
  b.min_length = 30;
  rejects(b, "Unfeasible length constraints");
  b = g;
  b.eos_token_id = {600};
  rejects(b, "eos_token_id 600 is outside the vocabulary");
  b = g;
  b.max_new_tokens = -2;
  rejects(b, "max_new_tokens must be >= 0");
}

// ------------------------------------------------------------------------- processors

TEST(LogitsProcessors, FollowHF) {
  const int64_t V = 6;
  GenerationConfig g;
  g.eos_token_id = {1};
  g.no_repeat_ngram_size = 2;
  g.min_length = 5;
  const std::vector<int64_t> seq{2, 5, 3, 5};  // (5, 3) occurred: after the trailing 5, 3 is banned
  std::vector<float> s(V, 0.5f);
  std::vector<uint8_t> active{1};
  SearchState st{1, 4, seq.data(), nullptr, &active, V};
  apply_logits_processors(g, 20, st, s.data());
  EXPECT_EQ(s[3], -INFINITY);
  EXPECT_EQ(s[1], -INFINITY);  // cur_len 4 < min_length 5
  EXPECT_EQ(s[5], 0.5f);
  // Forced eos at cur_len = max_length - 1, forced bos at cur_len = 1.
  g = GenerationConfig{};
  g.forced_eos_token_id = 4;
  std::fill(s.begin(), s.end(), 0.5f);
  apply_logits_processors(g, 5, st, s.data());
  EXPECT_EQ(s, (std::vector<float>{-INFINITY, -INFINITY, -INFINITY, -INFINITY, 0.0f, -INFINITY}));
  g = GenerationConfig{};
  g.forced_bos_token_id = 3;
  std::fill(s.begin(), s.end(), 0.5f);
  SearchState first{1, 1, seq.data(), nullptr, &active, V};
  apply_logits_processors(g, 5, first, s.data());
  EXPECT_EQ(s[3], 0.0f);
  EXPECT_EQ(s[0], -INFINITY);
  // log_softmax sums to 1.
  std::vector<float> x{1, 2, 3, 4, 5, 6};
  log_softmax_rows(x.data(), 1, V);
  double sum = 0;
  for (float v : x) sum += std::exp(v);
  EXPECT_NEAR(sum, 1.0, 1e-6);
}

// ------------------------------------------------------------------------- CLI: generate

TEST(PegasusCli, GenerateMatchesHF) {
  const std::string out = temp_path("gen.safetensors");
  const std::string in = fixture("generate_enc300_b2_beam4_ret2_lp06");
  const CliResult r = run_cli("generate --model '" + model_dir() + "' --inputs '" + in + "' --outputs '" + out +
                              "' --eos-token-id 474 --forced-eos-token-id 474 --num-beams 4 --num-return-sequences 2"
                              " --length-penalty 0.6 --max-length 24 --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  const SafeTensors got = SafeTensors::open(out), want = SafeTensors::open(in);
  EXPECT_EQ(got.read_i64("sequences").data, want.read_i64("sequences").data);
  EXPECT_LE(max_abs_diff(got.read_f32("sequences_scores"), want.read_f32("sequences_scores")), 1e-4);
  EXPECT_EQ(got.read_i64("beam_indices").data, want.read_i64("beam_indices").data);
  // forced_eos_token_id=None unsets the config's value (the noforced fixture).
  const std::string nf = fixture("generate_enc300_b2_beam4_ret4_lp05_noforced");
  const CliResult r2 = run_cli("generate --model '" + model_dir() + "' --inputs '" + nf + "' --outputs '" + out +
                               "' --eos-token-id 474 --forced-eos-token-id None --num-beams 4 --num-return-sequences 4"
                               " --length-penalty 0.5 --max-length 16 --use-cache false");
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(SafeTensors::open(out).read_i64("sequences").data, SafeTensors::open(nf).read_i64("sequences").data);
  std::filesystem::remove(out);
}

TEST(PegasusCli, GenerateErrors) {
  const std::string out = temp_path("gen_err.safetensors");
  const std::string base = "generate --model '" + model_dir() + "' --inputs '" + fixture("generate_enc256_greedy") +
                           "' --outputs '" + out + "' ";
  const std::pair<std::string, std::string> cases[] = {
      {"--num-beams 2 --num-return-sequences 3", "smaller or equal to num_beams"},
      {"--min-length 30 --max-length 24", "Unfeasible length constraints"},
      {"--num-beams abc", "--num-beams: 'abc' is not an integer"},
      {"--eos-token-id 9999", "eos_token_id 9999 is outside the vocabulary"},
      {"--num-beams 4 --max-length 1", "greater than the decoder prompt length"},
      {"--early-stopping=sometimes", "unknown early_stopping 'sometimes'"},
      {"--use-cache maybe", "--use-cache: 'maybe' is not true or false"},
  };
  for (const auto& [args, needle] : cases) {
    const CliResult r = run_cli(base + args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << ": " << r.err;
  }
  const std::string in = temp_path("gen_in.safetensors");
  write_safetensors(in, {OutTensor::i64("input_ids", TensorI64(Shape{1, 200}, 700))});
  const CliResult r = run_cli("generate --model '" + model_dir() + "' --inputs '" + in + "' --outputs '" + out + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is out of range for vocab_size 512"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove(in);
}
