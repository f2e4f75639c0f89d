// The ITC layout rules, block by block, and the dense expansion.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "sparse/layout.h"

using namespace bigbird;

namespace {
RandomPlan fixed_plan(int heads, int n, int r) {
  RandomPlan p{heads, n - 2, r, {}};
  for (int h = 0; h < heads; ++h)
    for (int row = 0; row < n - 2; ++row)
      for (int j = 0; j < r; ++j) p.blocks.push_back((row + 3 * j + h + 5) % n);
  return p;
}
std::vector<int> blocks_of(const BlockLayout& L, int h, int q) {
  std::vector<int> b;
  for (auto kb : L.row(h, q)) b.push_back(kb.block);
  return b;
}
}  // namespace

TEST(ItcLayout, RowsFollowHfConcatenationOrder) {
  for (int n : {5, 6, 9, 16, 33}) {
    for (int r : {0, 1, 3}) {
      const int heads = 2, last = n - 1;
      RandomPlan plan = fixed_plan(heads, n, r);
      BlockLayout L = itc_layout(n, 16, heads, plan);
      for (int h = 0; h < heads; ++h) {
        std::vector<int> all(n);
        for (int b = 0; b < n; ++b) all[b] = b;
        EXPECT_EQ(blocks_of(L, h, 0), all);
        EXPECT_EQ(blocks_of(L, h, last), all);
        for (auto kb : L.row(h, 0)) EXPECT_EQ(kb.kind, MaskKind::Key);
        for (int q = 1; q < last; ++q) {
          std::vector<int> want;
          std::vector<MaskKind> kinds;
          auto add = [&](int b, MaskKind k) {
            want.push_back(b);
            kinds.push_back(k);
          };
          auto rnd = [&] {
            for (int j = 0; j < r; ++j) add(plan.at(h, q - 1, j), MaskKind::QueryKey);
          };
          if (q == 1) {
            for (int b : {0, 1, 2, last}) add(b, MaskKind::Key);
            rnd();
          } else if (q == last - 1) {
            for (int b : {0, last - 2, last - 1, last}) add(b, MaskKind::Key);
            rnd();
          } else {
            add(0, MaskKind::Key);
            for (int b : {q - 1, q, q + 1}) add(b, MaskKind::QueryKey);
            rnd();
            add(last, MaskKind::Key);
          }
          EXPECT_EQ(blocks_of(L, h, q), want) << "n=" << n << " r=" << r << " q=" << q;
          auto row = L.row(h, q);
          for (size_t i = 0; i < row.size(); ++i) EXPECT_EQ(row[i].kind, kinds[i]);
        }
      }
      EXPECT_EQ(L.max_row_blocks(), static_cast<size_t>(std::max(n, 5 + r)));
    }
  }
}

TEST(ItcLayout, RejectsBadPlansAndTooFewBlocks) {
  EXPECT_THROW(itc_layout(4, 16, 1, fixed_plan(1, 4, 1)), Error);
  RandomPlan p = fixed_plan(2, 10, 3);
  EXPECT_THROW(itc_layout(10, 16, 3, p), Error);  // heads mismatch
  p.at(0, 0, 0) = 10;                             // out of range
  EXPECT_THROW(itc_layout(10, 16, 2, p), Error);
  p.at(0, 0, 0) = -1;
  EXPECT_THROW(itc_layout(10, 16, 2, p), Error);
}

TEST(ItcLayout, DenseExpansionCountsEveryOccurrence) {
  const int n = 8, B = 4, heads = 2, r = 2;
  RandomPlan plan = fixed_plan(heads, n, r);
  plan.at(1, 3, 0) = 0;  // query block 4 of head 1 now lists block 0 twice (global + random)
  BlockLayout L = itc_layout(n, B, heads, plan);
  DenseLayout D = expand_dense(L);
  ASSERT_EQ(D.L, n * B);
  const size_t per_head = static_cast<size_t>(D.L) * D.L;
  // Query token in block 4, key token in block 0: once as Key (global), once as QueryKey (random).
  const size_t idx = per_head + static_cast<size_t>(4 * B + 1) * D.L + 2;
  EXPECT_EQ(D.key_count[idx], 1);
  EXPECT_EQ(D.qk_count[idx], 1);
  // Total count per query row = (#key blocks) * B.
  for (int h = 0; h < heads; ++h)
    for (int q = 0; q < D.L; ++q) {
      int total = 0;
      for (int k = 0; k < D.L; ++k) {
        const size_t i = h * per_head + static_cast<size_t>(q) * D.L + k;
        total += D.key_count[i] + D.qk_count[i];
      }
      EXPECT_EQ(total, static_cast<int>(L.row(h, q / B).size()) * B);
    }
}
