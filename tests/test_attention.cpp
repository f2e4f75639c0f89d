// The attention references against each other, and the checks of the attention API. The fast
// kernels on every SIMD path are held to these references in the kernel harness
// (test_kernels_attention.cpp).
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/attention.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::max_abs_diff;
using bigbird::test::random_vec;

namespace {
struct Problem {
  int64_t L, heads, d, ld;
  std::vector<float> q, k, v, mask;
  AttentionInput input(std::vector<float>& out, bool with_mask) {
    AttentionInput a;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.ld = ld;
    a.out = out.data();
    a.ld_out = ld;
    a.L = L;
    a.heads = static_cast<int>(heads);
    a.d = d;
    a.mask = with_mask ? mask.data() : nullptr;
    return a;
  }
};

// ld > heads*d exercises strided (misaligned) rows; pad_from < L masks a tail.
Problem make_problem(int64_t L, int64_t heads, int64_t d, int64_t extra_cols, int64_t pad_from, uint64_t seed) {
  Problem p{L, heads, d, heads * d + extra_cols, {}, {}, {}, {}};
  const size_t n = static_cast<size_t>(L * p.ld);
  p.q = random_vec(n, seed);
  p.k = random_vec(n, seed + 1);
  p.v = random_vec(n, seed + 2);
  p.mask.assign(static_cast<size_t>(L), 1.0f);
  for (int64_t t = pad_from; t < L; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  return p;
}

// Compares only the heads*d columns that the kernels write.
double diff_cols(const Problem& p, const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (int64_t t = 0; t < p.L; ++t)
    m = std::max(m, max_abs_diff(a.data() + t * p.ld, b.data() + t * p.ld, static_cast<size_t>(p.heads * p.d)));
  return m;
}
}  // namespace

TEST(BlockSparseAttention, ReferenceEqualsDenseExpansion) {
  // The two references agree (the fast kernels are held to both in test_kernels_attention.cpp).
  uint64_t seed = 1;
  for (int B : {8, 16, 32, 64}) {
    for (int r : {0, 1, 2, 3, 4}) {
      const int n = 2 * r + 6 + (B <= 16 ? 3 : 0);
      const int heads = 2, d = B == 64 ? 32 : 8 + B / 4;
      for (int64_t pad_from : {static_cast<int64_t>(n) * B, static_cast<int64_t>(n) * B - B - 3}) {
        Problem p = make_problem(static_cast<int64_t>(n) * B, heads, d, 3, pad_from, seed++);
        RandomPlan plan = seeded_random_plan(seed, 0, n, r, heads);
        if (r > 0) plan.at(1, 0, 0) = 0;  // a repeated (global) block must count twice
        BlockLayout layout = itc_layout(n, B, heads, plan);
        std::vector<float> ref(p.q.size(), 0.f), dense(p.q.size(), 0.f);
        block_sparse_attention_ref(p.input(ref, true), layout);
        dense_layout_attention_ref(p.input(dense, true), expand_dense(layout));
        EXPECT_LT(diff_cols(p, ref, dense), 1e-6) << "B=" << B << " r=" << r;
      }
    }
  }
}

TEST(BlockSparseAttention, RejectsMismatchedLayout) {
  Problem p = make_problem(16 * 10, 2, 8, 0, 160, 3);
  BlockLayout layout = itc_layout(9, 16, 2, seeded_random_plan(0, 0, 9, 1, 2));
  std::vector<float> out(p.q.size());
  EXPECT_THROW(block_sparse_attention(test::ctx(), p.input(out, true), layout), Error);
}
