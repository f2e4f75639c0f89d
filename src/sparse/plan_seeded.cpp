#include <algorithm>

#include "core/error.h"
#include "sparse/plan.h"

namespace bigbird {

void validate_plan(const RandomPlan& plan, int heads, int n_blocks, int r, const char* what) {
  BB_CHECK(plan.heads == heads && plan.rows == n_blocks - 2 && plan.r == r, what, ": random plan has shape [",
           plan.heads, ", ", plan.rows, ", ", plan.r, "], expected [", heads, ", ", n_blocks - 2, ", ", r,
           "] (heads, blocks - 2, num_random_blocks)");
  BB_CHECK(plan.blocks.size() == static_cast<size_t>(heads) * (n_blocks - 2) * r, what,
           ": random plan data size mismatch");
  for (size_t i = 0; i < plan.blocks.size(); ++i)
    BB_CHECK(plan.blocks[i] >= 0 && plan.blocks[i] < n_blocks, what, ": random plan entry ", plan.blocks[i],
             " is not a block index in [0, ", n_blocks, ")");
}

namespace {
// SplitMix64 finaliser: a counter-based generator (no state carried between draws).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

RandomPlan seeded_random_plan(uint64_t seed, int layer, int n_blocks, int r, int heads) {
  BB_CHECK(n_blocks >= 2 * r + 6 || r == 0, "seeded random plan: ", n_blocks, " blocks are too few for ", r,
           " random blocks (need at least ", 2 * r + 6, ")");
  RandomPlan plan{heads, n_blocks - 2, r, {}};
  plan.blocks.resize(static_cast<size_t>(heads) * plan.rows * r);
  std::vector<int32_t> cand;
  for (int h = 0; h < heads; ++h) {
    for (int row = 0; row < plan.rows; ++row) {
      const int q = row + 1;  // query block
      cand.clear();
      for (int k = 1; k < n_blocks - 1; ++k)
        if (k < q - 1 || k > q + 1) cand.push_back(k);
      // Partial Fisher-Yates: r distinct picks, each index from a hash of its coordinates.
      uint64_t key = mix(mix(mix(mix(seed) ^ static_cast<uint64_t>(layer)) ^ static_cast<uint64_t>(h)) ^
                         static_cast<uint64_t>(row));
      for (int j = 0; j < r; ++j) {
        uint64_t x = mix(key + static_cast<uint64_t>(j));
        size_t span = cand.size() - static_cast<size_t>(j);
        size_t pick = j + static_cast<size_t>((static_cast<unsigned __int128>(x) * span) >> 64);
        std::swap(cand[static_cast<size_t>(j)], cand[pick]);
        plan.at(h, row, j) = cand[static_cast<size_t>(j)];
      }
    }
  }
  return plan;
}

}  // namespace bigbird
