// The micro-kernels (AVX512-BF16, and the AVX2 emulation) behind linear_bf16 (kernels/gemm_bf16.h).
#pragma once
#include <cstdint>

namespace bigbird::simd {

constexpr int64_t kBf16PanelCols = 64;  // output columns per packed weight panel (4 zmm)
constexpr int64_t kBf16RowChunk = 128;  // rows converted to bf16 at a time

// y[r, :] (=|+=) bf16(x[r, :])·Wᵀ + bias for r < rows ≤ kBf16RowChunk; abuf holds
// rows·ceil(in/2) words. Requires AVX512-BF16 (the caller checks).
void gemm_bf16_chunk_avx512(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out,
                            const float* bias, float* y, int64_t ldy, bool accumulate, uint32_t* abuf);
// The same products emulated with AVX2 + FMA (same panels, same rounding of x).
void gemm_bf16_chunk_avx2(const float* x, int64_t rows, int64_t in, const uint32_t* panels, int64_t out,
                          const float* bias, float* y, int64_t ldy, bool accumulate, uint32_t* abuf);

}  // namespace bigbird::simd
