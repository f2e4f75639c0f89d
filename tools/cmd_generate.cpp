// `bigbird generate`: HF generate() for a BigBirdPegasus checkpoint. Reads input_ids, optional
// attention_mask, optional decoder_input_ids (the decoder prompt) and optional rand_attn.layer{L};
// writes `sequences` (I64 [batch·num_return_sequences, length]) and, for beam search,
// `sequences_scores` (F32) and `beam_indices` (I64). Every setting is a flag named like HF's
// keyword; unset ones take the checkpoint's generation defaults. Id flags accept "None" to unset.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "commands.h"
#include "core/atomic_file.h"
#include "common_options.h"
#include "generation_flags.h"
#include "core/error.h"
#include "models/pegasus_generate.h"
#include "models/pegasus_model.h"
#include "sparse/plan_io.h"

namespace bigbird::cli {

namespace {

struct GenerateArgs {
  std::string model, inputs, outputs;
  CommonOptions common;
  GenerationFlags gen;  // generation settings as given on the command line
};

int run(const GenerateArgs& a) {
  a.common.check();
  const ThreadingContext ctx = a.common.threading();
  check_output_is_not_input(a.outputs, "--outputs", a.inputs, "--inputs");
  check_output_is_not_in_model(a.outputs, "--outputs", a.model);
  SafeTensors in = SafeTensors::open(a.inputs);
  auto model = PegasusModel::load(a.model, a.common.overrides());
  const BigBirdPegasusConfig& c = model->config();
  const GenerationConfig g = apply_generation_flags(a.gen, GenerationConfig::from_defaults(c.generation));

  BB_CHECK(in.has("input_ids"), "'", a.inputs, "' has no input_ids tensor");
  EncoderInput ei;
  ei.input_ids = in.read_i64("input_ids");
  ei.attention_mask = read_optional_like(in, "attention_mask", ei.input_ids.shape);
  ForwardOptions opt = a.common.forward_options();
  opt.injected_plans = plans_from_safetensors(in);
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.encoder_layers, "'", a.inputs, "': rand_attn.layer", layer, " but the encoder has ",
             c.encoder_layers, " layers");
  TensorI64 prompt;
  const bool has_prompt = in.has("decoder_input_ids");
  if (has_prompt) {  // present means given: an empty one is an error (as in forward), not "no prompt"
    prompt = in.read_i64("decoder_input_ids");
    const int64_t b = ei.input_ids.shape.size() == 2 ? ei.input_ids.dim(0) : -1;
    BB_CHECK(prompt.shape.size() == 2 && prompt.dim(0) == b && prompt.dim(1) >= 1, "'", a.inputs,
             "': decoder_input_ids must be [", b, ", length >= 1] (one row per input), got ", to_string(prompt.shape));
  }
  // Settings are checked before the encoder runs, so a bad flag fails fast.
  validate_generation(g, c.vocab_size, has_prompt ? prompt.dim(1) : 1);

  const PegasusEncoderOutput enc = model->encode(ei, opt, ctx);
  const GenerationResult r = pegasus_generate(*model, enc, g, ctx, has_prompt ? &prompt : nullptr);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

  std::vector<OutTensor> out;
  out.push_back(OutTensor::i64("sequences", r.sequences));
  if (g.num_beams > 1) {
    out.push_back(OutTensor::f32("sequences_scores", Shape{static_cast<int64_t>(r.sequences_scores.size())},
                                 r.sequences_scores.data()));
    out.push_back(OutTensor::i64("beam_indices", r.beam_indices));
  }
  std::map<std::string, std::string> meta{
      {"max_length_used", std::to_string(r.max_length)},
      {"num_steps", std::to_string(r.steps)},
      {"num_beams", std::to_string(g.num_beams)},
      {"attention_type_used", attention_type_name(enc.attention_used)},
      {"fallback_to_original_full", enc.fell_back ? "true" : "false"},
      {"input_seq_len", std::to_string(enc.input_len)},
      {"padded_seq_len", std::to_string(enc.padded_len)},
  };
  write_safetensors(a.outputs, out, meta);
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  app.add_option("--model", a->model, "BigBirdPegasus checkpoint directory (config.json + model.safetensors)")
      ->required();
  app.add_option("--inputs", a->inputs,
                 "input tensors: input_ids, optional attention_mask, decoder_input_ids (prompt), rand_attn.layer{L}")
      ->required();
  app.add_option("--outputs", a->outputs, "where to write sequences (+ sequences_scores, beam_indices)")->required();
  add_generation_flags(app, a->gen);
  add_common_options(app, a->common);
  return [a] { return run(*a); };
}

}  // namespace bigbird::cli
