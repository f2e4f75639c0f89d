// Run-time SIMD dispatch: one binary carries a portable path, an AVX2+FMA path and an AVX-512
// path of every fast kernel (kernel_table_impl.h, compiled once per instruction set by
// kernels_*.cpp with `#pragma GCC target`), and picks the widest one the CPU supports.
//
// Every public kernel takes a SimdPath (default Auto) so that tests can force each path and
// hold it to the scalar reference. BIGBIRD_SIMD=scalar|avx2|avx512 in the environment caps
// the automatic choice (for benchmarks and for checking the fallbacks on a wide machine).
#pragma once
#include <cstdint>

#include "core/counter_rng.h"
#include "sparse/layout.h"

namespace bigbird {

enum class SimdPath : int { Auto = -1, Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* simd_path_name(SimdPath p);
// Whether this CPU (and OS) can run path p. Scalar always; Auto always.
bool simd_path_supported(SimdPath p);
// Auto → the widest supported path (capped by BIGBIRD_SIMD); others are returned unchanged
// after a check that the CPU supports them (throws bigbird::Error otherwise).
SimdPath resolve_simd_path(SimdPath p);

namespace simd {

// One piece of a query tile's key list: key rows [start, start + len), masked by `kind`.
struct KeyPiece {
  int64_t start;
  int64_t len;
  MaskKind kind;
};

// Query rows [q0, q0 + nq) of one head against the concatenation of `pieces`:
//   out_i = m_out(i) · Σ_j softmax_j(scale·q_i·k_j + pen_ij) v_j
// pen_ij = (1 - m_k)·penalty (Key) or (1 - m_q·m_k)·penalty (QueryKey); no penalty without mask.
// m_out(i) = mask[q0+i] when zero_padded_queries, else 1.
struct AttnRowsJob {
  const float* q;  // row i of the tile at q + i*ldq (head offset applied)
  int64_t ldq;
  const float* kt;  // transposed keys of this head: k_j[t] = kt[t*ldkt + j]; columns past L are 0
  int64_t ldkt;
  const float* v;  // v_j at v + j*ldv (head offset applied)
  int64_t ldv;
  const float* mask;  // [L] or nullptr (no padding anywhere)
  float* out;         // row i at out + i*ldo (head offset applied)
  int64_t ldo;
  int64_t q0;
  int nq;  // ≤ kTileRows
  int d;
  const KeyPiece* pieces;
  int n_pieces;  // each piece len ≤ kChunkCols
  float scale, penalty;
  bool zero_padded_queries;
  float* scratch;  // scratch_floats(d) floats, 64-byte aligned, private to the calling thread
};

constexpr int kTileRows = 64;    // query rows per job
constexpr int kChunkCols = 512;  // key columns per softmax chunk (online softmax across chunks)
constexpr int kColPad = 64;      // slack after each score row and after the last key column of kt
int64_t scratch_floats(int64_t d);

struct KernelTable {
  void (*attend_rows)(const AttnRowsJob& job);
  // kt[(h*d + t)*ldkt + j] = k[j*ld + h*d + t] for j < L; zero for L ≤ j < ldkt. Rows of kt in
  // [row0, row1) only (callers split the work across threads).
  void (*pack_kt)(const float* k, int64_t ld, int64_t L, int64_t row0, int64_t row1, int64_t d, float* kt,
                  int64_t ldkt);
  // One row of the attention backward: s ← softmax(s + pen) over n values in place (pen may be
  // null), and dp ← p ⊙ (dp − Σ p·dp) (the softmax's backward, dp in place).
  void (*softmax_row)(float* s, const float* pen, int64_t n);
  void (*softmax_grad_row)(const float* p, float* dp, int64_t n);
  // Dropout on one row of attention probabilities (attention.h's ProbsDropout): with
  // f_j = counter_uniform(key, e0 + j) >= p ? scale : 0, x_j ← x_j·f_j, and f_j stored in f when
  // f is not null. Plain C++ that the compiler vectorises per instruction set (the hash is integer
  // arithmetic: the same f_j on every path).
  void (*dropout_row)(float* x, int64_t n, uint64_t key, uint64_t e0, float p, float scale, float* f);
  // y = LayerNorm(x + res + bias) per row (res, bias, gamma, beta may be null); y may alias x or res.
  void (*layernorm_rows)(const float* x, const float* res, const float* bias, float* y, int64_t rows, int64_t dim,
                         const float* gamma, const float* beta, float eps);
  // x[r, c] = gelu(x[r, c] + bias[c]) (bias may be null), erf form (HF "gelu") or tanh form
  // (HF "gelu_new"), and a clip to [-10, 10] when clip10.
  void (*gelu_rows)(float* x, int64_t rows, int64_t cols, const float* bias, bool tanh_form, bool clip10);
  // dx[i] = dy[i]·gelu'(x[i]) over n values (dx may alias dy), the derivative of gelu_rows' form
  // (no clip).
  void (*gelu_grad)(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form);
  // x[r*ldx + c] += bias[c] for c < cols
  void (*add_bias_rows)(float* x, int64_t rows, int64_t cols, const float* bias, int64_t ldx);
};

const KernelTable& kernels(SimdPath p);  // p resolved (not Auto)

// Per-path tables: kernel_table_impl.h compiled by kernels_{scalar,avx2,avx512}.cpp.
extern const KernelTable kScalarTable;
extern const KernelTable kAvx2Table;
extern const KernelTable kAvx512Table;

}  // namespace simd
}  // namespace bigbird
