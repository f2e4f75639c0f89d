// UTF-8 helpers for the tokenizers: strict validation, byte -> code point offsets, and
// Python's notion of whitespace (str.isspace / str.strip), which HF's special-token rules use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bigbird::utf8 {

// Byte offset of the first malformed sequence (overlong forms, surrogates, code points above
// U+10FFFF, truncated or stray continuation bytes), or std::string_view::npos if `s` is valid.
size_t find_invalid(std::string_view s);

// Throws bigbird::Error("<what> is not valid UTF-8 (byte N: 0xXX)") if `s` is malformed.
void validate(std::string_view s, std::string_view what);

// The code points of a valid UTF-8 string.
std::u32string to_u32(std::string_view s);

// Appends the UTF-8 encoding of code point `c` to `out`.
void append(std::string& out, char32_t c);

// Number of code points of a valid UTF-8 string.
int64_t length(std::string_view s);

// table[b] = number of code points in s[0, b), for every byte offset b in [0, s.size()].
std::vector<int64_t> char_offsets(std::string_view s);

// Python's str.isspace() for one code point (Unicode White_Space plus the ASCII separators
// U+001C..U+001F). Note: U+200B ZERO WIDTH SPACE is not whitespace.
bool is_python_space(char32_t c);

// Python's str.lstrip() / rstrip() / strip() without arguments, on valid UTF-8.
std::string_view lstrip(std::string_view s);
std::string_view rstrip(std::string_view s);
std::string_view strip(std::string_view s);

// Replaces every occurrence of `from` (non-empty) by `to`, left to right (Python str.replace).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

}  // namespace bigbird::utf8
