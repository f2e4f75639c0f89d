#include "common_options.h"

#include <exception>
#include <sstream>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "kernels/gemm_bf16.h"

namespace bigbird::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool given(const CLI::Option* o) { return o && o->count() > 0; }

// The flags that choose random blocks, as the user gave them, with their verb (for messages).
std::string plan_flags(const CommonOptions& o) {
  const bool plan = given(o.random_plan_opt), seed = given(o.seed_opt);
  if (plan && seed) return "--random-plan and --seed have";
  if (plan) return "--random-plan has";
  if (seed) return "--seed has";
  return "";
}

}  // namespace

void add_common_options(CLI::App& app, CommonOptions& o, const CommonOptionsSpec& spec) {
  o.command = app.get_name();
  o.no_bf16 = spec.no_bf16;
  o.attention_list = spec.attention_list;
  app.add_option("--threads", o.threads, "threads (default 0: all cores)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            try {
              size_t pos = 0;
              if (std::stoi(s, &pos) >= 0 && pos == s.size()) return {};
            } catch (const std::exception&) {
            }
            return "'" + s + "' is not a thread count (0 = all cores, or N >= 1)";
          },
          "NONNEGATIVE"));
  if (spec.attention_list) {
    app.add_option("--attention", o.attention,
                   "block_sparse or original_full (default: the model's config.attention_type); "
                   "a comma list runs each")
        ->check(CLI::Validator(
            [](std::string& s) -> std::string {
              const auto v = split_list(s);
              if (v.empty()) return "needs at least one of block_sparse, original_full";
              for (const auto& t : v)
                if (t != "block_sparse" && t != "original_full")
                  return "'" + t + "' is not block_sparse or original_full";
              return {};
            },
            "block_sparse|original_full[,...]"));
  } else {
    app.add_option("--attention", o.attention,
                   "block_sparse or original_full (default: the model's config.attention_type)")
        ->check(CLI::IsMember({"block_sparse", "original_full"}));
  }
  o.random_plan_opt = app.add_option("--random-plan", o.random_plan,
                                     "random attention blocks: hf (default: HF 4.27's numpy draw, as HF's models "
                                     "and pipelines) or seeded (our own draw, from --seed)")
                          ->check(CLI::IsMember({"hf", "seeded"}));
  o.seed_opt = app.add_option("--seed", o.seed,
                              "seed of --random-plan seeded (default 0); refused without it, where it has no effect");
  app.add_option("--dtype", o.dtype,
                 "f32 (default, exact) or bf16 (opt-in: bf16 products with float32 accumulation, needs "
                 "AVX512-BF16; refused where a model has no bf16 path)")
      ->check(CLI::IsMember({"f32", "bf16"}));
}

std::optional<AttentionType> CommonOptions::attention_type() const {
  if (attention.empty()) return std::nullopt;
  BB_CHECK(attention.find(',') == std::string::npos, "--attention: one value expected, got '", attention, "'");
  return parse_attention_type(attention);
}

void CommonOptions::refuse_bf16(const std::string& what) const {
  if (bf16()) fail("--dtype bf16: no bf16 path yet in ", what, "; use --dtype f32");
}

void CommonOptions::apply() const {
  BB_CHECK(dtype == "f32" || dtype == "bf16", "--dtype: '", dtype, "' is not f32 or bf16");
  BB_CHECK(threads >= 0, "--threads: ", threads, " is negative (0 = all cores)");
  if (bf16()) {
    if (!no_bf16.empty()) refuse_bf16(no_bf16);
    BB_CHECK(bf16_supported(),
             "--dtype bf16 needs a CPU with AVX512-BF16 (e.g. AMD Zen 4, Intel Cooper Lake or later); "
             "this one has none: use --dtype f32");
  }
  BB_CHECK(!given(seed_opt) || random_plan == "seeded",
           "--seed has no effect with --random-plan ", random_plan, " (it seeds --random-plan seeded only)");
  if (!attention.empty() && !plan_flags(*this).empty()) {
    bool sparse = false;
    for (const auto& t : split_list(attention)) sparse = sparse || t == "block_sparse";
    BB_CHECK(sparse, plan_flags(*this), " no effect with --attention ", attention,
             " (full attention has no random blocks)");
  }
  // MERGE: the one spot that applies --threads. Replace by the ThreadingContext (threading())
  // passed down into the library.
  apply_threads(threads);
}

void CommonOptions::check_model(AttentionType config_attention) const {
  if (!attention.empty() || plan_flags(*this).empty()) return;  // apply() checked an explicit --attention
  BB_CHECK(config_attention == AttentionType::BlockSparse, plan_flags(*this),
           " no effect: the model's config.attention_type is ", attention_type_name(config_attention),
           " (no random blocks); drop it or give --attention block_sparse");
}

ForwardOptions CommonOptions::forward_options() const {
  ForwardOptions opt;
  opt.attention = attention_type();
  opt.plan_source = plan_source();
  opt.seed = seed;
  opt.bf16 = bf16();
  return opt;
}

tasks::RunOptions CommonOptions::run_options() const {
  refuse_bf16("the " + command + " command");
  tasks::RunOptions o;
  o.attention = attention_type();
  o.plan_source = plan_source();
  o.seed = seed;
  return o;
}

}  // namespace bigbird::cli
