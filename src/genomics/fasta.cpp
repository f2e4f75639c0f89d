#include "genomics/fasta.h"

#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace bigbird::genomics {

namespace {

// Complement per upper-case code; 0 = not IUPAC.
constexpr std::array<char, 256> make_complements() {
  std::array<char, 256> t{};
  const char* from = "ACGTURYSWKMBDHVN";
  const char* to = "TGCAAYRSWMKVHDBN";
  for (int i = 0; from[i]; ++i) t[static_cast<unsigned char>(from[i])] = to[i];
  return t;
}
constexpr std::array<char, 256> kComplement = make_complements();

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string printable(int c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char b[16];
  std::snprintf(b, sizeof b, "byte 0x%02X", static_cast<unsigned>(c & 0xff));
  return b;
}

}  // namespace

bool is_iupac(char c) { return kComplement[static_cast<unsigned char>(upper(c))] != 0; }

char complement(char c) {
  const char r = kComplement[static_cast<unsigned char>(c)];
  BB_CHECK(r != 0, "not an upper-case IUPAC nucleotide code: ", printable(static_cast<unsigned char>(c)));
  return r;
}

std::string reverse_complement(std::string_view bases) {
  std::string out(bases.size(), 'N');
  for (size_t i = 0; i < bases.size(); ++i) out[bases.size() - 1 - i] = complement(bases[i]);
  return out;
}

struct FastaReader::Gz {
  gzFile f = nullptr;
  ~Gz() {
    if (f) gzclose(f);
  }
};

FastaReader::FastaReader(const std::string& path) : gz_(std::make_unique<Gz>()), path_(path) {
  if (path != "-") {
    BB_CHECK(!std::filesystem::is_directory(path), "cannot read '", path, "': it is a directory");
    gz_->f = gzopen(path.c_str(), "rb");
  } else {
    path_ = "stdin";
    gz_->f = gzdopen(::dup(0), "rb");
  }
  if (!gz_->f) fail("cannot read '", path_, "': ", std::strerror(errno ? errno : ENOMEM));
  gzbuffer(gz_->f, 1 << 17);
}

FastaReader::~FastaReader() = default;

void FastaReader::fail_here(const std::string& what) const { fail(path_, ":", line_, ": ", what); }

void FastaReader::refill() {
  if (eof_) return;
  buf_.resize(1 << 16);
  const int n = gzread(gz_->f, buf_.data(), static_cast<unsigned>(buf_.size()));
  if (n < 0) {
    int code = 0;
    const char* msg = gzerror(gz_->f, &code);
    fail("cannot read '", path_, "': ", code == Z_ERRNO ? std::strerror(errno) : msg,
         code == Z_DATA_ERROR ? " (corrupt gzip data)" : "");
  }
  buf_.resize(static_cast<size_t>(n));
  pos_ = 0;
  if (n == 0) {
    int code = 0;
    const char* msg = gzerror(gz_->f, &code);
    if (code == Z_BUF_ERROR) fail("cannot read '", path_, "': the gzip data ends early (a truncated file)");
    if (code != Z_OK) fail("cannot read '", path_, "': ", msg);
    eof_ = true;
  }
}

int FastaReader::peek() {
  if (pos_ >= buf_.size()) refill();
  return pos_ < buf_.size() ? static_cast<unsigned char>(buf_[pos_]) : -1;
}

int FastaReader::get() {
  const int c = peek();
  if (c < 0) return c;
  ++pos_;
  if (c == '\n') {
    ++line_;
    at_line_start_ = true;
  } else {
    at_line_start_ = false;
  }
  return c;
}

bool FastaReader::next_record() {
  if (in_record_) {
    std::string skip;
    while (read_bases(skip, 1 << 20) > 0) skip.clear();
  }
  // Before the first header: blank lines only.
  for (;;) {
    const int c = peek();
    if (c < 0) {
      if (!started_) fail(path_, ": not FASTA: the file is empty (expected a '>' header line)");
      in_record_ = false;
      return false;
    }
    if (c == '>' && at_line_start_) break;
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
      get();
      continue;
    }
    if (!started_) fail_here("not FASTA: expected a '>' header line, found " + printable(c));
    fail_here("internal: lost the start of a record");
  }
  get();  // '>'
  header_line_ = line_;
  header_.clear();
  for (int c = get(); c >= 0 && c != '\n'; c = get()) header_ += static_cast<char>(c);
  if (!header_.empty() && header_.back() == '\r') header_.pop_back();
  const size_t blank = header_.find_first_of(" \t");
  id_ = header_.substr(0, blank);
  if (id_.empty()) fail(path_, ":", header_line_, ": a FASTA header without a name ('>' must be followed by the id)");
  started_ = true;
  in_record_ = true;
  position_ = 0;
  return true;
}

size_t FastaReader::read_bases(std::string& out, size_t max_bases) {
  BB_CHECK(started_, "internal: read_bases before next_record");
  size_t n = 0;
  while (in_record_ && n < max_bases) {
    const int c = peek();
    if (c < 0 || (c == '>' && at_line_start_)) {
      in_record_ = false;
      break;
    }
    get();
    if (c == '\n' || c == '\r') continue;
    const char u = upper(static_cast<char>(c));
    if (kComplement[static_cast<unsigned char>(u)] == 0) {  // blanks too
      fail_here(printable(c) + " in record '" + id_ + "' is not an IUPAC nucleotide code (A C G T U R Y S W K M B D H V N)");
    }
    out += u == 'U' ? 'T' : u;
    ++n;
  }
  position_ += static_cast<int64_t>(n);
  if (!in_record_ && position_ == 0)
    fail(path_, ":", header_line_, ": record '", id_, "' has no bases");
  return n;
}

}  // namespace bigbird::genomics
