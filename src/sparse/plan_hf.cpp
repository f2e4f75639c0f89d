// HF transformers 4.27.1 random-attention plans, reproduced draw for draw.
//
// HF reseeds numpy's global legacy RNG with the layer index at every forward, then draws the
// plan of every head with `np.random.permutation`. Which candidates are shuffled, in which order
// the rows and heads are drawn, and how the picks are cut from each permutation decide the plan,
// so the two paths below follow HF's loops exactly, quirks included (see the notes per path).
#include <algorithm>

#include "core/error.h"
#include "sparse/mt19937_numpy.h"
#include "sparse/plan.h"

namespace bigbird {

namespace {

// Stores the first r entries of a shuffled candidate list as a plan row with numpy's assignment
// rule for `row[:] = perm[:r]`: a full list is copied, a single candidate is broadcast to every
// slot, anything else is a shape error in numpy (so HF raises too).
void store_row(int32_t* row, int r, const std::vector<int32_t>& perm, int block_row) {
  const int k = std::min(r, static_cast<int>(perm.size()));
  if (k == r) {
    std::copy(perm.begin(), perm.begin() + r, row);
    return;
  }
  BB_CHECK(k == 1, "HF random plan (paper path): query block ", block_row, " has only ", perm.size(),
           " candidate blocks for ", r, " random blocks (HF 4.27 raises a numpy broadcast error here too)");
  std::fill(row, row + r, perm[0]);
}

// "paper" path, for padded lengths 1024, 3072 and 4096: per head, HF drafts the plan of a
// sequence of max_position_embeddings tokens (_bigbird_block_rand_mask with last_idx = 1024) and
// keeps its first n_blocks - 2 rows. The whole draft is drawn for every head, so the kept rows
// of head h > 0 depend on max_position_embeddings. Candidates are slices of middle = [1 .. nb-2]
// cut as HF cuts them; they are not filtered against the row's window or the global blocks, so
// e.g. the rows nb-3 and nb-2 of the draft may contain their own window blocks, and for
// max_position_embeddings > 1024 the candidates may include the actual last (global) block.
void draw_paper_path(NumpyLegacyRandom& rng, RandomPlan& plan, int block, int max_pos) {
  const int nb = max_pos / block;  // blocks of the drafted sequence
  const int middle_len = nb - 2;   // middle[k] = k + 1 for k in [0, nb - 2)
  const int last = 1024 > 2 * block ? 1024 / block - 1 : nb - 1;
  std::vector<int32_t> cand;
  // Appends middle[a:b] with Python's clipping of the stop index.
  auto slice = [&](int a, int b) {
    for (int k = a; k < std::min(b, middle_len); ++k) cand.push_back(k + 1);
  };
  std::vector<int32_t> discard(static_cast<size_t>(plan.r));
  for (int h = 0; h < plan.heads; ++h) {
    for (int i = 1; i <= nb - 2; ++i) {  // query block i of the draft
      cand.clear();
      const int start = i - 2, end = i;
      if (i == 1) {
        slice(2, last);
      } else if (i == 2) {
        slice(3, last);
      } else if (i == nb - 3 || i == nb - 2) {
        slice(0, last);
      } else if (start > last) {
        slice(0, last);
      } else if (end + 1 == last) {
        slice(0, start);
      } else {
        slice(0, start);
        slice(end + 1, last);
      }
      rng.shuffle(cand);
      const int row = i - 1;
      store_row(row < plan.rows ? &plan.at(h, row, 0) : discard.data(), plan.r, cand, i);
    }
  }
}

// "with_head" path (every other padded length): _get_rand_attn_plan puts all r random blocks of
// every row in the first segment [0, 2r + 5) of blocks, since n_blocks >= 2r + 6 here. Rows are
// drawn in block order with heads inner; each draw shuffles the whole segment and keeps the first
// r blocks that are not illegal: the row's window, block 0, the segment's last block 2r + 4
// (treated as the "global right" block although it is not the sequence's last block), block
// 2r + 3 for query block 1, and block 1 for query block 2r + 3. HF also draws a row for the last
// (global) query block and then drops it; that is its final draw, so it is skipped here.
void draw_with_head_path(NumpyLegacyRandom& rng, RandomPlan& plan) {
  const int r = plan.r;
  const int span = 2 * r + 5;
  std::vector<int32_t> perm(static_cast<size_t>(span));
  for (int q = 1; q <= plan.rows; ++q) {
    auto illegal = [&](int k) {
      return (k >= q - 1 && k <= q + 1) || k == 0 || k == span - 1 || (q == 1 && k == span - 2) ||
             (q == span - 2 && k == 1);
    };
    for (int h = 0; h < plan.heads; ++h) {
      for (int k = 0; k < span; ++k) perm[static_cast<size_t>(k)] = k;
      rng.shuffle(perm);
      int taken = 0;
      for (int32_t k : perm) {
        if (taken == r) break;
        if (!illegal(k)) plan.at(h, q - 1, taken++) = k;
      }
      // At least 2r legal blocks remain for every row, so this cannot fire.
      BB_CHECK(taken == r, "HF random plan: internal error, too few candidates for query block ", q);
    }
  }
}

}  // namespace

RandomPlan hf_random_plan(int layer, int padded_len, int block, int r, int heads, int max_position_embeddings) {
  BB_CHECK(layer >= 0, "HF random plan: layer index ", layer, " is negative (it is numpy's seed)");
  BB_CHECK(block > 0, "HF random plan: block size ", block, " must be positive");
  BB_CHECK(padded_len > 0 && padded_len % block == 0, "HF random plan: padded length ", padded_len,
           " is not a positive multiple of the block size ", block);
  BB_CHECK(r >= 0, "HF random plan: number of random blocks ", r, " is negative");
  BB_CHECK(heads > 0, "HF random plan: number of heads ", heads, " must be positive");
  const int n_blocks = padded_len / block;
  BB_CHECK(n_blocks >= 2 * r + 6, "HF random plan: ", n_blocks, " blocks are too few for ", r,
           " random blocks (need at least ", 2 * r + 6,
           "; HF falls back to full attention for inputs of at most (2r + 5) blocks)");
  const bool paper = padded_len == 1024 || padded_len == 3072 || padded_len == 4096;
  if (paper)
    BB_CHECK(max_position_embeddings >= padded_len, "HF random plan: max_position_embeddings ", max_position_embeddings,
             " is shorter than the padded length ", padded_len, " (HF drafts the plan at max_position_embeddings)");

  RandomPlan plan{heads, n_blocks - 2, r, {}};
  plan.blocks.resize(static_cast<size_t>(heads) * plan.rows * r);
  if (r == 0) return plan;  // nothing is drawn into an empty plan

  NumpyLegacyRandom rng(static_cast<uint32_t>(layer));  // np.random.seed(layer_index)
  if (paper) draw_paper_path(rng, plan, block, max_position_embeddings);
  else draw_with_head_path(rng, plan);
  return plan;
}

}  // namespace bigbird
