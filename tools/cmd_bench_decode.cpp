// `bigbird bench-decode`: the decoding benchmark of BigBird-Pegasus (summarization), on random
// weights of a named shape or on a checkpoint.
//
// One configuration (encoder length × num_beams) runs in this process: per repeat it times the
// encoder, the cross-attention key/value projection (once per input) and the search, forcing a
// fixed number of new tokens (eos banned until max_length: min_length = max_length), and times
// every decoder step (decoder layers + LM head + beam reordering). It reports generated tokens
// per second per input, and the median step time over the first and the last 8 steps, whose
// ratio shows whether a step's cost grows with the tokens before it (it should not, with the
// KV cache); also from the fastest repeat of each step and from its process CPU time, the
// estimates least disturbed on a shared machine. Several configurations (comma lists) re-run
// this binary once per configuration, so each peak RSS is measured in a fresh process, and print
// a markdown table (--table prints it again from saved --json lines).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "commands.h"
#include "common_options.h"
#include "self_exec.h"
#include "core/error.h"
#include "models/logits_process.h"
#include "models/pegasus_generate.h"
#include "models/pegasus_model.h"

namespace bigbird::cli {

namespace {

struct BenchDecodeArgs {
  std::string model, shape = "large", enc_len = "1024", num_beams = "1,4", table;
  int64_t new_tokens = 64, batch = 1, encoder_layers = 0, decoder_layers = 0;
  int repeats = 3;
  bool json = false, no_cache = false;
  CommonOptions common;
};

constexpr int64_t kWindow = 8;  // steps in the early and late windows

// bigbird-pegasus-large (the config defaults) or a small shape for tests; 2 + 2 layers unless overridden.
BigBirdPegasusConfig decode_shape_config(const BenchDecodeArgs& a, int64_t enc_len) {
  BigBirdPegasusConfig c;  // d_model 1024, 16 heads, ffn 4096, vocab 96103, block 64, r 3, gelu_new
  if (a.shape == "small") {
    c.d_model = 128, c.encoder_attention_heads = c.decoder_attention_heads = 4;
    c.encoder_ffn_dim = c.decoder_ffn_dim = 256, c.vocab_size = 1000;
    c.block_size = 16, c.num_random_blocks = 2, c.max_position_embeddings = 1024;
  } else if (a.shape != "large") {
    fail("unknown --shape '", a.shape, "' (large or small)");
  }
  c.encoder_layers = a.encoder_layers > 0 ? a.encoder_layers : 2;
  c.decoder_layers = a.decoder_layers > 0 ? a.decoder_layers : 2;
  // Longer inputs than the checkpoint's 4096 positions: extend the learned position tables.
  const int64_t need = std::max(enc_len, a.new_tokens + 1);
  c.max_position_embeddings =
      std::max(c.max_position_embeddings, (need + c.block_size - 1) / c.block_size * c.block_size);
  return c;
}

std::vector<int64_t> parse_list(const char* flag, const std::string& s) {
  std::vector<int64_t> out;
  for (const auto& item : split_list(s)) {
    int64_t v = 0;
    bool ok = false;
    try {
      size_t pos = 0;
      v = std::stoll(item, &pos);
      ok = pos == item.size() && v > 0;
    } catch (const std::exception&) {
    }
    if (!ok) fail("--", flag, ": '", item, "' is not a positive integer");
    out.push_back(v);
  }
  if (out.empty()) fail("--", flag, ": needs at least one value");
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of the whole process (every thread), nanosecond resolution.
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double user_cpu_s() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_utime.tv_usec);
}

nlohmann::json run_one(const BenchDecodeArgs& a, int64_t L, int64_t beams) {
  std::unique_ptr<PegasusModel> model;
  const auto t_model = std::chrono::steady_clock::now();
  if (!a.model.empty()) model = PegasusModel::load(a.model, a.common.overrides());
  else model = PegasusModel::random(decode_shape_config(a, L), 1234);
  const double model_s = seconds_since(t_model);
  const BigBirdPegasusConfig& c = model->config();
  BB_CHECK(L <= c.max_position_embeddings, "--enc-len ", L, " is longer than max_position_embeddings ",
           c.max_position_embeddings, " of the model");
  const ForwardOptions opt = a.common.forward_options();
  const ThreadingContext ctx = a.common.threading();

  EncoderInput in{TensorI64({a.batch, L}), TensorI64({a.batch, L}, 1), {}};
  std::mt19937_64 rng(42);
  for (auto& id : in.input_ids.data) id = 5 + static_cast<int64_t>(rng() % static_cast<uint64_t>(c.vocab_size - 5));

  // A fixed number of new tokens: eos is banned until max_length (HF's min_length = max_length).
  GenerationConfig g;
  g.max_new_tokens = a.new_tokens;
  g.min_length = 1 + a.new_tokens;
  g.num_beams = beams;
  g.eos_token_id = c.generation.eos_token_id;  // the model's ids (random shapes: HF's Pegasus ids)
  g.pad_token_id = c.generation.pad_token_id;
  g.decoder_start_token_id = c.generation.decoder_start_token_id.value_or(c.pad_token_id);
  g.use_cache = !a.no_cache;
  const TensorI64 prompt(Shape{a.batch, 1}, g.decoder_start_token_id);
  validate_generation(g, c.vocab_size, 1);
  const int64_t max_length = resolved_max_length(g, 1);

  std::vector<double> enc_s, enc_user, kv_s, kv_user, dec_s, dec_user;
  std::vector<std::vector<double>> step_ms(static_cast<size_t>(a.new_tokens)), step_cpu(step_ms.size());
  std::string attention_used;
  int64_t steps = 0, out_len = 0;
  for (int rep = 0; rep < a.repeats; ++rep) {
    double u0 = user_cpu_s();
    auto t0 = std::chrono::steady_clock::now();
    const PegasusEncoderOutput enc = model->encode(in, opt, ctx);
    enc_s.push_back(seconds_since(t0));
    enc_user.push_back(user_cpu_s() - u0);
    attention_used = attention_type_name(enc.attention_used);

    u0 = user_cpu_s();
    t0 = std::chrono::steady_clock::now();
    // Builds the decoder session: the cross-attention keys/values of every layer, once per input.
    ScoreFn raw = pegasus_logits_fn(*model, enc, beams, std::max<int64_t>(max_length - 1, 1), g.use_cache, ctx);
    kv_s.push_back(seconds_since(t0));
    kv_user.push_back(user_cpu_s() - u0);
    std::vector<double> this_steps, this_cpu;
    ScoreFn timed = [&raw, &this_steps, &this_cpu](const SearchState& st, float* logits) {
      const double c0 = process_cpu_s();
      const auto s0 = std::chrono::steady_clock::now();
      raw(st, logits);
      this_steps.push_back(1e3 * seconds_since(s0));
      this_cpu.push_back(1e3 * (process_cpu_s() - c0));
    };
    u0 = user_cpu_s();
    const auto t1 = std::chrono::steady_clock::now();
    const GenerationResult r = run_search(g, prompt, c.vocab_size, processed_scores(g, max_length, timed));
    dec_s.push_back(seconds_since(t1));
    dec_user.push_back(user_cpu_s() - u0);
    BB_CHECK(r.steps == a.new_tokens && static_cast<int64_t>(this_steps.size()) == a.new_tokens,
             "bench-decode: the search ran ", r.steps, " steps, ", a.new_tokens, " expected");
    for (size_t i = 0; i < this_steps.size(); ++i) {
      step_ms[i].push_back(this_steps[i]);
      step_cpu[i].push_back(this_cpu[i]);
    }
    steps = r.steps;
    out_len = r.sequences.dim(1);
  }

  // Per step: the median (and the minimum) over repeats; then the median of the first and the
  // last windows. On a shared machine the minimum is the least disturbed estimate, and the CPU
  // time (all threads) does not count time spent preempted.
  std::vector<double> profile, profile_min, profile_cpu;
  for (size_t i = 0; i < step_ms.size(); ++i) {
    profile.push_back(median(step_ms[i]));
    profile_min.push_back(*std::min_element(step_ms[i].begin(), step_ms[i].end()));
    profile_cpu.push_back(median(step_cpu[i]));
  }
  const int64_t T = a.new_tokens, w = std::min(kWindow, T);
  auto first = [w](const std::vector<double>& p) { return median(std::vector<double>(p.begin(), p.begin() + w)); };
  auto last = [w](const std::vector<double>& p) { return median(std::vector<double>(p.end() - w, p.end())); };
  const double early = first(profile), late = last(profile);
  // Least-squares slope of step time against the step index (ms per 100 earlier tokens).
  double slope = 0;
  if (T >= 2) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int64_t i = 0; i < T; ++i) {
      const double x = static_cast<double>(i), y = profile[static_cast<size_t>(i)];
      sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    const double n = static_cast<double>(T);
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  }
  const double decode = median(dec_s);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return {{"enc_len", L},
          {"batch", a.batch},
          {"num_beams", beams},
          {"new_tokens", T},
          {"use_cache", !a.no_cache},
          {"shape", a.model.empty() ? a.shape : a.model},
          {"d_model", c.d_model},
          {"heads", c.decoder_attention_heads},
          {"ffn", c.decoder_ffn_dim},
          {"vocab", c.vocab_size},
          {"encoder_layers", c.encoder_layers},
          {"decoder_layers", c.decoder_layers},
          {"threads", ctx.threads()},
          {"repeats", a.repeats},
          {"attention_used", attention_used},
          {"model_s", model_s},
          {"encoder_s", median(enc_s)},
          {"encoder_user_s", median(enc_user)},
          {"cross_kv_s", median(kv_s)},
          {"cross_kv_user_s", median(kv_user)},
          {"decode_s", decode},
          {"decode_user_s", median(dec_user)},
          {"decode_times_s", dec_s},
          {"steps", steps},
          {"output_len", out_len},
          {"tokens_per_s", static_cast<double>(T) / decode},
          {"row_tokens_per_s", static_cast<double>(T * a.batch * beams) / decode},
          {"ms_per_token", 1e3 * decode / static_cast<double>(T)},
          {"step_ms_early", early},
          {"step_ms_late", late},
          {"late_early_ratio", late / early},
          {"step_ms_slope_per_100", 100.0 * slope},
          {"step_ms_min_early", first(profile_min)},
          {"step_ms_min_late", last(profile_min)},
          {"late_early_ratio_min", last(profile_min) / first(profile_min)},
          {"step_cpu_ms_early", first(profile_cpu)},
          {"step_cpu_ms_late", last(profile_cpu)},
          {"late_early_ratio_cpu", last(profile_cpu) / first(profile_cpu)},
          {"step_ms", profile},
          {"step_ms_min", profile_min},
          {"step_cpu_ms", profile_cpu},
          {"peak_rss_bytes", static_cast<int64_t>(ru.ru_maxrss) * 1024}};
}

// Runs this binary on one configuration and parses its JSON line.
nlohmann::json run_child(const BenchDecodeArgs& a, int64_t L, int64_t beams) {
  std::vector<std::string> args = {"bench-decode", "--json",
                                   "--enc-len",    std::to_string(L),
                                   "--num-beams",  std::to_string(beams),
                                   "--new-tokens", std::to_string(a.new_tokens),
                                   "--batch",      std::to_string(a.batch),
                                   "--repeats",    std::to_string(a.repeats),
                                   "--threads",    std::to_string(a.common.threads),
                                   "--dtype",      a.common.dtype};
  if (!a.common.attention.empty()) args.insert(args.end(), {"--attention", a.common.attention});
  args.insert(args.end(), {"--random-plan", a.common.random_plan});
  if (a.common.seed_opt->count() > 0) args.insert(args.end(), {"--seed", std::to_string(a.common.seed)});
  if (!a.model.empty()) args.insert(args.end(), {"--model", a.model});
  else args.insert(args.end(), {"--shape", a.shape});
  if (a.encoder_layers > 0) args.insert(args.end(), {"--encoder-layers", std::to_string(a.encoder_layers)});
  if (a.decoder_layers > 0) args.insert(args.end(), {"--decoder-layers", std::to_string(a.decoder_layers)});
  if (a.no_cache) args.push_back("--no-cache");
  const ChildResult r = run_self(args);
  if (!r.ok) return {{"enc_len", L}, {"num_beams", beams}, {"error", r.why}};
  return nlohmann::json::parse(r.output);
}

void print_table(const std::vector<nlohmann::json>& rows) {
  for (const auto& r : rows)
    if (!r.contains("error")) {
      std::printf(
          "%s: d_model %lld, %lld heads, ffn %lld, vocab %lld, %lld encoder + %lld decoder layers; "
          "%lld new tokens per input (eos banned), batch %lld, %lld repeats (medians), threads %lld\n\n",
          r["shape"].get<std::string>().c_str(), static_cast<long long>(r["d_model"].get<int64_t>()),
          static_cast<long long>(r["heads"].get<int64_t>()), static_cast<long long>(r["ffn"].get<int64_t>()),
          static_cast<long long>(r["vocab"].get<int64_t>()), static_cast<long long>(r["encoder_layers"].get<int64_t>()),
          static_cast<long long>(r["decoder_layers"].get<int64_t>()),
          static_cast<long long>(r["new_tokens"].get<int64_t>()), static_cast<long long>(r["batch"].get<int64_t>()),
          static_cast<long long>(r["repeats"].get<int64_t>()), static_cast<long long>(r["threads"].get<int64_t>()));
      break;
    }
  std::printf(
      "| enc len | beams | encoder s (user) | cross K/V s | decode s (user) | tokens/s | step ms, first 8 "
      "| step ms, last 8 | late/early | late/early, fastest | late/early, CPU | peak RSS MiB |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    if (r.contains("error")) {
      std::printf("| %lld | %lld | %s | | | | | | | | | |\n", static_cast<long long>(r["enc_len"].get<int64_t>()),
                  static_cast<long long>(r["num_beams"].get<int64_t>()), r["error"].get<std::string>().c_str());
      continue;
    }
    // A run without the KV cache (every step re-runs the whole prefix) is marked in the beams column.
    std::printf(
        "| %lld | %lld%s | %.2f (%.2f) | %.3f | %.2f (%.2f) | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f | %.0f |\n",
        static_cast<long long>(r["enc_len"].get<int64_t>()), static_cast<long long>(r["num_beams"].get<int64_t>()),
        r.value("use_cache", true) ? "" : ", no cache", r["encoder_s"].get<double>(), r["encoder_user_s"].get<double>(),
        r["cross_kv_s"].get<double>(), r["decode_s"].get<double>(), r["decode_user_s"].get<double>(),
        r["tokens_per_s"].get<double>(), r["step_ms_early"].get<double>(), r["step_ms_late"].get<double>(),
        r["late_early_ratio"].get<double>(), r["late_early_ratio_min"].get<double>(),
        r["late_early_ratio_cpu"].get<double>(), r["peak_rss_bytes"].get<double>() / (1 << 20));
  }
}

}  // namespace

Runner add_bench_decode(CLI::App& app) {
  auto a = std::make_shared<BenchDecodeArgs>();
  auto* model =
      app.add_option("--model", a->model, "BigBirdPegasus checkpoint directory (default: random weights of --shape)");
  app.add_option("--shape", a->shape,
                 "random-weight shape: large (bigbird-pegasus-large: 1024/16 heads/4096, vocab 96103, block 64, r 3) "
                 "or small (tests)")
      ->check(CLI::IsMember({"large", "small"}))
      ->excludes(model);
  app.add_option("--enc-len", a->enc_len, "encoder input tokens; a comma list sweeps (one process per run)");
  app.add_option("--num-beams", a->num_beams, "1 = greedy, K = beam search; a comma list sweeps (default 1,4)");
  app.add_option("--new-tokens", a->new_tokens, "tokens generated per input (eos banned until then)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--batch", a->batch, "inputs per call")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--repeats", a->repeats, "timed runs (medians reported)")->check(CLI::Range(1, 1000));
  add_common_options(app, a->common);
  app.add_option("--encoder-layers", a->encoder_layers, "encoder layers of a random shape (default 2)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}))
      ->excludes(model);
  app.add_option("--decoder-layers", a->decoder_layers, "decoder layers of a random shape (default 2)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}))
      ->excludes(model);
  app.add_flag("--no-cache", a->no_cache, "re-run the decoder on the whole prefix every step (the uncached reference)");
  app.add_flag("--json", a->json, "print one JSON object per run");
  app.add_option("--table", a->table, "print the markdown table of the JSON lines of an earlier --json run, and exit");
  return [a] {
    if (!a->table.empty()) {
      std::ifstream f(a->table);
      BB_CHECK(f, "--table: cannot open '", a->table, "'");
      std::vector<nlohmann::json> rows;
      for (std::string line; std::getline(f, line);) {
        if (line.empty() || line[0] != '{') continue;
        try {
          rows.push_back(nlohmann::json::parse(line));
        } catch (const std::exception& e) {
          fail("--table: '", a->table, "': a line is not JSON (", e.what(), ")");
        }
      }
      BB_CHECK(!f.bad(), "--table: cannot read '", a->table, "': read error");
      BB_CHECK(!rows.empty(), "--table: '", a->table, "' has no JSON lines");
      print_table(rows);
      return 0;
    }
    a->common.check();
    const std::vector<int64_t> lens = parse_list("enc-len", a->enc_len);
    const std::vector<int64_t> beams = parse_list("num-beams", a->num_beams);
    if (lens.size() == 1 && beams.size() == 1) {
      const nlohmann::json r = run_one(*a, lens[0], beams[0]);
      if (a->json) std::printf("%s\n", r.dump().c_str());
      else print_table({r});
      return 0;
    }
    std::vector<nlohmann::json> rows;
    bool failed = false;
    for (int64_t k : beams)
      for (int64_t L : lens) {
        rows.push_back(run_child(*a, L, k));
        failed = failed || rows.back().contains("error");
        if (a->json) std::printf("%s\n", rows.back().dump().c_str());
        std::fflush(stdout);
      }
    if (!a->json) print_table(rows);
    return failed ? 1 : 0;
  };
}

}  // namespace bigbird::cli
