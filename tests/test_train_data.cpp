// Training data loaders (src/train/data.h): MLM grouping and masking, classification labels,
// NER alignment, QA windows and positions, error messages.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/data.h"

namespace bigbird::train {
namespace {

using bigbird::test::data_path;
using bigbird::test::TempDir;

const Tokenizer& tok() {
  static const std::unique_ptr<Tokenizer> t = Tokenizer::load(data_path("../../models/tiny-mlm"));
  return *t;
}

void write(const std::string& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

// The message of the bigbird::Error that f throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<int64_t> concat_encodings(const std::vector<std::string>& docs, std::vector<int64_t>* special = nullptr) {
  std::vector<int64_t> all;
  for (const std::string& d : docs) {
    const Encoding e = tok().encode(d);
    all.insert(all.end(), e.input_ids.begin(), e.input_ids.end());
    if (special) special->insert(special->end(), e.special_tokens_mask.begin(), e.special_tokens_mask.end());
  }
  return all;
}

const std::vector<std::string> kDocs = {"The quick brown fox jumps over the lazy dog.",
                                        "Paris is the capital of France.\nIt is a big city.",
                                        "Sparse attention makes long documents cheap."};

// ---------------------------------------------------------------- MLM grouping

TEST(TrainDataMlm, ChunksPreserveTheConcatenation) {
  TempDir dir;
  const std::string path = dir.file("corpus.txt");
  write(path, "\n" + kDocs[0] + "\n\n\n" + kDocs[1] + "\r\n\n" + kDocs[2] + "\n");
  std::vector<int64_t> special;
  const std::vector<int64_t> all = concat_encodings(kDocs, &special);
  const int64_t L = 7;
  const std::vector<Example> rows = load_mlm_corpus(path, tok(), L);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), static_cast<int64_t>(all.size()) / L);
  for (size_t r = 0; r < rows.size(); ++r) {
    ASSERT_EQ(rows[r].input_ids.size(), static_cast<size_t>(L));
    EXPECT_EQ(rows[r].token_type_ids, std::vector<int64_t>(L, 0));
    EXPECT_EQ(rows[r].attention_mask, std::vector<int64_t>(L, 1));
    for (int64_t i = 0; i < L; ++i) {
      EXPECT_EQ(rows[r].input_ids[i], all[r * L + i]) << r << " " << i;
      EXPECT_EQ(rows[r].special_tokens_mask[i], special[r * L + i]) << r << " " << i;
    }
  }
  // Each document is [CLS] ... [SEP]: the first row starts with [CLS].
  EXPECT_EQ(rows[0].input_ids[0], tok().cls_id());
  EXPECT_EQ(rows[0].special_tokens_mask[0], 1);
}

TEST(TrainDataMlm, ShortCorpusIsOneShortRow) {
  const std::vector<int64_t> all = concat_encodings({kDocs[0]});
  const std::vector<Example> rows = group_mlm_documents({kDocs[0]}, tok(), 1000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].input_ids, all);
  // Exactly one block: kept whole.
  const std::vector<Example> exact = group_mlm_documents({kDocs[0]}, tok(), static_cast<int64_t>(all.size()));
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_EQ(exact[0].input_ids, all);
}

TEST(TrainDataMlm, RemainderDroppedPerMapBatch) {
  // datasets.map(batched=True) groups 1000 rows at a time; with a batch of 2 documents the
  // remainder of each batch is dropped on its own.
  const int64_t L = 5;
  const std::vector<int64_t> a = concat_encodings({kDocs[0], kDocs[1]}), b = concat_encodings({kDocs[2]});
  const std::vector<Example> rows = group_mlm_documents(kDocs, tok(), L, /*group_batch_size=*/2);
  const size_t na = a.size() / L, nb = b.size() / L;
  ASSERT_EQ(rows.size(), na + nb);
  EXPECT_EQ(rows[na - 1].input_ids, std::vector<int64_t>(a.begin() + (na - 1) * L, a.begin() + na * L));
  EXPECT_EQ(rows[na].input_ids, std::vector<int64_t>(b.begin(), b.begin() + L));
}

TEST(TrainDataMlm, JsonlByExtensionAndBySniffing) {
  TempDir dir;
  std::string jsonl;
  for (const std::string& d : kDocs) jsonl += nlohmann::json({{"text", d}}).dump() + "\n\n";
  write(dir.file("c.jsonl"), jsonl);
  write(dir.file("c.data"), jsonl);
  const std::vector<Example> want = group_mlm_documents(kDocs, tok(), 6);
  for (const char* name : {"c.jsonl", "c.data"}) {
    const std::vector<Example> got = load_mlm_corpus(dir.file(name), tok(), 6);
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].input_ids, want[i].input_ids) << name;
  }
}

// ---------------------------------------------------------------- MLM masking

Example synthetic_row(int64_t n, int64_t salt) {
  Example x;
  for (int64_t i = 0; i < n; ++i) {
    x.input_ids.push_back(10 + (i * 7 + salt * 13) % 50);
    x.special_tokens_mask.push_back(i == 0 || i == n - 1 || i % 17 == 5 ? 1 : 0);
  }
  x.attention_mask.assign(static_cast<size_t>(n), 1);
  return x;
}

TEST(TrainDataMlm, MaskingStatistics) {
  const MaskingInfo info = MaskingInfo::from(tok());
  ASSERT_EQ(info.mask_id, tok().mask_id());
  int64_t candidates = 0, selected = 0, masked = 0, randomised = 0, kept = 0;
  for (int64_t idx = 0; idx < 2000; ++idx) {
    const Example x = synthetic_row(128, idx);
    const Example m = mask_tokens(x, info, /*seed=*/42, /*epoch=*/0, idx);
    ASSERT_EQ(m.labels.size(), x.input_ids.size());
    for (size_t t = 0; t < x.input_ids.size(); ++t) {
      if (x.special_tokens_mask[t]) {
        EXPECT_EQ(m.labels[t], kIgnoreIndex);
        EXPECT_EQ(m.input_ids[t], x.input_ids[t]);
        continue;
      }
      ++candidates;
      if (m.labels[t] == kIgnoreIndex) {
        EXPECT_EQ(m.input_ids[t], x.input_ids[t]);
        continue;
      }
      ++selected;
      EXPECT_EQ(m.labels[t], x.input_ids[t]);
      ASSERT_GE(m.input_ids[t], 0);
      ASSERT_LT(m.input_ids[t], tok().vocab_size());
      if (m.input_ids[t] == info.mask_id) ++masked;
      else if (m.input_ids[t] != x.input_ids[t]) ++randomised;
      else ++kept;
    }
  }
  ASSERT_GT(candidates, 200000);
  const double p = double(selected) / candidates, s = double(selected);
  EXPECT_NEAR(p, 0.15, 0.004);
  EXPECT_NEAR(masked / s, 0.8, 0.01);
  EXPECT_NEAR(randomised / s, 0.1, 0.01);  // a random id equal to the original counts as kept (rare)
  EXPECT_NEAR(kept / s, 0.1, 0.01);
}

TEST(TrainDataMlm, SpecialIdsUsedWithoutAMask) {
  Example x;
  x.input_ids = std::vector<int64_t>(1000, tok().cls_id());
  const Example m = mask_tokens(x, MaskingInfo::from(tok()), 1, 0, 0, /*mlm_probability=*/1.0);
  EXPECT_EQ(m.input_ids, x.input_ids);
  EXPECT_EQ(m.labels, std::vector<int64_t>(1000, kIgnoreIndex));
}

TEST(TrainDataMlm, DeterministicInSeedEpochIndexOnly) {
  const MaskingInfo info = MaskingInfo::from(tok());
  const int64_t n = 50;
  std::vector<Example> rows, forward, backward(n);
  for (int64_t i = 0; i < n; ++i) rows.push_back(synthetic_row(256, i));
  for (int64_t i = 0; i < n; ++i) forward.push_back(mask_tokens(rows[i], info, 7, 3, i));
  for (int64_t i = n - 1; i >= 0; --i) backward[i] = mask_tokens(rows[i], info, 7, 3, i);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(forward[i].input_ids, backward[i].input_ids);
    EXPECT_EQ(forward[i].labels, backward[i].labels);
  }
  // A change of seed, epoch or index changes the draw.
  const Example base = mask_tokens(rows[0], info, 7, 3, 0);
  EXPECT_NE(mask_tokens(rows[0], info, 8, 3, 0).labels, base.labels);
  EXPECT_NE(mask_tokens(rows[0], info, 7, 4, 0).labels, base.labels);
  EXPECT_NE(mask_tokens(rows[0], info, 7, 3, 1).labels, base.labels);
  // Pinned values: the generator must not change silently (a resumed run depends on it).
  const Example pin = mask_tokens(synthetic_row(32, 0), info, 0, 0, 0);
  std::vector<int64_t> at;
  for (size_t t = 0; t < pin.labels.size(); ++t)
    if (pin.labels[t] != kIgnoreIndex) at.push_back(static_cast<int64_t>(t));
  EXPECT_EQ(at, (std::vector<int64_t>{4, 8, 12, 27}));
}

// ---------------------------------------------------------------- classification

TEST(TrainDataClassify, SortedStringLabels) {
  TempDir dir;
  const std::string p = dir.file("train.jsonl");
  write(p,
        "{\"text\": \"good movie\", \"label\": \"positive\"}\n"
        "{\"text\": \"bad movie\", \"label\": \"negative\"}\n\n"
        "{\"text\": \"meh\", \"text_pair\": \"so so\", \"label\": \"neutral\"}\n");
  const ClassificationData d = load_classification(p, tok());
  EXPECT_EQ(d.problem, ProblemType::SingleLabel);
  EXPECT_EQ(d.num_labels, 3);
  EXPECT_EQ(d.id2label, (std::vector<std::string>{"negative", "neutral", "positive"}));
  ASSERT_EQ(d.examples.size(), 3u);
  EXPECT_EQ(d.examples[0].labels, std::vector<int64_t>{2});
  EXPECT_EQ(d.examples[1].labels, std::vector<int64_t>{0});
  EXPECT_EQ(d.examples[2].labels, std::vector<int64_t>{1});
  EXPECT_EQ(d.examples[0].input_ids, tok().encode("good movie").input_ids);
  EXPECT_EQ(d.examples[2].input_ids, tok().encode("meh", std::string_view("so so")).input_ids);
  EXPECT_EQ(d.examples[2].token_type_ids, tok().encode("meh", std::string_view("so so")).token_type_ids);
}

TEST(TrainDataClassify, IntegerLabelsSortNumerically) {
  TempDir dir;
  const std::string p = dir.file("t.jsonl");
  write(p, "{\"sentence\": \"a\", \"y\": 10}\n{\"sentence\": \"b\", \"y\": 2}\n{\"sentence\": \"c\", \"y\": 2}\n");
  ClassificationOptions o;
  o.text_column = "sentence";
  o.label_column = "y";
  const ClassificationData d = load_classification(p, tok(), o);
  EXPECT_EQ(d.id2label, (std::vector<std::string>{"2", "10"}));
  EXPECT_EQ(d.examples[0].labels, std::vector<int64_t>{1});
  EXPECT_EQ(d.examples[1].labels, std::vector<int64_t>{0});
}

TEST(TrainDataClassify, GivenLabelMapIsHonoured) {
  TempDir dir;
  const std::string p = dir.file("t.jsonl");
  write(p, "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": \"neg\"}\n");
  ClassificationOptions o;
  o.label2id = {{"pos", 0}, {"neg", 1}, {"other", 2}};
  const ClassificationData d = load_classification(p, tok(), o);
  EXPECT_EQ(d.num_labels, 3);
  EXPECT_EQ(d.id2label, (std::vector<std::string>{"pos", "neg", "other"}));
  EXPECT_EQ(d.examples[0].labels, std::vector<int64_t>{0});
  EXPECT_EQ(d.examples[1].labels, std::vector<int64_t>{1});
  o.label2id = {{"pos", 0}, {"neg", 2}};
  EXPECT_EQ(error_of([&] { load_classification(p, tok(), o); }), "label2id: label \"neg\" has id 2, expected ids 0..1");
  o.label2id = {{"pos", 0}, {"other", 1}};
  EXPECT_EQ(error_of([&] { load_classification(p, tok(), o); }),
            p + ":2: unknown label \"neg\": the model's labels (from its checkpoint, or the training set for "
                "validation data) are other, pos");
}

TEST(TrainDataClassify, RegressionAndMultiLabel) {
  TempDir dir;
  const std::string r = dir.file("r.jsonl"), m = dir.file("m.jsonl");
  write(r, "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 0.25}\n");
  const ClassificationData dr = load_classification(r, tok());
  EXPECT_EQ(dr.problem, ProblemType::Regression);
  EXPECT_EQ(dr.num_labels, 1);
  EXPECT_EQ(dr.examples[0].float_labels, std::vector<float>{1.0f});
  EXPECT_EQ(dr.examples[1].float_labels, std::vector<float>{0.25f});
  EXPECT_TRUE(dr.examples[0].labels.empty());
  write(m,
        "{\"text\": \"a\", \"label\": [\"x\", \"z\"]}\n{\"text\": \"b\", \"label\": []}\n{\"text\": \"c\", \"label\": "
        "[\"y\"]}\n");
  const ClassificationData dm = load_classification(m, tok());
  EXPECT_EQ(dm.problem, ProblemType::MultiLabel);
  EXPECT_STREQ(problem_type_name(dm.problem), "multi_label_classification");
  EXPECT_EQ(dm.id2label, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(dm.examples[0].float_labels, (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(dm.examples[1].float_labels, (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(dm.examples[2].float_labels, (std::vector<float>{0, 1, 0}));
}

TEST(TrainDataClassify, TruncatesLongestFirst) {
  TempDir dir;
  const std::string p = dir.file("t.jsonl");
  const std::string a = "one two three four five six seven eight nine ten", b = "eleven twelve";
  write(p, nlohmann::json({{"text", a}, {"text_pair", b}, {"label", 0}}).dump() + "\n");
  ClassificationOptions o;
  o.max_seq_length = 8;
  const ClassificationData d = load_classification(p, tok(), o);
  EncodeOptions e;
  e.max_length = 8;
  EXPECT_EQ(d.examples[0].input_ids, tok().encode(a, std::string_view(b), e).input_ids);
  EXPECT_EQ(d.examples[0].input_ids.size(), 8u);
}

// ---------------------------------------------------------------- token classification

TEST(TrainDataTokens, FirstSubTokenCarriesTheTag) {
  TempDir dir;
  const std::string p = dir.file("ner.jsonl");
  write(p,
        "{\"tokens\": [\"Angela\", \"Merkel\", \"visited\", \"Washington\"], \"tags\": [\"B-PER\", \"I-PER\", \"O\", "
        "\"B-LOC\"]}\n");
  const TokenClassificationData d = load_token_classification(p, tok());
  EXPECT_EQ(d.id2label, (std::vector<std::string>{"B-LOC", "B-PER", "I-PER", "O"}));
  ASSERT_EQ(d.examples.size(), 1u);
  const Example& x = d.examples[0];
  // Hand-checked with the tiny tokenizer's pieces: each word alone gets its "▁" prefix (as
  // is_split_into_words does); the first piece of each word carries the tag.
  const std::vector<std::string> pieces = {"[CLS]", "▁A", "n", "g", "e", "l",   "a", "▁M", "er",
                                           "k",     "e",  "l", "▁", "v", "i",   "s", "it", "ed",
                                           "▁",     "W",  "a", "s", "h", "ing", "t", "on", "[SEP]"};
  EXPECT_EQ(tok().convert_ids_to_tokens(x.input_ids), pieces);
  const int64_t I = kIgnoreIndex, PER = 1, IPER = 2, O = 3, LOC = 0;
  const std::vector<int64_t> labels = {I, PER, I, I, I,   I, I, IPER, I, I, I, I, O, I,
                                       I, I,   I, I, LOC, I, I, I,    I, I, I, I, I};
  EXPECT_EQ(x.labels, labels);
  EXPECT_EQ(x.attention_mask, std::vector<int64_t>(x.input_ids.size(), 1));
}

TEST(TrainDataTokens, TruncationAndNerTagsColumn) {
  TempDir dir;
  const std::string p = dir.file("ner.jsonl");
  write(p, "{\"tokens\": [\"a\", \"b\", \"c\", \"d\", \"e\"], \"ner_tags\": [1, 0, 1, 0, 2]}\n");
  TokenClassificationOptions o;
  o.max_seq_length = 5;
  const TokenClassificationData d = load_token_classification(p, tok(), o);
  EXPECT_EQ(d.id2label, (std::vector<std::string>{"0", "1", "2"}));
  const Example& x = d.examples[0];
  ASSERT_EQ(x.input_ids.size(), 5u);
  EXPECT_EQ(x.input_ids.front(), tok().cls_id());
  EXPECT_EQ(x.input_ids.back(), tok().sep_id());
  EXPECT_EQ(x.labels.front(), kIgnoreIndex);
  EXPECT_EQ(x.labels.back(), kIgnoreIndex);
}

// ---------------------------------------------------------------- question answering

std::string span_text(const Example& x) {
  return tok().decode(
      std::vector<int64_t>(x.input_ids.begin() + x.start_position, x.input_ids.begin() + x.end_position + 1));
}

TEST(TrainDataQa, AnswerPositionsInOneWindow) {
  QaRecord r;
  r.question = "  Which city is the capital?";
  r.context = "The capital of France is Paris, a big city.";
  r.answer_texts = {"Paris"};
  r.answer_starts = {25};
  const std::vector<Example> f = qa_features(r, tok(), {});
  ASSERT_EQ(f.size(), 1u);
  const std::vector<int64_t> q = tok().encode("Which city is the capital?", EncodeOptions{false}).input_ids;
  const Example& x = f[0];
  EXPECT_EQ(x.input_ids, tok().encode("Which city is the capital?", std::string_view(r.context)).input_ids);
  EXPECT_EQ(x.token_type_ids, tok().encode("Which city is the capital?", std::string_view(r.context)).token_type_ids);
  EXPECT_EQ(span_text(x), "Paris");
  EXPECT_GT(x.start_position, static_cast<int64_t>(q.size()) + 1);
  // No answer: both at [CLS].
  r.answer_texts.clear();
  r.answer_starts.clear();
  const std::vector<Example> none = qa_features(r, tok(), {});
  EXPECT_EQ(none[0].start_position, 0);
  EXPECT_EQ(none[0].end_position, 0);
}

TEST(TrainDataQa, HandCheckedPositions) {
  // [CLS] ▁ W h ic h ▁c it y ▁is ▁the ▁c a p it al ? [SEP]  (0..17)
  // ▁The(0,3) ▁c a p it al ▁of ▁ F r ance ▁is(21,24) ▁P(24,26) ar i s(29,30) ,(30,31) ▁a ▁b i g
  // ▁c(37,39) it y(41,42) .(42,43) [SEP]  (18..43)
  QaRecord r;
  r.question = "Which city is the capital?";
  r.context = "The capital of France is Paris, a big city.";
  const auto positions = [&](const std::string& text, int64_t start) {
    r.answer_texts = {text};
    r.answer_starts = {start};
    const std::vector<Example> f = qa_features(r, tok(), {});
    EXPECT_EQ(f.size(), 1u);
    return std::make_pair(f[0].start_position, f[0].end_position);
  };
  EXPECT_EQ(positions("Paris", 25), std::make_pair(int64_t{30}, int64_t{33}));
  EXPECT_EQ(positions("Paris, a big city", 25), std::make_pair(int64_t{30}, int64_t{41}));
  EXPECT_EQ(positions("The", 0), std::make_pair(int64_t{18}, int64_t{18}));
  EXPECT_EQ(positions("ari", 26), std::make_pair(int64_t{31}, int64_t{32}));  // inside a word
  // The last context token: HF's loop would walk on to the final [SEP] (43); we stop at the
  // context's end.
  EXPECT_EQ(positions(".", 42), std::make_pair(int64_t{42}, int64_t{42}));
  // Answer beyond the context (a bad answer_start): not in the window -> [CLS].
  EXPECT_EQ(positions("x", 60), std::make_pair(int64_t{0}, int64_t{0}));
}

TEST(TrainDataQa, LoadsSquadJsonl) {
  TempDir dir;
  const std::string p = dir.file("squad.jsonl");
  write(p,
        "{\"id\": \"a\", \"question\": \"Which city is the capital?\", \"context\": \"The capital of France is "
        "Paris, a big city.\", \"answers\": {\"text\": [\"Paris\", \"Paris, a big city\"], \"answer_start\": [25, "
        "25]}}\n\n"
        "{\"id\": \"b\", \"question\": \"Why?\", \"context\": \"No reason.\", \"answers\": {\"text\": [], "
        "\"answer_start\": []}}\n");
  const std::vector<QaRecord> records = read_qa_records(p);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].id, "a");
  EXPECT_EQ(records[1].line, 3);
  const std::vector<Example> f = load_qa(p, tok());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].start_position, 30);  // the first answer is the one trained on
  EXPECT_EQ(f[0].end_position, 33);
  EXPECT_EQ(f[1].start_position, 0);
  EXPECT_EQ(f[1].end_position, 0);
}

// A question whose answer ("Berlin") sits near the end of a 17-word context.
QaRecord berlin_record() {
  QaRecord r;
  r.question = "Where?";
  r.context = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen Berlin end";
  r.answer_texts = {"Berlin"};
  r.answer_starts = {static_cast<int64_t>(r.context.find("Berlin"))};
  return r;
}

TEST(TrainDataQa, WindowsWithStrideAndAnswerOutside) {
  const QaRecord r = berlin_record();
  const std::vector<int64_t> q = tok().encode("Where?", EncodeOptions{false}).input_ids;
  const std::vector<int64_t> c = tok().encode(r.context, EncodeOptions{false}).input_ids;
  QaOptions o;
  o.max_seq_length = static_cast<int64_t>(q.size()) + 3 + 8;  // 8 context tokens per window
  o.doc_stride = 3;                                           // step 5
  const std::vector<Example> f = qa_features(r, tok(), o);
  const int64_t n = static_cast<int64_t>(c.size());
  int64_t windows = 1;
  for (int64_t start = 0; start + 8 < n; start += 5) ++windows;
  ASSERT_EQ(static_cast<int64_t>(f.size()), windows);
  int64_t found = 0;
  for (size_t w = 0; w < f.size(); ++w) {
    const Example& x = f[w];
    const int64_t start = static_cast<int64_t>(w) * 5;
    const int64_t len = std::min<int64_t>(8, n - start);
    ASSERT_EQ(static_cast<int64_t>(x.input_ids.size()), static_cast<int64_t>(q.size()) + 3 + len);
    EXPECT_EQ(x.input_ids[q.size() + 2], c[start]);  // windows overlap by doc_stride tokens
    if (x.start_position == 0) {
      EXPECT_EQ(x.end_position, 0);
    } else {
      ++found;
      EXPECT_EQ(span_text(x), "Berlin");
    }
  }
  EXPECT_GE(found, 1);
  EXPECT_EQ(f[0].start_position, 0);  // the first window ends long before "Berlin"
}

// HF's fast tokenizers check the stride only when the context overflows: a short context gives
// one window with any doc_stride (run_qa's default 128 with --max-seq-length 128 works on short
// contexts); a long one is refused with the numbers.
TEST(TrainDataQa, StrideCheckedOnlyWhenTheContextOverflows) {
  const QaRecord r = berlin_record();
  const std::vector<int64_t> q = tok().encode("Where?", EncodeOptions{false}).input_ids;
  const int64_t n = static_cast<int64_t>(tok().encode(r.context, EncodeOptions{false}).input_ids.size());
  QaOptions o;
  o.doc_stride = 128;
  o.max_seq_length = static_cast<int64_t>(q.size()) + 3 + n;  // the context just fits
  const std::vector<Example> f = qa_features(r, tok(), o);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(span_text(f[0]), "Berlin");
  o.max_seq_length -= 1;  // one token too many: windows, and a stride that cannot be
  const std::string e = error_of([&] { qa_features(r, tok(), o); });
  EXPECT_NE(e.find("doc_stride (128) must be smaller than the context tokens of a window (" + std::to_string(n - 1)),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("when the context (" + std::to_string(n) + " tokens) is split into windows"), std::string::npos)
      << e;
}

// ---------------------------------------------------------------- errors

TEST(TrainDataErrors, MessagesNameFileAndLine) {
  TempDir dir;
  const std::string p = dir.file("bad.jsonl");
  const auto cls = [&](const std::string& content) {
    write(p, content);
    return error_of([&] { load_classification(p, tok()); });
  };
  EXPECT_EQ(cls(""), p + ": empty file (expected one JSON object per line)");
  EXPECT_EQ(cls("\n  \n"), p + ": empty file (expected one JSON object per line)");
  const std::string bad = cls("{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"a\", \"label\": \n");
  EXPECT_EQ(bad.rfind(p + ":3: not valid JSON: ", 0), 0u) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos);
  EXPECT_EQ(cls("[1, 2]\n"), p + ":1: expected a JSON object (one per line), got array");
  EXPECT_EQ(cls("{\"text\": \"a\"}\n"), p + ":1: missing field \"label\"");
  EXPECT_EQ(cls("{\"text\": 3, \"label\": 1}\n"), p + ":1: field \"text\" must be a string, got number");
  EXPECT_EQ(cls("{\"text\": \"a\", \"label\": true}\n"),
            p + ":1: field \"label\" must be a string or an integer, got boolean");
  EXPECT_EQ(cls("{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"x\"}\n"),
            p + ":2: field \"label\" is a string but earlier labels are integers");
  EXPECT_EQ(error_of([&] { load_classification(dir.file("missing.jsonl"), tok()); }),
            dir.file("missing.jsonl") + ": cannot read the file (No such file or directory)");

  write(p, "{\"tokens\": [\"a\"], \"tags\": [\"O\", \"O\"]}\n");
  EXPECT_EQ(error_of([&] { load_token_classification(p, tok()); }),
            p + ":1: \"tokens\" has 1 words but \"tags\" has 2 tags");
  write(p, "{\"tokens\": \"a b\", \"tags\": [\"O\"]}\n");
  EXPECT_EQ(error_of([&] { load_token_classification(p, tok()); }),
            p + ":1: field \"tokens\" must be a list of strings, got string");
  write(p, "{\"tokens\": [\"a\"], \"tags\": [\"X\"]}\n");
  TokenClassificationOptions to;
  to.label2id = {{"O", 0}};
  EXPECT_EQ(error_of([&] { load_token_classification(p, tok(), to); }),
            p + ":1: unknown label \"X\": the model's labels (from its checkpoint, or the training set for validation "
                "data) are O");

  write(p, "{\"id\": \"1\", \"question\": \"q\", \"context\": \"c\", \"answers\": {\"text\": [\"c\"]}}\n");
  EXPECT_EQ(error_of([&] { load_qa(p, tok()); }), p + ":1: missing field \"answers.answer_start\"");
  write(p,
        "{\"id\": \"1\", \"question\": \"q\", \"context\": \"c\", \"answers\": {\"text\": [\"c\"], \"answer_start\": "
        "[\"0\"]}}\n");
  EXPECT_EQ(error_of([&] { load_qa(p, tok()); }),
            p + ":1: field \"answers.answer_start\" must be a list of non-negative integers, got \"0\"");
  write(p, "{\"id\": \"1\", \"question\": \"q\", \"context\": 5}\n");
  EXPECT_EQ(error_of([&] { load_qa(p, tok()); }), p + ":1: field \"context\" must be a string, got number");
  write(
      p,
      "\n{\"question\": \"q q q q q q q q\", \"context\": \"c\", \"answers\": {\"text\": [], \"answer_start\": []}}\n");
  QaOptions qo;
  qo.max_seq_length = 8;
  const std::string room = error_of([&] { load_qa(p, tok(), qo); });
  EXPECT_EQ(room.rfind(p + ":2: the question is ", 0), 0u) << room;

  const std::string t = dir.file("empty.txt");
  write(t, "\n \n");
  EXPECT_EQ(error_of([&] { load_mlm_corpus(t, tok(), 8); }),
            t + ": empty file (expected text, documents separated by blank lines)");
  write(t, "fine\n\nbad \xff byte\n");
  const std::string utf = error_of([&] { load_mlm_corpus(t, tok(), 8); });
  EXPECT_EQ(utf.rfind(t + ":3: the line is not valid UTF-8", 0), 0u) << utf;
  write(p, "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  EXPECT_EQ(error_of([&] { load_mlm_corpus(p, tok(), 8); }), p + ":2: missing field \"text\"");
}

}  // namespace
}  // namespace bigbird::train
