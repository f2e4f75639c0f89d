// HF tokenizer.json: the Rust `tokenizers` pipeline (see hf_tokenizer_json.h for what is
// supported). Text is handled as code points; every normalized character keeps the span
// [begin, end) of original code points it came from, so offsets map back to the raw text the
// way the Rust library's alignments do (an inserted character takes the span of the character
// before its insertion point, a replacement the span of the last character it replaced).
#include "text/hf_tokenizer_json.h"

#define ONIG_ESCAPE_UCHAR_COLLISION 1  // ICU's UChar
#include <oniguruma.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "text/utf8.h"

namespace bigbird {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Span = std::pair<int64_t, int64_t>;

// ---------------------------------------------------------------------------------------------
// Text with alignments.

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8::append(out, c);
  return out;
}

// A (piece of a) normalized string: its characters and, for each, the original span.
struct NStr {
  std::u32string s;
  std::vector<Span> al;

  size_t size() const { return s.size(); }
  bool empty() const { return s.empty(); }
  void push(char32_t c, Span a) {
    s.push_back(c);
    al.push_back(a);
  }
  NStr sub(size_t b, size_t e) const {
    NStr r;
    r.s = s.substr(b, e - b);
    r.al.assign(al.begin() + b, al.begin() + e);
    return r;
  }
  Span span(size_t b, size_t e) const { return {al[b].first, al[e - 1].second}; }
  // Prepends `p`; the new characters take the first character's span (Rust prepend()).
  void prepend(std::u32string_view p) {
    if (empty()) return;
    const Span a = al[0];
    s.insert(0, p);
    al.insert(al.begin(), p.size(), a);
  }
};

// Rust char::is_whitespace (the Unicode White_Space property).
bool is_ws(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

// Rust tokenizers' is_punctuation: ASCII punctuation or a Unicode P* category.
bool is_punct(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return u_ispunct(static_cast<UChar32>(c));
}

// ---------------------------------------------------------------------------------------------
// Patterns: a literal string or an Oniguruma regex (Ruby syntax, as the Rust library's `onig`).

void init_onig() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
  });
}

class Regex {
 public:
  Regex(const std::string& pattern, const std::string& where) {
    init_onig();
    OnigErrorInfo info;
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    const int r =
        onig_new(&re_, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
    if (r != ONIG_NORMAL) {
      OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(msg, r, &info);
      fail(where, ": invalid regex '", pattern, "': ", reinterpret_cast<const char*>(msg));
    }
  }
  ~Regex() { onig_free(re_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every match [begin, end) in code points, left to right (empty matches included; the search
  // then moves on by one character).
  std::vector<std::pair<size_t, size_t>> find_all(const std::u32string& text) const {
    std::string bytes;
    std::vector<size_t> char_at;  // byte offset -> char index (valid at char starts and the end)
    for (size_t i = 0; i < text.size(); ++i) {
      utf8::append(bytes, text[i]);
      char_at.resize(bytes.size(), i);
    }
    char_at.push_back(text.size());
    std::vector<std::pair<size_t, size_t>> out;
    OnigRegion* region = onig_region_new();
    const auto* str = reinterpret_cast<const OnigUChar*>(bytes.data());
    const OnigUChar* end = str + bytes.size();
    size_t pos = 0;
    while (pos <= bytes.size()) {
      const int r = onig_search(re_, str, end, str + pos, end, region, ONIG_OPTION_NONE);
      if (r < 0) break;
      const size_t b = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
      out.emplace_back(char_at[b], char_at[e]);
      if (e > b) {
        pos = e;
      } else {
        if (e >= bytes.size()) break;
        pos = e + 1;
        while (pos < bytes.size() && (static_cast<unsigned char>(bytes[pos]) & 0xC0) == 0x80) ++pos;
      }
    }
    onig_region_free(region, 1);
    return out;
  }

 private:
  OnigRegex re_ = nullptr;
};

class Pattern {
 public:
  // {"String": "..."} or {"Regex": "..."} (a plain string is a literal too).
  Pattern(const json& j, const std::string& where) {
    if (j.is_string()) {
      literal_ = utf8::to_u32(j.get<std::string>());
    } else if (j.is_object() && j.contains("String")) {
      literal_ = utf8::to_u32(j.at("String").get<std::string>());
    } else if (j.is_object() && j.contains("Regex")) {
      regex_ = std::make_shared<Regex>(j.at("Regex").get<std::string>(), where);
    } else {
      fail(where, ": a pattern must be {\"String\": ...} or {\"Regex\": ...}");
    }
  }

  // The matches [begin, end) left to right (non-overlapping).
  std::vector<std::pair<size_t, size_t>> find_all(const std::u32string& text) const {
    if (regex_) return regex_->find_all(text);
    std::vector<std::pair<size_t, size_t>> out;
    if (literal_.empty()) return out;
    for (size_t p = text.find(literal_); p != std::u32string::npos; p = text.find(literal_, p + literal_.size()))
      out.emplace_back(p, p + literal_.size());
    return out;
  }

  // The Rust find_matches(): the text cut into (span, is_match) pieces covering all of it.
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> cover(const std::u32string& text) const {
    std::vector<std::pair<std::pair<size_t, size_t>, bool>> out;
    if (text.empty()) return out;
    size_t prev = 0;
    for (const auto& [b, e] : find_all(text)) {
      if (prev != b) out.push_back({{prev, b}, false});
      out.push_back({{b, e}, true});
      prev = e;
    }
    if (prev != text.size()) out.push_back({{prev, text.size()}, false});
    return out;
  }

 private:
  std::u32string literal_;
  std::shared_ptr<Regex> regex_;
};

// ---------------------------------------------------------------------------------------------
// Component parsing helpers.

struct Ctx {
  std::string path;  // tokenizer.json's path, for messages
};

[[noreturn]] void unsupported(const Ctx& ctx, const std::string& kind, const json& j) {
  std::string type = j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
  if (type.empty()) fail(ctx.path, ": ", kind, " has no \"type\"");
  fail(ctx.path, ": ", kind, " type \"", type, "\" is not supported");
}

// An integer field: a JSON integer that fits int64 (HF's serde refuses floats for ids and sizes;
// converting 1e34 to an integer would be undefined behaviour). Error naming `what` otherwise.
int64_t int_of(const json& v, const std::string& what, const Ctx& ctx) {
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
    return v.get<int64_t>();
  fail(ctx.path, ": ", what, " must be an integer, got ", v.dump().substr(0, 40));
}

// obj[key] as int_of, or `fallback` when absent.
int64_t int_or(const json& obj, const char* key, int64_t fallback, const Ctx& ctx) {
  return obj.is_object() && obj.contains(key) ? int_of(obj.at(key), std::string("\"") + key + "\"", ctx) : fallback;
}

// The model's "vocab" object (token -> id).
const json& vocab_of(const json& model, const Ctx& ctx) {
  const json& v = model.at("vocab");
  if (!v.is_object()) fail(ctx.path, ": unexpected content: the model's \"vocab\" must be an object of token -> id");
  return v;
}

std::string type_of(const json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
}

char32_t single_char(const json& j, const std::string& what, const Ctx& ctx) {
  const std::u32string s = utf8::to_u32(j.get<std::string>());
  BB_CHECK(s.size() == 1, ctx.path, ": ", what, " must be one character");
  return s[0];
}

// ---------------------------------------------------------------------------------------------
// Normalizers.

using Normalizer = std::function<void(NStr&)>;

void normalize_unicode(NStr& t, const icu::Normalizer2* n) {
  // Cut at normalization boundaries; the output characters of a chunk take their own source
  // character's span, or where characters were composed (or reordered) the k-th output character
  // takes the k-th input character's (as the Rust library: "e" + U+0301 -> "é" keeps the "e").
  NStr out;
  size_t b = 0;
  UErrorCode err = U_ZERO_ERROR;
  while (b < t.size()) {
    size_t e = b + 1;
    while (e < t.size() && !n->hasBoundaryBefore(static_cast<UChar32>(t.s[e]))) ++e;
    icu::UnicodeString in;
    for (size_t i = b; i < e; ++i) in.append(static_cast<UChar32>(t.s[i]));
    const icu::UnicodeString res = n->normalize(in, err);
    BB_CHECK(U_SUCCESS(err), "Unicode normalization failed: ", u_errorName(err));
    // Where the chunk's result is its characters' results one after the other (nothing composed
    // or reordered), each output character takes its own source character's span.
    std::vector<Span> spans;
    icu::UnicodeString joined;
    for (size_t i = b; i < e; ++i) {
      const icu::UnicodeString one = n->normalize(icu::UnicodeString(static_cast<UChar32>(t.s[i])), err);
      joined.append(one);
      for (int32_t k = 0; k < one.length(); k += U16_LENGTH(one.char32At(k))) spans.push_back(t.al[i]);
    }
    BB_CHECK(U_SUCCESS(err), "Unicode normalization failed: ", u_errorName(err));
    const bool per_char = joined == res;
    size_t k = 0;
    for (int32_t i = 0; i < res.length(); ++k) {
      const UChar32 c = res.char32At(i);
      i += U16_LENGTH(c);
      out.push(static_cast<char32_t>(c), per_char ? spans[k] : t.al[std::min(b + k, e - 1)]);
    }
    b = e;
  }
  t = std::move(out);
}

// Rust tokenizers' is_control for BertNormalizer: general categories Cc, Cf, Cn, Co, Cs
// (tab, newline and carriage return count as whitespace instead).
bool is_other(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE: return true;
    default: return false;
  }
}

// BERT's "Chinese character" blocks (CJK ideographs), which BertNormalizer pads with spaces.
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Drops combining marks (general category M), as StripAccents after NFD.
void strip_marks(NStr& t) {
  NStr out;
  for (size_t i = 0; i < t.size(); ++i) {
    const int8_t type = u_charType(static_cast<UChar32>(t.s[i]));
    if (type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK) continue;
    out.push(t.s[i], t.al[i]);
  }
  t = std::move(out);
}

Normalizer make_normalizer(const json& j, const Ctx& ctx) {
  const std::string type = type_of(j);
  if (type == "Sequence") {
    std::vector<Normalizer> parts;
    for (const auto& n : j.at("normalizers")) parts.push_back(make_normalizer(n, ctx));
    return [parts](NStr& t) {
      for (const auto& p : parts) p(t);
    };
  }
  if (type == "Strip") {
    const bool left = j.value("strip_left", true), right = j.value("strip_right", true);
    return [left, right](NStr& t) {
      size_t b = 0, e = t.size();
      if (left)
        while (b < e && is_ws(t.s[b])) ++b;
      if (right)
        while (e > b && is_ws(t.s[e - 1])) --e;
      t = t.sub(b, e);
    };
  }
  if (type == "Replace") {
    auto pattern = std::make_shared<Pattern>(j.at("pattern"), ctx.path + ": Replace normalizer");
    const std::u32string content = utf8::to_u32(j.at("content").get<std::string>());
    return [pattern, content](NStr& t) {
      NStr out;
      for (const auto& [range, is_match] : pattern->cover(t.s)) {
        const auto [b, e] = range;
        if (!is_match) {
          for (size_t i = b; i < e; ++i) out.push(t.s[i], t.al[i]);
        } else if (e > b) {
          for (char32_t c : content) out.push(c, t.al[e - 1]);
        }
      }
      t = std::move(out);
    };
  }
  if (type == "Lowercase") {
    return [](NStr& t) {
      NStr out;
      for (size_t i = 0; i < t.size(); ++i) {
        UChar in[2], buf[8];
        int32_t n = 0;
        U16_APPEND_UNSAFE(in, n, static_cast<UChar32>(t.s[i]));
        UErrorCode err = U_ZERO_ERROR;
        const int32_t len = u_strToLower(buf, 8, in, n, "", &err);
        if (U_FAILURE(err)) {
          out.push(t.s[i], t.al[i]);
          continue;
        }
        for (int32_t k = 0; k < len;) {
          UChar32 c;
          U16_NEXT(buf, k, len, c);
          out.push(static_cast<char32_t>(c), t.al[i]);
        }
      }
      t = std::move(out);
    };
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(err)
                                : type == "NFD"  ? icu::Normalizer2::getNFDInstance(err)
                                : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(err)
                                                 : icu::Normalizer2::getNFKDInstance(err);
    BB_CHECK(U_SUCCESS(err) && n, "cannot load ICU's ", type, " data: ", u_errorName(err));
    return [n](NStr& t) { normalize_unicode(t, n); };
  }
  if (type == "BertNormalizer") {
    const bool clean = j.value("clean_text", true), chinese = j.value("handle_chinese_chars", true);
    const bool lower = j.value("lowercase", true);
    const bool strip =
        j.contains("strip_accents") && !j["strip_accents"].is_null() ? j["strip_accents"].get<bool>() : lower;
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
    BB_CHECK(U_SUCCESS(err) && nfd, "cannot load ICU's NFD data: ", u_errorName(err));
    Normalizer lowercase = lower ? make_normalizer(json{{"type", "Lowercase"}}, ctx) : Normalizer();
    return [=](NStr& t) {
      NStr out;
      for (size_t i = 0; i < t.size(); ++i) {
        const char32_t c = t.s[i];
        if (clean) {
          if (c == 0 || c == 0xFFFD || is_other(c)) continue;
          if (c == U'\t' || c == U'\n' || c == U'\r' || is_ws(c)) {
            out.push(U' ', t.al[i]);
            continue;
          }
        }
        if (chinese && is_cjk(c)) {
          out.push(U' ', t.al[i]);
          out.push(c, t.al[i]);
          out.push(U' ', t.al[i]);
          continue;
        }
        out.push(c, t.al[i]);
      }
      if (strip) {
        normalize_unicode(out, nfd);
        strip_marks(out);
      }
      if (lower) lowercase(out);
      t = std::move(out);
    };
  }
  if (type == "StripAccents") return [](NStr& t) { strip_marks(t); };
  if (type == "Prepend") {
    const std::u32string p = utf8::to_u32(j.at("prepend").get<std::string>());
    return [p](NStr& t) { t.prepend(p); };
  }
  unsupported(ctx, "normalizer", j);
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers: each turns the list of pieces into a finer list.

using PreTokenizer = std::function<void(std::vector<NStr>&)>;
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j, const Ctx& ctx) {
  const std::string b = j.get<std::string>();
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail(ctx.path, ": Split behavior \"", b, "\" is not supported");
}

using Cover = std::vector<std::pair<std::pair<size_t, size_t>, bool>>;

// The Rust NormalizedString::split(): apply `behavior` to a cover and cut `t` accordingly.
void split_into(const NStr& t, Cover cover, Behavior behavior, std::vector<NStr>& out) {
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> kept;  // (span, remove?)
  switch (behavior) {
    case Behavior::Isolated:
      for (auto& [r, m] : cover) kept.push_back({r, false});
      break;
    case Behavior::Removed: kept = cover; break;
    case Behavior::Contiguous: {
      std::optional<bool> prev;
      for (auto& [r, m] : cover) {
        if (prev && *prev == m) kept.back().first.second = r.second;
        else kept.push_back({r, false});
        prev = m;
      }
      break;
    }
    case Behavior::MergedWithPrevious: {
      bool prev = false;
      for (auto& [r, m] : cover) {
        if (m && !prev && !kept.empty()) kept.back().first.second = r.second;
        else kept.push_back({r, false});
        prev = m;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev = false;
      for (auto it = cover.rbegin(); it != cover.rend(); ++it) {
        if (it->second && !prev && !kept.empty()) kept.back().first.first = it->first.first;
        else kept.push_back({it->first, false});
        prev = it->second;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const auto& [r, remove] : kept)
    if (!remove && r.second > r.first) out.push_back(t.sub(r.first, r.second));
}

// A cover of `t` from a character predicate (runs of matching characters are one match each
// when `runs`, else every matching character is its own match).
Cover cover_by(const std::u32string& s, const std::function<bool(char32_t)>& pred, bool runs) {
  Cover c;
  size_t prev = 0;
  for (size_t i = 0; i < s.size();) {
    if (!pred(s[i])) {
      ++i;
      continue;
    }
    size_t e = i + 1;
    if (runs)
      while (e < s.size() && pred(s[e])) ++e;
    if (prev != i) c.push_back({{prev, i}, false});
    c.push_back({{i, e}, true});
    prev = i = e;
  }
  if (prev != s.size()) c.push_back({{prev, s.size()}, false});
  return c;
}

// GPT-2's byte -> printable character table (bytes_to_unicode).
const std::array<char32_t, 256>& byte_chars() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

const char* kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

PreTokenizer make_pre_tokenizer(const json& j, const Ctx& ctx) {
  const std::string type = type_of(j);
  auto each = [](std::function<void(const NStr&, std::vector<NStr>&)> f) -> PreTokenizer {
    return [f](std::vector<NStr>& pieces) {
      std::vector<NStr> out;
      for (const auto& p : pieces) f(p, out);
      pieces = std::move(out);
    };
  };
  if (type == "Sequence") {
    std::vector<PreTokenizer> parts;
    for (const auto& p : j.at("pretokenizers")) parts.push_back(make_pre_tokenizer(p, ctx));
    return [parts](std::vector<NStr>& pieces) {
      for (const auto& p : parts) p(pieces);
    };
  }
  if (type == "Split") {
    auto pattern = std::make_shared<Pattern>(j.at("pattern"), ctx.path + ": Split pre_tokenizer");
    const Behavior behavior = parse_behavior(j.at("behavior"), ctx);
    const bool invert = j.value("invert", false);
    return each([=](const NStr& t, std::vector<NStr>& out) {
      Cover c = pattern->cover(t.s);
      if (invert)
        for (auto& piece : c) piece.second = !piece.second;
      split_into(t, std::move(c), behavior, out);
    });
  }
  if (type == "Whitespace") {
    auto re = std::make_shared<Pattern>(json{{"Regex", "\\w+|[^\\w\\s]+"}}, ctx.path);
    return each([re](const NStr& t, std::vector<NStr>& out) {
      Cover c = re->cover(t.s);
      for (auto& piece : c) piece.second = !piece.second;  // keep the matches
      split_into(t, std::move(c), Behavior::Removed, out);
    });
  }
  if (type == "WhitespaceSplit") {
    return each([](const NStr& t, std::vector<NStr>& out) {
      split_into(t, cover_by(t.s, is_ws, true), Behavior::Removed, out);
    });
  }
  if (type == "BertPreTokenizer") {
    return each([](const NStr& t, std::vector<NStr>& out) {
      std::vector<NStr> words;
      split_into(t, cover_by(t.s, is_ws, true), Behavior::Removed, words);
      for (const auto& w : words) split_into(w, cover_by(w.s, is_punct, false), Behavior::Isolated, out);
    });
  }
  if (type == "Metaspace") {
    const char32_t rep = single_char(j.at("replacement"), "Metaspace replacement", ctx);
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      scheme = j["prepend_scheme"].get<std::string>();
    else if (j.contains("add_prefix_space")) scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
    BB_CHECK(scheme == "always" || scheme == "first" || scheme == "never", ctx.path, ": Metaspace prepend_scheme \"",
             scheme, "\" is not supported");
    const bool split = j.value("split", true);
    return each([=](const NStr& in, std::vector<NStr>& out) {
      NStr t = in;
      for (auto& c : t.s)
        if (c == U' ') c = rep;
      if (!t.empty() && t.s[0] != rep && (scheme == "always" || (scheme == "first" && t.al[0].first == 0)))
        t.prepend(std::u32string(1, rep));
      if (!split) {
        if (!t.empty()) out.push_back(std::move(t));
        return;
      }
      split_into(t,
                 cover_by(
                     t.s, [rep](char32_t c) { return c == rep; }, false),
                 Behavior::MergedWithNext, out);
    });
  }
  if (type == "ByteLevel") {
    const bool prefix = j.value("add_prefix_space", true);
    const bool use_regex = j.value("use_regex", true);
    auto re = std::make_shared<Pattern>(json{{"Regex", kGpt2Pattern}}, ctx.path);
    return each([=](const NStr& in, std::vector<NStr>& out) {
      NStr t = in;
      if (prefix && !t.empty() && t.s[0] != U' ') t.prepend(U" ");
      std::vector<NStr> words;
      if (use_regex) split_into(t, re->cover(t.s), Behavior::Isolated, words);
      else if (!t.empty()) words.push_back(std::move(t));
      for (const auto& w : words) {
        NStr b;
        for (size_t i = 0; i < w.size(); ++i) {
          std::string bytes;
          utf8::append(bytes, w.s[i]);
          for (unsigned char c : bytes) b.push(byte_chars()[c], w.al[i]);
        }
        out.push_back(std::move(b));
      }
    });
  }
  unsupported(ctx, "pre_tokenizer", j);
}

// ---------------------------------------------------------------------------------------------
// Models.

struct ModelToken {
  int64_t id;
  std::string value;
  size_t begin, end;  // characters of the word
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::vector<ModelToken> tokenize(const std::u32string& word) const = 0;

  int64_t token_to_id(const std::string& t) const {
    const auto it = vocab_.find(t);
    return it == vocab_.end() ? -1 : it->second;
  }
  const std::string* id_to_token(int64_t id) const {
    const auto it = reverse_.find(id);
    return it == reverse_.end() ? nullptr : &it->second;
  }
  int64_t size() const { return static_cast<int64_t>(vocab_.size()); }
  // One past the largest id (a vocabulary's ids need not be dense).
  int64_t id_bound() const { return id_bound_; }
  const std::string& unk_token() const { return unk_token_; }

 protected:
  void add(const std::string& token, int64_t id, const Ctx& ctx) {
    BB_CHECK(id >= 0, ctx.path, ": negative id ", id, " for '", token, "'");
    BB_CHECK(id < (int64_t{1} << 40), ctx.path, ": id ", id, " for '", token, "' is out of range");
    vocab_[token] = id;
    reverse_[id] = token;
    id_bound_ = std::max(id_bound_, id + 1);
  }
  // Byte-fallback tokens <0xXX> of the character's UTF-8, or empty if one is missing.
  std::vector<int64_t> byte_tokens(char32_t c) const {
    std::string bytes;
    utf8::append(bytes, c);
    std::vector<int64_t> ids;
    for (unsigned char b : bytes) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const int64_t id = token_to_id(name);
      if (id < 0) return {};
      ids.push_back(id);
    }
    return ids;
  }

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<int64_t, std::string> reverse_;
  std::string unk_token_;
  int64_t id_bound_ = 0;
};

class BpeModel final : public Model {
 public:
  BpeModel(const json& j, const Ctx& ctx) {
    if (j.contains("dropout") && !j["dropout"].is_null())
      BB_CHECK(j["dropout"].get<double>() == 0.0, ctx.path, ": BPE dropout is not supported");
    for (const auto& [token, id] : vocab_of(j, ctx).items()) add(token, int_of(id, "the id of '" + token + "'", ctx), ctx);
    if (j.contains("unk_token") && j["unk_token"].is_string()) unk_token_ = j["unk_token"].get<std::string>();
    if (j.contains("continuing_subword_prefix") && j["continuing_subword_prefix"].is_string())
      prefix_ = j["continuing_subword_prefix"].get<std::string>();
    if (j.contains("end_of_word_suffix") && j["end_of_word_suffix"].is_string())
      suffix_ = j["end_of_word_suffix"].get<std::string>();
    fuse_unk_ = j.value("fuse_unk", false);
    byte_fallback_ = j.value("byte_fallback", false);
    ignore_merges_ = j.value("ignore_merges", false);
    int64_t rank = 0;
    for (const auto& m : j.at("merges")) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        BB_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size(), ctx.path, ": bad BPE merge '", s, "'");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        BB_CHECK(m.is_array() && m.size() == 2, ctx.path, ": a BPE merge must be \"a b\" or [\"a\", \"b\"]");
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      }
      const int64_t ia = token_to_id(a), ib = token_to_id(b);
      BB_CHECK(ia >= 0 && ib >= 0, ctx.path, ": BPE merge '", a, " ", b, "' uses a token missing from the vocab");
      const std::string merged = a + (b.compare(0, prefix_.size(), prefix_) == 0 ? b.substr(prefix_.size()) : b);
      const int64_t im = token_to_id(merged);
      BB_CHECK(im >= 0, ctx.path, ": BPE merge '", a, " ", b, "' makes '", merged, "', which is not in the vocab");
      merges_.emplace(key(ia, ib), std::make_pair(rank++, im));
    }
    if (!unk_token_.empty())
      BB_CHECK(token_to_id(unk_token_) >= 0, ctx.path, ": BPE unk_token '", unk_token_, "' is not in the vocab");
  }

  std::vector<ModelToken> tokenize(const std::u32string& word) const override {
    if (word.empty()) return {};
    if (ignore_merges_) {
      const std::string whole = to_utf8(word);
      if (const int64_t id = token_to_id(whole); id >= 0) return {{id, whole, 0, word.size()}};
    }
    struct Sym {
      int64_t id;
      size_t b, e;
      int prev, next;
      bool unk;
    };
    std::vector<Sym> syms;
    const int64_t unk = unk_token_.empty() ? -1 : token_to_id(unk_token_);
    for (size_t i = 0; i < word.size(); ++i) {
      std::string s;
      if (i > 0) s = prefix_;
      utf8::append(s, word[i]);
      if (i + 1 == word.size()) s += suffix_;
      int64_t id = token_to_id(s);
      if (id >= 0) {
        syms.push_back({id, i, i + 1, 0, 0, false});
        continue;
      }
      if (byte_fallback_) {
        const auto bytes = byte_tokens(word[i]);
        if (!bytes.empty()) {
          for (int64_t b : bytes) syms.push_back({b, i, i + 1, 0, 0, false});
          continue;
        }
      }
      if (unk < 0) continue;  // the Rust library drops the character
      if (fuse_unk_ && !syms.empty() && syms.back().unk) syms.back().e = i + 1;
      else syms.push_back({unk, i, i + 1, 0, 0, true});
    }
    const int n = static_cast<int>(syms.size());
    for (int i = 0; i < n; ++i) {
      syms[i].prev = i - 1;
      syms[i].next = i + 1 < n ? i + 1 : -1;
    }
    // Lowest rank first; among equal ranks the leftmost.
    using Entry = std::tuple<int64_t, int, int64_t, int64_t>;  // rank, left index, left id, right id
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    auto push = [&](int i) {
      if (i < 0 || syms[i].next < 0) return;
      const auto it = merges_.find(key(syms[i].id, syms[syms[i].next].id));
      if (it != merges_.end()) heap.emplace(it->second.first, i, syms[i].id, syms[syms[i].next].id);
    };
    for (int i = 0; i < n; ++i) push(i);
    std::vector<bool> dead(n, false);
    while (!heap.empty()) {
      const auto [rank, i, ia, ib] = heap.top();
      heap.pop();
      const int j = syms[i].next;
      if (dead[i] || j < 0 || syms[i].id != ia || syms[j].id != ib) continue;
      syms[i].id = merges_.at(key(ia, ib)).second;
      syms[i].e = syms[j].e;
      syms[i].unk = false;
      syms[i].next = syms[j].next;
      if (syms[j].next >= 0) syms[syms[j].next].prev = i;
      dead[j] = true;
      push(syms[i].prev);
      push(i);
    }
    std::vector<ModelToken> out;
    for (int i = 0; i < n; ++i)
      if (!dead[i]) out.push_back({syms[i].id, *id_to_token(syms[i].id), syms[i].b, syms[i].e});
    return out;
  }

 private:
  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) ^ static_cast<uint64_t>(b); }
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges_;  // (a, b) -> (rank, merged id)
  std::string prefix_, suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
};

class WordPieceModel final : public Model {
 public:
  WordPieceModel(const json& j, const Ctx& ctx) {
    for (const auto& [token, id] : vocab_of(j, ctx).items()) add(token, int_of(id, "the id of '" + token + "'", ctx), ctx);
    unk_token_ = j.value("unk_token", std::string("[UNK]"));
    prefix_ = j.value("continuing_subword_prefix", std::string("##"));
    const int64_t max_chars = int_or(j, "max_input_chars_per_word", 100, ctx);
    BB_CHECK(max_chars >= 0, ctx.path, ": WordPiece max_input_chars_per_word must not be negative, got ", max_chars);
    max_chars_ = static_cast<size_t>(max_chars);
    BB_CHECK(token_to_id(unk_token_) >= 0, ctx.path, ": WordPiece unk_token '", unk_token_, "' is not in the vocab");
  }

  std::vector<ModelToken> tokenize(const std::u32string& word) const override {
    const int64_t unk = token_to_id(unk_token_);
    if (word.size() > max_chars_) return {{unk, unk_token_, 0, word.size()}};
    std::vector<ModelToken> out;
    for (size_t start = 0; start < word.size();) {
      bool found = false;
      for (size_t end = word.size(); end > start; --end) {
        std::string s = start > 0 ? prefix_ : std::string();
        s += to_utf8(word.substr(start, end - start));
        if (const int64_t id = token_to_id(s); id >= 0) {
          out.push_back({id, s, start, end});
          start = end;
          found = true;
          break;
        }
      }
      if (!found) return {{unk, unk_token_, 0, word.size()}};
    }
    return out;
  }

 private:
  std::string prefix_;
  size_t max_chars_ = 100;
};

class UnigramModel final : public Model {
 public:
  UnigramModel(const json& j, const Ctx& ctx) {
    const json& v = j.at("vocab");
    BB_CHECK(v.is_array(), ctx.path, ": Unigram vocab must be a list of [piece, score]");
    min_score_ = std::numeric_limits<double>::max();
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string piece = v[i].at(0).get<std::string>();
      const double score = v[i].at(1).get<double>();
      add(piece, static_cast<int64_t>(i), ctx);
      scores_.push_back(score);
      min_score_ = std::min(min_score_, score);
      max_len_ = std::max<size_t>(max_len_, utf8::length(piece));
    }
    if (j.contains("unk_id") && j["unk_id"].is_number_integer()) {
      unk_id_ = int_of(j["unk_id"], "Unigram unk_id", ctx);
      BB_CHECK(unk_id_ >= 0 && unk_id_ < static_cast<int64_t>(v.size()), ctx.path, ": Unigram unk_id ", unk_id_,
               " is out of range");
      unk_token_ = *id_to_token(unk_id_);
    }
    byte_fallback_ = j.value("byte_fallback", false);
  }

  std::vector<ModelToken> tokenize(const std::u32string& word) const override {
    const size_t n = word.size();
    if (n == 0) return {};
    constexpr double kUnkPenalty = 10.0;
    const double unk_score = min_score_ - kUnkPenalty;
    struct Best {
      double score = 0;
      int64_t id = -1;
      size_t start = 0;
      bool set = false;
    };
    std::vector<Best> best(n + 1);
    best[0].set = true;
    for (size_t i = 0; i < n; ++i) {
      if (!best[i].set) continue;
      bool single = false;
      std::string s;
      for (size_t len = 1; len <= max_len_ && i + len <= n; ++len) {
        utf8::append(s, word[i + len - 1]);
        const int64_t id = token_to_id(s);
        if (id < 0) continue;
        if (len == 1) single = true;
        const double cand = best[i].score + scores_[id];
        Best& t = best[i + len];
        if (!t.set || cand > t.score) t = {cand, id, i, true};
      }
      if (!single) {
        BB_CHECK(unk_id_ >= 0, "Unigram: character U+", static_cast<uint32_t>(word[i]),
                 " is not in the vocabulary and the model has no unk_id");
        const double cand = best[i].score + unk_score;
        Best& t = best[i + 1];
        if (!t.set || cand > t.score) t = {cand, unk_id_, i, true};
      }
    }
    std::vector<ModelToken> rev;
    for (size_t e = n; e > 0;) {
      const Best& b = best[e];
      rev.push_back({b.id, "", b.start, e});
      e = b.start;
    }
    std::reverse(rev.begin(), rev.end());
    std::vector<ModelToken> out;
    for (auto& t : rev) {
      const bool unk = t.id == unk_id_ && to_utf8(word.substr(t.begin, t.end - t.begin)) != unk_token_;
      if (unk && !out.empty() && out.back().id == unk_id_ && out.back().value != unk_token_) {
        out.back().end = t.end;  // fuse_unk
        out.back().value = to_utf8(word.substr(out.back().begin, out.back().end - out.back().begin));
        continue;
      }
      t.value = to_utf8(word.substr(t.begin, t.end - t.begin));
      out.push_back(t);
    }
    if (!byte_fallback_) return out;
    std::vector<ModelToken> fb;
    for (const auto& t : out) {
      if (t.id != unk_id_ || t.value == unk_token_) {
        fb.push_back(t);
        continue;
      }
      std::vector<ModelToken> bytes;
      bool ok = true;
      for (size_t i = t.begin; i < t.end && ok; ++i) {
        const auto ids = byte_tokens(word[i]);
        ok = !ids.empty();
        for (int64_t id : ids) bytes.push_back({id, *id_to_token(id), t.begin, t.end});
      }
      if (ok) fb.insert(fb.end(), bytes.begin(), bytes.end());
      else fb.push_back(t);
    }
    return fb;
  }

 private:
  std::vector<double> scores_;
  double min_score_ = 0;
  size_t max_len_ = 0;
  int64_t unk_id_ = -1;
  bool byte_fallback_ = false;
};

std::unique_ptr<Model> make_model(const json& j, const Ctx& ctx) {
  BB_CHECK(j.is_object(), ctx.path, ": no \"model\"");
  std::string type = type_of(j);
  if (type.empty()) {  // older files omit the model type
    if (j.contains("merges")) type = "BPE";
    else if (j.contains("vocab") && j["vocab"].is_array()) type = "Unigram";
    else if (j.contains("max_input_chars_per_word")) type = "WordPiece";
  }
  if (type == "BPE") return std::make_unique<BpeModel>(j, ctx);
  if (type == "WordPiece") return std::make_unique<WordPieceModel>(j, ctx);
  if (type == "Unigram") return std::make_unique<UnigramModel>(j, ctx);
  unsupported(ctx, "model", j);
}

// ---------------------------------------------------------------------------------------------
// Decoders: token strings -> token strings (the Rust decode_chain), joined at the end.

using Decoder = std::function<std::vector<std::string>(std::vector<std::string>)>;

std::string lossy_utf8(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const size_t bad = utf8::find_invalid(std::string_view(bytes).substr(i));
    if (bad == std::string_view::npos) {
      out.append(bytes, i, std::string::npos);
      break;
    }
    out.append(bytes, i, bad);
    out += "\xEF\xBF\xBD";  // U+FFFD
    i += bad + 1;
    while (i < bytes.size() && (static_cast<unsigned char>(bytes[i]) & 0xC0) == 0x80) ++i;
  }
  return out;
}

Decoder make_decoder(const json& j, const Ctx& ctx) {
  const std::string type = type_of(j);
  if (type == "Sequence") {
    std::vector<Decoder> parts;
    for (const auto& d : j.at("decoders")) parts.push_back(make_decoder(d, ctx));
    return [parts](std::vector<std::string> t) {
      for (const auto& p : parts) t = p(std::move(t));
      return t;
    };
  }
  if (type == "ByteLevel") {
    return [](std::vector<std::string> t) {
      std::unordered_map<char32_t, unsigned char> back;
      for (int b = 0; b < 256; ++b) back[byte_chars()[b]] = static_cast<unsigned char>(b);
      std::string bytes;
      for (const auto& tok : t)
        for (char32_t c : utf8::to_u32(tok)) {
          const auto it = back.find(c);
          if (it != back.end()) bytes += static_cast<char>(it->second);
          else utf8::append(bytes, c);
        }
      return std::vector<std::string>{lossy_utf8(bytes)};
    };
  }
  if (type == "WordPiece") {
    const std::string prefix = j.value("prefix", std::string("##"));
    const bool cleanup = j.value("cleanup", true);
    return [prefix, cleanup](std::vector<std::string> t) {
      for (size_t i = 0; i < t.size(); ++i) {
        if (i > 0) {
          if (t[i].compare(0, prefix.size(), prefix) == 0) t[i] = t[i].substr(prefix.size());
          else t[i] = " " + t[i];
        }
        if (cleanup) t[i] = Tokenizer::clean_up_tokenization(t[i]);
      }
      return t;
    };
  }
  if (type == "Metaspace") {
    const std::string rep = j.at("replacement").get<std::string>();
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      scheme = j["prepend_scheme"].get<std::string>();
    else if (j.contains("add_prefix_space")) scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
    return [rep, scheme](std::vector<std::string> t) {
      for (size_t i = 0; i < t.size(); ++i) {
        t[i] = utf8::replace_all(t[i], rep, " ");
        if (i == 0 && scheme != "never" && !t[i].empty() && t[i][0] == ' ') t[i].erase(0, 1);
      }
      return t;
    };
  }
  if (type == "BPEDecoder") {
    const std::string suffix = j.value("suffix", std::string("</w>"));
    return [suffix](std::vector<std::string> t) {
      for (size_t i = 0; i < t.size(); ++i) t[i] = utf8::replace_all(t[i], suffix, i + 1 == t.size() ? "" : " ");
      return t;
    };
  }
  if (type == "Fuse") {
    return [](std::vector<std::string> t) {
      std::string all;
      for (const auto& s : t) all += s;
      return std::vector<std::string>{all};
    };
  }
  if (type == "Strip") {
    const std::u32string content = utf8::to_u32(j.at("content").get<std::string>());
    BB_CHECK(content.size() == 1, ctx.path, ": Strip decoder content must be one character");
    const size_t start = j.value("start", size_t{0}), stop = j.value("stop", size_t{0});
    return [c = content[0], start, stop](std::vector<std::string> t) {
      for (auto& s : t) {
        std::u32string u = utf8::to_u32(s);
        size_t b = 0, e = u.size();
        while (b < std::min(start, u.size()) && u[b] == c) ++b;
        for (size_t k = 0; k < stop && e > b && u[e - 1] == c; ++k) --e;
        s = to_utf8(std::u32string_view(u).substr(b, e - b));
      }
      return t;
    };
  }
  if (type == "Replace") {
    auto pattern = std::make_shared<Pattern>(j.at("pattern"), ctx.path + ": Replace decoder");
    const std::string content = j.at("content").get<std::string>();
    return [pattern, content](std::vector<std::string> t) {
      for (auto& s : t) {
        const std::u32string u = utf8::to_u32(s);
        std::string out;
        for (const auto& [range, is_match] : pattern->cover(u))
          out += is_match ? content : to_utf8(std::u32string_view(u).substr(range.first, range.second - range.first));
        s = out;
      }
      return t;
    };
  }
  if (type == "ByteFallback") {
    return [](std::vector<std::string> t) {
      std::vector<std::string> out;
      std::string pending;  // bytes of consecutive <0xXX> tokens
      size_t pending_count = 0;
      auto flush = [&] {
        if (pending_count == 0) return;
        if (utf8::find_invalid(pending) == std::string_view::npos) out.push_back(pending);
        else
          for (size_t k = 0; k < pending_count; ++k) out.push_back("\xEF\xBF\xBD");
        pending.clear();
        pending_count = 0;
      };
      for (const auto& s : t) {
        unsigned v = 0;
        if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' && std::sscanf(s.c_str() + 3, "%2X", &v) == 1) {
          pending += static_cast<char>(v);
          ++pending_count;
        } else {
          flush();
          out.push_back(s);
        }
      }
      flush();
      return out;
    };
  }
  unsupported(ctx, "decoder", j);
}

// ---------------------------------------------------------------------------------------------
// The tokenizer.

struct AddedToken {
  int64_t id;
  std::u32string content;
  bool single_word, lstrip, rstrip, normalized, special;
};

// One piece of text on its way through the pipeline: an added token found in it, or text.
struct Part {
  NStr text;
  int64_t added_id = -1;  // >= 0: an added token
  Span span{0, 0};        // the added token's original span
  std::string value;      // its text, with the whitespace lstrip/rstrip took (the Rust token value)
};

bool is_word_char(char32_t c) { return c == U'_' || u_isalnum(static_cast<UChar32>(c)); }

class JsonTokenizer final : public Tokenizer {
 public:
  JsonTokenizer(const detail::TokenizerFiles& files, const json& root, const Ctx& ctx)
      : Tokenizer(make_setup(files)), path_(ctx.path) {
    model_ = make_model(root.contains("model") ? root["model"] : json(), ctx);
    if (root.contains("normalizer") && !root["normalizer"].is_null())
      normalizer_ = make_normalizer(root["normalizer"], ctx);
    if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null())
      pre_tokenizer_ = make_pre_tokenizer(root["pre_tokenizer"], ctx);
    if (root.contains("decoder") && !root["decoder"].is_null()) decoder_ = make_decoder(root["decoder"], ctx);
    if (root.contains("post_processor") && !root["post_processor"].is_null())
      parse_post_processor(root["post_processor"], ctx);
    if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
      for (const auto& a : root["added_tokens"]) {
        AddedToken t{int_of(a.at("id"), "an added token's id", ctx), utf8::to_u32(a.at("content").get<std::string>()),
                     a.value("single_word", false), a.value("lstrip", false),
                     a.value("rstrip", false),      a.value("normalized", true),
                     a.value("special", false)};
        BB_CHECK(t.id >= 0 && t.id < (int64_t{1} << 40) && !t.content.empty(), ctx.path, ": bad added token");
        added_ids_[to_utf8(t.content)] = t.id;
        added_by_id_[t.id] = to_utf8(t.content);
        if (t.special) special_added_.insert(t.id);
        added_.push_back(std::move(t));
      }
    }
    // Longest first: at one position the longest added token wins.
    std::stable_sort(added_.begin(), added_.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    // HF's len(tokenizer) (the vocabulary and the added tokens it lacks), but at least one past
    // every id the tokenizer can produce: ids need not be dense, and vocab_size() bounds them.
    vocab_size_ = model_->size();
    for (const auto& [content, id] : added_ids_)
      if (model_->token_to_id(content) < 0) ++vocab_size_;
    vocab_size_ = std::max(vocab_size_, model_->id_bound());
    for (const auto& [content, id] : added_ids_) vocab_size_ = std::max(vocab_size_, id + 1);
    clean_up_ = files.config.value("clean_up_tokenization_spaces", true);
    finish_setup();
  }

  int64_t token_to_id(std::string_view token) const override {
    const std::string t(token);
    if (auto it = added_ids_.find(t); it != added_ids_.end()) return it->second;
    if (const int64_t id = model_->token_to_id(t); id >= 0) return id;
    return model_->unk_token().empty() ? -1 : model_->token_to_id(model_->unk_token());
  }

  std::string id_to_token(int64_t id) const override {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return it->second;
    if (const std::string* t = model_->id_to_token(id)) return *t;
    fail("token id ", id, " is not in the vocabulary of '", path_, "'");
  }

  int64_t vocab_size() const override { return vocab_size_; }

  std::vector<std::string> tokenize(std::string_view text) const override { return encode_text(text).tokens; }

  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                     bool clean_up_tokenization_spaces) const override {
    std::vector<std::string> tokens;
    for (int64_t id : ids) {
      if (skip_special_tokens && special_added_.count(id)) continue;
      // (The Rust library skips an unknown id silently; here it is an error, as for the other tokenizers.)
      tokens.push_back(id_to_token(id));
    }
    std::string text;
    if (decoder_) {
      for (const auto& t : decoder_(tokens)) text += t;
    } else {
      for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    }
    if (clean_up_tokenization_spaces && clean_up_) text = clean_up_tokenization(std::move(text));
    return text;
  }

 protected:
  std::vector<Slot> special_tokens_template(bool pair) const override { return pair ? pair_ : single_; }
  bool masks_special_in_text(int64_t) const override { return false; }
  std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const override {
    std::string text;
    for (const auto& t : decoder_ ? decoder_(tokens) : tokens) text += t;
    return text;
  }

  Encoding encode_one(std::string_view text, std::optional<std::string_view> pair,
                      const EncodeOptions& options) const override {
    if (pair && pair->empty()) pair.reset();  // PreTrainedTokenizerFast: `if text_pair` (an empty pair is none)
    Seq a = encode_text(text);
    std::optional<Seq> b;
    if (pair) b = encode_text(*pair);
    if (options.max_length >= 0 && options.truncation != Truncation::DoNotTruncate)
      truncate(a, b ? &*b : nullptr, options);

    Encoding e;
    auto add = [&](int64_t id, const std::string& token, Span off, int64_t type, int64_t special, int64_t seq) {
      e.input_ids.push_back(id);
      e.tokens.push_back(token);
      e.offsets.push_back(off);
      e.token_type_ids.push_back(type);
      e.special_tokens_mask.push_back(special);
      e.sequence_ids.push_back(seq);
    };
    auto add_seq = [&](Seq s, int64_t seq, int64_t type) {
      if (trim_offsets_) trim(s);
      for (size_t i = 0; i < s.ids.size(); ++i) add(s.ids[i], id_to_token(s.ids[i]), s.offsets[i], type, 0, seq);
    };
    if (options.add_special_tokens && has_template_) {
      for (const Slot& slot : b ? pair_ : single_) {
        if (slot.segment < 0) add(slot.id, id_to_token(slot.id), {0, 0}, slot.type_id, 1, -1);
        else add_seq(slot.segment == 0 ? a : *b, slot.segment, slot.type_id);
      }
    } else {
      // No template (or add_special_tokens=false): the sequences as they are, the pair with type 1.
      add_seq(a, 0, 0);
      if (b) add_seq(*b, 1, 1);
    }
    e.attention_mask.assign(e.size(), 1);
    warn_if_too_long(e, options);
    return e;
  }

 private:
  struct Seq {
    std::vector<int64_t> ids;
    std::vector<std::string> tokens;  // the model's token strings
    std::vector<Span> offsets;
    void resize(size_t n) {
      ids.resize(n);
      tokens.resize(n);
      offsets.resize(n);
    }
  };

  static Setup make_setup(const detail::TokenizerFiles& files) {
    Setup setup;
    setup.class_name = "PreTrainedTokenizerFast";
    if (auto it = files.config.find("tokenizer_class"); it != files.config.end() && it->is_string())
      setup.class_name = it->get<std::string>();
    setup.model_max_length = files.model_max_length;
    for (const char* role :
         {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
      if (auto t = detail::resolve_special_token(files, role, SpecialToken{})) setup.roles.emplace_back(role, *t);
    setup.additional = detail::additional_special_tokens(files);
    return setup;
  }

  void parse_post_processor(const json& j, const Ctx& ctx) {
    const std::string type = type_of(j);
    if (type == "Sequence") {
      for (const auto& p : j.at("processors")) parse_post_processor(p, ctx);
      return;
    }
    if (type == "ByteLevel") {
      trim_offsets_ = j.value("trim_offsets", true);
      trim_prefix_space_ = j.value("add_prefix_space", true);
      return;
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      const int64_t cls = int_of(j.at("cls").at(1), "the [CLS] id", ctx), sep = int_of(j.at("sep").at(1), "the [SEP] id", ctx);
      has_template_ = true;
      single_ = {{-1, cls, 0}, {0, 0, 0}, {-1, sep, 0}};
      if (type == "BertProcessing") {
        pair_ = {{-1, cls, 0}, {0, 0, 0}, {-1, sep, 0}, {1, 0, 1}, {-1, sep, 1}};
      } else {
        pair_ = {{-1, cls, 0}, {0, 0, 0}, {-1, sep, 0}, {-1, sep, 0}, {1, 0, 0}, {-1, sep, 0}};
        trim_offsets_ = j.value("trim_offsets", true);
        trim_prefix_space_ = j.value("add_prefix_space", true);
      }
      return;
    }
    if (type == "TemplateProcessing") {
      std::unordered_map<std::string, std::vector<int64_t>> specials;
      if (j.contains("special_tokens"))
        for (const auto& [name, v] : j["special_tokens"].items())
          for (const auto& id : v.at("ids")) specials[name].push_back(int_of(id, "an id of special token '" + name + "'", ctx));
      auto parse = [&](const json& pieces) {
        std::vector<Slot> slots;
        for (const auto& p : pieces) {
          if (p.contains("Sequence")) {
            const std::string id = p["Sequence"].at("id").get<std::string>();
            BB_CHECK(id == "A" || id == "B", ctx.path, ": template sequence id must be A or B, not '", id, "'");
            slots.push_back({id == "A" ? 0 : 1, 0, int_or(p["Sequence"], "type_id", 0, ctx)});
          } else if (p.contains("SpecialToken")) {
            const std::string id = p["SpecialToken"].at("id").get<std::string>();
            const auto it = specials.find(id);
            BB_CHECK(it != specials.end(), ctx.path, ": template special token '", id,
                     "' is missing from \"special_tokens\"");
            for (int64_t sid : it->second) slots.push_back({-1, sid, int_or(p["SpecialToken"], "type_id", 0, ctx)});
          } else {
            fail(ctx.path, ": a template piece must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
          }
        }
        return slots;
      };
      has_template_ = true;
      single_ = parse(j.at("single"));
      pair_ = parse(j.at("pair"));
      return;
    }
    unsupported(ctx, "post_processor", j);
  }

  // Rust ByteLevel::process_offsets(trim_offsets): offsets lose the spaces at the token's ends.
  void trim(Seq& s) const {
    const char32_t space = byte_chars()[' '];
    for (size_t i = 0; i < s.ids.size(); ++i) {
      const std::u32string t = utf8::to_u32(s.tokens[i]);
      auto sp = [&](char32_t c) { return c == space || is_ws(c); };
      size_t lead = 0, trail = 0;
      while (lead < t.size() && sp(t[lead])) ++lead;
      while (trail < t.size() && sp(t[t.size() - 1 - trail])) ++trail;
      Span& o = s.offsets[i];
      if (lead > 0) {
        const bool first = i == 0 || o.first == 0;
        if (first && trim_prefix_space_ && lead == 1) lead = 0;
        o.first = std::min<int64_t>(o.first + lead, o.second);
      }
      if (trail > 0 && o.second >= static_cast<int64_t>(trail)) o.second = std::max<int64_t>(o.second - trail, o.first);
    }
  }

  // Rust truncate_encodings() (direction right, no stride), as Python transformers' fast tokenizers use it.
  void truncate(Seq& a, Seq* b, const EncodeOptions& options) const {
    const int64_t added = options.add_special_tokens && has_template_
                              ? static_cast<int64_t>((b ? pair_ : single_).size() - (b ? 2 : 1))
                              : 0;
    const int64_t max = options.max_length;
    const int64_t n1 = a.ids.size(), n2 = b ? b->ids.size() : 0;
    if (n1 + n2 + added <= max) return;
    // A max_length below the special tokens' count truncates nothing: the Rust library's
    // `max_length - n_added_tokens` wraps around (usize), and Python transformers passes that on.
    if (max < added) return;
    const int64_t target = max - added;
    const int64_t remove = n1 + n2 - target;
    switch (options.truncation) {
      case Truncation::LongestFirst:
        if (!b) {
          a.resize(target);
        } else {
          int64_t s = std::min(n1, n2), l = std::max(n1, n2);
          l = s > target ? s : std::max(s, target - s);
          if (s + l > target) {
            s = target / 2;
            l = s + target % 2;
          }
          const bool swap = n1 > n2;
          const int64_t k1 = swap ? l : s, k2 = swap ? s : l;
          a.resize(std::min(n1, k1));
          b->resize(std::min(n2, k2));
        }
        break;
      case Truncation::OnlyFirst:
        BB_CHECK(n1 > remove, "truncation error: the first sequence has ", n1, " tokens, ", remove,
                 " must go to fit max_length ", max, " (choose another truncation strategy)");
        a.resize(n1 - remove);
        break;
      case Truncation::OnlySecond:
        BB_CHECK(b, "truncation error: only_second needs a second sequence (text pair)");
        BB_CHECK(n2 > remove, "truncation error: the second sequence has ", n2, " tokens, ", remove,
                 " must go to fit max_length ", max, " (choose another truncation strategy)");
        b->resize(n2 - remove);
        break;
      case Truncation::DoNotTruncate: break;
    }
  }

  // Leftmost-longest matches of the added tokens with `normalized` == want in `t`.
  std::vector<Part> split_added(NStr t, bool want_normalized) const {
    std::vector<Part> out;
    size_t last = 0;
    for (size_t pos = 0; pos < t.size();) {
      const AddedToken* hit = nullptr;
      for (const auto& a : added_) {
        if (a.normalized != want_normalized || t.s.compare(pos, a.content.size(), a.content) != 0) continue;
        const size_t end = pos + a.content.size();
        if (a.single_word && ((pos > 0 && is_word_char(t.s[pos - 1])) || (end < t.size() && is_word_char(t.s[end]))))
          continue;
        hit = &a;
        break;
      }
      if (!hit) {
        ++pos;
        continue;
      }
      size_t b = pos, e = pos + hit->content.size();
      if (hit->lstrip)
        while (b > last && is_ws(t.s[b - 1])) --b;
      if (hit->rstrip)
        while (e < t.size() && is_ws(t.s[e])) ++e;
      if (b > last) out.push_back({t.sub(last, b), -1, {}, {}});
      out.push_back({NStr{}, hit->id, t.span(b, e), to_utf8(std::u32string_view(t.s).substr(b, e - b))});
      pos = last = e;
    }
    if (last < t.size()) out.push_back({t.sub(last, t.size()), -1, {}, {}});
    return out;
  }

  Seq encode_text(std::string_view text) const {
    utf8::validate(text, "text to tokenize");
    NStr orig;
    orig.s = utf8::to_u32(text);
    for (size_t i = 0; i < orig.size(); ++i) orig.al.push_back({static_cast<int64_t>(i), static_cast<int64_t>(i + 1)});
    Seq seq;
    auto add = [&](int64_t id, std::string token, Span off) {
      seq.ids.push_back(id);
      seq.tokens.push_back(std::move(token));
      seq.offsets.push_back(off);
    };
    for (auto& raw : split_added(std::move(orig), false)) {
      if (raw.added_id >= 0) {
        add(raw.added_id, std::move(raw.value), raw.span);
        continue;
      }
      if (normalizer_) normalizer_(raw.text);
      for (auto& part : split_added(std::move(raw.text), true)) {
        if (part.added_id >= 0) {
          add(part.added_id, std::move(part.value), part.span);
          continue;
        }
        std::vector<NStr> words{std::move(part.text)};
        if (pre_tokenizer_) pre_tokenizer_(words);
        for (const auto& w : words)
          for (auto& t : model_->tokenize(w.s)) add(t.id, std::move(t.value), w.span(t.begin, t.end));
      }
    }
    return seq;
  }

  std::string path_;
  std::unique_ptr<Model> model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  Decoder decoder_;
  bool has_template_ = false, trim_offsets_ = false, trim_prefix_space_ = true, clean_up_ = true;
  std::vector<Slot> single_, pair_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, int64_t> added_ids_;
  std::unordered_map<int64_t, std::string> added_by_id_;
  std::unordered_set<int64_t> special_added_;
  int64_t vocab_size_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> detail::make_hf_json_tokenizer(const TokenizerFiles& files) {
  const Ctx ctx{(fs::path(files.dir) / "tokenizer.json").string()};
  std::ifstream in(ctx.path);
  BB_CHECK(in.good(), "cannot open '", ctx.path, "'");
  json root;
  try {
    root = json::parse(in);
  } catch (const json::exception& ex) {
    fail("cannot parse '", ctx.path, "': ", ex.what());
  }
  BB_CHECK(root.is_object(), "'", ctx.path, "' is not a JSON object");
  try {
    return std::make_unique<JsonTokenizer>(files, root, ctx);
  } catch (const json::exception& ex) {
    fail(ctx.path, ": unexpected content: ", ex.what());
  }
}

}  // namespace bigbird
