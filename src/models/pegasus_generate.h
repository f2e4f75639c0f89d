// generate() for BigBirdPegasus: runs greedy or beam search (generation.h) on an encoded batch,
// scoring each step with the KV-cached decoder (DecoderSession) or, with use_cache = false, by
// re-running the decoder on every whole prefix (the reference the cache is checked against).
#pragma once
#include "models/generation.h"
#include "models/pegasus_model.h"

namespace bigbird {

// enc: the encoder output of the batch. decoder_prompt [batch, P] (optional): the decoder's
// starting tokens (HF's decoder_input_ids); by default one decoder_start_token_id per row.
GenerationResult pegasus_generate(const PegasusModel& model, const PegasusEncoderOutput& enc,
                                  const GenerationConfig& cfg, const ThreadingContext& ctx,
                                  const TensorI64* decoder_prompt = nullptr);

// The raw next-token logits of the decoder for a search (before any processor): cached or not.
ScoreFn pegasus_logits_fn(const PegasusModel& model, const PegasusEncoderOutput& enc, int64_t rows_per_item,
                          int64_t capacity, bool use_cache, const ThreadingContext& ctx);

}  // namespace bigbird
