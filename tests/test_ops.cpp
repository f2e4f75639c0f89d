// Linear, LayerNorm and activations against scalar references and known values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/gemm_bf16.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::max_abs_diff;
using bigbird::test::random_vec;

TEST(Linear, BlasEqualsScalarReferenceOnRandomShapes) {
  // |y| ~ sqrt(in); float32 accumulation error ~ eps * sqrt(in) * |terms|: 1e-5 * (1 + |y|) is ample.
  uint64_t seed = 1;
  for (int64_t rows : {1, 3, 17, 64}) {
    for (int64_t in : {1, 5, 64, 130}) {
      for (int64_t out : {1, 7, 96}) {
        auto x = random_vec(static_cast<size_t>(rows * in), seed++);
        auto W = random_vec(static_cast<size_t>(out * in), seed++);
        auto b = random_vec(static_cast<size_t>(out), seed++);
        std::vector<float> y(static_cast<size_t>(rows * out)), r(y.size());
        linear(test::ctx(), x.data(), rows, in, W.data(), b.data(), out, y.data());
        linear_ref(x.data(), rows, in, W.data(), b.data(), out, r.data());
        for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], r[i], 1e-5 * (1 + std::fabs(r[i])));
        // accumulate: y += x·Wᵀ (no bias)
        std::vector<float> acc = r;
        linear_accumulate(test::ctx(), x.data(), rows, in, W.data(), nullptr, out, acc.data());
        std::vector<float> twice(y.size());
        for (size_t i = 0; i < y.size(); ++i) twice[i] = 2 * r[i] - b[i % static_cast<size_t>(out)];
        for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(acc[i], twice[i], 2e-5 * (1 + std::fabs(twice[i])));
      }
    }
  }
}

TEST(LayerNorm, MatchesDefinition) {
  const int64_t rows = 5, dim = 37;
  auto x = random_vec(static_cast<size_t>(rows * dim), 3, 4.0f);
  for (auto& v : x) v += 100.0f;  // large mean: needs a stable variance
  auto g = random_vec(static_cast<size_t>(dim), 4);
  auto b = random_vec(static_cast<size_t>(dim), 5);
  std::vector<float> y(x.size());
  layernorm(test::ctx(), x.data(), y.data(), rows, dim, g.data(), b.data(), 1e-12f);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += x[static_cast<size_t>(r * dim + i)];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) var += std::pow(x[static_cast<size_t>(r * dim + i)] - mean, 2);
    var /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      const size_t k = static_cast<size_t>(r * dim + i);
      EXPECT_NEAR(y[k], (x[k] - mean) / std::sqrt(var + 1e-12) * g[static_cast<size_t>(i)] + b[static_cast<size_t>(i)],
                  2e-5);
    }
  }
  // In place gives the same result.
  std::vector<float> z = x;
  layernorm(test::ctx(), z.data(), z.data(), rows, dim, g.data(), b.data(), 1e-12f);
  EXPECT_EQ(z, y);
}

TEST(Activations, KnownValues) {
  // Values from the closed forms (erf / tanh), computed independently in double.
  EXPECT_NEAR(activate(Activation::Gelu, 1.0f), 0.8413447460685429, 1e-7);
  EXPECT_NEAR(activate(Activation::GeluNew, 1.0f), 0.8411919906082768, 1e-7);
  EXPECT_NEAR(activate(Activation::GeluNew, -3.0f), -0.0036373920817729943, 1e-8);
  EXPECT_NEAR(activate(Activation::GeluFast, 1.0f), 0.8411919906082768, 1e-6);
  EXPECT_NEAR(activate(Activation::QuickGelu, 1.0f), 0.8457957659328209, 1e-7);
  EXPECT_NEAR(activate(Activation::Silu, 2.0f), 1.7615941559557646, 1e-7);
  EXPECT_NEAR(activate(Activation::Mish, 1.0f), 0.8650983882673103, 1e-7);
  EXPECT_EQ(activate(Activation::Relu, -1.0f), 0.0f);
  EXPECT_EQ(activate(Activation::Relu6, 9.0f), 6.0f);
  EXPECT_EQ(activate(Activation::Relu2, 3.0f), 9.0f);
  EXPECT_EQ(activate(Activation::Linear, -4.5f), -4.5f);
  EXPECT_EQ(activate(Activation::Gelu10, 50.0f), 10.0f);
  EXPECT_NEAR(activate(Activation::Tanh, 0.5f), std::tanh(0.5), 1e-7);
  EXPECT_NEAR(activate(Activation::Sigmoid, 0.0f), 0.5, 1e-7);
  EXPECT_NEAR(activate(Activation::Laplace, 0.707107f), 0.5, 1e-7);
}

TEST(Activations, NamesParseAndUnknownFails) {
  for (const char* n :
       {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh", "quick_gelu", "mish",
        "linear", "gelu_10", "gelu_accurate", "gelu_python", "relu2", "relu6", "sigmoid", "laplace"})
    EXPECT_TRUE(is_known_activation(n)) << n;
  EXPECT_THROW(parse_activation("gelu_newest"), Error);
  std::vector<float> v = {-1.0f, 0.5f, 2.0f};
  activate_inplace(test::ctx(), Activation::Relu, v.data(), 3);
  EXPECT_EQ(v, (std::vector<float>{0.0f, 0.5f, 2.0f}));
}

// The SIMD paths of LayerNorm and of the activations are held to their references in the
// kernel harness (test_kernels.cpp); what stays here are the definitions and known values.

TEST(Activations, InplaceOverUnevenLength) {
  // activate_inplace over a length that is not a multiple of its task size.
  std::vector<float> z(10001), want(10001);
  for (size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>(i) * 1e-3f - 5.0f;
  for (size_t i = 0; i < z.size(); ++i) want[i] = activate(Activation::Gelu, z[i]);
  activate_inplace(test::ctx(), Activation::Gelu, z.data(), static_cast<int64_t>(z.size()));
  for (size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(z[i], want[i], kGeluAbsTol + kGeluRelTol * std::fabs(want[i]));
}

class LinearBf16Unit : public ::testing::TestWithParam<Bf16Unit> {};

TEST_P(LinearBf16Unit, EqualsBf16ReferenceOnRandomShapes) {
  const Bf16Unit unit = GetParam();
  if (!bf16_unit_supported(unit)) GTEST_SKIP() << "this CPU has no " << bf16_unit_name(unit) << " unit";
  // The kernel and the reference round the same inputs the same way; what remains is float32
  // accumulation (in pairs, 16- or 8-lane partial sums) against double: ~eps·sqrt(in)·|terms|.
  uint64_t seed = 70;
  for (int64_t rows : {1, 7, 130, 200}) {
    for (int64_t in : {1, 2, 17, 64, 300}) {
      for (int64_t out : {1, 16, 63, 64, 100}) {
        auto x = random_vec(static_cast<size_t>(rows * in + 1), seed++);
        auto W = random_vec(static_cast<size_t>(out * in), seed++);
        auto b = random_vec(static_cast<size_t>(out), seed++);
        PackedWeightBf16 pw = pack_weight_bf16(test::ctx(), W.data(), out, in);
        std::vector<float> y(static_cast<size_t>(rows * out + 1)), r(static_cast<size_t>(rows * out));
        linear_bf16(test::ctx(), x.data() + 1, rows, pw, b.data(), y.data() + 1, false, unit);  // misaligned rows
        linear_bf16_ref(x.data() + 1, rows, W.data(), in, out, b.data(), r.data());
        const double tol = 2e-6 * std::sqrt(static_cast<double>(in)) * 4;
        for (size_t i = 0; i < r.size(); ++i)
          ASSERT_NEAR(y[i + 1], r[i], tol * (1 + std::fabs(r[i]))) << rows << "x" << in << "x" << out;
        // accumulate: y += x·Wᵀ (no bias)
        std::vector<float> acc(y.begin() + 1, y.end());
        linear_bf16(test::ctx(), x.data() + 1, rows, pw, nullptr, acc.data(), true, unit);
        for (size_t i = 0; i < r.size(); ++i)
          ASSERT_NEAR(acc[i], 2 * r[i] - b[i % static_cast<size_t>(out)], 2 * tol * (1 + std::fabs(r[i])));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Units, LinearBf16Unit, ::testing::Values(Bf16Unit::Avx512Bf16, Bf16Unit::Avx2),
                         [](const ::testing::TestParamInfo<Bf16Unit>& i) {
                           return std::string(bf16_unit_name(i.param));
                         });

TEST(LinearBf16, EmulationEqualsVdpbf16psBitForBit) {
  // Both units round x and W the same way, and the emulation follows VDPBF16PS's definition (Intel
  // SDM): per pair, acc += hi·hi then acc += lo·lo, each product exact in float32 (8-bit
  // mantissas), lane by lane in the same k order. So the bits agree (measured: all of them on
  // AMD Zen 4).
  if (!bf16_supported()) GTEST_SKIP() << "no AVX512-BF16 on this CPU: nothing to compare the emulation with";
  const int64_t rows = 37, in = 771, out = 130;
  auto x = random_vec(static_cast<size_t>(rows * in), 5), W = random_vec(static_cast<size_t>(out * in), 6);
  auto bias = random_vec(static_cast<size_t>(out), 7);
  PackedWeightBf16 pw = pack_weight_bf16(test::ctx(), W.data(), out, in);
  for (bool acc : {false, true}) {
    std::vector<float> a(static_cast<size_t>(rows * out), 0.5f), b(a);
    linear_bf16(test::ctx(), x.data(), rows, pw, bias.data(), a.data(), acc, Bf16Unit::Avx512Bf16);
    linear_bf16(test::ctx(), x.data(), rows, pw, bias.data(), b.data(), acc, Bf16Unit::Avx2);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << "accumulate " << acc;
  }
}

TEST(LinearBf16, RoundingAndErrorAgainstFloat32) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(from_bf16(to_bf16(1.00390625f)), 1.0f);       // halfway: to even
  EXPECT_EQ(from_bf16(to_bf16(1.01171875f)), 1.015625f);  // halfway: to even (up)
  EXPECT_EQ(from_bf16(to_bf16(-3.0f)), -3.0f);
  EXPECT_EQ(from_bf16(to_bf16(1e-40f)), 0.0f);  // subnormal → 0
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(NAN))));
  EXPECT_EQ(from_bf16(to_bf16(INFINITY)), INFINITY);
  if (!bf16_unit_supported(Bf16Unit::Auto)) GTEST_SKIP() << "this CPU has no bf16 unit";
  // Against the float32 product: bf16 rounding of both inputs, ~2^-9 relative each, over a
  // width-768 sum of N(0,1) terms: relative error of the result ~2^-8/sqrt(2)·... ≈ 3e-3·|y|rms.
  const int64_t rows = 64, in = 768, out = 256;
  auto x = random_vec(static_cast<size_t>(rows * in), 1), W = random_vec(static_cast<size_t>(out * in), 2);
  std::vector<float> y(static_cast<size_t>(rows * out)), r(y.size());
  linear_bf16(test::ctx(), x.data(), rows, pack_weight_bf16(test::ctx(), W.data(), out, in), nullptr, y.data());
  linear_ref(x.data(), rows, in, W.data(), nullptr, out, r.data());
  double err = 0, norm = 0;
  for (size_t i = 0; i < y.size(); ++i) err += (y[i] - r[i]) * (y[i] - r[i]), norm += r[i] * r[i];
  const double rel = std::sqrt(err / norm);
  std::printf("  bf16 product, width 768: relative RMS error vs float32 %.2e\n", rel);
  EXPECT_LT(rel, 6e-3);
}
