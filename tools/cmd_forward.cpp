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
  const BigBirdConfig& c = model->config();
  BB_CHECK(in.has("input_ids"), "'", a.inputs, "' has no input_ids tensor");
  EncoderInput ei;
  ei.input_ids = in.read_i64("input_ids");
  ei.attention_mask = read_optional_like(in, "attention_mask", ei.input_ids.shape);
  ei.token_type_ids = read_optional_like(in, "token_type_ids", ei.input_ids.shape);
  BB_CHECK(ei.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(ei.input_ids.shape));
  ForwardOptions opt = a.common.forward_options();
  opt.injected_plans = plans_from_safetensors(in);
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.num_hidden_layers, "'", a.inputs, "': rand_attn.layer", layer, " but the model has ",
             c.num_hidden_layers, " layers");
  opt.keep_hidden_states = true;

  const bool qa = model->architecture() == Architecture::QuestionAnswering;
  std::vector<int64_t> qlen;
  if (qa) {
    qlen = question_lengths(ei.input_ids, c.sep_token_id);
    if (ei.token_type_ids.data.empty()) {  // HF: token_type_ids = 1 - question mask
      ei.token_type_ids = TensorI64(ei.input_ids.shape);
      const int64_t L = ei.input_ids.dim(1);
      for (int64_t i = 0; i < ei.input_ids.dim(0); ++i)
        for (int64_t t = 0; t < L; ++t)
          ei.token_type_ids.data[static_cast<size_t>(i * L + t)] = t < qlen[static_cast<size_t>(i)] ? 0 : 1;
    }
  }
  EncoderOutput eo = model->encode(ei, opt, ctx);

  std::vector<OutTensor> out;
  out.push_back(OutTensor::f32("embedding_output", eo.embedding_output));
  for (size_t l = 0; l < eo.hidden_states.size(); ++l)
    out.push_back(OutTensor::f32("hidden_state.layer" + std::to_string(l), eo.hidden_states[l]));
  out.push_back(OutTensor::f32("sequence_output", eo.sequence_output));
  Tensor pooled;
  if (model->has_pooler()) {
    pooled = model->pooler(eo.sequence_output, ctx);
    out.push_back(OutTensor::f32("pooler_output", pooled));
  }
  if (model->has_mlm()) out.push_back(OutTensor::f32("mlm_logits", model->mlm_logits(eo.sequence_output, ctx)));
  if (model->has_nsp()) out.push_back(OutTensor::f32("nsp_logits", model->nsp_logits(pooled, ctx)));
  switch (model->architecture()) {
    case Architecture::SequenceClassification:
      out.push_back(OutTensor::f32("seqcls.logits", model->sequence_classification_logits(eo.sequence_output, ctx)));
      break;
    case Architecture::TokenClassification:
      out.push_back(OutTensor::f32("token_cls.logits", model->token_classification_logits(eo.sequence_output, ctx)));
      break;
    case Architecture::QuestionAnswering: {
      Tensor logits = model->qa_logits(eo.sequence_output, ctx);  // [b, L, labels]
      const int64_t b = logits.dim(0), L = logits.dim(1), nl = logits.dim(2);
      BB_CHECK(nl >= 2, "question answering head has ", nl, " outputs, expected 2");
      Tensor s(Shape{b, L}), e(Shape{b, L}), sm(Shape{b, L}), em(Shape{b, L});
      for (int64_t i = 0; i < b; ++i)
        for (int64_t t = 0; t < L; ++t) {
          const size_t j = static_cast<size_t>(i * L + t);
          s.data[j] = logits.data[j * nl];
          e.data[j] = logits.data[j * nl + 1];
          const float m = (t > 0 && t < qlen[static_cast<size_t>(i)]) ? 1e6f : 0.0f;
          sm.data[j] = s.data[j] - m;
          em.data[j] = e.data[j] - m;
        }
      out.push_back(OutTensor::f32("qa.start_logits", sm));
      out.push_back(OutTensor::f32("qa.end_logits", em));
      out.push_back(OutTensor::f32("qa.start_logits_unmasked", s));
      out.push_back(OutTensor::f32("qa.end_logits_unmasked", e));
      out.push_back(OutTensor::i64("qa.question_lengths", Shape{b, 1}, qlen.data()));
      out.push_back(OutTensor::i64("qa.token_type_ids_used", ei.token_type_ids));
      break;
    }
    default: break;
  }
  for (size_t l = 0; l < eo.plans.size(); ++l) {
    const RandomPlan& p = eo.plans[l];
    out.push_back(OutTensor::i32("rand_attn.layer" + std::to_string(l), Shape{p.heads, p.rows, p.r}, p.blocks.data()));
  }
  return out;
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
