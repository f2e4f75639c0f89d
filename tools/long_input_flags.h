// The long-input flags of classify, embed, tag and fill-mask (src/tasks/long_input.h):
// --truncation true|false, --max-length N, and where windows are offered --stride S (plus
// --aggregation mean|max when `aggregation` is true).
#pragma once
#include <CLI/CLI.hpp>

#include "tasks/long_input.h"

namespace bigbird::cli {

void add_long_input_options(CLI::App& app, tasks::LongInputOptions& o, bool windows, bool aggregation);

}  // namespace bigbird::cli
