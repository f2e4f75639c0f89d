// HF transformers 4.27 generate() for encoder-decoder models, model-independent: greedy search and
// beam search (BeamSearchScorer / BeamHypotheses bookkeeping), driven by a function that returns
// each step's processed next-token scores. The logits processors are in logits_process.h; the
// BigBirdPegasus scorer (KV-cached or not) is in pegasus_generate.h.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/generation_defaults.h"

namespace bigbird {

struct GenerationConfig {
  int64_t max_length = 20;                // counts the decoder prompt (the start token)
  std::optional<int64_t> max_new_tokens;  // when set: max_length = prompt length + max_new_tokens
  int64_t min_length = 0;                 // eos is banned while the length is below it
  int64_t num_beams = 1;                  // 1 = greedy search
  int64_t num_return_sequences = 1;
  double length_penalty = 1.0;  // hypothesis score = sum_logprobs / length^length_penalty
  EarlyStopping early_stopping = EarlyStopping::False;
  int64_t no_repeat_ngram_size = 0;
  std::vector<int64_t> eos_token_id;    // empty: never stop early
  std::optional<int64_t> pad_token_id;  // unset: eos_token_id[0] (as HF)
  int64_t decoder_start_token_id = 2;
  std::optional<int64_t> forced_bos_token_id;
  std::optional<int64_t> forced_eos_token_id;
  bool use_cache = true;  // KV-cached decoder steps (false: re-run the whole prefix)

  // The model's defaults (generation_config.json or config.json); unsupported settings are an error.
  static GenerationConfig from_defaults(const GenerationDefaults& d);
};

// What one decoding step is asked to score.
struct SearchState {
  int64_t rows = 0;                 // batch (greedy) or batch·num_beams (beam, row i·K + k)
  int64_t cur_len = 0;              // length of every row's prefix
  const int64_t* tokens = nullptr;  // [rows, cur_len] row-major: the prefixes
  const std::vector<int64_t>* parent =
      nullptr;  // row j extends the previous step's row parent[j]; null at the first step
  const std::vector<uint8_t>* active = nullptr;  // rows whose scores are used (others may be left unset)
  int64_t vocab = 0;
};

// Fills scores [rows, vocab] for the active rows: the next-token scores after the logits
// processors (greedy: processed logits; beam: processed log-softmax).
using ScoreFn = std::function<void(const SearchState& state, float* scores)>;

struct GenerationResult {
  TensorI64 sequences;                  // [batch·R, T] (R = num_return_sequences)
  std::vector<float> sequences_scores;  // [batch·R], beam search only
  TensorI64 beam_indices;               // [batch·R, T], beam search only (-1 after the end)
  int64_t steps = 0;                    // decoder steps run
  int64_t max_length = 0;               // the max_length in force
  std::vector<std::string> warnings;    // HF's warnings for this configuration
};

// The max_length a run with a decoder prompt of `prompt_len` tokens uses (max_new_tokens wins).
int64_t resolved_max_length(const GenerationConfig& cfg, int64_t prompt_len);

// The most beams a search takes: each step scores num_beams x vocab candidates and runs the
// decoder on num_beams rows; more is refused (HF sets no bound, but 100000 beams run for minutes).
constexpr int64_t kMaxNumBeams = 256;

// Checks the settings as HF does (and token ids against the vocabulary, num_beams against
// kMaxNumBeams); throws bigbird::Error.
void validate_generation(const GenerationConfig& cfg, int64_t vocab, int64_t prompt_len);

// Greedy or beam search (by cfg.num_beams) from `prompt` [batch, P] (usually a column of
// decoder_start_token_id). `score` must apply the logits processors itself (see logits_process.h).
GenerationResult run_search(const GenerationConfig& cfg, const TensorI64& prompt, int64_t vocab, const ScoreFn& score);

}  // namespace bigbird
