// `bigbird generate`: HF generate() for a BigBirdPegasus checkpoint. Reads input_ids, optional
// attention_mask, optional decoder_input_ids (the decoder prompt) and optional rand_attn.layer{L};
// writes `sequences` (I64 [batch·num_return_sequences, length]) and, for beam search,
// `sequences_scores` (F32) and `beam_indices` (I64). Every setting is a flag named like HF's
// keyword; unset ones take the checkpoint's generation defaults. Id flags accept "None" to unset.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "models/pegasus_generate.h"
#include "models/pegasus_model.h"
#include "sparse/plan_io.h"

namespace bigbird::cli {

namespace {

struct GenerateArgs {
  std::string model, inputs, outputs, attention, random_plan = "seeded";
  uint64_t seed = 0;
  int threads = 0;
  // Generation settings as given on the command line ("" = not given).
  std::string num_beams, num_return_sequences, length_penalty, max_length, max_new_tokens, min_length,
      no_repeat_ngram_size, early_stopping, eos_token_id, pad_token_id, forced_eos_token_id, forced_bos_token_id,
      decoder_start_token_id, use_cache;
};

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

// An id flag: unchanged when not given, unset by "None".
void set_id(const char* flag, const std::string& s, std::optional<int64_t>* out) {
  if (s.empty()) return;
  if (is_none(s)) out->reset();
  else *out = parse_int(flag, s);
}

void set_int(const char* flag, const std::string& s, int64_t* out) {
  if (!s.empty()) *out = parse_int(flag, s);
}

GenerationConfig settings(const GenerateArgs& a, const BigBirdPegasusConfig& c) {
  GenerationConfig g = GenerationConfig::from_defaults(c.generation);
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
  if (!a.decoder_start_token_id.empty()) g.decoder_start_token_id = parse_int("decoder-start-token-id", a.decoder_start_token_id);
  if (!a.use_cache.empty()) {
    const std::string& u = a.use_cache;
    BB_CHECK(u == "true" || u == "True" || u == "false" || u == "False", "--use-cache: '", u, "' is not true or false");
    g.use_cache = u == "true" || u == "True";
  }
  return g;
}

int run(const GenerateArgs& a) {
  apply_threads(a.threads);
  SafeTensors in = SafeTensors::open(a.inputs);
  auto model = PegasusModel::load(a.model);
  const BigBirdPegasusConfig& c = model->config();
  const GenerationConfig g = settings(a, c);

  BB_CHECK(in.has("input_ids"), "'", a.inputs, "' has no input_ids tensor");
  EncoderInput ei{in.read_i64("input_ids"), in.has("attention_mask") ? in.read_i64("attention_mask") : TensorI64{}, {}};
  ForwardOptions opt;
  if (!a.attention.empty()) opt.attention = parse_attention_type(a.attention);
  opt.plan_source = a.random_plan == "hf" ? PlanSource::HF : PlanSource::Seeded;
  opt.seed = a.seed;
  opt.injected_plans = plans_from_safetensors(in);
  for (const auto& [layer, p] : opt.injected_plans)
    BB_CHECK(layer < c.encoder_layers, "'", a.inputs, "': rand_attn.layer", layer, " but the encoder has ",
             c.encoder_layers, " layers");
  TensorI64 prompt;
  if (in.has("decoder_input_ids")) prompt = in.read_i64("decoder_input_ids");
  // Settings are checked before the encoder runs, so a bad flag fails fast.
  validate_generation(g, c.vocab_size, prompt.data.empty() ? 1 : (prompt.shape.size() == 2 ? prompt.dim(1) : 1));

  const PegasusEncoderOutput enc = model->encode(ei, opt);
  const GenerationResult r = pegasus_generate(*model, enc, g, prompt.data.empty() ? nullptr : &prompt);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

  std::vector<OutTensor> out;
  out.push_back(OutTensor::i64("sequences", r.sequences));
  if (g.num_beams > 1) {
    out.push_back(OutTensor::f32("sequences_scores", Shape{static_cast<int64_t>(r.sequences_scores.size())},
                                 r.sequences_scores.data()));
    out.push_back(OutTensor::i64("beam_indices", r.beam_indices));
  }
  std::map<std::string, std::string> meta{
      {"max_length_used", std::to_string(r.max_length)},
      {"num_steps", std::to_string(r.steps)},
      {"num_beams", std::to_string(g.num_beams)},
      {"attention_type_used", attention_type_name(enc.attention_used)},
      {"fallback_to_original_full", enc.fell_back ? "true" : "false"},
      {"input_seq_len", std::to_string(enc.input_len)},
      {"padded_seq_len", std::to_string(enc.padded_len)},
  };
  write_safetensors(a.outputs, out, meta);
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  app.add_option("--model", a->model, "BigBirdPegasus checkpoint directory (config.json + model.safetensors)")->required();
  app.add_option("--inputs", a->inputs,
                 "input tensors: input_ids, optional attention_mask, decoder_input_ids (prompt), rand_attn.layer{L}")
      ->required();
  app.add_option("--outputs", a->outputs, "where to write sequences (+ sequences_scores, beam_indices)")->required();
  app.add_option("--num-beams", a->num_beams, "beams (1 = greedy search)");
  app.add_option("--num-return-sequences", a->num_return_sequences, "sequences returned per input (<= num_beams)");
  app.add_option("--length-penalty", a->length_penalty, "beam score = sum of log-probs / length^length_penalty");
  app.add_option("--max-length", a->max_length, "maximum length, counting the decoder start token");
  app.add_option("--max-new-tokens", a->max_new_tokens, "maximum new tokens (wins over --max-length); None to unset");
  app.add_option("--min-length", a->min_length, "eos is banned below this length (counting the start token)");
  app.add_option("--no-repeat-ngram-size", a->no_repeat_ngram_size, "ban repeating n-grams of this size (0 = off)");
  app.add_flag("--early-stopping{true}", a->early_stopping,
               "beam search stops an input once it has num_beams hypotheses (--early-stopping=never|false also accepted)");
  app.add_option("--eos-token-id", a->eos_token_id, "end-of-sequence id; None = no eos");
  app.add_option("--pad-token-id", a->pad_token_id, "padding id of finished rows");
  app.add_option("--forced-eos-token-id", a->forced_eos_token_id, "forced at the last position; None = off");
  app.add_option("--forced-bos-token-id", a->forced_bos_token_id, "forced at the first generated position; None = off");
  app.add_option("--decoder-start-token-id", a->decoder_start_token_id, "first decoder token");
  app.add_option("--use-cache", a->use_cache, "true (default): KV-cached decoding; false: re-run every prefix");
  app.add_option("--attention", a->attention, "override config.attention_type of the encoder")
      ->check(CLI::IsMember({"block_sparse", "original_full"}));
  app.add_option("--random-plan", a->random_plan, "random blocks: seeded (default) or hf (HF 4.27's numpy draw)")
      ->check(CLI::IsMember({"seeded", "hf"}));
  app.add_option("--seed", a->seed, "seed of the seeded random plan (default 0)");
  app.add_option("--threads", a->threads, "threads (default: all cores)")->check(CLI::NonNegativeNumber);
  return [a] { return run(*a); };
}

}  // namespace bigbird::cli
