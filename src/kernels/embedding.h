// Embedding lookups y[r] = table[ids[r]] and their backward.
#pragma once
#include <cstdint>

#include "core/threading.h"

namespace bigbird {

// Backward of an embedding lookup y[r] = table[ids[r]] (dy [rows, dim], dtable [vocab, dim]):
// dtable[ids[r]] += dy[r] for each row whose id != padding_idx (padding_idx < 0: none; PyTorch's padding_idx: that
// row of the table gets no gradient). Deterministic: each table row adds its rows in row order (float adds, as
// PyTorch's CPU index_add), whatever the thread count; the work is split over fixed column chunks.
// A negative id other than padding_idx: bigbird::Error naming the row. The table's row count is not known here: the
// caller checks ids < vocab (the forward lookup already did).
void embedding_backward(const ThreadingContext& ctx, const int64_t* ids, int64_t rows, const float* dy, int64_t dim,
                        float* dtable, int64_t padding_idx);

}  // namespace bigbird
