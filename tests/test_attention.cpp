// Block-sparse and full attention against the scalar and dense references on random shapes.
//
// Tolerance: outputs are convex combinations of N(0,1) values (|out| < ~5). The fast kernels
// accumulate in float32 over at most d products per score and n_keys terms per output, so the
// error is a few ulps times sqrt(terms): below 1e-5 for the sizes here. We use 2e-5 absolute.
//
// Every SIMD path this CPU supports (scalar, AVX2, AVX-512) is forced in turn and held to the
// scalar double reference on random shapes: block sizes 16-128 and odd ones, head dims 32-128
// and odd ones, row strides that leave rows misaligned, padding masks, several softmax chunks.
#include <gtest/gtest.h>

#include <omp.h>

#include "core/error.h"
#include "kernels/attention.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::max_abs_diff;
using bigbird::test::random_vec;

namespace {
constexpr double kTol = 2e-5;

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
  for (int64_t t = 0; t < p.L; ++t) m = std::max(m, max_abs_diff(a.data() + t * p.ld, b.data() + t * p.ld, static_cast<size_t>(p.heads * p.d)));
  return m;
}
}  // namespace

TEST(BlockSparseAttention, EqualsDenseExpansionOnRandomShapes) {
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
        std::vector<float> fast(p.q.size(), 0.f), ref(p.q.size(), 0.f), dense(p.q.size(), 0.f);
        block_sparse_attention(test::ctx(), p.input(fast, true), layout);
        block_sparse_attention_ref(p.input(ref, true), layout);
        dense_layout_attention_ref(p.input(dense, true), expand_dense(layout));
        EXPECT_LT(diff_cols(p, fast, dense), kTol) << "B=" << B << " r=" << r << " pad_from=" << pad_from;
        EXPECT_LT(diff_cols(p, ref, dense), 1e-6) << "B=" << B << " r=" << r;
        for (int64_t t = pad_from; t < p.L; ++t)  // from_mask zeroes padded query rows
          for (int64_t c = 0; c < heads * d; ++c) EXPECT_EQ(fast[static_cast<size_t>(t * p.ld + c)], 0.0f);
      }
    }
  }
}

namespace {
std::vector<SimdPath> supported_paths() {
  std::vector<SimdPath> p;
  for (SimdPath s : {SimdPath::Scalar, SimdPath::Avx2, SimdPath::Avx512})
    if (simd_path_supported(s)) p.push_back(s);
  return p;
}
}  // namespace

TEST(BlockSparseAttention, EverySimdPathEqualsReferenceOnRandomShapes) {
  struct Shape {
    int B, d, heads, n, r, extra;
  };
  // n*B > 512 in most rows of the global blocks: several chunks of the online softmax.
  const Shape shapes[] = {{16, 32, 2, 40, 3, 1}, {16, 37, 1, 12, 2, 3}, {32, 64, 2, 20, 3, 0}, {48, 33, 2, 14, 1, 5},
                          {64, 64, 2, 12, 3, 1}, {64, 128, 1, 10, 2, 7}, {96, 80, 1, 9, 1, 2}, {128, 32, 1, 8, 1, 0},
                          {128, 127, 1, 6, 0, 1}, {20, 50, 2, 11, 2, 3}, {7, 17, 2, 13, 3, 1}};
  uint64_t seed = 500;
  for (const Shape& sh : shapes) {
    const int64_t L = static_cast<int64_t>(sh.n) * sh.B;
    for (int64_t pad_from : {L, L - sh.B - 5}) {
      Problem p = make_problem(L, sh.heads, sh.d, sh.extra, pad_from, seed++);
      RandomPlan plan = seeded_random_plan(seed, 0, sh.n, sh.r, sh.heads);
      if (sh.r > 0) plan.at(0, 0, 0) = sh.n - 1;  // a repeated (global) block
      BlockLayout layout = itc_layout(sh.n, sh.B, sh.heads, plan);
      std::vector<float> ref(p.q.size(), 0.f);
      block_sparse_attention_ref(p.input(ref, true), layout);
      for (SimdPath path : supported_paths()) {
        std::vector<float> fast(p.q.size(), 0.f);
        block_sparse_attention(test::ctx(), p.input(fast, true), layout, nullptr, path);
        EXPECT_LT(diff_cols(p, fast, ref), kTol) << simd_path_name(path) << " B=" << sh.B << " d=" << sh.d
                                                 << " pad_from=" << pad_from;
        // Columns outside the heads' (the row stride's slack) are never written.
        for (int64_t t = 0; t < L; ++t)
          for (int64_t c = sh.heads * sh.d; c < p.ld; ++c) ASSERT_EQ(fast[static_cast<size_t>(t * p.ld + c)], 0.0f);
      }
    }
  }
}

TEST(BlockSparseAttention, MisalignedPointersAndInPlaceOutput) {
  // q, k, v start one float past an aligned address; the output overwrites q (as the encoder
  // does) and must equal a separate output bit for bit.
  const int B = 32, n = 10, heads = 2, d = 64;
  const int64_t L = static_cast<int64_t>(n) * B, ld = heads * d + 3;
  BlockLayout layout = itc_layout(n, B, heads, seeded_random_plan(3, 0, n, 2, heads));
  for (SimdPath path : supported_paths()) {
    Problem p = make_problem(L, heads, d, 3, L - 7, 77);
    std::vector<float> qs(p.q.size() + 1), ks(p.k.size() + 1), vs(p.v.size() + 1);
    std::copy(p.q.begin(), p.q.end(), qs.begin() + 1);
    std::copy(p.k.begin(), p.k.end(), ks.begin() + 1);
    std::copy(p.v.begin(), p.v.end(), vs.begin() + 1);
    std::vector<float> sep(p.q.size() + 1, 0.f), ref(p.q.size(), 0.f);
    AttentionInput a = p.input(ref, true);
    block_sparse_attention_ref(a, layout);
    a.q = qs.data() + 1, a.k = ks.data() + 1, a.v = vs.data() + 1, a.out = sep.data() + 1;
    block_sparse_attention(test::ctx(), a, layout, nullptr, path);
    a.out = qs.data() + 1;
    block_sparse_attention(test::ctx(), a, layout, nullptr, path);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t c = 0; c < heads * d; ++c) {
        const size_t i = static_cast<size_t>(t * ld + c);
        ASSERT_EQ(qs[i + 1], sep[i + 1]) << simd_path_name(path);
        ASSERT_NEAR(sep[i + 1], ref[i], kTol) << simd_path_name(path);
      }
  }
}

TEST(BlockSparseAttention, DeterministicAcrossThreadCountsOnEveryPath) {
  Problem p = make_problem(64 * 12, 3, 64, 1, 64 * 12 - 5, 98);
  BlockLayout layout = itc_layout(12, 64, 3, seeded_random_plan(7, 0, 12, 3, 3));
  AttentionWorkspace ws;
  for (SimdPath path : supported_paths()) {
    std::vector<float> a(p.q.size()), b(p.q.size()), c(p.q.size());
        block_sparse_attention(ThreadingContext(1), p.input(a, true), layout, nullptr, path);
        block_sparse_attention(ThreadingContext(2), p.input(b, true), layout, &ws, path);
        block_sparse_attention(ThreadingContext(3), p.input(c, true), layout, &ws, path);
    EXPECT_EQ(a, b) << simd_path_name(path);
    EXPECT_EQ(a, c) << simd_path_name(path);
  }
}

TEST(BlockSparseAttention, DeterministicAcrossThreadCounts) {
  Problem p = make_problem(16 * 12, 3, 16, 0, 16 * 12 - 5, 99);
  BlockLayout layout = itc_layout(12, 16, 3, seeded_random_plan(7, 0, 12, 3, 3));
  std::vector<float> a(p.q.size()), b(p.q.size());
    block_sparse_attention(ThreadingContext(1), p.input(a, true), layout);
    block_sparse_attention(ThreadingContext(2), p.input(b, true), layout);
  EXPECT_EQ(a, b);
}

TEST(BlockSparseAttention, RejectsMismatchedLayout) {
  Problem p = make_problem(16 * 10, 2, 8, 0, 160, 3);
  BlockLayout layout = itc_layout(9, 16, 2, seeded_random_plan(0, 0, 9, 1, 2));
  std::vector<float> out(p.q.size());
  EXPECT_THROW(block_sparse_attention(test::ctx(), p.input(out, true), layout), Error);
}

TEST(FullAttention, EqualsReferenceWithAndWithoutMask) {
  uint64_t seed = 100;
  for (int64_t L : {1, 7, 64, 65, 150}) {
    for (int64_t d : {4, 16, 33}) {
      Problem p = make_problem(L, 2, d, 1, L > 3 ? L - 3 : L, seed++);
      for (bool with_mask : {false, true}) {
        std::vector<float> fast(p.q.size()), ref(p.q.size());
        full_attention(test::ctx(), p.input(fast, with_mask));
        full_attention_ref(p.input(ref, with_mask));
        EXPECT_LT(diff_cols(p, fast, ref), kTol) << "L=" << L << " d=" << d;
      }
    }
  }
}

TEST(FullAttention, EverySimdPathEqualsReferenceOnRandomShapes) {
  uint64_t seed = 900;
  for (int64_t L : {1, 9, 100, 600}) {  // 600: two chunks of the online softmax
    for (int64_t d : {32, 33, 64, 128}) {
      if (L == 600 && d % 32 == 0 && d != 64) continue;  // keep the double reference quick
      Problem p = make_problem(L, 2, d, 5, L > 3 ? L - 3 : L, seed++);
      for (bool with_mask : {false, true}) {
        std::vector<float> ref(p.q.size());
        full_attention_ref(p.input(ref, with_mask));
        for (SimdPath path : supported_paths()) {
          std::vector<float> fast(p.q.size());
          full_attention(test::ctx(), p.input(fast, with_mask), nullptr, path);
          EXPECT_LT(diff_cols(p, fast, ref), kTol) << simd_path_name(path) << " L=" << L << " d=" << d;
        }
      }
    }
  }
  // Deterministic across thread counts.
  Problem p = make_problem(700, 3, 48, 0, 650, 5);
  for (SimdPath path : supported_paths()) {
    std::vector<float> a(p.q.size()), b(p.q.size());
        full_attention(ThreadingContext(1), p.input(a, true), nullptr, path);
        full_attention(ThreadingContext(2), p.input(b, true), nullptr, path);
    EXPECT_EQ(a, b) << simd_path_name(path);
  }
}

TEST(FullAttention, AllMaskedRowIsUniformLikeHf) {
  // With every key masked, finfo.min penalties cancel in the softmax: uniform weights.
  for (SimdPath path : supported_paths()) {
    Problem p = make_problem(10, 1, 4, 0, 0, 5);
    std::vector<float> out(p.q.size());
    full_attention(test::ctx(), p.input(out, true), nullptr, path);
    for (int64_t c = 0; c < 4; ++c) {
      double mean = 0;
      for (int64_t t = 0; t < 10; ++t) mean += p.v[static_cast<size_t>(t * 4 + c)] / 10.0;
      EXPECT_NEAR(out[static_cast<size_t>(c)], mean, 1e-5) << simd_path_name(path);
    }
  }
}
