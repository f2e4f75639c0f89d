#include "generation_flags.h"

#include <exception>

#include "core/error.h"
#include "models/pegasus_config.h"

namespace bigbird::cli {

namespace {

bool is_none(const std::string& s) { return s == "None" || s == "none" || s == "null"; }

int64_t parse_int(const char* flag, const std::string& s) {
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--", flag, ": '", s, "' is not an integer");
}

double parse_double(const char* flag, const std::string& s) {
  try {
    size_t pos = 0;
    const double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--", flag, ": '", s, "' is not a number");
}

void set_id(const char* flag, const std::string& s, std::optional<int64_t>* out) {
  if (s.empty()) return;
  if (is_none(s)) out->reset();
  else *out = parse_int(flag, s);
}

void set_int(const char* flag, const std::string& s, int64_t* out) {
  if (!s.empty()) *out = parse_int(flag, s);
}

}  // namespace

void add_generation_flags(CLI::App& app, GenerationFlags& f) {
  app.add_option("--num-beams", f.num_beams, "beams (1 = greedy search; at most 256)");
  app.add_option("--num-return-sequences", f.num_return_sequences, "sequences returned per input (<= num_beams)");
  app.add_option("--length-penalty", f.length_penalty, "beam score = sum of log-probs / length^length_penalty");
  app.add_option("--max-length", f.max_length, "maximum length, counting the decoder start token");
  app.add_option("--max-new-tokens", f.max_new_tokens, "maximum new tokens (wins over --max-length); None to unset");
  app.add_option("--min-length", f.min_length, "eos is banned below this length (counting the start token)");
  app.add_option("--no-repeat-ngram-size", f.no_repeat_ngram_size, "ban repeating n-grams of this size (0 = off)");
  app.add_flag(
      "--early-stopping{true}", f.early_stopping,
      "beam search stops an input once it has num_beams hypotheses (--early-stopping=never|false also accepted)");
  app.add_option("--eos-token-id", f.eos_token_id, "end-of-sequence id; None = no eos");
  app.add_option("--pad-token-id", f.pad_token_id, "padding id of finished rows");
  app.add_option("--forced-eos-token-id", f.forced_eos_token_id, "forced at the last position; None = off");
  app.add_option("--forced-bos-token-id", f.forced_bos_token_id, "forced at the first generated position; None = off");
  app.add_option("--decoder-start-token-id", f.decoder_start_token_id, "first decoder token");
  app.add_option("--use-cache", f.use_cache, "true (default): KV-cached decoding; false: re-run every prefix");
}

GenerationConfig apply_generation_flags(const GenerationFlags& a, GenerationConfig g) {
  set_int("num-beams", a.num_beams, &g.num_beams);
  set_int("num-return-sequences", a.num_return_sequences, &g.num_return_sequences);
  if (!a.length_penalty.empty()) g.length_penalty = parse_double("length-penalty", a.length_penalty);
  set_int("max-length", a.max_length, &g.max_length);
  set_id("max-new-tokens", a.max_new_tokens, &g.max_new_tokens);
  set_int("min-length", a.min_length, &g.min_length);
  set_int("no-repeat-ngram-size", a.no_repeat_ngram_size, &g.no_repeat_ngram_size);
  if (!a.early_stopping.empty()) g.early_stopping = parse_early_stopping(a.early_stopping);
  if (!a.eos_token_id.empty()) {
    g.eos_token_id.clear();
    if (!is_none(a.eos_token_id)) g.eos_token_id.push_back(parse_int("eos-token-id", a.eos_token_id));
  }
  set_id("pad-token-id", a.pad_token_id, &g.pad_token_id);
  set_id("forced-eos-token-id", a.forced_eos_token_id, &g.forced_eos_token_id);
  set_id("forced-bos-token-id", a.forced_bos_token_id, &g.forced_bos_token_id);
  if (!a.decoder_start_token_id.empty())
    g.decoder_start_token_id = parse_int("decoder-start-token-id", a.decoder_start_token_id);
  if (!a.use_cache.empty()) {
    const std::string& u = a.use_cache;
    BB_CHECK(u == "true" || u == "True" || u == "false" || u == "False", "--use-cache: '", u, "' is not true or false");
    g.use_cache = u == "true" || u == "True";
  }
  return g;
}

}  // namespace bigbird::cli
