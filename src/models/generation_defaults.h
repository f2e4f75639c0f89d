// The generation settings a checkpoint carries (generation_config.json, or config.json as HF 4.27
// reads it): what a model's config hands to generate(), without depending on any model.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bigbird {

enum class EarlyStopping { False, True, Never };
EarlyStopping parse_early_stopping(const std::string& s);  // "true" | "false" | "never"
const char* early_stopping_name(EarlyStopping e);

// HF GenerationConfig fields that generate() honours here (defaults are HF's).
struct GenerationDefaults {
  int64_t max_length = 20;
  std::optional<int64_t> max_new_tokens;
  int64_t min_length = 0;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::False;
  int64_t no_repeat_ngram_size = 0;
  std::optional<int64_t> pad_token_id = 0;
  std::vector<int64_t> eos_token_id{1};  // empty = no eos (HF accepts an int or a list)
  std::optional<int64_t> bos_token_id = 2;
  std::optional<int64_t> decoder_start_token_id = 2;
  std::optional<int64_t> forced_eos_token_id;
  std::optional<int64_t> forced_bos_token_id;
  // Settings that would change HF's output but are not implemented, as "name=value"; generation
  // refuses to run while any is present (sampling, repetition penalties, bad words, ...).
  std::vector<std::string> unsupported;
};

}  // namespace bigbird
