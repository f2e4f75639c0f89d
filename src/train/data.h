// Training data: files in, unpadded training rows out, with HF's example scripts' semantics
// (transformers 4.27 run_mlm / run_glue / run_ner / run_qa), plus the MLM masking collator.
//
//   auto tok = bigbird::Tokenizer::load("models/tiny-mlm");
//   auto rows = bigbird::train::load_mlm_corpus("corpus.txt", *tok, 512);
//   auto info = bigbird::train::MaskingInfo::from(*tok);
//   Example batch_row = bigbird::train::mask_tokens(rows[i], info, seed, epoch, i);
//
// Every loader throws bigbird::Error with a one-line message "FILE:LINE: ..." for a bad record
// (malformed JSON, a missing field, a wrong type, an unknown label) and "FILE: ..." for a
// problem of the whole file (unreadable, empty). Nothing here keeps global state.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/tokenizer.h"

namespace bigbird::train {

// One training row, unpadded.
struct Example {
  std::vector<int64_t> input_ids, token_type_ids, attention_mask;  // type/mask may be empty (zeros/ones)
  // MLM / token classification: one per token (-100 = ignored); sequence classification: 1 value.
  std::vector<int64_t> labels;
  std::vector<float> float_labels;                 // regression (1 value) or multi-label (num_labels values)
  int64_t start_position = -1, end_position = -1;  // question answering
  // QA: per token, character span in the context (code points, as QaRecord::answer_starts);
  // {-1,-1} outside the context (question, special tokens).
  std::vector<std::pair<int64_t, int64_t>> offsets;
  // QA: the record this feature (window) comes from: its position in the file (load_qa); -1 from
  // qa_features, which sees one record.
  int64_t example_index = -1;
  // MLM: HF's special_tokens_mask (1 = never masked); empty elsewhere.
  std::vector<int64_t> special_tokens_mask;
};

inline constexpr int64_t kIgnoreIndex = -100;

// ---------------------------------------------------------------- masked language modelling

// HF run_mlm without --line_by_line. `path` is a plain-text file (documents separated by blank
// lines; the lines of a document are joined with "\n") or JSONL {"text": ...} (one document per
// line, the field named `text_column`; chosen by the extension .jsonl/.json, or when the first
// non-blank line is a JSON object).
// Each document is tokenized without truncation ([CLS] ... [SEP] and a special-tokens mask), then
// group_texts: per `group_batch_size` documents (datasets.map's default batch of 1000) the rows
// are concatenated and cut into blocks of max_seq_length; the remainder of a batch is dropped
// unless the batch is shorter than one block (then it is one short row).
std::vector<Example> load_mlm_corpus(const std::string& path, const Tokenizer& tokenizer, int64_t max_seq_length,
                                     int64_t group_batch_size = 1000, const std::string& text_column = "text");

// The same on documents already in memory.
std::vector<Example> group_mlm_documents(const std::vector<std::string>& documents, const Tokenizer& tokenizer,
                                         int64_t max_seq_length, int64_t group_batch_size = 1000);

// What the masking collator needs from the tokenizer.
struct MaskingInfo {
  int64_t mask_id = -1;
  int64_t vocab_size = 0;            // random replacements are drawn from [0, vocab_size)
  std::vector<int64_t> special_ids;  // used when an example has no special_tokens_mask
  static MaskingInfo from(const Tokenizer& tokenizer);
};

// HF DataCollatorForLanguageModeling.torch_mask_tokens on one row: each token that is not special
// is selected with probability mlm_probability; a selected token becomes mask_id (80%), a random
// id (10%) or stays (10%); labels hold the original id where selected, -100 elsewhere. The draws
// depend only on (seed, epoch, index, position): a counter-based generator, so the result is the
// same whatever the call order, thread or process count.
Example mask_tokens(const Example& example, const MaskingInfo& info, uint64_t seed, int64_t epoch, int64_t index,
                    double mlm_probability = 0.15);

// ---------------------------------------------------------------- sequence classification

enum class ProblemType { SingleLabel, Regression, MultiLabel };
const char* problem_type_name(ProblemType p);  // HF's "single_label_classification", ...

struct ClassificationOptions {
  std::string text_column = "text";
  std::string text_pair_column = "text_pair";  // optional in every record
  std::string label_column = "label";
  int64_t max_seq_length = 128;
  // A checkpoint's label2id: honoured as is (an unknown label is an error). Empty: sorted labels.
  std::map<std::string, int64_t> label2id;
};

struct ClassificationData {
  std::vector<Example> examples;
  ProblemType problem = ProblemType::SingleLabel;
  int64_t num_labels = 0;             // 1 for regression
  std::vector<std::string> id2label;  // empty for regression
  std::map<std::string, int64_t> label2id;
};

// HF run_glue on JSONL {"text": ..., ["text_pair": ...,] "label": ...}: integer or string labels
// -> single-label (label_list = sorted(set(labels)), integers in numeric order, keys their decimal
// text); any float label -> regression (float_labels = {value}); list labels -> multi-label
// (float_labels multi-hot over the sorted labels). Tokenized with truncation longest_first.
ClassificationData load_classification(const std::string& path, const Tokenizer& tokenizer,
                                       const ClassificationOptions& options = {});

// ---------------------------------------------------------------- token classification

struct TokenClassificationOptions {
  std::string tokens_column = "tokens";
  std::string tags_column = "";             // "": "ner_tags" when a record has it, else "tags"
  int64_t max_seq_length = -1;              // < 0: the tokenizer's model_max_length
  std::map<std::string, int64_t> label2id;  // as in ClassificationOptions
};

struct TokenClassificationData {
  std::vector<Example> examples;
  std::vector<std::string> id2label;
  std::map<std::string, int64_t> label2id;
};

// HF run_ner on JSONL {"tokens": [...], "tags": [...]} (tags strings or integers; label_list sorted).
// Words are tokenized one by one without special tokens (what is_split_into_words does: every word
// gets SentencePiece's "▁" prefix), [CLS] ... [SEP] around, truncation to max_seq_length; the first
// sub-token of a word carries its tag id, the other sub-tokens and the special tokens -100.
TokenClassificationData load_token_classification(const std::string& path, const Tokenizer& tokenizer,
                                                  const TokenClassificationOptions& options = {});

// ---------------------------------------------------------------- question answering

struct QaOptions {
  int64_t max_seq_length = 384;
  int64_t doc_stride = 128;  // tokens shared by consecutive windows (HF fast tokenizers' stride)
};

// One SQuAD example as read from a file (for tests and for evaluation code).
struct QaRecord {
  std::string id, question, context;
  std::vector<std::string> answer_texts;
  std::vector<int64_t> answer_starts;  // code points into context
  int64_t line = 0;                    // line in the file (read_qa_records), for messages
};

// HF run_qa prepare_train_features on one record: question (lstripped) + context, truncation
// only_second to max_seq_length with overflow windows that share doc_stride context tokens; the
// answer's (first answer's) start/end token in each window that contains it whole, else (and for
// records without an answer) both at the [CLS] index 0. Throws bigbird::Error (no file prefix).
std::vector<Example> qa_features(const QaRecord& record, const Tokenizer& tokenizer, const QaOptions& options);

// SQuAD JSONL {"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}.
std::vector<QaRecord> read_qa_records(const std::string& path);
// read_qa_records + qa_features (errors of a record prefixed "FILE:LINE: ").
std::vector<Example> load_qa(const std::string& path, const Tokenizer& tokenizer, const QaOptions& options = {});

}  // namespace bigbird::train
