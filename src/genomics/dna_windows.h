// The windows `--fasta` runs: each FASTA record cut into windows of up to `room` tokens (the
// model's row without its special tokens), consecutive windows sharing `overlap` tokens, the
// first starting at base 0 and the last ending at the record's end, each window's bases reaching
// from where the token before it ends to where the token after it starts, so the windows cover
// every base. Each window names its
// record and its bases [start, end), 0-based, end-exclusive.
//
// Streaming: a record is read and tokenized a chunk (about a megabase) at a time; when the next
// window would reach past the tokens known to be final (those ending at least kMargin bases
// before the chunk's end), the chunk is cut at that window's first token, more bases are read and
// the rest is tokenized again. Memory is one chunk, whatever the record's length. With one token
// per base this is exactly the tokenization of the whole record; with BPE each cut sees
// kMargin bases of context on both sides.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "genomics/fasta.h"
#include "text/tokenizer.h"

namespace bigbird::genomics {

struct DnaWindow {
  std::string record;
  int64_t start = 0, end = 0;  // bases [start, end) of the record
  std::string bases;           // those bases (upper case)
  int64_t tokens = 0;          // tokens of the window, special tokens not counted
};

class DnaWindows {
 public:
  static constexpr int64_t kMargin = 4096;
  // room >= 1; 0 <= overlap < room. `chunk` (bases per read) is for tests.
  DnaWindows(FastaReader& in, const Tokenizer& tok, int64_t room, int64_t overlap, int64_t chunk = 1 << 20);
  // The next window, false after the last record's last window.
  bool next(DnaWindow& w);

 private:
  void fill();      // reads up to chunk_ more bases of the record
  void tokenize();  // offsets of buf_'s tokens, and how many are final
  // Where window bases start before token t of buf_: where token t - 1 ends (0 for t = 0), so
  // bases no token covers (an N run a normalizer folds into one token's last base) still fall
  // in a window, and the windows tile the record.
  int64_t boundary(int64_t t) const;

  FastaReader& in_;
  const Tokenizer& tok_;
  int64_t room_, overlap_, chunk_;
  bool in_record_ = false, record_done_ = false;
  std::string buf_;
  int64_t buf_start_ = 0;
  std::vector<std::pair<int64_t, int64_t>> offsets_;
  int64_t final_ = 0;  // tokens [0, final_) cannot change with more bases
  int64_t cursor_ = 0;
};

}  // namespace bigbird::genomics
