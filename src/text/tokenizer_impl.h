// Internal to src/text: what Tokenizer::load() reads from a checkpoint directory, and the
// factories of the concrete tokenizer classes (bigbird_tokenizer.cpp, pegasus_tokenizer.cpp).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "text/sentencepiece.h"
#include "text/tokenizer.h"

namespace bigbird::detail {

struct TokenizerFiles {
  std::string dir;
  std::string class_name;      // "BigBirdTokenizer" / "PegasusTokenizer"
  nlohmann::json config;       // tokenizer_config.json, {} if absent
  nlohmann::json special_map;  // special_tokens_map.json, {} if absent
  std::string config_path, special_map_path;
  std::shared_ptr<const SentencePieceModel> sp;
  int64_t model_max_length = 0;
};

// The special token `key` ("mask_token", ...) as HF's from_pretrained() ends up with it:
// the class default (empty content = none), replaced by tokenizer_config.json's entry (a string
// keeps the class default's strip flags, as the class constructor wraps it; an AddedToken object
// brings its own; null removes it), then by special_tokens_map.json's (there a plain string means
// a plain-string token, which strips both sides).
std::optional<SpecialToken> resolve_special_token(const TokenizerFiles& files, const std::string& key,
                                                  const SpecialToken& class_default);

// A special-token entry of a JSON file: a string (plain: strips both sides) or an AddedToken object.
SpecialToken parse_special_token(const nlohmann::json& value, const std::string& where);

// additional_special_tokens as from_pretrained() ends up with them: tokenizer_config.json's list,
// replaced by special_tokens_map.json's when it has one ({} when neither has).
std::vector<SpecialToken> additional_special_tokens(const TokenizerFiles& files);

std::unique_ptr<Tokenizer> make_bigbird_tokenizer(const TokenizerFiles& files);
std::unique_ptr<Tokenizer> make_pegasus_tokenizer(const TokenizerFiles& files);

}  // namespace bigbird::detail
