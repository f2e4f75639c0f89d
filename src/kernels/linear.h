// Fully connected layers in PyTorch's convention: y = x · Wᵀ + b, W is [out, in].
#pragma once
#include <cstdint>
#include <string>

#include "core/threading.h"

namespace bigbird {

// x [rows, in], W [out, in], bias [out] or nullptr, y [rows, out]. BLAS (OpenBLAS) sgemm in tiles
// fixed by the shape (one single-threaded sgemm call per tile, tiles spread over ctx's threads):
// the result does not depend on the thread count.
void linear(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, const float* bias,
            int64_t out, float* y);

// The same with y += x · Wᵀ + b (accumulate), used for residual connections.
void linear_accumulate(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                       const float* bias, int64_t out, float* y);

// Several products over the same rows in one parallel region (one fork/join, tiles of every job
// spread over the threads together): y = x·Wᵀ + b, or y += x·Wᵀ + b when accumulate. Each job's
// tiles are those of linear(): the same bits as calling linear() per job.
struct LinearJob {
  const float* x;
  int64_t in;
  const float* W;
  const float* bias;  // nullptr: none
  int64_t out;
  float* y;
  bool accumulate;
};
void linear_many(const ThreadingContext& ctx, int64_t rows, const LinearJob* jobs, int n_jobs);

// Scalar reference (double accumulation) for tests.
void linear_ref(const float* x, int64_t rows, int64_t in, const float* W, const float* bias, int64_t out, float* y);

// Backward of y = x·Wᵀ + b over `rows` rows (x [rows,in], W [out,in], dy [rows,out]):
// dx = dy·W (written; null: skipped), dW += dyᵀ·x (accumulated; null: skipped), db += Σ_r dy[r] (accumulated; null:
// skipped). BLAS sgemm in tiles fixed by the shape (one single-threaded call per tile inside parallel_for), so
// bit-identical for any thread count. dW: tiles of output rows of W, each one sgemm over all `rows` (K = rows).
// db: each column summed over the rows in row order (double accumulator), columns in fixed chunks.
void linear_backward(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W, int64_t out,
                     const float* dy, float* dx, float* dW, float* db);
// Several backward passes over the same rows in one parallel region: every job's dW, dx and db
// tasks (those of linear_backward, so the same bits) spread over the threads together.
struct LinearBackwardJob {
  const float* x;
  int64_t in;
  const float* W;
  int64_t out;
  const float* dy;
  float *dx, *dW, *db;  // each nullptr: skipped
};
void linear_backward_many(const ThreadingContext& ctx, int64_t rows, const LinearBackwardJob* jobs, int n_jobs);
// Scalar reference of linear_backward (double accumulation), same semantics.
void linear_backward_ref(const float* x, int64_t rows, int64_t in, const float* W, int64_t out, const float* dy,
                         float* dx, float* dW, float* db);

// y (+)= x·Wᵀ + b for a few rows (a decoder step): one sgemv per row and column tile instead of
// sgemm, which packs the whole of W on every call (3x slower on a 16000 x 512 LM head). Column
// tiles are fixed by the shape, so the result does not depend on the thread count.
void linear_matvec(const ThreadingContext& ctx, const float* x, int64_t rows, int64_t in, const float* W,
                   const float* bias, int64_t out, float* y, bool accumulate);

// The OpenBLAS kernel family in use (e.g. "Cooperlake", "Haswell"), for benchmark reports.
// OpenBLAS honours OPENBLAS_CORETYPE: =Haswell on an AVX-512 machine halves sgemm's speed.
std::string blas_core_name();

}  // namespace bigbird
