#include "tasks/summarize.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <istream>
#include <set>

#include "models/logits_process.h"
#include "models/pegasus_generate.h"

namespace bigbird::tasks {

namespace fs = std::filesystem;

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string id_or_none(int64_t id) { return id < 0 ? std::string("none") : std::to_string(id); }

std::string model_kind(const std::string& model_type) {
  if (model_type == "big_bird") return "BigBird (encoder-only)";
  if (model_type.empty()) return "model without a model_type";
  return "'" + model_type + "'";
}

}  // namespace

// ------------------------------------------------------------------------- Summarizer

std::unique_ptr<Summarizer> Summarizer::load(const std::string& model_dir, const std::string& tokenizer_dir,
                                             const ConfigOverrides& ov) {
  BB_CHECK(!model_dir.empty(), "no model directory given (--model DIR)");
  BB_CHECK(fs::is_directory(model_dir), "model directory '", model_dir, "' does not exist");
  const fs::path config_path = fs::path(model_dir) / "config.json";
  BB_CHECK(fs::exists(config_path), "no config.json in model directory '", model_dir, "'");
  nlohmann::json cj;
  {
    std::ifstream f(config_path);
    BB_CHECK(f, "cannot read '", config_path.string(), "'");
    try {
      cj = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      fail("'", config_path.string(), "' is not valid JSON: ", e.what());
    }
    BB_CHECK(cj.is_object(), "'", config_path.string(), "' is not a JSON object");
  }
  const std::string model_type =
      cj.contains("model_type") && cj["model_type"].is_string() ? cj["model_type"].get<std::string>() : "";
  if (model_type != "bigbird_pegasus")
    fail("the model in '", model_dir, "' is a ", model_kind(model_type), " checkpoint (config.json model_type '",
         model_type,
         "'): summarize needs a BigBird-Pegasus checkpoint (BigBirdPegasusForConditionalGeneration, "
         "model_type 'bigbird_pegasus')");

  const std::string tdir = tokenizer_dir.empty() ? model_dir : tokenizer_dir;
  BB_CHECK(fs::is_directory(tdir), "tokenizer directory '", tdir, "' does not exist");
  if (!fs::exists(fs::path(tdir) / "spiece.model"))
    fail("no tokenizer in '", tdir, "': spiece.model is missing",
         tokenizer_dir.empty() ? " (give the tokenizer's directory with --tokenizer DIR)" : "");

  auto s = std::make_unique<Summarizer>();
  s->model_dir_ = model_dir;
  // What the pipeline reads from model.config (PretrainedConfig's defaults when absent).
  if (cj.contains("prefix") && cj["prefix"].is_string()) s->prefix_ = cj["prefix"].get<std::string>();
  if (cj.contains("max_length") && cj["max_length"].is_number_integer())
    s->config_max_length_ = cj["max_length"].get<int64_t>();
  if (cj.contains("min_length") && cj["min_length"].is_number_integer())
    s->config_min_length_ = cj["min_length"].get<int64_t>();

  s->tokenizer_ = Tokenizer::load(tdir);
  s->model_ = PegasusModel::load(model_dir, ov);

  const BigBirdPegasusConfig& c = s->model_->config();
  const Tokenizer& t = *s->tokenizer_;
  const std::string mismatch =
      "the tokenizer in '" + tdir + "' (" + t.class_name() + ") does not match the model in '" + model_dir + "': ";
  if (t.class_name() != "PegasusTokenizer")
    fail(mismatch,
         "BigBird-Pegasus checkpoints use a PegasusTokenizer (the text + </s>, ids offset past the "
         "reserved ones)");
  if (t.vocab_size() > c.vocab_size)
    fail(mismatch, "it has ", t.vocab_size(), " tokens, the model's vocabulary has ", c.vocab_size,
         " (config.json vocab_size)");
  if (t.pad_id() != c.pad_token_id)
    fail(mismatch, "its pad token id is ", id_or_none(t.pad_id()), ", config.json's pad_token_id is ", c.pad_token_id);
  const auto& eos = c.generation.eos_token_id;
  if (!eos.empty() && std::find(eos.begin(), eos.end(), t.eos_id()) == eos.end())
    fail(mismatch, "its </s> id is ", id_or_none(t.eos_id()), ", the model's eos_token_id is ", eos.front());
  return s;
}

GenerationConfig Summarizer::default_generation() const {
  GenerationConfig g = GenerationConfig::from_defaults(model_->config().generation);
  g.max_length = config_max_length_;
  g.min_length = config_min_length_;
  return g;
}

int64_t Summarizer::max_input_tokens() const {
  const int64_t m = tokenizer_->model_max_length();
  const int64_t p = model_->config().max_position_embeddings;
  return m > 0 ? std::min(m, p) : p;
}

SummaryInput Summarizer::prepare(std::string_view text, const SummarizeOptions& opt) const {
  check_text(text, "the text");
  const std::string full = prefix_ + std::string(text);
  SummaryInput in;
  Encoding e = tokenizer_->encode(full);
  in.full_length = static_cast<int64_t>(e.input_ids.size());
  const int64_t limit = max_input_tokens();
  if (in.full_length > limit) {
    if (!opt.truncation)
      input_fail("the input is ", in.full_length, " tokens long (</s> included) but the model takes at most ", limit,
                 " (min of the tokenizer's model_max_length ", tokenizer_->model_max_length(),
                 " and max_position_embeddings ", model_->config().max_position_embeddings,
                 "): shorten the text, or let it be truncated (truncation on, the default)");
    EncodeOptions eo;
    eo.max_length = limit;
    eo.truncation = Truncation::LongestFirst;
    e = tokenizer_->encode(full, eo);
  }
  in.input_ids = std::move(e.input_ids);
  return in;
}

GenerationResult Summarizer::generate(const SummaryInput& in, const SummarizeOptions& opt,
                                      const std::function<void()>& on_token,
                                      const std::function<void(const SearchState&)>& on_step) const {
  const int64_t L = static_cast<int64_t>(in.input_ids.size());
  BB_CHECK(L >= 1, "summarize: empty input ids");
  EncoderInput ei;
  ei.input_ids = TensorI64(Shape{1, L});
  std::copy(in.input_ids.begin(), in.input_ids.end(), ei.input_ids.data.begin());
  ForwardOptions fo;
  fo.attention = opt.attention;
  fo.plan_source = opt.plan_source;
  fo.seed = opt.seed;
  fo.precision = opt.precision;
  const PegasusEncoderOutput enc = model_->encode(ei, fo, opt.threading);

  // pegasus_generate (pegasus_generate.h) with a default prompt, its decoding steps counted.
  const GenerationConfig& g = opt.generation;
  const int64_t V = model_->config().vocab_size;
  const TensorI64 prompt(Shape{1, 1}, g.decoder_start_token_id);
  validate_generation(g, V, 1);
  const int64_t max_length = resolved_max_length(g, 1);
  const int64_t capacity = std::max<int64_t>(max_length - 1, 1);
  ScoreFn raw = pegasus_logits_fn(*model_, enc, g.num_beams, capacity, g.use_cache, opt.threading);
  if (on_token || on_step)
    raw = [inner = std::move(raw), &on_token, &on_step](const SearchState& st, float* logits) {
      inner(st, logits);
      if (on_token) on_token();
      if (on_step) on_step(st);
    };
  return run_search(g, prompt, V, processed_scores(g, max_length, std::move(raw)));
}

json Summarizer::answer(const GenerationResult& r, const SummarizeOptions& opt) const {
  json out = json::array();
  const int64_t rows = r.sequences.dim(0), T = r.sequences.dim(1);
  for (int64_t i = 0; i < rows; ++i) {
    const std::vector<int64_t> ids(r.sequences.data.begin() + i * T, r.sequences.data.begin() + (i + 1) * T);
    out.push_back({{"summary_text", tokenizer_->decode(ids, true, opt.clean_up_tokenization_spaces)}});
  }
  return out;
}

json Summarizer::summarize(std::string_view text, const SummarizeOptions& opt) const {
  return answer(generate(prepare(text, opt), opt), opt);
}

// ------------------------------------------------------------------------- batches

void summarize_jobs(const Summarizer& s, const std::vector<SummaryJob*>& jobs, const SummarizeOptions& opt,
                    const std::function<void()>& on_token, const std::function<void()>& on_done) {
  if (jobs.empty()) return;
  std::vector<SummaryJob*> order(jobs);
  // Similar lengths side by side.
  std::stable_sort(order.begin(), order.end(), [](const SummaryJob* a, const SummaryJob* b) {
    return a->input.input_ids.size() < b->input.input_ids.size();
  });
  auto run_job = [&](SummaryJob* j, const SummarizeOptions& o) {
    const GenerationResult r = s.generate(j->input, o, on_token, j->on_step);
    j->answer = s.answer(r, opt);
    j->warnings = r.warnings;
    if (on_done) on_done();
  };
  const size_t bs = static_cast<size_t>(std::max(1, opt.batch_size));
  for (size_t b0 = 0; b0 < order.size(); b0 += bs) {
    const size_t n = std::min(bs, order.size() - b0);
    if (n == 1 || opt.threading.threads() == 1) {
      for (size_t i = 0; i < n; ++i) run_job(order[b0 + i], opt);  // all threads inside the input
      continue;
    }
    // One input per thread, the kernels inside single-threaded: the calls the input makes alone.
    SummarizeOptions one = opt;
    one.threading = ThreadingContext::serial();
    parallel_for(opt.threading, static_cast<int64_t>(n),
                 [&](int64_t i) { run_job(order[b0 + static_cast<size_t>(i)], one); });
  }
}

// ------------------------------------------------------------------------- progress

TokenProgress::TokenProgress(bool enabled, bool batch, int64_t total_inputs)
    : enabled_(enabled), batch_(batch), total_(total_inputs), start_(now_seconds()) {}

void TokenProgress::token() {
  if (!enabled_) return;
  tokens_.fetch_add(1, std::memory_order_relaxed);
  draw(false);
}

void TokenProgress::input_done() {
  if (!enabled_) return;
  const int64_t done = inputs_.fetch_add(1, std::memory_order_relaxed) + 1;
  draw(done == total_);
}

void TokenProgress::draw(bool force) {
  std::unique_lock<std::mutex> lock(draw_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (!force) return;  // another thread is drawing
    lock.lock();
  }
  draw_locked(force);
}

void TokenProgress::draw_locked(bool force) {
  const double t = now_seconds();
  if (!force && last_ >= 0 && t - last_ < 0.1) return;
  last_ = t;
  const double elapsed = std::max(t - start_, 1e-9);
  const int64_t tokens = tokens_.load(std::memory_order_relaxed), done = inputs_.load(std::memory_order_relaxed);
  const double rate = static_cast<double>(tokens) / elapsed;
  char line[256];
  if (!batch_) {
    std::snprintf(line, sizeof line, "\r%lld tokens  %.1f tokens/s  %s  ", static_cast<long long>(tokens), rate,
                  clock_text(elapsed).c_str());
  } else if (total_ > 0) {
    const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const int width = 24, fill = static_cast<int>(f * width);
    std::string bar(static_cast<size_t>(width), ' ');
    for (int i = 0; i < fill; ++i) bar[static_cast<size_t>(i)] = '=';
    if (fill < width) bar[static_cast<size_t>(fill)] = '>';
    const std::string eta =
        done >= 1 ? clock_text(elapsed / static_cast<double>(done) * static_cast<double>(total_ - done)) : "?";
    std::snprintf(line, sizeof line, "\r%lld/%lld [%s] %3d%%  %.1f tokens/s  ETA %s  ", static_cast<long long>(done),
                  static_cast<long long>(total_), bar.c_str(), static_cast<int>(f * 100), rate, eta.c_str());
  } else {
    std::snprintf(line, sizeof line, "\r%lld inputs  %lld tokens  %.1f tokens/s  %s  ", static_cast<long long>(done),
                  static_cast<long long>(tokens), rate, clock_text(elapsed).c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void TokenProgress::clear() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(draw_);
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void TokenProgress::done() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(draw_);
  if (drawn_) {
    draw_locked(true);  // the final counts
    std::fputc('\n', stderr);
    drawn_ = false;
  }
}

// ------------------------------------------------------------------------- JSONL driver

BatchStats summarize_jsonl(const Summarizer& s, std::istream& in, int64_t total, ResultWriter& writer,
                           const SummarizeBatchOptions& opt) {
  const size_t ahead =
      opt.read_ahead ? opt.read_ahead : std::max<size_t>(64, 16 * static_cast<size_t>(std::max(1, opt.run.batch_size)));
  const std::string source = opt.source.empty() ? "input" : opt.source;
  TokenProgress progress(opt.progress, true, total);
  std::set<std::string> warned;
  auto warn = [&](const std::string& msg) {
    progress.clear();
    std::fprintf(stderr, "warning: %s\n", msg.c_str());
  };
  BatchStats stats = drive_jsonl<SummaryJob>(
      in, ahead, source, opt.skip_bad_lines, writer,
      [&](const std::string& line, int64_t line_no) {
        auto job = std::make_unique<SummaryJob>();
        job->input = s.prepare(parse_record(line, InputKind::Text).text, opt.run);
        if (job->input.truncated())
          warn(source + ":" + std::to_string(line_no) + ": the input is " + std::to_string(job->input.full_length) +
               " tokens long, truncated to " + std::to_string(job->input.input_ids.size()) + " (the model's limit)");
        return job;
      },
      [&](std::vector<SummaryJob*>& jobs, int64_t, size_t) {
        summarize_jobs(
            s, jobs, opt.run, [&] { progress.token(); }, [&] { progress.input_done(); });
      },
      [&](SummaryJob& job, int64_t) {
        for (const auto& w : job.warnings)
          if (warned.insert(w).second) warn(w);
        writer.write(job.answer);
      },
      [&](const std::string& msg) {
        warn(msg + " (skipped)");
        progress.input_done();
      },
      [&] { progress.done(); });
  progress.done();
  return stats;
}

}  // namespace bigbird::tasks
