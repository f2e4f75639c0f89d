// Runs this executable again (/proc/self/exe) with other arguments and captures its stdout:
// how the benchmarks measure each configuration's peak memory in a fresh process.
#pragma once
#include <string>
#include <vector>

namespace bigbird::cli {

struct ChildResult {
  bool ok = false;
  std::string output;  // the child's stdout
  std::string why;     // when !ok: "killed by signal N (out of memory?)" or "failed, exit N (see stderr)"
};

// `args` are the arguments after the program name.
ChildResult run_self(const std::vector<std::string>& args);

}  // namespace bigbird::cli
