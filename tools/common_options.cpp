#include "common_options.h"

#include <exception>
#include <filesystem>
#include <sstream>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "kernels/gemm_bf16.h"

namespace bigbird::cli {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

namespace {

CLI::Validator number_check(bool zero_ok) {
  return CLI::Validator(
      [zero_ok](std::string& s) -> std::string {
        try {
          size_t pos = 0;
          const double v = std::stod(s, &pos);
          if (pos == s.size() && (zero_ok ? v >= 0 : v > 0)) return {};
        } catch (const std::exception&) {
        }
        return "'" + s + (zero_ok ? "' is not a number >= 0" : "' is not a positive number");
      },
      zero_ok ? "NONNEGATIVE" : "POSITIVE");
}

bool given(const CLI::Option* o) { return o && o->count() > 0; }

}  // namespace

void check_output_is_not_in_model(const std::string& output, const char* flag, const std::string& dir) {
  if (output.empty() || output == "-" || dir.empty()) return;
  for (const char* f : {"config.json", "model.safetensors", "pytorch_model.bin", "generation_config.json", "spiece.model", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "added_tokens.json"}) {
    const std::string file = (std::filesystem::path(dir) / f).string();
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) check_output_is_not_input(output, flag, file, "of the model");
  }
}

CLI::Validator positive_number() { return number_check(false); }
CLI::Validator non_negative_number() { return number_check(true); }

void add_common_options(CLI::App& app, CommonOptions& o, const CommonOptionsSpec& spec) {
  o.command = app.get_name();
  o.attention_list = spec.attention_list;
  app.add_option("--threads", o.threads, "threads (default 0: all cores)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            try {
              size_t pos = 0;
              const int n = std::stoi(s, &pos);
              if (pos == s.size() && n > kMaxThreads)
                return "'" + s + "' threads is more than the limit of " + std::to_string(kMaxThreads);
              if (n >= 0 && pos == s.size()) return {};
            } catch (const std::exception&) {
            }
            return "'" + s + "' is not a thread count (0 = all cores, or 1 to " + std::to_string(kMaxThreads) + ")";
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
  o.random_plan = spec.default_plan;
  o.plan_opt = app.add_option("--random-plan", o.random_plan,
                              "random attention blocks: zeros (transformers >= 4.30 in eval mode: every random "
                              "block is block 0), hf (HF's numpy draw: transformers 4.27-4.29, and every "
                              "version's training mode) or seeded (our own draw, from --seed); default here: " +
                                  spec.default_plan)
                   ->check(CLI::IsMember({"zeros", "hf", "seeded"}));
  o.training_seed = spec.training_seed;
  if (spec.training_seed) {
    o.seed = 42;
    o.seed_opt = app.add_option("--seed", o.seed,
                                "training seed (default 42, as HF's TrainingArguments): data order, MLM masking, new "
                                "heads' initial weights, and the draws of --random-plan seeded");
  } else {
    o.seed_opt = app.add_option(
        "--seed", o.seed, "seed of --random-plan seeded (default 0); refused without it (it would change nothing)");
  }
  app.add_option("--dtype", o.dtype,
                 "f32 (default, exact), bf16 (opt-in: bf16 products with float32 accumulation; AVX512-BF16, "
                 "else emulated with AVX2) or int8 (opt-in: dynamic per-token int8 activations, per-channel "
                 "int8 weights, int32 accumulation; AVX512-VNNI, else AVX2)")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}));
  app.add_option("--config-overrides", o.config_overrides,
                 "changes to the model's config.json, as \"key=value,key=value\" (HF run_mlm's syntax), e.g. "
                 "\"window_blocks=5,global_blocks=2,num_random_blocks=0\"; train saves them in its config.json");
}

bool CommonOptions::plan_given() const { return given(plan_opt); }

std::optional<AttentionType> CommonOptions::attention_type() const {
  if (attention.empty()) return std::nullopt;
  BB_CHECK(attention.find(',') == std::string::npos, "--attention: one value expected, got '", attention, "'");
  return parse_attention_type(attention);
}

void CommonOptions::check() const {
  (void)overrides();  // a malformed --config-overrides is refused before any work
  BB_CHECK(dtype == "f32" || dtype == "bf16" || dtype == "int8", "--dtype: '", dtype, "' is not f32, bf16 or int8");
  BB_CHECK(threads >= 0, "--threads: ", threads, " is negative (0 = all cores)");
  BB_CHECK(threads <= kMaxThreads, "--threads: ", threads, " is more than the limit of ", kMaxThreads);
  (void)matrix_unit_name(precision());  // refuses a dtype this CPU has no unit for
  BB_CHECK(training_seed || !given(seed_opt) || random_plan == "seeded", "--seed has no effect with --random-plan ",
           random_plan, " (it seeds --random-plan seeded only)");
}

ForwardOptions CommonOptions::forward_options() const {
  ForwardOptions opt;
  opt.attention = attention_type();
  opt.plan_source = plan_source();
  opt.seed = seed;
  opt.precision = precision();
  return opt;
}

tasks::RunOptions CommonOptions::run_options() const {
  tasks::RunOptions o;
  o.attention = attention_type();
  o.plan_source = plan_source();
  o.seed = seed;
  o.precision = precision();
  o.threading = threading();
  return o;
}

}  // namespace bigbird::cli
