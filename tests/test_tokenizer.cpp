// Tokenizers against what HF transformers 4.27.1 (slow BigBirdTokenizer / PegasusTokenizer) and
// SentencePiece 0.1.97 returned: tests/data/tokenizer/samples.json (raw SentencePiece) and
// tests/data/tokenizer-hf/{bigbird,pegasus}/fixtures.json (every record, every field).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace {

namespace fs = std::filesystem;
using bigbird::EncodeOptions;
using bigbird::Encoding;
using bigbird::Padding;
using bigbird::Tokenizer;
using bigbird::Truncation;
using nlohmann::json;

const std::string kData = BIGBIRD_TEST_DATA;

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return json::parse(in);
}

const json& samples() {
  static const json j = read_json(kData + "/tokenizer/samples.json");
  return j;
}

std::string hf_dir(const std::string& family) { return kData + "/tokenizer-hf/" + family; }

const json& fixtures(const std::string& family) {
  static std::map<std::string, json> cache;
  auto it = cache.find(family);
  if (it == cache.end()) it = cache.emplace(family, read_json(hf_dir(family) + "/fixtures.json")).first;
  return it->second;
}

const Tokenizer& tokenizer(const std::string& family) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[family];
  if (!t) t = Tokenizer::load(hf_dir(family));
  return *t;
}

template <typename T>
std::vector<T> vec(const json& j) {
  return j.get<std::vector<T>>();
}

// Every field HF returned for one call equals ours; its log lines equal our warnings.
void expect_call(const json& expected, const Encoding& e) {
  static const std::set<std::string> kKnown = {
      "input_ids", "token_type_ids", "special_tokens_mask",       "attention_mask",
      "hf_log",    "decode",         "decode_skip_special_tokens"};
  for (const auto& [key, value] : expected.items()) EXPECT_TRUE(kKnown.count(key)) << "unchecked field " << key;
  EXPECT_EQ(e.input_ids, vec<int64_t>(expected.at("input_ids")));
  EXPECT_EQ(e.attention_mask, vec<int64_t>(expected.at("attention_mask")));
  if (expected.contains("token_type_ids")) {
    EXPECT_EQ(e.token_type_ids, vec<int64_t>(expected["token_type_ids"]));
  }
  if (expected.contains("special_tokens_mask")) {
    EXPECT_EQ(e.special_tokens_mask, vec<int64_t>(expected["special_tokens_mask"]));
  }
  EXPECT_EQ(e.warnings, vec<std::string>(expected.value("hf_log", json::array())));
  // Internal consistency of the fields HF does not return.
  ASSERT_EQ(e.tokens.size(), e.size());
  ASSERT_EQ(e.offsets.size(), e.size());
  ASSERT_EQ(e.sequence_ids.size(), e.size());
  ASSERT_EQ(e.token_type_ids.size(), e.size());
  ASSERT_EQ(e.special_tokens_mask.size(), e.size());
}

void expect_decodes(const Tokenizer& tok, const json& expected, const std::vector<int64_t>& ids) {
  if (expected.contains("decode")) {
    EXPECT_EQ(tok.decode(ids), expected["decode"].get<std::string>());
  }
  if (expected.contains("decode_skip_special_tokens")) {
    EXPECT_EQ(tok.decode(ids, true), expected["decode_skip_special_tokens"].get<std::string>());
  }
  if (expected.contains("decode_no_cleanup")) {
    EXPECT_EQ(tok.decode(ids, false, false), expected["decode_no_cleanup"].get<std::string>());
  }
}

EncodeOptions max_length(int64_t n, Truncation t = Truncation::LongestFirst, Padding p = Padding::DoNotPad) {
  EncodeOptions o;
  o.max_length = n;
  o.truncation = t;
  o.padding = p;
  return o;
}

// ---------------------------------------------------------------- raw SentencePiece (samples.json)

class SentencePieceSample : public ::testing::TestWithParam<int> {};

TEST(SentencePieceSamples, FileHasTwentySamples) { EXPECT_EQ(samples().at("samples").size(), 20u); }

TEST_P(SentencePieceSample, PiecesIdsDecoded) {
  static const bigbird::SentencePieceModel sp(kData + "/tokenizer/spm.model");
  const json& s = samples().at("samples").at(GetParam());
  const std::string text = s.at("text");
  SCOPED_TRACE(text);
  EXPECT_EQ(sp.encode_as_pieces(text), vec<std::string>(s.at("pieces")));
  const auto ids = vec<int>(s.at("ids"));
  EXPECT_EQ(sp.encode_as_ids(text), ids);
  EXPECT_EQ(sp.decode_ids(ids), s.at("decoded").get<std::string>());
  // Byte spans: inside the text, in order, and the surface of a non-empty span is the text there.
  size_t prev_end = 0;
  for (const auto& p : sp.encode(text)) {
    EXPECT_LE(p.begin, p.end);
    EXPECT_LE(p.end, text.size());
    EXPECT_GE(p.begin, prev_end);
    prev_end = p.end;
  }
  EXPECT_EQ(sp.piece_size(), samples().at("vocab_size").get<int>());
}

INSTANTIATE_TEST_SUITE_P(All, SentencePieceSample, ::testing::Range(0, 20));

// ---------------------------------------------------------------- HF tokenizers (fixtures.json)

class HfFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(HfFamily, TokenizerProperties) {
  const Tokenizer& tok = tokenizer(GetParam());
  const json& t = fixtures(GetParam()).at("tokenizer");
  EXPECT_EQ(tok.class_name(), t.at("class").get<std::string>());
  EXPECT_EQ(tok.vocab_size(), t.at("vocab_size").get<int64_t>());
  EXPECT_EQ(tok.sentencepiece().piece_size(), t.at("spm_piece_size").get<int>());
  EXPECT_EQ(tok.model_max_length(), t.at("model_max_length").get<int64_t>());
  EXPECT_EQ(tok.all_special_tokens(), vec<std::string>(t.at("all_special_tokens")));
  EXPECT_EQ(tok.all_special_ids(), vec<int64_t>(t.at("all_special_ids")));
  EXPECT_EQ(tok.num_special_tokens_to_add(false), t.at("num_special_tokens_to_add").at("single").get<int64_t>());
  EXPECT_EQ(tok.num_special_tokens_to_add(true), t.at("num_special_tokens_to_add").at("pair").get<int64_t>());
  for (const auto& [role, v] : t.at("special_tokens").items()) {
    SCOPED_TRACE(role);
    EXPECT_EQ(tok.special_token(role), v.at("token").get<std::string>());
    EXPECT_EQ(tok.token_to_id(v.at("token").get<std::string>()), v.at("id").get<int64_t>());
  }
  const std::map<std::string, int64_t> ids = {{"pad_token", tok.pad_id()},  {"eos_token", tok.eos_id()},
                                              {"bos_token", tok.bos_id()},  {"unk_token", tok.unk_id()},
                                              {"cls_token", tok.cls_id()},  {"sep_token", tok.sep_id()},
                                              {"mask_token", tok.mask_id()}};
  for (const auto& [role, id] : ids) {
    const json& st = t.at("special_tokens");
    EXPECT_EQ(id, st.contains(role) ? st[role].at("id").get<int64_t>() : -1) << role;
  }
  const auto id_to_token = vec<std::string>(t.at("id_to_token"));
  ASSERT_EQ(static_cast<int64_t>(id_to_token.size()), tok.vocab_size());
  for (int64_t id = 0; id < tok.vocab_size(); ++id) {
    EXPECT_EQ(tok.id_to_token(id), id_to_token[id]) << id;
    // Round trip, except for the pieces HF maps elsewhere (Pegasus: sp <pad>/</s>/<unk> ids).
    const int64_t back = tok.token_to_id(id_to_token[id]);
    if (back != id) {
      EXPECT_EQ(tok.id_to_token(back), id_to_token[id]) << id;
    }
  }
  EXPECT_THROW(tok.id_to_token(tok.vocab_size()), bigbird::Error);
  EXPECT_THROW(tok.id_to_token(-1), bigbird::Error);
}

TEST_P(HfFamily, RecordCounts) {
  const json& f = fixtures(GetParam());
  EXPECT_EQ(f.at("singles").size(), 31u);
  EXPECT_EQ(f.at("pairs").size(), 9u);
  EXPECT_EQ(f.at("batch").at("texts").size(), 5u);
}

TEST_P(HfFamily, Batch) {
  const Tokenizer& tok = tokenizer(GetParam());
  const json& b = fixtures(GetParam()).at("batch");
  const auto texts = vec<std::string>(b.at("texts"));
  EncodeOptions longest;
  longest.padding = Padding::Longest;
  const std::pair<const char*, EncodeOptions> calls[] = {
      {"padding_longest", longest},
      {"padding_longest_truncation_max16", max_length(16, Truncation::LongestFirst, Padding::Longest)}};
  for (const auto& [key, options] : calls) {
    SCOPED_TRACE(key);
    const json& expected = b.at(key);
    const auto rows = tok.encode_batch(texts, options);
    ASSERT_EQ(rows.size(), texts.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      SCOPED_TRACE(r);
      json row = json::object();
      for (const auto& [field, v] : expected.items()) row[field] = v.at(r);
      expect_call(row, rows[r]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Hf, HfFamily, ::testing::Values("bigbird", "pegasus"));

using Record = std::tuple<std::string, int>;

std::string record_name(const ::testing::TestParamInfo<Record>& info) {
  return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param));
}

class HfSingle : public ::testing::TestWithParam<Record> {};

TEST_P(HfSingle, AllFields) {
  const auto& [family, index] = GetParam();
  const Tokenizer& tok = tokenizer(family);
  const json& s = fixtures(family).at("singles").at(index);
  const std::string text = s.at("text");
  SCOPED_TRACE(text);
  static const std::set<std::string> kKnown = {"text",
                                               "sp_pieces",
                                               "sp_ids",
                                               "tokenize",
                                               "call_default",
                                               "call_all_outputs",
                                               "convert_ids_to_tokens",
                                               "decode",
                                               "decode_skip_special_tokens",
                                               "decode_no_cleanup",
                                               "truncation_max16",
                                               "padding_max_length24"};
  for (const auto& [key, value] : s.items()) EXPECT_TRUE(kKnown.count(key)) << "unchecked field " << key;

  EXPECT_EQ(tok.sentencepiece().encode_as_pieces(text), vec<std::string>(s.at("sp_pieces")));
  EXPECT_EQ(tok.sentencepiece().encode_as_ids(text), vec<int>(s.at("sp_ids")));
  EXPECT_EQ(tok.tokenize(text), vec<std::string>(s.at("tokenize")));

  const Encoding e = tok.encode(text);
  expect_call(s.at("call_default"), e);
  expect_call(s.at("call_all_outputs"), e);
  EXPECT_EQ(e.tokens, vec<std::string>(s.at("convert_ids_to_tokens")));
  EXPECT_EQ(tok.convert_ids_to_tokens(e.input_ids), vec<std::string>(s.at("convert_ids_to_tokens")));
  expect_decodes(tok, s, e.input_ids);
  {
    SCOPED_TRACE("truncation_max16");
    expect_call(s.at("truncation_max16"), tok.encode(text, max_length(16)));
  }
  {
    SCOPED_TRACE("padding_max_length24");
    const Encoding p = tok.encode(text, max_length(24, Truncation::LongestFirst, Padding::MaxLength));
    expect_call(s.at("padding_max_length24"), p);
    expect_decodes(tok, s.at("padding_max_length24"), p.input_ids);
  }
}

INSTANTIATE_TEST_SUITE_P(Hf, HfSingle,
                         ::testing::Combine(::testing::Values("bigbird", "pegasus"), ::testing::Range(0, 31)),
                         record_name);

class HfPair : public ::testing::TestWithParam<Record> {};

TEST_P(HfPair, AllFields) {
  const auto& [family, index] = GetParam();
  const Tokenizer& tok = tokenizer(family);
  const json& s = fixtures(family).at("pairs").at(index);
  const std::string text = s.at("text"), pair = s.at("text_pair");
  SCOPED_TRACE(text + " | " + pair);
  static const std::set<std::string> kKnown = {"text",
                                               "text_pair",
                                               "call_default",
                                               "call_all_outputs",
                                               "convert_ids_to_tokens",
                                               "decode",
                                               "decode_skip_special_tokens",
                                               "decode_no_cleanup",
                                               "truncation_max16",
                                               "padding_max_length24_longest_first"};
  for (const auto& [key, value] : s.items()) EXPECT_TRUE(kKnown.count(key)) << "unchecked field " << key;

  const Encoding e = tok.encode(text, pair);
  expect_call(s.at("call_default"), e);
  expect_call(s.at("call_all_outputs"), e);
  EXPECT_EQ(e.tokens, vec<std::string>(s.at("convert_ids_to_tokens")));
  expect_decodes(tok, s, e.input_ids);

  const std::pair<const char*, Truncation> strategies[] = {{"longest_first", Truncation::LongestFirst},
                                                           {"only_first", Truncation::OnlyFirst},
                                                           {"only_second", Truncation::OnlySecond}};
  EXPECT_EQ(s.at("truncation_max16").size(), 3u);
  for (const auto& [name, strategy] : strategies) {
    SCOPED_TRACE(name);
    EXPECT_EQ(bigbird::parse_truncation(name), strategy);
    expect_call(s.at("truncation_max16").at(name), tok.encode(text, pair, max_length(16, strategy)));
  }
  {
    SCOPED_TRACE("padding_max_length24_longest_first");
    const Encoding p = tok.encode(text, pair, max_length(24, Truncation::LongestFirst, Padding::MaxLength));
    expect_call(s.at("padding_max_length24_longest_first"), p);
    expect_decodes(tok, s.at("padding_max_length24_longest_first"), p.input_ids);
  }
}

INSTANTIATE_TEST_SUITE_P(Hf, HfPair,
                         ::testing::Combine(::testing::Values("bigbird", "pegasus"), ::testing::Range(0, 9)),
                         record_name);

// ---------------------------------------------------------------- offsets

// text[b, e) in code points.
std::string substr_chars(const std::string& text, int64_t b, int64_t e) {
  std::string out;
  int64_t index = -1;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++index;  // first byte of a character
    if (index >= b && index < e) out += c;
  }
  return out;
}

// Each token of the text covers the text it came from: spans in order, inside the text, and
// (with the identity normaliser, or on ASCII text) the span is the piece with "▁" for the
// (collapsed) whitespace, or the piece's own text for an unknown piece and a special token.
void check_offsets(const Tokenizer& tok, const std::string& text, const Encoding& e, int seq, bool exact_surfaces) {
  const std::u32string chars = bigbird::utf8::to_u32(text);
  const auto pieces = tok.tokenize(text);
  std::vector<bool> covered(chars.size(), false);
  size_t k = 0;
  int64_t prev_end = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const auto [b, end] = e.offsets[i];
    if (e.sequence_ids[i] != seq) {
      if (e.sequence_ids[i] < 0) {
        EXPECT_EQ(e.offsets[i], std::make_pair(int64_t{0}, int64_t{0}));
      }
      continue;
    }
    ASSERT_LT(k, pieces.size());
    const std::string& piece = pieces[k++];
    SCOPED_TRACE("token " + std::to_string(i) + " '" + piece + "'");
    EXPECT_LE(0, b);
    EXPECT_LE(b, end);
    EXPECT_LE(end, static_cast<int64_t>(chars.size()));
    EXPECT_GE(b, prev_end);
    prev_end = end;
    for (int64_t c = b; c < end; ++c) covered[c] = true;
    const std::string span8 = substr_chars(text, b, end);
    if (tok.is_special_id(e.input_ids[i]) || e.input_ids[i] == tok.unk_id()) {
      EXPECT_EQ(span8, piece);
      continue;
    }
    if (!exact_surfaces) continue;
    std::string expected;  // whitespace runs -> one "▁"
    bool in_space = false;
    for (char ch : span8) {
      const bool space = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
      if (space && !in_space) expected += "\xE2\x96\x81";
      if (!space) expected += ch;
      in_space = space;
    }
    EXPECT_TRUE(piece == expected || piece == "\xE2\x96\x81" + expected) << "span '" << span8 << "'";
  }
  EXPECT_EQ(k, pieces.size());
  // Whatever no token covers is whitespace (removed by SentencePiece or stripped by a special token).
  for (size_t c = 0; c < chars.size(); ++c) {
    if (!covered[c]) {
      EXPECT_TRUE(bigbird::utf8::is_python_space(chars[c])) << "uncovered char at " << c;
    }
  }
}

TEST_P(HfFamily, OffsetsCoverTheText) {
  const Tokenizer& tok = tokenizer(GetParam());
  const bool identity = GetParam() == "bigbird";  // Pegasus normalises with NFKC
  auto ascii = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  };
  for (const auto& s : fixtures(GetParam()).at("singles")) {
    const std::string text = s.at("text");
    SCOPED_TRACE(text);
    check_offsets(tok, text, tok.encode(text), 0, identity || ascii(text));
  }
  for (const auto& s : fixtures(GetParam()).at("pairs")) {
    const std::string text = s.at("text"), pair = s.at("text_pair");
    SCOPED_TRACE(text + " | " + pair);
    const Encoding e = tok.encode(text, pair);
    check_offsets(tok, text, e, 0, identity || ascii(text));
    check_offsets(tok, pair, e, 1, identity || ascii(pair));
  }
}

TEST(TokenizerOffsets, Examples) {
  const Tokenizer& tok = tokenizer("bigbird");
  // "Paris is the [MASK] of France." : [MASK] covers itself, the space before it is stripped.
  const Encoding e = tok.encode("Paris is the [MASK] of France.");
  ASSERT_EQ(e.tokens[7], "[MASK]");
  EXPECT_EQ(e.offsets[7], std::make_pair(int64_t{13}, int64_t{19}));
  EXPECT_EQ(e.offsets[6], std::make_pair(int64_t{8}, int64_t{12}));  // "▁the" = " the"
  EXPECT_EQ(e.offsets.front(), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_EQ(e.sequence_ids.front(), -1);
  // Code points, not bytes: "é" is one character.
  const Encoding u = tok.encode("résumé x", EncodeOptions{.add_special_tokens = false});
  EXPECT_EQ(u.offsets.back(), std::make_pair(int64_t{7}, int64_t{8}));
}

// ---------------------------------------------------------------- more behaviour

TEST(Tokenizer, NoSpecialTokensAndPairBatch) {
  const Tokenizer& tok = tokenizer("bigbird");
  EncodeOptions plain;
  plain.add_special_tokens = false;
  const Encoding e = tok.encode("Hello world", std::string_view("A license"), plain);
  EXPECT_EQ(e.input_ids.front(), 101);
  EXPECT_EQ(std::count(e.special_tokens_mask.begin(), e.special_tokens_mask.end(), 1), 0);
  EXPECT_EQ(std::count(e.token_type_ids.begin(), e.token_type_ids.end(), 1), 0);
  EXPECT_EQ(e.sequence_ids.back(), 1);

  EncodeOptions longest;
  longest.padding = Padding::Longest;
  const auto rows = tok.encode_batch({"a", "Hello world"}, {"b", ""}, longest);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].size(), rows[1].size());
  const Encoding single = tok.encode("a", std::string_view("b"));
  EXPECT_LT(single.size(), rows[0].size());
  EXPECT_TRUE(std::equal(single.input_ids.begin(), single.input_ids.end(), rows[0].input_ids.begin()));
  EXPECT_EQ(rows[1].input_ids, tok.encode("Hello world", std::string_view("")).input_ids);
  EXPECT_EQ(rows[0].attention_mask.back(), 0);
  EXPECT_EQ(rows[0].tokens.back(), "<pad>");
  EXPECT_THROW(tok.encode_batch({"a"}, {"b", "c"}), bigbird::Error);
}

// HF rules that no fixture record happens to exercise (from the README's rule list).
TEST(Tokenizer, RulesBeyondTheFixtures) {
  const Tokenizer& tok = tokenizer("bigbird");
  // No space before [MASK] / [SEP] even when the text before them decodes with a trailing space.
  const int64_t a = tok.token_to_id(
                    "\xE2\x96\x81"
                    "a"),
                space = tok.token_to_id("\xE2\x96\x81");
  ASSERT_EQ(a, 112);
  ASSERT_EQ(space, 101);
  EXPECT_EQ(tok.decode({a, space, tok.mask_id()}), "a[MASK]");
  EXPECT_EQ(tok.decode({a, space, tok.sep_id()}), "a[SEP]");
  EXPECT_EQ(tok.decode({a, space, tok.cls_id()}), "a [CLS]");
  EXPECT_EQ(tok.decode({}), "");

  // Truncating a single text with len(A) <= n tokens to remove: an error is logged, nothing is cut.
  const Encoding full = tok.encode("Hello world");
  ASSERT_EQ(full.size(), 12u);  // [CLS] + 10 + [SEP]
  const Encoding e = tok.encode("Hello world", max_length(2));
  EXPECT_EQ(e.input_ids, full.input_ids);
  EXPECT_EQ(e.warnings, std::vector<std::string>{"ERROR: We need to remove 10 to truncate the input but the first "
                                                 "sequence has a length 10. "});
  EXPECT_EQ(tok.encode("Hello world", max_length(3)).size(), 3u);  // len(A) = 10 > 9: cut
  // only_second without a pair, do_not_truncate: nothing happens.
  EXPECT_EQ(tok.encode("Hello world", max_length(4, Truncation::OnlySecond)).input_ids, full.input_ids);
  EXPECT_EQ(tok.encode("Hello world", max_length(4, Truncation::DoNotTruncate)).input_ids, full.input_ids);
  EXPECT_EQ(tok.encode("Hello world", max_length(4, Truncation::OnlyFirst)).size(), 4u);
}

TEST(Tokenizer, TooLongWarningWithoutMaxLength) {
  const Tokenizer& tok = tokenizer("pegasus");
  std::string text;
  for (int i = 0; i < 600; ++i) text += "ab ";
  const Encoding e = tok.encode(text);
  ASSERT_GT(static_cast<int64_t>(e.size()), tok.model_max_length());
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("> 1024). Running this sequence"), std::string::npos) << e.warnings[0];
  // padding="max_length" without max_length pads to model_max_length.
  EncodeOptions pad;
  pad.padding = Padding::MaxLength;
  EXPECT_EQ(tok.encode("a", pad).size(), 1024u);
}

TEST(Tokenizer, ParseStrategies) {
  EXPECT_EQ(bigbird::parse_truncation("do_not_truncate"), Truncation::DoNotTruncate);
  EXPECT_EQ(bigbird::parse_padding("longest"), Padding::Longest);
  EXPECT_EQ(bigbird::parse_padding("max_length"), Padding::MaxLength);
  EXPECT_EQ(bigbird::parse_padding("do_not_pad"), Padding::DoNotPad);
  EXPECT_THROW(bigbird::parse_truncation("true"), bigbird::Error);
  EXPECT_THROW(bigbird::parse_padding("yes"), bigbird::Error);
}

TEST(Tokenizer, DecodeRejectsBadIds) {
  EXPECT_THROW(tokenizer("bigbird").decode({5, 512}), bigbird::Error);
  EXPECT_THROW(tokenizer("pegasus").decode({-3}), bigbird::Error);
  EXPECT_THROW(tokenizer("bigbird").sentencepiece().decode_ids({9999}), bigbird::Error);
}

// ---------------------------------------------------------------- errors

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const bigbird::Error& e) {
    return e.what();
  }
  return "<no bigbird::Error thrown>";
}

TEST(TokenizerErrors, InvalidUtf8) {
  const Tokenizer& tok = tokenizer("bigbird");
  const std::string bad[] = {"abc\xff",           "caf\xc3", "\xed\xa0\x80 surrogate",
                             "\xc0\xaf overlong", "\x80",    "\xf4\x90\x80\x80 above U+10FFFF"};
  for (const auto& text : bad) {
    EXPECT_NE(error_of([&] { tok.encode(text); }).find("not valid UTF-8"), std::string::npos);
    EXPECT_NE(error_of([&] { tok.tokenize(text); }).find("not valid UTF-8"), std::string::npos);
    EXPECT_NE(error_of([&] { tokenizer("pegasus").encode("fine", std::string_view(text)); }).find("not valid UTF-8"),
              std::string::npos);
    EXPECT_NE(error_of([&] { tok.sentencepiece().encode(text); }).find("not valid UTF-8"), std::string::npos);
  }
  EXPECT_NE(error_of([&] { tok.encode("abc\xff"); }).find("byte 3"), std::string::npos);
  EXPECT_NO_THROW(tok.encode("\xf0\x9f\x98\x80 ok"));
}

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("bigbird_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
  }
  void copy_from(const std::string& dir, const std::string& name) const {
    fs::copy_file(fs::path(dir) / name, path_ / name);
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(TokenizerErrors, MissingOrBadFiles) {
  EXPECT_NE(error_of([] { Tokenizer::load("/nonexistent/bigbird-dir"); }).find("/nonexistent/bigbird-dir"),
            std::string::npos);
  EXPECT_NE(error_of([] { bigbird::SentencePieceModel("/nonexistent/x.model"); }).find("/nonexistent/x.model"),
            std::string::npos);
  {
    TempDir d;  // config but no spiece.model
    d.copy_from(hf_dir("bigbird"), "tokenizer_config.json");
    const std::string msg = error_of([&] { Tokenizer::load(d.str()); });
    EXPECT_NE(msg.find(d.str() + "/spiece.model"), std::string::npos) << msg;
  }
  {
    TempDir d;  // unreadable (corrupt) model
    d.copy_from(hf_dir("pegasus"), "tokenizer_config.json");
    d.write("spiece.model", "this is not a protobuf");
    const std::string msg = error_of([&] { Tokenizer::load(d.str()); });
    EXPECT_NE(msg.find("spiece.model"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot load"), std::string::npos) << msg;
  }
  {
    TempDir d;  // unknown class
    d.write("tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer"})");
    d.copy_from(hf_dir("bigbird"), "spiece.model");
    const std::string msg = error_of([&] { Tokenizer::load(d.str()); });
    EXPECT_NE(msg.find("unsupported tokenizer_class 'T5Tokenizer'"), std::string::npos) << msg;
  }
  {
    TempDir d;  // no way to tell the class
    d.copy_from(hf_dir("bigbird"), "spiece.model");
    const std::string msg = error_of([&] { Tokenizer::load(d.str()); });
    EXPECT_NE(msg.find("cannot tell the tokenizer class"), std::string::npos) << msg;
  }
  {
    TempDir d;  // broken JSON
    d.write("tokenizer_config.json", "{\"tokenizer_class\": ");
    d.copy_from(hf_dir("bigbird"), "spiece.model");
    const std::string msg = error_of([&] { Tokenizer::load(d.str()); });
    EXPECT_NE(msg.find("tokenizer_config.json"), std::string::npos) << msg;
  }
}

TEST(TokenizerLoad, ClassFromModelTypeAndDefaults) {
  // Only spiece.model + config.json: the class defaults apply (same ids as the saved checkpoint).
  TempDir d;
  d.copy_from(hf_dir("bigbird"), "spiece.model");
  d.write("config.json", R"({"model_type": "big_bird"})");
  const auto tok = Tokenizer::load(d.str());
  EXPECT_EQ(tok->class_name(), "BigBirdTokenizer");
  // [MASK] strips the tab before it only through its class default (lstrip=True).
  const std::string text = "word[MASK]word [MASK] x  [MASK]  y[SEP]z tab\t[MASK] tab\t[SEP]";
  EXPECT_EQ(tok->tokenize(text), tokenizer("bigbird").tokenize(text));
  EXPECT_EQ(tok->encode(text).input_ids, tokenizer("bigbird").encode(text).input_ids);

  // A string in tokenizer_config.json goes through the class constructor, which wraps it as an
  // AddedToken with the class's flags; a string in special_tokens_map.json stays a plain string,
  // which strips both neighbours.
  TempDir s;
  s.copy_from(hf_dir("bigbird"), "spiece.model");
  s.write("tokenizer_config.json", R"({"tokenizer_class": "BigBirdTokenizer", "sep_token": "[SEP]",
                                       "mask_token": "[MASK]"})");
  EXPECT_EQ(Tokenizer::load(s.str())->tokenize(text), tokenizer("bigbird").tokenize(text));
  s.write("special_tokens_map.json", R"({"sep_token": "[SEP]"})");
  const auto plain = Tokenizer::load(s.str())->tokenize("tab\t[SEP]\tx");
  EXPECT_EQ(plain, (std::vector<std::string>{"\xE2\x96\x81", "t", "a", "b", "[SEP]", "\xE2\x96\x81", "x"}));
  EXPECT_EQ(tokenizer("bigbird").tokenize("tab\t[SEP]\tx"),
            (std::vector<std::string>{"\xE2\x96\x81", "t", "a", "b", "\t", "[SEP]", "\xE2\x96\x81", "\t", "x"}));

  TempDir p;
  p.copy_from(hf_dir("pegasus"), "spiece.model");
  p.write("tokenizer_config.json", R"({"tokenizer_class": "PegasusTokenizerFast"})");
  const auto peg = Tokenizer::load(p.str());
  EXPECT_EQ(peg->class_name(), "PegasusTokenizer");
  EXPECT_EQ(peg->all_special_ids(), tokenizer("pegasus").all_special_ids());
  const std::string t2 = "Summarize: <mask_1> The license is free. <mask_2> software <unk_100>x";
  EXPECT_EQ(peg->encode(t2).input_ids, tokenizer("pegasus").encode(t2).input_ids);
}

// ---------------------------------------------------------------- UTF-8 helpers

TEST(Utf8, PythonWhitespace) {
  using namespace bigbird::utf8;
  EXPECT_EQ(rstrip("ab \t\n\xe3\x80\x80"), "ab");         // U+3000 is whitespace
  EXPECT_EQ(rstrip("ab\xe2\x80\x8b"), "ab\xe2\x80\x8b");  // U+200B is not
  EXPECT_EQ(lstrip("\xc2\xa0 x "), "x ");
  EXPECT_EQ(strip("  "), "");
  EXPECT_EQ(length("h\xc3\xa9\xf0\x9f\x98\x80"), 3);
  EXPECT_EQ(char_offsets("h\xc3\xa9x"), (std::vector<int64_t>{0, 1, 2, 2, 3}));
  EXPECT_EQ(replace_all("a .b . .", " .", "."), "a.b..");
}

}  // namespace
