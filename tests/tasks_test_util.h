// Helpers for the task tests (test_tasks_*.cpp): fixture paths, files, shell quoting, JSON
// output of the CLI, small generated checkpoints with the fixture tokenizer's id layout.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "checkpoint_util.h"
#include "test_util.h"

namespace bigbird::test {

inline const std::string kTok = data_path("tokenizer-hf/bigbird");
inline const std::string kPre = data_path("roberta-tiny/pretraining");
inline const std::string kSeqCls = data_path("roberta-tiny/seqcls");
inline const std::string kQa = data_path("roberta-tiny/qa");

// Single-quoted for the shell.
inline std::string sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Runs `bigbird <args>`, expects success and one JSON document on the output.
inline nlohmann::json cli_json(const std::string& args) {
  RunResult r = run_cli(args);
  EXPECT_EQ(r.status, 0) << args << "\n" << r.output;
  try {
    return nlohmann::json::parse(r.output);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.output;
    return {};
  }
}

// Scores (floats) within a relative 1e-5, everything else equal.
inline void expect_same_json(const nlohmann::json& got, const nlohmann::json& want, const std::string& where = "") {
  if (want.is_number_float()) {
    ASSERT_TRUE(got.is_number()) << where << ": " << got.dump();
    const double a = got.get<double>(), b = want.get<double>();
    EXPECT_LE(std::fabs(a - b), 1e-5 * std::max(std::fabs(b), 1e-3)) << where << ": " << a << " vs " << b;
  } else if (want.is_array()) {
    ASSERT_TRUE(got.is_array()) << where << ": " << got.dump();
    ASSERT_EQ(got.size(), want.size()) << where << ": " << got.dump() << " vs " << want.dump();
    for (size_t i = 0; i < want.size(); ++i) expect_same_json(got[i], want[i], where + "[" + std::to_string(i) + "]");
  } else if (want.is_object()) {
    ASSERT_TRUE(got.is_object()) << where << ": " << got.dump();
    EXPECT_EQ(got.size(), want.size()) << where << ": " << got.dump() << " vs " << want.dump();
    for (auto it = want.begin(); it != want.end(); ++it) {
      ASSERT_TRUE(got.contains(it.key())) << where << ": no key " << it.key() << " in " << got.dump();
      expect_same_json(got[it.key()], it.value(), where + "." + it.key());
    }
  } else {
    EXPECT_EQ(got, want) << where;
  }
}

// A small random BigBird checkpoint of `architecture` in `dir`, with the fixture tokenizer's
// vocabulary (512, [SEP] = 66) and tokenizer files, and `id2label` as its labels; `max_pos`
// positions (block size 8, one random block).
inline void write_task_checkpoint(const std::string& dir, const std::string& architecture,
                                  const std::vector<std::string>& id2label, const std::string& problem_type = "",
                                  int64_t max_pos = 256) {
  CheckpointSpec s;
  s.vocab = 512;
  s.hidden = 32;
  s.heads = 2;
  s.layers = 1;
  s.intermediate = 48;
  s.max_pos = max_pos;
  s.block = 8;
  s.r = 1;
  s.architecture = architecture;
  s.num_labels = static_cast<int64_t>(id2label.size());
  write_checkpoint(dir, s, 7);
  nlohmann::json c = config_json(s);
  c["sep_token_id"] = 66;
  nlohmann::json labels = nlohmann::json::object();
  for (size_t i = 0; i < id2label.size(); ++i) labels[std::to_string(i)] = id2label[i];
  c["id2label"] = labels;
  if (!problem_type.empty()) c["problem_type"] = problem_type;
  std::ofstream(dir + "/config.json") << c.dump(2);
  for (const char* f : {"spiece.model", "tokenizer_config.json", "special_tokens_map.json"})
    std::filesystem::copy_file(kTok + "/" + f, dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
}

}  // namespace bigbird::test
