#include "models/logits_process.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bigbird {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool is_active(const std::vector<uint8_t>* active, int64_t r) {
  return !active || (*active)[static_cast<size_t>(r)] != 0;
}

// HF NoRepeatNGramLogitsProcessor for one row: bans every token that would complete an n-gram
// already present in the prefix.
void ban_repeated_ngrams(const int64_t* seq, int64_t len, int64_t n, float* scores, int64_t vocab) {
  if (len + 1 < n) return;
  const int64_t* tail = seq + len - (n - 1);  // the last n-1 tokens
  for (int64_t j = 0; j + n <= len; ++j) {
    if (std::equal(tail, tail + (n - 1), seq + j)) {
      const int64_t t = seq[j + n - 1];
      if (t >= 0 && t < vocab) scores[t] = kNegInf;
    }
  }
}

// Every token gets -inf except `keep`, which gets 0.
void force_tokens(float* scores, int64_t vocab, const std::vector<int64_t>& keep) {
  std::fill(scores, scores + vocab, kNegInf);
  for (int64_t t : keep) scores[t] = 0.0f;
}
}  // namespace

void log_softmax_rows(float* x, int64_t rows, int64_t vocab, const std::vector<uint8_t>* active) {
#pragma omp parallel for schedule(static) if (rows * vocab > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    if (!is_active(active, r)) continue;
    float* row = x + r * vocab;
    const float mx = *std::max_element(row, row + vocab);
    double sum = 0.0;
    for (int64_t t = 0; t < vocab; ++t) sum += std::exp(static_cast<double>(row[t] - mx));
    const float lse = static_cast<float>(std::log(sum));
    for (int64_t t = 0; t < vocab; ++t) row[t] = (row[t] - mx) - lse;
  }
}

void apply_logits_processors(const GenerationConfig& cfg, int64_t max_length, const SearchState& st, float* scores) {
  const int64_t V = st.vocab, len = st.cur_len;
  for (int64_t r = 0; r < st.rows; ++r) {
    if (!is_active(st.active, r)) continue;
    float* row = scores + r * V;
    if (cfg.no_repeat_ngram_size > 0) ban_repeated_ngrams(st.tokens + r * len, len, cfg.no_repeat_ngram_size, row, V);
    if (cfg.min_length > 0 && !cfg.eos_token_id.empty() && len < cfg.min_length)
      for (int64_t e : cfg.eos_token_id) row[e] = kNegInf;
    if (cfg.forced_bos_token_id && len == 1) force_tokens(row, V, {*cfg.forced_bos_token_id});
    if (cfg.forced_eos_token_id && len == max_length - 1) force_tokens(row, V, {*cfg.forced_eos_token_id});
  }
}

ScoreFn processed_scores(const GenerationConfig& cfg, int64_t max_length, ScoreFn raw_logits) {
  return [cfg, max_length, raw = std::move(raw_logits)](const SearchState& st, float* scores) {
    raw(st, scores);
    if (cfg.num_beams > 1) log_softmax_rows(scores, st.rows, st.vocab, st.active);
    apply_logits_processors(cfg, max_length, st, scores);
  };
}

}  // namespace bigbird
