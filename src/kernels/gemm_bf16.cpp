#include "kernels/gemm_bf16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/simd/gemm_bf16_kernel.h"

namespace bigbird {

bool bf16_supported() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

bool bf16_unit_supported(Bf16Unit u) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  switch (u) {
    case Bf16Unit::Avx512Bf16: return bf16_supported();
    case Bf16Unit::Avx2: return avx2;
    case Bf16Unit::Auto: return avx2 || bf16_supported();
  }
#else
  (void)u;
#endif
  return false;
}

const char* bf16_unit_name(Bf16Unit u) {
  switch (u) {
    case Bf16Unit::Avx512Bf16: return "avx512_bf16";
    case Bf16Unit::Avx2: return "avx2";
    case Bf16Unit::Auto: break;
  }
  return "auto";
}

namespace {
Bf16Unit detect_bf16_unit() {
  const char* cap = std::getenv("BIGBIRD_SIMD");  // avx2 or scalar: no AVX-512 unit
  const bool capped = cap && (!std::strcmp(cap, "avx2") || !std::strcmp(cap, "scalar"));
  if (!capped && bf16_supported()) return Bf16Unit::Avx512Bf16;
  BB_CHECK(bf16_unit_supported(Bf16Unit::Avx2),
           "--dtype bf16 needs a CPU with AVX512-BF16 or at least AVX2 + FMA; this one has neither: use --dtype f32");
  return Bf16Unit::Avx2;
}
}  // namespace

Bf16Unit resolve_bf16_unit(Bf16Unit u) {
  if (u == Bf16Unit::Auto) {
    static const Bf16Unit best = detect_bf16_unit();
    return best;
  }
  BB_CHECK(bf16_unit_supported(u), "bf16 unit ", bf16_unit_name(u), " is not supported by this CPU");
  return u;
}

uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return static_cast<uint16_t>((u >> 16) | ((u & 0xffffu) ? 0x40u : 0u));
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;  // subnormal → signed zero
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float from_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

PackedWeightBf16 pack_weight_bf16(const ThreadingContext& ctx, const float* W, int64_t out, int64_t in) {
  constexpr int64_t P = simd::kBf16PanelCols;
  PackedWeightBf16 pw;
  pw.out = out;
  pw.in = in;
  const int64_t np = (out + P - 1) / P, kp = (in + 1) / 2;
  pw.panels.assign(static_cast<size_t>(np * kp * P), 0u);
  parallel_for(
      ctx, out,
      [&](int64_t n) {
        uint32_t* panel = pw.panels.data() + (n / P) * kp * P + n % P;
        const float* wr = W + n * in;
        for (int64_t p = 0; p < kp; ++p) {
          const uint32_t lo = to_bf16(wr[2 * p]), hi = 2 * p + 1 < in ? to_bf16(wr[2 * p + 1]) : 0u;
          panel[p * P] = lo | (hi << 16);
        }
      },
      Schedule::Static);
  return pw;
}

void linear_bf16(const ThreadingContext& ctx, const float* x, int64_t rows, const PackedWeightBf16& W,
                 const float* bias, float* y, bool accumulate, Bf16Unit unit) {
  const bool avx512 = resolve_bf16_unit(unit) == Bf16Unit::Avx512Bf16;
  if (rows == 0 || W.out == 0) return;
  constexpr int64_t R = simd::kBf16RowChunk;
  const int64_t kp = (W.in + 1) / 2, chunks = (rows + R - 1) / R;
  // Per worker: a chunk's rows as bf16 pairs, reused for every output panel.
  const int workers = static_cast<int>(std::min<int64_t>(ctx.threads(), chunks));
  std::vector<uint32_t> abuf(static_cast<size_t>(workers * R * kp));
  parallel_for(ctx, chunks, [&](int64_t c, int worker) {
    const int64_t r0 = c * R, nr = std::min(R, rows - r0);
    (avx512 ? simd::gemm_bf16_chunk_avx512 : simd::gemm_bf16_chunk_avx2)(
        x + r0 * W.in, nr, W.in, W.panels.data(), W.out, bias, y + r0 * W.out, W.out, accumulate,
        abuf.data() + worker * R * kp);
  });
}

void linear_bf16_ref(const float* x, int64_t rows, const float* W, int64_t in, int64_t out, const float* bias,
                     float* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t i = 0; i < in; ++i)
        acc += static_cast<double>(from_bf16(to_bf16(x[r * in + i]))) * from_bf16(to_bf16(W[o * in + i]));
      y[r * out + o] = static_cast<float>(acc + (bias ? bias[o] : 0.0f));
    }
}

}  // namespace bigbird
