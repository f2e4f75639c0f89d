// Shared helpers of the BigBirdPegasus tests: the pegasus-tiny copy in tests/data, case inputs,
// tensor comparisons and running the built `bigbird` executable.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_util.h"
#include "core/safetensors.h"
#include "models/pegasus_model.h"
#include "sparse/plan_io.h"

namespace pegasus_test {

inline std::string data_dir() { return std::string(BIGBIRD_TEST_DATA) + "/pegasus-tiny"; }
inline std::string model_dir() { return data_dir() + "/model"; }
inline std::string fixture(const std::string& name) { return data_dir() + "/" + name + ".safetensors"; }

// The model, loaded once for all tests.
inline const bigbird::PegasusModel& model() {
  static std::unique_ptr<bigbird::PegasusModel> m = bigbird::PegasusModel::load(model_dir());
  return *m;
}

inline nlohmann::json meta_json(const bigbird::SafeTensors& st, const std::string& key) {
  auto it = st.metadata().find(key);
  if (it == st.metadata().end() || it->second.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(it->second);
}

// Encoder inputs of a case file, its plans injected, its config_overrides' attention type applied.
inline bigbird::PegasusEncoderOutput encode_case(const bigbird::SafeTensors& st, bool keep_hidden) {
  bigbird::EncoderInput in{st.read_i64("input_ids"), st.read_i64("attention_mask"), {}};
  bigbird::ForwardOptions opt;
  opt.injected_plans = bigbird::plans_from_safetensors(st);
  opt.keep_hidden_states = keep_hidden;
  const auto ov = meta_json(st, "config_overrides");
  if (ov.contains("attention_type"))
    opt.attention = bigbird::parse_attention_type(ov["attention_type"].get<std::string>());
  return model().encode(in, opt, bigbird::test::ctx());
}

inline double max_abs_diff(const bigbird::Tensor& a, const bigbird::Tensor& b) {
  if (a.shape != b.shape) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a.data[i]) - b.data[i]));
  return m;
}

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("bigbird_pegasus_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

struct CliResult {
  int code = -1;
  std::string err;
};

// Runs `bigbird <args>`; returns the exit status and stderr.
inline CliResult run_cli(const std::string& args) {
  const std::string err = temp_path("stderr.txt");
  const std::string cmd = std::string("'") + BIGBIRD_EXE + "' " + args + " > /dev/null 2> '" + err + "'";
  const int st = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err);
  std::stringstream ss;
  ss << f.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err);
  return r;
}

}  // namespace pegasus_test
