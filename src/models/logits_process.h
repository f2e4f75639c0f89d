// HF 4.27 logits processors that generate() builds for these settings, in HF's order:
//   NoRepeatNGram(no_repeat_ngram_size) -> MinLength(min_length) -> ForcedBOS -> ForcedEOS(max_length)
// and the log-softmax beam search applies before them.
#pragma once
#include <cstdint>

#include "models/generation.h"

namespace bigbird {

// Row-wise log_softmax of x [rows, vocab] in place (only rows with active[r] when given).
void log_softmax_rows(float* x, int64_t rows, int64_t vocab, const std::vector<uint8_t>* active = nullptr);

// Applies the processors to scores [rows, vocab] (active rows only), given the prefixes in `state`
// and the resolved max_length.
//  - no_repeat_ngram_size n: when cur_len + 1 >= n, every token t such that (last n-1 tokens, t)
//    already occurs in the prefix gets -inf;
//  - min_length: while cur_len < min_length, every eos id gets -inf;
//  - forced_bos_token_id: at cur_len == 1 every token but it gets -inf, it gets 0;
//  - forced_eos_token_id: at cur_len == max_length - 1 every token but it gets -inf, it gets 0.
void apply_logits_processors(const GenerationConfig& cfg, int64_t max_length, const SearchState& state, float* scores);

// A ScoreFn from a raw-logits function: logits -> (beam search: log_softmax) -> processors.
ScoreFn processed_scores(const GenerationConfig& cfg, int64_t max_length, ScoreFn raw_logits);

}  // namespace bigbird
