// `bigbird bench`: time and peak memory of the encoder, on a checkpoint or random weights.
//
// One configuration runs in this process and reports median/min/max seconds, tokens/s, nominal
// GFLOP/s and peak RSS. Several (comma-separated --seq-len / --attention) re-run this binary
// once per configuration, so each peak RSS is measured in a fresh process, then print a table
// with the memory growth per added token and the longest input that fits in 16 GiB.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "commands.h"
#include "common_options.h"
#include "self_exec.h"
#include "core/error.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/linear.h"
#include "kernels/simd/dispatch.h"
#include "models/bigbird_model.h"
#include "layers/encoder_layer.h"
#include "layers/gradients.h"
#include "train/optimizer.h"

namespace bigbird::cli {

namespace {

struct BenchArgs {
  std::string model, shape = "base", seq_len = "4096", mixed;
  int64_t batch = 1, layers = 0;
  int repeats = 3;
  CommonOptions common;  // --attention may be a comma list here
  bool json = false;
  bool train = false;
  bool gradient_checkpointing = false;  // with --train
  bool ceiling = false;                 // also time the dtype's own GEMM (ceiling_gflops)
};

BigBirdConfig shape_config(const std::string& shape) {
  BigBirdConfig c;  // defaults are bigbird-roberta-base
  if (shape == "large") {
    c.hidden_size = 1024, c.num_hidden_layers = 24, c.num_attention_heads = 16, c.intermediate_size = 4096;
  } else if (shape == "small") {
    c.hidden_size = 256, c.num_hidden_layers = 4, c.num_attention_heads = 4, c.intermediate_size = 1024;
  } else if (shape != "base") {
    fail("unknown --shape '", shape, "' (base, large or small)");
  }
  return c;
}

int64_t parse_len(const std::string& s) {
  try {
    size_t pos = 0;
    int64_t v = std::stoll(s, &pos);
    if (pos == s.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  fail("--seq-len: '", s, "' is not a positive integer");
}

// Nominal FLOPs of one encoder pass: per layer 2·n·(4H² + 2HF) + 4·n·K·H, K = keys per query.
double nominal_flops(const BigBirdConfig& c, int64_t n, AttentionType used) {
  const double H = static_cast<double>(c.hidden_size), F = static_cast<double>(c.intermediate_size);
  // Block-sparse: a middle row's keys, 2g + w + r blocks (HF's ITC: 5 + r).
  const int64_t row_blocks = 2 * c.layout.global_blocks + c.layout.window_blocks + c.num_random_blocks;
  const double K = used == AttentionType::BlockSparse ? static_cast<double>(row_blocks * c.block_size)
                                                      : static_cast<double>(n);
  const double N = static_cast<double>(n);
  return static_cast<double>(c.num_hidden_layers) * (2 * N * (4 * H * H + 2 * H * F) + 4 * N * K * H);
}

std::unique_ptr<BigBirdModel> make_model(const BenchArgs& a, int64_t max_len) {
  if (!a.model.empty()) {
    if (!a.train) return BigBirdModel::load(a.model, a.common.overrides());
    return BigBirdModel::load_for_training(a.model, Architecture::MaskedLM, 0, 1234, nullptr, a.common.overrides());
  }
  BB_CHECK(a.common.config_overrides.empty(),
           "--config-overrides needs --model (with --shape the configuration is the shape's own)");
  BigBirdConfig c = shape_config(a.shape);
  if (a.layers > 0) c.num_hidden_layers = a.layers;
  c.max_position_embeddings = std::max<int64_t>(4096, (max_len + c.block_size - 1) / c.block_size * c.block_size);
  return BigBirdModel::random(c, a.train ? Architecture::MaskedLM : Architecture::Model, 1234);
}

// One training step (forward + backward + clipping + AdamW) on an MLM batch with every 7th token
// labelled, as `bigbird train` runs it.
std::function<void()> train_step(BigBirdModel& model, const EncoderInput& in, const ForwardOptions& opt,
                                 const ThreadingContext& ctx, const TrainingOptions& train) {
  auto params = std::make_shared<std::vector<std::pair<std::string, float*>>>(model.make_trainable());
  auto adam = std::make_shared<train::AdamW>(train::AdamWConfig{});
  auto labels = std::make_shared<TrainLabels>();
  labels->labels = TensorI64(in.input_ids.shape, -100);
  for (size_t i = 0; i < in.input_ids.data.size(); i += 7) labels->labels.data[i] = in.input_ids.data[i];
  // Gradient buffers and activations reused across steps, as `bigbird train` does.
  auto pool = std::make_shared<GradientPool>(&ctx);
  auto work = std::make_shared<TrainWorkspace>();
  return [&model, &in, opt, &ctx, train, params, adam, labels, pool, work] {
    TrainingOptions t = train;
    t.pool = pool.get();
    t.workspace = work.get();
    GradOutput g = model.loss_and_grads(in, *labels, opt, ctx, t);
    std::vector<std::pair<float*, int64_t>> grads;
    std::vector<train::Param> ps;
    for (size_t i = 0; i < params->size(); ++i) {
      Tensor& t = g.grads[i].second;
      if (g.reached[i]) grads.emplace_back(t.ptr(), t.size());
      ps.push_back({(*params)[i].first, (*params)[i].second, g.reached[i] ? t.ptr() : nullptr, t.size(),
                    train::hf_weight_decay((*params)[i].first)});
    }
    train::clip_grad_norm(grads, 1.0, ctx);
    adam->step(ps, 1e-4, ctx);
    for (auto& [name, t] : g.grads) pool->give(std::move(t.data));
  };
}

// The machine's own GEMM rate for a dtype as the model uses it, same process: GFLOP/s of
// y = x·Wᵀ on an FFN input shape [m x k] · [k x n] (default the base one, 4096 x 768 -> 3072), on
// ctx's threads and the unit the encoder uses (`linear`'s OpenBLAS sgemm tiles for float32, the
// bf16 / int8 kernels with weights packed beforehand), median of 5 after a warm-up (a shared VM's
// hiccups hit single runs).
double gemm_gflops(const ThreadingContext& ctx, Precision p = Precision::F32, int64_t m = 4096, int64_t k = 768,
                   int64_t n = 3072) {
  std::vector<float> x(static_cast<size_t>(m * k)), w(static_cast<size_t>(n * k)), y(static_cast<size_t>(m * n));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = nd(rng) * 0.03f;
  PackedWeightBf16 wb;
  PackedWeightInt8 wi;
  if (p == Precision::BF16) wb = pack_weight_bf16(ctx, w.data(), n, k);
  if (p == Precision::Int8) wi = pack_weight_int8(ctx, w.data(), n, k);
  auto once = [&] {
    if (p == Precision::BF16) linear_bf16(ctx, x.data(), m, wb, nullptr, y.data());
    else if (p == Precision::Int8) linear_int8(ctx, x.data(), m, wi, nullptr, y.data());
    else linear(ctx, x.data(), m, k, w.data(), nullptr, n, y.data());
  };
  once();
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return 2.0 * static_cast<double>(m * k * n) / t[2] / 1e9;
}

EncoderInput random_input(const BigBirdConfig& c, int64_t batch, int64_t L, uint64_t seed) {
  EncoderInput in{TensorI64({batch, L}), TensorI64({batch, L}, 1), TensorI64({batch, L})};
  std::mt19937_64 rng(seed);
  for (auto& id : in.input_ids.data) id = 5 + static_cast<int64_t>(rng() % static_cast<uint64_t>(c.vocab_size - 5));
  return in;
}

// Runs f `repeats` times; returns the times in seconds.
template <typename F>
std::vector<double> time_runs(int repeats, F&& f) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return times;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The attention of one run: `attention` ("" = the model's config.attention_type).
std::string attention_of(const BigBirdConfig& c, const std::string& attention) {
  return attention.empty() ? attention_type_name(c.attention_type) : attention;
}

ForwardOptions bench_options(const BenchArgs& a, const std::string& attention) {
  CommonOptions one = a.common;
  one.attention = attention;
  return one.forward_options();
}

nlohmann::json run_one(const BenchArgs& a, int64_t L, const std::string& attention) {
  const ThreadingContext ctx = a.common.threading();
  std::unique_ptr<BigBirdModel> model = make_model(a, L);
  const BigBirdConfig& c = model->config();
  EncoderInput in = random_input(c, a.batch, L, 42);
  const ForwardOptions opt = bench_options(a, attention);
  model->prepare(opt, ctx);  // bf16 / int8 weight packing is not part of the timed runs
  BB_CHECK(!(a.train && opt.precision != Precision::F32), "bench --train runs float32 (training has no ",
           precision_name(opt.precision), " path)");
  EncoderOutput out = model->encode(in, opt, ctx);  // also sizes the attention used (for the FLOPs)
  std::vector<double> times;
  BB_CHECK(a.train || !a.gradient_checkpointing, "--gradient-checkpointing goes with --train");
  TrainingOptions train;
  train.gradient_checkpointing = a.gradient_checkpointing;
  double first_step_s = 0;
  if (a.train) {
    // One untimed step first: it also allocates what every later step of a training run reuses
    // (AdamW's moments, the gradient pool, the activation workspace); reported as first_step_s.
    auto step = train_step(*model, in, opt, ctx, train);
    first_step_s = time_runs(1, step)[0];
    times = time_runs(a.repeats, step);
  } else {
    times = time_runs(a.repeats, [&] { out = model->encode(in, opt, ctx); });
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  // Training: 3x the forward's nominal FLOPs (forward, and twice that for the backward).
  const double flops =
      nominal_flops(c, out.padded_len, out.attention_used) * static_cast<double>(a.batch) * (a.train ? 3.0 : 1.0);
  nlohmann::json j = {{"seq_len", L},
                      {"train", a.train},
                      {"gradient_checkpointing", a.gradient_checkpointing},
                      {"batch", a.batch},
                      {"attention", attention_of(c, attention)},
                      {"attention_used", attention_type_name(out.attention_used)},
                      {"shape", a.model.empty() ? a.shape : a.model},
                      {"layers", c.num_hidden_layers},
                      {"hidden", c.hidden_size},
                      {"threads", a.common.threads},
                      {"dtype", a.common.dtype},
                      {"matrix_unit", matrix_unit_name(opt.precision)},
                      {"random_plan", a.common.random_plan},
                      {"repeats", a.repeats},
                      {"times_s", times},
                      {"median_s", median},
                      {"min_s", sorted.front()},
                      {"max_s", sorted.back()},
                      {"tokens_per_s", static_cast<double>(a.batch * L) / median},
                      {"gflops", flops / median / 1e9},
                      {"peak_rss_bytes", static_cast<int64_t>(ru.ru_maxrss) * 1024},
                      {"simd", simd_path_name(resolve_simd_path(SimdPath::Auto))},
                      {"blas_core", blas_core_name()}};
  if (a.train) {
    // The yardstick: the step's nominal rate against the machine's GEMM rate, same process.
    const double g = gemm_gflops(ctx);
    j["gemm_gflops"] = g;
    j["of_gemm"] = flops / median / 1e9 / g;
    j["first_step_s"] = first_step_s;
  }
  if (a.ceiling) {
    // The dtype's own GEMM rate on this machine, same process, on the model's FFN input shape with
    // up to 4096 rows (the base model at >= 4k tokens: 4096 x 768 -> 3072): every figure is also a
    // fraction of it.
    const double g = gemm_gflops(ctx, opt.precision, std::min<int64_t>(4096, a.batch * L), c.hidden_size,
                                 c.intermediate_size);
    j["ceiling_gflops"] = g;
    j["of_ceiling"] = flops / median / 1e9 / g;
  }
  return j;
}

// A batch of sequences of mixed lengths in one encode_batch call (no padding to the longest),
// against the sum of encoding each alone (medians over the repeats).
nlohmann::json run_mixed(const BenchArgs& a, const std::vector<int64_t>& lens, const std::string& attention) {
  BB_CHECK(!a.train, "--mixed times the forward only (not with --train)");
  const ThreadingContext ctx = a.common.threading();
  const int64_t max_len = *std::max_element(lens.begin(), lens.end());
  std::unique_ptr<BigBirdModel> model = make_model(a, max_len);
  const BigBirdConfig& c = model->config();
  std::vector<EncoderInput> ins;
  for (size_t i = 0; i < lens.size(); ++i) ins.push_back(random_input(c, 1, lens[i], 42 + i));
  const ForwardOptions opt = bench_options(a, attention);
  model->prepare(opt, ctx);
  std::vector<EncoderOutput> outs;
  std::vector<double> times = time_runs(a.repeats, [&] { outs = model->encode_batch(ins, opt, ctx); });
  double singles = 0, flops = 0;
  std::vector<double> single_medians;
  for (size_t i = 0; i < ins.size(); ++i) {
    EncoderOutput o;
    single_medians.push_back(median_of(time_runs(a.repeats, [&] { o = model->encode(ins[i], opt, ctx); })));
    singles += single_medians.back();
    flops += nominal_flops(c, o.padded_len, o.attention_used);
  }
  const double median = median_of(times);
  int64_t tokens = 0;
  for (int64_t L : lens) tokens += L;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return {{"mixed_lengths", lens},
          {"attention", attention_of(c, attention)},
          {"shape", a.model.empty() ? a.shape : a.model},
          {"layers", c.num_hidden_layers},
          {"threads", a.common.threads},
          {"dtype", a.common.dtype},
          {"matrix_unit", matrix_unit_name(opt.precision)},
          {"repeats", a.repeats},
          {"times_s", times},
          {"median_s", median},
          {"min_s", *std::min_element(times.begin(), times.end())},
          {"max_s", *std::max_element(times.begin(), times.end())},
          {"single_median_s", single_medians},
          {"sum_of_singles_s", singles},
          {"batch_over_singles", median / singles},
          {"tokens_per_s", static_cast<double>(tokens) / median},
          {"gflops", flops / median / 1e9},
          {"peak_rss_bytes", static_cast<int64_t>(ru.ru_maxrss) * 1024},
          {"simd", simd_path_name(resolve_simd_path(SimdPath::Auto))},
          {"blas_core", blas_core_name()}};
}

// Runs this binary on one configuration and parses its JSON line.
nlohmann::json run_child(const BenchArgs& a, int64_t L, const std::string& attention) {
  std::vector<std::string> args = {"bench",     "--json",
                                   "--seq-len", std::to_string(L),
                                   "--batch",   std::to_string(a.batch),
                                   "--repeats", std::to_string(a.repeats),
                                   "--threads", std::to_string(a.common.threads),
                                   "--dtype",   a.common.dtype};
  if (!attention.empty()) args.insert(args.end(), {"--attention", attention});
  args.insert(args.end(), {"--random-plan", a.common.random_plan});
  if (a.common.seed_opt->count() > 0) args.insert(args.end(), {"--seed", std::to_string(a.common.seed)});
  if (a.train) args.push_back("--train");
  if (a.ceiling) args.push_back("--ceiling");
  if (a.gradient_checkpointing) args.push_back("--gradient-checkpointing");
  if (!a.model.empty()) args.insert(args.end(), {"--model", a.model});
  else args.insert(args.end(), {"--shape", a.shape});
  if (a.layers > 0) args.insert(args.end(), {"--layers", std::to_string(a.layers)});
  const ChildResult r = run_self(args);
  if (!r.ok) return {{"seq_len", L}, {"attention", attention.empty() ? "config" : attention}, {"error", r.why}};
  return nlohmann::json::parse(r.output);
}

void print_table(const std::vector<nlohmann::json>& rows) {
  std::printf("| attention | tokens | median s | min s | max s | tokens/s | GFLOP/s | peak RSS MiB |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    if (r.contains("error")) {
      std::printf("| %s | %lld | %s | | | | | |\n", r["attention"].get<std::string>().c_str(),
                  static_cast<long long>(r["seq_len"].get<int64_t>()), r["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("| %s | %lld | %.3f | %.3f | %.3f | %.0f | %.1f | %.0f |\n", r["attention"].get<std::string>().c_str(),
                static_cast<long long>(r["seq_len"].get<int64_t>()), r["median_s"].get<double>(),
                r["min_s"].get<double>(), r["max_s"].get<double>(), r["tokens_per_s"].get<double>(),
                r["gflops"].get<double>(), r["peak_rss_bytes"].get<double>() / (1 << 20));
  }
  // Least-squares line through (tokens, peak RSS) per attention type.
  std::map<std::string, std::vector<std::pair<double, double>>> pts;
  for (const auto& r : rows)
    if (!r.contains("error"))
      pts[r["attention"].get<std::string>()].emplace_back(r["seq_len"].get<double>() * r["batch"].get<double>(),
                                                          r["peak_rss_bytes"].get<double>());
  std::printf("\n");
  for (auto& [att, p] : pts) {
    if (p.size() < 2) continue;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, n = static_cast<double>(p.size());
    for (auto [x, y] : p) sx += x, sy += y, sxx += x * x, sxy += x * y;
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double icpt = (sy - slope * sx) / n;
    const double fit16 = (16.0 * (1ull << 30) - icpt) / slope;
    std::printf(
        "%s: peak memory %.0f MiB + %.1f KiB per token (least squares over %zu runs); fits about %.0fk tokens in 16 "
        "GiB\n",
        att.c_str(), icpt / (1 << 20), slope / 1024, p.size(), fit16 / 1000);
  }
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  app.add_option("--model", a->model, "checkpoint directory (default: random weights of --shape)");
  app.add_option("--shape", a->shape, "random-weight shape: base (768/12/12/3072, block 64, r 3), large, small")
      ->check(CLI::IsMember({"base", "large", "small"}));
  app.add_option("--seq-len", a->seq_len, "tokens per sequence; a comma list sweeps (one process per run)");
  app.add_option("--batch", a->batch, "sequences per call")->check(positive_number());
  app.add_option("--repeats", a->repeats, "timed runs (median reported)")->check(positive_number());
  add_common_options(app, a->common, {/*attention_list=*/true});
  app.add_option("--layers", a->layers, "override the number of layers of a random shape")->check(positive_number());
  app.add_option("--mixed", a->mixed,
                 "comma list of lengths encoded together in one call (no padding to the longest), timed against "
                 "the sum of encoding each alone");
  app.add_flag("--json", a->json, "print one JSON object per run");
  app.add_flag("--ceiling", a->ceiling,
               "also time this dtype's own GEMM on the unit the encoder uses, same process, at the model's FFN "
               "shape (min(4096, tokens) x hidden -> intermediate; base: 4096x768 -> 3072): ceiling_gflops, and "
               "of_ceiling (the run's nominal GFLOP/s as a fraction of it)");
  app.add_flag("--train", a->train,
               "time a training step instead (forward + backward + clipping + AdamW, MLM loss, batch as given; "
               "after one untimed step, reported as first_step_s, which also allocates what later steps reuse); "
               "GFLOP/s are 3x the forward's nominal FLOPs; also reports gemm_gflops (the machine's fp32 GEMM rate, same process) and of_gemm (the ratio)");
  app.add_flag("--gradient-checkpointing", a->gradient_checkpointing,
               "with --train: keep only each layer's input and recompute the layer before its backward (the same "
               "gradients, less memory, about one more forward of time)");
  return [a] {
    a->common.check();
    if (!a->mixed.empty()) {
      std::vector<int64_t> mixed;
      for (auto& s : split_list(a->mixed)) mixed.push_back(parse_len(s));
      BB_CHECK(!mixed.empty(), "--mixed needs at least one length");
      nlohmann::json r = run_mixed(*a, mixed, a->common.attention);
      if (a->json) {
        std::printf("%s\n", r.dump().c_str());
      } else {
        std::printf(
            "%zu sequences (%s tokens) in one call: %.3f s (median of %d); each alone: %.3f s in all; "
            "ratio %.3f\n",
            mixed.size(), a->mixed.c_str(), r["median_s"].get<double>(), a->repeats,
            r["sum_of_singles_s"].get<double>(), r["batch_over_singles"].get<double>());
      }
      return 0;
    }
    std::vector<int64_t> lens;
    for (auto& s : split_list(a->seq_len)) lens.push_back(parse_len(s));
    auto atts = split_list(a->common.attention);
    if (atts.empty()) atts.push_back("");  // the model's config.attention_type
    BB_CHECK(!lens.empty(), "--seq-len needs at least one value");
    if (lens.size() == 1 && atts.size() == 1) {
      nlohmann::json r = run_one(*a, lens[0], atts[0]);
      if (a->json) std::printf("%s\n", r.dump().c_str());
      else print_table({r});
      return 0;
    }
    std::vector<nlohmann::json> rows;
    for (auto& t : atts)
      for (int64_t L : lens) {
        rows.push_back(run_child(*a, L, t));
        if (a->json) std::printf("%s\n", rows.back().dump().c_str());
        std::fflush(stdout);
      }
    if (!a->json) print_table(rows);
    return 0;
  };
}

}  // namespace bigbird::cli
