// The one exception type of the library, and a check macro that builds its message.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace bigbird {

// Thrown for every bad input (file, config, shape, value). The CLI prints `error: <what()>`.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::concat(args...));
}

}  // namespace bigbird

// BB_CHECK(cond, "message parts", value, ...): throws bigbird::Error when cond is false.
#define BB_CHECK(cond, ...)                    \
  do {                                         \
    if (!(cond)) ::bigbird::fail(__VA_ARGS__); \
  } while (0)
