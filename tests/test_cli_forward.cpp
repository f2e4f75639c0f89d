// End-to-end tests of `bigbird forward` and `bigbird compare`: outputs, HF parity through the
// CLI, and every user error (clear `error: ...`, non-zero exit, no output file left behind).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "checkpoint_util.h"
#include "core/safetensors.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::data_path;
using bigbird::test::run_cli;
using bigbird::test::TempDir;

namespace {
const std::string kPre = data_path("roberta-tiny/pretraining");
const std::string kQa = data_path("roberta-tiny/qa");
const std::string kCase = data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors");

double max_diff(const SafeTensors& a, const SafeTensors& b, const std::string& name) {
  Tensor x = a.read_f32(name), y = b.read_f32(name);
  EXPECT_EQ(x.shape, y.shape) << name;
  double m = 0;
  for (size_t i = 0; i < std::min(x.data.size(), y.data.size()); ++i)
    m = std::max(m, std::fabs(double(x.data[i]) - y.data[i]));
  return m;
}

// Writes input tensors for a forward run.
void write_inputs(const std::string& path, const TensorI64& ids, const TensorI64* mask = nullptr) {
  std::vector<OutTensor> t{OutTensor::i64("input_ids", ids)};
  if (mask) t.push_back(OutTensor::i64("attention_mask", *mask));
  write_safetensors(path, t);
}
}  // namespace

TEST(CliForward, PretrainingOutputsMatchHfWithHfPlans) {
  TempDir dir;
  const std::string out = dir.file("out.safetensors");
  // Inputs without the stored plans: --random-plan hf must draw HF's.
  SafeTensors ref = SafeTensors::open(kCase);
  write_safetensors(dir.file("in.safetensors"), {OutTensor::i64("input_ids", ref.read_i64("input_ids")),
                                                 OutTensor::i64("attention_mask", ref.read_i64("attention_mask")),
                                                 OutTensor::i64("token_type_ids", ref.read_i64("token_type_ids"))});
  auto r = run_cli("forward --model " + kPre + " --inputs " + dir.file("in.safetensors") + " --outputs " + out +
                   " --random-plan hf --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  SafeTensors got = SafeTensors::open(out);
  for (const char* n :
       {"embedding_output", "hidden_state.layer0", "hidden_state.layer1", "sequence_output", "pooler_output"})
    EXPECT_LT(max_diff(got, ref, n), 1e-4) << n;
  EXPECT_LT(max_diff(got, ref, "mlm_logits"), 1e-3);
  EXPECT_LT(max_diff(got, ref, "nsp_logits"), 1e-3);
  EXPECT_EQ(got.read_i64("rand_attn.layer0").data, ref.read_i64("rand_attn.layer0").data);
  // compare agrees.
  auto c = run_cli("compare " + out + " " + kCase);
  EXPECT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("0 over tolerance"), std::string::npos) << c.output;
}

TEST(CliForward, QaWithoutTokenTypesDerivesThemLikeHf) {
  TempDir dir;
  SafeTensors ref = SafeTensors::open(kCase);
  // Inputs: ids, mask and HF's plans, but no token_type_ids.
  std::vector<OutTensor> in{OutTensor::i64("input_ids", ref.read_i64("input_ids")),
                            OutTensor::i64("attention_mask", ref.read_i64("attention_mask"))};
  for (const char* p : {"rand_attn.layer0", "rand_attn.layer1"}) {
    TensorI64 t = ref.read_i64(p);
    std::vector<int32_t> v(t.data.begin(), t.data.end());
    in.push_back(OutTensor::i32(p, t.shape, v.data()));
  }
  write_safetensors(dir.file("in.safetensors"), in);
  auto r = run_cli("forward --model " + kQa + " --inputs " + dir.file("in.safetensors") + " --outputs " +
                   dir.file("o.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  SafeTensors got = SafeTensors::open(dir.file("o.safetensors"));
  EXPECT_EQ(got.read_i64("qa.token_type_ids_used").data, ref.read_i64("qa_derived_tt.token_type_ids_used").data);
  EXPECT_EQ(got.read_i64("qa.question_lengths").data, ref.read_i64("qa_derived_tt.question_lengths").data);
  Tensor a = got.read_f32("qa.start_logits_unmasked"), b = ref.read_f32("qa_derived_tt.start_logits_unmasked");
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::fabs(double(a.data[i]) - b.data[i]));
  EXPECT_LT(m, 1e-3);
  Tensor e = got.read_f32("qa.end_logits"), f = ref.read_f32("qa_derived_tt.end_logits");
  for (size_t i = 0; i < e.data.size(); ++i) EXPECT_NEAR(e.data[i], f.data[i], 1e-3 + 1e-6 * std::fabs(f.data[i]));
}

TEST(CliForward, ThreadCountDoesNotChangeResults) {
  TempDir dir;
  auto r1 =
      run_cli("forward --model " + kPre + " --inputs " + kCase + " --outputs " + dir.file("a.st") + " --threads 1");
  auto r2 =
      run_cli("forward --model " + kPre + " --inputs " + kCase + " --outputs " + dir.file("b.st") + " --threads 2");
  ASSERT_EQ(r1.status, 0) << r1.output;
  ASSERT_EQ(r2.status, 0) << r2.output;
  SafeTensors a = SafeTensors::open(dir.file("a.st")), b = SafeTensors::open(dir.file("b.st"));
  for (const char* n : {"sequence_output", "mlm_logits", "pooler_output"}) EXPECT_EQ(max_diff(a, b, n), 0.0) << n;
}

TEST(CliForward, UserErrorsAreClearAndLeaveNoOutput) {
  TempDir dir;
  const std::string out = dir.file("out.safetensors");
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    auto r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << args;
  };
  const std::string io = " --outputs " + out;
  expect_error("forward --model " + dir.file("nope") + " --inputs " + kCase + io, "does not exist");
  expect_error("forward --model " + kPre + " --inputs " + dir.file("missing.st") + io, "cannot open");
  std::ofstream(dir.file("garbage.st")) << "this is not a safetensors file at all";
  expect_error("forward --model " + kPre + " --inputs " + dir.file("garbage.st") + io, "garbage.st");
  expect_error("forward --model " + kPre + " --inputs " + kCase + io + " --attention dense", "attention");
  expect_error("forward --model " + kPre + " --inputs " + kCase + io + " --random-plan numpy", "random-plan");
  expect_error("forward --model " + kPre + " --inputs " + kCase, "--outputs");

  TensorI64 ids({1, 300}, 7);
  ids.data[12] = 9999;
  write_inputs(dir.file("oor.st"), ids);
  expect_error("forward --model " + kPre + " --inputs " + dir.file("oor.st") + io,
               "input_ids[0, 12] = 9999 is out of range");
  TensorI64 longer({1, 1100}, 7);
  write_inputs(dir.file("long.st"), longer);
  expect_error("forward --model " + kPre + " --inputs " + dir.file("long.st") + io,
               "longer than max_position_embeddings 1024");
  TensorI64 ok({1, 300}, 7), badmask({1, 300}, 3);
  write_inputs(dir.file("mask.st"), ok, &badmask);
  expect_error("forward --model " + kPre + " --inputs " + dir.file("mask.st") + io, "must be 0 or 1");
  write_safetensors(dir.file("noids.st"), {OutTensor::i64("attention_mask", ok)});
  expect_error("forward --model " + kPre + " --inputs " + dir.file("noids.st") + io, "no input_ids");
  std::vector<int32_t> plan(4 * 3 * 3, 1);
  write_safetensors(dir.file("plan.st"),
                    {OutTensor::i64("input_ids", ok), OutTensor::i32("rand_attn.layer0", {4, 3, 3}, plan.data())});
  expect_error("forward --model " + kPre + " --inputs " + dir.file("plan.st") + io, "rand_attn.layer0");
  write_safetensors(dir.file("plan9.st"),
                    {OutTensor::i64("input_ids", ok), OutTensor::i32("rand_attn.layer9", {4, 3, 3}, plan.data())});
  expect_error("forward --model " + kPre + " --inputs " + dir.file("plan9.st") + io, "the model has 2 layers");
  std::vector<float> fl(300, 1.0f);
  write_safetensors(dir.file("float_ids.st"), {OutTensor::f32("input_ids", {1, 300}, fl.data())});
  expect_error("forward --model " + kPre + " --inputs " + dir.file("float_ids.st") + io, "expected an integer type");
  // Output into a directory that does not exist: error, nothing written.
  auto r = run_cli("forward --model " + kPre + " --inputs " + kCase + " --outputs " + dir.file("no/such/dir/out.st"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("error: cannot write"), std::string::npos) << r.output;
  // Unknown subcommand / no subcommand.
  EXPECT_NE(run_cli("frobnicate").status, 0);
  EXPECT_NE(run_cli("").status, 0);
}

// `compare` is a parity checker: a NaN on either side fails it (even NaN against NaN), and so
// does an infinity against a finite value or the other infinity; the same infinity is equal.
TEST(CliCompare, NanAndInfinityFailTheVerdict) {
  TempDir dir;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  auto verdict = [&](std::vector<float> a, std::vector<float> b) {
    write_safetensors(dir.file("a.safetensors"), {OutTensor::f32("x", {static_cast<int64_t>(a.size())}, a.data())});
    write_safetensors(dir.file("b.safetensors"), {OutTensor::f32("x", {static_cast<int64_t>(b.size())}, b.data())});
    return run_cli("compare " + dir.file("a.safetensors") + " " + dir.file("b.safetensors"));
  };
  EXPECT_EQ(verdict({1, 2, 3}, {1, 2, 3}).status, 0);
  EXPECT_EQ(verdict({1, 2, 3}, {1, 2, 4}).status, 3);
  auto r = verdict({1, nan, 3}, {1, 2, 3});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("nan"), std::string::npos) << r.output;
  EXPECT_EQ(verdict({5, 2, 3}, {1, nan, 3}).status, 3);  // a NaN after a larger difference
  EXPECT_EQ(verdict({nan}, {nan}).status, 3);
  EXPECT_EQ(verdict({inf, 1}, {1, 1}).status, 3);
  EXPECT_EQ(verdict({1}, {-inf}).status, 3);
  EXPECT_EQ(verdict({inf}, {-inf}).status, 3);
  EXPECT_EQ(verdict({inf, -inf, 0}, {inf, -inf, 0}).status, 0);
}

TEST(CliBench, PrintsOneJsonObjectWithTheRequiredFields) {
  auto r = run_cli("bench --model " + kPre + " --seq-len 300 --repeats 2 --threads 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  for (const char* k : {"median_s", "min_s", "max_s", "tokens_per_s", "gflops", "peak_rss_bytes"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_LE(j["min_s"].get<double>(), j["median_s"].get<double>());
  EXPECT_LE(j["median_s"].get<double>(), j["max_s"].get<double>());
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(j["attention_used"], "block_sparse");
  auto bad = run_cli("bench --shape base --seq-len 0");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("not a positive integer"), std::string::npos) << bad.output;
}
