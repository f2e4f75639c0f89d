#include "tasks/task.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>

#include "text/utf8.h"

namespace bigbird::tasks {

namespace fs = std::filesystem;

namespace {

std::string read_problem_type(const std::string& config_path) {
  std::ifstream f(config_path);
  if (!f) return "";
  try {
    auto j = nlohmann::json::parse(f);
    if (j.is_object() && j.contains("problem_type") && j["problem_type"].is_string())
      return j["problem_type"].get<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

std::string id_or_none(int64_t id) { return id < 0 ? std::string("none") : std::to_string(id); }

}  // namespace

std::unique_ptr<TaskModel> TaskModel::load(const std::string& model_dir, const std::string& tokenizer_dir,
                                           bool with_weights, const ConfigOverrides& ov) {
  BB_CHECK(!model_dir.empty(), "no model directory given (--model DIR)");
  BB_CHECK(fs::is_directory(model_dir), "model directory '", model_dir, "' does not exist");
  const std::string tdir = tokenizer_dir.empty() ? model_dir : tokenizer_dir;
  BB_CHECK(fs::is_directory(tdir), "tokenizer directory '", tdir, "' does not exist");
  if (!fs::exists(fs::path(tdir) / "spiece.model") && !fs::exists(fs::path(tdir) / "tokenizer.json"))
    fail("no tokenizer in '", tdir, "': spiece.model is missing, and there is no tokenizer.json",
         tokenizer_dir.empty() ? " (give the tokenizer's directory with --tokenizer DIR)" : "");

  auto tm = std::make_unique<TaskModel>();
  tm->model_dir_ = model_dir;
  tm->tokenizer_ = Tokenizer::load(tdir);
  if (!with_weights) return tm;

  const std::string config_path = (fs::path(model_dir) / "config.json").string();
  BB_CHECK(fs::exists(config_path), "no config.json in model directory '", model_dir, "'");
  tm->model_ = BigBirdModel::load(model_dir, ov);
  tm->problem_type_ = read_problem_type(config_path);

  const BigBirdConfig& c = tm->model_->config();
  // The tokenizer cannot promise more tokens than the model has positions: its model_max_length
  // (what truncation cuts to) becomes min(model_max_length, max_position_embeddings), as for
  // summarization.
  tm->tokenizer_->limit_model_max_length(c.max_position_embeddings);
  const Tokenizer& t = *tm->tokenizer_;
  if (t.vocab_size() > c.vocab_size)
    fail("the tokenizer in '", tdir, "' does not match the model in '", model_dir, "': it has ", t.vocab_size(),
         " tokens, the model's vocabulary has ", c.vocab_size, " (config.json vocab_size)");
  if (t.pad_id() != c.pad_token_id)
    fail("the tokenizer in '", tdir, "' does not match the model in '", model_dir, "': its pad token id is ",
         id_or_none(t.pad_id()), ", config.json's pad_token_id is ", c.pad_token_id);
  if (t.sep_id() != c.sep_token_id || t.cls_id() < 0)
    fail("the tokenizer in '", tdir, "' (", t.class_name(), ") does not match the model in '", model_dir,
         "': its [SEP] id is ", id_or_none(t.sep_id()), ", config.json's sep_token_id is ", c.sep_token_id,
         t.cls_id() < 0 ? ", and it has no [CLS] token" : "");
  return tm;
}

const BigBirdModel& TaskModel::model() const {
  BB_CHECK(model_, "no model weights loaded from '", model_dir_, "'");
  return *model_;
}

std::string TaskModel::label(int64_t i) const {
  const auto& m = model().config().id2label;
  auto it = m.find(i);
  return it != m.end() ? it->second : "LABEL_" + std::to_string(i);
}

bool TaskModel::fits(int64_t n, const RunOptions& opt) const {
  const BigBirdConfig& c = model().config();
  int64_t padded = n;
  if (opt.attention.value_or(c.attention_type) == AttentionType::BlockSparse && n > c.max_tokens_for_full_fallback())
    padded = (n + c.block_size - 1) / c.block_size * c.block_size;
  return n >= 1 && padded <= c.max_position_embeddings;
}

int64_t TaskModel::max_tokens(const RunOptions& opt) const {
  const BigBirdConfig& c = model().config();
  int64_t m = c.max_position_embeddings;
  if (fits(m, opt)) return m;
  m = c.max_position_embeddings / c.block_size * c.block_size;
  if (fits(m, opt)) return m;
  return std::min(c.max_tokens_for_full_fallback(), c.max_position_embeddings);
}

void TaskModel::check_fits(int64_t n, const RunOptions& opt, std::string_view task) const {
  if (fits(n, opt)) return;
  throw TooLongError(detail::concat("the input is ", n, " tokens long (special tokens included) but the model takes at most ", max_tokens(opt),
             " (max_position_embeddings ", model().config().max_position_embeddings, ") and ", task,
             " does not split inputs into windows: shorten the text"));
}

void TaskModel::require(bool has_head, std::string_view task, std::string_view what) const {
  if (has_head) return;
  fail("the model in '", model_dir_, "' is a ", architecture_name(model().architecture()), " checkpoint, which has no ",
       what, ": ", task, " needs one");
}

json Task::finish_strands(const Item&, const Item&) const {
  fail("this command cannot average the two strands (--reverse-complement average)");
}

EncoderRow Item::make_window(int64_t) const { fail("internal: this input has no windows"); }
void Item::take_window(int64_t, Tensor&&) { fail("internal: this input has no windows"); }
std::vector<int64_t> Item::row_lengths() const {
  std::vector<int64_t> n;
  for (const EncoderRow& r : rows) n.push_back(static_cast<int64_t>(r.input_ids.size()));
  return n;
}

void run_items(const Task& task, const std::vector<Item*>& items, const RunOptions& opt,
               const std::function<void(double)>& on_progress) {
  struct Ref {
    Item* item;
    size_t row;
  };
  std::vector<Ref> refs;
  std::vector<Item*> windowed;
  int64_t total = 0, done = 0;
  for (Item* it : items) {
    if (it->windows() > 0) {
      windowed.push_back(it);
      total += it->windows();
      continue;
    }
    it->outputs.assign(it->rows.size(), Tensor{});
    for (size_t r = 0; r < it->rows.size(); ++r) refs.push_back({it, r});
  }
  total += static_cast<int64_t>(refs.size());
  if (total == 0) return;
  // Similar lengths side by side: the threads of one batch finish together.
  std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
    return a.item->rows[a.row].input_ids.size() < b.item->rows[b.row].input_ids.size();
  });
  const BigBirdModel& model = task.task_model().model();
  ForwardOptions fo;
  fo.attention = opt.attention;
  fo.plan_source = opt.plan_source;
  fo.seed = opt.seed;
  fo.precision = opt.precision;
  auto run_row = [&](const EncoderRow& row, const ThreadingContext& ctx) {
    const int64_t L = static_cast<int64_t>(row.input_ids.size());
    EncoderInput in;
    in.input_ids = TensorI64(Shape{1, L});
    std::copy(row.input_ids.begin(), row.input_ids.end(), in.input_ids.data.begin());
    if (!row.token_type_ids.empty()) {
      in.token_type_ids = TensorI64(Shape{1, L});
      std::copy(row.token_type_ids.begin(), row.token_type_ids.end(), in.token_type_ids.data.begin());
    }
    if (!row.attention_mask.empty()) {
      in.attention_mask = TensorI64(Shape{1, L});
      std::copy(row.attention_mask.begin(), row.attention_mask.end(), in.attention_mask.data.begin());
    }
    EncoderOutput eo = model.encode(in, fo, ctx);
    return task.head(eo.sequence_output, row, ctx);
  };
  // n rows side by side: f(i, ctx) for i < n, one thread per row (the kernels inside run
  // single-threaded): the same calls, in the same order, as for each row alone, so the same bits.
  const auto side_by_side = [&](size_t n, const std::function<void(size_t, const ThreadingContext&)>& f) {
    if (n == 1 || opt.threading.threads() == 1) {
      for (size_t i = 0; i < n; ++i) f(i, opt.threading);  // all threads inside the row
    } else {
      const ThreadingContext serial = ThreadingContext::serial();
      parallel_for(opt.threading, static_cast<int64_t>(n), [&](int64_t i) { f(static_cast<size_t>(i), serial); });
    }
  };
  const auto report = [&](size_t n) {
    done += static_cast<int64_t>(n);
    if (on_progress) on_progress(static_cast<double>(done) / static_cast<double>(total));
  };
  const size_t bs = static_cast<size_t>(std::max(1, opt.batch_size));
  for (size_t b0 = 0; b0 < refs.size(); b0 += bs) {
    const size_t n = std::min(bs, refs.size() - b0);
    side_by_side(n, [&](size_t i, const ThreadingContext& ctx) {
      const Ref& ref = refs[b0 + i];
      ref.item->outputs[ref.row] = run_row(ref.item->rows[ref.row], ctx);
    });
    report(n);
  }
  // Windowed inputs: one batch of windows at a time, reduced in window order.
  for (Item* it : windowed) {
    const int64_t W = it->windows();
    for (int64_t w0 = 0; w0 < W; w0 += static_cast<int64_t>(bs)) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(bs), W - w0));
      std::vector<EncoderRow> rows(n);
      for (size_t i = 0; i < n; ++i) rows[i] = it->make_window(w0 + static_cast<int64_t>(i));
      std::vector<Tensor> outs(n);
      side_by_side(n, [&](size_t i, const ThreadingContext& ctx) { outs[i] = run_row(rows[i], ctx); });
      for (size_t i = 0; i < n; ++i) it->take_window(w0 + static_cast<int64_t>(i), std::move(outs[i]));
      report(n);
    }
  }
}

json run_one(const Task& task, const InputRecord& in, const RunOptions& opt) {
  std::unique_ptr<Item> item = task.prepare(in, opt);
  run_items(task, {item.get()}, opt);
  return task.finish(*item);
}

std::vector<float> softmax(const float* x, int64_t n) {
  std::vector<float> e(static_cast<size_t>(n));
  if (n == 0) return e;
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    e[static_cast<size_t>(i)] = std::exp(x[i] - mx);
    sum += e[static_cast<size_t>(i)];
  }
  const float s = static_cast<float>(sum);
  for (auto& v : e) v /= s;
  return e;
}

void check_text(std::string_view s, std::string_view what, bool allow_empty) {
  const size_t bad = utf8::find_invalid(s);
  if (bad != std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(s[bad])));
    input_fail(what, " is not valid UTF-8 (byte ", bad, ": ", hex, ")");
  }
  if (!allow_empty && s.empty()) input_fail(what, " is empty");
}

}  // namespace bigbird::tasks
