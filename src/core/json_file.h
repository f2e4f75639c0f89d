// Reading JSON configuration files with errors that name the file and the field.
#pragma once
#include <nlohmann/json.hpp>
#include <limits>
#include <string>
#include <type_traits>

#include "core/error.h"

namespace bigbird {

// Parses `path`, which must hold a JSON object; throws bigbird::Error ("cannot open '...'",
// "...: not valid JSON (...)", "...: not a JSON object").
nlohmann::json read_json_object(const std::string& path);

// Reads j[key] into *out when present and not null; a wrong type is an error naming file and field.
// An integer field must hold an integer that fits T: 3.5, 64.0, "64" or true are refused.
template <typename T>
void json_get(const nlohmann::json& j, const char* key, T* out, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const nlohmann::json& v = j[key];
    if (!v.is_number_integer())
      fail(path, ": field '", key, "' has the wrong type (must be an integer, got ", v.dump(), ")");
    bool fits;
    if (v.is_number_unsigned()) {
      fits = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    } else {
      const int64_t x = v.get<int64_t>();
      if constexpr (std::is_signed_v<T>)
        fits = x >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
               x <= static_cast<int64_t>(std::numeric_limits<T>::max());
      else fits = x >= 0 && static_cast<uint64_t>(x) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    }
    if (!fits) fail(path, ": field '", key, "' = ", v.dump(), " is out of range");
  }
  try {
    *out = j[key].get<T>();
  } catch (const std::exception&) {
    fail(path, ": field '", key, "' has the wrong type (", j[key].dump(), ")");
  }
}

}  // namespace bigbird
