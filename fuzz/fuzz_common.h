// What every libFuzzer target of fuzz/ shares: the contract and a few helpers.
//
// A target hands its input to one parser of outside data. A bigbird::Error is the parser refusing
// a bad input, as it must: the input is done. Anything else is a finding: a sanitizer report
// (ASan, UBSan), a crash, a hang or a timeout, any other exception escaping (std::terminate
// aborts), or a FUZZ_CHECK failing (a property the parser promises for the inputs it accepts).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "core/error.h"

#ifndef BIGBIRD_SOURCE_DIR
#error "BIGBIRD_SOURCE_DIR (the source tree, for the shipped tiny models) is set by fuzz/CMakeLists.txt"
#endif

// A property of an accepted input that does not hold: print it and abort (libFuzzer saves the input).
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace bigbird::fuzz {

// A file of the source tree (the shipped tiny models, tests/data), by a path relative to it.
inline std::string source_path(const std::string& rel) { return std::string(BIGBIRD_SOURCE_DIR) + "/" + rel; }

// A directory of this process's own for the parsers that read files (removed at a normal exit;
// libFuzzer's crash exit leaves it in $TMPDIR or /tmp).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/bigbird_fuzz.XXXXXX";
    if (!mkdtemp(templ.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string keep;
    keep = templ;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return templ;
  }();
  return dir;
}

// Writes `size` bytes to `path` (replacing it); aborts if it cannot (not a finding of the parser).
inline void write_file(const std::string& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}
inline void write_file(const std::string& path, std::string_view s) { write_file(path, s.data(), s.size()); }

// Runs `f`, taking a bigbird::Error as the expected refusal of a bad input. Returns whether `f`
// ran to its end (the input was accepted).
template <typename F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const bigbird::Error&) {
    return false;
  }
}

}  // namespace bigbird::fuzz
