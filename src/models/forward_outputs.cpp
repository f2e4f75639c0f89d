#include "models/forward_outputs.h"

#include <algorithm>

#include "core/error.h"
#include "models/pegasus_generate.h"

namespace bigbird {

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

std::vector<OutTensor> encoder_forward_outputs(const BigBirdModel& model, EncoderInput ei, ForwardOptions opt,
                                               const ThreadingContext& ctx, const std::string& source) {
  const BigBirdConfig& c = model.config();
  BB_CHECK(ei.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(ei.input_ids.shape));
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.num_hidden_layers, "'", source, "': rand_attn.layer", layer, " but the model has ",
             c.num_hidden_layers, " layers");
  opt.keep_hidden_states = true;

  const bool qa = model.architecture() == Architecture::QuestionAnswering;
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
  EncoderOutput eo = model.encode(ei, opt, ctx);

  std::vector<OutTensor> out;
  out.push_back(OutTensor::f32("embedding_output", eo.embedding_output));
  for (size_t l = 0; l < eo.hidden_states.size(); ++l)
    out.push_back(OutTensor::f32("hidden_state.layer" + std::to_string(l), eo.hidden_states[l]));
  out.push_back(OutTensor::f32("sequence_output", eo.sequence_output));
  Tensor pooled;
  if (model.has_pooler()) {
    pooled = model.pooler(eo.sequence_output, ctx);
    out.push_back(OutTensor::f32("pooler_output", pooled));
  }
  if (model.has_mlm()) out.push_back(OutTensor::f32("mlm_logits", model.mlm_logits(eo.sequence_output, ctx)));
  if (model.has_nsp()) out.push_back(OutTensor::f32("nsp_logits", model.nsp_logits(pooled, ctx)));
  switch (model.architecture()) {
    case Architecture::SequenceClassification:
      out.push_back(OutTensor::f32("seqcls.logits", model.sequence_classification_logits(eo.sequence_output, ctx)));
      break;
    case Architecture::TokenClassification:
      out.push_back(OutTensor::f32("token_cls.logits", model.token_classification_logits(eo.sequence_output, ctx)));
      break;
    case Architecture::QuestionAnswering: {
      Tensor logits = model.qa_logits(eo.sequence_output, ctx);  // [b, L, labels]
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

std::vector<OutTensor> pegasus_forward_outputs(const PegasusModel& model, const EncoderInput& in,
                                               const TensorI64* decoder_input_ids,
                                               const TensorI64* decoder_attention_mask, ForwardOptions opt,
                                               int generate_steps, const ThreadingContext& ctx,
                                               const std::string& source) {
  BB_CHECK(generate_steps >= 0, "--generate must be >= 0, got ", generate_steps);
  const BigBirdPegasusConfig& c = model.config();
  BB_CHECK(in.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(in.input_ids.shape));
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.encoder_layers, "'", source, "': rand_attn.layer", layer, " but the encoder has ",
             c.encoder_layers, " layers");
  opt.keep_hidden_states = true;
  const PegasusEncoderOutput enc = model.encode(in, opt, ctx);

  std::vector<OutTensor> out;
  out.push_back(OutTensor::f32("encoder.embedding_output", enc.embedding_output));
  for (size_t l = 0; l < enc.hidden_states.size(); ++l)
    out.push_back(OutTensor::f32(layer_name("encoder", l), enc.hidden_states[l]));
  out.push_back(OutTensor::f32("encoder.output", enc.sequence_output));

  const int64_t b = in.input_ids.dim(0);
  const int64_t start = c.generation.decoder_start_token_id.value_or(c.generation.bos_token_id.value_or(0));
  const TensorI64 dec_ids =
      decoder_input_ids ? *decoder_input_ids : shift_tokens_right(in.input_ids, c.pad_token_id, start);
  BB_CHECK(dec_ids.shape.size() == 2 && dec_ids.dim(0) == b && dec_ids.dim(1) >= 1, "decoder_input_ids must be [", b,
           ", length >= 1], got ", to_string(dec_ids.shape));
  // HF's decoder_attention_mask: 0/1 like attention_mask; the decoder here has no padding mask, so
  // only an all-ones mask (the same as none) is accepted, never one silently ignored.
  if (decoder_attention_mask) {
    const TensorI64& m = *decoder_attention_mask;
    BB_CHECK(m.shape == dec_ids.shape, "'", source, "': decoder_attention_mask has shape ", to_string(m.shape),
             " but decoder_input_ids has ", to_string(dec_ids.shape));
    const int64_t L = dec_ids.dim(1);
    for (size_t i = 0; i < m.data.size(); ++i) {
      BB_CHECK(m.data[i] == 0 || m.data[i] == 1, "'", source, "': decoder_attention_mask[", i / L, ", ", i % L,
               "] = ", m.data[i], ": must be 0 or 1");
      BB_CHECK(m.data[i] == 1, "'", source, "': decoder_attention_mask[", i / L, ", ", i % L,
               "] = 0: padded decoder inputs are not supported (give unpadded decoder_input_ids, or no mask)");
    }
  }
  std::vector<int64_t> row_item(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) row_item[static_cast<size_t>(i)] = i;
  const PegasusDecoderOutput dec = model.decode(model.cross_attention_cache(enc, ctx), dec_ids, row_item, true, ctx);
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
    ScoreFn raw = pegasus_logits_fn(model, enc, 1, generate_steps, true, ctx);
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

}  // namespace bigbird
