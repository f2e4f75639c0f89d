#include "kernels/embedding.h"

#include <algorithm>

#include "core/error.h"

namespace bigbird {

void embedding_backward(const ThreadingContext& ctx, const int64_t* ids, int64_t rows, const float* dy, int64_t dim,
                        float* dtable, int64_t padding_idx) {
  for (int64_t r = 0; r < rows; ++r)
    BB_CHECK(ids[r] >= 0 || (padding_idx >= 0 && ids[r] == padding_idx), "embedding_backward: row ", r, " has id ",
             ids[r], " (negative)");
  if (rows <= 0 || dim <= 0) return;
  // Column chunks: every task walks all rows in order over its own columns, so each element of dtable receives its
  // rows' adds in row order whichever thread runs the task.
  constexpr int64_t kCols = 64;
  const int64_t nc = (dim + kCols - 1) / kCols;
  parallel_for(ctx.when(rows * dim > 32768), nc, [&](int64_t t) {
    const int64_t c0 = t * kCols, n = std::min(kCols, dim - c0);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t id = ids[r];
      if (padding_idx >= 0 && id == padding_idx) continue;
      float* dst = dtable + id * dim + c0;
      const float* src = dy + r * dim + c0;
      for (int64_t c = 0; c < n; ++c) dst[c] += src[c];
    }
  });
}

}  // namespace bigbird
