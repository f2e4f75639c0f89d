// Backward kernels (linear, LayerNorm, activations, embedding) and losses: each against its double reference, against
// central finite differences of the reference forward, and bit-identical at 1, 2 and 3 threads.
//
// Finite differences: the reference forwards round their outputs to float, so a central difference of
// L = Σ c·y with step s carries a rounding error of at most Σ|c|·(ulp(y+) + ulp(y-))/2 / (2s) ≤ Σ|c|·(|y+| +
// |y-|)·2^-24 / (2s) (fd_round_tol below), plus the truncation error s²/6·|L'''|. The perturbed input is rounded to
// float, so the step used is the one actually taken ((float)(x+h) - (float)(x-h)).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "layers/losses.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::random_vec;

namespace {

constexpr double kU = 5.9604644775390625e-08;  // 2^-24, float's unit roundoff

// Σ c·y in double.
double dot(const std::vector<float>& c, const std::vector<float>& y) {
  double s = 0;
  for (size_t i = 0; i < c.size(); ++i) s += static_cast<double>(c[i]) * y[i];
  return s;
}
double abs_dot(const std::vector<float>& c, const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < c.size(); ++i) s += std::fabs(c[i]) * (std::fabs(a[i]) + std::fabs(b[i]));
  return s;
}

struct Fd {
  double value;      // the central difference
  double round_tol;  // its bound on the rounding error
};

// Central difference of L(v) = Σ c·forward(v) with respect to v[k]; forward writes y.
Fd central_difference(std::vector<float>& v, size_t k, double h, const std::vector<float>& c,
                      const std::function<void(std::vector<float>&)>& forward) {
  const float orig = v[k];
  std::vector<float> yp(c.size()), ym(c.size());
  v[k] = static_cast<float>(orig + h);
  const double xp = v[k];
  forward(yp);
  v[k] = static_cast<float>(orig - h);
  const double xm = v[k];
  forward(ym);
  v[k] = orig;
  const double step = xp - xm;
  return {(dot(c, yp) - dot(c, ym)) / step, abs_dot(c, yp, ym) * kU / step};
}

const std::vector<int> kThreads = {1, 2, 3};

}  // namespace

// ---------------------------------------------------------------------------------------------- linear

TEST(BackwardLinear, MatchesReferenceFiniteDifferencesAndThreadCounts) {
  uint64_t seed = 100;
  struct Shape {
    int64_t rows, in, out;
  };
  // Odd sizes; the last ones cross the row tile (512), the dW tiles (64 × 512) and the db chunk (256).
  for (Shape s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{17, 13, 3}, Shape{33, 65, 129}, Shape{523, 37, 259},
                  Shape{41, 517, 67}}) {
    SCOPED_TRACE(testing::Message() << "rows " << s.rows << " in " << s.in << " out " << s.out);
    auto x = random_vec(static_cast<size_t>(s.rows * s.in), seed++);
    auto W = random_vec(static_cast<size_t>(s.out * s.in), seed++);
    auto dy = random_vec(static_cast<size_t>(s.rows * s.out), seed++);
    auto dW0 = random_vec(static_cast<size_t>(s.out * s.in), seed++);  // accumulated into
    auto db0 = random_vec(static_cast<size_t>(s.out), seed++);
    std::vector<float> dx_r(x.size()), dW_r = dW0, db_r = db0;
    linear_backward_ref(x.data(), s.rows, s.in, W.data(), s.out, dy.data(), dx_r.data(), dW_r.data(), db_r.data());

    std::vector<float> dx1, dW1, db1;
    for (int threads : kThreads) {
      ThreadingContext ctx(threads);
      std::vector<float> dx(x.size(), 7.0f), dW = dW0, db = db0;
      linear_backward(ctx, x.data(), s.rows, s.in, W.data(), s.out, dy.data(), dx.data(), dW.data(), db.data());
      if (threads == 1) {
        dx1 = dx, dW1 = dW, db1 = db;
        // Float32 sums of K products of N(0,1) values: error ≲ K·u·Σ|terms| ~ K·u·K; the bound below is
        // 4·K·u·(Σ|a·b| estimated as K) + u·|ref|, ample for BLAS's blocked sums.
        const double tdx = 4.0 * s.out * kU * s.out + 1e-7, tdw = 4.0 * s.rows * kU * s.rows + 1e-7;
        for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dx_r[i], tdx + 2 * kU * std::fabs(dx_r[i])) << i;
        for (size_t i = 0; i < dW.size(); ++i) ASSERT_NEAR(dW[i], dW_r[i], tdw + 2 * kU * std::fabs(dW_r[i])) << i;
        // db: double accumulators in both, one rounding of the same sum: equal up to one ulp.
        for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], db_r[i], 2 * kU * std::fabs(db_r[i])) << i;
      } else {
        EXPECT_EQ(dx, dx1) << threads << " threads";
        EXPECT_EQ(dW, dW1) << threads << " threads";
        EXPECT_EQ(db, db1) << threads << " threads";
      }
    }
    // Null outputs are skipped; the others unchanged by that.
    {
      std::vector<float> dW = dW0;
      linear_backward(test::ctx(), x.data(), s.rows, s.in, W.data(), s.out, dy.data(), nullptr, dW.data(), nullptr);
      EXPECT_EQ(dW, dW1);
    }

    // Finite differences of L = Σ dy·linear_ref(x, W, b) on small shapes (linear in each input: no truncation error).
    if (s.rows * s.in * s.out > 5000) continue;
    auto b = random_vec(static_cast<size_t>(s.out), seed++);
    std::vector<float> xv = x, Wv = W, bv = b;
    auto fwd = [&](std::vector<float>& y) {
      linear_ref(xv.data(), s.rows, s.in, Wv.data(), bv.data(), s.out, y.data());
    };
    const double h = 0.25;
    for (size_t k = 0; k < xv.size(); ++k) {
      Fd fd = central_difference(xv, k, h, dy, fwd);
      ASSERT_NEAR(dx_r[k], fd.value, fd.round_tol + 2 * kU * std::fabs(fd.value)) << "dx " << k;
    }
    for (size_t k = 0; k < Wv.size(); ++k) {
      Fd fd = central_difference(Wv, k, h, dy, fwd);
      const double grad = static_cast<double>(dW_r[k]) - dW0[k];  // the accumulated part
      ASSERT_NEAR(grad, fd.value, fd.round_tol + 4 * kU * (std::fabs(dW_r[k]) + std::fabs(dW0[k]))) << "dW " << k;
    }
    for (size_t k = 0; k < bv.size(); ++k) {
      Fd fd = central_difference(bv, k, h, dy, fwd);
      const double grad = static_cast<double>(db_r[k]) - db0[k];
      ASSERT_NEAR(grad, fd.value, fd.round_tol + 4 * kU * (std::fabs(db_r[k]) + std::fabs(db0[k]))) << "db " << k;
    }
  }
}

TEST(BackwardLinear, EmptyShapes) {
  std::vector<float> x(6, 1.0f), W(6, 1.0f), dy(4, 1.0f), dx(6, 5.0f), dW(6, 2.0f), db(2, 3.0f);
  // rows = 0: nothing accumulated, dx has no rows.
  linear_backward(test::ctx(), x.data(), 0, 3, W.data(), 2, dy.data(), dx.data(), dW.data(), db.data());
  EXPECT_EQ(dW, std::vector<float>(6, 2.0f));
  EXPECT_EQ(db, std::vector<float>(2, 3.0f));
  EXPECT_EQ(dx, std::vector<float>(6, 5.0f));
  // out = 0: dx = 0.
  linear_backward(test::ctx(), x.data(), 2, 3, W.data(), 0, dy.data(), dx.data(), nullptr, nullptr);
  EXPECT_EQ(dx, std::vector<float>(6, 0.0f));
}

// ---------------------------------------------------------------------------------------------- LayerNorm

TEST(BackwardLayerNorm, MatchesReferenceFiniteDifferencesAndThreadCounts) {
  uint64_t seed = 200;
  struct Shape {
    int64_t rows, dim;
  };
  for (float eps : {1e-12f, 1e-5f}) {
    for (Shape s : {Shape{1, 1}, Shape{1, 2}, Shape{3, 7}, Shape{5, 37}, Shape{67, 129}, Shape{701, 61}}) {
      for (bool with_gamma : {true, false}) {
        SCOPED_TRACE(testing::Message() << "rows " << s.rows << " dim " << s.dim << " eps " << eps << " gamma "
                                        << with_gamma);
        const size_t n = static_cast<size_t>(s.rows * s.dim);
        auto z = random_vec(n, seed++, 2.0f);
        for (size_t i = 0; i < n; ++i) z[i] += 3.0f;  // a mean away from 0
        auto dy = random_vec(n, seed++);
        auto g = random_vec(static_cast<size_t>(s.dim), seed++);
        auto beta = random_vec(static_cast<size_t>(s.dim), seed++);
        auto dg0 = random_vec(static_cast<size_t>(s.dim), seed++);
        auto db0 = random_vec(static_cast<size_t>(s.dim), seed++);
        const float* gp = with_gamma ? g.data() : nullptr;
        std::vector<float> dz_r(n), dg_r = dg0, db_r = db0;
        layernorm_backward_ref(z.data(), dy.data(), s.rows, s.dim, gp, eps, dz_r.data(), dg_r.data(), db_r.data());

        std::vector<float> dz1, dg1, db1;
        for (int threads : kThreads) {
          ThreadingContext ctx(threads);
          std::vector<float> dz(n), dg = dg0, db = db0;
          layernorm_backward(ctx, z.data(), dy.data(), s.rows, s.dim, gp, eps, dz.data(), dg.data(), db.data());
          if (threads == 1) {
            dz1 = dz, dg1 = dg, db1 = db;
            // Both in double, one rounding each; the reference sums the Jacobian (dim terms of size ~inv·|g|),
            // the kernel the closed form: they differ by a few ulps of the double sums, far below float's.
            const double tz = 1e-6;
            for (size_t i = 0; i < n; ++i) ASSERT_NEAR(dz[i], dz_r[i], tz * (1 + std::fabs(dz_r[i]))) << i;
            for (size_t i = 0; i < dg.size(); ++i) ASSERT_NEAR(dg[i], dg_r[i], 2 * kU * std::fabs(dg_r[i])) << i;
            for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], db_r[i], 2 * kU * std::fabs(db_r[i])) << i;
          } else {
            EXPECT_EQ(dz, dz1) << threads << " threads";
            EXPECT_EQ(dg, dg1) << threads << " threads";
            EXPECT_EQ(db, db1) << threads << " threads";
          }
        }
        // dz may alias dy.
        {
          std::vector<float> d = dy;
          layernorm_backward(test::ctx(), z.data(), d.data(), s.rows, s.dim, gp, eps, d.data(), nullptr, nullptr);
          EXPECT_EQ(d, dz1);
        }

        // Finite differences of L = Σ dy·layernorm_ref(z; gamma, beta) for small shapes. inv ≈ 1/2 here (std 2),
        // L''' ~ Σ|dy·γ|·inv³ (a few units per row), so with h = 2^-6 the truncation h²/6·L''' stays below ~1e-4
        // per row; dim = 1 and 2 are degenerate (ẑ constant, or ±1): the same bounds hold.
        if (n > 400) continue;
        std::vector<float> zv = z, gv = g, bv = beta;
        auto fwd = [&](std::vector<float>& y) {
          layernorm_ref(zv.data(), nullptr, nullptr, y.data(), s.rows, s.dim, with_gamma ? gv.data() : nullptr,
                        bv.data(), eps);
        };
        const double h = 1.0 / 64;
        const double trunc = 2e-4;
        for (size_t k = 0; k < zv.size(); ++k) {
          Fd fd = central_difference(zv, k, h, dy, fwd);
          ASSERT_NEAR(dz_r[k], fd.value, fd.round_tol + trunc) << "dz " << k;
        }
        for (size_t k = 0; k < gv.size() && with_gamma; ++k) {
          Fd fd = central_difference(gv, k, h, dy, fwd);  // linear in gamma: no truncation error
          const double grad = static_cast<double>(dg_r[k]) - dg0[k];
          ASSERT_NEAR(grad, fd.value, fd.round_tol + 4 * kU * (std::fabs(dg_r[k]) + std::fabs(dg0[k]))) << "dg " << k;
        }
        for (size_t k = 0; k < bv.size(); ++k) {
          Fd fd = central_difference(bv, k, h, dy, fwd);
          const double grad = static_cast<double>(db_r[k]) - db0[k];
          ASSERT_NEAR(grad, fd.value, fd.round_tol + 4 * kU * (std::fabs(db_r[k]) + std::fabs(db0[k]))) << "db " << k;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------- activations

namespace {
const Activation kAllActivations[] = {Activation::Gelu,         Activation::Gelu10,     Activation::GeluFast,
                                      Activation::GeluNew,      Activation::GeluPython, Activation::GeluPytorchTanh,
                                      Activation::GeluAccurate, Activation::Laplace,    Activation::Linear,
                                      Activation::Mish,         Activation::QuickGelu,  Activation::Relu,
                                      Activation::Relu2,        Activation::Relu6,      Activation::Sigmoid,
                                      Activation::Silu,         Activation::Swish,      Activation::Tanh};

// Points where act is not differentiable (or its clip starts): FD is skipped within 2h of them.
bool near_kink(Activation a, double x, double h) {
  switch (a) {
    case Activation::Relu:
    case Activation::Relu2: return std::fabs(x) < 2 * h;
    case Activation::Relu6: return std::fabs(x) < 2 * h || std::fabs(x - 6) < 2 * h;
    case Activation::Gelu10: return std::fabs(x - 10) < 2 * h;
    default: return false;
  }
}
}  // namespace

TEST(BackwardActivations, DerivativeMatchesFiniteDifferencesEverywhere) {
  // act is evaluated by `activate` (double, rounded once to float). Step h = 2^-8 around x:
  // rounding ≤ (|y+| + |y-|)·2^-24/step ≈ 1.5e-5·|y|; truncation h²/6·|act'''| ≤ 2.6e-6·|act'''|, and |act'''| ≤ 3
  // for the GELU family, mish, silu, tanh, sigmoid on these points, but up to ~1/σ³·0.9 ≈ 40 for laplace (σ = 0.28):
  // 1e-4 for laplace, 1e-5 otherwise, plus the rounding bound.
  const double h = 1.0 / 256;
  for (Activation a : kAllActivations) {
    const double trunc = a == Activation::Laplace ? 1e-4 : 1e-5;
    int checked = 0;
    for (double x = -14.0; x <= 14.0; x += 0.0371) {
      if (near_kink(a, x, h)) continue;
      const float xf = static_cast<float>(x);
      const float xp = static_cast<float>(xf + h), xm = static_cast<float>(xf - h);
      const double yp = activate(a, xp), ym = activate(a, xm);
      const double step = static_cast<double>(xp) - xm;
      const double fd = (yp - ym) / step;
      const double tol = (std::fabs(yp) + std::fabs(ym)) * kU / step + trunc;
      ASSERT_NEAR(activate_derivative(a, xf), fd, tol) << "activation " << static_cast<int>(a) << " at " << xf;
      ++checked;
    }
    EXPECT_GT(checked, 700);
  }
}

TEST(BackwardActivations, KnownValuesAndTorchConventionsAtKinks) {
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::Gelu, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::GeluNew, 0.0), 0.5);
  EXPECT_NEAR(activate_derivative(Activation::Gelu, 1.0), 0.8413447460685429 + 0.24197072451914337, 1e-15);
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::Sigmoid, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::Silu, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::Tanh, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(activate_derivative(Activation::Linear, -3.0), 1.0);
  EXPECT_NEAR(activate_derivative(Activation::Mish, 0.0), std::tanh(std::log(2.0)), 1e-15);
  EXPECT_NEAR(activate_derivative(Activation::QuickGelu, 0.0), 0.5, 1e-15);
  // torch: relu'(0) = 0, hardtanh (relu6) passes gradient on the open interval only, clamp (gelu_10) on the closed.
  EXPECT_EQ(activate_derivative(Activation::Relu, 0.0), 0.0);
  EXPECT_EQ(activate_derivative(Activation::Relu, 1e-30), 1.0);
  EXPECT_EQ(activate_derivative(Activation::Relu2, 0.0), 0.0);
  EXPECT_EQ(activate_derivative(Activation::Relu2, 3.0), 6.0);
  EXPECT_EQ(activate_derivative(Activation::Relu6, 0.0), 0.0);
  EXPECT_EQ(activate_derivative(Activation::Relu6, 6.0), 0.0);
  EXPECT_EQ(activate_derivative(Activation::Relu6, 3.0), 1.0);
  EXPECT_EQ(activate_derivative(Activation::Gelu10, 11.0), 0.0);
  EXPECT_NEAR(activate_derivative(Activation::Gelu10, 9.0), 1.0, 1e-15);
  EXPECT_NEAR(activate_derivative(Activation::Gelu10, -12.0), 0.0, 1e-30);  // gelu ≥ -0.17: never clipped below
  // Far tails stay finite.
  for (Activation a : kAllActivations)
    for (double x : {-80.0, -30.0, 30.0, 80.0}) EXPECT_TRUE(std::isfinite(activate_derivative(a, x))) << x;
}

TEST(BackwardActivations, KernelEqualsDerivativeTimesGradAtAnyThreadCount) {
  const int64_t n = 3 * 4096 * 4 + 123;  // several pieces, parallel above 32768
  auto x = random_vec(static_cast<size_t>(n), 300, 3.0f);
  auto dy = random_vec(static_cast<size_t>(n), 301);
  for (Activation a : kAllActivations) {
    std::vector<float> first;
    for (int threads : kThreads) {
      ThreadingContext ctx(threads);
      std::vector<float> dx(static_cast<size_t>(n));
      activation_backward(ctx, a, x.data(), dy.data(), dx.data(), n);
      if (threads == 1) {
        first = dx;
        std::vector<float> ref(static_cast<size_t>(n));
        activation_backward_ref(a, x.data(), dy.data(), ref.data(), n);
        // The GELU family's float32 derivatives stay within the bound activations.h states
        // (tests/test_kernels.cpp sweeps it on every SIMD path); the others are the reference.
        bool simd = true;
        switch (a) {
          case Activation::Gelu:
          case Activation::GeluPython:
          case Activation::GeluNew:
          case Activation::GeluPytorchTanh:
          case Activation::GeluAccurate:
          case Activation::GeluFast: break;
          default: simd = false;
        }
        for (int64_t i = 0; i < n; ++i) {
          const double tol = simd ? (kGeluGradAbsTol + kGeluGradRelTol * std::fabs(activate_derivative(a, x[i]))) *
                                            std::fabs(dy[i]) +
                                        std::ldexp(std::fabs(ref[i]), -24)
                                  : 0.0;
          ASSERT_NEAR(dx[i], ref[i], tol) << "activation " << static_cast<int>(a) << " at " << x[i];
          if (!simd) ASSERT_EQ(dx[i], static_cast<float>(static_cast<double>(dy[i]) * activate_derivative(a, x[i])));
        }
      } else {
        EXPECT_EQ(dx, first) << threads << " threads";
      }
    }
    std::vector<float> d = dy;  // dx may alias dy
    activation_backward(test::ctx(), a, x.data(), d.data(), d.data(), n);
    EXPECT_EQ(d, first);
  }
}

// ---------------------------------------------------------------------------------------------- embedding

TEST(BackwardEmbedding, AddsRowsInOrderSkipsPaddingAtAnyThreadCount) {
  const int64_t vocab = 11, dim = 131, rows = 301;  // 131 columns: three column chunks
  std::vector<int64_t> ids(static_cast<size_t>(rows));
  std::mt19937_64 rng(400);
  for (auto& id : ids) id = static_cast<int64_t>(rng() % vocab);
  ids[0] = ids[5] = ids[17] = 1;  // padding rows, repeated
  auto dy = random_vec(static_cast<size_t>(rows * dim), 401);
  auto table0 = random_vec(static_cast<size_t>(vocab * dim), 402);
  for (int64_t padding : {-1, 1}) {
    // Expected: row by row float adds in row order (as PyTorch's CPU kernel).
    std::vector<float> expect = table0;
    for (int64_t r = 0; r < rows; ++r) {
      if (ids[static_cast<size_t>(r)] == padding) continue;
      for (int64_t c = 0; c < dim; ++c)
        expect[static_cast<size_t>(ids[static_cast<size_t>(r)] * dim + c)] += dy[static_cast<size_t>(r * dim + c)];
    }
    for (int threads : kThreads) {
      ThreadingContext ctx(threads);
      std::vector<float> table = table0;
      embedding_backward(ctx, ids.data(), rows, dy.data(), dim, table.data(), padding);
      EXPECT_EQ(table, expect) << threads << " threads, padding " << padding;
    }
    if (padding == 1) {
      std::vector<float> table = table0;
      embedding_backward(test::ctx(), ids.data(), rows, dy.data(), dim, table.data(), padding);
      for (int64_t c = 0; c < dim; ++c)
        EXPECT_EQ(table[static_cast<size_t>(dim + c)], table0[static_cast<size_t>(dim + c)]);
    }
  }
  // Against a double sum (the gradient of Σ dy·table[ids]): float adds of ≤ rows terms.
  std::vector<double> sum(static_cast<size_t>(vocab * dim), 0.0);
  std::vector<float> table(static_cast<size_t>(vocab * dim), 0.0f);
  embedding_backward(test::ctx(), ids.data(), rows, dy.data(), dim, table.data(), -1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dim; ++c)
      sum[static_cast<size_t>(ids[static_cast<size_t>(r)] * dim + c)] += dy[static_cast<size_t>(r * dim + c)];
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_NEAR(table[i], sum[i], rows * kU * 4 * (1 + std::fabs(sum[i])));
  // A negative id that is not the padding index.
  ids[3] = -2;
  EXPECT_THROW(embedding_backward(test::ctx(), ids.data(), rows, dy.data(), dim, table.data(), -1), Error);
}

// ---------------------------------------------------------------------------------------------- losses

namespace {
// Central difference of a loss in float inputs (loss returned as float): step 2^-8 on values of order 1.
double loss_fd(std::vector<float>& v, size_t k, const std::function<float()>& loss, double& round_tol) {
  const double h = 1.0 / 256;
  const float orig = v[k];
  v[k] = static_cast<float>(orig + h);
  const double xp = v[k];
  const double lp = loss();
  v[k] = static_cast<float>(orig - h);
  const double xm = v[k];
  const double lm = loss();
  v[k] = orig;
  round_tol = (std::fabs(lp) + std::fabs(lm)) * kU / (xp - xm);
  return (lp - lm) / (xp - xm);
}
}  // namespace

TEST(BackwardLosses, CrossEntropyValueGradientIgnoreIndexAndBadLabel) {
  const int64_t rows = 7, classes = 5;
  auto logits = random_vec(static_cast<size_t>(rows * classes), 500, 2.0f);
  std::vector<int64_t> labels = {0, 4, -100, 2, 3, -100, 1};
  // Value: mean over the 5 labelled rows of logsumexp - logit[label], computed here directly.
  double expect = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (labels[static_cast<size_t>(r)] == -100) continue;
    double s = 0;
    for (int64_t c = 0; c < classes; ++c)
      s += std::exp(static_cast<double>(logits[static_cast<size_t>(r * classes + c)]));
    expect += std::log(s) - logits[static_cast<size_t>(r * classes + labels[static_cast<size_t>(r)])];
  }
  expect /= 5;
  std::vector<float> d(logits.size(), 9.0f);
  const float loss = cross_entropy_loss(logits.data(), rows, classes, labels.data(), d.data());
  EXPECT_NEAR(loss, expect, 2 * kU * std::fabs(expect) + 1e-12);
  EXPECT_EQ(cross_entropy_loss(logits.data(), rows, classes, labels.data(), nullptr), loss);
  // Gradient vs FD. L'' ≤ 1/4 per logit, L''' ≤ ~0.1: truncation (2^-8)²/6·0.1 < 2e-7.
  for (size_t k = 0; k < logits.size(); ++k) {
    double rt;
    const double fd = loss_fd(
        logits, k, [&] { return cross_entropy_loss(logits.data(), rows, classes, labels.data(), nullptr); }, rt);
    ASSERT_NEAR(d[k], fd, rt + 1e-6) << k;
  }
  for (int64_t c = 0; c < classes; ++c) {
    EXPECT_EQ(d[static_cast<size_t>(2 * classes + c)], 0.0f);
    EXPECT_EQ(d[static_cast<size_t>(5 * classes + c)], 0.0f);
  }
  // Each labelled row's gradient sums to 0 and is (softmax - onehot)/count.
  for (int64_t r : {0, 1, 3, 4, 6}) {
    double s = 0;
    for (int64_t c = 0; c < classes; ++c) s += d[static_cast<size_t>(r * classes + c)];
    EXPECT_NEAR(s, 0.0, 1e-7);
  }
  // Huge logits stay finite (log-sum-exp with the max taken out).
  std::vector<float> big = {1000.0f, -1000.0f, 0.0f};
  std::vector<int64_t> l1 = {1};
  std::vector<float> db(3);
  EXPECT_NEAR(cross_entropy_loss(big.data(), 1, 3, l1.data(), db.data()), 2000.0f, 1e-3);
  EXPECT_NEAR(db[0], 1.0f, 1e-7);
  EXPECT_NEAR(db[1], -1.0f, 1e-7);
  // dlogits may alias logits.
  std::vector<float> alias = logits;
  EXPECT_EQ(cross_entropy_loss(alias.data(), rows, classes, labels.data(), alias.data()), loss);
  EXPECT_EQ(alias, d);
  // No labelled row: 0 and a zero gradient (torch: nan).
  std::vector<int64_t> none(static_cast<size_t>(rows), -100);
  std::vector<float> dz(logits.size(), 3.0f);
  EXPECT_EQ(cross_entropy_loss(logits.data(), rows, classes, none.data(), dz.data()), 0.0f);
  EXPECT_EQ(dz, std::vector<float>(logits.size(), 0.0f));
  // A bad label: an error naming the row and the value.
  for (int64_t bad : {int64_t{5}, int64_t{-1}, int64_t{-99}}) {
    std::vector<int64_t> l = labels;
    l[4] = bad;
    try {
      cross_entropy_loss(logits.data(), rows, classes, l.data(), nullptr);
      FAIL() << "no error for label " << bad;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("row 4"), std::string::npos) << m;
      EXPECT_NE(m.find("label " + std::to_string(bad)), std::string::npos) << m;
    }
  }
}

TEST(BackwardLosses, MseValueAndGradient) {
  const int64_t n = 13;
  auto p = random_vec(n, 600), t = random_vec(n, 601);
  double expect = 0;
  for (int64_t i = 0; i < n; ++i)
    expect += std::pow(static_cast<double>(p[static_cast<size_t>(i)]) - t[static_cast<size_t>(i)], 2);
  expect /= n;
  std::vector<float> d(n);
  const float loss = mse_loss(p.data(), t.data(), n, d.data());
  EXPECT_NEAR(loss, expect, 2 * kU * expect);
  for (size_t k = 0; k < p.size(); ++k) {
    double rt;  // quadratic: no truncation error
    const double fd = loss_fd(
        p, k, [&] { return mse_loss(p.data(), t.data(), n, nullptr); }, rt);
    ASSERT_NEAR(d[k], fd, rt + 2 * kU * std::fabs(fd)) << k;
    EXPECT_NEAR(d[k], 2.0 * (p[k] - t[k]) / n, 2 * kU * std::fabs(d[k]));
  }
  EXPECT_EQ(mse_loss(p.data(), t.data(), 0, nullptr), 0.0f);
}

TEST(BackwardLosses, BceWithLogitsValueGradientAndStability) {
  const int64_t n = 17;
  auto x = random_vec(n, 700, 3.0f);
  std::vector<float> t(n);
  for (int64_t i = 0; i < n; ++i) t[static_cast<size_t>(i)] = i % 3 == 0 ? 1.0f : (i % 3 == 1 ? 0.0f : 0.25f);
  double expect = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(x[static_cast<size_t>(i)])));
    expect += -(t[static_cast<size_t>(i)] * std::log(s) + (1 - t[static_cast<size_t>(i)]) * std::log(1 - s));
  }
  expect /= n;
  std::vector<float> d(n);
  const float loss = bce_with_logits_loss(x.data(), t.data(), n, d.data());
  EXPECT_NEAR(loss, expect, 1e-12 + 2 * kU * expect);
  // L'' = σ(1-σ)/n ≤ 1/(4n), L''' ≤ 0.1/n: truncation < 1e-7.
  for (size_t k = 0; k < x.size(); ++k) {
    double rt;
    const double fd = loss_fd(
        x, k, [&] { return bce_with_logits_loss(x.data(), t.data(), n, nullptr); }, rt);
    ASSERT_NEAR(d[k], fd, rt + 1e-6) << k;
  }
  // Large logits: finite, the log-sum-exp form (log(1+e^-|x|) + max(x,0) - x·t).
  std::vector<float> big = {200.0f, -200.0f}, tb = {0.0f, 1.0f};
  std::vector<float> dbig(2);
  EXPECT_NEAR(bce_with_logits_loss(big.data(), tb.data(), 2, dbig.data()), 200.0f, 1e-4);
  EXPECT_NEAR(dbig[0], 0.5f, 1e-7);
  EXPECT_NEAR(dbig[1], -0.5f, 1e-7);
}
