// LayerNorm (with the residual and bias adds fused in), GELU (erf and tanh forms, with the bias
// add fused in) and bias adds, written once over `Vec` (vec_*.h). Included inside a per-ISA
// namespace through kernel_table_impl.h. Row by row; callers split rows across threads.

inline void layernorm_rows_impl(const float* x, const float* res, const float* bias, float* y, int64_t rows,
                                int64_t dim, const float* gamma, const float* beta, float eps) {
  constexpr int W = Vec::W;
  using V = typename Vec::V;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    const float* rr = res ? res + r * dim : nullptr;
    float* yr = y + r * dim;
    // z = x + res + bias (kept in y); two partial sums per lane.
    V s[2] = {Vec::zero(), Vec::zero()};
    for (int64_t i = 0; i < dim; i += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, dim - i));
      V z = Vec::loadn(xr + i, n);
      if (rr) z = Vec::add(z, Vec::loadn(rr + i, n));
      if (bias) z = Vec::add(z, Vec::loadn(bias + i, n));
      Vec::storen(yr + i, z, n);
      s[(i / W) & 1] = Vec::add(s[(i / W) & 1], z);
    }
    const float mean = Vec::hsum(Vec::add(s[0], s[1])) / static_cast<float>(dim);
    const V vm = Vec::set1(mean);
    V q[2] = {Vec::zero(), Vec::zero()};
    for (int64_t i = 0; i < dim; i += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, dim - i));
      const V dz = Vec::keep(Vec::sub(Vec::loadn(yr + i, n), vm), n);
      q[(i / W) & 1] = Vec::fma(dz, dz, q[(i / W) & 1]);
    }
    const float var = Vec::hsum(Vec::add(q[0], q[1])) / static_cast<float>(dim);
    const V inv = Vec::set1(static_cast<float>(1.0 / std::sqrt(static_cast<double>(var) + eps)));
    for (int64_t i = 0; i < dim; i += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, dim - i));
      V v = Vec::mul(Vec::sub(Vec::loadn(yr + i, n), vm), inv);
      if (gamma) v = Vec::mul(v, Vec::loadn(gamma + i, n));
      if (beta) v = Vec::add(v, Vec::loadn(beta + i, n));
      Vec::storen(yr + i, v, n);
    }
  }
}

// gelu_new / gelu_pytorch_tanh: 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), evaluated as
// x / (1 + e^(-2u)) (no cancellation for negative x). Below x = -10 the value is under
// 2e-37 in magnitude and returned as 0 (e^(-2u) would pass exp's range there).
inline typename Vec::V gelu_tanh_v(typename Vec::V x) {
  using V = typename Vec::V;
  const V x2 = Vec::mul(x, x);
  const V u =
      Vec::mul(Vec::mul(x, Vec::set1(0.7978845608028654f)), Vec::fma(x2, Vec::set1(0.044715f), Vec::set1(1.0f)));
  const V e = Vec::exp(Vec::mul(u, Vec::set1(-2.0f)));
  const V y = Vec::div(x, Vec::add(Vec::set1(1.0f), e));
  return Vec::select_nonneg(Vec::add(x, Vec::set1(10.0f)), y, Vec::zero());
}

// Φ(x) = erfc(-x/√2)/2 with Numerical Recipes' erfc (t·e^(-z² + poly(t)), t = 1/(1 + z/2),
// fractional error < 1.2e-7) and erfc(-z) = 2 - erfc(z).
inline typename Vec::V normal_cdf_v(typename Vec::V x) {
  using V = typename Vec::V;
  const V z = Vec::mul(Vec::abs(x), Vec::set1(0.70710678118654752f));
  const V t = Vec::div(Vec::set1(1.0f), Vec::fma(z, Vec::set1(0.5f), Vec::set1(1.0f)));
  V p = Vec::set1(0.17087277f);
  p = Vec::fma(p, t, Vec::set1(-0.82215223f));
  p = Vec::fma(p, t, Vec::set1(1.48851587f));
  p = Vec::fma(p, t, Vec::set1(-1.13520398f));
  p = Vec::fma(p, t, Vec::set1(0.27886807f));
  p = Vec::fma(p, t, Vec::set1(-0.18628806f));
  p = Vec::fma(p, t, Vec::set1(0.09678418f));
  p = Vec::fma(p, t, Vec::set1(0.37409196f));
  p = Vec::fma(p, t, Vec::set1(1.00002368f));
  p = Vec::fma(p, t, Vec::set1(-1.26551223f));
  const V half_erfc = Vec::mul(Vec::set1(0.5f), Vec::mul(t, Vec::exp(Vec::sub(p, Vec::mul(z, z)))));
  // Φ(x) = 1 - erfc(z)/2 for x ≥ 0, erfc(z)/2 for x < 0.
  return Vec::select_nonneg(x, Vec::sub(Vec::set1(1.0f), half_erfc), half_erfc);
}

// gelu (erf form): x·Φ(x).
inline typename Vec::V gelu_erf_v(typename Vec::V x) { return Vec::mul(x, normal_cdf_v(x)); }

// The derivatives of both forms, for the backward (KernelTable::gelu_grad):
//   erf form:  Φ(x) + x·φ(x), φ(x) = e^(-x²/2)/√(2π) (exp gives exactly 0 below -87.3: |x| > 13.2);
//   tanh form: with s = 1/(1 + e^(-2u)) = (1 + tanh u)/2 and 1 - s = e^(-2u)·s,
//              s + 2x·s·(1 - s)·u'(x), u'(x) = √(2/π)(1 + 3·0.044715x²);
//              below x = -10 the derivative is under 1e-36 in magnitude and returned as 0, from
//              x = 10 on it is 1 in float32 (x is clamped there, so huge x give no inf·0).
inline typename Vec::V gelu_erf_grad_v(typename Vec::V x) {
  using V = typename Vec::V;
  const V pdf = Vec::mul(Vec::exp(Vec::mul(Vec::mul(x, x), Vec::set1(-0.5f))), Vec::set1(0.3989422804014327f));
  return Vec::fma(x, pdf, normal_cdf_v(x));
}
inline typename Vec::V gelu_tanh_grad_v(typename Vec::V x_in) {
  using V = typename Vec::V;
  const V x = Vec::min(x_in, Vec::set1(10.0f));  // from x = 10 on the value is 1 (e^(-2u) underflows)
  const V x2 = Vec::mul(x, x);
  const V u =
      Vec::mul(Vec::mul(x, Vec::set1(0.7978845608028654f)), Vec::fma(x2, Vec::set1(0.044715f), Vec::set1(1.0f)));
  const V e = Vec::exp(Vec::mul(u, Vec::set1(-2.0f)));
  const V s = Vec::div(Vec::set1(1.0f), Vec::add(Vec::set1(1.0f), e));
  const V du = Vec::mul(Vec::set1(0.7978845608028654f), Vec::fma(x2, Vec::set1(3.0f * 0.044715f), Vec::set1(1.0f)));
  const V d = Vec::fma(Vec::mul(Vec::mul(x, Vec::set1(2.0f)), Vec::mul(s, Vec::mul(e, s))), du, s);
  return Vec::select_nonneg(Vec::add(x_in, Vec::set1(10.0f)), d, Vec::zero());
}

// dx[i] = dy[i]·gelu'(x[i]) over n values (dx may alias dy).
inline void gelu_grad_impl(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form) {
  constexpr int W = Vec::W;
  for (int64_t i = 0; i < n; i += W) {
    const int m = static_cast<int>(std::min<int64_t>(W, n - i));
    const typename Vec::V v = Vec::loadn(x + i, m);
    const typename Vec::V d = tanh_form ? gelu_tanh_grad_v(v) : gelu_erf_grad_v(v);
    Vec::storen(dx + i, Vec::mul(Vec::loadn(dy + i, m), d), m);
  }
}

inline void gelu_rows_impl(float* x, int64_t rows, int64_t cols, const float* bias, bool tanh_form, bool clip10) {
  constexpr int W = Vec::W;
  using V = typename Vec::V;
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    for (int64_t i = 0; i < cols; i += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, cols - i));
      V v = Vec::loadn(xr + i, n);
      if (bias) v = Vec::add(v, Vec::loadn(bias + i, n));
      v = tanh_form ? gelu_tanh_v(v) : gelu_erf_v(v);
      if (clip10) v = Vec::min(Vec::max(v, Vec::set1(-10.0f)), Vec::set1(10.0f));
      Vec::storen(xr + i, v, n);
    }
  }
}

inline void add_bias_rows_impl(float* x, int64_t rows, int64_t cols, const float* bias, int64_t ldx) {
  constexpr int W = Vec::W;
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * ldx;
    for (int64_t i = 0; i < cols; i += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, cols - i));
      Vec::storen(xr + i, Vec::add(Vec::loadn(xr + i, n), Vec::loadn(bias + i, n)), n);
    }
  }
}

// Dropout on one row of attention probabilities (KernelTable::dropout_row): scalar code over the
// counter hash of core/counter_rng.h, vectorised by the compiler under each target (64-bit
// multiplies: AVX-512DQ's vpmullq).
inline void dropout_row_impl(float* x, int64_t n, uint64_t key, uint64_t e0, float p, float scale, float* f) {
  if (f) {
    for (int64_t j = 0; j < n; ++j) {
      const float m = counter_uniform(key, e0 + static_cast<uint64_t>(j)) >= p ? scale : 0.0f;
      x[j] *= m;
      f[j] = m;
    }
  } else {
    for (int64_t j = 0; j < n; ++j) x[j] *= counter_uniform(key, e0 + static_cast<uint64_t>(j)) >= p ? scale : 0.0f;
  }
}
