// The common options of every model-running subcommand (tools/common_options.h): the same names,
// help text and defaults everywhere; bad values and options a model cannot honour are refused
// with one `error: ...` line and a non-zero exit status, never ignored.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "layers/types.h"
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
// --random-plan's default per command: zeros (transformers >= 4.30 in eval mode) for inference,
// hf for grad (HF's training-mode plan in every version), seeded for train (fresh per step).
const std::map<std::string, std::string> kDefaultPlan = {
    {"forward", "zeros"},   {"bench", "zeros"},     {"generate", "zeros"}, {"bench-decode", "zeros"},
    {"summarize", "zeros"}, {"fill-mask", "zeros"}, {"classify", "zeros"}, {"qa", "zeros"},
    {"tag", "zeros"},       {"embed", "zeros"},     {"grad", "hf"},        {"train", "seeded"}};

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

// One convention for every command and every failure, a bad flag included: exactly one line
// `error: ...` and exit status 1.
void expect_refused(const std::string& args, const std::string& needle, int status = 1) {
  auto r = run_cli(args);
  EXPECT_NE(r.status, 0) << args;
  if (status >= 0) {
    EXPECT_EQ(r.status, status) << args << "\n" << r.output;
  }
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << "\n" << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << args << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
}

}  // namespace

TEST(CliCommonOptions, EveryModelCommandListsThemWithTheSameHelpAndDefaults) {
  const std::string ref = run_cli("forward --help").output;
  for (const char* opt : kCommon) ASSERT_NE(help_entry(ref, opt), "") << opt << " missing from forward --help";
  EXPECT_NE(help_entry(ref, "--threads").find("(default 0: all cores)"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--attention").find("(default: the model's config.attention_type)"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--random-plan").find("zeros (transformers >= 4.30 in eval mode"), std::string::npos);
  EXPECT_NE(help_entry(ref, "--random-plan").find("hf (HF's numpy draw: transformers 4.27-4.29"), std::string::npos);
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
      if (std::string(opt) == "--random-plan") {  // the same text, and each command's own default
        const std::string tail = "default here: " + kDefaultPlan.at(cmd);
        ASSERT_GE(got.size(), tail.size()) << cmd << ": " << got;
        EXPECT_EQ(got.substr(got.size() - tail.size()), tail) << cmd << ": " << got;
        EXPECT_EQ(got.substr(0, got.size() - tail.size()), want.substr(0, want.rfind("default here: "))) << cmd;
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

// Flag validation (CLI11's checks) follows the same convention as every other error: one line
// `error: ...`, exit status 1, no usage hint on a second line; --help still exits 0. An absurd
// --threads is refused (above kMaxThreads = 1024) instead of reaching OpenMP.
TEST(CliCommonOptions, FlagValidationFailuresAreOneErrorLineAndStatusOne) {
  const std::string mlm = data_path("../../models/tiny-mlm");
  expect_refused("fill-mask --model " + mlm + " 'a [MASK]' --threads -1", "--threads");
  expect_refused("fill-mask --model " + mlm + " 'a [MASK]' --threads 100000", "more than the limit of 1024");
  expect_refused("fill-mask --model " + mlm + " 'a [MASK]' --batch-size 0", "--batch-size: '0' is not a positive");
  expect_refused("qa --model " + mlm + " --question a --context b --top-k 0", "--top-k");
  expect_refused("qa --model " + mlm + " --question a --context b --max-seq-len 0", "--max-seq-len");
  expect_refused("embed --model " + mlm + " x --pooling bogus", "--pooling");
  expect_refused("fill-mask --model " + mlm + " --no-such-flag", "--no-such-flag");
  expect_refused("no-such-command", "subcommand");
  expect_refused("", "subcommand");
  for (const auto& [cmd, args] : kModelCommands) expect_refused(cmd + " " + args + " --threads 5000", "--threads");
  EXPECT_EQ(run_cli("fill-mask --help").status, 0);
  EXPECT_EQ(run_cli("--help").status, 0);
}

// Every model-running command honours --dtype bf16 and --dtype int8 on the CPU's matrix unit
// (AVX512-BF16 / AVX512-VNNI, else the AVX2 kernels: every x86-64 CI machine has one), and
// forward on BigBird-Pegasus runs its encoder and its decoder (LM head included) in that dtype
// instead of silently in float32.
TEST(CliCommonOptions, Bf16AndInt8RunEverywhereWithAMatrixUnit) {
  TempDir dir;
  const std::string pin = data_path("pegasus-tiny/case_enc250_dec12.safetensors");
  const std::string pf32 = dir.file("p32.st");
  const std::string pfwd = "forward --model " + kPegasus + " --inputs " + pin + " --random-plan hf --outputs ";
  ASSERT_EQ(run_cli(pfwd + pf32).status, 0);
  const SafeTensors f32 = SafeTensors::open(pf32);
  // bf16: inputs rounded to 8 bits of mantissa (relative 2^-9 each); int8: per-token and
  // per-channel steps of max|x|/127 (relative ~2^-8 of the row's largest value); through 2 tiny
  // layers and a LayerNorm the measured worst |error| is 1.8e-2 (bf16) and 7.3e-2 (int8) on the
  // encoder output, and 3.2e-3 / 1.3e-2 on the decoder's logits (AMD Zen 4).
  struct Tol {
    std::string dtype;
    double encoder, logits;
  };
  for (const auto& [dtype, tol, tol_logits] : std::vector<Tol>{{"bf16", 5e-2, 1e-2}, {"int8", 1.5e-1, 4e-2}}) {
    std::printf("note: --dtype %s runs on %s here\n", dtype.c_str(),
                matrix_unit_name(parse_precision(dtype)));
    const std::string out = dir.file("p" + dtype + ".st");
    auto r = run_cli(pfwd + out + " --dtype " + dtype);
    ASSERT_EQ(r.status, 0) << r.output;
    const SafeTensors got = SafeTensors::open(out);
    for (const auto& [name, bound] : std::vector<std::pair<std::string, double>>{{"encoder.output", tol},
                                                                                  {"logits", tol_logits}}) {
      const Tensor a = f32.read_f32(name), b = got.read_f32(name);
      ASSERT_EQ(a.shape, b.shape);
      double worst = 0;
      for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::fabs(double(a.data[i]) - b.data[i]));
      EXPECT_GT(worst, 0.0) << dtype << " " << name;  // not silently float32
      EXPECT_LT(worst, bound) << dtype << " " << name;
    }
    auto t = run_cli("fill-mask --model " + data_path("../../models/tiny-mlm") + " \"Paris is the [MASK].\" --dtype " +
                     dtype);
    EXPECT_EQ(t.status, 0) << t.output;
  }
  expect_refused(pfwd + dir.file("x.st") + " --dtype fp8", "--dtype", 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.st")));
}

TEST(CliCommonOptions, SeedWithoutTheSeededPlanIsRefused) {
  TempDir dir;
  const std::string base = "forward --model " + kPre + " --inputs " + kCase + " --outputs " + dir.file("o.st");
  expect_refused(base + " --seed 3", "--seed has no effect with --random-plan zeros", 1);
  expect_refused(base + " --random-plan hf --seed 3", "--seed has no effect with --random-plan hf", 1);
  expect_refused("classify --model m --seed 1 hi", "--seed has no effect", 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("o.st")));
  auto ok = run_cli(base + " --random-plan seeded --seed 3 --threads 1");
  EXPECT_EQ(ok.status, 0) << ok.output;
  // A plan source with full attention draws nothing, and is accepted as HF's models accept it.
  auto full = run_cli(base + " --attention original_full --random-plan hf --threads 1");
  EXPECT_EQ(full.status, 0) << full.output;
}

TEST(CliCommonOptions, ForwardDefaultsToZerosPlans) {
  // Inputs without stored plans: the default is transformers >= 4.30's eval-mode plan (every random
  // block is block 0); --random-plan hf is HF 4.27's draw (the fixtures'), seeded our own.
  TempDir dir;
  SafeTensors ref = SafeTensors::open(kCase);
  write_safetensors(dir.file("in.st"), {OutTensor::i64("input_ids", ref.read_i64("input_ids")),
                                        OutTensor::i64("attention_mask", ref.read_i64("attention_mask"))});
  const std::string base = "forward --model " + kPre + " --inputs " + dir.file("in.st") + " --threads 1 --outputs ";
  for (const auto& [name, flags] :
       std::vector<std::pair<std::string, std::string>>{{"default", ""},
                                                        {"zeros", " --random-plan zeros"},
                                                        {"hf", " --random-plan hf"},
                                                        {"seeded", " --random-plan seeded"}}) {
    auto r = run_cli(base + dir.file(name + ".st") + flags);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  auto plan = [&](const std::string& name) {
    return SafeTensors::open(dir.file(name + ".st")).read_i64("rand_attn.layer0").data;
  };
  EXPECT_EQ(plan("default"), plan("zeros"));
  EXPECT_EQ(plan("default"), std::vector<int64_t>(plan("default").size(), 0));
  EXPECT_EQ(plan("hf"), ref.read_i64("rand_attn.layer0").data);
  EXPECT_NE(plan("default"), plan("hf"));
  EXPECT_NE(plan("default"), plan("seeded"));
  auto out = [&](const std::string& name) {
    return SafeTensors::open(dir.file(name + ".st")).read_f32("sequence_output").data;
  };
  EXPECT_EQ(out("default"), out("zeros"));
  EXPECT_EQ(out("hf").size(), ref.read_f32("sequence_output").data.size());
}

// grad defaults to hf (HF computes gradients in training mode, whose plan is the layer-seeded
// draw in every transformers version): without stored plans it reproduces the fixture's gradients,
// whose plans are HF's.
TEST(CliCommonOptions, GradDefaultsToHfPlans) {
  TempDir dir;
  const SafeTensors g = SafeTensors::open(data_path("roberta-tiny/grad_case_i_mlm.safetensors"));
  std::vector<OutTensor> in;
  for (const char* n : {"input_ids", "attention_mask", "token_type_ids", "labels"})
    in.push_back(OutTensor::i64(n, g.read_i64(n)));
  write_safetensors(dir.file("in.st"), in);
  const std::string base = "grad --model " + kPre + " --inputs " + dir.file("in.st") + " --threads 1 --outputs ";
  ASSERT_EQ(run_cli(base + dir.file("default.st")).status, 0);
  ASSERT_EQ(run_cli(base + dir.file("hf.st") + " --random-plan hf").status, 0);
  ASSERT_EQ(run_cli(base + dir.file("zeros.st") + " --random-plan zeros").status, 0);
  auto loss = [&](const std::string& name) { return SafeTensors::open(dir.file(name + ".st")).read_f32("loss").data; };
  EXPECT_EQ(loss("default"), loss("hf"));
  EXPECT_NEAR(loss("default")[0], g.read_f32("loss").data[0], 1e-5 * std::fabs(g.read_f32("loss").data[0]));
  EXPECT_NE(loss("default"), loss("zeros"));
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
  EXPECT_EQ(j["random_plan"], "zeros");
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

// --random-plan zeros is a value of every model-running command; a bogus value is refused with
// one `error:` line and exit status 2, as every bad option value (a usage error; refusals of
// options the run cannot honour exit 1).
TEST(CliCommonOptions, ZerosPlanIsAcceptedByEveryModelCommandAndBogusValuesRefused) {
  for (const auto& [cmd, args] : kModelCommands) {
    auto r = run_cli(cmd + " " + args + " --random-plan zeros --help");
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
    // Parsed and checked: the run fails on the placeholder model (or runs), never on the plan.
    auto z = run_cli(cmd + " " + args + " --random-plan zeros --threads 1 --seq-len 64 --repeats 1 --layers 1");
    EXPECT_EQ(z.output.find("--random-plan"), std::string::npos) << cmd << "\n" << z.output;
    EXPECT_EQ(z.output.find("random plan"), std::string::npos) << cmd << "\n" << z.output;
    for (const char* bogus : {"bogus", "Zeros", "zero", "", "hf,zeros"})
      expect_refused(cmd + " " + args + " --random-plan '" + bogus + "'", "--random-plan");  // status 1, as every error
  }
}

// The inference commands default to zeros: on inputs long enough for block-sparse attention their
// answers are those of --random-plan zeros, not of HF 4.27's draw.
TEST(CliCommonOptions, InferenceCommandsDefaultToZerosPlans) {
  const std::string tok = " --tokenizer " + data_path("tokenizer-hf/bigbird");
  std::ifstream f(data_path("tasks/qa_context.txt"));
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string ctx = ss.str();  // 188 words: block-sparse attention on the tiny models
  auto quoted = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  const std::vector<std::string> commands = {
      "fill-mask --model " + kPre + tok + " --threads 1 " + quoted("[MASK] " + ctx),
      "embed --model " + kPre + tok + " --threads 1 " + quoted(ctx),
      "classify --model " + data_path("roberta-tiny/seqcls") + tok + " --threads 1 " + quoted(ctx),
      "qa --model " + data_path("roberta-tiny/qa") + tok + " --threads 1 --question " + quoted("What is it?") +
          " --context " + data_path("tasks/qa_context.txt"),
      "tag --model " + data_path("../../models/tiny-tagger") + " --threads 1 " + quoted(ctx.substr(0, 700)),
      "summarize --model " + data_path("../../models/tiny-pegasus") + " --threads 1 --max-length 6 " + quoted(ctx),
  };
  for (const std::string& c : commands) {
    SCOPED_TRACE(c.substr(0, 60));
    auto d = run_cli(c), z = run_cli(c + " --random-plan zeros"), h = run_cli(c + " --random-plan hf");
    ASSERT_EQ(d.status, 0) << d.output;
    ASSERT_EQ(z.status, 0) << z.output;
    ASSERT_EQ(h.status, 0) << h.output;
    EXPECT_EQ(d.output, z.output);
    if (c.rfind("summarize", 0) != 0) {  // a few greedy tokens may agree
      EXPECT_NE(d.output, h.output);
    }
  }
  // generate: the default is the zero plan too (no stored plans in the input).
  TempDir dir;
  const SafeTensors g = SafeTensors::open(data_path("pegasus-tiny/generate_enc256_greedy.safetensors"));
  write_safetensors(dir.file("in.st"), {OutTensor::i64("input_ids", g.read_i64("input_ids"))});
  const std::string gen =
      "generate --model " + kPegasus + " --inputs " + dir.file("in.st") + " --threads 1 --max-length 8 --outputs ";
  for (const auto& [name, flags] :
       std::vector<std::pair<std::string, std::string>>{{"d", ""}, {"z", " --random-plan zeros"}}) {
    auto r = run_cli(gen + dir.file(name + ".st") + flags);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(SafeTensors::open(dir.file("d.st")).read_i64("sequences").data,
            SafeTensors::open(dir.file("z.st")).read_i64("sequences").data);
}
