#include "models/pegasus_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "kernels/activations.h"

namespace bigbird {

namespace fs = std::filesystem;
using nlohmann::json;

EarlyStopping parse_early_stopping(const std::string& s) {
  if (s == "true" || s == "True" || s == "1") return EarlyStopping::True;
  if (s == "false" || s == "False" || s == "0") return EarlyStopping::False;
  if (s == "never") return EarlyStopping::Never;
  fail("unknown early_stopping '", s, "' (expected true, false or never)");
}

const char* early_stopping_name(EarlyStopping e) {
  switch (e) {
    case EarlyStopping::True: return "true";
    case EarlyStopping::False: return "false";
    case EarlyStopping::Never: return "never";
  }
  return "?";
}

namespace {

json read_json(const fs::path& path) { return read_json_object(path.string()); }

template <typename T>
void get(const json& j, const char* key, T* out, const std::string& path) {
  json_get(j, key, out, path);
}

// A token id that may be null (-> nullopt) or absent (-> unchanged).
void get_id(const json& j, const char* key, std::optional<int64_t>* out, const std::string& path) {
  if (!j.contains(key)) return;
  const json& v = j[key];
  if (v.is_null()) {
    out->reset();
  } else if (v.is_number_integer()) {
    *out = v.get<int64_t>();
  } else if (v.is_array() && v.size() == 1 && v[0].is_number_integer()) {
    *out = v[0].get<int64_t>();
  } else {
    fail(path, ": field '", key, "' must be a token id or null, got ", v.dump());
  }
}

void parse_generation(const json& j, const std::string& path, GenerationDefaults& g) {
  get(j, "max_length", &g.max_length, path);
  if (j.contains("max_new_tokens")) {
    g.max_new_tokens.reset();
    get_id(j, "max_new_tokens", &g.max_new_tokens, path);
  }
  get(j, "min_length", &g.min_length, path);
  get(j, "num_beams", &g.num_beams, path);
  get(j, "num_return_sequences", &g.num_return_sequences, path);
  get(j, "length_penalty", &g.length_penalty, path);
  get(j, "no_repeat_ngram_size", &g.no_repeat_ngram_size, path);
  if (j.contains("early_stopping") && !j["early_stopping"].is_null()) {
    const json& e = j["early_stopping"];
    if (e.is_boolean()) g.early_stopping = e.get<bool>() ? EarlyStopping::True : EarlyStopping::False;
    else if (e.is_string()) g.early_stopping = parse_early_stopping(e.get<std::string>());
    else fail(path, ": field 'early_stopping' must be true, false or \"never\", got ", e.dump());
  }
  get_id(j, "pad_token_id", &g.pad_token_id, path);
  get_id(j, "bos_token_id", &g.bos_token_id, path);
  get_id(j, "decoder_start_token_id", &g.decoder_start_token_id, path);
  get_id(j, "forced_eos_token_id", &g.forced_eos_token_id, path);
  get_id(j, "forced_bos_token_id", &g.forced_bos_token_id, path);
  if (j.contains("eos_token_id")) {
    const json& e = j["eos_token_id"];
    g.eos_token_id.clear();
    if (e.is_number_integer()) g.eos_token_id.push_back(e.get<int64_t>());
    else if (e.is_array()) {
      for (const auto& x : e) {
        if (!x.is_number_integer()) fail(path, ": field 'eos_token_id' must be an id or a list of ids, got ", e.dump());
        g.eos_token_id.push_back(x.get<int64_t>());
      }
    } else if (!e.is_null()) {
      fail(path, ": field 'eos_token_id' must be an id or a list of ids, got ", e.dump());
    }
  }
  // Settings HF would apply that this engine does not implement: refuse rather than differ.
  auto flag = [&](const char* key, bool active) {
    if (active) g.unsupported.push_back(std::string(key) + "=" + j[key].dump());
  };
  auto num = [&](const char* key, double neutral) {
    return j.contains(key) && j[key].is_number() && j[key].get<double>() != neutral;
  };
  auto set = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  flag("do_sample", j.contains("do_sample") && j["do_sample"].is_boolean() && j["do_sample"].get<bool>());
  flag("num_beam_groups", num("num_beam_groups", 1));
  flag("repetition_penalty", num("repetition_penalty", 1));
  flag("encoder_repetition_penalty", num("encoder_repetition_penalty", 1));
  flag("encoder_no_repeat_ngram_size", num("encoder_no_repeat_ngram_size", 0));
  flag("min_new_tokens", num("min_new_tokens", 0));
  flag("penalty_alpha", num("penalty_alpha", 0));
  flag("bad_words_ids", set("bad_words_ids"));
  flag("suppress_tokens", set("suppress_tokens"));
  flag("begin_suppress_tokens", set("begin_suppress_tokens"));
  flag("forced_decoder_ids", set("forced_decoder_ids"));
  flag("constraints", set("constraints"));
  flag("force_words_ids", set("force_words_ids"));
  flag("exponential_decay_length_penalty", set("exponential_decay_length_penalty"));
  flag("remove_invalid_values", j.contains("remove_invalid_values") && j["remove_invalid_values"].is_boolean() &&
                                    j["remove_invalid_values"].get<bool>());
  flag("renormalize_logits",
       j.contains("renormalize_logits") && j["renormalize_logits"].is_boolean() && j["renormalize_logits"].get<bool>());
}

}  // namespace

BigBirdPegasusConfig load_pegasus_config(const std::string& dir, const ConfigOverrides& ov) {
  const fs::path cpath = fs::path(dir) / "config.json";
  const std::string path = cpath.string();
  json j = read_json(cpath);
  // The keys read here (the model's; the generation defaults come from config.json or
  // generation_config.json and are the generate command's own flags).
  static const std::vector<std::string> known = {
      "model_type", "architectures", "vocab_size", "d_model", "encoder_layers", "decoder_layers",
      "encoder_attention_heads", "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
      "max_position_embeddings", "activation_function", "scale_embedding", "use_bias", "tie_word_embeddings",
      "block_size", "num_random_blocks", "window_blocks", "global_blocks", "pad_token_id", "attention_type"};
  apply_config_overrides(j, ov, known, path);
  BigBirdPegasusConfig c;
  get(j, "model_type", &c.model_type, path);
  get(j, "architectures", &c.architectures, path);
  get(j, "vocab_size", &c.vocab_size, path);
  get(j, "d_model", &c.d_model, path);
  get(j, "encoder_layers", &c.encoder_layers, path);
  get(j, "decoder_layers", &c.decoder_layers, path);
  get(j, "encoder_attention_heads", &c.encoder_attention_heads, path);
  get(j, "decoder_attention_heads", &c.decoder_attention_heads, path);
  get(j, "encoder_ffn_dim", &c.encoder_ffn_dim, path);
  get(j, "decoder_ffn_dim", &c.decoder_ffn_dim, path);
  get(j, "max_position_embeddings", &c.max_position_embeddings, path);
  get(j, "activation_function", &c.activation_function, path);
  get(j, "scale_embedding", &c.scale_embedding, path);
  get(j, "use_bias", &c.use_bias, path);
  get(j, "tie_word_embeddings", &c.tie_word_embeddings, path);
  get(j, "block_size", &c.block_size, path);
  get(j, "num_random_blocks", &c.num_random_blocks, path);
  get(j, "window_blocks", &c.layout.window_blocks, path);
  get(j, "global_blocks", &c.layout.global_blocks, path);
  get(j, "pad_token_id", &c.pad_token_id, path);
  std::string att = "block_sparse";
  get(j, "attention_type", &att, path);
  try {
    c.attention_type = parse_attention_type(att);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  if (!is_known_activation(c.activation_function))
    fail(path, ": unknown activation_function '", c.activation_function, "' (known: ", known_activations(), ")");
  if (j.contains("normalize_before") && j["normalize_before"].is_boolean() && !j["normalize_before"].get<bool>())
    fail(path, ": normalize_before=false (post-LN) is not BigBirdPegasus; only pre-LN layers are supported");

  auto positive = [&](const char* name, int64_t v) { BB_CHECK(v > 0, path, ": ", name, " must be positive, got ", v); };
  positive("vocab_size", c.vocab_size);
  positive("d_model", c.d_model);
  positive("encoder_layers", c.encoder_layers);
  positive("decoder_layers", c.decoder_layers);
  positive("encoder_attention_heads", c.encoder_attention_heads);
  positive("decoder_attention_heads", c.decoder_attention_heads);
  positive("encoder_ffn_dim", c.encoder_ffn_dim);
  positive("decoder_ffn_dim", c.decoder_ffn_dim);
  positive("max_position_embeddings", c.max_position_embeddings);
  positive("block_size", c.block_size);
  BB_CHECK(c.num_random_blocks >= 0, path, ": num_random_blocks must be >= 0, got ", c.num_random_blocks);
  c.layout.validate(path);
  // The fall-back length (HF's (5 + 2r) * block_size; other layouts: LayoutSpec::fallback_blocks)
  // must fit an int64.
  int64_t fallback = 0;
  BB_CHECK(!__builtin_mul_overflow(c.num_random_blocks, int64_t{2}, &fallback) &&
               !__builtin_add_overflow(
                   fallback, std::max<int64_t>(5, 2 * c.layout.global_blocks + c.layout.window_blocks), &fallback) &&
               !__builtin_mul_overflow(fallback, c.block_size, &fallback),
           path, ": num_random_blocks ", c.num_random_blocks, " and block_size ", c.block_size,
           " are too large (the full-attention fall-back length overflows)");
  BB_CHECK(c.d_model % c.encoder_attention_heads == 0, path, ": d_model ", c.d_model,
           " is not a multiple of encoder_attention_heads ", c.encoder_attention_heads);
  BB_CHECK(c.d_model % c.decoder_attention_heads == 0, path, ": d_model ", c.d_model,
           " is not a multiple of decoder_attention_heads ", c.decoder_attention_heads);
  BB_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, path, ": pad_token_id ", c.pad_token_id,
           " is outside the vocabulary [0, ", c.vocab_size, ")");

  // Generation defaults: HF 4.27 takes generation_config.json when the checkpoint has one (its
  // absent fields get GenerationConfig's defaults), else the generation fields of config.json.
  const fs::path gpath = fs::path(dir) / "generation_config.json";
  if (fs::exists(gpath)) parse_generation(read_json(gpath), gpath.string(), c.generation);
  else parse_generation(j, path, c.generation);
  return c;
}

}  // namespace bigbird
