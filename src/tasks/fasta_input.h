// `--fasta FILE`: a task (embed, classify, score) over DNA records. Each record is cut into
// windows (genomics/dna_windows.h) of `window` tokens, special tokens included, consecutive
// windows sharing `stride` tokens; each window is one input of the task, and its answer goes out
// as one line naming the record and the window's bases, 0-based and end-exclusive:
//   {"record": "NC_000913.3", "start": 0, "end": 510, "embedding": [...]}   (field "embedding")
//   {"record": ..., "start": ..., "end": ..., "labels": [{"label", "score"}, ...]}
//   {"record": ..., "start": ..., "end": ..., "pseudo_log_likelihood": ..., ...}  (field "": merged)
// With reverse_complement, each window's reverse complement runs too and the task averages the
// two answers (Task::finish_strands). Records stream: memory holds one chunk of bases and one
// batch of windows, whatever the genome.
#pragma once
#include <cstdint>
#include <string>

#include "tasks/jsonl.h"
#include "tasks/task.h"

namespace bigbird::tasks {

struct FastaOptions {
  std::string path;                 // FASTA, plain or gzip; "-": stdin
  int64_t window = -1;              // tokens per window, special tokens included; < 0: the model's maximum
  int64_t stride = 0;               // tokens shared by consecutive windows
  bool reverse_complement = false;  // average the window and its reverse complement
  std::string field;                // the answer's key in each line; "": the answer's own fields
  bool raw = false;                 // hand the writer the bare answers (a .npy matrix of embeddings)
  int64_t chunk = 1 << 20;          // bases read at a time (tests make it small)
};

struct FastaStats {
  int64_t records = 0, windows = 0;
  int64_t bases = 0;        // bases of the windows (overlaps counted again)
  double bits = 0;          // score: sum of bits_per_base * bases over the windows
  int64_t scored_bases = 0;
  double seconds = 0;
};

// Runs `task` over every window of every record, answers to `writer` in file order. Throws
// bigbird::Error for a bad file (genomics/fasta.h), a --window the model cannot take, or a window
// the task refuses (named by record and bases).
FastaStats run_fasta(const Task& task, const FastaOptions& fo, ResultWriter& writer, const RunOptions& run,
                     bool progress);

}  // namespace bigbird::tasks
