#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <streambuf>
#include <vector>

#include "core/error.h"
#include "core/temp_files.h"

namespace bigbird {

namespace fs = std::filesystem;

namespace {

// A write-only stream buffer on a file descriptor; the first failed write is remembered.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd), buf_(1 << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const char* p = pbase();
    size_t left = static_cast<size_t>(pptr() - pbase());
    while (left > 0 && error_ == 0) {
      const ssize_t w = ::write(fd_, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) error_ = w < 0 ? errno : EIO;
      else p += w, left -= static_cast<size_t>(w);
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return error_ == 0;
  }
  int fd_;
  std::vector<char> buf_;
  int error_ = 0;
};

}  // namespace

struct AtomicOutput::Impl {
  std::string path, tmp;
  int fd = -1;
  int slot = -1;
  std::unique_ptr<FdBuf> buf;
  std::unique_ptr<std::ostream> os;
  bool done = false;

  void discard() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (!tmp.empty()) ::unlink(tmp.c_str());
    unregister_temp_file(slot);
    slot = -1;
    done = true;
  }
};

AtomicOutput::AtomicOutput(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  const fs::path target(path);
  BB_CHECK(!path.empty(), "cannot write '': empty path");
  std::error_code ec;
  BB_CHECK(!fs::is_directory(target, ec), "cannot write '", path, "': it is a directory");
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  BB_CHECK(fs::is_directory(dir, ec), "cannot write '", path, "': directory '", dir.string(), "' does not exist");
  std::string leaf = ".";  // a hidden temporary beside the target: <dir>/.<name>.tmp.XXXXXX
  leaf += target.filename().string();
  leaf += ".tmp.XXXXXX";
  // The name is drawn and registered before the file exists, so a signal at any moment finds it
  // registered; O_EXCL | O_NOFOLLOW: never an existing file or a planted link.
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(::getpid()));
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  int fd = -1, err = 0;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    std::string tmp = (dir / leaf).string();
    for (size_t i = tmp.size() - 6; i < tmp.size(); ++i) tmp[i] = kChars[rng() % (sizeof kChars - 1)];
    const int slot = register_temp_file(tmp, path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    err = errno;
    if (fd >= 0) {
      impl_->tmp = tmp;
      impl_->slot = slot;
    } else {
      unregister_temp_file(slot);
      if (err != EEXIST) break;
    }
  }
  if (fd < 0) fail("cannot write '", path, "': ", std::strerror(err));
  impl_->fd = fd;
  impl_->buf = std::make_unique<FdBuf>(fd);
  impl_->os = std::make_unique<std::ostream>(impl_->buf.get());
}

AtomicOutput::~AtomicOutput() {
  if (impl_ && !impl_->done) impl_->discard();
}

std::ostream& AtomicOutput::stream() { return *impl_->os; }

void AtomicOutput::commit() {
  Impl& m = *impl_;
  BB_CHECK(!m.done, "cannot write '", m.path, "': already committed");
  m.os->flush();
  const int werr = m.buf->error();
  if (werr != 0 || !m.os->good()) {
    m.discard();
    fail("cannot write '", m.path, "': ", werr ? std::strerror(werr) : "write failed");
  }
  ::fchmod(m.fd, 0644);
  const int c = ::close(m.fd);
  m.fd = -1;
  if (c != 0) {
    const int err = errno;
    m.discard();
    fail("cannot write '", m.path, "': ", std::strerror(err));
  }
  if (std::rename(m.tmp.c_str(), m.path.c_str()) != 0) {
    const int err = errno;
    m.discard();
    fail("cannot write '", m.path, "': ", std::strerror(err));
  }
  unregister_temp_file(m.slot);
  m.slot = -1;
  m.done = true;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicOutput out(path);
  out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.commit();
}

std::string read_fd_bytes(int fd, const std::string& name) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("cannot read ", name, ": ", std::strerror(errno));
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

std::string read_file_bytes(const std::string& path) {
  if (path == "-") return read_fd_bytes(STDIN_FILENO, "stdin");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail("cannot read '", path, "': it is a directory");
  }
  try {
    std::string out = read_fd_bytes(fd, "'" + path + "'");
    ::close(fd);
    return out;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void check_output_is_not_input(const std::string& output, const char* output_flag, const std::string& input,
                               const char* input_flag) {
  if (output.empty() || input.empty() || output == "-" || input == "-") return;
  std::error_code ec;
  bool same = fs::weakly_canonical(output, ec) == fs::weakly_canonical(input, ec) && !ec;
  if (!same && fs::exists(output, ec) && fs::exists(input, ec)) same = fs::equivalent(output, input, ec) && !ec;
  BB_CHECK(!same, output_flag, " '", output, "' is the input file ", input_flag, " '", input,
           "': writing it would destroy the input (choose another output path)");
}

}  // namespace bigbird
