// `bigbird bench` (placeholder; filled in below).
#include "commands.h"
namespace bigbird::cli {
Runner add_bench(CLI::App&) { return [] { return 0; }; }
}  // namespace bigbird::cli
