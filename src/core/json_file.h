// Reading JSON configuration files with errors that name the file and the field.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace bigbird {

// Parses `path`, which must hold a JSON object; throws bigbird::Error ("cannot open '...'",
// "...: not valid JSON (...)", "...: not a JSON object").
nlohmann::json read_json_object(const std::string& path);

// Reads j[key] into *out when present and not null; a wrong type is an error naming file and field.
template <typename T>
void json_get(const nlohmann::json& j, const char* key, T* out, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return;
  try {
    *out = j[key].get<T>();
  } catch (const std::exception&) {
    fail(path, ": field '", key, "' has the wrong type (", j[key].dump(), ")");
  }
}

}  // namespace bigbird
