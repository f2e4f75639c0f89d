// Linear, LayerNorm and activations against scalar references and known values.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "kernels/activations.h"
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
        linear(x.data(), rows, in, W.data(), b.data(), out, y.data());
        linear_ref(x.data(), rows, in, W.data(), b.data(), out, r.data());
        for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], r[i], 1e-5 * (1 + std::fabs(r[i])));
        // accumulate: y += x·Wᵀ (no bias)
        std::vector<float> acc = r;
        linear_accumulate(x.data(), rows, in, W.data(), nullptr, out, acc.data());
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
  layernorm(x.data(), y.data(), rows, dim, g.data(), b.data(), 1e-12f);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += x[static_cast<size_t>(r * dim + i)];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) var += std::pow(x[static_cast<size_t>(r * dim + i)] - mean, 2);
    var /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      const size_t k = static_cast<size_t>(r * dim + i);
      EXPECT_NEAR(y[k], (x[k] - mean) / std::sqrt(var + 1e-12) * g[static_cast<size_t>(i)] + b[static_cast<size_t>(i)], 2e-5);
    }
  }
  // In place gives the same result.
  std::vector<float> z = x;
  layernorm(z.data(), z.data(), rows, dim, g.data(), b.data(), 1e-12f);
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
  for (const char* n : {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh",
                        "quick_gelu", "mish", "linear", "gelu_10", "gelu_accurate", "gelu_python", "relu2", "relu6",
                        "sigmoid", "laplace"})
    EXPECT_TRUE(is_known_activation(n)) << n;
  EXPECT_THROW(parse_activation("gelu_newest"), Error);
  std::vector<float> v = {-1.0f, 0.5f, 2.0f};
  activate_inplace(Activation::Relu, v.data(), 3);
  EXPECT_EQ(v, (std::vector<float>{0.0f, 0.5f, 2.0f}));
}
