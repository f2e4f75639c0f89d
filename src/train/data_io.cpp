#include "train/data_io.h"

#include "core/atomic_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace bigbird::train::detail {

std::string read_whole_file(const std::string& path) {
  try {
    return read_file_bytes(path);
  } catch (const Error& e) {
    const std::string why = e.what();  // "cannot read 'PATH': <reason>"
    const size_t at = why.rfind("': ");
    fail(path, ": cannot read the file", at == std::string::npos ? "" : " (" + why.substr(at + 3) + ")");
  }
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::vector<JsonRecord> read_jsonl_file(const std::string& path) {
  const std::string text = read_whole_file(path);
  std::vector<JsonRecord> out;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (is_blank(line)) continue;
    JsonRecord r;
    r.line = line_no;
    try {
      r.value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      record_fail(path, line_no, "not valid JSON: ", e.what());
    }
    if (!r.value.is_object())
      record_fail(path, line_no, "expected a JSON object (one per line), got ", json_type(r.value));
    out.push_back(std::move(r));
  }
  if (out.empty()) fail(path, ": empty file (expected one JSON object per line)");
  return out;
}

const char* json_type(const nlohmann::json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "boolean";
  if (j.is_number()) return "number";
  if (j.is_string()) return "string";
  if (j.is_array()) return "array";
  if (j.is_object()) return "object";
  return "value";
}

const nlohmann::json& field(const JsonRecord& r, const std::string& key, const std::string& path) {
  auto it = r.value.find(key);
  if (it == r.value.end()) record_fail(path, r.line, "missing field \"", key, "\"");
  return *it;
}

std::string string_field(const JsonRecord& r, const std::string& key, const std::string& path) {
  const nlohmann::json& v = field(r, key, path);
  if (!v.is_string()) record_fail(path, r.line, "field \"", key, "\" must be a string, got ", json_type(v));
  return v.get<std::string>();
}

}  // namespace bigbird::train::detail

namespace bigbird::train::detail {

std::string LabelCollector::add(const nlohmann::json& v, const std::string& what, const std::string& path,
                                int64_t line) {
  int kind = 0;
  std::string key;
  if (v.is_string()) {
    kind = 1;
    key = v.get<std::string>();
  } else if (v.is_number_integer()) {
    kind = 2;
    key = std::to_string(v.get<int64_t>());
  } else {
    record_fail(path, line, what, " must be a string or an integer, got ", json_type(v));
  }
  if (kind_ != 0 && kind != kind_)
    record_fail(path, line, what, " is ", kind == 1 ? "a string" : "an integer", " but earlier labels are ",
                kind_ == 1 ? "strings" : "integers");
  kind_ = kind;
  if (kind == 1) strings_.push_back(key);
  else ints_.push_back(v.get<int64_t>());
  return key;
}

std::vector<std::string> LabelCollector::sorted() const {
  std::vector<std::string> out;
  if (kind_ == 2) {
    std::vector<int64_t> v = ints_;
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    for (int64_t i : v) out.push_back(std::to_string(i));
  } else {
    out = strings_;
    std::sort(out.begin(), out.end());  // UTF-8 byte order = code-point order
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

void resolve_labels(const std::vector<std::string>& sorted, const std::map<std::string, int64_t>& given,
                    std::vector<std::string>* id2label, std::map<std::string, int64_t>* label2id) {
  id2label->clear();
  label2id->clear();
  if (given.empty()) {
    for (size_t i = 0; i < sorted.size(); ++i) {
      id2label->push_back(sorted[i]);
      (*label2id)[sorted[i]] = static_cast<int64_t>(i);
    }
    return;
  }
  const int64_t n = static_cast<int64_t>(given.size());
  id2label->assign(given.size(), std::string());
  std::vector<bool> seen(given.size(), false);
  for (const auto& [label, id] : given) {
    if (id < 0 || id >= n) fail("label2id: label \"", label, "\" has id ", id, ", expected ids 0..", n - 1);
    if (seen[static_cast<size_t>(id)]) fail("label2id: id ", id, " is given to more than one label");
    seen[static_cast<size_t>(id)] = true;
    (*id2label)[static_cast<size_t>(id)] = label;
  }
  *label2id = given;
}

int64_t label_id(const std::map<std::string, int64_t>& label2id, const std::string& key, const std::string& path,
                 int64_t line) {
  auto it = label2id.find(key);
  if (it != label2id.end()) return it->second;
  std::string known;
  for (const auto& [label, id] : label2id) known += (known.empty() ? "" : ", ") + label;
  record_fail(path, line, "unknown label \"", key,
              "\": the model's labels (from its checkpoint, or the training set "
              "for validation data) are ",
              known);
}

}  // namespace bigbird::train::detail
