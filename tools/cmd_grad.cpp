// `bigbird grad`: the loss of a batch and every parameter's gradient, as HF + PyTorch's
// backward give them. IN holds input_ids, optional attention_mask, token_type_ids,
// rand_attn.layer{L} and the labels under HF's argument names (labels, start_positions,
// end_positions, next_sentence_label); the head and the loss follow the checkpoint's
// architectures. OUT: loss F32 [1], grad.<name> for every parameter of HF's named_parameters()
// (tied weights once; zeros where the loss does not reach), grad.embedding_output.
// --random-plan defaults to hf: the plan of HF's training mode in every transformers version.
#include "commands.h"
#include "core/atomic_file.h"
#include "common_options.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "train/trainer.h"

namespace bigbird::cli {

namespace {

struct GradArgs {
  std::string model, inputs, outputs;
  CommonOptions common;
};

int run(const GradArgs& a) {
  a.common.check();
  const ThreadingContext ctx = a.common.threading();
  check_output_is_not_input(a.outputs, "--outputs", a.inputs, "--inputs");
  check_output_is_not_in_model(a.outputs, "--outputs", a.model);
  const train::LabelledBatch batch = train::read_labelled_batch(a.inputs);
  auto model = BigBirdModel::load(a.model, a.common.overrides());
  ForwardOptions opt = a.common.forward_options();
  opt.injected_plans = batch.plans;
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < model->config().num_hidden_layers, "'", a.inputs, "': rand_attn.layer", layer,
             " but the model has ", model->config().num_hidden_layers, " layers");
  const GradOutput g = model->loss_and_grads(batch.in, batch.labels, opt, ctx);
  std::vector<OutTensor> out;
  out.push_back(OutTensor::f32("loss", Shape{1}, &g.loss));
  for (const auto& [name, t] : g.grads) out.push_back(OutTensor::f32("grad." + name, t));
  out.push_back(OutTensor::f32("grad.embedding_output", g.embedding_output));
  write_safetensors(a.outputs, out);
  std::printf("loss %.7g; wrote %zu gradients to %s\n", static_cast<double>(g.loss), g.grads.size() + 1,
              a.outputs.c_str());
  return 0;
}

}  // namespace

Runner add_grad(CLI::App& app) {
  auto a = std::make_shared<GradArgs>();
  app.add_option("--model", a->model, "checkpoint directory (config.json with architectures, model.safetensors)")
      ->required();
  app.add_option("--inputs", a->inputs,
                 "input tensors: input_ids, optional attention_mask, token_type_ids, rand_attn.layer{L}, and the "
                 "labels (labels, start_positions, end_positions, next_sentence_label)")
      ->required();
  app.add_option("--outputs", a->outputs, "where to write loss, grad.<name> and grad.embedding_output (safetensors)")
      ->required();
  // HF computes gradients in training mode, whose plan is the layer-seeded numpy draw in every
  // transformers version (4.30+ returns zeros only in eval mode): hf by default.
  CommonOptionsSpec spec;
  spec.default_plan = "hf";
  add_common_options(app, a->common, spec);
  return [a] { return run(*a); };
}

}  // namespace bigbird::cli
