// `bigbird attention`: where each layer's attention goes, without an n x n matrix
// (src/analysis/attention_map.h): block-level attention mass per (query block, key block) for
// every layer and head, the token-level maps bertviz's head view reads for short inputs, and a
// PNG heatmap.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/attention_map.h"
#include "commands.h"
#include "common_options.h"
#include "core/atomic_file.h"
#include "tasks/jsonl.h"
#include "tasks/task.h"
#include "task_cli.h"

namespace bigbird::cli {

namespace {

struct AttentionArgs {
  std::string model, tokenizer, text, file, output, plot;
  int layer = -1, head = -1;
  int64_t token_map_max = 256;
  int plot_cell = 0;
  CommonOptions common;
};

// Six decimals are plenty for a map, and keep the JSON small.
double r6(double x) { return std::round(x * 1e6) / 1e6; }

nlohmann::ordered_json matrix(const std::vector<double>& m, int64_t n) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < n; ++i) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (int64_t j = 0; j < n; ++j) row.push_back(r6(m[static_cast<size_t>(i * n + j)]));
    out.push_back(std::move(row));
  }
  return out;
}

int run(const AttentionArgs& a) {
  a.common.check();
  check_output_is_not_in_model(a.output, "--output", a.model);
  check_output_is_not_in_model(a.plot, "--plot", a.model);
  check_output_is_not_input(a.output, "--output", a.file, "--file");
  check_output_is_not_input(a.plot, "--plot", a.file, "--file");
  BB_CHECK(a.plot.empty() || a.plot != a.output, "--plot and --output are the same file '", a.plot, "'");
  BB_CHECK(a.text.empty() || a.file.empty(), "give the text either with --text or with --file, not both");
  BB_CHECK(!a.text.empty() || !a.file.empty(), "give the text with --text TEXT or --file FILE");
  const std::string text = a.file.empty() ? a.text : tasks::read_text_file(a.file);
  BB_CHECK(!text.empty(), "empty input: the text is empty");

  auto tm = tasks::TaskModel::load(a.model, a.tokenizer, /*with_weights=*/true, a.common.overrides());
  const BigBirdModel& model = tm->model();
  const BigBirdConfig& cfg = model.config();
  const Encoding enc = tm->tokenizer().encode(text);
  const tasks::RunOptions ro = a.common.run_options();
  tm->check_fits(static_cast<int64_t>(enc.size()), ro, "attention");

  AttentionMapOptions mo;
  mo.layer = a.layer;
  mo.head = a.head;
  mo.token_map_max = a.token_map_max;
  mo.block = cfg.block_size;
  const ThreadingContext ctx = a.common.threading();
  AttentionMapCollector maps(static_cast<int>(cfg.num_hidden_layers), static_cast<int>(cfg.num_attention_heads), mo,
                             ctx);
  ForwardOptions fo = a.common.forward_options();
  fo.attention_observer = &maps;
  EncoderInput in;
  const int64_t L = static_cast<int64_t>(enc.size());
  in.input_ids = TensorI64(Shape{1, L});
  std::copy(enc.input_ids.begin(), enc.input_ids.end(), in.input_ids.data.begin());
  const EncoderOutput eo = model.encode(in, fo, ctx);
  BB_CHECK(!maps.layers().empty(), "internal: the encoder reported no attention");

  const LayerAttentionMap& first = maps.layers().front();
  nlohmann::ordered_json j;
  j["model"] = a.model;
  j["tokens"] = enc.tokens;
  j["seq_len"] = L;
  j["padded_len"] = first.Lp;
  j["block_size"] = first.block;
  j["n_blocks"] = first.n_blocks;
  j["attention_type"] = attention_type_name(eo.attention_used);
  j["fell_back"] = eo.fell_back;
  j["window_blocks"] = cfg.layout.window_blocks;
  j["global_blocks"] = cfg.layout.global_blocks;
  j["num_random_blocks"] = cfg.num_random_blocks;
  j["num_global_tokens"] = cfg.layout.global_tokens;
  j["random_plan"] = a.common.random_plan;
  j["block_mass"] =
      "layers[].heads[].block_mass[i][j]: mean over the tokens of query block i of the attention probability "
      "on the keys of block j (rows sum to 1); mean_block_mass: averaged over the heads listed; with "
      "num_global_tokens > 0 the last blocks hold the ETC global tokens (as keys only: their own rows are not "
      "shown)";
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerAttentionMap& lm : maps.layers()) {
    nlohmann::ordered_json lj;
    lj["layer"] = lm.layer;
    lj["mean_block_mass"] = matrix(lm.mean_block_mass, lm.n_blocks);
    nlohmann::ordered_json hs = nlohmann::ordered_json::array();
    for (const HeadAttentionMap& hm : lm.heads) hs.push_back({{"head", hm.head}, {"block_mass", matrix(hm.block_mass, lm.n_blocks)}});
    lj["heads"] = std::move(hs);
    layers.push_back(std::move(lj));
  }
  j["layers"] = std::move(layers);
  // bertviz's head_view data: attn[layer][head][query][key] over the input's tokens.
  if (!first.heads.front().tokens.empty()) {
    nlohmann::ordered_json attn = nlohmann::ordered_json::array();
    for (const LayerAttentionMap& lm : maps.layers()) {
      nlohmann::ordered_json lh = nlohmann::ordered_json::array();
      for (const HeadAttentionMap& hm : lm.heads) {
        nlohmann::ordered_json rows = nlohmann::ordered_json::array();
        for (int64_t qi = 0; qi < L; ++qi) {
          nlohmann::ordered_json row = nlohmann::ordered_json::array();
          for (int64_t k = 0; k < L; ++k) row.push_back(r6(hm.tokens[static_cast<size_t>(qi * L + k)]));
          rows.push_back(std::move(row));
        }
        lh.push_back(std::move(rows));
      }
      attn.push_back(std::move(lh));
    }
    j["bertviz"] = {{"attn", std::move(attn)}, {"left_text", enc.tokens}, {"right_text", enc.tokens}};
  } else {
    j["bertviz"] = nullptr;  // the input is longer than --token-map-max
  }

  if (!a.plot.empty()) {
    const LayerAttentionMap& lm = maps.layers().back();
    const int cell = a.plot_cell > 0 ? a.plot_cell : static_cast<int>(std::clamp<int64_t>(512 / lm.n_blocks, 1, 32));
    write_heatmap_png(a.plot, lm.mean_block_mass, lm.n_blocks, cell);
  }
  const std::string out = j.dump() + "\n";
  if (a.output.empty()) std::cout << out;
  else write_file_atomically(a.output, out);
  return 0;
}

}  // namespace

Runner add_attention(CLI::App& app) {
  auto a = std::make_shared<AttentionArgs>();
  app.add_option("--model", a->model, "checkpoint directory as HF saves it (config.json, model.safetensors, tokenizer)")
      ->required();
  app.add_option("--tokenizer", a->tokenizer, "directory with the tokenizer files (default: --model)");
  app.add_option("--text", a->text, "the input text");
  app.add_option("--file", a->file, "read the input text from this file");
  app.add_option("--layer", a->layer, "only this layer, from 0 (default: every layer)");
  app.add_option("--head", a->head, "only this head, from 0 (default: every head)");
  app.add_option("--token-map-max", a->token_map_max,
                 "write token-level maps (bertviz) for inputs of at most this many tokens (default 256; 0: never)")
      ->check(non_negative_number());
  app.add_option("--output", a->output, "write the JSON here (atomically) instead of stdout");
  app.add_option("--plot", a->plot,
                 "draw the block-level map of --layer (default: the last layer), averaged over the heads listed, "
                 "as a PNG heatmap");
  app.add_option("--plot-cell", a->plot_cell, "pixels per block in --plot (default: about 512 pixels in all)")
      ->check(positive_number());
  add_common_options(app, a->common);
  return [a] { return run(*a); };
}

}  // namespace bigbird::cli
