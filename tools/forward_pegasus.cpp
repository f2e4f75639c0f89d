// `bigbird forward` on a BigBirdPegasus checkpoint: encoder, decoder (on decoder_input_ids, or on
// input_ids shifted right as HF does without them), logits, and with --generate N a greedy decode of
// N steps without an eos stop (the fixtures' greedy.tokens). Tensor names as the fixture README.
#include "commands.h"
#include "core/error.h"
#include "models/forward_outputs.h"
#include "models/pegasus_model.h"
#include "sparse/plan_io.h"

namespace bigbird::cli {

std::vector<OutTensor> forward_pegasus(const std::string& model_dir, const SafeTensors& in,
                                       const ForwardOptions& options, int generate_steps, const ThreadingContext& ctx,
                                       const ConfigOverrides& ov) {
  BB_CHECK(generate_steps >= 0, "--generate must be >= 0, got ", generate_steps);
  auto model = PegasusModel::load(model_dir, ov);
  BB_CHECK(in.has("input_ids"), "'", in.path(), "' has no input_ids tensor");
  EncoderInput ei;
  ei.input_ids = in.read_i64("input_ids");
  ei.attention_mask = read_optional_like(in, "attention_mask", ei.input_ids.shape);
  ForwardOptions opt = options;  // attention, plan source, seed, precision
  opt.injected_plans = plans_from_safetensors(in);
  TensorI64 dec_ids, dec_mask;
  if (in.has("decoder_input_ids")) dec_ids = in.read_i64("decoder_input_ids");
  if (in.has("decoder_attention_mask")) dec_mask = in.read_i64("decoder_attention_mask");
  return pegasus_forward_outputs(*model, ei, in.has("decoder_input_ids") ? &dec_ids : nullptr,
                                 in.has("decoder_attention_mask") ? &dec_mask : nullptr, std::move(opt), generate_steps,
                                 ctx, in.path());
}

}  // namespace bigbird::cli
