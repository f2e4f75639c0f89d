// int8 products with int32 accumulation, for the opt-in `--dtype int8` path (dynamic
// quantisation; the float32 path stays the default and is unaffected).
//
// Weights are quantised per output channel, symmetric, and packed once (PackedWeightInt8:
// panels of 64 output columns, four consecutive inputs of one column in one 32-bit word, the
// layout VPDPBUSD consumes); activations are quantised per row inside each call, 128 rows at a
// time. Products and sums are exact int32, and the epilogue is one fixed float32 expression
//   y[r][n] = float(dot) · (s_x[r] · s_w[n]) + bias[n]     (accumulate: y += that term)
// so every unit (AVX512-VNNI, AVX2, scalar) and every thread count gives the same bits as
// linear_int8_ref. The error against float32 is that of quantising both inputs to 127 steps of
// their row's (channel's) largest magnitude: ~1.1e-2 relative RMS on Gaussian data of width 768
// (rounding noise of 1/127 of ~3.3σ on both sides; measured in tests/test_gemm_int8.cpp).
//
// Rules for the edge cases (the same on every unit):
//   - a row (channel) of zeros: q = 0, s_x = 0 (a weight channel gets s_w = 1); a row whose
//     largest magnitude m is so small that 127/m overflows float32 (m < ~3.7e-37) counts as zeros;
//   - a row (channel) holding NaN or ±Inf: q = 0 and a NaN scale, so that row's (channel's)
//     outputs are all NaN.
#pragma once
#include <cstdint>
#include <vector>

#include "core/threading.h"

namespace bigbird {

enum class Int8Unit { Auto, Avx512Vnni, Avx2, Scalar };

// Whether this CPU runs the AVX512-VNNI kernel (AVX-512 F/BW/VL and AVX512-VNNI).
bool int8_vnni_supported();
// Whether this CPU runs the AVX2 kernel.
bool int8_avx2_supported();
// Auto → the unit Auto stands for: AVX512-VNNI where supported and not capped by
// BIGBIRD_SIMD=avx2|scalar, else AVX2 where supported and not capped by BIGBIRD_SIMD=scalar,
// else scalar (resolved once per process). Other units are returned after a check that the
// CPU supports them (throws bigbird::Error otherwise).
Int8Unit resolve_int8_unit(Int8Unit u = Int8Unit::Auto);
bool int8_unit_supported(Int8Unit u);    // Auto and Scalar: always
const char* int8_unit_name(Int8Unit u);  // "auto", "avx512_vnni", "avx2", "scalar"

struct PackedWeightInt8 {
  int64_t out = 0, in = 0;
  std::vector<uint32_t> panels;  // [ceil(out/64)][ceil(in/4)][64]: qw[n][4p..4p+3] as int8, tail 0
  std::vector<float> scale;      // [out]: s_w
  std::vector<int32_t> colsum;   // [out]: Σ_k qw[n][k]
};

// W is [out, in] (PyTorch's convention, as linear()). Throws when in > 65536 (the int32 sums
// would no longer be exact).
PackedWeightInt8 pack_weight_int8(const ThreadingContext& ctx, const float* W, int64_t out, int64_t in);

// y = q(x)·q(W)ᵀ scaled + bias (accumulate: y += ...); x [rows, in], y [rows, out]; bias may be
// null. Parallel over 128-row chunks, deterministic whatever the thread count. Throws when the
// CPU lacks the unit asked for.
void linear_int8(const ThreadingContext& ctx, const float* x, int64_t rows, const PackedWeightInt8& W,
                 const float* bias, float* y, bool accumulate = false, Int8Unit unit = Int8Unit::Auto);

// Reference from the float weights: quantises W exactly as pack_weight_int8 and x exactly as
// quantize_row_int8, sums in int64, then the same epilogue. Bit-identical to linear_int8.
void linear_int8_ref(const float* x, int64_t rows, const float* W, int64_t in, int64_t out, const float* bias,
                     float* y, bool accumulate = false);

// The activation quantiser (the reference definition): amax = max|x|, inv = 127/amax (float32),
// q[i] = clamp(nearbyint(x[i]·inv), -127, 127) (round to nearest even), *scale = amax/127.
// Zeros (or amax < ~3.7e-37): q = 0, *scale = 0. NaN or Inf anywhere: q = 0, *scale = NaN.
void quantize_row_int8(const float* x, int64_t n, int8_t* q, float* scale);

}  // namespace bigbird
