// Attention maps without an n x n matrix (`bigbird attention`): for every layer and head, the
// attention mass each query block puts on each key block, and, for short inputs, the token-level
// probabilities in the layout bertviz's head view reads.
//
// The collector is an AttentionObserver (layers/types.h): the encoder hands it each layer's q, k,
// mask and layout before the layer's attention runs, and it recomputes every query row's softmax
// over that row's key list exactly as the kernels define it (kernels/attention.h,
// attention_row_probs: the layout's blocks with their mask rules, a repeated block twice, or HF's
// full attention on the fall-back), in double. Memory: O(L · n_blocks) per head and layer, plus
// L x L floats per head and layer only when the token map is asked for.
//
//   AttentionMapCollector maps(model.config().num_hidden_layers, heads, {});
//   ForwardOptions fo; fo.attention_observer = &maps;
//   model.encode(input, fo, ctx);
//   maps.layers()[0].heads[0].block_mass   // [n_blocks x n_blocks], row-major, rows sum to 1
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/threading.h"
#include "layers/types.h"

namespace bigbird {

struct AttentionMapOptions {
  int layer = -1;               // only this layer (-1: every layer)
  int head = -1;                // only this head (-1: every head)
  int64_t token_map_max = 256;  // token-level maps for inputs of at most this many tokens (0: never)
  int64_t block = 64;           // block size of the grid for full attention (block-sparse: the layout's)
};

struct HeadAttentionMap {
  int head = 0;
  // [n_blocks x n_blocks]: entry (i, j) is the mean over the input's tokens in query block i of
  // the probability mass on the keys of block j (block padding included as keys; it gets none).
  std::vector<double> block_mass;
  // [L x L] (only when L <= token_map_max): probability of key token j for query token i, a
  // repeated key counted with every occurrence. Empty otherwise.
  std::vector<float> tokens;
};

struct LayerAttentionMap {
  int layer = 0;
  int64_t L = 0, Lp = 0, block = 0;
  int64_t n_blocks = 0;
  bool block_sparse = false;  // false: full attention (original_full, or the short-input fall-back)
  std::vector<HeadAttentionMap> heads;
  std::vector<double> mean_block_mass;  // the heads' block_mass averaged
};

class AttentionMapCollector : public AttentionObserver {
 public:
  // Throws bigbird::Error when options.layer or options.head is outside the model's.
  AttentionMapCollector(int layers, int heads, AttentionMapOptions options, ThreadingContext ctx = {});
  void observe(const AttentionCall& call) override;
  // In layer order; only the first input's first sequence is recorded.
  const std::vector<LayerAttentionMap>& layers() const { return layers_; }

 private:
  int n_layers_, n_heads_;
  AttentionMapOptions options_;
  ThreadingContext ctx_;
  std::vector<LayerAttentionMap> layers_;
};

// Writes `m` ([n x n], values in [0, 1]) as an RGB PNG heatmap, `cell` pixels per entry, rows
// top to bottom (query blocks), columns left to right (key blocks); colour from white (0) through
// blue to dark purple (1), on a square-root scale so that small masses stay visible. Written
// atomically. Throws bigbird::Error when the file cannot be written.
void write_heatmap_png(const std::string& path, const std::vector<double>& m, int64_t n, int cell);

}  // namespace bigbird
