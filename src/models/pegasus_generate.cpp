#include "models/pegasus_generate.h"

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "models/decoder_session.h"
#include "models/logits_process.h"

namespace bigbird {

ScoreFn pegasus_logits_fn(const PegasusModel& model, const PegasusEncoderOutput& enc, int64_t rows_per_item,
                          int64_t capacity, bool use_cache, const ThreadingContext& ctx) {
  const int64_t V = model.config().vocab_size;
  if (use_cache) {
    auto session = std::make_shared<DecoderSession>(model, enc, rows_per_item, capacity, ctx);
    return [session, V](const SearchState& st, float* logits) {
      BB_CHECK(st.rows == session->rows() && st.vocab == V, "decoder: search has ", st.rows, " rows of ", st.vocab,
               " scores, the session ", session->rows(), " rows of ", V);
      if (st.parent) session->reorder(*st.parent);
      const std::vector<uint8_t> all;
      const std::vector<uint8_t>& active = st.active ? *st.active : all;
      // First call: feed the prompt but its last token in one chunk (prefill), then one token per step.
      const int64_t start = session->length(), n_new = st.cur_len - start;
      BB_CHECK(n_new >= 1, "decoder: prefix length ", st.cur_len, " but ", start, " positions are cached already");
      std::vector<int64_t> cols(static_cast<size_t>(st.rows * n_new));
      for (int64_t r = 0; r < st.rows; ++r)
        std::copy_n(st.tokens + r * st.cur_len + start, n_new, cols.begin() + r * n_new);
      if (n_new > 1) {
        std::vector<int64_t> head(static_cast<size_t>(st.rows * (n_new - 1))), last(static_cast<size_t>(st.rows));
        for (int64_t r = 0; r < st.rows; ++r) {
          std::copy_n(cols.begin() + r * n_new, n_new - 1, head.begin() + r * (n_new - 1));
          last[static_cast<size_t>(r)] = cols[static_cast<size_t>(r * n_new + n_new - 1)];
        }
        session->append(head.data(), n_new - 1, active, nullptr);
        session->append(last.data(), 1, active, logits);
      } else {
        session->append(cols.data(), 1, active, logits);
      }
    };
  }
  auto cross = std::make_shared<CrossAttentionCache>(model.cross_attention_cache(enc, ctx));
  return [&model, cross, rows_per_item, V, ctx](const SearchState& st, float* logits) {
    std::vector<int64_t> idx, item;
    for (int64_t r = 0; r < st.rows; ++r)
      if (!st.active || (*st.active)[static_cast<size_t>(r)]) {
        idx.push_back(r);
        item.push_back(r / rows_per_item);
      }
    if (idx.empty()) return;
    const int64_t n = static_cast<int64_t>(idx.size()), T = st.cur_len;
    TensorI64 ids(Shape{n, T});
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(st.tokens + idx[static_cast<size_t>(i)] * T, T, ids.data.begin() + i * T);
    const PegasusDecoderOutput out = model.decode(*cross, ids, item, false, ctx);
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(out.logits.ptr() + (i * T + T - 1) * V, V, logits + idx[static_cast<size_t>(i)] * V);
  };
}

GenerationResult pegasus_generate(const PegasusModel& model, const PegasusEncoderOutput& enc,
                                  const GenerationConfig& cfg, const ThreadingContext& ctx,
                                  const TensorI64* decoder_prompt) {
  const int64_t batch = enc.sequence_output.dim(0), V = model.config().vocab_size;
  TensorI64 prompt;
  if (decoder_prompt) {
    BB_CHECK(decoder_prompt->shape.size() == 2 && decoder_prompt->dim(0) == batch && decoder_prompt->dim(1) >= 1,
             "decoder prompt must be [", batch, ", length >= 1] (one row per input), got ",
             to_string(decoder_prompt->shape));
    prompt = *decoder_prompt;
  } else {
    prompt = TensorI64(Shape{batch, 1}, cfg.decoder_start_token_id);
  }
  validate_generation(cfg, V, prompt.dim(1));
  const int64_t max_length = resolved_max_length(cfg, prompt.dim(1));
  // Tokens the decoder will read: every token of the result but the last one.
  const int64_t capacity = std::max(max_length - 1, prompt.dim(1));
  ScoreFn raw = pegasus_logits_fn(model, enc, cfg.num_beams, capacity, cfg.use_cache, ctx);
  return run_search(cfg, prompt, V, processed_scores(cfg, max_length, std::move(raw)));
}

}  // namespace bigbird
