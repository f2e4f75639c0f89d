// The attention references against each other, and the checks of the attention API. The fast
// kernels on every SIMD path are held to these references in the kernel harness
// (test_kernels_attention.cpp).
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/attention.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "attention_problem.h"
#include "test_util.h"

using namespace bigbird;

TEST(BlockSparseAttention, ReferenceEqualsDenseExpansion) {
  // The two references agree (the fast kernels are held to both in test_kernels_attention.cpp).
  uint64_t seed = 1;
  for (int B : {8, 16, 32, 64}) {
    for (int r : {0, 1, 2, 3, 4}) {
      const int n = 2 * r + 6 + (B <= 16 ? 3 : 0);
      const int heads = 2, d = B == 64 ? 32 : 8 + B / 4;
      for (int64_t pad_from : {static_cast<int64_t>(n) * B, static_cast<int64_t>(n) * B - B - 3}) {
        test::AttnProblem p = test::make_attn_problem(static_cast<int64_t>(n) * B, heads, d, 3, pad_from, seed++);
        RandomPlan plan = seeded_random_plan(seed, 0, n, r, heads);
        if (r > 0) plan.at(1, 0, 0) = 0;  // a repeated (global) block must count twice
        BlockLayout layout = itc_layout(n, B, heads, plan);
        std::vector<float> ref(p.q.size(), 0.f), dense(p.q.size(), 0.f);
        block_sparse_attention_ref(p.input(ref.data(), true), layout);
        dense_layout_attention_ref(p.input(dense.data(), true), expand_dense(layout));
        EXPECT_LT(p.diff_cols(ref, dense), 1e-6) << "B=" << B << " r=" << r;
      }
    }
  }
}

TEST(BlockSparseAttention, RejectsMismatchedLayout) {
  test::AttnProblem p = test::make_attn_problem(16 * 10, 2, 8, 0, 160, 3);
  BlockLayout layout = itc_layout(9, 16, 2, seeded_random_plan(0, 0, 9, 1, 2));
  std::vector<float> out(p.q.size());
  EXPECT_THROW(block_sparse_attention(test::ctx(), p.input(out.data(), true), layout), Error);
}
