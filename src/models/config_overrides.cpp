#include "models/config_overrides.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace bigbird {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// The value of `text` typed like `old` (see the header).
nlohmann::json typed_value(const std::string& key, const std::string& text, const nlohmann::json* old,
                           const std::string& path) {
  auto bad = [&](const char* want) {
    fail(path, ": --config-overrides ", key, "=", text, ": ", key, " takes ", want);
  };
  if (old && old->is_boolean()) {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    bad("true or false");
  }
  if (old && (old->is_number_integer() || old->is_number_unsigned())) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) bad("an integer");
    return static_cast<int64_t>(v);
  }
  if (old && old->is_number_float()) {
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE) bad("a number");
    return v;
  }
  if (old && old->is_string()) return text;
  if (old && (old->is_object() || old->is_array())) bad("a structured value that --config-overrides cannot give");
  // Absent or null: a JSON literal, else the text.
  const nlohmann::json lit = nlohmann::json::parse(text, nullptr, false);
  if (!lit.is_discarded() && (lit.is_number() || lit.is_boolean() || lit.is_null())) return lit;
  return text;
}

}  // namespace

ConfigOverrides parse_config_overrides(const std::string& text) {
  ConfigOverrides ov;
  if (trim(text).empty()) return ov;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t eq = item.find('=');
    BB_CHECK(eq != std::string::npos, "--config-overrides: '", item, "' is not key=value");
    const std::string key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    BB_CHECK(!key.empty(), "--config-overrides: '", item, "' has no key");
    BB_CHECK(std::none_of(ov.items.begin(), ov.items.end(), [&](const auto& kv) { return kv.first == key; }),
             "--config-overrides: ", key, " is given twice");
    ov.items.emplace_back(key, value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ov;
}

void apply_config_overrides(nlohmann::json& j, const ConfigOverrides& ov, const std::vector<std::string>& known,
                            const std::string& path) {
  for (const auto& [key, text] : ov.items) {
    const bool present = j.contains(key);
    BB_CHECK(present || std::find(known.begin(), known.end(), key) != known.end(), path,
             ": --config-overrides: unknown key '", key, "' (not in the config, and not a key this model reads)");
    j[key] = typed_value(key, text, present ? &j[key] : nullptr, path);
  }
}

void apply_config_overrides(nlohmann::ordered_json& j, const ConfigOverrides& ov) {
  // The values were checked when the model loaded; here they take the same types.
  nlohmann::json plain = nlohmann::json::parse(j.dump());
  for (const auto& [key, text] : ov.items)
    j[key] = nlohmann::ordered_json::parse(typed_value(key, text, plain.contains(key) ? &plain[key] : nullptr, "config").dump());
}

}  // namespace bigbird
