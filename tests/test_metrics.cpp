// Evaluation metrics (src/train/metrics.h) with hand-computed expectations: seqeval's entities and
// scores, the SQuAD v1.1 metric, run_qa's span selection; and the QA features' offsets and
// example indices that the span selection needs (src/train/data_qa.cpp).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/data.h"
#include "train/metrics.h"

namespace bigbird::train {
namespace {

using Tags = std::vector<std::string>;
using Offsets = std::vector<std::pair<int64_t, int64_t>>;

std::vector<Entity> ents(const Tags& tags) { return get_entities(tags); }

// ---------------------------------------------------------------- seqeval

TEST(MetricsSeqeval, GetEntitiesIob2) {
  EXPECT_EQ(ents({"B-PER", "I-PER", "O", "B-LOC"}), (std::vector<Entity>{{"PER", 0, 1}, {"LOC", 3, 3}}));
  EXPECT_EQ(ents({}), std::vector<Entity>{});
  EXPECT_EQ(ents({"O", "O"}), std::vector<Entity>{});
}

TEST(MetricsSeqeval, GetEntitiesEdgeCases) {
  // I- after O starts an entity (IOB1 style); so does I- at the very start.
  EXPECT_EQ(ents({"O", "I-PER", "I-PER"}), (std::vector<Entity>{{"PER", 1, 2}}));
  EXPECT_EQ(ents({"I-PER", "O"}), (std::vector<Entity>{{"PER", 0, 0}}));
  // B- after B- splits; a type change splits, whatever the prefix.
  EXPECT_EQ(ents({"B-PER", "B-PER"}), (std::vector<Entity>{{"PER", 0, 0}, {"PER", 1, 1}}));
  EXPECT_EQ(ents({"B-PER", "I-LOC", "I-LOC"}), (std::vector<Entity>{{"PER", 0, 0}, {"LOC", 1, 2}}));
  EXPECT_EQ(ents({"I-PER", "I-LOC"}), (std::vector<Entity>{{"PER", 0, 0}, {"LOC", 1, 1}}));
  // The entity that reaches the end is kept.
  EXPECT_EQ(ents({"O", "B-X"}), (std::vector<Entity>{{"X", 1, 1}}));
  EXPECT_EQ(ents({"O", "B-X", "I-X"}), (std::vector<Entity>{{"X", 1, 2}}));
  // IOBES: S is one token, E ends, I after E starts anew, E after O starts.
  EXPECT_EQ(ents({"S-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER"}),
            (std::vector<Entity>{{"PER", 0, 0}, {"LOC", 1, 3}, {"PER", 4, 4}}));
  EXPECT_EQ(ents({"B-A", "E-A", "I-A"}), (std::vector<Entity>{{"A", 0, 1}, {"A", 2, 2}}));
  EXPECT_EQ(ents({"O", "E-A"}), (std::vector<Entity>{{"A", 1, 1}}));
  EXPECT_EQ(ents({"B-A", "S-A"}), (std::vector<Entity>{{"A", 0, 0}, {"A", 1, 1}}));
  // The type is everything after the first '-'; bare prefixes have type "_".
  EXPECT_EQ(ents({"B-PER-X", "I-PER-X"}), (std::vector<Entity>{{"PER-X", 0, 1}}));
  EXPECT_EQ(ents({"B", "I", "O", "S"}), (std::vector<Entity>{{"_", 0, 1}, {"_", 3, 3}}));
  // No prefix: the first character is taken as one ("PER" -> prefix P, type ER); equal types
  // continue the chunk, a new type starts one.
  EXPECT_EQ(ents({"PER", "PER", "O", "PER", "LOC"}), (std::vector<Entity>{{"ER", 0, 1}, {"ER", 3, 3}, {"OC", 4, 4}}));
  EXPECT_THROW(ents({"B-X", ""}), Error);
}

TEST(MetricsSeqeval, SentencesAreSeparatedByO) {
  // [B-A] O [I-A] O: the second sentence's I- starts a new entity at position 2.
  EXPECT_EQ(get_entities(std::vector<Tags>{{"B-A"}, {"I-A"}}), (std::vector<Entity>{{"A", 0, 0}, {"A", 2, 2}}));
  EXPECT_EQ(get_entities(std::vector<Tags>{{"O", "B-A"}, {}, {"S-B"}}),
            (std::vector<Entity>{{"A", 1, 1}, {"B", 4, 4}}));
}

TEST(MetricsSeqeval, ScoresAsSeqevalsDocstring) {
  // seqeval's docstring example: f1 0.50, accuracy 0.80.
  const std::vector<Tags> gold = {{"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
  const std::vector<Tags> pred = {{"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
  const EntityScores s = entity_scores(gold, pred);
  EXPECT_EQ(s.gold, 2);
  EXPECT_EQ(s.predicted, 2);
  EXPECT_EQ(s.correct, 1);
  EXPECT_DOUBLE_EQ(s.precision, 0.5);
  EXPECT_DOUBLE_EQ(s.recall, 0.5);
  EXPECT_DOUBLE_EQ(s.f1, 0.5);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.8);
}

TEST(MetricsSeqeval, ScoresHandComputed) {
  // gold PER(0,1) LOC(3,3) ORG(5,5); predicted PER(0,1) LOC(3,4) ORG(5,5) PER(7,7).
  const std::vector<Tags> gold = {{"B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "O"}};
  const std::vector<Tags> pred = {{"B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG", "O", "B-PER"}};
  const EntityScores s = entity_scores(gold, pred);
  EXPECT_EQ(s.gold, 3);
  EXPECT_EQ(s.predicted, 4);
  EXPECT_EQ(s.correct, 2);
  EXPECT_DOUBLE_EQ(s.precision, 2.0 / 4);
  EXPECT_DOUBLE_EQ(s.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3));  // 4/7
  EXPECT_DOUBLE_EQ(s.accuracy, 6.0 / 8);
  // A wrong type on the right span is wrong.
  EXPECT_EQ(entity_scores({{"B-PER"}}, {{"B-LOC"}}).correct, 0);
}

TEST(MetricsSeqeval, ZeroDivisionGivesZero) {
  const EntityScores none = entity_scores({{"B-PER", "O"}}, {{"O", "O"}});
  EXPECT_EQ(none.predicted, 0);
  EXPECT_EQ(none.precision, 0.0);
  EXPECT_EQ(none.recall, 0.0);
  EXPECT_EQ(none.f1, 0.0);
  EXPECT_DOUBLE_EQ(none.accuracy, 0.5);
  const EntityScores empty = entity_scores({}, {});
  EXPECT_EQ(empty.accuracy, 0.0);
  EXPECT_EQ(empty.f1, 0.0);
}

TEST(MetricsSeqeval, MismatchedShapesAreErrors) {
  try {
    entity_scores({{"O"}, {"O"}}, {{"O"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "entity scores: 2 gold sentences but 1 predicted");
  }
  try {
    entity_scores({{"O"}, {"O", "B-X"}}, {{"O"}, {"O"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "entity scores: sentence 1 has 2 gold tags but 1 predicted");
  }
}

// ---------------------------------------------------------------- SQuAD

TEST(MetricsSquad, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer("The  Quick, brown fox!"), "quick brown fox");
  EXPECT_EQ(normalize_answer("An apple a day"), "apple day");
  EXPECT_EQ(normalize_answer("theater Anna that"), "theater anna that");  // whole words only
  EXPECT_EQ(normalize_answer("a-b (c)"), "ab c");                         // punctuation goes first
  EXPECT_EQ(normalize_answer("the-a"), "thea");
  EXPECT_EQ(normalize_answer("  \t\n "), "");
  EXPECT_EQ(normalize_answer("\xC3\x89lan the \xC3\x89\x43OLE"), "\xC3\xA9lan \xC3\xA9\x63ole");  // Élan ÉCOLE
  // Non-ASCII punctuation stays, but is no word character: the article between goes.
  EXPECT_EQ(normalize_answer("\xE2\x80\x9Cthe\xE2\x80\x9D end"), "\xE2\x80\x9C \xE2\x80\x9D end");
  // A non-ASCII letter is a word character: "éa" keeps its "a".
  EXPECT_EQ(normalize_answer("\xC3\xA9 a"), "\xC3\xA9");
  EXPECT_EQ(normalize_answer("\xC3\xA9\x61"), "\xC3\xA9\x61");
  EXPECT_EQ(normalize_answer("\xCE\xA3\xCE\x99 \xD0\x9C\xD0\x98\xD0\xA0"), "\xCF\x83\xCE\xB9 \xD0\xBC\xD0\xB8\xD1\x80");
  EXPECT_THROW(normalize_answer("\xFF"), Error);
}

TEST(MetricsSquad, ExactMatchAndTokenF1) {
  EXPECT_TRUE(exact_match("the Denver Broncos.", "Denver  broncos"));
  EXPECT_FALSE(exact_match("Denver", "Denver Broncos"));
  EXPECT_TRUE(exact_match("", "the"));  // both normalise to ""
  // pred [cat, sat], gold [cat, sat, down]: p = 1, r = 2/3, f1 = 0.8.
  EXPECT_DOUBLE_EQ(token_f1("the cat sat", "a cat sat down"), 0.8);
  // Multiplicity: common = min(3, 2) = 2 -> p = r = 2/3.
  EXPECT_DOUBLE_EQ(token_f1("cat cat cat", "cat cat dog"), 2.0 / 3);
  EXPECT_EQ(token_f1("dog", "cat"), 0.0);
  EXPECT_EQ(token_f1("", ""), 0.0);  // no common token (as the official script)
  EXPECT_EQ(token_f1("the", "cat"), 0.0);
}

TEST(MetricsSquad, CorpusScoresAreMeansTimes100) {
  const SquadScores s = squad_scores({"Denver Broncos", "paris", "nothing"},
                                     {{"Denver Broncos", "The Denver Broncos"}, {"Paris, France", "Paris"}, {"x y"}});
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.exact_match, 100.0 * 2 / 3);
  EXPECT_DOUBLE_EQ(s.f1, 100.0 * 2 / 3);
  // Best F1 over the gold answers: pred [paris] vs gold [paris, france]: p = 1, r = 1/2, f1 = 2/3;
  // vs [london]: 0.
  const SquadScores t = squad_scores({"paris"}, {{"Paris France", "London"}});
  EXPECT_DOUBLE_EQ(t.exact_match, 0.0);
  EXPECT_DOUBLE_EQ(t.f1, 100.0 * 2 / 3);
  EXPECT_EQ(squad_scores({}, {}).f1, 0.0);
  EXPECT_THROW(squad_scores({"a"}, {}), Error);
  EXPECT_THROW(squad_scores({"a"}, {{}}), Error);
}

// ---------------------------------------------------------------- run_qa span selection

// [CLS] q [SEP] c0 c1 c2 [SEP]: context tokens at 3..5.
const std::string kContext = "Hello world again";
const Offsets kOffsets = {{-1, -1}, {-1, -1}, {-1, -1}, {0, 5}, {5, 11}, {11, 17}, {-1, -1}};

QaFeatureView view(const std::vector<float>& s, const std::vector<float>& e, const Offsets& o) {
  return {s.data(), e.data(), static_cast<int64_t>(s.size()), &o};
}

TEST(MetricsQa, BestSpanSkipsTokensOutsideTheContext) {
  // The highest logits are on [CLS], the question and [SEP]: skipped. Valid spans (s <= e in
  // 3..5): the best is (4, 5) = 3 + 4.
  const std::vector<float> s = {9, 8, 8, 1, 3, 2, 9};
  const std::vector<float> e = {9, 8, 8, 0.5f, 2, 4, 9};
  const QaSpan span = best_span({view(s, e, kOffsets)});
  ASSERT_TRUE(span.found);
  EXPECT_EQ(span.start_token, 4);
  EXPECT_EQ(span.end_token, 5);
  EXPECT_EQ(span.score, 7.0f);
  EXPECT_EQ(span.start_char, 5);
  EXPECT_EQ(span.end_char, 17);
  EXPECT_EQ(span.candidates, 6);  // (3,3) (3,4) (3,5) (4,4) (4,5) (5,5)
  EXPECT_EQ(best_answer(kContext, {view(s, e, kOffsets)}), " world again");
  // max_answer_length 1: single tokens only: (5,5) = 2 + 4.
  EXPECT_EQ(best_answer(kContext, {view(s, e, kOffsets)}, 20, 1), " again");
  // n_best 4: starts and ends {6, 0, 2, 1} (ties: later first): nothing valid.
  EXPECT_EQ(best_span({view(s, e, kOffsets)}, 4).candidates, 0);
  EXPECT_EQ(best_answer(kContext, {view(s, e, kOffsets)}, 4), "empty");
  // n_best 5 adds start 4 and end 5: the one span (4, 5).
  EXPECT_EQ(best_span({view(s, e, kOffsets)}, 5).candidates, 1);
  EXPECT_EQ(best_answer(kContext, {view(s, e, kOffsets)}, 5), " world again");
}

TEST(MetricsQa, EndBeforeStartIsSkipped) {
  const std::vector<float> s = {0, 0, 0, 0, 0, 9, 0};
  const std::vector<float> e = {0, 0, 0, 8, 0, 1, 0};
  // (5, 3) scores 17 but ends before it starts; the best valid is (5, 5) = 10.
  const QaSpan span = best_span({view(s, e, kOffsets)});
  EXPECT_EQ(span.start_token, 5);
  EXPECT_EQ(span.end_token, 5);
  EXPECT_EQ(span.score, 10.0f);
}

TEST(MetricsQa, BestOverFeaturesFirstOnTies) {
  // A second window over "world again" (tokens 3, 4): its best (4, 4) = 6 + 0.5 beats 5.
  const Offsets o2 = {{-1, -1}, {-1, -1}, {-1, -1}, {5, 11}, {11, 17}, {-1, -1}};
  const std::vector<float> s1 = {0, 0, 0, 1, 3, 0, 0}, e1 = {0, 0, 0, 0, 2, 0, 0};
  const std::vector<float> s2 = {0, 0, 0, 0, 6, 0}, e2 = {0, 0, 0, 0, 0.5f, 0};
  QaSpan span = best_span({view(s1, e1, kOffsets), view(s2, e2, o2)});
  EXPECT_EQ(span.feature, 1);
  EXPECT_EQ(span.score, 6.5f);
  EXPECT_EQ(best_answer(kContext, {view(s1, e1, kOffsets), view(s2, e2, o2)}), " again");
  // Equal best scores: the first feature's span.
  const std::vector<float> s3 = {0, 0, 0, 0, 5, 0}, e3 = {0, 0, 0, 0, 0, 0};
  span = best_span({view(s1, e1, kOffsets), view(s3, e3, o2)});
  EXPECT_EQ(span.feature, 0);
  EXPECT_EQ(span.score, 5.0f);
  EXPECT_EQ(best_answer(kContext, {view(s1, e1, kOffsets), view(s3, e3, o2)}), " world");
}

TEST(MetricsQa, EmptyAnswersAndUnicode) {
  // No feature, or the only candidate has an empty text: "empty" (as run_qa).
  EXPECT_EQ(best_answer(kContext, {}), "empty");
  const Offsets zero = {{-1, -1}, {3, 3}, {-1, -1}};
  const std::vector<float> s = {0, 1, 0}, e = {0, 1, 0};
  EXPECT_EQ(best_answer(kContext, {view(s, e, zero)}), "empty");
  // Offsets shorter than the logits: the tokens past them are outside the context.
  const Offsets shorter = {{-1, -1}, {0, 5}};
  EXPECT_EQ(best_answer(kContext, {view(s, e, shorter)}), "Hello");
  // Offsets count code points: "héllo wörld".
  const std::string ctx = "h\xC3\xA9llo w\xC3\xB6rld";
  const Offsets uo = {{-1, -1}, {6, 11}, {-1, -1}};
  EXPECT_EQ(best_answer(ctx, {view(s, e, uo)}), "w\xC3\xB6rld");
  // Past the context's end: clamped like a Python slice.
  const Offsets past = {{-1, -1}, {12, 40}, {-1, -1}};
  EXPECT_EQ(best_answer(kContext, {view(s, e, past)}), "again");
  EXPECT_THROW(best_span({view(s, e, zero)}, 0), Error);
  EXPECT_THROW(best_span({view(s, e, zero)}, 20, 0), Error);
  EXPECT_THROW(best_span({QaFeatureView{s.data(), e.data(), 3, nullptr}}), Error);
}

// ---------------------------------------------------------------- QA features: offsets, example index

const Tokenizer& tok() {
  static const std::unique_ptr<Tokenizer> t = Tokenizer::load(test::data_path("../../models/tiny-mlm"));
  return *t;
}

TEST(MetricsQaFeatures, OffsetsCoverTheContextOnly) {
  // As TrainDataQa.HandCheckedPositions: [CLS] question (1..16) [SEP] (17), context 18..42,
  // [SEP] 43; ▁The (0,3), ▁P (24,26), s (29,30).
  QaRecord r;
  r.question = "Which city is the capital?";
  r.context = "The capital of France is Paris, a big city.";
  r.answer_texts = {"Paris"};
  r.answer_starts = {25};
  const std::vector<Example> f = qa_features(r, tok(), {});
  ASSERT_EQ(f.size(), 1u);
  const Example& x = f[0];
  ASSERT_EQ(x.offsets.size(), x.input_ids.size());
  ASSERT_EQ(x.input_ids.size(), 44u);
  for (size_t t = 0; t < 18; ++t) EXPECT_EQ(x.offsets[t], std::make_pair(int64_t{-1}, int64_t{-1})) << t;
  EXPECT_EQ(x.offsets[18], std::make_pair(int64_t{0}, int64_t{3}));
  EXPECT_EQ(x.offsets[30], std::make_pair(int64_t{24}, int64_t{26}));
  EXPECT_EQ(x.offsets[33], std::make_pair(int64_t{29}, int64_t{30}));
  EXPECT_EQ(x.offsets[43], std::make_pair(int64_t{-1}, int64_t{-1}));
  EXPECT_EQ(x.example_index, -1);
  EXPECT_EQ(x.start_position, 30);
  EXPECT_EQ(x.end_position, 33);

  // Logits that peak at the gold positions give run_qa's answer: the offsets of "▁P" include
  // the space before it, as HF's fast tokenizer's do; the SQuAD metric normalises it away.
  std::vector<float> s(x.input_ids.size(), 0.0f), e(x.input_ids.size(), 0.0f);
  s[30] = 5;
  e[33] = 5;
  const std::string answer = best_answer(r.context, {view(s, e, x.offsets)});
  EXPECT_EQ(answer, " Paris");
  EXPECT_TRUE(exact_match(answer, "Paris"));
}

TEST(MetricsQaFeatures, WindowsShareTheirExampleIndex) {
  test::TempDir dir;
  const std::string p = dir.file("squad.jsonl");
  std::ofstream(p, std::ios::binary)
      << "{\"id\": \"a\", \"question\": \"Where?\", \"context\": \"one two three four five six seven eight nine ten "
         "eleven twelve Berlin end\", \"answers\": {\"text\": [\"Berlin\"], \"answer_start\": [63]}}\n"
         "{\"id\": \"b\", \"question\": \"Why?\", \"context\": \"No reason.\", \"answers\": {\"text\": [], "
         "\"answer_start\": []}}\n";
  const std::vector<int64_t> q = tok().encode("Where?", EncodeOptions{false}).input_ids;
  const Encoding c =
      tok().encode("one two three four five six seven eight nine ten eleven twelve Berlin end", EncodeOptions{false});
  QaOptions o;
  o.max_seq_length = static_cast<int64_t>(q.size()) + 3 + 8;  // 8 context tokens per window
  o.doc_stride = 3;                                           // step 5
  const std::vector<Example> f = load_qa(p, tok(), o);
  ASSERT_GE(f.size(), 3u);
  const size_t windows = f.size() - 1;  // the second record fits one window
  for (size_t w = 0; w < windows; ++w) {
    EXPECT_EQ(f[w].example_index, 0) << w;
    ASSERT_EQ(f[w].offsets.size(), f[w].input_ids.size());
    EXPECT_EQ(f[w].offsets[q.size() + 2], c.offsets[w * 5]) << w;  // the window's first context token
    EXPECT_EQ(f[w].offsets.back(), std::make_pair(int64_t{-1}, int64_t{-1}));
  }
  EXPECT_EQ(f.back().example_index, 1);
}

}  // namespace
}  // namespace bigbird::train
