#include "core/json_file.h"

#include <fstream>

namespace bigbird {

nlohmann::json read_json_object(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot open '", path, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": not a JSON object");
  return j;
}

}  // namespace bigbird
