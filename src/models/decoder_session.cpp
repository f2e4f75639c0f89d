#include "models/decoder_session.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace bigbird {

DecoderSession::DecoderSession(const PegasusModel& model, const PegasusEncoderOutput& enc, int64_t rows_per_item,
                               int64_t capacity, const ThreadingContext& ctx)
    : model_(model), ctx_(ctx), cross_(model.cross_attention_cache(enc, ctx)), rows_per_item_(rows_per_item) {
  BB_CHECK(rows_per_item >= 1, "decoder session: rows per input must be >= 1, got ", rows_per_item);
  BB_CHECK(capacity >= 1, "decoder session: capacity must be >= 1, got ", capacity);
  const BigBirdPegasusConfig& c = model.config();
  BB_CHECK(capacity <= c.max_position_embeddings, "decoding up to ", capacity,
           " tokens needs more than max_position_embeddings = ", c.max_position_embeddings, " decoder positions");
  rows_ = cross_.items * rows_per_item;
  self_.reset(c.decoder_layers, rows_, capacity, c.d_model);
  row_length_.assign(static_cast<size_t>(rows_), 0);
}

void DecoderSession::reorder(const std::vector<int64_t>& parent) {
  BB_CHECK(static_cast<int64_t>(parent.size()) == rows_, "decoder session: reorder needs ", rows_, " parents, got ",
           parent.size());
  for (int64_t p : parent) BB_CHECK(p >= 0 && p < rows_, "decoder session: parent row ", p, " out of range");
  // Snapshot every source row that is copied to another row, then write the destinations.
  std::map<int64_t, int64_t> slot;  // source row -> scratch slot
  for (int64_t j = 0; j < rows_; ++j)
    if (parent[static_cast<size_t>(j)] != j)
      slot.emplace(parent[static_cast<size_t>(j)], static_cast<int64_t>(slot.size()));
  if (slot.empty()) return;
  const int64_t H = model_.config().d_model, cap = self_.capacity, n = length_ * H;
  std::vector<int64_t> new_len(row_length_);
  for (int64_t j = 0; j < rows_; ++j)
    new_len[static_cast<size_t>(j)] = row_length_[static_cast<size_t>(parent[static_cast<size_t>(j)])];
  scratch_.resize(static_cast<size_t>(slot.size()) * static_cast<size_t>(n));
  for (auto* layers : {&self_.k, &self_.v})
    for (auto& buf : *layers) {
      for (const auto& [src, s] : slot) std::copy_n(buf.data() + src * cap * H, n, scratch_.data() + s * n);
      for (int64_t j = 0; j < rows_; ++j) {
        const int64_t src = parent[static_cast<size_t>(j)];
        if (src != j) std::copy_n(scratch_.data() + slot.at(src) * n, n, buf.data() + j * cap * H);
      }
    }
  row_length_ = std::move(new_len);
}

void DecoderSession::append(const int64_t* tokens, int64_t T, const std::vector<uint8_t>& active, float* logits) {
  BB_CHECK(T >= 1, "decoder session: nothing to append");
  BB_CHECK(active.empty() || static_cast<int64_t>(active.size()) == rows_, "decoder session: ", active.size(),
           " activity flags for ", rows_, " rows");
  std::vector<int64_t> idx, item, ids;
  for (int64_t r = 0; r < rows_; ++r) {
    if (!active.empty() && !active[static_cast<size_t>(r)]) continue;
    BB_CHECK(row_length_[static_cast<size_t>(r)] == length_, "decoder session: row ", r,
             " was left out of an earlier step and cannot be extended");
    idx.push_back(r);
    item.push_back(r / rows_per_item_);
    ids.insert(ids.end(), tokens + r * T, tokens + (r + 1) * T);
  }
  if (!idx.empty()) {
    const int64_t n = static_cast<int64_t>(idx.size()), H = model_.config().d_model, V = model_.config().vocab_size;
    Tensor x;
    model_.decoder_forward(ids.data(), n, T, length_, idx.data(), item.data(), self_, cross_, x, nullptr, ctx_);
    if (logits) {
      Tensor last(Shape{n, H}), out(Shape{n, V});
      for (int64_t i = 0; i < n; ++i) std::copy_n(x.ptr() + (i * T + T - 1) * H, H, last.ptr() + i * H);
      model_.lm_logits(last.ptr(), n, out.ptr(), ctx_, cross_.precision);
      for (int64_t i = 0; i < n; ++i) std::copy_n(out.ptr() + i * V, V, logits + idx[static_cast<size_t>(i)] * V);
    }
    for (int64_t r : idx) row_length_[static_cast<size_t>(r)] = length_ + T;
  }
  length_ += T;
}

}  // namespace bigbird
