// `bigbird forward` on a BigBirdPegasus checkpoint: encoder, decoder (on decoder_input_ids, or on
// input_ids shifted right as HF does without them), logits, and with --generate N a greedy decode of
// N steps without an eos stop (the fixtures' greedy.tokens). Tensor names as the fixture README.
#include <algorithm>

#include "commands.h"
#include "core/error.h"
#include "models/pegasus_generate.h"
#include "models/pegasus_model.h"
#include "sparse/plan_io.h"

namespace bigbird::cli {

namespace {

// HF shift_tokens_right: [start, ids[:-1]] with -100 replaced by pad.
TensorI64 shift_tokens_right(const TensorI64& ids, int64_t pad, int64_t start) {
  TensorI64 out(ids.shape);
  const int64_t b = ids.dim(0), L = ids.dim(1);
  for (int64_t i = 0; i < b; ++i) {
    out.data[static_cast<size_t>(i * L)] = start;
    for (int64_t t = 1; t < L; ++t) {
      const int64_t v = ids.data[static_cast<size_t>(i * L + t - 1)];
      out.data[static_cast<size_t>(i * L + t)] = v == -100 ? pad : v;
    }
  }
  return out;
}

std::string layer_name(const char* part, size_t i) {
  return std::string(part) + ".layer" + std::to_string(i) + ".output";
}

}  // namespace

std::vector<OutTensor> forward_pegasus(const std::string& model_dir, const SafeTensors& in,
                                       const ForwardOptions& options, int generate_steps, const ThreadingContext& ctx,
                                       const ConfigOverrides& ov) {
  BB_CHECK(generate_steps >= 0, "--generate must be >= 0, got ", generate_steps);
  auto model = PegasusModel::load(model_dir, ov);
  const BigBirdPegasusConfig& c = model->config();
  BB_CHECK(in.has("input_ids"), "'", in.path(), "' has no input_ids tensor");
  EncoderInput ei;
  ei.input_ids = in.read_i64("input_ids");
  ei.attention_mask = read_optional_like(in, "attention_mask", ei.input_ids.shape);
  BB_CHECK(ei.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(ei.input_ids.shape));
  ForwardOptions opt = options;  // attention, plan source, seed, bf16
  opt.injected_plans = plans_from_safetensors(in);
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.encoder_layers, "'", in.path(), "': rand_attn.layer", layer, " but the encoder has ",
             c.encoder_layers, " layers");
  opt.keep_hidden_states = true;
  const PegasusEncoderOutput enc = model->encode(ei, opt, ctx);

  std::vector<OutTensor> out;
  out.push_back(OutTensor::f32("encoder.embedding_output", enc.embedding_output));
  for (size_t l = 0; l < enc.hidden_states.size(); ++l)
    out.push_back(OutTensor::f32(layer_name("encoder", l), enc.hidden_states[l]));
  out.push_back(OutTensor::f32("encoder.output", enc.sequence_output));

  const int64_t b = ei.input_ids.dim(0);
  const int64_t start = c.generation.decoder_start_token_id.value_or(c.generation.bos_token_id.value_or(0));
  TensorI64 dec_ids = in.has("decoder_input_ids") ? in.read_i64("decoder_input_ids")
                                                  : shift_tokens_right(ei.input_ids, c.pad_token_id, start);
  BB_CHECK(dec_ids.shape.size() == 2 && dec_ids.dim(0) == b && dec_ids.dim(1) >= 1, "decoder_input_ids must be [", b,
           ", length >= 1], got ", to_string(dec_ids.shape));
  // HF's decoder_attention_mask: 0/1 like attention_mask; the decoder here has no padding mask, so
  // only an all-ones mask (the same as none) is accepted, never one silently ignored.
  if (in.has("decoder_attention_mask")) {
    const TensorI64 m = in.read_i64("decoder_attention_mask");
    BB_CHECK(m.shape == dec_ids.shape, "'", in.path(), "': decoder_attention_mask has shape ", to_string(m.shape),
             " but decoder_input_ids has ", to_string(dec_ids.shape));
    const int64_t L = dec_ids.dim(1);
    for (size_t i = 0; i < m.data.size(); ++i) {
      BB_CHECK(m.data[i] == 0 || m.data[i] == 1, "'", in.path(), "': decoder_attention_mask[", i / L, ", ", i % L,
               "] = ", m.data[i], ": must be 0 or 1");
      BB_CHECK(m.data[i] == 1, "'", in.path(), "': decoder_attention_mask[", i / L, ", ", i % L,
               "] = 0: padded decoder inputs are not supported (give unpadded decoder_input_ids, or no mask)");
    }
  }
  std::vector<int64_t> row_item(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) row_item[static_cast<size_t>(i)] = i;
  const PegasusDecoderOutput dec = model->decode(model->cross_attention_cache(enc, ctx), dec_ids, row_item, true, ctx);
  out.push_back(OutTensor::f32("decoder.embedding_output", dec.embedding_output));
  for (size_t l = 0; l < dec.layer_outputs.size(); ++l)
    out.push_back(OutTensor::f32(layer_name("decoder", l), dec.layer_outputs[l]));
  out.push_back(OutTensor::f32("decoder.output", dec.output));
  out.push_back(OutTensor::f32("logits", dec.logits));
  for (size_t l = 0; l < enc.plans.size(); ++l) {
    const RandomPlan& p = enc.plans[l];
    out.push_back(OutTensor::i32("rand_attn.layer" + std::to_string(l), Shape{p.heads, p.rows, p.r}, p.blocks.data()));
  }

  if (generate_steps > 0) {  // greedy, KV-cached, no processors, no eos stop
    GenerationConfig g;
    g.max_length = 1 + generate_steps;
    g.decoder_start_token_id = start;
    g.pad_token_id = c.pad_token_id;
    const int64_t V = c.vocab_size;
    Tensor step_logits(Shape{b, generate_steps, V});
    ScoreFn raw = pegasus_logits_fn(*model, enc, 1, generate_steps, true, ctx);
    ScoreFn record = [&](const SearchState& st, float* logits) {
      raw(st, logits);
      const int64_t k = st.cur_len - 1;
      for (int64_t i = 0; i < b; ++i) std::copy_n(logits + i * V, V, step_logits.ptr() + (i * generate_steps + k) * V);
    };
    const GenerationResult r = run_search(g, TensorI64(Shape{b, 1}, start), V, record);
    out.push_back(OutTensor::i64("greedy.tokens", r.sequences));
    out.push_back(OutTensor::f32("greedy.step_logits", step_logits));
  }
  return out;
}

}  // namespace bigbird::cli
