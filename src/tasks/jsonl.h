// Inputs and outputs of the task commands: JSONL records in, one answer per line out (in input
// order), atomic output files, a progress bar, and the batch driver that ties them together.
#pragma once
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <iostream>
#include <istream>

#include "core/atomic_file.h"
#include "tasks/task.h"

namespace bigbird::tasks {

// One JSONL line as an input of the given kind: {"text": ...[, "text_pair": ...]} or
// {"question": ..., "context": ...}. Throws InputError (not JSON, not an object, a missing or
// non-string field, invalid UTF-8).
InputRecord parse_record(std::string_view line, InputKind kind);

// The text of a file ("-" = stdin), without one trailing "\n" or "\r\n" (what `echo` adds).
// Throws bigbird::Error if it cannot be read.
std::string read_text_file(const std::string& path);

// Where answers go: stdout, or a file written atomically (core/atomic_file.h: a temporary file
// created exclusively in the same directory, renamed into place by commit(); removed if the
// object dies uncommitted or the process is interrupted, so an error never leaves a partial file
// behind).
class OutputSink {
 public:
  explicit OutputSink(const std::string& path);  // "" or "-": stdout
  ~OutputSink();
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;
  std::ostream& stream();
  void commit();

 private:
  std::string path_;
  std::unique_ptr<AtomicOutput> file_;
};

// Consumes the answers, one per input, in input order.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  virtual void write(const json& answer) = 0;
  // A skipped bad input (--skip-bad-lines): `message` says why.
  virtual void write_error(const std::string& message) = 0;
  virtual void finish() {}
};

// One compact JSON document per line; a skipped input becomes {"error": "..."}.
class JsonLinesWriter : public ResultWriter {
 public:
  explicit JsonLinesWriter(std::ostream& out) : out_(out) {}
  void write(const json& answer) override;
  void write_error(const std::string& message) override;

 private:
  std::ostream& out_;
};

// A progress bar on stderr: "  120/1000 [===>      ] 12%  85.3 inputs/s  ETA 0:10". Draws
// nothing unless enabled (the CLI enables it when stderr is a terminal).
class Progress {
 public:
  Progress(bool enabled, int64_t total);  // total < 0: unknown
  void update(double done);               // inputs done (fractions while a group runs)
  void done();

 private:
  bool enabled_;
  int64_t total_;
  double start_, last_ = -1;
  bool drawn_ = false;
};

struct BatchOptions {
  RunOptions run;
  bool skip_bad_lines = false;  // write an error line and go on instead of failing
  bool progress = false;
  size_t read_ahead = 0;    // inputs read, sorted by length and run together (0: 64 x batch_size, >= 256)
  std::string source = "";  // the input's name in messages
};

struct BatchStats {
  int64_t inputs = 0;  // records read (bad ones included)
  int64_t bad = 0;     // records skipped
};

// True for a line with nothing but spaces, tabs and line ends (skipped in JSONL input).
bool blank_line(std::string_view s);

// The JSONL batch loop shared by every task command. Reads `in` in chunks of up to `ahead`
// non-blank lines; each line becomes a Job through prepare(line, line_number), which throws
// InputError for a bad record. A bad record fails the run as InputError("SOURCE:LINE: ...")
// unless skip_bad_lines: then skipped(message) is called, writer.write_error(message) keeps the
// output aligned with the input, and the loop goes on. The chunk's good jobs go to
// run(jobs, inputs_before_chunk, chunk_size) together, then emit(job, inputs_done) writes each
// answer in input order. before_fail() runs before any failure (e.g. to end a progress line).
template <typename Job, typename Prepare, typename Run, typename Emit, typename Skipped, typename BeforeFail>
BatchStats drive_jsonl(std::istream& in, size_t ahead, const std::string& source, bool skip_bad_lines,
                       ResultWriter& writer, Prepare&& prepare, Run&& run, Emit&& emit, Skipped&& skipped,
                       BeforeFail&& before_fail) {
  struct Slot {
    int64_t line = 0;
    std::unique_ptr<Job> job;
    std::string error;
  };
  BatchStats stats;
  std::string line;
  int64_t line_no = 0;
  bool eof = false;
  while (!eof) {
    std::vector<Slot> slots;
    while (slots.size() < ahead) {
      if (!std::getline(in, line)) {
        // A failed read is not the end of the input: a read error must not end a batch silently.
        if (in.bad() || (&in == &std::cin && std::ferror(stdin))) {
          before_fail();
          fail("cannot read ", source, ": read error after line ", line_no, " (no output written)");
        }
        eof = true;
        break;
      }
      ++line_no;
      if (blank_line(line)) continue;
      Slot s;
      s.line = line_no;
      try {
        s.job = prepare(line, line_no);
      } catch (const InputError& e) {
        s.job.reset();
        s.error = e.what();
      }
      slots.push_back(std::move(s));
    }
    if (!skip_bad_lines)
      for (const Slot& s : slots)
        if (!s.error.empty()) {
          before_fail();
          input_fail(source, ":", s.line, ": ", s.error, " (--skip-bad-lines to go on)");
        }
    std::vector<Job*> jobs;
    for (Slot& s : slots)
      if (s.job) jobs.push_back(s.job.get());
    run(jobs, stats.inputs, slots.size());
    for (Slot& s : slots) {
      ++stats.inputs;
      if (s.job) {
        emit(*s.job, stats.inputs);
        s.job.reset();
      } else {
        const std::string msg = source + ":" + std::to_string(s.line) + ": " + s.error;
        skipped(msg);
        writer.write_error(msg);
        ++stats.bad;
      }
    }
  }
  if (stats.inputs == 0) {
    before_fail();
    input_fail(source, ": no input records (expected one JSON object per line)");
  }
  return stats;
}

// Reads JSONL records from `in` (blank lines are ignored), answers them with `task` and hands the
// answers to `writer` in input order. A bad record throws InputError("SOURCE:LINE: ...") unless
// opt.skip_bad_lines (then a warning goes to stderr and writer.write_error is called). Throws
// InputError if the input holds no record at all. `total` (records, -1 if unknown) feeds the
// progress bar.
BatchStats run_jsonl(const Task& task, std::istream& in, int64_t total, ResultWriter& writer, const BatchOptions& opt);

// Number of non-blank lines of a file (for the progress bar); -1 if it cannot be read.
int64_t count_records(const std::string& path);

}  // namespace bigbird::tasks
