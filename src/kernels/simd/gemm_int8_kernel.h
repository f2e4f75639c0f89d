// The int8 micro-kernels behind linear_int8 (kernels/gemm_int8.h): AVX512-VNNI (VPDPBUSD) and
// AVX2 (VPMADDWD), both reading the packed panels of PackedWeightInt8.
#pragma once
#include <cstdint>

namespace bigbird::simd {

constexpr int64_t kInt8PanelCols = 64;   // output columns per packed weight panel (4 zmm of int32)
constexpr int64_t kInt8RowChunk = 128;   // rows quantised at a time
constexpr int64_t kInt8MaxIn = 65536;    // Σ_k u8·s8 stays exact in int32 up to this width

// The scratch one worker needs for a chunk: kInt8RowChunk rows of ceil(in/4) 64-bit words (the
// AVX2 kernel's four int16 per word; the VNNI kernel uses half of it, the scalar path less).
inline int64_t int8_scratch_words(int64_t in) { return kInt8RowChunk * ((in + 3) / 4); }

// y[r, :] (=|+=) float(q(x[r, :])·qwᵀ) · (s_x[r] · scale) + bias for r < rows ≤ kInt8RowChunk;
// panels/scale/colsum as PackedWeightInt8; abuf holds int8_scratch_words(in) words. The caller
// checks the CPU (int8_vnni_supported / int8_avx2_supported).
void gemm_int8_chunk_vnni(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                          const int32_t* colsum, int64_t out, const float* bias, float* y, int64_t ldy,
                          bool accumulate, uint64_t* abuf);
void gemm_int8_chunk_avx2(const float* x, int64_t rows, int64_t in, const uint32_t* panels, const float* scale,
                          const int32_t* colsum, int64_t out, const float* bias, float* y, int64_t ldy,
                          bool accumulate, uint64_t* abuf);

}  // namespace bigbird::simd
