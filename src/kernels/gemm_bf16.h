// bf16 products with float32 accumulation, for the opt-in `--dtype bf16` path: VDPBF16PS on a CPU
// with AVX512-BF16, else the same products emulated with AVX2 + FMA (exact bf16 products, float32
// sums in VDPBF16PS's order), chosen at run time; the float32 path stays the default and is
// unaffected.
//
// Weights are rounded to bf16 and packed once (PackedWeightBf16: panels of 64 output columns,
// pairs of consecutive inputs in one 32-bit word, the layout VDPBF16PS consumes); activations
// are rounded to bf16 (round to nearest even) inside each call, 128 rows at a time. Products
// and sums are float32, so the error is that of rounding the inputs: about 2^-9 relative per
// input, ~1e-3 relative on a product of width 768 (measured in tests/test_ops.cpp, and on the
// encoder fixtures in tests/test_encoder_shapes.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "core/threading.h"

namespace bigbird {

// Whether this CPU runs the VDPBF16PS kernel (AVX-512 F/BW/VL and AVX512-BF16).
bool bf16_supported();

// Where the bf16 products run. Auto: AVX512-BF16 when the CPU has it (and BIGBIRD_SIMD does not
// cap the choice at avx2), else the AVX2 emulation; no unit without AVX2 + FMA.
enum class Bf16Unit { Auto, Avx512Bf16, Avx2 };
// Auto → the unit this CPU uses; another unit is checked (bigbird::Error when the CPU lacks it).
Bf16Unit resolve_bf16_unit(Bf16Unit u = Bf16Unit::Auto);
bool bf16_unit_supported(Bf16Unit u);  // Auto: whether any unit exists here
const char* bf16_unit_name(Bf16Unit u);  // "avx512_bf16", "avx2"

struct PackedWeightBf16 {
  int64_t out = 0, in = 0;
  std::vector<uint32_t> panels;  // [ceil(out/64)][ceil(in/2)][64]: (W[n][2p], W[n][2p+1]) as bf16
};

// W is [out, in] (PyTorch's convention, as linear()).
PackedWeightBf16 pack_weight_bf16(const ThreadingContext& ctx, const float* W, int64_t out, int64_t in);

// y = bf16(x)·bf16(W)ᵀ + bias (accumulate: y += ...); x [rows, in], y [rows, out]; bias may be
// null. Parallel over 128-row chunks, deterministic whatever the thread count. Throws when the
// CPU has no bf16 unit (or lacks the one asked for).
void linear_bf16(const ThreadingContext& ctx, const float* x, int64_t rows, const PackedWeightBf16& W,
                 const float* bias, float* y, bool accumulate = false, Bf16Unit unit = Bf16Unit::Auto);

// Reference: inputs rounded to bf16 exactly as the kernel rounds them, products summed in double.
void linear_bf16_ref(const float* x, int64_t rows, const float* W, int64_t in, int64_t out, const float* bias,
                     float* y);

// float32 → bf16 bits, round to nearest even (NaN stays NaN); float32 subnormals become 0 as
// VCVTNEPS2BF16 makes them.
uint16_t to_bf16(float x);
float from_bf16(uint16_t b);

}  // namespace bigbird
