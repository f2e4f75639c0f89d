// Attention layouts as data: for every head and query block, the key blocks it attends to.
//
// One generic block-sparse kernel consumes any layout. ITC (HF / google-research BigBird) is
// built here; a dense expansion turns any layout into per-token counts for the reference.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sparse/plan.h"

namespace bigbird {

// How padding masks a key block of a query row (HF's two penalty rules):
//   Key:      score += (1 - m[k]) * penalty            (global blocks, the fixed blocks of rows 1, n-2)
//   QueryKey: score += (1 - m[q] * m[k]) * penalty     (sliding window and random blocks)
enum class MaskKind : uint8_t { Key = 0, QueryKey = 1 };

struct KeyBlock {
  int32_t block;
  MaskKind kind;
};

struct BlockLayout {
  int n_blocks = 0;
  int block = 0;
  int heads = 0;
  // CSR over (head, query block): keys of row (h, q) are keys[offsets[h*n+q] .. offsets[h*n+q+1]).
  // A block may appear twice in a row (HF attends to it twice: do not deduplicate).
  std::vector<int64_t> offsets;
  std::vector<KeyBlock> keys;

  std::span<const KeyBlock> row(int h, int q) const {
    const size_t i = static_cast<size_t>(h) * n_blocks + q;
    return {keys.data() + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i])};
  }
  int64_t seq_len() const { return static_cast<int64_t>(n_blocks) * block; }
  size_t max_row_blocks() const;
};

// ITC: query blocks 0 and n-1 attend to every block; block 1 to {0, 1, 2, n-1} + random;
// block n-2 to {0, n-3, n-2, n-1} + random; a middle block i to {0, i-1, i, i+1} + random + {n-1},
// in HF's concatenation order. `plan` is [heads, n-2, r] (validated here).
BlockLayout itc_layout(int n_blocks, int block, int heads, const RandomPlan& plan);

// The layout family a config.json asks for, through this engine's extension keys (HF ignores
// unknown keys; the defaults give HF's ITC layout exactly):
//   window_blocks   odd, >= 1 (default 3): a middle query block q attends to q-h .. q+h, h = (w-1)/2
//   global_blocks   >= 0 (default 1): the first and the last g blocks attend to, and are attended
//                   by, every block; 0 gives a window (+ random) layout with no global block
// num_random_blocks (HF's own key) stays where it is (RandomPlan::r).
//   num_global_tokens >= 0 (default 0): the paper's ETC variant: this many extra tokens, with
//                   learned embeddings of their own, attend to and are attended by every token
//                   (with_global_tokens). A checkpoint that uses them is this engine's own.
struct LayoutSpec {
  int64_t window_blocks = 3;
  int64_t global_blocks = 1;
  int64_t global_tokens = 0;  // config key num_global_tokens

  bool is_itc() const { return window_blocks == 3 && global_blocks == 1; }
  // Block-sparse attention needs more than this many blocks; shorter (padded) inputs run full
  // attention. ITC: HF's 5 + 2r; other layouts: max(2g + w, 5) + 2r, so every plan source has
  // the room it needs (and the band is never the whole sequence).
  int64_t fallback_blocks(int64_t r) const;
  // Throws bigbird::Error naming `what` (the config file) on values outside the ranges above.
  void validate(const std::string& what) const;
};

// The layout of `spec`: itc_layout for the defaults (HF's order and masking, bit for bit), else a
// banded layout. Row q of a banded layout, in this order:
//   q <  g or q >= n-g (global rows): every block, with the key-only mask rule;
//   otherwise: the leading globals 0 .. g-1 (key rule), the window blocks q-h .. q+h that are not
//   global (query-key rule), the r random blocks of plan row clamp(q-1, 0, n-3) (query-key rule),
//   then the trailing globals n-g .. n-1 (key rule).
// Plans keep HF's [heads, n-2, r] shape for every layout: with g = 0 the edge blocks 0 and n-1
// use the plan rows of their neighbours 1 and n-2. Repeated blocks are kept (as in ITC).
BlockLayout make_layout(const LayoutSpec& spec, int n_blocks, int block, int heads, const RandomPlan& plan);

// The ETC extension of `base` (any layout of n blocks): `extra` blocks appended after block n-1
// hold the global tokens (their tails are padding that the mask removes). Rows 0..n-1 keep their
// keys, then attend to blocks n .. n+extra-1 under the key-only rule; the new rows n .. n+extra-1
// attend to every block under the key-only rule.
BlockLayout with_global_tokens(const BlockLayout& base, int extra);

// Dense expansion for tests: per head, [L, L] counts of how often key k enters the softmax of
// query q under each mask rule.
struct DenseLayout {
  int64_t L = 0;
  int heads = 0;
  std::vector<uint8_t> key_count;  // [heads][L][L], MaskKind::Key occurrences
  std::vector<uint8_t> qk_count;   // [heads][L][L], MaskKind::QueryKey occurrences
};
DenseLayout expand_dense(const BlockLayout& layout);

}  // namespace bigbird
