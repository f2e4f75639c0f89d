// Summarization: text in, HF SummarizationPipeline's answer out, on a BigBird-Pegasus checkpoint.
//
// transformers 4.27.1's pipeline("summarization") does, for one text:
//   ids = tokenizer(config.prefix + text, truncation=...)      (PegasusTokenizer: text + </s>)
//   out = model.generate(ids, attention_mask=ones, min_length=config.min_length,
//                        max_length=config.max_length, **generate_kwargs)
//   [{"summary_text": tokenizer.decode(row, skip_special_tokens=True,
//                                      clean_up_tokenization_spaces=False)} for row in out]
// Note the pipeline passes config.json's min_length / max_length explicitly, so those win over
// generation_config.json's (every other default comes from generation_config.json when present).
//
// Inputs longer than the model takes are truncated as the tokenizer's truncation=True does (the
// end of the text is cut, </s> kept) to min(tokenizer model_max_length, max_position_embeddings);
// HF's own default, truncation=False, would crash on them. Many inputs run side by side, one
// thread each and never padded together, so every answer is bit-identical to the one the input
// gets alone.
//
//   auto s = Summarizer::load("models/tiny-pegasus", "");
//   SummarizeOptions o;  o.generation = s->default_generation();
//   json answer = s->summarize("Some long text ...", o);   // [{"summary_text": "..."}]
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/generation.h"
#include "models/pegasus_model.h"
#include "tasks/jsonl.h"
#include "tasks/task.h"
#include "text/tokenizer.h"

namespace bigbird::tasks {

struct SummarizeOptions {
  GenerationConfig generation;                 // start from Summarizer::default_generation()
  bool truncation = true;                      // false: an input that is too long is an InputError
  bool clean_up_tokenization_spaces = false;   // the pipeline's default
  int batch_size = 16;                         // inputs run side by side (one thread each)
  PlanSource plan_source = PlanSource::Zeros;  // as transformers >= 4.30's pipelines (eval mode)
  uint64_t seed = 0;                           // for PlanSource::Seeded
  std::optional<AttentionType> attention;      // overrides config.attention_type
  Precision precision = Precision::F32;        // the encoder projections' dtype (ForwardOptions::precision)
  ThreadingContext threading;                  // the threads of the run (--threads)
};

// One input, tokenized.
struct SummaryInput {
  std::vector<int64_t> input_ids;  // prefix + text + </s>, truncated when needed
  int64_t full_length = 0;         // the number of tokens before truncation
  bool truncated() const { return full_length > static_cast<int64_t>(input_ids.size()); }
};

class Summarizer {
 public:
  // The weights and config from `model_dir`, the tokenizer from `tokenizer_dir` (empty:
  // `model_dir`). Throws bigbird::Error on missing files, on a checkpoint that is not
  // BigBird-Pegasus, and on a tokenizer that is not a PegasusTokenizer or whose vocabulary, pad or
  // eos id does not fit the model.
  static std::unique_ptr<Summarizer> load(const std::string& model_dir, const std::string& tokenizer_dir,
                                          const ConfigOverrides& ov = {});  // ov: --config-overrides

  const PegasusModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& prefix() const { return prefix_; }  // config.json "prefix" ("" when null)

  // The pipeline's generation settings: the checkpoint's generation defaults with config.json's
  // min_length and max_length (PretrainedConfig's 0 and 20 when absent).
  GenerationConfig default_generation() const;
  // The longest input the model takes, special tokens included.
  int64_t max_input_tokens() const;

  // Tokenizes one text; InputError on invalid UTF-8, an empty text, or (without truncation) one
  // that is too long.
  SummaryInput prepare(std::string_view text, const SummarizeOptions& opt) const;
  // Encoder + generate() for one input: sequences [num_return_sequences, T] as HF returns them.
  // `on_token` (optional, called from the calling thread) runs after each decoding step;
  // `on_step` (optional, likewise) sees that step's search state (the prefixes chosen so far:
  // what `bigbird serve` streams).
  GenerationResult generate(const SummaryInput& in, const SummarizeOptions& opt,
                            const std::function<void()>& on_token = {},
                            const std::function<void(const SearchState&)>& on_step = {}) const;
  // [{"summary_text": ...}] per returned sequence, special tokens skipped.
  json answer(const GenerationResult& r, const SummarizeOptions& opt) const;
  // prepare + generate + answer.
  json summarize(std::string_view text, const SummarizeOptions& opt) const;

 private:
  std::string model_dir_, prefix_;
  int64_t config_max_length_ = 20, config_min_length_ = 0;
  std::unique_ptr<PegasusModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

// One input of a batch: filled in by summarize_jobs.
struct SummaryJob {
  SummaryInput input;
  json answer;
  std::vector<std::string> warnings;  // HF's warnings for the generation settings
  std::function<void(const SearchState&)> on_step;  // optional: Summarizer::generate's on_step
};

// Runs the jobs opt.batch_size at a time side by side, one thread each, sorted by length.
// `on_token` is called (from any thread, concurrently) after every decoding step of any job,
// `on_done` after each finished job.
void summarize_jobs(const Summarizer& s, const std::vector<SummaryJob*>& jobs, const SummarizeOptions& opt,
                    const std::function<void()>& on_token = {}, const std::function<void()>& on_done = {});

// Tokens generated per second on stderr (a terminal): in batch mode with inputs done and ETA,
//   "  12/40 [======>          ] 30%  412.5 tokens/s  ETA 0:07"
// else "  37 tokens  85.3 tokens/s  0:02". Thread-safe; draws at most 10 times a second.
class TokenProgress {
 public:
  // total_inputs: the number of inputs (batch mode), -1 when unknown (batch from stdin);
  // `batch` = false shows tokens only.
  TokenProgress(bool enabled, bool batch, int64_t total_inputs);
  ~TokenProgress() { done(); }
  void token();       // one decoding step of one input
  void input_done();  // one input answered (or skipped)
  void clear();       // wipes the line (before printing a message on stderr)
  void done();        // ends the line

 private:
  void draw(bool force);
  void draw_locked(bool force);
  bool enabled_, batch_;
  int64_t total_;
  double start_;
  std::atomic<int64_t> tokens_{0}, inputs_{0};
  std::mutex draw_;
  double last_ = -1;
  bool drawn_ = false;
};

struct SummarizeBatchOptions {
  SummarizeOptions run;
  bool skip_bad_lines = false;  // write {"error": ...} and go on instead of failing
  bool progress = false;
  size_t read_ahead = 0;  // inputs read and run together (0: 16 x batch_size, >= 64)
  std::string source;     // the input's name in messages
};

// JSONL {"text": ...} records in, one answer line per record out, in input order, like
// run_jsonl (jsonl.h): a bad record is InputError("SOURCE:LINE: ...") unless skip_bad_lines.
// Truncated inputs and HF's generation warnings are reported on stderr.
BatchStats summarize_jsonl(const Summarizer& s, std::istream& in, int64_t total, ResultWriter& writer,
                           const SummarizeBatchOptions& opt);

}  // namespace bigbird::tasks
