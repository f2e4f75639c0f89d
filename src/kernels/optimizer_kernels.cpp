#include "kernels/optimizer_kernels.h"

#include <cmath>
#include <immintrin.h>

// Bit-level order: no contraction of a multiply and an add into an fma other than the explicit
// ones (std::fma / the fmadd intrinsics).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// GCC 12 reports _mm512_undefined_*() inside its own AVX-512 intrinsics as (maybe) uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bigbird {

void adamw_update_ref(const AdamWScalars& s, float* theta, const float* g, float* m, float* v, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float th = theta[k] * s.decay_mul;  // decoupled weight decay, on the not yet updated θ
    const float gk = g[k];
    const float mk = std::fma(gk, s.one_minus_beta1, s.beta1 * m[k]);
    const float gs = s.one_minus_beta2 * gk;
    const float vk = std::fma(gs, gk, s.beta2 * v[k]);
    const float q = std::sqrt(vk) / s.bc2_sqrt;
    const float d = q + s.eps;
    const float num = s.neg_step_size * mk;
    const float upd = num / d;
    m[k] = mk;
    v[k] = vk;
    theta[k] = th + upd;
  }
}

double sum_squares_ref(const float* g, int64_t n) {
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) s += static_cast<double>(g[k]) * g[k];
  return s;
}

namespace {

__attribute__((target("avx2,fma"))) void adamw_avx2(const AdamWScalars& s, float* theta, const float* g, float* m,
                                                    float* v, int64_t n) {
  const __m256 decay = _mm256_set1_ps(s.decay_mul), b1 = _mm256_set1_ps(s.beta1),
               omb1 = _mm256_set1_ps(s.one_minus_beta1), b2 = _mm256_set1_ps(s.beta2),
               omb2 = _mm256_set1_ps(s.one_minus_beta2), bc2 = _mm256_set1_ps(s.bc2_sqrt), eps = _mm256_set1_ps(s.eps),
               nss = _mm256_set1_ps(s.neg_step_size);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 th = _mm256_mul_ps(_mm256_loadu_ps(theta + k), decay);
    const __m256 gk = _mm256_loadu_ps(g + k);
    const __m256 mk = _mm256_fmadd_ps(gk, omb1, _mm256_mul_ps(b1, _mm256_loadu_ps(m + k)));
    const __m256 gs = _mm256_mul_ps(omb2, gk);
    const __m256 vk = _mm256_fmadd_ps(gs, gk, _mm256_mul_ps(b2, _mm256_loadu_ps(v + k)));
    const __m256 d = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vk), bc2), eps);
    const __m256 upd = _mm256_div_ps(_mm256_mul_ps(nss, mk), d);
    _mm256_storeu_ps(m + k, mk);
    _mm256_storeu_ps(v + k, vk);
    _mm256_storeu_ps(theta + k, _mm256_add_ps(th, upd));
  }
  adamw_update_ref(s, theta + k, g + k, m + k, v + k, n - k);
}

__attribute__((target("avx512f"))) void adamw_avx512(const AdamWScalars& s, float* theta, const float* g, float* m,
                                                     float* v, int64_t n) {
  const __m512 decay = _mm512_set1_ps(s.decay_mul), b1 = _mm512_set1_ps(s.beta1),
               omb1 = _mm512_set1_ps(s.one_minus_beta1), b2 = _mm512_set1_ps(s.beta2),
               omb2 = _mm512_set1_ps(s.one_minus_beta2), bc2 = _mm512_set1_ps(s.bc2_sqrt), eps = _mm512_set1_ps(s.eps),
               nss = _mm512_set1_ps(s.neg_step_size);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512 th = _mm512_mul_ps(_mm512_loadu_ps(theta + k), decay);
    const __m512 gk = _mm512_loadu_ps(g + k);
    const __m512 mk = _mm512_fmadd_ps(gk, omb1, _mm512_mul_ps(b1, _mm512_loadu_ps(m + k)));
    const __m512 gs = _mm512_mul_ps(omb2, gk);
    const __m512 vk = _mm512_fmadd_ps(gs, gk, _mm512_mul_ps(b2, _mm512_loadu_ps(v + k)));
    const __m512 d = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vk), bc2), eps);
    const __m512 upd = _mm512_div_ps(_mm512_mul_ps(nss, mk), d);
    _mm512_storeu_ps(m + k, mk);
    _mm512_storeu_ps(v + k, vk);
    _mm512_storeu_ps(theta + k, _mm512_add_ps(th, upd));
  }
  adamw_update_ref(s, theta + k, g + k, m + k, v + k, n - k);
}

// Four double lanes (elements k ≡ lane mod 4 of each 8-element step into two accumulators),
// summed in a fixed order at the end; the tail adds in order.
__attribute__((target("avx2,fma"))) double sum_squares_avx2(const float* g, int64_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(g + k)), hi = _mm256_cvtps_pd(_mm_loadu_ps(g + k + 4));
    a0 = _mm256_fmadd_pd(lo, lo, a0);
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  alignas(32) double l[4];
  _mm256_store_pd(l, _mm256_add_pd(a0, a1));
  double s = (l[0] + l[1]) + (l[2] + l[3]);
  for (; k < n; ++k) s += static_cast<double>(g[k]) * g[k];
  return s;
}

__attribute__((target("avx512f"))) double sum_squares_avx512(const float* g, int64_t n) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(g + k)), hi = _mm512_cvtps_pd(_mm256_loadu_ps(g + k + 8));
    a0 = _mm512_fmadd_pd(lo, lo, a0);
    a1 = _mm512_fmadd_pd(hi, hi, a1);
  }
  alignas(64) double l[8];
  _mm512_store_pd(l, _mm512_add_pd(a0, a1));
  double s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  for (; k < n; ++k) s += static_cast<double>(g[k]) * g[k];
  return s;
}

}  // namespace

void adamw_update(const AdamWScalars& s, float* theta, const float* g, float* m, float* v, int64_t n, SimdPath path) {
  switch (resolve_simd_path(path)) {
    case SimdPath::Avx512: return adamw_avx512(s, theta, g, m, v, n);
    case SimdPath::Avx2: return adamw_avx2(s, theta, g, m, v, n);
    default: return adamw_update_ref(s, theta, g, m, v, n);
  }
}

double sum_squares(const float* g, int64_t n, SimdPath path) {
  switch (resolve_simd_path(path)) {
    case SimdPath::Avx512: return sum_squares_avx512(g, n);
    case SimdPath::Avx2: return sum_squares_avx2(g, n);
    default: return sum_squares_ref(g, n);
  }
}

}  // namespace bigbird
