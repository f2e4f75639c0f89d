// Backward of the attention kernels of attention.h: gradients of q, k and v given the gradient
// of the output, exactly as PyTorch autograd computes them through HF's forward.
//
// Shapes and strides as in attention.h: q, k, v are [L, a.ld]; dout is [L, a.ld_out]; dq, dk, dv
// are [L, a.ld]; head h uses columns [h*d, (h+1)*d). Every element of those columns of dq, dk
// and dv is written (zeros where no gradient flows); the slack columns [heads*d, ld) are left
// untouched. a.out and a.ld_out's buffer are not read (only dout uses ld_out). dq, dk, dv must
// not alias each other nor q, k, v, dout.
//
// Per query row i of head h (forward: s_j = q_i·k_j/√d + pen_j, p = softmax(s), o_i = c_i Σ p_j v_j):
//   do = c_i·dout_i;  dv_j += p_j do;  dp_j = do·v_j;  ds_j = p_j (dp_j − Σ_l p_l dp_l);
//   dq_i = Σ_j ds_j k_j/√d;  dk_j += ds_j q_i/√d
// with c_i = m[i] for block-sparse attention (padded query rows get no gradient) and c_i = 1 for
// full attention. The penalties are constants (no gradient flows into the mask); like autograd,
// the backward uses the forward's actual probabilities, so a full-attention row whose keys are all
// masked (scores all rounded to finfo.min: a uniform softmax) still passes gradients to q and k.
//
// The fast kernels never build an L x L matrix. They work per query tile (a block-sparse query
// block, or 64 rows of full attention) against the tile's whole key list, with block-level
// products (OpenBLAS sgemm, single-threaded inside each task): the key and value rows of the
// listed blocks are gathered into panels [nk, d] (full attention reads K and V in place), then
//   S = Q·Kᵀ/√d + pen,  P = softmax(S) per row (every key of a row is in its panel: no statistics
//   pass),  dP = G·Vᵀ (G_i = c_i·dout_i),  dS = P ⊙ (dP − rowsum(P ⊙ dP)),
//   dQ = dS·K/√d,  dK_panel = dSᵀ·Q/√d,  dV_panel = Pᵀ·G,
// and the panel gradients are added, per key block, to the head's dk and dv sums (double). The
// softmax rows run on the SIMD kernel table (`path`, as in attention.h). Scores, probabilities and
// products in float, the dk and dv sums across tiles in double. Memory O(L) per task (a 64 x L
// score tile at most). One task per head, its tiles in a fixed order: the results do not depend
// on the thread count (and at most `heads` threads are busy).
#pragma once

#include "core/threading.h"
#include "kernels/attention.h"
#include "sparse/layout.h"

namespace bigbird {

// Backward of block_sparse_attention (same AttentionInput `a`: q, k, v, ld, L, heads, d, mask).
void block_sparse_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const BlockLayout& layout,
                                     const float* dout, float* dq, float* dk, float* dv,
                                     SimdPath path = SimdPath::Auto);
// Backward of full_attention (HF original_full: penalty (1 - m[k])·finfo(float32).min, no output
// scaling by m[q]), with the forward's dropout on the probabilities when `drop` is active: with
// P̃ = P ⊙ M, M_ij = keep_ij·scale (attention.h's ProbsDropout),
//   dv_j += Σ_i P̃_ij do_i;  dp_ij = M_ij·(do_i·v_j);  ds_ij = P_ij (dp_ij − Σ_l P_il dp_il).
void full_attention_backward(const ThreadingContext& ctx, const AttentionInput& a, const float* dout, float* dq,
                             float* dk, float* dv, SimdPath path = SimdPath::Auto, const ProbsDropout& drop = {});

// Scalar references (double accumulation, one query row at a time) for tests.
void block_sparse_attention_backward_ref(const AttentionInput& a, const BlockLayout& layout, const float* dout,
                                         float* dq, float* dk, float* dv);
void full_attention_backward_ref(const AttentionInput& a, const float* dout, float* dq, float* dk, float* dv,
                                 const ProbsDropout& drop = {});

}  // namespace bigbird
