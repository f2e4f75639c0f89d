// 16 x float32 in one zmm register (AVX-512F). Included inside a namespace of kernels_avx512.cpp,
// under `#pragma GCC target`; <immintrin.h> is included before.
struct Vec {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kAcc = 24;  // accumulators a micro-kernel may keep in the 32 registers

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes(n), p); }
  static void storen(float* p, V v, int n) { _mm512_mask_storeu_ps(p, lanes(n), v); }
  static V keep(V v, int n) { return _mm512_maskz_mov_ps(lanes(n), v); }  // lanes ≥ n zeroed
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }  // a*b + c
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  // x >= 0 ? a : b (on the sign of x; -0 counts as negative, which is harmless here)
  static V select_nonneg(V x, V a, V b) {
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(neg, a, b);
  }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
  static float hsum(V v) {
    const __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
  }
  // e^x, about 1 ulp (Cephes expf polynomial); exactly 0 below -87.33 (as float32 underflows).
  __attribute__((always_inline)) static V exp(V x) {
    const V xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.0f));
    const V fx = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    const V y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(tiny, y, _mm512_setzero_ps());
  }
  // dst[c*ldd + r] = src[r*lds + c] for a 16 x 16 block.
  static void transpose(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {  // r[4i+k], lane l: column 4l+k of rows 4i..4i+3
      const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
      const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
      r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
      r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
      r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int k = 0; k < 4; ++k) {
      const __m512 x0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x44), x1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xEE);
      const __m512 y0 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x44);
      const __m512 y1 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xEE);
      _mm512_storeu_ps(dst + k * ldd, _mm512_shuffle_f32x4(x0, y0, 0x88));
      _mm512_storeu_ps(dst + (4 + k) * ldd, _mm512_shuffle_f32x4(x0, y0, 0xDD));
      _mm512_storeu_ps(dst + (8 + k) * ldd, _mm512_shuffle_f32x4(x1, y1, 0x88));
      _mm512_storeu_ps(dst + (12 + k) * ldd, _mm512_shuffle_f32x4(x1, y1, 0xDD));
    }
  }
};
