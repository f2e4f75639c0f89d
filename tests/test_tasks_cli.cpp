// End-to-end tests of the task commands (fill-mask, classify, qa, tag, embed, tokenize): HF
// pipeline answers on the fixtures' tiny models, single and batch mode, and every user error.
//
// The expected fill-mask / classify / qa answers below come from a numpy re-implementation of
// transformers 4.27.1's FillMaskPipeline, TextClassificationPipeline and QuestionAnsweringPipeline
// (slow-tokenizer path: SquadExample, squad_convert_example_to_features, select_starts_ends,
// decode_spans, numpy quirks included), with python3-sentencepiece 0.1.97 for the tokenizer and the
// model logits from `bigbird forward --random-plan hf`, which the forward tests hold to HF
// (scripts/tasks_reference.py). Where an input is long enough for block-sparse attention the tests
// pass --random-plan hf (the commands default to zeros, transformers >= 4.30's eval-mode plan).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "tasks_test_util.h"

using namespace bigbird::test;
using nlohmann::json;

namespace {

std::string tok() { return " --tokenizer " + kTok; }

}  // namespace

// ------------------------------------------------------------------------- fill-mask

TEST(TasksCli, FillMaskMatchesHfPipeline) {
  json got = cli_json("fill-mask --model " + kPre + tok() + " --top-k 3 " + sh("Paris is the [MASK] of France."));
  json want = json::parse(R"([
    {"score": 0.3059706687927246, "token": 256, "token_str": "means", "sequence": "Paris is the means of France."},
    {"score": 0.21378454566001892, "token": 228, "token_str": "Document", "sequence": "Paris is the Document of France."},
    {"score": 0.09833981841802597, "token": 432, "token_str": "Q", "sequence": "Paris is theQ of France."}])");
  expect_same_json(got, want);
  // Default top_k is 5; the demo directory holds the same model with its tokenizer.
  json demo = cli_json("fill-mask --model " + std::string(BIGBIRD_TEST_DATA) + "/../../models/tiny-mlm " +
                       sh("Paris is the [MASK] of France."));
  ASSERT_EQ(demo.size(), 5u);
  expect_same_json(json(demo.begin(), demo.begin() + 3), want);
}

TEST(TasksCli, FillMaskSeveralMasksKeepTheOtherMasks) {
  json got =
      cli_json("fill-mask --model " + kPre + tok() + " --top-k 2 " + sh("The [MASK] license is [MASK] software."));
  ASSERT_TRUE(got.is_array());
  ASSERT_EQ(got.size(), 2u);  // one list per mask
  for (size_t m = 0; m < 2; ++m) {
    ASSERT_EQ(got[m].size(), 2u);
    EXPECT_GE(got[m][0]["score"].get<double>(), got[m][1]["score"].get<double>());
    const std::string seq = got[m][0]["sequence"];
    EXPECT_EQ(seq.rfind("[CLS] ", 0), 0u) << seq;  // several masks: special tokens kept
    EXPECT_NE(seq.find("[MASK]"), std::string::npos) << seq;
  }
  EXPECT_EQ(got[0][0]["sequence"], "[CLS] Theever license is[MASK] software.[SEP]");
}

TEST(TasksCli, TextFromArgumentFileAndStdinAgree) {
  TempDir dir;
  write_file(dir.file("t.txt"), "Hello [MASK] world\n");  // one trailing newline is dropped
  json a = cli_json("fill-mask --model " + kPre + tok() + " " + sh("Hello [MASK] world"));
  json b = cli_json("fill-mask --model " + kPre + tok() + " --file " + dir.file("t.txt"));
  json c = cli_json("fill-mask --model " + kPre + tok() + " < " + dir.file("t.txt"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

// ------------------------------------------------------------------------- classify

TEST(TasksCli, ClassifyMatchesHfPipeline) {
  json got = cli_json("classify --model " + kSeqCls + tok() + " " + sh("What is a license?") + " --text-pair " +
                      sh("A license grants permissions."));
  json want = json::parse(R"([{"label": "LABEL_0", "score": 0.5797037482261658},
    {"label": "LABEL_2", "score": 0.24669337272644043}, {"label": "LABEL_1", "score": 0.1736029088497162}])");
  expect_same_json(got, want);
  json top1 = cli_json("classify --model " + kSeqCls + tok() + " --top-k 1 " + sh("What is a license?") +
                       " --text-pair " + sh("A license grants permissions."));
  expect_same_json(top1, json::array({want[0]}));
}

TEST(TasksCli, ClassifyUsesId2LabelAndHfFunctionRule) {
  TempDir dir;
  write_task_checkpoint(dir.file("multi"), "BigBirdForSequenceClassification",
                        {"negative", "neutral", "positive", "other"});
  write_task_checkpoint(dir.file("single"), "BigBirdForSequenceClassification", {"score"});
  write_task_checkpoint(dir.file("multilabel"), "BigBirdForSequenceClassification", {"a", "b"},
                        "multi_label_classification");
  json m = cli_json("classify --model " + dir.file("multi") + " " + sh("some text"));
  ASSERT_EQ(m.size(), 4u);
  double sum = 0;
  std::set<std::string> labels;
  for (size_t i = 0; i < m.size(); ++i) {
    sum += m[i]["score"].get<double>();
    labels.insert(m[i]["label"].get<std::string>());
    if (i) {
      EXPECT_GE(m[i - 1]["score"].get<double>(), m[i]["score"].get<double>());
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-6);  // softmax
  EXPECT_EQ(labels, (std::set<std::string>{"negative", "neutral", "positive", "other"}));
  // num_labels == 1 and multi_label: sigmoid (scores do not sum to 1).
  json s = cli_json("classify --model " + dir.file("single") + " " + sh("some text"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["label"], "score");
  json ml = cli_json("classify --model " + dir.file("multilabel") + " " + sh("some text"));
  json ml_none =
      cli_json("classify --model " + dir.file("multilabel") + " --function-to-apply none " + sh("some text"));
  ASSERT_EQ(ml.size(), 2u);
  for (const auto& e : ml) {
    double logit = 0;
    for (const auto& n : ml_none)
      if (n["label"] == e["label"]) logit = n["score"];
    EXPECT_NEAR(e["score"].get<double>(), 1.0 / (1.0 + std::exp(-logit)), 1e-6);
  }
}

// ------------------------------------------------------------------------- qa

TEST(TasksCli, QaMatchesHfPipeline) {
  TempDir dir;
  std::string ctx = read_file(data_path("tasks/qa_context.txt"));
  while (!ctx.empty() && ctx.back() == '\n') ctx.pop_back();
  write_file(dir.file("ctx.txt"), ctx);
  // 656 context tokens: two windows of 384 (stride 128), block-sparse attention with HF 4.27's
  // plans (the reference's logits; the default plan is transformers >= 4.30's zeros).
  json a = cli_json("qa --model " + kQa + tok() + " --random-plan hf --top-k 3 --question " +
                    sh("What does the memory grow with?") + " --context " + dir.file("ctx.txt"));
  expect_same_json(a, json::parse(R"([
    {"score": 0.0003053609107155353, "start": 851, "end": 860, "answer": "no answer"},
    {"score": 0.0002623341861180961, "start": 628, "end": 635, "answer": "gathers"},
    {"score": 0.00022819860896561295, "start": 908, "end": 942, "answer": "wins, and its position is reported"}])"));
  // Many short windows.
  json b = cli_json("qa --model " + kQa + tok() +
                    " --random-plan hf --top-k 2 --max-seq-len 192 --doc-stride 64 --max-answer-len 6 --question " +
                    sh("How are questions about a long text answered?") + " --context " + dir.file("ctx.txt"));
  expect_same_json(b, json::parse(R"([
    {"score": 0.0007392633124254644, "start": 946, "end": 956, "answer": "characters"},
    {"score": 0.0006943322368897498, "start": 828, "end": 834, "answer": "slices"}])"));
  // Whitespace runs, tabs, newlines, non-ASCII and <unk> characters; duplicates kept as HF keeps them.
  json in = {{"question", "Who may use it?"},
             {"context", "Anyone\tmay use it,\nfree of   charge.  Ünïcödé 😀 text here "}};
  // (HF's slow-tokenizer path pads every window to max_seq_len 384: block-sparse attention here too.)
  json c = cli_json("qa --model " + kQa + tok() + " --random-plan hf --top-k 4 " + sh(in.dump()));
  expect_same_json(c, json::parse(R"([
    {"score": 0.04316980391740799, "start": 29, "end": 45, "answer": "charge. Ünïcödé"},
    {"score": 0.013378449715673923, "start": 15, "end": 45, "answer": "it, free of charge. Ünïcödé"},
    {"score": 0.012877599336206913, "start": 29, "end": 52, "answer": "charge. Ünïcödé 😀 text"},
    {"score": 0.011527534574270248, "start": 29, "end": 45, "answer": "charge. Ünïcödé"}])"));
  // The JSON input may also come on stdin.
  write_file(dir.file("in.json"), in.dump());
  EXPECT_EQ(cli_json("qa --model " + kQa + tok() + " --random-plan hf --top-k 4 < " + dir.file("in.json")), c);
}

TEST(TasksCli, QaImpossibleAnswerAndDefaults) {
  json in = {{"question", "What is free?"}, {"context", "The software is free to use and to share."}};
  json one = cli_json("qa --model " + kQa + tok() + " " + sh(in.dump()));
  ASSERT_EQ(one.size(), 1u);  // top_k 1
  for (const char* k : {"score", "start", "end", "answer"}) EXPECT_TRUE(one[0].contains(k)) << k;
  json imp = cli_json("qa --model " + kQa + tok() + " --top-k 1000 --handle-impossible-answer " + sh(in.dump()));
  bool has_empty = false;
  for (const auto& a : imp) has_empty |= a["answer"] == "" && a["start"] == 0 && a["end"] == 0;
  EXPECT_TRUE(has_empty) << imp.dump();
}

// ------------------------------------------------------------------------- tag

TEST(TasksCli, TagGroupsTokensIntoEntitiesWithSpans) {
  TempDir dir;
  write_task_checkpoint(dir.file("ner"), "BigBirdForTokenClassification", {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"});
  const std::string text = "My name is Wolfgang and I live in Berlin.";
  const std::u32string chars = U"My name is Wolfgang and I live in Berlin.";
  json none = cli_json("tag --model " + dir.file("ner") + " --aggregation none --ignore-labels '' " + sh(text));
  ASSERT_FALSE(none.empty());
  for (const auto& e : none) {
    for (const char* k : {"entity", "score", "index", "word", "start", "end"}) EXPECT_TRUE(e.contains(k)) << k;
    EXPECT_GE(e["index"].get<int>(), 1);  // [CLS] skipped
  }
  for (const std::string agg : {"simple", "first", "average", "max"}) {
    json g = cli_json("tag --model " + dir.file("ner") + " --aggregation " + agg + " --ignore-labels '' " + sh(text));
    ASSERT_FALSE(g.empty()) << agg;
    int64_t prev_end = 0;
    for (const auto& e : g) {
      const std::string group = e["entity_group"];
      EXPECT_TRUE(group == "O" || group == "PER" || group == "LOC") << group;
      const int64_t s = e["start"], en = e["end"];
      EXPECT_LE(prev_end, s) << agg << " " << g.dump();
      EXPECT_LE(s, en);
      EXPECT_LE(en, static_cast<int64_t>(chars.size()));
      if (s < en) {
        EXPECT_NE(chars[static_cast<size_t>(s)], U' ') << agg;  // spans start on the entity
      }
      if (agg != "simple" && s < en) {  // word aggregation: whole words
        EXPECT_TRUE(s == 0 || chars[static_cast<size_t>(s) - 1] == U' ') << agg << " " << e.dump();
      }
      prev_end = en;
    }
  }
  // The default drops "O".
  for (const auto& e : cli_json("tag --model " + dir.file("ner") + " " + sh(text))) EXPECT_NE(e["entity_group"], "O");
}

// ------------------------------------------------------------------------- embed

TEST(TasksCli, EmbedJsonAndNpy) {
  TempDir dir;
  json mean = cli_json("embed --model " + kPre + tok() + " " + sh("Hello world"));
  json cls = cli_json("embed --model " + kPre + tok() + " --pooling cls " + sh("Hello world"));
  json pooler = cli_json("embed --model " + kPre + tok() + " --pooling pooler " + sh("Hello world"));
  ASSERT_EQ(mean.size(), 64u);
  ASSERT_EQ(cls.size(), 64u);
  ASSERT_EQ(pooler.size(), 64u);
  EXPECT_NE(mean, cls);
  for (const auto& v : pooler) EXPECT_LE(std::fabs(v.get<double>()), 1.0);  // tanh
  write_file(dir.file("in.jsonl"), "{\"text\": \"Hello world\"}\n{\"text\": \"Another, longer input text.\"}\n");
  auto r =
      run_cli("embed --model " + kPre + tok() + " --input " + dir.file("in.jsonl") + " --output " + dir.file("e.npy"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string npy = read_file(dir.file("e.npy"));
  ASSERT_GT(npy.size(), 10u);
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  const size_t hlen = static_cast<unsigned char>(npy[8]) | (static_cast<unsigned char>(npy[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_NE(npy.find("'shape': (2, 64)"), std::string::npos) << npy.substr(0, 10 + hlen);
  ASSERT_EQ(npy.size(), 10 + hlen + 2 * 64 * 4);
  float first[64];
  std::memcpy(first, npy.data() + 10 + hlen, sizeof first);
  for (size_t j = 0; j < 64; ++j) EXPECT_EQ(first[j], mean[j].get<float>()) << j;
}

// ------------------------------------------------------------------------- tokenize

TEST(TasksCli, TokenizeMatchesHfTokenizerFixtures) {
  TempDir dir;
  const json fx = json::parse(read_file(kTok + "/fixtures.json"));
  std::string lines;
  std::vector<json> want;
  for (const auto& s : fx["singles"]) {
    lines += json{{"text", s["text"]}}.dump() + "\n";
    want.push_back({{"input_ids", s["call_default"]["input_ids"]},
                    {"token_type_ids", s["call_all_outputs"]["token_type_ids"]},
                    {"attention_mask", s["call_default"]["attention_mask"]},
                    {"tokens", s["convert_ids_to_tokens"]}});
  }
  for (const auto& p : fx["pairs"]) {
    lines += json{{"text", p["text"]}, {"text_pair", p["text_pair"]}}.dump() + "\n";
    want.push_back({{"input_ids", p["call_default"]["input_ids"]},
                    {"token_type_ids", p["call_all_outputs"]["token_type_ids"]},
                    {"attention_mask", p["call_default"]["attention_mask"]},
                    {"tokens", p["convert_ids_to_tokens"]}});
  }
  write_file(dir.file("in.jsonl"), lines);
  // --model is a directory with only the tokenizer files.
  auto r =
      run_cli("tokenize --model " + kTok + " --input " + dir.file("in.jsonl") + " --output " + dir.file("out.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto got = read_jsonl(dir.file("out.jsonl"));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    for (const char* k : {"input_ids", "token_type_ids", "attention_mask", "tokens"})
      EXPECT_EQ(got[i][k], want[i][k]) << i << " " << k;
    ASSERT_EQ(got[i]["offsets"].size(), want[i]["input_ids"].size()) << i;
  }
  // Offsets: "▁w" covers " w"; added tokens get [0, 0].
  json hw = cli_json("tokenize --model " + kTok + " " + sh("Hello world"));
  EXPECT_EQ(hw["offsets"][0], json::array({0, 0}));
  EXPECT_EQ(hw["tokens"][7], "▁w");
  EXPECT_EQ(hw["offsets"][7], json::array({5, 7}));
  // --max-length truncates like HF (longest_first).
  json t = cli_json("tokenize --model " + kTok + " --max-length 16 " + sh("What is a license?") + " --text-pair " +
                    sh("A license grants permissions to use software."));
  EXPECT_EQ(t["input_ids"], fx["pairs"][0]["truncation_max16"]["longest_first"]["input_ids"]);
}

// ------------------------------------------------------------------------- batch mode

TEST(TasksCli, BatchModeAnswersEveryLineInOrderLikeSingleMode) {
  TempDir dir;
  struct Case {
    std::string cmd;
    std::vector<json> records;
  };
  const json qa1 = {{"question", "What is free?"}, {"context", "The software is free to use and to share."}};
  const json qa2 = {{"question", "Who wrote it?"}, {"context", "It was written by many people over many years."}};
  std::vector<Case> cases = {
      {"fill-mask --model " + kPre + tok(),
       {{{"text", "Paris is the [MASK] of France."}}, {{"text", "A [MASK] b [MASK]"}}, {{"text", "[MASK]"}}}},
      {"classify --model " + kSeqCls + tok(),
       {{{"text", "short"}},
        {{"text", "a much longer text than the first one, with more words"}},
        {{"text", "a pair"}, {"text_pair", "of texts"}},
        {{"text", "short"}}}},
      {"qa --model " + kQa + tok(), {qa1, qa2}},
      {"embed --model " + kPre + tok(), {{{"text", "one"}}, {{"text", "two words"}}}},
      {"tokenize --model " + kTok, {{{"text", "one"}}, {{"text", "a"}, {"text_pair", "b"}}}},
  };
  for (const Case& c : cases) {
    std::string lines;
    for (const json& r : c.records) lines += r.dump() + "\n\n";  // blank lines are ignored
    write_file(dir.file("in.jsonl"), lines);
    auto r = run_cli(c.cmd + " --batch-size 3 --input " + dir.file("in.jsonl") + " --output " + dir.file("out.jsonl"));
    ASSERT_EQ(r.status, 0) << c.cmd << "\n" << r.output;
    const auto got = read_jsonl(dir.file("out.jsonl"));
    ASSERT_EQ(got.size(), c.records.size()) << c.cmd;
    for (size_t i = 0; i < got.size(); ++i) {
      const json& rec = c.records[i];
      std::string single;
      if (rec.contains("question")) single = sh(rec.dump());
      else single = sh(rec["text"]) + (rec.contains("text_pair") ? " --text-pair " + sh(rec["text_pair"]) : "");
      EXPECT_EQ(got[i], cli_json(c.cmd + " " + single)) << c.cmd << " line " << i;
    }
  }
}

TEST(TasksCli, ThousandMixedLengthInputsMatchOneByOne) {
  TempDir dir;
  // Lengths from 3 to ~330 tokens (full attention and block-sparse), some pairs.
  const std::string words =
      "the licenses for most software and other practical works are designed to take away your freedom to share "
      "and change the works by contrast our general public license is intended to guarantee your freedom";
  std::vector<std::string> w;
  for (size_t b = 0, e; b < words.size(); b = e + 1) {
    e = words.find(' ', b);
    if (e == std::string::npos) e = words.size();
    w.push_back(words.substr(b, e - b));
  }
  std::mt19937 rng(5);
  std::string lines;
  std::vector<json> records;
  for (int i = 0; i < 1000; ++i) {
    const int n = i % 50 == 0 ? 40 + static_cast<int>(rng() % 30) : 1 + static_cast<int>(rng() % 12);
    std::string t;
    for (int k = 0; k < n; ++k) t += (k ? " " : "") + w[rng() % w.size()];
    json rec = {{"text", t}};
    if (i % 9 == 0) rec["text_pair"] = w[rng() % w.size()] + " " + w[rng() % w.size()];
    records.push_back(rec);
    lines += rec.dump() + "\n";
  }
  write_file(dir.file("in.jsonl"), lines);
  const std::string base = "classify --model " + kSeqCls + tok() + " --input " + dir.file("in.jsonl");
  auto batched = run_cli(base + " --batch-size 32 --output " + dir.file("batched.jsonl"));
  ASSERT_EQ(batched.status, 0) << batched.output;
  auto serial = run_cli(base + " --batch-size 1 --threads 1 --output " + dir.file("serial.jsonl"));
  ASSERT_EQ(serial.status, 0) << serial.output;
  const std::string b = read_file(dir.file("batched.jsonl"));
  EXPECT_EQ(b, read_file(dir.file("serial.jsonl")));  // bit-identical, in input order
  const auto got = read_jsonl(dir.file("batched.jsonl"));
  ASSERT_EQ(got.size(), 1000u);
  // A sample as separate single-input runs (all threads).
  for (int i : {0, 1, 50, 99, 450, 999}) {
    const json& rec = records[static_cast<size_t>(i)];
    std::string args = "classify --model " + kSeqCls + tok() + " " + sh(rec["text"]);
    if (rec.contains("text_pair")) args += " --text-pair " + sh(rec["text_pair"]);
    EXPECT_EQ(got[static_cast<size_t>(i)], cli_json(args)) << i;
  }
}

// ------------------------------------------------------------------------- errors

namespace {
// One line "error: ..." containing `needle`, a non-zero exit status, and no output file.
void expect_error(const std::string& args, const std::string& needle, const TempDir& dir) {
  const std::string out = dir.file("answers.jsonl");
  std::filesystem::remove(out);
  auto r = run_cli(args + " --output " + out);
  EXPECT_NE(r.status, 0) << args;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << args << "\n" << r.output;
  EXPECT_FALSE(std::filesystem::exists(out)) << args;
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}
}  // namespace

TEST(TasksCli, ModelAndTokenizerErrors) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("no_weights"));
  std::filesystem::copy_file(kSeqCls + "/config.json", dir.file("no_weights/config.json"));
  write_file(dir.file("bad_weights.safetensors"), "not a safetensors file");
  std::filesystem::create_directories(dir.file("bad_weights"));
  std::filesystem::copy_file(kSeqCls + "/config.json", dir.file("bad_weights/config.json"));
  std::filesystem::copy_file(dir.file("bad_weights.safetensors"), dir.file("bad_weights/model.safetensors"));
  // A tokenizer with another vocabulary (800 pieces) and one of another family (Pegasus).
  std::filesystem::create_directories(dir.file("tok800"));
  std::filesystem::copy_file(data_path("tokenizer/spm.model"), dir.file("tok800/spiece.model"));
  std::filesystem::copy_file(kTok + "/tokenizer_config.json", dir.file("tok800/tokenizer_config.json"));

  const std::string text = " " + sh("some text");
  expect_error("classify --model " + dir.file("missing") + tok() + text, "does not exist", dir);
  expect_error("classify --model " + dir.file("no_weights") + tok() + text, "no model.safetensors", dir);
  expect_error("classify --model " + dir.file("bad_weights") + tok() + text, "model.safetensors", dir);
  expect_error("classify --model " + kSeqCls + text, "spiece.model is missing", dir);
  expect_error("classify --model " + kSeqCls + " --tokenizer " + dir.file("tok800") + text, "does not match the model",
               dir);
  expect_error("classify --model " + kSeqCls + " --tokenizer " + data_path("tokenizer-hf/pegasus") + text,
               "does not match the model", dir);
  expect_error("tokenize --model " + dir.file("missing") + text, "does not exist", dir);
}

TEST(TasksCli, TaskWithoutHeadIsRefused) {
  TempDir dir;
  expect_error("classify --model " + kPre + tok() + " " + sh("x"), "no sequence-classification head", dir);
  expect_error("qa --model " + kSeqCls + tok() + " " + sh(R"({"question": "a", "context": "b"})"),
               "no question-answering head", dir);
  expect_error("tag --model " + kPre + tok() + " " + sh("x"), "no token-classification head", dir);
  expect_error("fill-mask --model " + kSeqCls + tok() + " " + sh("[MASK]"), "no masked-LM head", dir);
  expect_error("embed --model " + kQa + tok() + " --pooling pooler " + sh("x"), "no pooler", dir);
}

TEST(TasksCli, BadInputsAreClearErrors) {
  TempDir dir;
  write_file(dir.file("bad_utf8.txt"), "caf\xC3 [MASK]");
  write_file(dir.file("empty.txt"), "");
  std::string long_text;
  for (int i = 0; i < 1100; ++i) long_text += "word ";
  long_text += "[MASK]";
  write_file(dir.file("long.txt"), long_text);
  const std::string fm = "fill-mask --model " + kPre + tok();
  expect_error(fm + " --file " + dir.file("bad_utf8.txt"), "not valid UTF-8", dir);
  expect_error(fm + " " + sh("caf\xC3 [MASK]"), "not valid UTF-8", dir);
  expect_error(fm + " --file " + dir.file("empty.txt"), "empty input", dir);
  expect_error(fm + " ''", "empty input", dir);
  expect_error(fm + " < " + dir.file("empty.txt"), "empty input", dir);
  expect_error(fm + " " + sh("no mask here"), "no mask token", dir);
  expect_error(fm + " --file " + dir.file("long.txt") + " ", "does not split inputs into windows", dir);
  expect_error("classify --model " + kSeqCls + tok() + " --file " + dir.file("long.txt"), "at most 1024", dir);
  expect_error("fill-mask --model " + kPre + tok() + " --file " + dir.file("missing.txt"), "cannot read", dir);
  expect_error("qa --model " + kQa + tok() + " " + sh(R"({"question": "", "context": "b"})"), "the question is empty",
               dir);
  expect_error("qa --model " + kQa + tok() + " " + sh(R"({"question": "q"})"), "missing \"context\"", dir);
  expect_error("qa --model " + kQa + tok() + " --doc-stride 500 " + sh(R"({"question": "q", "context": "c"})"),
               "larger than --max-seq-len", dir);
  expect_error("fill-mask --model " + kPre + tok() + " --input " + dir.file("empty.txt"), "no input records", dir);
}

TEST(TasksCli, MalformedJsonlLineReportsItsNumberOrIsSkipped) {
  TempDir dir;
  write_file(
      dir.file("in.jsonl"),
      "{\"text\": \"good one\"}\n{\"text\": \"second\"}\n{\"text\": broken\n{\"txt\": \"x\"}\n{\"text\": \"caf\xC3\"}\n"
      "{\"text\": \"last\"}\n");
  const std::string base = "classify --model " + kSeqCls + tok() + " --input " + dir.file("in.jsonl");
  expect_error(base, "in.jsonl:3: not valid JSON", dir);
  auto r = run_cli(base + " --skip-bad-lines --output " + dir.file("out.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: " + dir.file("in.jsonl") + ":4: missing \"text\""), std::string::npos) << r.output;
  const auto got = read_jsonl(dir.file("out.jsonl"));
  ASSERT_EQ(got.size(), 6u);  // aligned with the input lines
  EXPECT_TRUE(got[0].is_array());
  EXPECT_TRUE(got[1].is_array());
  EXPECT_NE(got[2]["error"].get<std::string>().find(":3: not valid JSON"), std::string::npos);
  EXPECT_NE(got[3]["error"].get<std::string>().find(":4: missing \"text\""), std::string::npos);
  EXPECT_NE(got[4]["error"].get<std::string>().find(":5: not valid UTF-8"), std::string::npos);
  EXPECT_EQ(got[5], cli_json("classify --model " + kSeqCls + tok() + " last"));
}

TEST(TasksCli, ReadmeExamplesRunOnTheShippedModels) {
  const std::string models = std::string(BIGBIRD_TEST_DATA) + "/../../models";
  json tags = cli_json("tag --model " + models + "/tiny-tagger --aggregation first " +
                       sh("My name is Wolfgang and I live in Berlin."));
  ASSERT_TRUE(tags.is_array());
  ASSERT_FALSE(tags.empty());
  EXPECT_EQ(tags[0]["word"], "My name is");
  EXPECT_EQ(cli_json("embed --model " + models + "/tiny-mlm --pooling cls " + sh("Hello world")).size(), 64u);
  EXPECT_EQ(cli_json("tokenize --model " + models + "/tiny-mlm " + sh("Hello world"))["input_ids"],
            json::parse("[65,101,453,104,110,110,109,200,142,110,115,66]"));
}

// Issue 11, item 9: the shipped tiny-tagger claimed model_max_length 1024 with 512 positions, so
// a long text was an error instead of being truncated as HF's pipeline does. The shipped
// tokenizer says 512 now, and a tokenizer that claims more than the model's positions is held to
// them when the model loads.
TEST(TasksCli, TagTruncatesLongTextToTheModelsPositions) {
  const std::string models = std::string(BIGBIRD_TEST_DATA) + "/../../models";
  const json cfg = json::parse(read_file(models + "/tiny-tagger/tokenizer_config.json"));
  const json model = json::parse(read_file(models + "/tiny-tagger/config.json"));
  EXPECT_LE(cfg["model_max_length"].get<int64_t>(), model["max_position_embeddings"].get<int64_t>());
  TempDir dir;
  std::string text;
  for (int i = 0; i < 600; ++i) text += "hello world ";
  write_file(dir.file("long.txt"), text);
  auto r = run_cli("tag --model " + models + "/tiny-tagger --file " + dir.file("long.txt"));
  EXPECT_EQ(r.status, 0) << r.output.substr(0, 500);
  std::filesystem::copy(models + "/tiny-tagger", dir.file("claims1024"));
  json claims = cfg;
  claims["model_max_length"] = 1024;
  write_file(dir.file("claims1024/tokenizer_config.json"), claims.dump());
  auto c = run_cli("tag --model " + dir.file("claims1024") + " --file " + dir.file("long.txt"));
  EXPECT_EQ(c.status, 0) << c.output.substr(0, 500);
  EXPECT_EQ(json::parse(c.output), json::parse(r.output));
}
