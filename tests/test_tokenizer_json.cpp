// HF tokenizer.json tokenizers (src/text/hf_tokenizer_json.cpp) against HF's Rust `tokenizers`
// library: tests/data/tokenizer_json/ holds small tokenizer.json files of each component type and
// cases.json what tokenizers 0.23.2 (npm binding) returned for them, made by
// scripts/make_tokenizer_json_cases.mjs. Ids, tokens, offsets, type ids, special-tokens masks and
// decodes are compared exactly (they are integers and strings: no tolerance).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tasks_test_util.h"
#include "text/tokenizer.h"

namespace {

using bigbird::EncodeOptions;
using bigbird::Tokenizer;
using nlohmann::json;
using namespace bigbird::test;

const std::string kDir = data_path("tokenizer_json");

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bigbird::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerJson, EveryCaseMatchesTheRustLibrary) {
  const json all = json::parse(read_file(kDir + "/cases.json"));
  ASSERT_GE(all.size(), 24u);
  size_t n = 0;
  for (const auto& [name, cases] : all.items()) {
    const auto tok = Tokenizer::load(kDir + "/" + name);
    for (const auto& c : cases) {
      const std::string text = c.at("text");
      const std::string where = name + " " + c.dump().substr(0, 160);
      EncodeOptions o;
      o.add_special_tokens = c.value("add_special_tokens", true);
      if (c.contains("max_length")) o.max_length = c["max_length"];
      if (c.contains("truncation")) o.truncation = bigbird::parse_truncation(c["truncation"].get<std::string>());
      std::optional<std::string> pair;
      if (c.contains("pair")) pair = c["pair"].get<std::string>();
      const auto e = tok->encode(text, pair ? std::optional<std::string_view>(*pair) : std::nullopt, o);
      EXPECT_EQ(json(e.input_ids), c["input_ids"]) << where;
      EXPECT_EQ(json(e.tokens), c["tokens"]) << where;
      std::vector<std::vector<int64_t>> offsets;
      for (const auto& [b, en] : e.offsets) offsets.push_back({b, en});
      EXPECT_EQ(json(offsets), c["offsets"]) << where;
      EXPECT_EQ(json(e.token_type_ids), c["token_type_ids"]) << where;
      EXPECT_EQ(json(e.special_tokens_mask), c["special_tokens_mask"]) << where;
      EXPECT_EQ(e.attention_mask, std::vector<int64_t>(e.size(), 1)) << where;
      // The Rust decode; Python's clean-up of tokenization spaces comes on top (tested below).
      EXPECT_EQ(tok->decode(e.input_ids, false, false), c["decode"].get<std::string>()) << where;
      EXPECT_EQ(tok->decode(e.input_ids, true, false), c["decode_skip"].get<std::string>()) << where;
      ++n;
    }
  }
  EXPECT_GE(n, 100u);
}

TEST(TokenizerJson, SpecialTokensVocabularyAndTemplate) {
  const auto gena = Tokenizer::load(kDir + "/gena");
  EXPECT_EQ(gena->class_name(), "PreTrainedTokenizerFast");
  EXPECT_EQ(gena->cls_id(), 2);
  EXPECT_EQ(gena->sep_id(), 3);
  EXPECT_EQ(gena->pad_id(), 0);
  EXPECT_EQ(gena->mask_id(), 4);
  EXPECT_EQ(gena->unk_id(), 1);
  EXPECT_EQ(gena->bos_id(), -1);
  EXPECT_EQ(gena->model_max_length(), 512);
  EXPECT_EQ(gena->num_special_tokens_to_add(false), 2);
  EXPECT_EQ(gena->num_special_tokens_to_add(true), 3);
  EXPECT_EQ(gena->token_to_id("ACGT"), gena->encode("ACGT").input_ids[1]);
  EXPECT_EQ(gena->token_to_id("no such token"), gena->unk_id());
  EXPECT_EQ(gena->id_to_token(4), "[MASK]");
  EXPECT_THROW(gena->id_to_token(gena->vocab_size()), bigbird::Error);
  EXPECT_THROW(gena->sentencepiece(), bigbird::Error);
  // tokenize(): the model's pieces, no special tokens added.
  EXPECT_EQ(gena->tokenize("ACGTNNNNNNNNNNNNGG"), (std::vector<std::string>{"ACGT", "-", "GG"}));

  const auto roberta = Tokenizer::load(kDir + "/roberta");
  EXPECT_EQ(roberta->class_name(), "RobertaTokenizerFast");
  EXPECT_EQ(roberta->num_special_tokens_to_add(true), 4);  // <s> A </s></s> B </s>
  const auto unigram = Tokenizer::load(kDir + "/unigram");
  EXPECT_EQ(unigram->num_special_tokens_to_add(false), 1);
  EXPECT_EQ(unigram->cls_id(), -1);
}

TEST(TokenizerJson, PaddingBatchesAndPythonCleanUp) {
  const auto bert = Tokenizer::load(kDir + "/bert");
  EncodeOptions o;
  o.padding = bigbird::Padding::Longest;
  const auto rows = bert->encode_batch({"the capital", "paris"}, o);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].size(), rows[0].size());
  EXPECT_EQ(rows[1].input_ids.back(), bert->pad_id());
  EXPECT_EQ(rows[1].attention_mask.back(), 0);
  // Python's decode applies clean_up_tokenization on top of the Rust decode ("paris ' s" -> "paris's").
  const auto ids = bert->encode("Paris's capital.").input_ids;
  EXPECT_EQ(bert->decode(ids, true, false), "paris ' s capital.");
  EXPECT_EQ(bert->decode(ids, true, true), "paris's capital.");
}

TEST(TokenizerJson, LongDnaIsFastAndOffsetsCoverTheText) {
  // 100 kbp in one pre-token: the BPE merge loop is O(n log n) (a quadratic one would take minutes).
  std::string dna;
  const char* unit = "ACGTACGTGGCCTTAAACGTAAAACC";
  while (dna.size() < 100000) dna += unit;
  const auto gena = Tokenizer::load(kDir + "/gena");
  const auto e = gena->encode(dna);
  ASSERT_GT(e.size(), 2u);
  int64_t covered = 0;
  for (size_t i = 1; i + 1 < e.size(); ++i) {
    EXPECT_EQ(e.offsets[i].first, covered);
    covered = e.offsets[i].second;
  }
  EXPECT_EQ(covered, static_cast<int64_t>(dna.size()));
}

// A tokenizer.json with one component replaced by `value` at `key` (JSON pointer).
std::string with(const std::string& pointer, const json& value, TempDir& dir) {
  json j = json::parse(read_file(kDir + "/gena/tokenizer.json"));
  if (value.is_null()) j.erase(pointer.substr(1));
  else j[json::json_pointer(pointer)] = value;
  write_file(dir.file("tokenizer.json"), j.dump());
  return dir.path.string();
}

TEST(TokenizerJson, UnsupportedComponentsAreNamed) {
  struct Case {
    std::string pointer;
    json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"/pre_tokenizer",
       {{"type", "Digits"}, {"individual_digits", true}},
       "tokenizer.json: pre_tokenizer type \"Digits\" is not supported"},
      {"/normalizer", {{"type", "NMT"}}, "tokenizer.json: normalizer type \"NMT\" is not supported"},
      {"/normalizer",
       {{"type", "Sequence"}, {"normalizers", {{{"type", "Precompiled"}}}}},
       "normalizer type \"Precompiled\" is not supported"},
      {"/model/type", "WordLevel", "tokenizer.json: model type \"WordLevel\" is not supported"},
      {"/post_processor", {{"type", "Custom"}}, "post_processor type \"Custom\" is not supported"},
      {"/decoder", {{"type", "CTC"}}, "tokenizer.json: decoder type \"CTC\" is not supported"},
      {"/pre_tokenizer/behavior", "Splitted", "Split behavior \"Splitted\" is not supported"},
      {"/normalizer/normalizers/1/pattern", {{"Regex", "(N{10,}"}}, "invalid regex '(N{10,}'"},
      {"/model/merges", {"A Q"}, "BPE merge 'A Q' uses a token missing from the vocab"},
      {"/model/dropout", 0.1, "BPE dropout is not supported"},
      {"/model", nullptr, "no \"model\""},
      {"/pre_tokenizer", {{"kind", "Split"}}, "pre_tokenizer has no \"type\""},
      {"/model/vocab", "ACGT", "tokenizer.json: unexpected content"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const std::string d = with(c.pointer, c.value, dir);
    const std::string msg = error_of([&] { Tokenizer::load(d); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.pointer << ": " << msg;
    EXPECT_NE(msg.find(dir.file("tokenizer.json")), std::string::npos) << msg;
  }
  TempDir dir;
  write_file(dir.file("tokenizer.json"), "{\"model\": ");
  EXPECT_NE(error_of([&] { Tokenizer::load(dir.path.string()); }).find("cannot parse"), std::string::npos);
  write_file(dir.file("tokenizer.json"), "[1, 2]");
  EXPECT_NE(error_of([&] { Tokenizer::load(dir.path.string()); }).find("is not a JSON object"), std::string::npos);
}

TEST(TokenizerJson, BadInputAndImpossibleTruncationThrow) {
  const auto gena = Tokenizer::load(kDir + "/gena");
  EXPECT_NE(error_of([&] { gena->encode("AC\xff"); }).find("not valid UTF-8"), std::string::npos);
  EncodeOptions o;
  o.max_length = 4;
  o.truncation = bigbird::Truncation::OnlySecond;
  EXPECT_NE(error_of([&] { gena->encode("ACGTACGTGGCC", o); }).find("only_second needs"), std::string::npos);
  o.truncation = bigbird::Truncation::OnlyFirst;
  EXPECT_NE(error_of([&] { gena->encode("GG", std::string_view("ACGTACGTGGCCTTAA"), o); }).find("first sequence has"),
            std::string::npos);
  EXPECT_THROW(gena->decode({gena->vocab_size() + 5}), bigbird::Error);
}

TEST(TokenizerJson, CliTokenizeUsesTokenizerJson) {
  const json out =
      cli_json("tokenize --model " + kDir + "/gena " + sh("ACGTNNNNNNNNNNNNNNGGCC") + " --text-pair " + sh("GGCCTT"));
  EXPECT_EQ(out["tokens"], json({"[CLS]", "ACGT", "-", "GGCC", "[SEP]", "GGCC", "TT", "[SEP]"}));
  EXPECT_EQ(out["offsets"][2], json({17, 18}));
  EXPECT_EQ(out["token_type_ids"], json({0, 0, 0, 0, 0, 1, 1, 1}));
  // An unsupported component: one error line, exit status 1.
  TempDir dir;
  with("/pre_tokenizer", {{"type", "Digits"}}, dir);
  const auto r = run_cli("tokenize --model " + dir.path.string() + " ACGT");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + dir.file("tokenizer.json") + ": pre_tokenizer type \"Digits\" is not supported"),
            std::string::npos)
      << r.output;
}

}  // namespace

namespace {

// `train --config --tokenizer DIR` with a tokenizer.json directory: a small DNA BigBird from
// scratch, whose output directory then answers fill-mask through the same tokenizer.
TEST(TokenizerJson, CliTrainFromScratchWithTokenizerJson) {
  TempDir dir;
  json cfg = json::parse(read_file(data_path("../../models/tiny-mlm/config.json")));
  const auto gena = Tokenizer::load(kDir + "/gena");
  cfg["vocab_size"] = gena->vocab_size();
  cfg["pad_token_id"] = gena->pad_id();
  cfg["sep_token_id"] = gena->sep_id();
  cfg["bos_token_id"] = gena->cls_id();
  cfg["eos_token_id"] = gena->sep_id();
  write_file(dir.file("config.json"), cfg.dump());
  std::string corpus;
  const char* units[] = {"ACGTACGT", "GGCC", "TTAA", "AAAACC", "ACGT", "NNNNNNNNNNNN", "GGCCTTAA"};
  for (int line = 0; line < 40; ++line) {
    for (int k = 0; k < 12; ++k) corpus += units[(line * 5 + k * 3) % 7];
    corpus += "\n";
  }
  write_file(dir.file("dna.txt"), corpus);
  const auto r = run_cli("train --task mlm --config " + dir.file("config.json") + " --tokenizer " + kDir +
                         "/gena --train-file " + dir.file("dna.txt") +
                         " --max-seq-length 32 --max-steps 2 --output-dir " + dir.file("o") + " --no-progress");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("o/tokenizer.json")));
  const auto f = run_cli("fill-mask --model " + dir.file("o") + " --top-k 1 ACGT[MASK]GGCC");
  EXPECT_EQ(f.status, 0) << f.output;
  EXPECT_NE(f.output.find("\"sequence\""), std::string::npos) << f.output;
}

}  // namespace
