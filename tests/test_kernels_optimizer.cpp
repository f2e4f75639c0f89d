// The optimizer kernels (kernels/optimizer_kernels.h) in the kernel harness (kernel_harness.h;
// the test itself is in test_kernels.cpp) and their own checks, on every SIMD path.
//
// AdamW update: tolerance 0 (the same bits as the scalar reference): every path performs the
// same correctly rounded IEEE operations (mul, fma, sqrt, div, add) in the same order.
// Sum of squares: double accumulation in another order; the error of a sum of n non-negative
// terms is at most (n − 1)·u·Σ with u = 2⁻⁵³, per path, so |fast − ref| ≤ 2n·u·ref.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_harness.h"
#include "kernels/optimizer_kernels.h"

using namespace bigbird;
using bigbird::test::Buffer;
using bigbird::test::CaseRng;
using bigbird::test::KernelRun;
using bigbird::test::KernelSpec;
using bigbird::test::register_kernel;

namespace {

struct AdamCase {
  AdamWScalars s;
  Buffer theta, g, m, v;  // m, v ≥ 0 where v is (moments of a running optimiser)
};

AdamCase adam_case(CaseRng& r, int64_t n, size_t offset, int64_t step, bool decay) {
  const double lr = r.real(1e-5f, 1e-2f), b1 = 0.9, b2 = 0.999, wd = decay ? 0.01 : 0.0;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step)), bc2 = 1.0 - std::pow(b2, static_cast<double>(step));
  AdamCase c;
  c.s = {static_cast<float>(1.0 - lr * wd),
         static_cast<float>(b1),
         static_cast<float>(1.0 - b1),
         static_cast<float>(b2),
         static_cast<float>(1.0 - b2),
         static_cast<float>(std::sqrt(bc2)),
         1e-8f,
         static_cast<float>(-lr / bc1)};
  c.theta = Buffer(r.normal(static_cast<size_t>(n), 0.05f), offset);
  c.g = Buffer(r.normal(static_cast<size_t>(n), step == 1 ? 1e-3f : 1.0f), offset);  // tiny gradients too
  c.m = Buffer(step == 1 ? std::vector<float>(static_cast<size_t>(n), 0.0f) : r.normal(static_cast<size_t>(n), 0.1f),
               offset);
  std::vector<float> v = r.normal(static_cast<size_t>(n), 0.01f);
  for (float& x : v) x = step == 1 ? 0.0f : x * x;
  c.v = Buffer(v, (offset + 3) % 16);
  return c;
}

std::vector<float> adam_result(AdamCase c, bool fast, SimdPath path) {
  const int64_t n = static_cast<int64_t>(c.theta.size());
  if (fast) adamw_update(c.s, c.theta.data(), c.g.data(), c.m.data(), c.v.data(), n, path);
  else adamw_update_ref(c.s, c.theta.data(), c.g.data(), c.m.data(), c.v.data(), n);
  std::vector<float> out = c.theta.vec(), m = c.m.vec(), v = c.v.vec();
  out.insert(out.end(), m.begin(), m.end());
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

KernelSpec<AdamCase> adamw_spec() {
  KernelSpec<AdamCase> s;
  s.name = "adamw_update";
  for (int64_t n : {1, 7, 8, 15, 16, 17, 33, 1000}) {
    CaseRng r{std::mt19937_64(static_cast<uint64_t>(n))};
    s.fixed.push_back(adam_case(r, n, static_cast<size_t>(n % 5), n % 3 == 0 ? 1 : 7, n % 2 == 0));
  }
  s.random = 12;
  s.make_random = [](CaseRng& r) {
    return adam_case(r, r.uniform(1, 5000), static_cast<size_t>(r.uniform(0, 15)), r.uniform(1, 3000), r.coin());
  };
  s.describe = [](const AdamCase& c) { return "n=" + std::to_string(c.theta.size()); };
  s.reference = [](const AdamCase& c) { return adam_result(c, false, SimdPath::Scalar); };
  s.fast = [](const AdamCase& c, const KernelRun& k) { return adam_result(c, true, k.path); };
  s.tolerance = [](const AdamCase&, size_t, double) { return 0.0; };
  return s;
}

[[maybe_unused]] const bool kAdamW = register_kernel(adamw_spec());

TEST(OptimizerKernels, SumOfSquaresOnEveryPath) {
  for (SimdPath path : {SimdPath::Scalar, SimdPath::Avx2, SimdPath::Avx512}) {
    if (!simd_path_supported(path)) {
      std::printf("  sum_squares: SIMD path %s not supported by this CPU, not tested on it\n", simd_path_name(path));
      continue;
    }
    for (int64_t n : {0, 1, 5, 8, 15, 16, 17, 31, 1000, 16384, 100003}) {
      CaseRng r{std::mt19937_64(static_cast<uint64_t>(n) + 11)};
      const Buffer g(r.normal(static_cast<size_t>(n), 3.0f), static_cast<size_t>(n % 16));
      const double ref = sum_squares_ref(g.data(), n), fast = sum_squares(g.data(), n, path);
      EXPECT_LE(std::fabs(fast - ref), 2.0 * static_cast<double>(n) * std::ldexp(1.0, -53) * ref)
          << simd_path_name(path) << " n=" << n;
      EXPECT_EQ(sum_squares(g.data(), n, path), fast) << "not deterministic";
    }
  }
}

}  // namespace
