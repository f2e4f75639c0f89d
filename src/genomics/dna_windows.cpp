#include "genomics/dna_windows.h"

#include <algorithm>

#include "core/error.h"

namespace bigbird::genomics {

DnaWindows::DnaWindows(FastaReader& in, const Tokenizer& tok, int64_t room, int64_t overlap, int64_t chunk)
    : in_(in), tok_(tok), room_(room), overlap_(overlap), chunk_(std::max<int64_t>(chunk, 1)) {
  BB_CHECK(room_ >= 1, "a window must hold at least one token besides the special tokens, got ", room_);
  BB_CHECK(overlap_ >= 0 && overlap_ < room_, "--stride ", overlap_,
           " must be smaller than the tokens a window holds besides its special tokens (", room_, ")");
}

void DnaWindows::fill() {
  const size_t want = buf_.size() + static_cast<size_t>(chunk_ + 2 * kMargin);
  while (!record_done_ && buf_.size() < want)
    if (in_.read_bases(buf_, want - buf_.size()) == 0) record_done_ = true;
}

void DnaWindows::tokenize() {
  EncodeOptions eo;
  eo.add_special_tokens = false;
  const Encoding e = tok_.encode(buf_, eo);
  offsets_ = e.offsets;
  const int64_t n = static_cast<int64_t>(offsets_.size());
  if (record_done_) {
    final_ = n;
    return;
  }
  const int64_t limit = static_cast<int64_t>(buf_.size()) - kMargin;
  final_ = 0;
  while (final_ < n && offsets_[static_cast<size_t>(final_)].second <= limit) ++final_;
}

int64_t DnaWindows::boundary(int64_t t) const {
  return t == 0 ? 0 : offsets_[static_cast<size_t>(t - 1)].second;
}

bool DnaWindows::next(DnaWindow& w) {
  for (;;) {
    if (!in_record_) {
      if (!in_.next_record()) return false;
      buf_.clear();
      buf_start_ = 0;
      record_done_ = false;
      fill();
      tokenize();
      cursor_ = 0;
      in_record_ = true;
      BB_CHECK(!offsets_.empty(), in_.path(), ": record '", in_.record(), "' gives no tokens");
    }
    const int64_t n = static_cast<int64_t>(offsets_.size());
    const int64_t end_tok = std::min(cursor_ + room_, n);
    if (!record_done_ && end_tok > final_) {
      // Cut the chunk at this window's first token, read on, tokenize the rest again.
      const int64_t keep = boundary(cursor_);
      buf_.erase(0, static_cast<size_t>(keep));
      buf_start_ += keep;
      fill();
      tokenize();
      cursor_ = 0;
      continue;
    }
    const int64_t first = boundary(cursor_);
    const int64_t last = end_tok == n ? static_cast<int64_t>(buf_.size()) : boundary(end_tok);
    w.record = in_.record();
    w.start = buf_start_ + first;
    w.end = buf_start_ + last;
    w.bases = buf_.substr(static_cast<size_t>(first), static_cast<size_t>(last - first));
    w.tokens = end_tok - cursor_;
    if (end_tok == n) {
      in_record_ = false;  // the record's last window (record_done_ holds here)
    } else {
      cursor_ += room_ - overlap_;
    }
    return true;
  }
}

}  // namespace bigbird::genomics
