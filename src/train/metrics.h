// Evaluation metrics of `bigbird train --validation-file`, as HF's example scripts report them
// (transformers 4.27 run_ner / run_qa with the `seqeval` and `squad` metrics):
//
//   EntityScores s = entity_scores(gold_tags, predicted_tags);       // run_ner's compute_metrics
//   std::string a = best_answer(context, features);                  // run_qa's post-processing
//   SquadScores q = squad_scores(predicted_answers, gold_answers);   // {"exact_match", "f1"}
//
// Every function throws bigbird::Error for inputs of mismatched sizes or bad values.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bigbird::train {

// ---------------------------------------------------------------- token classification (seqeval)

// One entity (chunk) of a tag sequence: [begin, end], both inclusive, as seqeval's get_entities.
struct Entity {
  std::string type;
  int64_t begin = 0, end = 0;
  bool operator==(const Entity&) const = default;
};

// seqeval 1.2's get_entities in its default mode (suffix=False, no scheme): a tag's first
// character is its prefix (B, I, E, S, O or anything else) and the type is the rest after the
// first '-' ("B-PER" -> PER, "B-PER-X" -> PER-X; no '-': the rest, so "PER" -> prefix P, type
// "ER"; empty -> "_"). A chunk ends before a tag when the previous prefix is E or S, when B or I
// is followed by B, S or O, or when the type changes after a prefix other than O and '.'; a chunk
// starts at B and S, at E or I after E, S or O, and where the type changes (prefix not O or '.').
// So I- after O starts an entity (IOB1), B- after B- splits, a type change splits, and the entity
// that reaches the end of the sequence is kept. Throws bigbird::Error for an empty tag.
std::vector<Entity> get_entities(const std::vector<std::string>& tags);

// The sentences' entities, concatenated as seqeval does for a list of lists: every sentence is
// followed by one "O", and positions count across the sentences.
std::vector<Entity> get_entities(const std::vector<std::vector<std::string>>& sentences);

struct EntityScores {
  double precision = 0, recall = 0, f1 = 0, accuracy = 0;
  int64_t gold = 0, predicted = 0, correct = 0;  // entities (correct: in both, type and span)
};

// seqeval's micro-averaged precision / recall / f1 (classification_report's "micro avg", HF's
// overall_precision / overall_recall / overall_f1) and accuracy_score (tokens whose tags are
// equal / all tokens: overall_accuracy). 0 where a denominator is 0 (seqeval's zero_division).
// gold and predicted must have the same number of sentences, each of the same length.
EntityScores entity_scores(const std::vector<std::vector<std::string>>& gold,
                           const std::vector<std::vector<std::string>>& predicted);

// ---------------------------------------------------------------- question answering (SQuAD v1.1)

// The official SQuAD v1.1 evaluation script's normalize_answer: lower case, ASCII punctuation
// (Python's string.punctuation) removed, the words "a", "an" and "the" removed (regex
// \b(a|an|the)\b), whitespace runs (Python str.split) joined by one space. Lower case: ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic capitals (other scripts are left as they are;
// Python's str.lower may differ there, e.g. for U+0130 and a final sigma).
std::string normalize_answer(std::string_view s);

// normalize_answer(prediction) == normalize_answer(gold).
bool exact_match(std::string_view prediction, std::string_view gold);

// Token F1 of the normalised answers split at whitespace (common tokens counted with multiplicity);
// 0 when no token is shared (also when both are empty).
double token_f1(std::string_view prediction, std::string_view gold);

struct SquadScores {
  double exact_match = 0, f1 = 0;  // corpus means x 100, as HF's `squad` metric
  int64_t count = 0;
};

// Per question: the best exact match and the best F1 over its gold answers (at least one); then
// the means x 100 (0 for no questions). predictions[i] answers the question of gold[i].
SquadScores squad_scores(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& gold);

// ---------------------------------------------------------------- QA post-processing (run_qa)

// One feature (window) of an example: its logits and its offset mapping.
struct QaFeatureView {
  const float* start_logits = nullptr;
  const float* end_logits = nullptr;
  int64_t length = 0;  // logits per row (padding positions, if given, take part in the top-n)
  // Per token: [begin, end) in code points of the context; {-1, -1} (any negative begin) outside
  // it (question, special tokens, padding): Example::offsets. Tokens past its end are outside too.
  const std::vector<std::pair<int64_t, int64_t>>* offsets = nullptr;
};

// The best span of an example over its features.
struct QaSpan {
  bool found = false;  // false: no valid span in any feature
  int64_t feature = -1, start_token = -1, end_token = -1;
  int64_t start_char = 0, end_char = 0;  // [start_char, end_char) in code points of the context
  float score = 0;                       // start_logit + end_logit (float, as numpy's float32 sum)
  int64_t candidates = 0;                // spans that passed the checks, in all features
};

// HF run_qa's postprocess_qa_predictions (version_2_with_negative=False) for one example: per
// feature the n_best highest start and end logits (ties: the later position first, as numpy's
// argsort reversed does on short rows; on long rows numpy's quicksort leaves the order of ties
// unspecified), every pair with both tokens in the context, start <= end and at most
// max_answer_length tokens, scored start_logit + end_logit; the best over all features (ties: the
// first in feature, start-rank, end-rank order, as Python's stable sort).
QaSpan best_span(const std::vector<QaFeatureView>& features, int64_t n_best = 20, int64_t max_answer_length = 30);

// The answer text of best_span: the context's code points [start_char, end_char) (clamped like a
// Python slice). As run_qa: "empty" when no span passed the checks, or when the only one has an
// empty text.
std::string best_answer(const std::string& context, const std::vector<QaFeatureView>& features, int64_t n_best = 20,
                        int64_t max_answer_length = 30);

}  // namespace bigbird::train
