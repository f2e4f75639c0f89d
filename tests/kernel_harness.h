// One harness for every fast kernel with SIMD paths (after gemma.cpp's ops_test): each kernel
// registers a case generator, its fast call, a scalar/double reference and a tolerance, and one
// parameterised test (test_kernels.cpp) runs every registered kernel on every SimdPath:
//
//   AllPaths/Kernels.MatchReferenceOnEveryCase/<kernel>_<path>
//
// Per case the harness
//   1. computes the reference and runs the fast kernel on the path (2 threads);
//   2. requires |fast_i - ref_i| ≤ tolerance(case, i, ref_i) for every output element
//      (a tolerance of 0 demands the same bits: untouched slack, zeroed rows, exact kernels);
//   3. reruns the fast kernel at 1 and 3 threads and requires the same bits (determinism);
//   4. runs each `same_bits` variant (in place, reused workspace, ...) and requires the same bits;
//   5. runs the optional `check` (kernel-specific properties of the fast output);
// and prints the worst error / tolerance seen. A path this CPU lacks is skipped with a message.
//
// Cases: `fixed` first (the hand-picked shapes of the former per-kernel tests: odd sizes,
// several softmax chunks, padding), then `random` cases drawn from a generator seeded by the
// kernel name and case index (odd sizes and pointers misaligned by 1-15 floats included).
//
// Every call of a kernel under test is in a registration's `fast` lambda (and `same_bits`),
// which receives a KernelRun: the SIMD path and the threading context to run it on.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/threading.h"
#include "kernels/simd/dispatch.h"

namespace bigbird::test {

// How a fast kernel is run: one SIMD path, one threading context.
struct KernelRun {
  SimdPath path;
  const ThreadingContext& ctx;
};

// Random draws for case generators.
struct CaseRng {
  std::mt19937_64 gen;
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(gen); }
  float real(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen); }
  std::vector<float> normal(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = nd(gen);
    return v;
  }
};

// Floats that start `offset` floats past a 64-byte boundary (misaligned for every vector width
// when offset % 16 != 0). Copyable; data() points into the copy.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const std::vector<float>& v, size_t offset) : n_(v.size()), offset_(offset) {
    storage_.assign(n_ + offset_ + 16, 0.0f);
    const size_t lead = (16 - reinterpret_cast<uintptr_t>(storage_.data()) / sizeof(float) % 16) % 16;
    base_ = lead;
    std::copy(v.begin(), v.end(), storage_.begin() + static_cast<std::ptrdiff_t>(base_ + offset_));
  }
  Buffer(size_t n, float fill, size_t offset) : Buffer(std::vector<float>(n, fill), offset) {}
  Buffer(const Buffer& o) : Buffer(o.vec(), o.offset_) {}
  Buffer& operator=(const Buffer& o) { return *this = Buffer(o); }
  Buffer(Buffer&&) = default;
  Buffer& operator=(Buffer&&) = default;

  float* data() { return storage_.data() + base_ + offset_; }
  const float* data() const { return storage_.data() + base_ + offset_; }
  size_t size() const { return n_; }
  size_t offset() const { return offset_; }
  float& operator[](size_t i) { return data()[i]; }
  float operator[](size_t i) const { return data()[i]; }
  std::vector<float> vec() const { return std::vector<float>(data(), data() + n_); }

 private:
  std::vector<float> storage_;
  size_t n_ = 0, offset_ = 0, base_ = 0;
};

// A registered kernel, type-erased: runs all its cases on one path.
struct RegisteredKernel {
  std::string name;
  std::function<void(SimdPath)> run;
};

inline std::vector<RegisteredKernel>& kernel_registry() {
  static std::vector<RegisteredKernel> r;
  return r;
}

template <class Case>
struct KernelSpec {
  std::string name;  // letters, digits and '_' (it becomes part of the test name)
  std::vector<Case> fixed;
  int random = 0;  // random cases after the fixed ones
  std::function<Case(CaseRng&)> make_random;
  std::function<std::string(const Case&)> describe;
  std::function<std::vector<float>(const Case&)> reference;
  std::function<std::vector<float>(const Case&, const KernelRun&)> fast;
  // Allowed |fast_i - ref_i| for output element i; 0: the same value (±0 equal). State how it is
  // derived in a comment beside the registration.
  std::function<double(const Case&, size_t i, double ref)> tolerance;
  std::vector<std::pair<std::string, std::function<std::vector<float>(const Case&, const KernelRun&)>>> same_bits;
  std::function<void(const Case&, const std::vector<float>& fast)> check;
};

namespace detail {
inline uint64_t name_seed(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Runs f on `path` with a context of `threads` threads.
template <class Case>
std::vector<float> run_fast(const Case& c, SimdPath path, int threads,
                            const std::function<std::vector<float>(const Case&, const KernelRun&)>& f) {
  const ThreadingContext ctx(threads);
  return f(c, KernelRun{path, ctx});
}

template <class Case>
void run_cases(const KernelSpec<Case>& spec, SimdPath path) {
  const int n_cases = static_cast<int>(spec.fixed.size()) + spec.random;
  double worst = 0;
  int failures = 0;
  for (int ci = 0; ci < n_cases && failures < 20; ++ci) {
    CaseRng rng{std::mt19937_64(name_seed(spec.name) + static_cast<uint64_t>(ci))};
    const Case c =
        ci < static_cast<int>(spec.fixed.size()) ? spec.fixed[static_cast<size_t>(ci)] : spec.make_random(rng);
    const std::string what =
        spec.name + " on " + simd_path_name(path) + ", case " + std::to_string(ci) + " (" + spec.describe(c) + ")";
    const std::vector<float> ref = spec.reference(c);
    const std::vector<float> out = run_fast(c, path, 2, spec.fast);
    ASSERT_EQ(out.size(), ref.size()) << what;
    int bad = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double tol = spec.tolerance(c, i, ref[i]);
      const double err = std::fabs(static_cast<double>(out[i]) - ref[i]);
      const bool ok = tol == 0 ? std::memcmp(&out[i], &ref[i], sizeof(float)) == 0 || (out[i] == ref[i]) : err <= tol;
      if (!ok) {
        if (bad++ < 5)
          ADD_FAILURE() << what << ": element " << i << " is " << out[i] << ", reference " << ref[i] << ", error "
                        << err << " > tolerance " << tol;
        continue;
      }
      if (tol > 0) worst = std::max(worst, err / tol);
    }
    if (bad) {
      ++failures;
      continue;
    }
    for (int threads : {1, 3})
      EXPECT_TRUE(same_bits(run_fast(c, path, threads, spec.fast), out))
          << what << ": other bits at " << threads << " threads than at 2";
    for (const auto& [vname, variant] : spec.same_bits)
      EXPECT_TRUE(same_bits(run_fast(c, path, 2, variant), out)) << what << ": " << vname << " gives other bits";
    if (spec.check) spec.check(c, out);
    if (::testing::Test::HasFailure()) ++failures;
  }
  std::printf("  %s on %s: %d cases, max error / tolerance = %.3f\n", spec.name.c_str(), simd_path_name(path), n_cases,
              worst);
}
}  // namespace detail

// `static const bool registered = register_kernel(spec);` at namespace scope of a test file.
template <class Case>
bool register_kernel(KernelSpec<Case> spec) {
  auto s = std::make_shared<const KernelSpec<Case>>(std::move(spec));
  kernel_registry().push_back({s->name, [s](SimdPath path) { detail::run_cases(*s, path); }});
  return true;
}

}  // namespace bigbird::test
