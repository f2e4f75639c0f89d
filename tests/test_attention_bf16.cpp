// block_sparse_attention_bf16 (kernels/attention.h): bf16 products on VDPBF16PS, softmax
// statistics in float32. Skipped (visibly) on a CPU without AVX512-BF16.
//
// Tolerance against the reference. The reference is the double-precision block-sparse reference
// run on q, k, v rounded to bf16 exactly as the kernel rounds them, so the scores match up to
// float32 rounding. What remains is the rounding of the probabilities to bf16 before P·V: with
// e_j the unnormalised weights (float32, their sum l computed before rounding) and
// bf16(e_j) = e_j(1 + δ_j), |δ_j| ≤ u = 2^-8 (bf16 keeps 8 significant bits; round to nearest),
//   |out − ref| = |Σ_j e_j δ_j v_j| / l ≤ u · max_j |v_j|.
// Float32 score, exp and sum errors add a few 1e-6 relative (the float32 kernel's 2e-5 absolute
// budget). So tol = 2^-8 · max|v| + 2e-5, a bound, not an estimate: the errors δ_j have random
// signs and the measured worst is far below it (printed).
//
// Against the float32 kernel (unrounded q, k, v) the scores move too: each product q_t·k_t is off
// by ≤ 2u relative, so a score by ≤ 2u · Σ_t |q_t k_t| / √d, a few 1e-2 at worst for N(0,1)
// entries and d ≤ 128; a weight moves by e^(Δs) − 1 relative. Tolerance 0.1 there (the outputs
// are of unit scale), and the difference must not be 0 (the bf16 products really ran).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "attention_problem.h"
#include "core/threading.h"
#include "kernels/attention.h"
#include "kernels/gemm_bf16.h"
#include "sparse/layout.h"
#include "sparse/plan.h"

using namespace bigbird;
using bigbird::test::AttnProblem;
using bigbird::test::make_attn_problem;

namespace {

#define SKIP_WITHOUT_BF16() \
  if (!bf16_supported()) GTEST_SKIP() << "no AVX512-BF16 on this CPU"

struct Shape {
  int B, d, heads, n, r, spare;
  int64_t pad;  // padded tokens at the tail (0: none)
  bool with_mask;
};

// Block sizes 16/32/64, head dims 32/48/64/128 and odd ones (33, 17: an odd tail pair), r 0/1/3,
// 1-3 heads, padding ending inside a block, spare columns (misaligned rows), global rows with
// more than 512 keys (several softmax chunks).
const Shape kShapes[] = {
    {16, 32, 2, 40, 3, 1, 0, true},  {16, 33, 1, 12, 1, 3, 21, true}, {32, 64, 3, 14, 3, 0, 37, true},
    {32, 48, 2, 20, 0, 5, 0, false}, {64, 64, 2, 12, 3, 1, 69, true}, {64, 128, 1, 10, 1, 7, 5, true},
    {64, 17, 3, 9, 1, 2, 64, true},  {16, 128, 3, 16, 0, 0, 3, true}, {32, 32, 1, 24, 3, 4, 33, true},
};

struct Problem {
  AttnProblem p;
  BlockLayout layout;
  bool with_mask;
};

Problem make(const Shape& s, uint64_t seed) {
  const int64_t L = static_cast<int64_t>(s.n) * s.B;
  AttnProblem p = make_attn_problem(L, s.heads, s.d, s.spare, L - s.pad, seed);
  RandomPlan plan = seeded_random_plan(seed, 0, s.n, s.r, s.heads);
  if (s.r > 0) plan.at(0, 0, 0) = s.n - 1;  // a repeated (global) block
  return {std::move(p), itc_layout(s.n, s.B, s.heads, plan), s.with_mask};
}

std::string describe(const Shape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "B=%d d=%d heads=%d n=%d r=%d spare=%d pad=%lld mask=%d", s.B, s.d, s.heads, s.n, s.r,
                s.spare, static_cast<long long>(s.pad), s.with_mask ? 1 : 0);
  return buf;
}

std::vector<float> run_bf16(const Problem& pr, const ThreadingContext& ctx, AttentionWorkspace* ws = nullptr) {
  std::vector<float> out(pr.p.q.size(), 0.0f);
  block_sparse_attention_bf16(ctx, pr.p.input(out.data(), pr.with_mask), pr.layout, ws);
  return out;
}

std::vector<float> run_f32(const Problem& pr, const ThreadingContext& ctx) {
  std::vector<float> out(pr.p.q.size(), 0.0f);
  block_sparse_attention(ctx, pr.p.input(out.data(), pr.with_mask), pr.layout);
  return out;
}

std::vector<float> rounded(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = from_bf16(to_bf16(x[i]));
  return y;
}

double max_abs(const std::vector<float>& x) {
  double m = 0;
  for (float v : x) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

}  // namespace

TEST(AttentionBf16, MatchesReferenceOnBf16Inputs) {
  SKIP_WITHOUT_BF16();
  const ThreadingContext ctx(2);
  AttentionWorkspace ws;  // shared by every shape: it has served other shapes
  uint64_t seed = 900;
  for (const Shape& s : kShapes) {
    Problem pr = make(s, seed++);
    ASSERT_TRUE(block_sparse_bf16_applies(pr.layout));
    const std::vector<float> got = run_bf16(pr, ctx, &ws);
    AttnProblem rp = pr.p;
    rp.q = rounded(rp.q), rp.k = rounded(rp.k), rp.v = rounded(rp.v);
    std::vector<float> want(rp.q.size(), 0.0f);
    block_sparse_attention_ref(rp.input(want.data(), pr.with_mask), pr.layout);
    const double tol = std::ldexp(1.0, -8) * max_abs(rp.v) + 2e-5;
    const double err = pr.p.diff_cols(got, want);
    std::printf("  %s: max |err| %.3e (tolerance %.3e)\n", describe(s).c_str(), err, tol);
    EXPECT_LE(err, tol) << describe(s);
    // Padded query rows are exact zeros, and the spare columns are never written.
    for (int64_t t = 0; t < pr.p.L; ++t)
      for (int64_t c = 0; c < pr.p.ld; ++c) {
        const float g = got[static_cast<size_t>(t * pr.p.ld + c)];
        if (c >= pr.p.heads * pr.p.d || (pr.with_mask && pr.p.mask[static_cast<size_t>(t)] == 0.0f)) {
          ASSERT_EQ(g, 0.0f) << describe(s) << " row " << t << " col " << c;
        }
      }
  }
}

TEST(AttentionBf16, CloseToFloat32KernelButNotEqual) {
  SKIP_WITHOUT_BF16();
  const ThreadingContext ctx(2);
  uint64_t seed = 950;
  for (const Shape& s : kShapes) {
    Problem pr = make(s, seed++);
    const double diff = pr.p.diff_cols(run_bf16(pr, ctx), run_f32(pr, ctx));
    std::printf("  %s: max |bf16 - f32| %.3e\n", describe(s).c_str(), diff);
    EXPECT_LT(diff, 0.1) << describe(s);
    EXPECT_GT(diff, 0.0) << describe(s) << ": the bf16 kernel gave the float32 bits";
  }
}

TEST(AttentionBf16, SameBitsForAnyThreadCountAndInPlace) {
  SKIP_WITHOUT_BF16();
  uint64_t seed = 990;
  for (const Shape& s : kShapes) {
    Problem pr = make(s, seed++);
    const ThreadingContext one(1), two(2), three(3);
    const std::vector<float> a = run_bf16(pr, one);
    EXPECT_EQ(a, run_bf16(pr, two)) << describe(s);
    EXPECT_EQ(a, run_bf16(pr, three)) << describe(s);
    // Output over q, as the encoder calls it.
    std::vector<float> qo = pr.p.q;
    AttentionInput in = pr.p.input(qo.data(), pr.with_mask);
    in.q = qo.data();
    block_sparse_attention_bf16(two, in, pr.layout);
    for (int64_t t = 0; t < pr.p.L; ++t)
      for (int64_t c = 0; c < pr.p.heads * pr.p.d; ++c) {
        const size_t i = static_cast<size_t>(t * pr.p.ld + c);
        ASSERT_EQ(qo[i], a[i]) << describe(s) << " row " << t << " col " << c;
      }
  }
}

TEST(AttentionBf16, OddBlocksRunTheFloat32Kernel) {
  // Pieces that start at odd keys cannot be paired along the sequence: the float32 kernel runs,
  // bit for bit.
  SKIP_WITHOUT_BF16();
  const ThreadingContext ctx(2);
  const Shape odd[] = {{7, 17, 2, 13, 3, 1, 9, true}, {21, 64, 1, 10, 1, 0, 0, true}, {33, 32, 3, 8, 0, 2, 40, true}};
  uint64_t seed = 1200;
  for (const Shape& s : odd) {
    Problem pr = make(s, seed++);
    EXPECT_FALSE(block_sparse_bf16_applies(pr.layout));
    EXPECT_EQ(run_bf16(pr, ctx), run_f32(pr, ctx)) << describe(s);
  }
}
