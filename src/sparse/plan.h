// Random-attention plans: which r key blocks each (head, query block) attends to at random.
//
// A plan for one layer is int32 [heads, n_blocks - 2, r]: row i serves query block i + 1
// (blocks 0 and n-1 are global and have no row); values are 0-based key block indices into
// the padded sequence, in the order the keys are concatenated. This is exactly HF's
// `rand_attn` layout, so plans can be injected from fixtures.
#pragma once
#include <cstdint>
#include <vector>

namespace bigbird {

struct RandomPlan {
  int heads = 0;
  int rows = 0;  // n_blocks - 2
  int r = 0;
  std::vector<int32_t> blocks;  // [heads][rows][r]

  int32_t at(int h, int row, int j) const { return blocks[(static_cast<size_t>(h) * rows + row) * r + j]; }
  int32_t& at(int h, int row, int j) { return blocks[(static_cast<size_t>(h) * rows + row) * r + j]; }
};

// Checks shape and range against (heads, n_blocks, r); throws bigbird::Error naming `what`.
void validate_plan(const RandomPlan& plan, int heads, int n_blocks, int r, const char* what);

// Default source: for every (layer, head, query block) r distinct blocks drawn uniformly from
// the blocks outside the row's sliding window and the two global blocks. Stateless: a pure
// function of (seed, layer, head, row), so identical on every call and any thread count.
RandomPlan seeded_random_plan(uint64_t seed, int layer, int n_blocks, int r, int heads);

// HF transformers 4.27 plan, bit-exact: numpy's legacy MT19937 seeded with the layer index.
// `padded_len` = n_blocks * block; for padded_len in {1024, 3072, 4096} HF takes the "paper"
// path (_bigbird_block_rand_mask with max_position_embeddings), else the per-head path
// (_bigbird_block_rand_mask_with_head with _get_rand_attn_plan).
RandomPlan hf_random_plan(int layer, int padded_len, int block, int r, int heads, int max_position_embeddings);

}  // namespace bigbird
