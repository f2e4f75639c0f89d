#include "kernels/gemm_int8.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "kernels/simd/gemm_int8_kernel.h"

// Bit-level order: the epilogue is a multiply, then an add, each rounded on its own (as the
// SIMD kernels compute it), never contracted into an fma.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace bigbird {

bool int8_vnni_supported() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool int8_avx2_supported() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

const char* int8_unit_name(Int8Unit u) {
  switch (u) {
    case Int8Unit::Auto: return "auto";
    case Int8Unit::Avx512Vnni: return "avx512_vnni";
    case Int8Unit::Avx2: return "avx2";
    case Int8Unit::Scalar: return "scalar";
  }
  return "?";
}

bool int8_unit_supported(Int8Unit u) {
  switch (u) {
    case Int8Unit::Avx512Vnni: return int8_vnni_supported();
    case Int8Unit::Avx2: return int8_avx2_supported();
    default: return true;
  }
}

namespace {

// As dispatch.cpp's detect(): BIGBIRD_SIMD=avx2|scalar caps the automatic choice.
Int8Unit detect() {
  int cap = 0;  // 0: VNNI, 1: AVX2, 2: scalar
  if (const char* env = std::getenv("BIGBIRD_SIMD")) {
    if (!std::strcmp(env, "scalar")) cap = 2;
    else if (!std::strcmp(env, "avx2")) cap = 1;
  }
  if (cap <= 0 && int8_vnni_supported()) return Int8Unit::Avx512Vnni;
  if (cap <= 1 && int8_avx2_supported()) return Int8Unit::Avx2;
  return Int8Unit::Scalar;
}

uint32_t abs_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u & 0x7fffffffu;
}

// Symmetric quantisation of n values to [-127, 127] by their largest magnitude; returns the
// scale (m/127), or `zero_scale` for zeros (and magnitudes so small that 127/m overflows), or
// NaN when a value is NaN or ±Inf (then q = 0). The largest magnitude is the integer maximum of
// the bit patterns |v|, exact and order-free (NaN above Inf above every finite value).
float quantize_symmetric(const float* v, int64_t n, int8_t* q, float zero_scale) {
  uint32_t mb = 0;
  for (int64_t i = 0; i < n; ++i) mb = std::max(mb, abs_bits(v[i]));
  if (mb >= 0x7f800000u) {
    std::fill(q, q + n, int8_t{0});
    return std::numeric_limits<float>::quiet_NaN();
  }
  float m;
  std::memcpy(&m, &mb, 4);
  const float inv = mb ? 127.0f / m : 0.0f;
  if (mb == 0 || std::isinf(inv)) {
    std::fill(q, q + n, int8_t{0});
    return zero_scale;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float r = std::nearbyint(v[i] * inv);  // |v·inv| ≤ 127·(1 + 2^-23): finite
    q[i] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
  return m / 127.0f;
}

// The epilogue of every unit: float(dot)·(s_x·s_w) (+ bias), then (y +) that.
inline void store_term(int32_t dot, float sx, float sw, const float* bias, int64_t n, float* y, bool accumulate) {
  float t = static_cast<float>(dot) * (sx * sw);
  if (bias) t = t + bias[n];
  *y = accumulate ? *y + t : t;
}

// The portable unit: quantize_row_int8, then sums over the packed panels.
void gemm_chunk_scalar(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                       int64_t out, const float* bias, float* y, int64_t ldy, bool accumulate, int8_t* qbuf) {
  constexpr int64_t P = simd::kInt8PanelCols;
  const int64_t kq = (in + 3) / 4;
  float sx[simd::kInt8RowChunk];
  for (int64_t r = 0; r < rows; ++r) quantize_row_int8(x + r * in, in, qbuf + r * in, &sx[r]);
  for (int64_t n = 0; n < out; ++n) {
    const uint32_t* col = panels + (n / P) * kq * P + n % P;
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t* q = qbuf + r * in;
      int32_t dot = 0;
      for (int64_t k = 0; k < in; ++k)
        dot += q[k] * static_cast<int32_t>(static_cast<int8_t>(col[(k / 4) * P] >> (8 * (k % 4))));
      store_term(dot, sx[r], scale[n], bias, n, y + r * ldy + n, accumulate);
    }
  }
}

}  // namespace

Int8Unit resolve_int8_unit(Int8Unit u) {
  static const Int8Unit best = detect();
  if (u == Int8Unit::Auto) return best;
  BB_CHECK(int8_unit_supported(u), "int8 unit ", int8_unit_name(u), " is not supported by this CPU");
  return u;
}

void quantize_row_int8(const float* x, int64_t n, int8_t* q, float* scale) {
  *scale = quantize_symmetric(x, n, q, 0.0f);
}

PackedWeightInt8 pack_weight_int8(const ThreadingContext& ctx, const float* W, int64_t out, int64_t in) {
  constexpr int64_t P = simd::kInt8PanelCols;
  BB_CHECK(out >= 0 && in >= 0, "pack_weight_int8: bad shape [", out, ", ", in, "]");
  BB_CHECK(in <= simd::kInt8MaxIn, "int8 weights of width ", in, " exceed ", simd::kInt8MaxIn,
           " (the int32 sums would no longer be exact)");
  PackedWeightInt8 pw;
  pw.out = out;
  pw.in = in;
  const int64_t np = (out + P - 1) / P, kq = (in + 3) / 4;
  pw.panels.assign(static_cast<size_t>(np * kq * P), 0u);
  pw.scale.assign(static_cast<size_t>(out), 0.0f);
  pw.colsum.assign(static_cast<size_t>(out), 0);
  parallel_for(
      ctx, out,
      [&](int64_t n) {
        std::vector<int8_t> q(static_cast<size_t>(kq * 4), 0);
        pw.scale[n] = quantize_symmetric(W + n * in, in, q.data(), 1.0f);
        uint32_t* panel = pw.panels.data() + (n / P) * kq * P + n % P;
        int32_t sum = 0;
        for (int64_t p = 0; p < kq; ++p) {
          uint32_t w = 0;
          for (int j = 0; j < 4; ++j) {
            sum += q[4 * p + j];
            w |= static_cast<uint32_t>(static_cast<uint8_t>(q[4 * p + j])) << (8 * j);
          }
          panel[p * P] = w;
        }
        pw.colsum[n] = sum;
      },
      Schedule::Static);
  return pw;
}

void linear_int8(const ThreadingContext& ctx, const float* x, int64_t rows, const PackedWeightInt8& W,
                 const float* bias, float* y, bool accumulate, Int8Unit unit) {
  const Int8Unit u = resolve_int8_unit(unit);
  if (rows == 0 || W.out == 0) return;
  constexpr int64_t R = simd::kInt8RowChunk;
  const int64_t chunks = (rows + R - 1) / R, words = simd::int8_scratch_words(W.in);
  // Per worker: a chunk's rows quantised, reused for every output panel.
  const int workers = static_cast<int>(std::min<int64_t>(ctx.threads(), chunks));
  std::vector<uint64_t> abuf(static_cast<size_t>(workers * words));
  parallel_for(ctx, chunks, [&](int64_t c, int worker) {
    const int64_t r0 = c * R, nr = std::min(R, rows - r0);
    uint64_t* a = abuf.data() + worker * words;
    const float* xc = x + r0 * W.in;
    float* yc = y + r0 * W.out;
    switch (u) {
      case Int8Unit::Avx512Vnni:
        simd::gemm_int8_chunk_vnni(xc, nr, W.in, W.panels.data(), W.scale.data(), W.colsum.data(), W.out, bias, yc,
                                   W.out, accumulate, a);
        break;
      case Int8Unit::Avx2:
        simd::gemm_int8_chunk_avx2(xc, nr, W.in, W.panels.data(), W.scale.data(), W.colsum.data(), W.out, bias, yc,
                                   W.out, accumulate, a);
        break;
      default:
        gemm_chunk_scalar(xc, nr, W.in, W.panels.data(), W.scale.data(), W.out, bias, yc, W.out, accumulate,
                          reinterpret_cast<int8_t*>(a));
        break;
    }
  });
}

void linear_int8_ref(const float* x, int64_t rows, const float* W, int64_t in, int64_t out, const float* bias,
                     float* y, bool accumulate) {
  BB_CHECK(in <= simd::kInt8MaxIn, "int8 weights of width ", in, " exceed ", simd::kInt8MaxIn);
  std::vector<int8_t> qw(static_cast<size_t>(out * in)), qx(static_cast<size_t>(in));
  std::vector<float> sw(static_cast<size_t>(out));
  for (int64_t n = 0; n < out; ++n) sw[n] = quantize_symmetric(W + n * in, in, qw.data() + n * in, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float sx;
    quantize_row_int8(x + r * in, in, qx.data(), &sx);
    for (int64_t n = 0; n < out; ++n) {
      int64_t dot = 0;
      for (int64_t k = 0; k < in; ++k) dot += static_cast<int64_t>(qx[k]) * qw[n * in + k];
      store_term(static_cast<int32_t>(dot), sx, sw[n], bias, n, y + r * out + n, accumulate);
    }
  }
}

}  // namespace bigbird
