// --config-overrides "key=value,key=value" (HF run_mlm's --config_overrides syntax): changes to a
// model's config.json made at load time, validated like the file's own values, and written into
// the config.json that `train` saves so a model trained with a layout runs with it.
//
// A key must be one the file already has, or one of the keys this engine reads (HF's config
// fields and the extension keys window_blocks, global_blocks). The value takes the type of the
// value it replaces (HF's PretrainedConfig.update_from_string): true/false (or 1/0) for a
// boolean, an integer for an integer, a number for a float, the text as is for a string; a key
// the file lacks or holds as null takes a JSON literal (number, true, false, null) or else text.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace bigbird {

struct ConfigOverrides {
  std::vector<std::pair<std::string, std::string>> items;  // in the order given
  bool empty() const { return items.empty(); }
};

// Parses "key=value,key=value" ("" gives none). Throws bigbird::Error on an item without '=', an
// empty key or a key given twice.
ConfigOverrides parse_config_overrides(const std::string& text);

// Applies `ov` to the config object `j` read from `path` (for messages), with the typing rules
// above; `known` lists the keys the reader understands. Throws bigbird::Error naming the key.
void apply_config_overrides(nlohmann::json& j, const ConfigOverrides& ov, const std::vector<std::string>& known,
                            const std::string& path);
// The same changes on an order-preserving object (the config.json a model saves).
void apply_config_overrides(nlohmann::ordered_json& j, const ConfigOverrides& ov);

}  // namespace bigbird
