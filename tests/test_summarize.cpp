// `bigbird summarize` (src/tasks/summarize.h): text in, HF SummarizationPipeline's answer out on
// the tiny BigBird-Pegasus demo model. The answers are held to `bigbird generate` (itself held to
// HF's generate() by test_pegasus_generate.cpp) on the tokenizer's ids, decoded with special
// tokens skipped; batch mode to one-by-one runs; and every user error to a clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/safetensors.h"
#include "tasks/summarize.h"
#include "tasks_test_util.h"
#include "text/tokenizer.h"

using namespace bigbird::test;
using nlohmann::json;

namespace {

const std::string kModel = std::string(BIGBIRD_TEST_DATA) + "/../../models/tiny-pegasus";
const std::string kBareModel = data_path("pegasus-tiny/model");  // weights only, no tokenizer files
const std::string kPegTok = data_path("tokenizer-hf/pegasus");

const std::string kShort =
    "The licenses for most software are designed to take away your freedom to share and change it.";

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + s;
  return out;
}

// One thread: on a loaded machine a tiny model spends most of its time in OpenMP barriers.
std::string summarize(const std::string& args) { return "summarize --model " + kModel + " --threads 1 " + args; }

// What `bigbird generate` answers for `text`, tokenized as HF's tokenizer does (truncated to
// `max_tokens`), each sequence decoded with skip_special_tokens=True, no clean-up.
json via_generate(const std::string& text, const std::string& flags, int64_t max_tokens = 1024) {
  auto tok = bigbird::Tokenizer::load(kModel);
  bigbird::EncodeOptions eo;
  eo.max_length = max_tokens;
  const bigbird::Encoding e = tok->encode(text, eo);
  TempDir dir;
  const int64_t L = static_cast<int64_t>(e.input_ids.size());
  bigbird::write_safetensors(dir.file("in.safetensors"),
                             {bigbird::OutTensor::i64("input_ids", bigbird::Shape{1, L}, e.input_ids.data())}, {});
  const RunResult r =
      run_cli("generate --model " + kModel + " --inputs " + dir.file("in.safetensors") + " --outputs " +
              dir.file("out.safetensors") + " --threads 1 " + flags);  // both default to --random-plan zeros
  EXPECT_EQ(r.status, 0) << r.output;
  if (r.status != 0) return {};
  const bigbird::TensorI64 seq = bigbird::SafeTensors::open(dir.file("out.safetensors")).read_i64("sequences");
  json out = json::array();
  for (int64_t i = 0; i < seq.dim(0); ++i) {
    std::vector<int64_t> ids(seq.data.begin() + i * seq.dim(1), seq.data.begin() + (i + 1) * seq.dim(1));
    out.push_back({{"summary_text", tok->decode(ids, true, false)}});
  }
  return out;
}

void expect_error(const std::string& args, const std::string& message) {
  const RunResult r = run_cli(args);
  EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << "expected '" << message << "' in:\n" << r.output;
}

}  // namespace

// ------------------------------------------------------------------------- answers

TEST(SummarizeCli, GreedyMatchesGenerateOnTheTokenizedText) {
  // Two threads here, one in generate: the thread count does not change the answer.
  const json got = cli_json("summarize --model " + kModel + " --threads 2 " + sh(kShort));
  ASSERT_TRUE(got.is_array());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].contains("summary_text")) << got.dump();
  EXPECT_FALSE(got[0]["summary_text"].get<std::string>().empty()) << got.dump();
  EXPECT_EQ(got, via_generate(kShort, ""));
  // Past (5 + 2r)·block = 176 tokens the encoder runs block-sparse with HF's random blocks.
  const std::string longer = repeat(kShort, 12);
  EXPECT_EQ(cli_json(summarize(sh(longer))), via_generate(longer, ""));
}

TEST(SummarizeCli, BeamSearchMatchesGenerate) {
  const std::string flags =
      "--num-beams 4 --num-return-sequences 2 --length-penalty 0.8 --no-repeat-ngram-size 3 --min-length 5 "
      "--max-length 24 --early-stopping";
  const std::string text = repeat(kShort, 10);
  const json got = cli_json(summarize(flags + " " + sh(text)));
  ASSERT_EQ(got.size(), 2u) << got.dump();  // one object per returned sequence
  EXPECT_EQ(got, via_generate(text, flags));
  // --max-new-tokens wins over --max-length, as in generate().
  EXPECT_EQ(cli_json(summarize("--num-beams 2 --max-new-tokens 6 --max-length 40 " + sh(kShort))),
            via_generate(kShort, "--num-beams 2 --max-new-tokens 6 --max-length 40"));
}

TEST(SummarizeCli, LongInputsAreTruncatedAsTheTokenizerDoes) {
  const std::string text = repeat(kShort, 70);  // well over the 1024 tokens the model takes
  TempDir dir;
  const RunResult r = run_cli(summarize("--output " + dir.file("out.json") + " " + sh(text)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json::parse(read_file(dir.file("out.json"))), via_generate(text, "", 1024));
  EXPECT_NE(r.output.find("warning: the input is"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated to 1024"), std::string::npos) << r.output;
  expect_error(summarize("--truncation false " + sh(text)), "the model takes at most 1024");
}

TEST(SummarizeCli, TextFromArgumentFileDashAndStdinAgree) {
  TempDir dir;
  write_file(dir.file("t.txt"), kShort + "\n");  // one trailing newline is dropped
  const json a = cli_json(summarize(sh(kShort)));
  EXPECT_EQ(cli_json(summarize("--file " + dir.file("t.txt"))), a);
  EXPECT_EQ(cli_json(summarize("- < " + dir.file("t.txt"))), a);
  EXPECT_EQ(cli_json(summarize("< " + dir.file("t.txt"))), a);
  EXPECT_EQ(cli_json(summarize("--file - < " + dir.file("t.txt"))), a);
  // --output: written atomically, nothing on stdout.
  const RunResult r = run_cli(summarize("--output " + dir.file("out.json") + " " + sh(kShort)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(json::parse(read_file(dir.file("out.json"))), a);
}

TEST(SummarizeCli, BatchEqualsOneByOneAndKeepsOrder) {
  TempDir dir;
  const std::vector<std::string> texts = {repeat(kShort, 9), "Free software.", repeat(kShort, 3), kShort,
                                          "You may copy and distribute verbatim copies of this license document."};
  std::string jsonl;
  for (size_t i = 0; i < texts.size(); ++i) {
    jsonl += json{{"text", texts[i]}}.dump() + "\n";
    if (i == 1) jsonl += "\n";  // blank lines are ignored
  }
  write_file(dir.file("in.jsonl"), jsonl);
  for (const std::string flags : {"", "--num-beams 3 --num-return-sequences 2"}) {
    const RunResult r = run_cli("summarize --model " + kModel + " " + flags + " --input " + dir.file("in.jsonl") +
                                " --batch-size 3 --threads 2 --output " + dir.file("out.jsonl"));
    ASSERT_EQ(r.status, 0) << r.output;
    const std::vector<json> lines = read_jsonl(dir.file("out.jsonl"));
    ASSERT_EQ(lines.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(lines[i], cli_json(summarize(flags + " " + sh(texts[i])))) << flags << " line " << i;
    // From stdin, one thread: the same lines.
    const RunResult s = run_cli(summarize(flags + " --input - < " + dir.file("in.jsonl")));
    ASSERT_EQ(s.status, 0) << s.output;
    EXPECT_EQ(s.output, read_file(dir.file("out.jsonl")));
  }
}

// ------------------------------------------------------------------------- errors

TEST(SummarizeCli, BadInputsAreClearErrors) {
  TempDir dir;
  expect_error(summarize(sh("")), "the text is empty");
  write_file(dir.file("empty.txt"), "\n");
  expect_error(summarize("--file " + dir.file("empty.txt")), "the text is empty");
  expect_error(summarize("\"$(printf 'abc\\377')\""), "not valid UTF-8");
  // JSONL: the bad line's number; nothing is written.
  write_file(dir.file("in.jsonl"),
             json{{"text", kShort}}.dump() + "\n{\"text\": \n" + json{{"text", ""}}.dump() + "\n");
  const RunResult r = run_cli(summarize("--input " + dir.file("in.jsonl") + " --output " + dir.file("out.jsonl")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir.file("in.jsonl") + ":2: not valid JSON"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.jsonl")));
  write_file(dir.file("bad.jsonl"), "{\"text\": \"abc\xff\"}\n");
  expect_error(summarize("--input " + dir.file("bad.jsonl")), "bad.jsonl:1: not valid UTF-8");
  // --skip-bad-lines: an error line in place of each bad input.
  const RunResult s =
      run_cli(summarize("--input " + dir.file("in.jsonl") + " --skip-bad-lines --output " + dir.file("out.jsonl")));
  ASSERT_EQ(s.status, 0) << s.output;
  const std::vector<json> lines = read_jsonl(dir.file("out.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], cli_json(summarize(sh(kShort))));
  EXPECT_NE(lines[1]["error"].get<std::string>().find(":2: not valid JSON"), std::string::npos) << lines[1].dump();
  EXPECT_NE(lines[2]["error"].get<std::string>().find(":3: the text is empty"), std::string::npos) << lines[2].dump();
  expect_error(summarize("--num-beams 2 --num-return-sequences 3 " + sh(kShort)), "num_return_sequences");
}

TEST(SummarizeCli, BadModelsAreClearErrors) {
  TempDir dir;
  expect_error("summarize --model " + dir.file("nope") + " " + sh(kShort), "does not exist");
  // The test checkpoint holds no tokenizer: say so, and take --tokenizer.
  expect_error("summarize --model " + kBareModel + " --threads 1 " + sh(kShort), "spiece.model is missing");
  EXPECT_EQ(cli_json("summarize --model " + kBareModel + " --threads 1 --tokenizer " + kPegTok + " " + sh(kShort)),
            cli_json(summarize(sh(kShort))));
  // Tokenizer files without weights.
  const std::string noweights = dir.file("noweights");
  std::filesystem::create_directories(noweights);
  for (const char* f : {"config.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"})
    std::filesystem::copy_file(kModel + "/" + f, noweights + "/" + f);
  const RunResult r = run_cli("summarize --model " + noweights + " " + sh(kShort));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("model.safetensors"), std::string::npos) << r.output;
  // An encoder-only BigBird checkpoint, and a BigBird tokenizer on the Pegasus model.
  expect_error("summarize --model " + std::string(BIGBIRD_TEST_DATA) + "/../../models/tiny-mlm " + sh(kShort),
               "summarize needs a BigBird-Pegasus checkpoint");
  expect_error("summarize --model " + kBareModel + " --tokenizer " + kTok + " " + sh(kShort),
               "does not match the model");
}

// ------------------------------------------------------------------------- library

TEST(Summarizer, PipelineDefaultsPrefixAndTruncation) {
  TempDir dir;
  const std::string m = dir.file("m");
  std::filesystem::copy(kModel, m);
  // The pipeline passes config.json's max_length / min_length over generation_config.json's.
  json c = json::parse(read_file(m + "/config.json"));
  c["max_length"] = 12;
  c["min_length"] = 3;
  c["prefix"] = "summarize: ";
  write_file(m + "/config.json", c.dump(2));
  write_file(m + "/generation_config.json", R"({"max_length": 30, "min_length": 0, "num_beams": 2, "eos_token_id": 1,
    "pad_token_id": 0, "decoder_start_token_id": 2})");
  auto s = bigbird::tasks::Summarizer::load(m, "");
  const bigbird::GenerationConfig g = s->default_generation();
  EXPECT_EQ(g.max_length, 12);
  EXPECT_EQ(g.min_length, 3);
  EXPECT_EQ(g.num_beams, 2);
  EXPECT_EQ(s->max_input_tokens(), 1024);
  bigbird::tasks::SummarizeOptions o;
  o.generation = g;
  const bigbird::tasks::SummaryInput in = s->prepare(kShort, o);
  EXPECT_EQ(in.input_ids, s->tokenizer().encode("summarize: " + kShort).input_ids);
  EXPECT_FALSE(in.truncated());
  const bigbird::tasks::SummaryInput cut = s->prepare(repeat(kShort, 70), o);
  EXPECT_TRUE(cut.truncated());
  ASSERT_EQ(cut.input_ids.size(), 1024u);
  EXPECT_EQ(cut.input_ids.back(), 1);  // </s> kept
  const json a = s->summarize(kShort, o);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0]["summary_text"].is_string());
}
