// DNA input: a streaming FASTA reader (plain or gzip), IUPAC nucleotide codes and their
// complements, and the windows `--fasta` runs a model over.
//
//   FastaReader in("genome.fa.gz");
//   std::string bases;
//   while (in.next_record())                      // in.record(): the id, up to the first blank
//     while (in.read_bases(bases, 1 << 20) > 0)   // upper-cased, checked; never the whole record
//       ...
//
// Accepted: one or more records, each a '>' header line and its sequence over any number of
// lines of any width (CRLF too), upper or lower case (soft-masked repeats are upper-cased), the
// IUPAC codes A C G T U R Y S W K M B D H V N (U is read as T). Refused, as bigbird::Error naming
// the file and line: a file whose first non-blank line is not a header ("not FASTA"), a
// character outside IUPAC (gaps '-' and '*' included), a record without bases, corrupt gzip.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bigbird::genomics {

// True for the IUPAC nucleotide codes, either case.
bool is_iupac(char c);
// The complement of an upper-case IUPAC code (A<->T, C<->G, R<->Y, K<->M, B<->V, D<->H; S, W, N
// are their own).
char complement(char c);
// The reverse complement of upper-case IUPAC bases.
std::string reverse_complement(std::string_view bases);

class FastaReader {
 public:
  // "-" reads stdin. gzip is recognised by its magic bytes, whatever the file's name.
  explicit FastaReader(const std::string& path);
  ~FastaReader();
  FastaReader(const FastaReader&) = delete;
  FastaReader& operator=(const FastaReader&) = delete;

  // Moves to the next record (skipping what is left of the current one); false at the end of
  // the file. Throws at the first record if the file is not FASTA, and when a record has no bases.
  bool next_record();
  // The current record's id (its header up to the first blank) and whole header line.
  const std::string& record() const { return id_; }
  const std::string& header() const { return header_; }
  // Bases of the current record read so far.
  int64_t position() const { return position_; }
  // Appends up to `max_bases` bases of the current record to `out` (upper case, U as T);
  // returns how many, 0 at the record's end.
  size_t read_bases(std::string& out, size_t max_bases);
  const std::string& path() const { return path_; }

 private:
  int get();   // next byte, or -1 at the end
  int peek();  // the same without consuming it
  void refill();
  [[noreturn]] void fail_here(const std::string& what) const;

  struct Gz;
  std::unique_ptr<Gz> gz_;
  std::string path_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  int64_t line_ = 1;          // line of the next byte
  bool at_line_start_ = true;
  bool in_record_ = false;    // between a header and the next one
  bool started_ = false;      // a header was seen
  std::string id_, header_;
  int64_t position_ = 0;
  int64_t header_line_ = 0;
};

}  // namespace bigbird::genomics
