// The bf16 block-sparse attention kernel (attention_bf16_avx512.cpp, AVX512-BF16): the fused
// kernel of attention_impl.h with its two products on VDPBF16PS, for `--dtype bf16` inference.
//
//   S = scale · bf16(Q)·bf16(K)ᵀ   float32 accumulation (pairs along the head dimension)
//   penalties, online softmax      float32, exactly as the float32 kernel (running max and sum)
//   O += bf16(P)·bf16(V)           float32 accumulation (pairs of keys along j)
//
// Layouts (one 32-bit word holds two bf16, the first in the low half, as VDPBF16PS reads them):
//   kt2[(h·dp + p)·ldkt2 + j] = (k[j][h·d + 2p], k[j][h·d + 2p + 1]), dp = ceil(d/2); zero for
//                               j ≥ L and for the odd-d tail's second half
//   v2[m·ldv2 + c]            = (v[2m][c], v[2m+1][c]) for c < heads·d; zero past heads·d and
//                               for rows ≥ L
// Every piece of a job must start at an even key and have an even length (the callers run the
// bf16 kernel only when the layout's block is even).
#pragma once
#include <cstdint>

#include "kernels/simd/dispatch.h"

namespace bigbird::simd {

struct AttnBf16Keys {
  const uint32_t* kt2;  // this head's first pair row (kt2 + h·dp·ldkt2)
  int64_t ldkt2;
  const uint32_t* v2;  // this head's first column (v2 + h·d)
  int64_t ldv2;
  uint32_t* q2;  // kTileRows·dp words of per-thread scratch (the tile's queries as pairs)
};

// Columns of the packed buffers (ldkt2 = the float32 kernel's kt stride works: ≥ L + kColPad).
inline int64_t bf16_ldv2(int64_t heads_d) { return (heads_d + 15) / 16 * 16 + 16; }
// Words of per-thread scratch attend_rows_bf16 and pack_kv_bf16 need.
inline int64_t bf16_scratch_words(int heads, int64_t d) {
  const int64_t dp = (d + 1) / 2, tmp = 16 * ((heads * dp + 15) / 16 * 16);
  return (kTileRows * dp > tmp ? kTileRows * dp : tmp) + 16;
}

// The job j (as for the float32 kernel; j.kt and j.v unused) with bf16 products. j.scratch as for
// the float32 kernel (scratch_floats(d)).
void attend_rows_bf16_avx512(const AttnRowsJob& j, const AttnBf16Keys& keys);

// Packs keys j ∈ [j0, j1) (j0, j1 multiples of 16; j ≥ L zero) of every head into kt2 and v2 (rows
// j0/2 .. j1/2). kt2 needs heads·dp + 16 rows (the last 16x16 transpose may write slack rows).
// tmp: bf16_scratch_words(heads, d) words.
void pack_kv_bf16_avx512(const float* k, const float* v, int64_t ld, int64_t L, int heads, int64_t d, int64_t j0,
                         int64_t j1, uint32_t* kt2, int64_t ldkt2, uint32_t* v2, int64_t ldv2, uint32_t* tmp);

}  // namespace bigbird::simd
