// Subcommands of the `bigbird` tool. Each registers its options on the CLI11 app and returns
// the function that runs it (after parsing).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace bigbird::cli {

using Runner = std::function<int()>;

Runner add_forward(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_compare(CLI::App& app);

// --threads: sets OpenMP and BLAS threads (0 = all cores).
void apply_threads(int threads);

}  // namespace bigbird::cli
