// Tokenizer::load(): read an HF tokenizer directory and pick the class.
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "text/hf_tokenizer_json.h"
#include "text/tokenizer_impl.h"

namespace bigbird {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The file's JSON object, or {} if the file does not exist.
json read_json_if_exists(const fs::path& path) {
  if (!fs::exists(path)) return json::object();
  std::ifstream in(path);
  BB_CHECK(in.good(), "cannot open '", path.string(), "'");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& ex) {
    fail("cannot parse '", path.string(), "': ", ex.what());
  }
  BB_CHECK(j.is_object(), "'", path.string(), "' is not a JSON object");
  return j;
}

// "BigBirdTokenizer" / "PegasusTokenizer" from tokenizer_config.json, else from config.json's model_type.
std::string find_class_name(const detail::TokenizerFiles& files) {
  if (auto it = files.config.find("tokenizer_class"); it != files.config.end() && it->is_string()) {
    std::string name = it->get<std::string>();
    if (name.ends_with("Fast")) name.resize(name.size() - 4);  // same vocabulary and special tokens
    return name;
  }
  const fs::path model_config = fs::path(files.dir) / "config.json";
  const json cfg = read_json_if_exists(model_config);
  const auto mt = cfg.find("model_type");
  const std::string type = mt != cfg.end() && mt->is_string() ? mt->get<std::string>() : "";
  if (type == "big_bird") return "BigBirdTokenizer";
  if (type == "bigbird_pegasus" || type == "pegasus") return "PegasusTokenizer";
  fail("cannot tell the tokenizer class of '", files.dir, "': no \"tokenizer_class\" in '", files.config_path,
       "' and no known \"model_type\" in '", model_config.string(), "'");
}

// HF: model_max_length from the config, else "very large" (int(1e30)).
int64_t read_model_max_length(const detail::TokenizerFiles& files) {
  int64_t m = std::numeric_limits<int64_t>::max();
  if (auto it = files.config.find("model_max_length"); it != files.config.end() && it->is_number()) {
    const double v = it->get<double>();
    BB_CHECK(v >= 0, files.config_path, ": negative model_max_length ", v);
    if (v < 9.2e18) m = static_cast<int64_t>(v);
  }
  return m;
}

}  // namespace

namespace detail {

SpecialToken parse_special_token(const json& value, const std::string& where) {
  if (value.is_string()) return {value.get<std::string>(), true, true};
  BB_CHECK(value.is_object() && value.contains("content") && value["content"].is_string(), where,
           ": a special token must be a string or an AddedToken object with \"content\"");
  const auto flag = [&](const char* key) {
    if (!value.contains(key) || value[key].is_null()) return false;
    BB_CHECK(value[key].is_boolean(), where, ": \"", key, "\" must be true or false, got ", value[key].dump().substr(0, 40));
    return value[key].get<bool>();
  };
  return {value["content"].get<std::string>(), flag("lstrip"), flag("rstrip")};
}

std::vector<SpecialToken> additional_special_tokens(const TokenizerFiles& files) {
  std::vector<SpecialToken> out;
  for (const auto* source : {&files.config, &files.special_map}) {
    auto it = source->find("additional_special_tokens");
    if (it == source->end() || it->is_null()) continue;
    BB_CHECK(it->is_array(), files.dir, ": additional_special_tokens must be a list");
    out.clear();
    for (const auto& v : *it) out.push_back(parse_special_token(v, files.dir));
  }
  return out;
}

std::optional<SpecialToken> resolve_special_token(const TokenizerFiles& files, const std::string& key,
                                                  const SpecialToken& class_default) {
  std::optional<SpecialToken> token;
  if (!class_default.content.empty()) token = class_default;
  if (auto it = files.config.find(key); it != files.config.end()) {
    const std::string where = files.config_path + " [\"" + key + "\"]";
    if (it->is_null()) token.reset();
    else if (it->is_string()) token = SpecialToken{it->get<std::string>(), class_default.lstrip, class_default.rstrip};
    else token = parse_special_token(*it, where);
  }
  if (auto it = files.special_map.find(key); it != files.special_map.end()) {
    if (it->is_null()) token.reset();
    else token = parse_special_token(*it, files.special_map_path + " [\"" + key + "\"]");
  }
  return token;
}

}  // namespace detail

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& dir) {
  BB_CHECK(fs::is_directory(dir), "tokenizer directory '", dir, "' does not exist");
  detail::TokenizerFiles files;
  files.dir = dir;
  files.config_path = (fs::path(dir) / "tokenizer_config.json").string();
  files.special_map_path = (fs::path(dir) / "special_tokens_map.json").string();
  files.config = read_json_if_exists(files.config_path);
  files.special_map = read_json_if_exists(files.special_map_path);
  files.model_max_length = read_model_max_length(files);
  // An HF tokenizer.json (PreTrainedTokenizerFast) when there is no SentencePiece model: a
  // directory with spiece.model keeps the slow tokenizer this engine matches token for token.
  if (fs::exists(fs::path(dir) / "tokenizer.json") && !fs::exists(fs::path(dir) / "spiece.model"))
    return detail::make_hf_json_tokenizer(files);
  files.class_name = find_class_name(files);
  BB_CHECK(files.class_name == "BigBirdTokenizer" || files.class_name == "PegasusTokenizer",
           "unsupported tokenizer_class '", files.class_name, "' in '", files.config_path,
           "' (supported: BigBirdTokenizer, PegasusTokenizer)");

  files.sp = std::make_shared<SentencePieceModel>((fs::path(dir) / "spiece.model").string());
  if (files.class_name == "BigBirdTokenizer") return detail::make_bigbird_tokenizer(files);
  return detail::make_pegasus_tokenizer(files);
}

}  // namespace bigbird
