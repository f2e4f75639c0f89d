// Tasks on top of the encoder: text in, the JSON HuggingFace's pipelines return out.
//
// A task (fill-mask, classify, qa, tag, embed, tokenize) turns one input record into encoder rows
// (`prepare`), reduces each row's encoder output with its head (`head`) and turns the results
// into JSON (`finish`). `run_items` runs the rows of many inputs: sorted by length and
// `batch_size` at a time side by side, one thread per row and never padded, so every answer is
// bit-identical to the answer for that input alone (OpenBLAS's sgemm rounds a row differently
// depending on the other rows of the call, so padded multi-row batches would not be).
//
//   auto tm = TaskModel::load("models/tiny-mlm", "");
//   FillMaskTask task(*tm, {});
//   nlohmann::ordered_json answer = run_one(task, InputRecord{"Paris is the [MASK] of France."}, {});
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "models/bigbird_model.h"
#include "text/tokenizer.h"

namespace bigbird::tasks {

using json = nlohmann::ordered_json;

// A bad input (as opposed to a bad model or file): a batch run can skip it and go on.
class InputError : public Error {
 public:
  using Error::Error;
};

// An input with more tokens than the model (or a task's limit) takes.
class TooLongError : public InputError {
 public:
  using InputError::InputError;
};

template <typename... Args>
[[noreturn]] void input_fail(const Args&... args) {
  throw InputError(detail::concat(args...));
}

// One input. Text tasks use text (+ text_pair), question answering uses question + context.
struct InputRecord {
  std::string text;
  std::optional<std::string> text_pair;
  std::string question, context;
};

// Which fields a task reads from a JSONL line.
enum class InputKind {
  Text,             // {"text": ...}
  TextOrPair,       // {"text": ..., "text_pair": ...} (pair optional)
  QuestionContext,  // {"question": ..., "context": ...}
};

// One encoder input row (no padding except where a task pads on purpose, e.g. QA windows).
struct EncoderRow {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;  // empty: zeros
  std::vector<int64_t> attention_mask;  // empty: ones
};

struct RunOptions {
  int batch_size = 16;                         // rows run side by side (one thread each)
  PlanSource plan_source = PlanSource::Zeros;  // as transformers >= 4.30's pipelines (eval mode)
  uint64_t seed = 0;                           // for PlanSource::Seeded
  std::optional<AttentionType> attention;      // overrides config.attention_type
  Precision precision = Precision::F32;        // the projections' dtype (ForwardOptions::precision)
  ThreadingContext threading;                  // the threads of the run (--threads)
};

// A checkpoint and its tokenizer, checked to belong together.
class TaskModel {
 public:
  // The tokenizer comes from `tokenizer_dir` (empty: `model_dir`); the weights from `model_dir`
  // unless `with_weights` is false (the tokenize task needs only the tokenizer files). Throws
  // bigbird::Error on missing or unreadable files and on a tokenizer whose vocabulary or special
  // ids do not match the model's config.
  static std::unique_ptr<TaskModel> load(const std::string& model_dir, const std::string& tokenizer_dir,
                                         bool with_weights = true, const ConfigOverrides& ov = {});

  bool has_model() const { return model_ != nullptr; }
  const BigBirdModel& model() const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& model_dir() const { return model_dir_; }
  // config.json's problem_type ("" when absent).
  const std::string& problem_type() const { return problem_type_; }
  // id2label[i], or HF's default "LABEL_i".
  std::string label(int64_t i) const;

  // Whether the encoder takes an input of n tokens in one piece (block padding included).
  bool fits(int64_t n, const RunOptions& opt) const;
  // The longest such input.
  int64_t max_tokens(const RunOptions& opt) const;
  // TooLongError (an InputError) when n tokens do not fit ("the input has N tokens; ... at most M ...").
  void check_fits(int64_t n, const RunOptions& opt, std::string_view task) const;
  // Error unless the checkpoint has the head a task needs (`what` = "a masked-LM head", ...).
  void require(bool has_head, std::string_view task, std::string_view what) const;

 private:
  std::string model_dir_;
  std::string problem_type_;
  std::unique_ptr<BigBirdModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

// One input, prepared by a task: the encoder rows it needs and, after run_items, what the
// task's head returned for each row. Tasks derive from it to keep their own state.
struct Item {
  virtual ~Item() = default;
  std::vector<EncoderRow> rows;
  std::vector<Tensor> outputs;  // one per row, filled by run_items

  // Windows of a long input (--stride, tasks/long_input.h) are made and reduced while they run:
  // when windows() > 0, run_items asks make_window(w) for `batch_size` windows at a time, runs
  // them side by side and hands each head output to take_window(w, ·) in window order, so memory
  // holds one batch of windows, never all of them (`rows` and `outputs` then stay unused).
  virtual int64_t windows() const { return 0; }
  virtual EncoderRow make_window(int64_t w) const;
  virtual void take_window(int64_t w, Tensor&& output);
  // The token count of each row or window (servers budget and check them before running).
  virtual std::vector<int64_t> row_lengths() const;
};

class Task {
 public:
  explicit Task(const TaskModel& tm) : tm_(tm) {}
  virtual ~Task() = default;

  virtual InputKind input_kind() const = 0;
  // Tokenizes and checks one input; throws InputError on a bad one.
  virtual std::unique_ptr<Item> prepare(const InputRecord& in, const RunOptions& opt) const = 0;
  // The head's output for one row; `sequence_output` is [1, L, H].
  virtual Tensor head(const Tensor& sequence_output, const EncoderRow& row, const ThreadingContext& ctx) const = 0;
  // The answer, in the shape of the HF pipeline's output.
  virtual json finish(const Item& item) const = 0;
  // `--reverse-complement average` (tasks/fasta_input.h): one answer for a DNA window from its
  // item and its reverse complement's (both run). Throws bigbird::Error where the task has none.
  virtual json finish_strands(const Item& forward, const Item& reverse) const;

  const TaskModel& task_model() const { return tm_; }

 protected:
  const TaskModel& tm_;
};

// Runs every row of `items` through the encoder and `task.head`, filling `Item::outputs`.
// `on_progress` (optional) is called after each batch with the fraction of rows done.
void run_items(const Task& task, const std::vector<Item*>& items, const RunOptions& opt,
               const std::function<void(double)>& on_progress = {});

// prepare + run_items + finish for one input.
json run_one(const Task& task, const InputRecord& in, const RunOptions& opt);

// Helpers shared by the tasks.
// HF's numerically stable softmax in float32 (max subtracted, sum accumulated in double).
std::vector<float> softmax(const float* x, int64_t n);
// A float as JSON: the exact value of the float32 (what Python prints for `np.float32(x).item()`).
inline json score_json(float x) { return json(static_cast<double>(x)); }
// Throws InputError if `s` is not valid UTF-8 or is empty (`what` names the field).
void check_text(std::string_view s, std::string_view what, bool allow_empty = false);

}  // namespace bigbird::tasks
