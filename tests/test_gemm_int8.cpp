// The int8 product (kernels/gemm_int8.h): every unit against the scalar reference bit for bit,
// thread-count and row-chunking identity, the quantisation error against float32, the
// quantiser's rounding, and the edge cases (zeros, NaN/Inf, tiny rows, widths up to 65536).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "kernels/gemm_int8.h"
#include "kernels/linear.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::random_vec;

namespace {

constexpr Int8Unit kUnits[] = {Int8Unit::Avx512Vnni, Int8Unit::Avx2, Int8Unit::Scalar};

// Index of the first float whose bits differ (n when none).
size_t first_bit_difference(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0) return i;
  return n;
}

// Every shape of the brief, with and without bias, =|+=, misaligned x and y: linear_int8 on
// `unit` must give linear_int8_ref's bits.
void expect_unit_equals_reference(Int8Unit unit) {
  uint64_t seed = 300;
  for (int64_t rows : {1, 5, 7, 128, 130, 200}) {
    for (int64_t in : {1, 3, 4, 17, 64, 300}) {
      for (int64_t out : {1, 16, 63, 64, 100}) {
        auto x = random_vec(static_cast<size_t>(rows * in + 1), seed++);
        auto W = random_vec(static_cast<size_t>(out * in), seed++, 0.1f);
        auto b = random_vec(static_cast<size_t>(out), seed++);
        auto y0 = random_vec(static_cast<size_t>(rows * out + 1), seed++);  // what accumulate adds to
        const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W.data(), out, in);
        for (bool with_bias : {true, false}) {
          for (bool accumulate : {false, true}) {
            const float* bias = with_bias ? b.data() : nullptr;
            std::vector<float> y = y0, r(y0.begin() + 1, y0.end());
            linear_int8(test::ctx(), x.data() + 1, rows, pw, bias, y.data() + 1, accumulate, unit);
            linear_int8_ref(x.data() + 1, rows, W.data(), in, out, bias, r.data(), accumulate);
            const size_t i = first_bit_difference(y.data() + 1, r.data(), r.size());
            ASSERT_EQ(i, r.size()) << int8_unit_name(unit) << " " << rows << "x" << in << "x" << out
                                   << " bias " << with_bias << " accumulate " << accumulate << ": at " << i << " "
                                   << y[i + 1] << " vs " << r[i];
            EXPECT_EQ(y[0], y0[0]);  // nothing written before y
          }
        }
      }
    }
  }
}

}  // namespace

TEST(LinearInt8, UnitsAndNames) {
  EXPECT_STREQ(int8_unit_name(Int8Unit::Avx512Vnni), "avx512_vnni");
  EXPECT_STREQ(int8_unit_name(Int8Unit::Avx2), "avx2");
  EXPECT_STREQ(int8_unit_name(Int8Unit::Scalar), "scalar");
  const Int8Unit best = resolve_int8_unit();
  EXPECT_NE(best, Int8Unit::Auto);
  EXPECT_TRUE(int8_unit_supported(best));
  EXPECT_EQ(resolve_int8_unit(Int8Unit::Scalar), Int8Unit::Scalar);
  std::printf("  int8 unit here: %s (avx512_vnni %s, avx2 %s)\n", int8_unit_name(best),
              int8_vnni_supported() ? "yes" : "no", int8_avx2_supported() ? "yes" : "no");
  for (Int8Unit u : kUnits)
    if (!int8_unit_supported(u)) {
      EXPECT_THROW(resolve_int8_unit(u), Error);
    }
}

TEST(LinearInt8, VnniEqualsReferenceBitForBit) {
  if (!int8_vnni_supported()) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  expect_unit_equals_reference(Int8Unit::Avx512Vnni);
}

TEST(LinearInt8, Avx2EqualsReferenceBitForBit) {
  if (!int8_avx2_supported()) GTEST_SKIP() << "no AVX2 on this CPU";
  expect_unit_equals_reference(Int8Unit::Avx2);
}

TEST(LinearInt8, ScalarEqualsReferenceBitForBit) { expect_unit_equals_reference(Int8Unit::Scalar); }

TEST(LinearInt8, ThreadCountAndRowChunkingDoNotChangeBits) {
  // 300 rows: three 128-row chunks, the last one short; 1 vs 2 threads, and the rows given in
  // two calls split inside a chunk, must all give the same bits on every unit.
  const int64_t rows = 300, in = 300, out = 100, split = 77;
  auto x = random_vec(static_cast<size_t>(rows * in), 11), W = random_vec(static_cast<size_t>(out * in), 12);
  auto b = random_vec(static_cast<size_t>(out), 13);
  const PackedWeightInt8 pw = pack_weight_int8(ThreadingContext(1), W.data(), out, in);
  const PackedWeightInt8 pw2 = pack_weight_int8(ThreadingContext(2), W.data(), out, in);
  EXPECT_EQ(pw.panels, pw2.panels);
  EXPECT_EQ(pw.colsum, pw2.colsum);
  EXPECT_EQ(std::memcmp(pw.scale.data(), pw2.scale.data(), pw.scale.size() * sizeof(float)), 0);
  std::vector<float> ref(static_cast<size_t>(rows * out));
  linear_int8_ref(x.data(), rows, W.data(), in, out, b.data(), ref.data());
  for (Int8Unit unit : kUnits) {
    if (!int8_unit_supported(unit)) {
      std::printf("  note: no %s unit on this CPU, not tested\n", int8_unit_name(unit));
      continue;
    }
    std::vector<float> y1(ref.size()), y2(ref.size()), ys(ref.size());
    linear_int8(ThreadingContext(1), x.data(), rows, pw, b.data(), y1.data(), false, unit);
    linear_int8(ThreadingContext(2), x.data(), rows, pw2, b.data(), y2.data(), false, unit);
    linear_int8(ThreadingContext(2), x.data(), split, pw, b.data(), ys.data(), false, unit);
    linear_int8(ThreadingContext(2), x.data() + split * in, rows - split, pw, b.data(), ys.data() + split * out,
                false, unit);
    EXPECT_EQ(first_bit_difference(y1.data(), y2.data(), y1.size()), y1.size()) << int8_unit_name(unit);
    EXPECT_EQ(first_bit_difference(y1.data(), ys.data(), y1.size()), y1.size()) << int8_unit_name(unit);
    EXPECT_EQ(first_bit_difference(y1.data(), ref.data(), y1.size()), y1.size()) << int8_unit_name(unit);
  }
}

TEST(LinearInt8, ErrorAgainstFloat32WithinQuantisationBound) {
  // x_k = s_x·q_k + e_k with |e_k| ≤ s_x/2 (w alike, s_w/2), so per term
  // |x_k·w_k − s_x·q_k·s_w·p_k| ≤ max|x|·s_w/2 + max|W_n|·s_x/2 + s_x·s_w/4; summed over `in`.
  // Factor 1.001: inv = 127/amax and x·inv are float32 (q off by ≤ ~3e-5 beyond the half step);
  // slack 1e-4·Σ|x_k·w_k|: float32 rounding of the reference, of float(dot) and the epilogue.
  // Relative RMS error: rounding noise of variance s²/12 on both inputs, so
  //   rel² ≈ mean(s_x²)/12 / mean(x²) + mean(s_w²)/12 / mean(w²)
  // — about 1.07e-2 on Gaussian data of width 768, whose rows' largest magnitude is ~3.3σ
  // (127 steps over ±3.3σ: 0.026σ a step). The error must not exceed that prediction by more
  // than 10%, nor 1.5e-2.
  const int64_t rows = 64, in = 768, out = 256;
  auto x = random_vec(static_cast<size_t>(rows * in), 1), W = random_vec(static_cast<size_t>(out * in), 2, 0.05f);
  auto b = random_vec(static_cast<size_t>(out), 3);
  const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W.data(), out, in);
  std::vector<float> y(static_cast<size_t>(rows * out)), r(y.size());
  linear_int8(test::ctx(), x.data(), rows, pw, b.data(), y.data());
  linear_ref(x.data(), rows, in, W.data(), b.data(), out, r.data());
  std::vector<double> mx(static_cast<size_t>(rows)), mw(static_cast<size_t>(out));
  double x2 = 0, w2 = 0, sx2 = 0, sw2 = 0;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t k = 0; k < in; ++k) {
      const double v = x[i * in + k];
      mx[i] = std::max(mx[i], std::fabs(v)), x2 += v * v / (rows * in);
    }
    sx2 += (mx[i] / 127) * (mx[i] / 127) / rows;
  }
  for (int64_t n = 0; n < out; ++n) {
    for (int64_t k = 0; k < in; ++k) {
      const double v = W[n * in + k];
      mw[n] = std::max(mw[n], std::fabs(v)), w2 += v * v / (out * in);
    }
    sw2 += (mw[n] / 127) * (mw[n] / 127) / out;
  }
  double err = 0, norm = 0, worst = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const double sx = mx[i] / 127;
    for (int64_t n = 0; n < out; ++n) {
      double abs_sum = 0;
      for (int64_t k = 0; k < in; ++k) abs_sum += std::fabs(static_cast<double>(x[i * in + k]) * W[n * in + k]);
      const double sw = mw[n] / 127;
      const double bound = 1.001 * in * (sx / 2 * mw[n] + sw / 2 * mx[i] + sx * sw / 4) + 1e-4 * abs_sum;
      const double e = std::fabs(static_cast<double>(y[i * out + n]) - r[i * out + n]);
      ASSERT_LE(e, bound) << "row " << i << " col " << n;
      worst = std::max(worst, e / bound);
      const double yr = r[i * out + n] - b[n];  // the product alone
      err += e * e, norm += yr * yr;
    }
  }
  const double rel = std::sqrt(err / norm), predicted = std::sqrt(sx2 / 12 / x2 + sw2 / 12 / w2);
  std::printf("  int8 product (%s), width 768: relative RMS error vs float32 %.3e (predicted %.3e); worst error "
              "%.2f of the bound\n",
              int8_unit_name(resolve_int8_unit()), rel, predicted, worst);
  EXPECT_LT(rel, 1.1 * predicted);
  EXPECT_LT(rel, 1.5e-2);
}

TEST(LinearInt8, QuantizerRoundsToNearestEvenAndClamps) {
  int8_t q[8];
  float s;
  const float a[] = {1.0f, -0.5f, 0.25f};  // ·127: 127, -63.5 → -64 (even), 31.75 → 32
  quantize_row_int8(a, 3, q, &s);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -64);
  EXPECT_EQ(q[2], 32);
  EXPECT_EQ(s, 1.0f / 127.0f);
  const float ties[] = {127.0f, 62.5f, 1.5f, 2.5f, -0.5f, -127.0f};  // inv = 1: exact ties
  quantize_row_int8(ties, 6, q, &s);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], 62);
  EXPECT_EQ(q[2], 2);
  EXPECT_EQ(q[3], 2);
  EXPECT_EQ(q[4], 0);
  EXPECT_EQ(q[5], -127);
  EXPECT_EQ(s, 1.0f);
  const float zeros[] = {0.0f, -0.0f, 0.0f};
  quantize_row_int8(zeros, 3, q, &s);
  EXPECT_EQ(s, 0.0f);
  EXPECT_EQ(q[0] | q[1] | q[2], 0);
  const float tiny[] = {1e-38f, -5e-39f};  // 127/1e-38 overflows: counts as zeros
  quantize_row_int8(tiny, 2, q, &s);
  EXPECT_EQ(s, 0.0f);
  EXPECT_EQ(q[0] | q[1], 0);
  const float small[] = {1e-36f, -1e-36f};  // 127/1e-36 is finite
  quantize_row_int8(small, 2, q, &s);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -127);
  EXPECT_GT(s, 0.0f);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const float v[] = {1.0f, bad, 2.0f};
    q[0] = q[1] = q[2] = 5;
    quantize_row_int8(v, 3, q, &s);
    EXPECT_TRUE(std::isnan(s)) << bad;
    EXPECT_EQ(q[0] | q[1] | q[2], 0) << bad;
  }
}

TEST(LinearInt8, PackedWeightLayoutAndScales) {
  // Channel 0: {1, -0.5, 0.25, 0, 0.5} → q {127, -64, 32, 0, 64}, s_w = 1/127, colsum 159;
  // channel 1: zeros → q 0, s_w = 1, colsum 0.
  const float W[] = {1.0f, -0.5f, 0.25f, 0.0f, 0.5f, 0, 0, 0, 0, 0};
  const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W, 2, 5);
  ASSERT_EQ(pw.panels.size(), 2u * 64u);  // one panel, 2 quads, 64 columns
  EXPECT_EQ(pw.panels[0], 0x0020c07fu);   // 127, -64 (0xc0), 32, 0
  EXPECT_EQ(pw.panels[64], 0x00000040u);  // 64, then the tail's zero weights
  EXPECT_EQ(pw.panels[1], 0u);
  EXPECT_EQ(pw.scale[0], 1.0f / 127.0f);
  EXPECT_EQ(pw.scale[1], 1.0f);
  EXPECT_EQ(pw.colsum[0], 159);
  EXPECT_EQ(pw.colsum[1], 0);
  // A channel holding Inf (or NaN): q = 0, s_w = NaN, so that column's outputs are NaN; a channel
  // too small for 127/max counts as zeros (s_w = 1), so its outputs are the bias.
  const float inf = std::numeric_limits<float>::infinity();
  const float W3[] = {1.0f, 2.0f, 0.5f, -inf, 1e-38f, -1e-38f};
  const PackedWeightInt8 p3 = pack_weight_int8(test::ctx(), W3, 3, 2);
  EXPECT_TRUE(std::isnan(p3.scale[1]));
  EXPECT_EQ(p3.colsum[1], 0);
  EXPECT_EQ(p3.scale[2], 1.0f);
  EXPECT_EQ(p3.colsum[2], 0);
  const float x[] = {0.5f, -1.0f}, b[] = {0.25f, 0.5f, 0.75f};
  for (Int8Unit unit : kUnits) {
    if (!int8_unit_supported(unit)) continue;
    float y[3];
    linear_int8(test::ctx(), x, 1, p3, b, y, false, unit);
    EXPECT_NEAR(y[0], 0.5f * 1.0f - 2.0f + 0.25f, 0.02f) << int8_unit_name(unit);
    EXPECT_TRUE(std::isnan(y[1])) << int8_unit_name(unit);
    EXPECT_EQ(y[2], 0.75f) << int8_unit_name(unit);
  }
}

TEST(LinearInt8, ZeroConstantAndNonFiniteRows) {
  // Row 0 zeros → bias exactly (and y + bias accumulating); row 1 constant; row 2 holds a NaN
  // and row 4 an Inf → NaN across those rows only; the other rows are the bits they have
  // when computed without the bad rows. A zero weight channel (5) gives bias exactly.
  const int64_t rows = 9, in = 37, out = 70;
  auto x = random_vec(static_cast<size_t>(rows * in), 21), W = random_vec(static_cast<size_t>(out * in), 22);
  auto b = random_vec(static_cast<size_t>(out), 23);
  for (int64_t k = 0; k < in; ++k) x[k] = 0.0f, x[in + k] = 0.37f, W[5 * in + k] = 0.0f;
  x[2 * in + 30] = std::numeric_limits<float>::quiet_NaN();
  x[4 * in + 3] = -std::numeric_limits<float>::infinity();
  const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W.data(), out, in);
  std::vector<float> r(static_cast<size_t>(rows * out));
  linear_int8_ref(x.data(), rows, W.data(), in, out, b.data(), r.data());
  auto good_row = [](int64_t i) { return i != 2 && i != 4; };
  for (Int8Unit unit : kUnits) {
    if (!int8_unit_supported(unit)) {
      std::printf("  note: no %s unit on this CPU, not tested\n", int8_unit_name(unit));
      continue;
    }
    SCOPED_TRACE(int8_unit_name(unit));
    std::vector<float> y(r.size()), acc(r.size(), 2.0f);
    linear_int8(test::ctx(), x.data(), rows, pw, b.data(), y.data(), false, unit);
    linear_int8(test::ctx(), x.data(), rows, pw, b.data(), acc.data(), true, unit);
    for (int64_t n = 0; n < out; ++n) {
      EXPECT_EQ(y[n], b[n]);
      EXPECT_EQ(acc[n], 2.0f + b[n]);
      for (int64_t i = 0; i < rows; ++i) {
        const float v = y[i * out + n];
        if (!good_row(i)) {
          EXPECT_TRUE(std::isnan(v)) << i << " " << n;
          EXPECT_TRUE(std::isnan(r[i * out + n])) << i << " " << n;
        } else {
          EXPECT_TRUE(std::isfinite(v)) << i << " " << n;
          EXPECT_EQ(first_bit_difference(&v, &r[i * out + n], 1), 1u) << i << " " << n;
          if (n == 5) {
            EXPECT_EQ(v, b[n]) << i;
          }
        }
      }
    }
    // The good rows alone: the same bits.
    for (int64_t i = 0; i < rows; ++i) {
      if (!good_row(i)) continue;
      std::vector<float> one(static_cast<size_t>(out));
      linear_int8(test::ctx(), x.data() + i * in, 1, pw, b.data(), one.data(), false, unit);
      EXPECT_EQ(first_bit_difference(one.data(), y.data() + i * out, one.size()), one.size()) << i;
    }
    // The constant row: every q is 127, so y = float(127·colsum)·(c/127·s_w) + b ≈ c·Σ_k W.
    for (int64_t n = 0; n < out; ++n) {
      double s = 0;
      for (int64_t k = 0; k < in; ++k) s += W[n * in + k];
      EXPECT_NEAR(y[out + n], 0.37 * s + b[n], 0.37 * in * pw.scale[n] / 2 + 1e-5) << n;
    }
  }
}

TEST(LinearInt8, WidthOneAndEmptyShapes) {
  // in = 1: |q| = 127 on both sides, so y = x·w up to float32 rounding of the scales.
  const int64_t rows = 5, out = 3;
  const float x[] = {0.5f, -2.0f, 3.25f, 0.0f, 1e-3f}, W[] = {1.5f, -0.25f, 7.0f};
  const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W, out, 1);
  for (Int8Unit unit : kUnits) {
    if (!int8_unit_supported(unit)) continue;
    std::vector<float> y(static_cast<size_t>(rows * out));
    linear_int8(test::ctx(), x, rows, pw, nullptr, y.data(), false, unit);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t n = 0; n < out; ++n)
        EXPECT_NEAR(y[i * out + n], x[i] * W[n], 1e-6 * std::fabs(x[i] * W[n])) << int8_unit_name(unit);
    // rows = 0 and out = 0 write nothing.
    std::vector<float> z(4, 9.0f);
    linear_int8(test::ctx(), x, 0, pw, nullptr, z.data(), false, unit);
    linear_int8(test::ctx(), x, 4, pack_weight_int8(test::ctx(), W, 0, 1), nullptr, z.data(), false, unit);
    EXPECT_EQ(z, std::vector<float>(4, 9.0f));
  }
}

TEST(LinearInt8, WidestInputStaysExactAndWiderIsRefused) {
  // in = 65536, the worst case for the int32 sums: u = 255 against w = -127 everywhere
  // (Σ u·w = -2.12e9 > -2^31), and alternating signs. Every unit gives the reference's bits.
  const int64_t in = 65536, rows = 2, out = 2;
  std::vector<float> x(static_cast<size_t>(rows * in)), W(static_cast<size_t>(out * in));
  for (int64_t k = 0; k < in; ++k) {
    x[k] = 1.0f, x[in + k] = (k % 2) ? -3.0f : 3.0f;
    W[k] = -1.0f, W[in + k] = (k % 2) ? 0.5f : -0.5f;
  }
  const PackedWeightInt8 pw = pack_weight_int8(test::ctx(), W.data(), out, in);
  EXPECT_EQ(pw.colsum[0], -127 * in);
  std::vector<float> r(static_cast<size_t>(rows * out));
  linear_int8_ref(x.data(), rows, W.data(), in, out, nullptr, r.data());
  EXPECT_EQ(r[0], static_cast<float>(-127 * 127 * in) * ((1.0f / 127.0f) * (1.0f / 127.0f)));
  EXPECT_NEAR(r[0], -in, 1e-6 * in);
  EXPECT_NEAR(r[3], -1.5 * in, 1e-6 * in);
  for (Int8Unit unit : kUnits) {
    if (!int8_unit_supported(unit)) continue;
    std::vector<float> y(r.size());
    linear_int8(test::ctx(), x.data(), rows, pw, nullptr, y.data(), false, unit);
    EXPECT_EQ(first_bit_difference(y.data(), r.data(), r.size()), r.size()) << int8_unit_name(unit);
  }
  std::vector<float> wide(static_cast<size_t>(in + 1), 1.0f);
  EXPECT_THROW(pack_weight_int8(test::ctx(), wide.data(), 1, in + 1), Error);
  EXPECT_NE(test::error_of([&] { pack_weight_int8(test::ctx(), wide.data(), 1, in + 1); }).find("65536"),
            std::string::npos);
}
