// `bigbird forward`: a golden-file runner. Reads input tensors from a safetensors file, runs
// the checkpoint and writes every output tensor the model has (names as the fixture README).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/atomic_file.h"
#include "common_options.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "models/forward_outputs.h"
#include "sparse/plan_io.h"

namespace bigbird::cli {

namespace {

struct ForwardArgs {
  std::string model, inputs, outputs;
  CommonOptions common;
  int generate = 0;
};

std::string model_type_of(const std::string& dir) {
  BB_CHECK(std::filesystem::is_directory(dir), "model directory '", dir, "' does not exist");
  const auto path = std::filesystem::path(dir) / "config.json";
  BB_CHECK(std::filesystem::exists(path), "no config.json in model directory '", dir, "'");
  const nlohmann::json j = read_json_object(path.string());
  return j.value("model_type", std::string("big_bird"));
}

std::vector<OutTensor> forward_encoder(const ForwardArgs& a, const SafeTensors& in, const ThreadingContext& ctx) {
  auto model = BigBirdModel::load(a.model, a.common.overrides());
  BB_CHECK(in.has("input_ids"), "'", a.inputs, "' has no input_ids tensor");
  EncoderInput ei;
  ei.input_ids = in.read_i64("input_ids");
  ei.attention_mask = read_optional_like(in, "attention_mask", ei.input_ids.shape);
  ei.token_type_ids = read_optional_like(in, "token_type_ids", ei.input_ids.shape);
  BB_CHECK(ei.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(ei.input_ids.shape));
  ForwardOptions opt = a.common.forward_options();
  opt.injected_plans = plans_from_safetensors(in);
  return encoder_forward_outputs(*model, std::move(ei), std::move(opt), ctx, a.inputs);
}

}  // namespace

Runner add_forward(CLI::App& app) {
  auto a = std::make_shared<ForwardArgs>();
  app.add_option("--model", a->model, "checkpoint directory (config.json + model.safetensors)")->required();
  app.add_option("--inputs", a->inputs,
                 "input tensors: input_ids, optional attention_mask, token_type_ids, rand_attn.layer{L}")
      ->required();
  app.add_option("--outputs", a->outputs, "where to write the output tensors (safetensors)")->required();
  add_common_options(app, a->common);
  app.add_option("--generate", a->generate, "bigbird_pegasus: also N greedy decoding steps (greedy.tokens)")
      ->check(non_negative_number());
  return [a] {
    a->common.check();
    check_output_is_not_input(a->outputs, "--outputs", a->inputs, "--inputs");
    check_output_is_not_in_model(a->outputs, "--outputs", a->model);
    const ThreadingContext ctx = a->common.threading();
    SafeTensors in = SafeTensors::open(a->inputs);
    const std::string type = model_type_of(a->model);
    std::vector<OutTensor> out;
    if (type == "big_bird" && a->generate == 0) out = forward_encoder(*a, in, ctx);
    else if (type == "bigbird_pegasus")
      out = forward_pegasus(a->model, in, a->common.forward_options(), a->generate, ctx, a->common.overrides());
    else
      fail("model_type '", type, "' is not supported by forward", type == "big_bird" ? " --generate" : "",
           " (supported: big_bird, bigbird_pegasus)");
    write_safetensors(a->outputs, out);
    std::printf("wrote %zu tensors to %s:\n", out.size(), a->outputs.c_str());
    for (const auto& t : out)
      std::printf("  %-32s %s %s\n", t.name.c_str(), dtype_name(t.dtype), to_string(t.shape).c_str());
    return 0;
  };
}

}  // namespace bigbird::cli
