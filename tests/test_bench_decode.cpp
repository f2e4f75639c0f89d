// End-to-end tests of `bigbird bench-decode` on the small random shape: the JSON report of one
// configuration, a sweep (one child process per configuration, a markdown table), the uncached
// reference, and user errors (clear `error: ...`, non-zero exit).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

using bigbird::test::run_cli;

namespace {

const std::string kSmall = "bench-decode --shape small --threads 1 --repeats 2 ";

// The JSON objects printed one per line (other lines, e.g. warnings, are skipped).
std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty() && line[0] == '{') v.push_back(nlohmann::json::parse(line));
  return v;
}

void expect_sane(const nlohmann::json& r, int64_t enc_len, int64_t beams, int64_t new_tokens) {
  for (const char* f : {"enc_len",
                        "num_beams",
                        "new_tokens",
                        "steps",
                        "output_len",
                        "encoder_s",
                        "encoder_user_s",
                        "cross_kv_s",
                        "cross_kv_user_s",
                        "decode_s",
                        "decode_user_s",
                        "tokens_per_s",
                        "row_tokens_per_s",
                        "ms_per_token",
                        "step_ms_early",
                        "step_ms_late",
                        "late_early_ratio",
                        "step_ms_slope_per_100",
                        "step_ms",
                        "step_ms_min",
                        "step_cpu_ms",
                        "late_early_ratio_min",
                        "late_early_ratio_cpu",
                        "peak_rss_bytes",
                        "attention_used",
                        "d_model",
                        "encoder_layers",
                        "decoder_layers",
                        "vocab"})
    EXPECT_TRUE(r.contains(f)) << f << " missing in " << r.dump();
  EXPECT_EQ(r["enc_len"].get<int64_t>(), enc_len);
  EXPECT_EQ(r["num_beams"].get<int64_t>(), beams);
  EXPECT_EQ(r["new_tokens"].get<int64_t>(), new_tokens);
  // A fixed number of tokens: no early stop at eos.
  EXPECT_EQ(r["steps"].get<int64_t>(), new_tokens);
  EXPECT_EQ(r["output_len"].get<int64_t>(), new_tokens + 1);
  for (const char* f : {"step_ms", "step_ms_min", "step_cpu_ms"})
    EXPECT_EQ(r[f].size(), static_cast<size_t>(new_tokens)) << f;
  for (size_t i = 0; i < r["step_ms"].size(); ++i)
    EXPECT_LE(r["step_ms_min"][i].get<double>(), r["step_ms"][i].get<double>()) << i;
  EXPECT_EQ(r["d_model"].get<int64_t>(), 128);
  EXPECT_EQ(r["encoder_layers"].get<int64_t>(), 2);
  EXPECT_EQ(r["decoder_layers"].get<int64_t>(), 2);
  for (const char* f : {"encoder_s", "cross_kv_s", "decode_s", "tokens_per_s", "step_ms_early", "step_ms_late",
                        "late_early_ratio", "late_early_ratio_min", "late_early_ratio_cpu"}) {
    EXPECT_GT(r[f].get<double>(), 0.0) << f;
    EXPECT_LT(r[f].get<double>(), 1e6) << f;
  }
  const double decode = r["decode_s"].get<double>();
  EXPECT_NEAR(r["tokens_per_s"].get<double>(), new_tokens / decode, 1e-6 * new_tokens / decode);
  EXPECT_NEAR(r["row_tokens_per_s"].get<double>(), beams * new_tokens / decode, 1e-6 * beams * new_tokens / decode);
  EXPECT_NEAR(r["late_early_ratio"].get<double>(), r["step_ms_late"].get<double>() / r["step_ms_early"].get<double>(),
              1e-9);
  // The step times are part of the decode time.
  double sum = 0;
  for (const auto& s : r["step_ms"]) sum += s.get<double>();
  EXPECT_LE(sum * 1e-3, decode * 1.5 + 1e-3);
  EXPECT_GT(r["peak_rss_bytes"].get<int64_t>(), 1 << 20);
}

}  // namespace

TEST(CliBenchDecode, OneConfigurationJson) {
  auto r = run_cli(kSmall + "--enc-len 256 --num-beams 1 --new-tokens 12 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = json_lines(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  expect_sane(rows[0], 256, 1, 12);
  EXPECT_EQ(rows[0]["attention_used"].get<std::string>(), "block_sparse");  // 256 > (5 + 2·2)·16
  EXPECT_TRUE(rows[0]["use_cache"].get<bool>());
}

TEST(CliBenchDecode, BeamSearchAndLayerOverrides) {
  auto r = run_cli(kSmall + "--enc-len 100 --num-beams 3 --new-tokens 10 --encoder-layers 1 --decoder-layers 3 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = json_lines(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  EXPECT_EQ(rows[0]["steps"].get<int64_t>(), 10);
  EXPECT_EQ(rows[0]["num_beams"].get<int64_t>(), 3);
  EXPECT_EQ(rows[0]["encoder_layers"].get<int64_t>(), 1);
  EXPECT_EQ(rows[0]["decoder_layers"].get<int64_t>(), 3);
  EXPECT_EQ(rows[0]["attention_used"].get<std::string>(), "original_full");  // short input: HF's fall-back
}

TEST(CliBenchDecode, SweepRunsEveryConfigurationAndPrintsATable) {
  auto j = run_cli(kSmall + "--enc-len 200,300 --num-beams 1,2 --new-tokens 9 --json");
  ASSERT_EQ(j.status, 0) << j.output;
  auto rows = json_lines(j.output);
  ASSERT_EQ(rows.size(), 4u) << j.output;
  int i = 0;
  for (int64_t k : {1, 2})
    for (int64_t L : {200, 300}) expect_sane(rows[static_cast<size_t>(i++)], L, k, 9);

  // The same table from saved JSON lines.
  bigbird::test::TempDir dir;
  {
    std::ofstream f(dir.file("runs.jsonl"));
    f << j.output;
  }
  auto saved = run_cli("bench-decode --table " + dir.file("runs.jsonl"));
  ASSERT_EQ(saved.status, 0) << saved.output;
  EXPECT_NE(saved.output.find("| 300 | 2 |"), std::string::npos) << saved.output;
  EXPECT_NE(run_cli("bench-decode --table " + dir.file("none.jsonl")).output.find("error: --table: cannot open"),
            std::string::npos);

  auto t = run_cli(kSmall + "--enc-len 200,300 --num-beams 2 --new-tokens 9");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("| enc len | beams |"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("| 200 | 2 |"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("| 300 | 2 |"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("late/early"), std::string::npos) << t.output;
}

TEST(CliBenchDecode, UncachedReference) {
  auto r = run_cli(kSmall + "--enc-len 64 --num-beams 2 --new-tokens 6 --no-cache --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = json_lines(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  expect_sane(rows[0], 64, 2, 6);
  EXPECT_FALSE(rows[0]["use_cache"].get<bool>());
  auto t = run_cli(kSmall + "--enc-len 64 --num-beams 2 --new-tokens 6 --no-cache");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("| 64 | 2, no cache |"), std::string::npos) << t.output;
}

TEST(CliBenchDecode, BadArgumentsAreErrors) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--enc-len 0", "--enc-len: '0' is not a positive integer"},
      {"--enc-len 12x", "--enc-len: '12x' is not a positive integer"},
      {"--enc-len ,", "--enc-len: needs at least one value"},
      {"--num-beams 0", "--num-beams: '0' is not a positive integer"},
      {"--num-beams -2", "is not a positive integer"},
      {"--new-tokens 0", "--new-tokens"},
      {"--repeats 0", "--repeats"},
      {"--shape huge", "--shape"},
      {"--model /nonexistent/dir", "excludes"},  // kSmall passes --shape
      {"--encoder-layers 0", "--encoder-layers"},
      {"--bogus", "bogus"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(kSmall + "--new-tokens 2 " + c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  // A checkpoint that does not exist.
  auto m = run_cli("bench-decode --model /nonexistent/dir --enc-len 64 --num-beams 1 --new-tokens 2");
  EXPECT_EQ(m.status, 1) << m.output;
  EXPECT_NE(m.output.find("error: model directory '/nonexistent/dir' does not exist"), std::string::npos) << m.output;
  // Longer than the learned positions of a checkpoint.
  auto p = run_cli("bench-decode --model " + std::string(BIGBIRD_TEST_DATA) +
                   "/pegasus-tiny/model --enc-len 100000 --num-beams 1 --new-tokens 2 --threads 1");
  EXPECT_EQ(p.status, 1) << p.output;
  EXPECT_NE(p.output.find("max_position_embeddings"), std::string::npos) << p.output;
}

TEST(CliBenchDecode, RunsOnACheckpoint) {
  auto r = run_cli("bench-decode --model " + std::string(BIGBIRD_TEST_DATA) +
                   "/pegasus-tiny/model --enc-len 40 --num-beams 2 --new-tokens 5 --repeats 1 --threads 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = json_lines(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  EXPECT_EQ(rows[0]["steps"].get<int64_t>(), 5);
  EXPECT_EQ(rows[0]["output_len"].get<int64_t>(), 6);
}
