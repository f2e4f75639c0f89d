// The common options of every model-running subcommand (tools/common_options.h): the same names,
// help text and defaults everywhere; bad values and options a model cannot honour are refused
// with one `error: ...` line and a non-zero exit status, never ignored.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "kernels/gemm_bf16.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::data_path;
using bigbird::test::run_cli;
using bigbird::test::TempDir;

namespace {

const std::string kPre = data_path("roberta-tiny/pretraining");
const std::string kCase = data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors");
const std::string kPegasus = data_path("pegasus-tiny/model");

// Every subcommand that runs a model, with placeholders for its required options (parsing and
// the common checks come before anything is opened).
const std::vector<std::pair<std::string, std::string>> kModelCommands = {
    {"forward", "--model m --inputs i --outputs o"},
    {"bench", ""},
    {"generate", "--model m --inputs i --outputs o"},
    {"bench-decode", ""},
    {"summarize", "--model m"},
    {"fill-mask", "--model m"},
    {"classify", "--model m"},
    {"qa", "--model m"},
    {"tag", "--model m"},
    {"embed", "--model m"},
    {"grad", "--model m --inputs i --outputs o"},
    {"train", "--model m --train-file f --output-dir o"},
};
const char* kCommon[] = {"--threads", "--attention", "--random-plan", "--seed", "--dtype"};

// The help entry of `option` (its line and the description CLI11 may put on the next one),
// whitespace collapsed; "" when the help does not list it.
std::string help_entry(const std::string& help, const std::string& option) {
  std::istringstream in(help);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream words(lines[i]);
    std::string first;
    words >> first;
    if (first != option) continue;
    std::string text = lines[i];
    for (size_t j = i + 1; j < lines.size(); ++j) {  // continuation lines: deeper indent, no option
      std::istringstream w(lines[j]);
      std::string f;
      w >> f;
      if (f.empty() || f[0] == '-' || lines[j].find_first_not_of(' ') < 6) break;
      text += " " + lines[j];
    }
    std::istringstream all(text);
    std::string out, word;
    while (all >> word) out += (out.empty() ? "" : " ") + word;
    return out;
  }
  return "";
}

int error_lines(const std::string& output) {
  int n = 0;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) n += l.rfind("error:", 0) == 0;
  return n;
}

void expect_refused(const std::string& args, const std::string& needle, int status = -1) {
  auto r = run_cli(args);
  EXPECT_NE(r.status, 0) << args;
  if (status >= 0) {
    EXPECT_EQ(r.status, status) << args << "\n" << r.output;
  }
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << "\n" << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
}

}  // namespace

TEST(CliCommonOptions, EveryModelCommandListsThemWithTheSameHelpAndDefaults) {
  const std::string ref = run_cli("forward --help").output;
  for (const char* opt : kCommon) ASSERT_NE(help_entry(ref, opt), "") << opt << " missing from forward --help";
  EXPECT_NE(help_entry(ref, "--threads").find("(default 0: all cores)"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--attention").find("(default: the model's config.attention_type)"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--random-plan").find("hf (default: HF 4.27's numpy draw"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--seed").find("(default 0)"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--dtype").find("f32 (default, exact)"), std::string::npos);
  for (const auto& [cmd, args] : kModelCommands) {
    auto r = run_cli(cmd + " --help");
    ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
    for (const char* opt : kCommon) {
      const std::string got = help_entry(r.output, opt), want = help_entry(ref, opt);
      if (cmd == "bench" && std::string(opt) == "--attention") {  // bench also sweeps a comma list
        EXPECT_NE(got.find("(default: the model's config.attention_type); a comma list runs each"), std::string::npos)
            << got;
        continue;
      }
      if (cmd == "train" && std::string(opt) == "--seed") {  // HF TrainingArguments' seed
        EXPECT_NE(got.find("training seed (default 42"), std::string::npos) << got;
        continue;
      }
      EXPECT_EQ(got, want) << cmd << " " << opt;
    }
  }
}

TEST(CliCommonOptions, CommandsThatRunNoModelTakeNone) {
  for (const char* cmd : {"tokenize", "compare"}) {
    auto r = run_cli(std::string(cmd) + " --help");
    ASSERT_EQ(r.status, 0) << r.output;
    for (const char* opt : kCommon) EXPECT_EQ(help_entry(r.output, opt), "") << cmd << " lists " << opt;
  }
  expect_refused("tokenize --model m --threads 2 hi", "--threads");
}

TEST(CliCommonOptions, BadValuesGiveOneErrorLine) {
  for (const auto& [cmd, args] : kModelCommands) {
    expect_refused(cmd + " " + args + " --dtype bogus", "--dtype");
    expect_refused(cmd + " " + args + " --threads -1", "--threads");
    expect_refused(cmd + " " + args + " --random-plan numpy", "--random-plan");
    expect_refused(cmd + " " + args + " --attention dense", "--attention");
  }
  expect_refused("bench --attention block_sparse,dense", "'dense' is not block_sparse or original_full");
}

// Every model-running command honours --dtype bf16 where the CPU has AVX512-BF16 (and refuses it
// with one error line elsewhere); forward on BigBird-Pegasus runs its encoder in bf16 instead of
// silently in float32.
TEST(CliCommonOptions, Bf16RunsEverywhereOrIsRefusedOnThisCpu) {
  TempDir dir;
  const std::string pin = data_path("pegasus-tiny/case_enc250_dec12.safetensors");
  const std::string pf32 = dir.file("p32.st"), pbf = dir.file("pbf.st");
  const std::string pfwd = "forward --model " + kPegasus + " --inputs " + pin + " --random-plan hf --outputs ";
  const std::string fill =
      "fill-mask --model " + data_path("../../models/tiny-mlm") + " \"Paris is the [MASK].\" --dtype bf16";
  if (!bf16_supported()) {
    expect_refused(pfwd + pbf + " --dtype bf16", "--dtype bf16 needs a CPU with AVX512-BF16", 1);
    expect_refused(fill, "--dtype bf16 needs a CPU with AVX512-BF16", 1);
    EXPECT_FALSE(std::filesystem::exists(pbf));
    GTEST_SKIP() << "this CPU has no AVX512-BF16: only the refusal is checked";
  }
  ASSERT_EQ(run_cli(pfwd + pf32).status, 0);
  auto r = run_cli(pfwd + pbf + " --dtype bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  // bf16 products change the encoder output (not silently float32), within bf16's error: inputs
  // rounded to 8 bits of mantissa (relative 2^-9 each), through 2 tiny layers and a LayerNorm.
  const Tensor a = SafeTensors::open(pf32).read_f32("encoder.output"),
               b = SafeTensors::open(pbf).read_f32("encoder.output");
  ASSERT_EQ(a.shape, b.shape);
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::fabs(double(a.data[i]) - b.data[i]));
  EXPECT_GT(worst, 0.0);
  EXPECT_LT(worst, 5e-2);
  auto t = run_cli(fill);
  EXPECT_EQ(t.status, 0) << t.output;
}

TEST(CliCommonOptions, SeedWithoutTheSeededPlanIsRefused) {
  TempDir dir;
  const std::string base = "forward --model " + kPre + " --inputs " + kCase + " --outputs " + dir.file("o.st");
  expect_refused(base + " --seed 3", "--seed has no effect with --random-plan hf", 1);
  expect_refused(base + " --random-plan hf --seed 3", "--seed has no effect with --random-plan hf", 1);
  expect_refused("classify --model m --seed 1 hi", "--seed has no effect", 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("o.st")));
  auto ok = run_cli(base + " --random-plan seeded --seed 3 --threads 1");
  EXPECT_EQ(ok.status, 0) << ok.output;
  // A plan source with full attention draws nothing, and is accepted as HF's models accept it.
  auto full = run_cli(base + " --attention original_full --random-plan hf --threads 1");
  EXPECT_EQ(full.status, 0) << full.output;
}

TEST(CliCommonOptions, ForwardDefaultsToHfPlans) {
  // Inputs without stored plans: the default draw is HF's (--random-plan hf), not the seeded one.
  TempDir dir;
  SafeTensors ref = SafeTensors::open(kCase);
  write_safetensors(dir.file("in.st"), {OutTensor::i64("input_ids", ref.read_i64("input_ids")),
                                        OutTensor::i64("attention_mask", ref.read_i64("attention_mask"))});
  const std::string base = "forward --model " + kPre + " --inputs " + dir.file("in.st") + " --threads 1 --outputs ";
  for (const auto& [name, flags] : std::vector<std::pair<std::string, std::string>>{
           {"default", ""}, {"hf", " --random-plan hf"}, {"seeded", " --random-plan seeded"}}) {
    auto r = run_cli(base + dir.file(name + ".st") + flags);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  auto plan = [&](const std::string& name) {
    return SafeTensors::open(dir.file(name + ".st")).read_i64("rand_attn.layer0").data;
  };
  EXPECT_EQ(plan("default"), plan("hf"));
  EXPECT_EQ(plan("default"), ref.read_i64("rand_attn.layer0").data);
  EXPECT_NE(plan("default"), plan("seeded"));
}

TEST(CliCommonOptions, BenchSweepPassesThePlanFlags) {
  auto r = run_cli(
      "bench --shape small --layers 1 --seq-len 512 --attention block_sparse,original_full "
      "--random-plan seeded --seed 5 --repeats 1 --threads 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream in(r.output);
  std::vector<std::string> atts;
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l);
    ASSERT_FALSE(j.contains("error")) << l;
    atts.push_back(j["attention"].get<std::string>());
  }
  EXPECT_EQ(atts, (std::vector<std::string>{"block_sparse", "original_full"}));
  // No --attention: the model's config.attention_type, reported by name.
  auto d = run_cli("bench --model " + kPre + " --seq-len 300 --repeats 1 --threads 1 --json");
  ASSERT_EQ(d.status, 0) << d.output;
  auto j = nlohmann::json::parse(d.output);
  EXPECT_EQ(j["attention"], "block_sparse");
  EXPECT_EQ(j["random_plan"], "hf");
  EXPECT_EQ(j["dtype"], "f32");
}

// --random-plan zeros: what transformers >= 4.30 uses in eval mode (every random block is block
// 0), for BigBird and BigBird-Pegasus; the same outputs as those plans injected.
TEST(CliCommonOptions, ZerosPlanIsEveryRandomBlockZero) {
  TempDir dir;
  SafeTensors ref = SafeTensors::open(kCase);
  const TensorI64 ids = ref.read_i64("input_ids"), mask = ref.read_i64("attention_mask");
  write_safetensors(dir.file("in.st"), {OutTensor::i64("input_ids", ids), OutTensor::i64("attention_mask", mask)});
  auto r = run_cli("forward --model " + kPre + " --inputs " + dir.file("in.st") + " --random-plan zeros --outputs " +
                   dir.file("z.st"));
  ASSERT_EQ(r.status, 0) << r.output;
  const SafeTensors z = SafeTensors::open(dir.file("z.st"));
  std::vector<OutTensor> inj{OutTensor::i64("input_ids", ids), OutTensor::i64("attention_mask", mask)};
  for (const char* n : {"rand_attn.layer0", "rand_attn.layer1"}) {
    const TensorI64 p = z.read_i64(n);
    EXPECT_EQ(p.data, std::vector<int64_t>(p.data.size(), 0)) << n;
    EXPECT_EQ(p.shape, ref.read_i64(n).shape) << n;
    std::vector<int32_t> v(p.data.size(), 0);
    inj.push_back(OutTensor::i32(n, p.shape, v.data()));
  }
  write_safetensors(dir.file("inj.st"), inj);
  ASSERT_EQ(
      run_cli("forward --model " + kPre + " --inputs " + dir.file("inj.st") + " --outputs " + dir.file("i.st")).status,
      0);
  EXPECT_EQ(SafeTensors::open(dir.file("i.st")).read_f32("sequence_output").data, z.read_f32("sequence_output").data);
  EXPECT_NE(z.read_f32("sequence_output").data, ref.read_f32("sequence_output").data);  // not HF 4.27's plan
  const SafeTensors pc = SafeTensors::open(data_path("pegasus-tiny/case_enc256_dec12.safetensors"));
  write_safetensors(dir.file("pin.st"), {OutTensor::i64("input_ids", pc.read_i64("input_ids"))});
  auto p = run_cli("forward --model " + kPegasus + " --inputs " + dir.file("pin.st") +
                   " --random-plan zeros --outputs " + dir.file("p.st"));
  ASSERT_EQ(p.status, 0) << p.output;
  const TensorI64 pp = SafeTensors::open(dir.file("p.st")).read_i64("rand_attn.layer0");
  EXPECT_EQ(pp.data, std::vector<int64_t>(pp.data.size(), 0));
}
