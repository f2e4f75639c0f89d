// The attention kernels in the kernel harness (kernel_harness.h; the test itself is in
// test_kernels.cpp): block-sparse attention against its double reference and against the dense
// expansion of its layout, full attention against its double reference, on every SIMD path.
//
// Tolerance 2e-5 absolute for every written element. Outputs are convex combinations of N(0,1)
// values (|out| < ~5). A score is a float32 sum of d ≤ 130 products of N(0,1) terms scaled by
// 1/√d: its error is a few ulps times √d of |score| ≲ 5, ≲ 5e-6; a softmax weight carries that
// error relatively, the output sums up to a few thousand weighted values whose errors partly
// cancel (and are bounded by the error of the largest weights): a few 1e-6 in all, below 2e-5
// with margin for the sizes here. Tolerance 0 (the same value) where the kernels write exact
// zeros: the padded query rows of block-sparse attention (HF multiplies them by the mask) and
// the columns of the row stride past heads·d (never written).
//
// The fast kernels also run with the output over q (as the encoder calls them) and with a
// workspace that served the previous cases: both must give the same bits.
//
// The all-zero plan (--random-plan zeros, transformers >= 4.30 in eval mode) is also held to a
// dense reference built here straight from HF's concatenation, not from itc_layout: every random
// block is block 0, so block 0's keys enter a row's softmax 1 + r times (once as the global
// block, r times as random blocks with HF's random-block mask m[q]·m[k]), with padding anywhere,
// block 0 included.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "kernel_harness.h"
#include "kernels/attention.h"
#include "sparse/layout.h"
#include "sparse/plan.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::Buffer;
using bigbird::test::CaseRng;
using bigbird::test::KernelRun;
using bigbird::test::KernelSpec;
using bigbird::test::random_vec;
using bigbird::test::register_kernel;

namespace {

constexpr double kTol = 2e-5;

struct AttnCase {
  int64_t L = 0, heads = 0, d = 0, ld = 0, pad_from = 0;
  Buffer q, k, v;
  std::vector<float> mask;  // [L]
  bool with_mask = true;
  size_t out_offset = 0;
  std::shared_ptr<const BlockLayout> layout;    // null: full attention
  std::shared_ptr<const DenseLayout> hf_dense;  // zero-plan cases: HF's dense counts, built by hand

  AttentionInput input(float* out) const {
    AttentionInput a;
    a.q = q.data(), a.k = k.data(), a.v = v.data(), a.ld = ld;
    a.out = out, a.ld_out = ld;
    a.L = L, a.heads = static_cast<int>(heads), a.d = d;
    a.mask = with_mask ? mask.data() : nullptr;
    return a;
  }
  std::vector<float> zeros() const { return std::vector<float>(static_cast<size_t>(L * ld), 0.0f); }
};

// q, k, v of [L, heads·d + extra] (misaligned rows when extra > 0) from seeds seed..seed+2 (the
// former tests' data), pointers `offset` floats past a 64-byte boundary; positions ≥ pad_from
// are padding.
AttnCase make_case(int64_t L, int64_t heads, int64_t d, int64_t extra, int64_t pad_from, uint64_t seed,
                   size_t offset = 0) {
  AttnCase c;
  c.L = L, c.heads = heads, c.d = d, c.ld = heads * d + extra, c.pad_from = pad_from;
  const size_t n = static_cast<size_t>(L * c.ld);
  c.q = Buffer(random_vec(n, seed), offset);
  c.k = Buffer(random_vec(n, seed + 1), offset);
  c.v = Buffer(random_vec(n, seed + 2), offset);
  c.mask.assign(static_cast<size_t>(L), 1.0f);
  for (int64_t t = pad_from; t < L; ++t) c.mask[static_cast<size_t>(t)] = 0.0f;
  c.out_offset = offset;
  return c;
}

std::string describe(const AttnCase& c) {
  std::string s = "L=" + std::to_string(c.L) + " heads=" + std::to_string(c.heads) + " d=" + std::to_string(c.d) +
                  " ld=" + std::to_string(c.ld) +
                  (c.with_mask ? " pad_from=" + std::to_string(c.pad_from) : " no mask") +
                  " offset=" + std::to_string(c.q.offset());
  if (c.layout) s += " block=" + std::to_string(c.layout->block);
  return s;
}

// The one call of each attention kernel under test.
void run_attention(const AttnCase& c, const KernelRun& run, const AttentionInput& a, AttentionWorkspace* ws) {
  if (c.layout) block_sparse_attention(run.ctx, a, *c.layout, ws, run.path);
  else full_attention(run.ctx, a, ws, run.path);
}

std::vector<float> fast(const AttnCase& c, const KernelRun& run) {
  Buffer out(c.zeros(), c.out_offset);
  run_attention(c, run, c.input(out.data()), nullptr);
  return out.vec();
}

// The output over q (out = q, as the encoder calls it): the written columns of the result.
std::vector<float> fast_in_place(const AttnCase& c, const KernelRun& run) {
  Buffer qo = c.q;
  AttentionInput a = c.input(qo.data());
  a.q = qo.data();
  run_attention(c, run, a, nullptr);
  std::vector<float> out = c.zeros();
  for (int64_t t = 0; t < c.L; ++t)
    for (int64_t i = 0; i < c.heads * c.d; ++i)
      out[static_cast<size_t>(t * c.ld + i)] = qo[static_cast<size_t>(t * c.ld + i)];
  return out;
}

// A workspace shared by all the cases of a kernel (on one path): it has served other shapes.
std::function<std::vector<float>(const AttnCase&, const KernelRun&)> fast_shared_workspace() {
  auto ws = std::make_shared<AttentionWorkspace>();
  return [ws](const AttnCase& c, const KernelRun& run) {
    Buffer out(c.zeros(), c.out_offset);
    run_attention(c, run, c.input(out.data()), ws.get());
    return out.vec();
  };
}

double tolerance(const AttnCase& c, size_t i, double) {
  const int64_t t = static_cast<int64_t>(i) / c.ld, col = static_cast<int64_t>(i) % c.ld;
  if (col >= c.heads * c.d) return 0;                                               // never written
  if (c.layout && c.with_mask && c.mask[static_cast<size_t>(t)] == 0.0f) return 0;  // zeroed padded query rows
  return kTol;
}

template <class Ref>
KernelSpec<AttnCase> attention_spec(std::string name, Ref reference) {
  KernelSpec<AttnCase> s;
  s.name = std::move(name);
  s.describe = describe;
  s.reference = [reference](const AttnCase& c) {
    std::vector<float> out = c.zeros();
    reference(c, c.input(out.data()));
    return out;
  };
  s.fast = fast;
  s.tolerance = tolerance;
  s.same_bits = {{"output over q", fast_in_place}, {"a workspace used by the previous cases", fast_shared_workspace()}};
  return s;
}

// ---------------------------------------------------------------------------------------------
// Block-sparse attention, ITC layouts.

AttnCase with_layout(AttnCase c, int n, int B, const RandomPlan& plan) {
  c.layout = std::make_shared<const BlockLayout>(itc_layout(n, B, static_cast<int>(c.heads), plan));
  return c;
}

// Random: block sizes 5-96, head dims 1-96, 1-2 heads, r = 0-3 random blocks, n ≥ 2r + 6
// blocks (L ≤ max_len where that allows; the double references cost L·keys·d), misaligned rows
// and pointers, a padded tail (or none, or no mask at all), a repeated
// (global) block in the plan now and then.
AttnCase random_sparse(CaseRng& rng, int max_len) {
  const int r = static_cast<int>(rng.uniform(0, 3));
  const int B = static_cast<int>(rng.uniform(5, 96));
  const int n = std::max(2 * r + 6, std::min(static_cast<int>(rng.uniform(2 * r + 6, 2 * r + 12)), max_len / B));
  const int heads = static_cast<int>(rng.uniform(1, 2));
  const int64_t L = static_cast<int64_t>(n) * B;
  const int64_t pad_from = rng.coin(0.3) ? L : rng.uniform(1, L - 1);
  const int64_t d = rng.uniform(1, 96), extra = rng.uniform(0, 7);
  const uint64_t seed = rng.gen();
  AttnCase c = make_case(L, heads, d, extra, pad_from, seed, static_cast<size_t>(rng.uniform(0, 15)));
  c.with_mask = rng.coin(0.85);
  c.out_offset = static_cast<size_t>(rng.uniform(0, 15));
  RandomPlan plan = seeded_random_plan(rng.gen(), 0, n, r, heads);
  if (r > 0 && rng.coin()) plan.at(0, 0, 0) = n - 1;
  return with_layout(std::move(c), n, B, plan);
}

std::vector<AttnCase> sparse_fixed() {
  std::vector<AttnCase> cases;
  // The former EverySimdPathEqualsReferenceOnRandomShapes: n·B > 512 in most rows of the global
  // blocks (several chunks of the online softmax), odd block sizes and head dims.
  struct Shape {
    int B, d, heads, n, r, extra;
  };
  const Shape shapes[] = {{16, 32, 2, 40, 3, 1},  {16, 37, 1, 12, 2, 3},  {32, 64, 2, 20, 3, 0}, {48, 33, 2, 14, 1, 5},
                          {64, 64, 2, 12, 3, 1},  {64, 128, 1, 10, 2, 7}, {96, 80, 1, 9, 1, 2},  {128, 32, 1, 8, 1, 0},
                          {128, 127, 1, 6, 0, 1}, {20, 50, 2, 11, 2, 3},  {7, 17, 2, 13, 3, 1}};
  uint64_t seed = 500;
  for (const Shape& sh : shapes) {
    const int64_t L = static_cast<int64_t>(sh.n) * sh.B;
    for (int64_t pad_from : {L, L - sh.B - 5}) {
      AttnCase c = make_case(L, sh.heads, sh.d, sh.extra, pad_from, seed++);
      RandomPlan plan = seeded_random_plan(seed, 0, sh.n, sh.r, sh.heads);
      if (sh.r > 0) plan.at(0, 0, 0) = sh.n - 1;  // a repeated (global) block
      cases.push_back(with_layout(std::move(c), sh.n, sh.B, plan));
    }
  }
  // The former MisalignedPointersAndInPlaceOutput: pointers one float past an aligned address.
  cases.push_back(with_layout(make_case(320, 2, 64, 3, 320 - 7, 77, 1), 10, 32, seeded_random_plan(3, 0, 10, 2, 2)));
  // The former DeterministicAcrossThreadCounts(OnEveryPath) problems.
  cases.push_back(with_layout(make_case(768, 3, 64, 1, 768 - 5, 98), 12, 64, seeded_random_plan(7, 0, 12, 3, 3)));
  cases.push_back(with_layout(make_case(192, 3, 16, 0, 192 - 5, 99), 12, 16, seeded_random_plan(7, 0, 12, 3, 3)));
  return cases;
}

std::vector<AttnCase> dense_fixed() {
  // The former EqualsDenseExpansionOnRandomShapes: every r up to 4, a repeated block that must
  // count twice, padding that ends inside a block.
  std::vector<AttnCase> cases;
  uint64_t seed = 1;
  for (int B : {8, 16, 32, 64}) {
    for (int r : {0, 1, 2, 3, 4}) {
      const int n = 2 * r + 6 + (B <= 16 ? 3 : 0);
      const int heads = 2, d = B == 64 ? 32 : 8 + B / 4;
      for (int64_t pad_from : {static_cast<int64_t>(n) * B, static_cast<int64_t>(n) * B - B - 3}) {
        AttnCase c = make_case(static_cast<int64_t>(n) * B, heads, d, 3, pad_from, seed++);
        RandomPlan plan = seeded_random_plan(seed, 0, n, r, heads);
        if (r > 0) plan.at(1, 0, 0) = 0;
        cases.push_back(with_layout(std::move(c), n, B, plan));
      }
    }
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The all-zero plan against HF's dense math.

// The per-token counts HF's block-sparse attention implies for an all-zero plan (rand_attn = 0
// everywhere), written from modeling_big_bird.py's five parts, independently of itc_layout:
//   q[0], q[-1]: every key, mask (1 - m[k]);
//   q[1]:        blocks 0, 1, 2, n-1 with (1 - m[k]); gathered_key[0] = block 0, r times, with
//                rand_mask = m[q]·m[k];
//   q[2:-2]:     block 0 and n-1 with (1 - m[k]); the band i-1, i, i+1 with band_mask = m[q]·m[k];
//                gathered_key[i-1] = block 0, r times, with m[q]·m[k];
//   q[-2]:       blocks 0, n-3, n-2, n-1 with (1 - m[k]); block 0, r times, with m[q]·m[k].
DenseLayout hf_zero_plan_dense(int n, int B, int heads, int r) {
  DenseLayout D;
  D.L = static_cast<int64_t>(n) * B;
  D.heads = heads;
  const size_t per_head = static_cast<size_t>(D.L) * D.L;
  D.key_count.assign(per_head * heads, 0);
  D.qk_count.assign(per_head * heads, 0);
  auto add = [&](std::vector<uint8_t>& counts, int h, int qb, int kb, int times) {
    for (int i = 0; i < B; ++i)
      for (int j = 0; j < B; ++j)
        counts[h * per_head + static_cast<size_t>(qb * B + i) * D.L + static_cast<size_t>(kb * B + j)] +=
            static_cast<uint8_t>(times);
  };
  for (int h = 0; h < heads; ++h)
    for (int qb = 0; qb < n; ++qb) {
      if (qb == 0 || qb == n - 1) {
        for (int kb = 0; kb < n; ++kb) add(D.key_count, h, qb, kb, 1);
        continue;
      }
      add(D.key_count, h, qb, 0, 1);      // the first global block
      add(D.key_count, h, qb, n - 1, 1);  // the last global block
      if (qb == 1) {
        add(D.key_count, h, qb, 1, 1), add(D.key_count, h, qb, 2, 1);
      } else if (qb == n - 2) {
        add(D.key_count, h, qb, n - 3, 1), add(D.key_count, h, qb, n - 2, 1);
      } else {
        for (int kb = qb - 1; kb <= qb + 1; ++kb) add(D.qk_count, h, qb, kb, 1);
      }
      add(D.qk_count, h, qb, 0, r);  // the r random blocks, every one block 0
    }
  return D;
}

RandomPlan zero_plan(int heads, int n, int r) {
  RandomPlan p{heads, n - 2, r, {}};
  p.blocks.assign(static_cast<size_t>(heads) * (n - 2) * r, 0);
  return p;
}

// mask_kind: 0 none padded, 1 a tail ending inside a block, 2 left padding inside block 0,
// 3 the whole of block 0 padded, 4 left padding and scattered holes (every row keeps unmasked keys:
// a row whose every key is masked would weigh -10000-shifted scores, which only HF's float32
// rounding decides).
AttnCase zero_plan_case(int n, int B, int heads, int r, int64_t d, int mask_kind, uint64_t seed, size_t offset) {
  const int64_t L = static_cast<int64_t>(n) * B;
  AttnCase c = make_case(L, heads, d, seed % 4, mask_kind == 1 ? L - B - 3 : L, seed, offset);
  std::mt19937_64 g(seed);
  if (mask_kind == 2 || mask_kind == 4)
    for (int64_t t = 0; t < std::max<int64_t>(1, B / 2); ++t) c.mask[static_cast<size_t>(t)] = 0.0f;
  if (mask_kind == 3)
    for (int64_t t = 0; t < B; ++t) c.mask[static_cast<size_t>(t)] = 0.0f;
  if (mask_kind == 4)
    for (int64_t t = B; t < L; ++t)
      if (g() % 8 == 0) c.mask[static_cast<size_t>(t)] = 0.0f;
  c.out_offset = offset;
  c = with_layout(std::move(c), n, B, zero_plan(heads, n, r));
  c.hf_dense = std::make_shared<const DenseLayout>(hf_zero_plan_dense(n, B, heads, r));
  return c;
}

std::vector<AttnCase> zero_plan_fixed() {
  std::vector<AttnCase> cases;
  uint64_t seed = 900;
  for (int B : {8, 16, 32, 64})
    for (int r : {1, 2, 3, 4})
      for (int mask_kind : {0, 1, 2, 3, 4}) {
        const int n = 2 * r + 6 + (B <= 16 ? 3 : 0);
        const size_t offset = static_cast<size_t>(seed % 3);
        cases.push_back(zero_plan_case(n, B, 2, r, B == 64 ? 32 : 8 + B / 4, mask_kind, seed, offset));
        ++seed;
      }
  return cases;
}

AttnCase random_zero_plan(CaseRng& rng) {
  const int r = static_cast<int>(rng.uniform(1, 4));
  const int B = static_cast<int>(rng.uniform(3, 40));
  const int n = static_cast<int>(rng.uniform(2 * r + 6, 2 * r + 10));
  const int heads = static_cast<int>(rng.uniform(1, 3));
  AttnCase c = zero_plan_case(n, B, heads, r, rng.uniform(1, 70), static_cast<int>(rng.uniform(0, 4)), rng.gen(),
                              static_cast<size_t>(rng.uniform(0, 15)));
  c.with_mask = rng.coin(0.9);
  return c;
}

KernelSpec<AttnCase> zero_plan_vs_hf_dense() {
  auto s =
      attention_spec("block_sparse_attention_zero_plan_vs_hf_dense",
                     [](const AttnCase& c, const AttentionInput& a) { dense_layout_attention_ref(a, *c.hf_dense); });
  s.fixed = zero_plan_fixed();
  s.random = 8;
  s.make_random = random_zero_plan;
  // The layout the kernels run is exactly HF's: itc_layout's expansion has the same counts.
  s.check = [](const AttnCase& c, const std::vector<float>&) {
    const DenseLayout got = expand_dense(*c.layout);
    ASSERT_EQ(got.key_count, c.hf_dense->key_count) << describe(c);
    ASSERT_EQ(got.qk_count, c.hf_dense->qk_count) << describe(c);
  };
  return s;
}

KernelSpec<AttnCase> sparse_vs_ref() {
  auto s = attention_spec("block_sparse_attention_vs_ref",
                          [](const AttnCase& c, const AttentionInput& a) { block_sparse_attention_ref(a, *c.layout); });
  s.fixed = sparse_fixed();
  s.random = 10;
  s.make_random = [](CaseRng& rng) { return random_sparse(rng, 1200); };
  return s;
}

KernelSpec<AttnCase> sparse_vs_dense() {
  auto s = attention_spec("block_sparse_attention_vs_dense", [](const AttnCase& c, const AttentionInput& a) {
    dense_layout_attention_ref(a, expand_dense(*c.layout));
  });
  s.fixed = dense_fixed();
  s.random = 6;
  s.make_random = [](CaseRng& rng) { return random_sparse(rng, 600); };
  return s;
}

// ---------------------------------------------------------------------------------------------
// Full attention (HF original_full).

std::vector<AttnCase> full_fixed() {
  std::vector<AttnCase> cases;
  auto both_masks = [&](AttnCase c) {
    c.with_mask = false;
    cases.push_back(c);
    c.with_mask = true;
    cases.push_back(std::move(c));
  };
  // The former EverySimdPathEqualsReferenceOnRandomShapes; 600 keys: two chunks of the online softmax.
  uint64_t seed = 900;
  for (int64_t L : {1, 9, 100, 600})
    for (int64_t d : {32, 33, 64, 128}) {
      if (L == 600 && d % 32 == 0 && d != 64) continue;  // keep the double reference quick
      both_masks(make_case(L, 2, d, 5, L > 3 ? L - 3 : L, seed++));
    }
  // The former EqualsReferenceWithAndWithoutMask.
  seed = 100;
  for (int64_t L : {1, 7, 64, 65, 150})
    for (int64_t d : {4, 16, 33}) both_masks(make_case(L, 2, d, 1, L > 3 ? L - 3 : L, seed++));
  // The former thread-count determinism problem, and an all-masked sequence (see `check`).
  cases.push_back(make_case(700, 3, 48, 0, 650, 5));
  cases.push_back(make_case(10, 1, 4, 0, 0, 5));
  return cases;
}

KernelSpec<AttnCase> full() {
  auto s = attention_spec("full_attention", [](const AttnCase&, const AttentionInput& a) { full_attention_ref(a); });
  s.fixed = full_fixed();
  s.random = 10;
  s.make_random = [](CaseRng& rng) {  // the fixed cases hold the long ones (several chunks)
    const int64_t L = rng.uniform(1, 400), heads = rng.uniform(1, 2), d = rng.uniform(1, 130);
    const int64_t extra = rng.uniform(0, 7), pad_from = rng.coin(0.3) ? L : rng.uniform(0, L - 1);
    const uint64_t seed = rng.gen();
    AttnCase c = make_case(L, heads, d, extra, pad_from, seed, static_cast<size_t>(rng.uniform(0, 15)));
    c.with_mask = rng.coin(0.8);
    c.out_offset = static_cast<size_t>(rng.uniform(0, 15));
    return c;
  };
  // With every key masked, finfo.min penalties cancel in the softmax: uniform weights, as in HF
  // (the former AllMaskedRowIsUniformLikeHf).
  s.check = [](const AttnCase& c, const std::vector<float>& out) {
    if (!c.with_mask || c.pad_from > 0) return;
    for (int64_t t = 0; t < c.L; ++t)
      for (int64_t i = 0; i < c.heads * c.d; ++i) {
        double mean = 0;
        for (int64_t u = 0; u < c.L; ++u) mean += c.v[static_cast<size_t>(u * c.ld + i)] / static_cast<double>(c.L);
        ASSERT_NEAR(out[static_cast<size_t>(t * c.ld + i)], mean, 1e-5) << describe(c) << " row " << t << " col " << i;
      }
  };
  return s;
}

[[maybe_unused]] const bool kSparseVsRef = register_kernel(sparse_vs_ref());
[[maybe_unused]] const bool kSparseVsDense = register_kernel(sparse_vs_dense());
[[maybe_unused]] const bool kZeroPlanVsHfDense = register_kernel(zero_plan_vs_hf_dense());
[[maybe_unused]] const bool kFull = register_kernel(full());

}  // namespace
