// The attention backward: the fast kernels against the scalar references on random shapes
// (padding, repeated key blocks, all-masked full attention), the references against central
// finite differences of a double forward, and bit-identical results at 1, 2 and 3 threads; the
// same for full attention with dropout on its probabilities (forward and backward).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::random_vec;

namespace {

constexpr float kSentinel = std::numeric_limits<float>::quiet_NaN();

struct Problem {
  int64_t L = 0, heads = 0, d = 0, ld = 0, ld_out = 0;
  std::vector<float> q, k, v, dout, mask;
  AttentionInput input(bool with_mask) const {
    AttentionInput a;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.ld = ld;
    a.ld_out = ld_out;
    a.L = L;
    a.heads = static_cast<int>(heads);
    a.d = d;
    a.mask = with_mask ? mask.data() : nullptr;
    return a;
  }
};

// q, k, v with ld = heads*d + extra; dout with another stride; mask all ones.
Problem make_problem(int64_t L, int64_t heads, int64_t d, int64_t extra, uint64_t seed) {
  Problem p;
  p.L = L;
  p.heads = heads;
  p.d = d;
  p.ld = heads * d + extra;
  p.ld_out = heads * d + 2;
  p.q = random_vec(static_cast<size_t>(L * p.ld), seed);
  p.k = random_vec(static_cast<size_t>(L * p.ld), seed + 1);
  p.v = random_vec(static_cast<size_t>(L * p.ld), seed + 2);
  p.dout = random_vec(static_cast<size_t>(L * p.ld_out), seed + 3);
  p.mask.assign(static_cast<size_t>(L), 1.0f);
  return p;
}

struct Grads {
  std::vector<float> dq, dk, dv;
  explicit Grads(const Problem& p) {
    const size_t n = static_cast<size_t>(p.L * p.ld);
    dq.assign(n, kSentinel);
    dk.assign(n, kSentinel);
    dv.assign(n, kSentinel);
  }
};

using Backward = std::function<void(const AttentionInput&, const float* dout, float*, float*, float*)>;

Grads run(const Problem& p, bool with_mask, const Backward& f) {
  Grads g(p);
  f(p.input(with_mask), p.dout.data(), g.dq.data(), g.dk.data(), g.dv.data());
  return g;
}

// Every element of the heads' columns written (finite), the slack columns untouched.
void expect_written(const Problem& p, const Grads& g, const std::string& what) {
  for (const auto* v : {&g.dq, &g.dk, &g.dv})
    for (int64_t i = 0; i < p.L; ++i)
      for (int64_t c = 0; c < p.ld; ++c) {
        const float x = (*v)[static_cast<size_t>(i * p.ld + c)];
        if (c < p.heads * p.d) ASSERT_TRUE(std::isfinite(x)) << what << ": row " << i << " col " << c;
        else ASSERT_TRUE(std::isnan(x)) << what << ": slack column " << c << " written";
      }
}

// Tolerance of the fast kernels: scores, probabilities, dp and the products dS·K, dSᵀ·Q, Pᵀ·G in
// float (sgemm; ε = 2^-24), only the dk and dv sums across query tiles in double. A float dot of
// length n errs by ≲ √n·ε of its terms' magnitude (independent roundings; n·ε is the worst case),
// n ≤ 960 keys per row here, so ≲ 31·ε; a gradient element is a sum of such terms, bounded by the
// largest gradient of its array: |fast − ref| ≤ 4·max(d, 16)·ε·(1 + max|ref|) (≥ 64·ε). Measured
// on these cases: at most 0.1 of it on every SIMD path.
void expect_close(const Problem& p, const Grads& fast, const Grads& ref, const std::string& what) {
  const double eps = std::numeric_limits<float>::epsilon() / 2;
  const char* names[3] = {"dq", "dk", "dv"};
  const std::vector<float>* f[3] = {&fast.dq, &fast.dk, &fast.dv};
  const std::vector<float>* r[3] = {&ref.dq, &ref.dk, &ref.dv};
  for (int a = 0; a < 3; ++a) {
    double scale = 0, err = 0;
    for (int64_t i = 0; i < p.L; ++i)
      for (int64_t c = 0; c < p.heads * p.d; ++c) {
        const size_t e = static_cast<size_t>(i * p.ld + c);
        scale = std::max(scale, std::fabs(static_cast<double>((*r[a])[e])));
        err = std::max(err, std::fabs(static_cast<double>((*f[a])[e]) - (*r[a])[e]));
      }
    const double tol = 4.0 * static_cast<double>(std::max<int64_t>(p.d, 16)) * eps * (1.0 + scale);
    EXPECT_LE(err, tol) << what << ": " << names[a] << " (max |ref| " << scale << ")";
  }
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}
bool same_bits(const Grads& a, const Grads& b) {
  return same_bits(a.dq, b.dq) && same_bits(a.dk, b.dk) && same_bits(a.dv, b.dv);
}

// A random ITC case: layout, plan with repeated blocks, padding.
struct SparseCase {
  Problem p;
  BlockLayout layout;
  std::string what;
};

SparseCase random_sparse_case(std::mt19937_64& rng, int index) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  static const int kBlocks[] = {8, 12, 16, 32, 64};
  static const int kDims[] = {8, 13, 16, 31, 64};
  const int B = kBlocks[uni(0, 4)];
  const int r = static_cast<int>(uni(0, 4));
  const int heads = static_cast<int>(uni(1, 3));
  const int d = kDims[uni(0, 4)];
  const int n = 2 * r + 6 + static_cast<int>(uni(0, B <= 16 ? 3 : 1));
  const int64_t L = static_cast<int64_t>(n) * B;
  SparseCase c{make_problem(L, heads, d, uni(0, 3), 1000 + static_cast<uint64_t>(index) * 7), {}, {}};
  RandomPlan plan = seeded_random_plan(static_cast<uint64_t>(index), 0, n, r, heads);
  // Repeated key blocks: a random block equal to a global block, and one equal to a window block.
  if (r > 0) plan.at(0, 0, 0) = 0;
  if (r > 1) plan.at(heads - 1, 2, 1) = 3;          // row 2 = query block 3: its own (window) block
  if (r > 0) plan.at(heads - 1, n - 4, 0) = n - 1;  // query block n-3: the last (global) block
  c.layout = itc_layout(n, B, heads, plan);
  const int pad = static_cast<int>(uni(0, 2));
  if (pad >= 1)  // a padded tail (the last block fully, the one before partly)
    for (int64_t t = L - B - uni(1, B - 1); t < L; ++t) c.p.mask[static_cast<size_t>(t)] = 0.0f;
  if (pad == 2) c.p.mask[static_cast<size_t>(2 * B + uni(0, B - 1))] = 0.0f;  // a padded row in a middle block
  c.what = "case " + std::to_string(index) + " B=" + std::to_string(B) + " r=" + std::to_string(r) +
           " heads=" + std::to_string(heads) + " d=" + std::to_string(d) + " n=" + std::to_string(n) +
           " pad=" + std::to_string(pad);
  return c;
}

Backward sparse_fast(const BlockLayout& layout, const ThreadingContext& ctx, SimdPath path = SimdPath::Auto) {
  return [&layout, &ctx, path](const AttentionInput& a, const float* g, float* dq, float* dk, float* dv) {
    block_sparse_attention_backward(ctx, a, layout, g, dq, dk, dv, path);
  };
}
Backward sparse_ref(const BlockLayout& layout) {
  return [&layout](const AttentionInput& a, const float* g, float* dq, float* dk, float* dv) {
    block_sparse_attention_backward_ref(a, layout, g, dq, dk, dv);
  };
}
Backward full_fast(const ThreadingContext& ctx, SimdPath path = SimdPath::Auto, const ProbsDropout& drop = {}) {
  return [&ctx, path, drop](const AttentionInput& a, const float* g, float* dq, float* dk, float* dv) {
    full_attention_backward(ctx, a, g, dq, dk, dv, path, drop);
  };
}

// The SIMD paths this CPU runs (the softmax rows of the fast kernels come from the kernel table).
std::vector<SimdPath> simd_paths() {
  std::vector<SimdPath> paths;
  for (SimdPath p : {SimdPath::Scalar, SimdPath::Avx2, SimdPath::Avx512})
    if (simd_path_supported(p)) paths.push_back(p);
  return paths;
}
Backward full_ref(const ProbsDropout& drop = {}) {
  return [drop](const AttentionInput& a, const float* g, float* dq, float* dk, float* dv) {
    full_attention_backward_ref(a, g, dq, dk, dv, drop);
  };
}

// Dropout on the probabilities at rate p (a fixed key; sequence 1 of its batch).
ProbsDropout probs_dropout(float p, uint64_t key = 0x5eed) {
  return {p, static_cast<float>(1.0 / (1.0 - static_cast<double>(p))), key, 1};
}

// A random full-attention case; mask 0: none, 1: padded tail, 2: padding in the middle, 3: all masked.
Problem random_full_case(std::mt19937_64& rng, int index, int mask_kind, std::string& what) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  static const int kDims[] = {8, 13, 16, 31, 64};
  const int64_t L = uni(1, 200), heads = uni(1, 3), d = kDims[uni(0, 4)];
  Problem p = make_problem(L, heads, d, uni(0, 3), 5000 + static_cast<uint64_t>(index) * 7);
  if (mask_kind == 1)
    for (int64_t t = L - uni(0, L - 1); t < L; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  if (mask_kind == 2)
    for (int64_t t = 0; t < L; ++t) p.mask[static_cast<size_t>(t)] = uni(0, 3) == 0 ? 0.0f : 1.0f;
  if (mask_kind == 3) std::fill(p.mask.begin(), p.mask.end(), 0.0f);
  what = "case " + std::to_string(index) + " L=" + std::to_string(L) + " heads=" + std::to_string(heads) +
         " d=" + std::to_string(d) + " mask=" + std::to_string(mask_kind);
  return p;
}

}  // namespace

TEST(AttentionBackward, SparseFastMatchesReference) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 24; ++i) {
    SparseCase c = random_sparse_case(rng, i);
    for (bool with_mask : {true, false}) {
      const std::string what = c.what + (with_mask ? " masked" : " no mask");
      const Grads ref = run(c.p, with_mask, sparse_ref(c.layout));
      expect_written(c.p, ref, what + " (ref)");
      for (SimdPath path : simd_paths()) {
        const std::string at = what + " " + simd_path_name(path);
        const Grads fast = run(c.p, with_mask, sparse_fast(c.layout, test::ctx(), path));
        expect_written(c.p, fast, at);
        expect_close(c.p, fast, ref, at);
      }
    }
  }
}

TEST(AttentionBackward, FullFastMatchesReference) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 24; ++i) {
    std::string what;
    const Problem p = random_full_case(rng, i, i % 4, what);
    const Grads ref = run(p, true, full_ref());
    expect_written(p, ref, what + " (ref)");
    for (SimdPath path : simd_paths()) {
      const std::string at = what + " " + simd_path_name(path);
      const Grads fast = run(p, true, full_fast(test::ctx(), path));
      expect_written(p, fast, at);
      expect_close(p, fast, ref, at);
    }
  }
}

TEST(AttentionBackward, BitIdenticalAcrossThreadCounts) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 6; ++i) {
    SparseCase c = random_sparse_case(rng, 100 + i);
    std::string what;
    const Problem fp = random_full_case(rng, 100 + i, i % 4, what);
    const ThreadingContext one(1);
    const ProbsDropout drop = probs_dropout(0.25f, 100 + static_cast<uint64_t>(i));
    const Grads s1 = run(c.p, true, sparse_fast(c.layout, one));
    const Grads f1 = run(fp, true, full_fast(one));
    const Grads d1 = run(fp, true, full_fast(one, SimdPath::Auto, drop));
    for (int threads : {2, 3}) {
      const ThreadingContext ctx(threads);
      EXPECT_TRUE(same_bits(run(c.p, true, sparse_fast(c.layout, ctx)), s1)) << c.what << " at " << threads;
      EXPECT_TRUE(same_bits(run(fp, true, full_fast(ctx)), f1)) << what << " at " << threads;
      EXPECT_TRUE(same_bits(run(fp, true, full_fast(ctx, SimdPath::Auto, drop)), d1))
          << what << " dropout at " << threads;
    }
  }
}

TEST(AttentionBackward, RejectsMismatchedLayout) {
  const Problem p = make_problem(16 * 10, 2, 8, 0, 3);
  const BlockLayout layout = itc_layout(9, 16, 2, seeded_random_plan(0, 0, 9, 1, 2));
  EXPECT_THROW(run(p, true, sparse_fast(layout, test::ctx())), Error);
  const BlockLayout three_heads = itc_layout(10, 16, 3, seeded_random_plan(0, 0, 10, 1, 3));
  EXPECT_THROW(run(p, true, sparse_fast(three_heads, test::ctx())), Error);
}

namespace {
// Key list of one query row for the double forward: (key, penalty) pairs, and the row's output coefficient.
struct RowKeys {
  std::vector<std::pair<int64_t, double>> keys;
  double c = 1.0;
  std::vector<double> drop;  // dropout's keep·scale per key (empty: none)
};
using RowRule = std::function<RowKeys(int h, int64_t i)>;

// Σ dout·out of the forward in double (HF's maths: scores, penalties, softmax, c·Σ p v).
double forward_loss(const Problem& p, const std::vector<double>& q, const std::vector<double>& k,
                    const std::vector<double>& v, const RowRule& rule) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(p.d));
  double loss = 0;
  for (int h = 0; h < p.heads; ++h)
    for (int64_t i = 0; i < p.L; ++i) {
      const RowKeys rk = rule(h, i);
      std::vector<double> s(rk.keys.size());
      double mx = -INFINITY, sum = 0;
      for (size_t j = 0; j < s.size(); ++j) {
        double dot = 0;
        for (int64_t t = 0; t < p.d; ++t) dot += q[i * p.ld + h * p.d + t] * k[rk.keys[j].first * p.ld + h * p.d + t];
        s[j] = dot * scale + rk.keys[j].second;
        mx = std::max(mx, s[j]);
      }
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t t = 0; t < p.d; ++t) {
        double o = 0;
        for (size_t j = 0; j < s.size(); ++j)
          o += s[j] / sum * (rk.drop.empty() ? 1.0 : rk.drop[j]) * v[rk.keys[j].first * p.ld + h * p.d + t];
        loss += rk.c * o * p.dout[i * p.ld_out + h * p.d + t];
      }
    }
  return loss;
}

// Central differences (step 1e-5 in double) of forward_loss against the reference gradients:
// truncation O(step²) and rounding O(1e-16·|loss|/step) are far below the float rounding of the
// reference's output (|g|·2^-24), hence tolerance 1e-7 + 1e-5·|g|. `check_qk` false: dv only.
void expect_matches_fd(const Problem& p, const Grads& ref, const RowRule& rule, bool check_qk,
                       const std::string& what) {
  std::vector<double> t[3];
  const std::vector<float>* src[3] = {&p.q, &p.k, &p.v};
  const std::vector<float>* grads[3] = {&ref.dq, &ref.dk, &ref.dv};
  const char* names[3] = {"dq", "dk", "dv"};
  for (int a = 0; a < 3; ++a) t[a].assign(src[a]->begin(), src[a]->end());
  const double step = 1e-5;
  for (int a = check_qk ? 0 : 2; a < 3; ++a) {
    int bad = 0;
    for (int64_t i = 0; i < p.L; ++i)
      for (int64_t c = 0; c < p.heads * p.d; ++c) {
        const size_t e = static_cast<size_t>(i * p.ld + c);
        const double x = t[a][e];
        t[a][e] = x + step;
        const double up = forward_loss(p, t[0], t[1], t[2], rule);
        t[a][e] = x - step;
        const double down = forward_loss(p, t[0], t[1], t[2], rule);
        t[a][e] = x;
        const double fd = (up - down) / (2 * step), g = (*grads[a])[e];
        if (std::fabs(fd - g) > 1e-7 + 1e-5 * std::fabs(g) && bad++ < 5)
          ADD_FAILURE() << what << ": " << names[a] << "[" << i << "][" << c << "] = " << g << ", finite difference "
                        << fd;
      }
  }
}

RowRule sparse_rule(const Problem& p, const BlockLayout& layout) {
  return [&p, &layout](int h, int64_t i) {
    RowKeys rk;
    const int64_t B = layout.block;
    const double mq = p.mask[static_cast<size_t>(i)];
    rk.c = mq;
    for (const KeyBlock& kb : layout.row(h, static_cast<int>(i / B)))
      for (int64_t j = kb.block * B; j < (kb.block + 1) * B; ++j) {
        const double mk = p.mask[static_cast<size_t>(j)];
        rk.keys.push_back({j, (kb.kind == MaskKind::Key ? 1.0 - mk : 1.0 - mq * mk) * kSparsePenalty});
      }
    return rk;
  };
}

RowRule full_rule(const Problem& p, const ProbsDropout& drop = {}) {
  return [&p, drop](int h, int64_t i) {
    RowKeys rk;
    for (int64_t j = 0; j < p.L; ++j) {
      rk.keys.push_back({j, (1.0 - p.mask[static_cast<size_t>(j)]) * static_cast<double>(kFullPenalty)});
      if (drop.active())
        rk.drop.push_back(drop.factor(drop.row(static_cast<int>(p.heads), h, p.L, i) + static_cast<uint64_t>(j)));
    }
    return rk;
  };
}
}  // namespace

TEST(AttentionBackward, SparseReferenceMatchesFiniteDifferences) {
  // 10 blocks of 4, r = 2, with a random block repeating a global one and one repeating a window
  // block; a padded tail and a padded row in a middle block.
  const int n = 10, B = 4, r = 2, heads = 2, d = 5;
  Problem p = make_problem(n * B, heads, d, 1, 77);
  RandomPlan plan = seeded_random_plan(5, 0, n, r, heads);
  plan.at(0, 2, 0) = 0;
  plan.at(1, 1, 1) = 2;
  const BlockLayout layout = itc_layout(n, B, heads, plan);
  for (int64_t t = n * B - B - 2; t < n * B; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  p.mask[2 * B + 1] = 0.0f;
  const Grads ref = run(p, true, sparse_ref(layout));
  expect_matches_fd(p, ref, sparse_rule(p, layout), true, "sparse");
}

TEST(AttentionBackward, FullReferenceMatchesFiniteDifferences) {
  Problem p = make_problem(11, 2, 3, 2, 91);
  for (int64_t t = 8; t < 11; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  p.mask[4] = 0.0f;
  expect_matches_fd(p, run(p, true, full_ref()), full_rule(p), true, "full, padded");
  // All keys masked: every score rounds to finfo.min and the softmax is uniform. The computed
  // function no longer depends on q and k (finite differences give 0), but autograd's gradient
  // does not see the rounding: only dv is checked here (dq, dk against the reference above).
  std::fill(p.mask.begin(), p.mask.end(), 0.0f);
  const Grads all = run(p, true, full_ref());
  expect_matches_fd(p, all, full_rule(p), false, "full, all masked");
  // Uniform p: ds_j = (dp_j − mean dp)/L, so dq ≠ 0 in general (autograd's answer).
  double dq_norm = 0;
  for (int64_t c = 0; c < p.heads * p.d; ++c) dq_norm += std::fabs(all.dq[static_cast<size_t>(c)]);
  EXPECT_GT(dq_norm, 0.0);
}

// With dropout on the probabilities the mask is fixed by (key, sequence, head, row, key), so the
// function is smooth in q, k, v and the finite-difference check above applies as it is.
TEST(AttentionBackward, FullDropoutReferenceMatchesFiniteDifferences) {
  Problem p = make_problem(11, 2, 3, 2, 93);
  for (int64_t t = 8; t < 11; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  const ProbsDropout drop = probs_dropout(0.3f);
  expect_matches_fd(p, run(p, true, full_ref(drop)), full_rule(p, drop), true, "full, dropout");
}

namespace {
// out of the forward kernels for a problem (out [L, ld_out]).
std::vector<float> forward_out(const Problem& p, const std::function<void(const AttentionInput&)>& f) {
  std::vector<float> out(static_cast<size_t>(p.L * p.ld_out), kSentinel);
  AttentionInput a = p.input(true);
  a.out = out.data();
  f(a);
  return out;
}
}  // namespace

// The forward and backward of full attention with dropout, fast against reference (forward: a sum
// of L products p̃·v in float, the tolerance of expect_close), and thread-count independence of
// the forward. Some probabilities are dropped, and p = 1 drops all.
TEST(AttentionBackward, FullDropoutFastMatchesReference) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 12; ++i) {
    std::string what;
    const Problem p = random_full_case(rng, 200 + i, i % 4, what);
    const ProbsDropout drop = probs_dropout(i % 3 == 0 ? 0.1f : 0.5f, 7 + static_cast<uint64_t>(i));
    const std::vector<float> ref = forward_out(p, [&](const AttentionInput& a) { full_attention_ref(a, drop); });
    const std::vector<float> fast =
        forward_out(p, [&](const AttentionInput& a) { full_attention(test::ctx(), a, nullptr, SimdPath::Auto, drop); });
    const std::vector<float> plain = forward_out(p, [&](const AttentionInput& a) { full_attention_ref(a); });
    double scale = 0, err = 0, diff = 0;
    for (int64_t r = 0; r < p.L; ++r)
      for (int64_t c = 0; c < p.heads * p.d; ++c) {
        const size_t e = static_cast<size_t>(r * p.ld_out + c);
        scale = std::max(scale, std::fabs(static_cast<double>(ref[e])));
        err = std::max(err, std::fabs(static_cast<double>(fast[e]) - ref[e]));
        diff = std::max(diff, std::fabs(static_cast<double>(plain[e]) - ref[e]));
      }
    const double eps = std::numeric_limits<float>::epsilon() / 2;
    EXPECT_LE(err, 4.0 * static_cast<double>(std::max<int64_t>(p.d, 16)) * eps * (1.0 + scale)) << what;
    EXPECT_GT(diff, 1e-3) << what << ": the dropout changed nothing";
    for (int threads : {1, 3}) {
      const ThreadingContext ctx(threads);
      EXPECT_TRUE(same_bits(
          fast,
          forward_out(p, [&](const AttentionInput& a) { full_attention(ctx, a, nullptr, SimdPath::Auto, drop); })))
          << what << " at " << threads;
    }
    const Grads gref = run(p, true, full_ref(drop));
    expect_written(p, gref, what + " (ref)");
    for (SimdPath path : simd_paths()) {
      const std::string at = what + " " + simd_path_name(path);
      const Grads gfast = run(p, true, full_fast(test::ctx(), path, drop));
      expect_written(p, gfast, at);
      expect_close(p, gfast, gref, at);
    }
  }
  // p = 1: every probability dropped, a zero output and no gradient to q, k, v.
  const Problem p = make_problem(70, 2, 8, 1, 5);
  const std::vector<float> out = forward_out(p, [&](const AttentionInput& a) {
    full_attention(test::ctx(), a, nullptr, SimdPath::Auto, {1.0f, 0.0f, 3, 0});
  });
  for (int64_t r = 0; r < p.L; ++r)
    for (int64_t c = 0; c < p.heads * p.d; ++c) ASSERT_EQ(out[static_cast<size_t>(r * p.ld_out + c)], 0.0f);
  const Grads g = run(p, true, full_fast(test::ctx(), SimdPath::Auto, {1.0f, 0.0f, 3, 0}));
  for (int64_t r = 0; r < p.L; ++r)
    for (int64_t c = 0; c < p.heads * p.d; ++c) {
      const size_t e = static_cast<size_t>(r * p.ld + c);
      ASSERT_EQ(g.dq[e], 0.0f);
      ASSERT_EQ(g.dk[e], 0.0f);
      ASSERT_EQ(g.dv[e], 0.0f);
    }
}

// An inactive dropout (p = 0, whatever its key) is no dropout: the same bits, forward and backward.
TEST(AttentionBackward, FullZeroDropoutIsBitIdentical) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 4; ++i) {
    std::string what;
    const Problem p = random_full_case(rng, 300 + i, i % 4, what);
    const ProbsDropout zero{0.0f, 1.0f, 99, 3};
    EXPECT_TRUE(same_bits(
        forward_out(p, [&](const AttentionInput& a) { full_attention(test::ctx(), a); }),
        forward_out(p,
                    [&](const AttentionInput& a) { full_attention(test::ctx(), a, nullptr, SimdPath::Auto, zero); })))
        << what;
    EXPECT_TRUE(
        same_bits(run(p, true, full_fast(test::ctx())), run(p, true, full_fast(test::ctx(), SimdPath::Auto, zero))))
        << what;
    EXPECT_TRUE(same_bits(run(p, true, full_ref()), run(p, true, full_ref(zero)))) << what;
  }
}
