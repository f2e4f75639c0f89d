// Internal helpers of the training-data loaders (data_*.cpp): reading files and JSONL records
// with one-line "FILE:LINE: ..." errors.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace bigbird::train::detail {

// The bytes of a file; Error "PATH: cannot read ..." when it cannot be opened.
std::string read_whole_file(const std::string& path);

struct JsonRecord {
  int64_t line = 0;  // 1-based line number in the file
  nlohmann::json value;
};

// Whether a line holds only spaces, tabs and line ends.
bool is_blank(std::string_view line);

// The non-blank lines of a JSONL file as JSON objects. Errors: "PATH: cannot read ...",
// "PATH: empty file ...", "PATH:LINE: not valid JSON: ...", "PATH:LINE: expected a JSON object ...".
std::vector<JsonRecord> read_jsonl_file(const std::string& path);

template <typename... Args>
[[noreturn]] void record_fail(const std::string& path, int64_t line, const Args&... args) {
  ::bigbird::fail(path, ":", line, ": ", args...);
}

// JSON type names for messages ("string", "number", "array", ...).
const char* json_type(const nlohmann::json& j);

// A field of a record: Error "PATH:LINE: missing field \"key\"" / "field \"key\" must be a string, got number".
const nlohmann::json& field(const JsonRecord& r, const std::string& key, const std::string& path);
std::string string_field(const JsonRecord& r, const std::string& key, const std::string& path);

// Collects label values (strings, or integers) in first-seen order and sorts them as Python's
// sorted(set(labels)) does: integers numerically, strings by code point. Mixing kinds is an error.
class LabelCollector {
 public:
  // `v` must be a string or an integer: else "PATH:LINE: <what> must be a string or an integer, got ...".
  std::string add(const nlohmann::json& v, const std::string& what, const std::string& path, int64_t line);
  std::vector<std::string> sorted() const;  // keys: the string, or the integer's decimal text

 private:
  int kind_ = 0;  // 0: none yet, 1: strings, 2: integers
  std::vector<std::string> strings_;
  std::vector<int64_t> ints_;
};

// id2label / label2id from the sorted labels, or from a given label2id (checked: ids 0..n-1, each once).
void resolve_labels(const std::vector<std::string>& sorted, const std::map<std::string, int64_t>& given,
                    std::vector<std::string>* id2label, std::map<std::string, int64_t>* label2id);

// label2id[key], or "PATH:LINE: unknown label \"key\" (known labels: ...)".
int64_t label_id(const std::map<std::string, int64_t>& label2id, const std::string& key, const std::string& path,
                 int64_t line);

// Runs f(); a bigbird::Error it throws gets the prefix "PATH:LINE: ".
template <typename F>
auto with_location(const std::string& path, int64_t line, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    record_fail(path, line, e.what());
  }
}

}  // namespace bigbird::train::detail
