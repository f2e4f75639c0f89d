// The portable "vector" of one float: the same kernels compiled without SIMD (any CPU).
// Included inside a namespace of kernels_scalar.cpp; <cmath> and <algorithm> are included before.
struct Vec {
  using V = float;
  static constexpr int W = 1;
  static constexpr int kAcc = 16;

  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V loadn(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void storen(float* p, V v, int n) {
    if (n > 0) *p = v;
  }
  static V keep(V v, int n) { return n > 0 ? v : 0.0f; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V max(V a, V b) { return std::max(a, b); }
  static V min(V a, V b) { return std::min(a, b); }
  static V abs(V a) { return std::fabs(a); }
  static V select_nonneg(V x, V a, V b) { return x < 0.0f ? b : a; }
  static float hmax(V v) { return v; }
  static float hsum(V v) { return v; }
  static V exp(V x) { return x < -87.33654f ? 0.0f : std::exp(std::min(x, 88.0f)); }
  static void transpose(const float* src, int64_t, float* dst, int64_t) { *dst = *src; }
};
