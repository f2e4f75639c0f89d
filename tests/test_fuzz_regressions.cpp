// Inputs the fuzz targets of fuzz/ found (make fuzz): each one failed before its fix. Every case
// writes the smallest input that shows the fault, not libFuzzer's raw artifact.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/pegasus_config.h"
#include "sparse/plan_io.h"
#include "tasks/jsonl.h"
#include "text/tokenizer.h"
#include "test_util.h"

using namespace bigbird;
using namespace bigbird::test;

namespace {

// A safetensors file of one header and no data (every tensor in it has zero elements).
void write_header_only(const std::string& path, const std::string& header) {
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i) & 0xff));
  f << header;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

// fuzz_plan_io: a plan dimension larger than an int was cast to int, so a zero-element
// rand_attn tensor of shape [4294967297, 0, 1] came back as a [1, 0, 1] plan (and validated as
// one). The reader must refuse a dimension it cannot hold.
TEST(FuzzRegressions, PlanDimensionLargerThanAnIntIsRefused) {
  TempDir dir;
  const std::string path = dir.file("plans.safetensors");
  write_header_only(path, R"({"rand_attn.layer0":{"dtype":"I64","shape":[4294967297,0,1],"data_offsets":[0,0]}})");
  const SafeTensors st = SafeTensors::open(path);
  try {
    plans_from_safetensors(st);
    FAIL() << "a [4294967297, 0, 1] plan was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rand_attn.layer0"), std::string::npos) << e.what();
  }
  // blocks - 2 = 2147483646 rows: blocks itself would not fit an int either.
  write_header_only(path, R"({"rand_attn.layer0":{"dtype":"I64","shape":[0,2147483646,1],"data_offsets":[0,0]}})");
  EXPECT_THROW(plans_from_safetensors(SafeTensors::open(path)), Error);
  // The largest shape that fits is still read.
  write_header_only(path, R"({"rand_attn.layer0":{"dtype":"I64","shape":[0,2147483645,1],"data_offsets":[0,0]}})");
  EXPECT_EQ(plans_from_safetensors(SafeTensors::open(path)).at(0).rows, 2147483645);
}

// fuzz_pegasus_config: num_random_blocks and block_size were not checked against overflow, so
// (5 + 2 * num_random_blocks) * block_size (HF's fall-back length, computed for every input)
// overflowed an int64 (undefined behaviour). BigBird's config.json was already checked.
TEST(FuzzRegressions, PegasusFallbackLengthOverflowIsRefused) {
  TempDir dir;
  for (const std::string& sizes : {std::string(R"("num_random_blocks": 4611686018427387904, "block_size": 1)"),
                                   std::string(R"("num_random_blocks": 3, "block_size": 922337203685477581)")}) {
    write_text(dir.file("config.json"), "{" + sizes + "}");
    try {
      load_pegasus_config(dir.path.string());
      FAIL() << "accepted " << sizes;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("num_random_blocks"), std::string::npos) << e.what();
    }
  }
  write_text(dir.file("config.json"), R"({"num_random_blocks": 3, "block_size": 64})");
  EXPECT_EQ(load_pegasus_config(dir.path.string()).max_tokens_for_full_fallback(), 704);
}

// fuzz_jsonl: with --skip-bad-lines, the {"error": ...} line of a bad record is JSON made from
// the error message, and nlohmann's parse error quotes the bytes read last, which can end inside
// a UTF-8 sequence ({"text"▁}: the lexer stops after the first byte of "▁"). dump() threw
// json::type_error (316) through the batch: an abort instead of an error line.
TEST(FuzzRegressions, SkippedLineErrorQuotingPartOfAUtf8SequenceIsWritten) {
  std::string message;
  try {
    tasks::parse_record("{\"text\"\xe2\x96\x81}", tasks::InputKind::Text);
  } catch (const tasks::InputError& e) {
    message = std::string("input:1: ") + e.what();
  }
  ASSERT_FALSE(message.empty());
  std::ostringstream out;
  tasks::JsonLinesWriter writer(out);
  ASSERT_NO_THROW(writer.write_error(message));
  const nlohmann::json line = nlohmann::json::parse(out.str());
  ASSERT_TRUE(line.contains("error") && line["error"].is_string());
  EXPECT_NE(line["error"].get<std::string>().find("not valid JSON"), std::string::npos) << out.str();
}

// fuzz_tokenizer_json (a seed: a byte-fallback tokenizer whose vocabulary skips an id): a
// tokenizer.json vocabulary need not be dense, and vocab_size() counted its entries (HF's
// len(tokenizer)), so the tokenizer produced ids >= vocab_size(), the bound every caller checks
// ids against (the model's embedding rows). vocab_size() is now at least one past every id.
TEST(FuzzRegressions, TokenizerJsonSparseVocabularyBoundsItsIds) {
  TempDir dir;
  write_text(dir.file("tokenizer.json"), R"({"version": "1.0", "added_tokens": [{"id": 9, "content": "[X]",
      "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
      "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 5}, "merges": []}})");
  const auto tok = Tokenizer::load(dir.path.string());
  EncodeOptions o;
  const Encoding e = tok->encode("ab[X]", o);
  ASSERT_EQ(e.input_ids, (std::vector<int64_t>{0, 5, 9}));
  for (int64_t id : e.input_ids) EXPECT_LT(id, tok->vocab_size());
  EXPECT_EQ(tok->vocab_size(), 10);
}

// fuzz_tokenizer_json (the 1M-run campaign): a WordPiece vocabulary id written as 1.3e34 was
// converted to int64 by nlohmann's get<int64_t>(), undefined behaviour (UBSan: "outside the range
// of representable values"). Every id, size and type_id of tokenizer.json must now be a JSON
// integer that fits int64, else an error naming the file and the field.
TEST(FuzzRegressions, TokenizerJsonNonIntegerIdsAreRefused) {
  const std::string head = R"({"version": "1.0", "added_tokens": [], "normalizer": null,
      "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null, "model": )";
  const std::vector<std::string> models = {
      R"({"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1.3e34}})",
      R"({"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1.5}})",
      R"({"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 18446744073709551615}})",
      R"({"type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": 1e30, "vocab": {"[UNK]": 0}})",
      R"({"type": "BPE", "vocab": {"a": 0, "b": -2e40}, "merges": []})",
  };
  for (const std::string& m : models) {
    TempDir dir;
    write_text(dir.file("tokenizer.json"), head + m + "}");
    try {
      Tokenizer::load(dir.path.string());
      ADD_FAILURE() << "accepted: " << m;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    }
  }
  // An integer id still loads.
  TempDir dir;
  write_text(dir.file("tokenizer.json"),
             head + R"({"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}})" + "}");
  EXPECT_EQ(Tokenizer::load(dir.path.string())->encode("a", EncodeOptions{}).input_ids, (std::vector<int64_t>{1}));
}

// fuzz_tokenizer_files (the 1M-run campaign): "lstrip": "yes" in an AddedToken of
// special_tokens_map.json threw nlohmann's type_error out of Tokenizer::load (an abort in the
// target; an uncaught exception where a bigbird::Error was due). The same held for a
// non-string "model_type" in config.json, and a non-integer Pegasus "offset" (1e30: undefined
// behaviour). Each is now a bigbird::Error naming the file.
TEST(FuzzRegressions, TokenizerFilesWrongTypesAreErrors) {
  const std::string src = data_path("tokenizer-hf/bigbird");
  struct Case {
    std::string file, json, message;
  };
  const std::vector<Case> cases = {
      {"special_tokens_map.json", R"({"mask_token": {"content": "[MASK]", "lstrip": "yes"}})", "\"lstrip\" must be true or false"},
      {"special_tokens_map.json", R"({"cls_token": {"content": "[CLS]", "rstrip": 1}})", "\"rstrip\" must be true or false"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    for (const auto& e : std::filesystem::directory_iterator(src))
      std::filesystem::copy_file(e.path(), dir.path / e.path().filename());
    write_text(dir.file(c.file), c.json);
    try {
      Tokenizer::load(dir.path.string());
      ADD_FAILURE() << "accepted " << c.json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.file), std::string::npos) << e.what();
    }
  }
  // A Pegasus tokenizer whose offset is not an integer; a config.json whose model_type is not a string.
  {
    TempDir dir;
    for (const auto& e : std::filesystem::directory_iterator(data_path("tokenizer-hf/pegasus")))
      std::filesystem::copy_file(e.path(), dir.path / e.path().filename());
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir.file("tokenizer_config.json")));
    cfg["offset"] = 1e30;
    write_text(dir.file("tokenizer_config.json"), cfg.dump());
    EXPECT_THROW(Tokenizer::load(dir.path.string()), Error);
    // fuzz_tokenizer_files, later in the campaign: offset 8206 made 8,204 added tokens that every
    // text is split on (25 s for one input); offsets above 1024 are refused.
    cfg["offset"] = 8206;
    write_text(dir.file("tokenizer_config.json"), cfg.dump());
    EXPECT_THROW(Tokenizer::load(dir.path.string()), Error);
  }
  {
    TempDir dir;
    std::filesystem::copy_file(src + "/spiece.model", dir.path / "spiece.model");
    write_text(dir.file("config.json"), R"({"model_type": 5})");
    try {
      Tokenizer::load(dir.path.string());
      ADD_FAILURE() << "accepted a numeric model_type";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot tell the tokenizer class"), std::string::npos) << e.what();
    }
  }
}
