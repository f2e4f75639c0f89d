// Incremental BigBirdPegasus decoding with a key/value cache: the cross-attention keys/values are
// computed once per encoded input; each appended token adds one self-attention key/value per layer
// and attends to the cached prefix, so a step costs O(current length), not O(length²).
//
// Rows are laid out item-major: rows [i·rows_per_item, (i+1)·rows_per_item) decode encoder item i
// (the beams of input i). All rows share one length; a row left out of a step (inactive) falls
// behind and may not be extended again (finished rows of greedy search, finished items of beam search).
#pragma once
#include <cstdint>
#include <vector>

#include "models/pegasus_model.h"

namespace bigbird {

class DecoderSession {
 public:
  // capacity = the longest prefix that will be decoded (positions [0, capacity)).
  DecoderSession(const PegasusModel& model, const PegasusEncoderOutput& enc, int64_t rows_per_item, int64_t capacity,
                 const ThreadingContext& ctx);

  int64_t rows() const { return rows_; }
  int64_t length() const { return length_; }
  int64_t capacity() const { return self_.capacity; }

  // Row j continues the prefix of row parent[j] (beam reordering): copies only the rows that change.
  void reorder(const std::vector<int64_t>& parent);

  // Feeds tokens [rows, T] (row-major, T >= 1) at positions [length, length + T) to the rows with
  // active[r] != 0 (every row when `active` is empty), and writes the logits of the last new
  // position of those rows into logits [rows, V] (skipped when logits is null).
  void append(const int64_t* tokens, int64_t T, const std::vector<uint8_t>& active, float* logits);

 private:
  const PegasusModel& model_;
  ThreadingContext ctx_;
  CrossAttentionCache cross_;
  SelfAttentionCache self_;
  int64_t rows_ = 0, rows_per_item_ = 1, length_ = 0;
  std::vector<int64_t> row_length_;  // positions filled per row
  std::vector<float> scratch_;
};

}  // namespace bigbird
