// Subcommands of the `bigbird` tool. Each registers its options on the CLI11 app and returns
// the function that runs it (after parsing).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>

#include "core/safetensors.h"
#include "models/bigbird_model.h"

namespace bigbird::cli {

using Runner = std::function<int()>;

Runner add_forward(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_grad(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_compare(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_bench_decode(CLI::App& app);

// `bigbird forward` on a bigbird_pegasus checkpoint (forward_pegasus.cpp): attention, random plan,
// seed and dtype from `opt`.
std::vector<OutTensor> forward_pegasus(const std::string& model_dir, const SafeTensors& inputs,
                                       const ForwardOptions& opt, int generate_steps, const ThreadingContext& ctx,
                                       const ConfigOverrides& ov = {});
Runner add_fill_mask(CLI::App&app), add_classify(CLI::App&app), add_qa(CLI::App&app), add_tag(CLI::App&app),
    add_embed(CLI::App&app), add_tokenize(CLI::App&app),
    add_score(CLI::App&app), add_tokenizer_train(CLI::App&app);  // task commands (task_cli.h)

Runner add_summarize(CLI::App& app);  // text in, summary out (cmd_summarize.cpp)
Runner add_convert(CLI::App& app);    // pytorch_model.bin -> model.safetensors (cmd_convert.cpp)
Runner add_serve(CLI::App& app);
Runner add_attention(CLI::App& app);  // attention maps (cmd_attention.cpp)      // HTTP server: TEI / OpenAI routes and the tasks (cmd_serve.cpp)

}  // namespace bigbird::cli
