// Every registered fast kernel (kernel_harness.h) on every SIMD path, against its reference;
// and the registrations of the element-wise kernels: LayerNorm (plain and fused), the GELU
// family (and the scalar activations) through bias_activate_inplace, add_bias_rows and pack_kt.
// The attention kernels register in test_kernels_attention.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernel_harness.h"
#include "kernels/activations.h"
#include "kernels/blas_core.h"
#include "kernels/linear.h"
#include "kernels/layernorm.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::Buffer;
using bigbird::test::CaseRng;
using bigbird::test::KernelRun;
using bigbird::test::KernelSpec;
using bigbird::test::random_vec;
using bigbird::test::register_kernel;

// ---------------------------------------------------------------------------------------------
// The parameterised test: kernel × path.

namespace {
std::vector<std::string> kernel_names() {
  std::vector<std::string> n;
  for (const auto& k : bigbird::test::kernel_registry()) n.push_back(k.name);
  return n;
}

class Kernels : public ::testing::TestWithParam<std::tuple<std::string, SimdPath>> {};

TEST_P(Kernels, MatchReferenceOnEveryCase) {
  const auto& [name, path] = GetParam();
  if (!simd_path_supported(path))
    GTEST_SKIP() << "SIMD path " << simd_path_name(path) << " is not supported by this CPU: " << name
                 << " not tested on it";
  for (const auto& k : bigbird::test::kernel_registry())
    if (k.name == name) return k.run(path);
  FAIL() << "no kernel " << name;
}

INSTANTIATE_TEST_SUITE_P(AllPaths, Kernels,
                         ::testing::Combine(::testing::ValuesIn(kernel_names()),
                                            ::testing::Values(SimdPath::Scalar, SimdPath::Avx2, SimdPath::Avx512)),
                         [](const ::testing::TestParamInfo<Kernels::ParamType>& p) {
                           return std::get<0>(p.param) + "_" + simd_path_name(std::get<1>(p.param));
                         });

TEST(Kernels, RegistryCoversEveryKernel) {
  // A registration lost in a refactor would otherwise pass unnoticed.
  std::vector<std::string> n = kernel_names();
  for (const char* want :
       {"block_sparse_attention_vs_ref", "block_sparse_attention_vs_dense", "full_attention", "layernorm",
        "layernorm_fused", "bias_gelu", "bias_gelu_new", "bias_gelu_10", "add_bias_rows", "pack_kt"})
    EXPECT_NE(std::find(n.begin(), n.end(), want), n.end()) << want;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm: y = LayerNorm(x + res + bias) · gamma + beta.
//
// Tolerance 2e-5·(1 + |gamma_i|), from the float32 error of the fast path: z = x + res + bias
// is rounded once (eps·|z| with eps = 6e-8), mean and variance are sums of dim terms in a
// fixed lane order (relative error ≲ eps·sqrt(dim) ≤ 2e-6 for dim ≤ 1101), and (z - mean) is
// then divided by σ: the error in units of σ is ≲ eps·(|z|max/σ + sqrt(dim)), below 4e-6 for the
// data here (σ ≥ ~3, offsets ≤ 50: |z|max/σ ≤ ~20), times |gamma_i|, plus beta's rounding.
// dim 1: z - mean is exactly 0 in both, y = beta; 1e-3 kept from the former test as a margin.

struct LnCase {
  int64_t rows = 0, dim = 0;
  Buffer x, res;             // res empty: no residual
  Buffer bias, gamma, beta;  // empty: null
  size_t y_offset = 0;
  float eps = 1e-12f;
};

const float* ptr(const Buffer& b) { return b.size() ? b.data() : nullptr; }

std::vector<float> ln_reference(const LnCase& c) {
  std::vector<float> y(static_cast<size_t>(c.rows * c.dim));
  layernorm_ref(c.x.data(), ptr(c.res), ptr(c.bias), y.data(), c.rows, c.dim, ptr(c.gamma), ptr(c.beta), c.eps);
  return y;
}

double ln_tolerance(const LnCase& c, size_t i, double) {
  const double g = c.gamma.size() ? std::fabs(c.gamma[i % static_cast<size_t>(c.dim)]) : 1.0;
  return (c.dim == 1 ? 1e-3 : 2e-5) * (1 + g);
}

std::string ln_describe(const LnCase& c) {
  return "rows=" + std::to_string(c.rows) + " dim=" + std::to_string(c.dim) + (c.res.size() ? " res" : "") +
         (c.bias.size() ? " bias" : "") + (c.gamma.size() ? " gamma" : "") + (c.beta.size() ? " beta" : "") +
         " offsets x" + std::to_string(c.x.offset()) + " y" + std::to_string(c.y_offset);
}

// The former LayerNorm.FusedResidualAndBiasEqualReferenceOnEveryPath shapes: rows misaligned by
// one float, every other x offset by 50 (a large mean: checks the two-pass variance).
std::vector<LnCase> ln_fixed(bool fused) {
  std::vector<LnCase> cases;
  uint64_t seed = 40;
  for (int64_t dim : {1, 5, 16, 37, 768, 1001}) {
    const int64_t rows = 9;
    // Drawn one float longer and used from the second, as before.
    auto x = random_vec(static_cast<size_t>(rows * dim + 1), seed++, 3.0f);
    auto res = random_vec(static_cast<size_t>(rows * dim + 1), seed++);
    for (size_t i = 0; i < x.size(); i += 2) x[i] += 50.0f;
    x.erase(x.begin()), res.erase(res.begin());
    LnCase c;
    c.rows = rows, c.dim = dim, c.y_offset = 1;
    c.x = Buffer(x, 1);
    if (fused) c.res = Buffer(res, 1);
    auto bias = random_vec(static_cast<size_t>(dim), seed++);
    if (fused) c.bias = Buffer(bias, 0);
    c.gamma = Buffer(random_vec(static_cast<size_t>(dim), seed++), 0);
    c.beta = Buffer(random_vec(static_cast<size_t>(dim), seed++), 0);
    cases.push_back(std::move(c));
  }
  // The former LayerNorm.MatchesDefinition shape: mean 100, spread 4.
  LnCase d;
  auto x = random_vec(5 * 37, 3, 4.0f);
  for (auto& v : x) v += 100.0f;
  d.rows = 5, d.dim = 37, d.x = Buffer(x, 0);
  d.gamma = Buffer(random_vec(37, 4), 0), d.beta = Buffer(random_vec(37, 5), 0);
  cases.push_back(std::move(d));
  return cases;
}

LnCase ln_random(CaseRng& rng, bool fused) {
  LnCase c;
  c.rows = rng.uniform(1, 64);
  c.dim = rng.uniform(8, 1100);
  const size_t n = static_cast<size_t>(c.rows * c.dim), dim = static_cast<size_t>(c.dim);
  auto x = rng.normal(n, 3.0f);
  const float offset = rng.real(-50.0f, 50.0f);
  const bool every_other = rng.coin();
  for (size_t i = 0; i < n; ++i)
    if (!every_other || i % 2) x[i] += offset;
  c.x = Buffer(x, static_cast<size_t>(rng.uniform(0, 15)));
  if (fused && rng.coin(0.8)) c.res = Buffer(rng.normal(n), static_cast<size_t>(rng.uniform(0, 15)));
  if (fused && rng.coin(0.8)) c.bias = Buffer(rng.normal(dim), static_cast<size_t>(rng.uniform(0, 15)));
  if (rng.coin(0.8)) c.gamma = Buffer(rng.normal(dim), static_cast<size_t>(rng.uniform(0, 15)));
  if (rng.coin(0.8)) c.beta = Buffer(rng.normal(dim), static_cast<size_t>(rng.uniform(0, 15)));
  c.y_offset = static_cast<size_t>(rng.uniform(0, 15));
  c.eps = rng.coin() ? 1e-12f : 1e-5f;
  return c;
}

// The one call of each LayerNorm kernel: y = LayerNorm(x [+ res + bias]) into `y`.
void run_layernorm(const LnCase& c, const KernelRun& run, const float* x, const float* res, float* y, bool fused) {
  if (fused)
    layernorm_fused(run.ctx, x, res, ptr(c.bias), y, c.rows, c.dim, ptr(c.gamma), ptr(c.beta), c.eps, run.path);
  else layernorm(run.ctx, x, y, c.rows, c.dim, ptr(c.gamma), ptr(c.beta), c.eps, run.path);
}

KernelSpec<LnCase> layernorm_spec(bool fused) {
  KernelSpec<LnCase> s;
  s.name = fused ? "layernorm_fused" : "layernorm";
  s.fixed = ln_fixed(fused);
  s.random = 12;
  s.make_random = [fused](CaseRng& rng) { return ln_random(rng, fused); };
  s.describe = ln_describe;
  s.reference = ln_reference;
  s.tolerance = ln_tolerance;
  s.fast = [fused](const LnCase& c, const KernelRun& run) {
    Buffer y(c.x.size(), 0.0f, c.y_offset);
    run_layernorm(c, run, c.x.data(), ptr(c.res), y.data(), fused);
    return y.vec();
  };
  s.same_bits.push_back({"in place over x", [fused](const LnCase& c, const KernelRun& run) {
                           Buffer y = c.x;
                           run_layernorm(c, run, y.data(), ptr(c.res), y.data(), fused);
                           return y.vec();
                         }});
  if (fused)
    s.same_bits.push_back({"in place over the residual", [](const LnCase& c, const KernelRun& run) {
                             Buffer y = c.res.size() ? c.res : Buffer(c.x.size(), 0.0f, c.y_offset);
                             run_layernorm(c, run, c.x.data(), c.res.size() ? y.data() : nullptr, y.data(), true);
                             return y.vec();
                           }});
  return s;
}

[[maybe_unused]] const bool kLayernorm = register_kernel(layernorm_spec(false));
[[maybe_unused]] const bool kLayernormFused = register_kernel(layernorm_spec(true));

// ---------------------------------------------------------------------------------------------
// Activations through bias_activate_inplace: x[r, c] = act(x[r, c] + bias[c]).
//
// Tolerance kGeluAbsTol + kGeluRelTol·|ref| against `activate` (double evaluation, itself
// checked against known values in test_ops.cpp): the bound activations.h states for the float32
// approximations of the GELU family (NR erfc: fractional error < 1.2e-7; tanh form through one
// exp and one division: a few ulps), i.e. a few float32 ulps relative plus an absolute floor for
// the results near 0. The non-GELU activations evaluate `activate` itself: exact.

struct ActCase {
  int64_t rows = 0, cols = 0;
  Buffer x, bias;  // bias empty: null
};

std::string act_describe(const ActCase& c) {
  return "rows=" + std::to_string(c.rows) + " cols=" + std::to_string(c.cols) + (c.bias.size() ? " bias" : "") +
         " offset " + std::to_string(c.x.offset());
}

std::vector<ActCase> act_fixed() {
  // The former SimdGeluWithinStatedBoundOnEveryPath sweep: [-20, 20] in steps of 1e-4 plus tiny,
  // huge and special values, one odd-length row (every path's vector tail runs).
  std::vector<float> xs;
  for (int i = -200000; i <= 200000; ++i) xs.push_back(static_cast<float>(i) * 1e-4f);
  for (float v : {1e-30f, -1e-30f, 1e-8f, -1e-8f, 30.f, -30.f, 1e4f, -1e4f, 3e38f, -3e38f, 0.0f, -0.0f})
    xs.push_back(v);
  ActCase sweep;
  sweep.rows = 1, sweep.cols = static_cast<int64_t>(xs.size()), sweep.x = Buffer(xs, 0);
  // The former BiasFusedIntoActivation case.
  ActCase fused;
  fused.rows = 7, fused.cols = 45;
  fused.x = Buffer(random_vec(7 * 45, 11, 2.0f), 0), fused.bias = Buffer(random_vec(45, 12), 0);
  return {sweep, fused};
}

ActCase act_random(CaseRng& rng) {
  ActCase c;
  c.rows = rng.uniform(1, 80);
  c.cols = rng.uniform(1, 700);
  c.x = Buffer(rng.normal(static_cast<size_t>(c.rows * c.cols), rng.real(0.5f, 8.0f)),
               static_cast<size_t>(rng.uniform(0, 15)));
  if (rng.coin(0.7)) c.bias = Buffer(rng.normal(static_cast<size_t>(c.cols)), static_cast<size_t>(rng.uniform(0, 15)));
  return c;
}

bool register_activation(const std::string& name, Activation a) {
  KernelSpec<ActCase> s;
  s.name = "bias_" + name;
  s.fixed = act_fixed();
  s.random = 12;
  s.make_random = act_random;
  s.describe = act_describe;
  s.reference = [a](const ActCase& c) {
    std::vector<float> y(c.x.size());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = activate(a, c.bias.size() ? c.x[i] + c.bias[i % static_cast<size_t>(c.cols)] : c.x[i]);
    return y;
  };
  s.tolerance = [](const ActCase&, size_t, double ref) { return kGeluAbsTol + kGeluRelTol * std::fabs(ref); };
  s.fast = [a](const ActCase& c, const KernelRun& run) {
    Buffer y = c.x;
    bias_activate_inplace(run.ctx, a, y.data(), c.rows, c.cols, ptr(c.bias), run.path);
    return y.vec();
  };
  return register_kernel(std::move(s));
}

[[maybe_unused]] const bool kActivations =
    register_activation("gelu", Activation::Gelu) && register_activation("gelu_new", Activation::GeluNew) &&
    register_activation("gelu_fast", Activation::GeluFast) &&
    register_activation("gelu_pytorch_tanh", Activation::GeluPytorchTanh) &&
    register_activation("gelu_accurate", Activation::GeluAccurate) &&
    register_activation("gelu_python", Activation::GeluPython) && register_activation("gelu_10", Activation::Gelu10) &&
    register_activation("relu", Activation::Relu) && register_activation("silu", Activation::Silu);

// ---------------------------------------------------------------------------------------------
// The GELU derivatives of activation_backward: dx = dy·act'(x).
//
// Tolerance (kGeluGradAbsTol + kGeluGradRelTol·|act'(x)|)·|dy| + 2^-24·|ref|: the bound
// activations.h states for the float32 derivative (NR erfc's fractional error < 1.2e-7 and one
// exp for the erf form; one exp, one division and a sum whose terms reach 1.2 in magnitude for
// the tanh form, hence an absolute floor of a few float32 ulps of 1), times the gradient, plus
// the product's own rounding. The reference is activate_derivative (double) times dy.

struct GradCase {
  Buffer x, dy;
};

std::vector<GradCase> grad_fixed() {
  std::vector<float> xs;  // the forward's sweep: [-20, 20] in steps of 1e-4 plus special values
  for (int i = -200000; i <= 200000; ++i) xs.push_back(static_cast<float>(i) * 1e-4f);
  for (float v : {1e-30f, -1e-30f, 1e-8f, -1e-8f, 30.f, -30.f, 1e4f, -1e4f, 3e38f, -3e38f, 0.0f, -0.0f})
    xs.push_back(v);
  GradCase sweep{Buffer(xs, 0), Buffer(std::vector<float>(xs.size(), 1.0f), 0)};
  return {sweep};
}

GradCase grad_random(CaseRng& rng) {
  const size_t n = static_cast<size_t>(rng.uniform(1, 40000));
  return {Buffer(rng.normal(n, rng.real(0.5f, 8.0f)), static_cast<size_t>(rng.uniform(0, 15))),
          Buffer(rng.normal(n), static_cast<size_t>(rng.uniform(0, 15)))};
}

bool register_activation_grad(const std::string& name, Activation a) {
  KernelSpec<GradCase> s;
  s.name = "grad_" + name;
  s.fixed = grad_fixed();
  s.random = 8;
  s.make_random = grad_random;
  s.describe = [](const GradCase& c) {
    return "n=" + std::to_string(c.x.size()) + " offsets " + std::to_string(c.x.offset()) + "," +
           std::to_string(c.dy.offset());
  };
  s.reference = [a](const GradCase& c) {
    std::vector<float> dx(c.x.size());
    activation_backward_ref(a, c.x.data(), c.dy.data(), dx.data(), static_cast<int64_t>(dx.size()));
    return dx;
  };
  s.tolerance = [a](const GradCase& c, size_t i, double ref) {
    const double d = std::fabs(activate_derivative(a, c.x[i]));
    return (kGeluGradAbsTol + kGeluGradRelTol * d) * std::fabs(c.dy[i]) + std::ldexp(std::fabs(ref), -24);
  };
  s.fast = [a](const GradCase& c, const KernelRun& run) {
    std::vector<float> dx(c.x.size());
    activation_backward(run.ctx, a, c.x.data(), c.dy.data(), dx.data(), static_cast<int64_t>(dx.size()), run.path);
    return dx;
  };
  return register_kernel(std::move(s));
}

[[maybe_unused]] const bool kActivationGrads =
    register_activation_grad("gelu", Activation::Gelu) && register_activation_grad("gelu_new", Activation::GeluNew) &&
    register_activation_grad("gelu_fast", Activation::GeluFast) &&
    register_activation_grad("gelu_pytorch_tanh", Activation::GeluPytorchTanh) &&
    register_activation_grad("gelu_accurate", Activation::GeluAccurate) &&
    register_activation_grad("gelu_python", Activation::GeluPython) &&
    register_activation_grad("gelu_10", Activation::Gelu10) && register_activation_grad("silu", Activation::Silu);

// ---------------------------------------------------------------------------------------------
// add_bias_rows (the bias add after a packed GEMM): x[r*ldx + c] += bias[c] for c < cols.
// Tolerance 0: one float32 addition, rounded the same way on every path; the slack columns
// [cols, ldx) must stay untouched.

struct BiasCase {
  int64_t rows = 0, cols = 0, ldx = 0;
  Buffer x, bias;
};

BiasCase bias_case(int64_t rows, int64_t cols, int64_t ldx, CaseRng& rng, size_t ox, size_t ob) {
  BiasCase c{rows, cols, ldx, Buffer(rng.normal(static_cast<size_t>(rows * ldx)), ox),
             Buffer(rng.normal(static_cast<size_t>(cols)), ob)};
  return c;
}

KernelSpec<BiasCase> add_bias_spec() {
  KernelSpec<BiasCase> s;
  s.name = "add_bias_rows";
  CaseRng rng{std::mt19937_64(7)};
  s.fixed = {bias_case(1, 1, 1, rng, 0, 0), bias_case(3, 17, 20, rng, 1, 3), bias_case(5, 64, 64, rng, 0, 0),
             bias_case(7, 100, 131, rng, 5, 2)};
  s.random = 12;
  s.make_random = [](CaseRng& r) {
    const int64_t cols = r.uniform(1, 300), rows = r.uniform(1, 40), ldx = cols + r.uniform(0, 9);
    const size_t ox = static_cast<size_t>(r.uniform(0, 15)), ob = static_cast<size_t>(r.uniform(0, 15));
    return bias_case(rows, cols, ldx, r, ox, ob);
  };
  s.describe = [](const BiasCase& c) {
    return std::to_string(c.rows) + "x" + std::to_string(c.cols) + " ldx=" + std::to_string(c.ldx);
  };
  s.reference = [](const BiasCase& c) {
    std::vector<float> y = c.x.vec();
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t i = 0; i < c.cols; ++i) y[static_cast<size_t>(r * c.ldx + i)] += c.bias[static_cast<size_t>(i)];
    return y;
  };
  s.tolerance = [](const BiasCase&, size_t, double) { return 0.0; };
  s.fast = [](const BiasCase& c, const KernelRun& run) {
    Buffer y = c.x;
    simd::kernels(run.path).add_bias_rows(y.data(), c.rows, c.cols, c.bias.data(), c.ldx);
    return y.vec();
  };
  return s;
}

[[maybe_unused]] const bool kAddBias = register_kernel(add_bias_spec());

// ---------------------------------------------------------------------------------------------
// pack_kt (the attention kernels' key transpose): kt[r*ldkt + j] = k[j*ld + r] for j < L, 0 for
// L ≤ j < ldkt, over rows r of [0, heads·d) packed `per` rows per call as the attention
// kernels do. Tolerance 0: a copy. kt starts as NaN so that every element must be written.

struct PackCase {
  int64_t L = 0, rows = 0, ld = 0, ldkt = 0, per = 0;
  Buffer k;
  size_t kt_offset = 0;
};

PackCase pack_case(int64_t L, int64_t rows, int64_t ld, int64_t ldkt, int64_t per, CaseRng& rng, size_t ok,
                   size_t okt) {
  return PackCase{L, rows, ld, ldkt, per, Buffer(rng.normal(static_cast<size_t>(L * ld)), ok), okt};
}

KernelSpec<PackCase> pack_kt_spec() {
  KernelSpec<PackCase> s;
  s.name = "pack_kt";
  CaseRng rng{std::mt19937_64(8)};
  // Full 16 x 16 tiles, partial tiles on both edges, one row and one key.
  s.fixed = {pack_case(64, 64, 64, 144, 16, rng, 0, 0), pack_case(100, 96, 99, 176, 16, rng, 1, 3),
             pack_case(1, 1, 1, 80, 16, rng, 0, 0), pack_case(37, 33, 40, 112, 16, rng, 7, 1),
             pack_case(513, 80, 83, 592, 16, rng, 0, 0)};
  s.random = 12;
  s.make_random = [](CaseRng& r) {
    const int64_t L = r.uniform(1, 300), rows = r.uniform(1, 150);
    const int64_t ld = rows + r.uniform(0, 7), ldkt = L + r.uniform(0, 80), per = r.uniform(1, rows);
    const size_t ok = static_cast<size_t>(r.uniform(0, 15)), okt = static_cast<size_t>(r.uniform(0, 15));
    return pack_case(L, rows, ld, ldkt, per, r, ok, okt);
  };
  s.describe = [](const PackCase& c) {
    return "L=" + std::to_string(c.L) + " rows=" + std::to_string(c.rows) + " ld=" + std::to_string(c.ld) +
           " ldkt=" + std::to_string(c.ldkt) + " per=" + std::to_string(c.per);
  };
  s.reference = [](const PackCase& c) {
    std::vector<float> kt(static_cast<size_t>(c.rows * c.ldkt), 0.0f);
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t j = 0; j < c.L; ++j)
        kt[static_cast<size_t>(r * c.ldkt + j)] = c.k[static_cast<size_t>(j * c.ld + r)];
    return kt;
  };
  s.tolerance = [](const PackCase&, size_t, double) { return 0.0; };
  s.fast = [](const PackCase& c, const KernelRun& run) {
    Buffer kt(static_cast<size_t>(c.rows * c.ldkt), std::numeric_limits<float>::quiet_NaN(), c.kt_offset);
    const simd::KernelTable& K = simd::kernels(run.path);
    for (int64_t r0 = 0; r0 < c.rows; r0 += c.per)
      K.pack_kt(c.k.data(), c.ld, c.L, r0, std::min(c.rows, r0 + c.per), /*d=*/c.rows, kt.data(), c.ldkt);
    return kt.vec();
  };
  return s;
}

[[maybe_unused]] const bool kPackKt = register_kernel(pack_kt_spec());

}  // namespace

// ---------------------------------------------------------------------------------------------
// OpenBLAS's core: a generic fallback is replaced on a CPU with AVX2/AVX-512, a real choice never.

TEST(BlasCore, GenericFallbackReplacedByTheCpusBestCore) {
  for (const char* kept : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"})
    EXPECT_STREQ(better_blas_core(kept), "") << kept;
  const char* want = "";
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    want = __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  for (const char* generic : {"Prescott", "Core2", "Nehalem", "Sandybridge", "Unknown"})
    EXPECT_STREQ(better_blas_core(generic), want) << generic;
  std::printf("note: this CPU's OpenBLAS core as loaded: %s; replacement: \"%s\"\n", blas_core_name().c_str(),
              better_blas_core(blas_core_name().c_str()));
}

TEST(BlasCore, TheCliRunsANonGenericCore) {
  // `bigbird bench --json` reports the core its process runs (after any restart), here started
  // without OPENBLAS_CORETYPE (this test program may have set it for itself).
  std::string out;
  FILE* p = popen(("env -u OPENBLAS_CORETYPE " + std::string(BIGBIRD_EXE) +
                   " bench --shape small --seq-len 128 --layers 1 --repeats 1 --json 2>&1")
                      .c_str(),
                  "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  const auto j = nlohmann::json::parse(out.substr(out.find('{')));
  const std::string core = j["blas_core"];
  EXPECT_STREQ(better_blas_core(core.c_str()), "") << core;
  std::printf("note: bigbird runs OpenBLAS core %s\n", core.c_str());
}
