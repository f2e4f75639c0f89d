// The generation flags of `bigbird generate`, named like HF generate()'s keywords, for every
// command that generates (generate, summarize): registered on a CLI11 app, then applied on top of
// a command's defaults. Unset flags keep the default; id flags take "None" to unset.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "models/generation.h"

namespace bigbird::cli {

struct GenerationFlags {
  // As given on the command line ("" = not given).
  std::string num_beams, num_return_sequences, length_penalty, max_length, max_new_tokens, min_length,
      no_repeat_ngram_size, early_stopping, eos_token_id, pad_token_id, forced_eos_token_id, forced_bos_token_id,
      decoder_start_token_id, use_cache;
};

void add_generation_flags(CLI::App& app, GenerationFlags& f);

// `defaults` with the given flags applied; throws bigbird::Error on a malformed value.
GenerationConfig apply_generation_flags(const GenerationFlags& f, GenerationConfig defaults);

}  // namespace bigbird::cli
