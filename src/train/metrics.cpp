// Evaluation metrics: seqeval's entity scores, the SQuAD v1.1 metric, run_qa's span selection.
#include "train/metrics.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "core/error.h"
#include "text/utf8.h"

namespace bigbird::train {

// ---------------------------------------------------------------- seqeval

namespace {

// A tag split as seqeval's default mode does: the first character, and the type.
struct Tag {
  std::string prefix, type;
};

Tag split_tag(const std::string& tag) {
  BB_CHECK(!tag.empty(), "empty tag (seqeval needs at least one character per tag)");
  size_t n = 1;  // the first code point (bytes of a UTF-8 sequence)
  while (n < tag.size() && (static_cast<unsigned char>(tag[n]) & 0xC0) == 0x80) ++n;
  // Python: chunk[1:].split('-', maxsplit=1)[-1] or '_'
  const size_t dash = tag.find('-', n);
  Tag t{tag.substr(0, n), tag.substr(dash == std::string::npos ? n : dash + 1)};
  if (t.type.empty()) t.type.push_back('_');  // (not = "_": GCC 12 -Wrestrict false positive)
  return t;
}

bool end_of_chunk(const std::string& prev_tag, const std::string& tag, const std::string& prev_type,
                  const std::string& type) {
  if (prev_tag == "E" || prev_tag == "S") return true;
  if ((prev_tag == "B" || prev_tag == "I") && (tag == "B" || tag == "S" || tag == "O")) return true;
  return prev_tag != "O" && prev_tag != "." && prev_type != type;
}

bool start_of_chunk(const std::string& prev_tag, const std::string& tag, const std::string& prev_type,
                    const std::string& type) {
  if (tag == "B" || tag == "S") return true;
  if ((prev_tag == "E" || prev_tag == "S" || prev_tag == "O") && (tag == "E" || tag == "I")) return true;
  return tag != "O" && tag != "." && prev_type != type;
}

// get_entities on a sequence to which the final "O" is appended here.
std::vector<Entity> entities_of(const std::vector<const std::string*>& seq) {
  std::vector<Entity> chunks;
  std::string prev_tag = "O", prev_type;
  int64_t begin = 0;
  const std::string o = "O";
  const int64_t n = static_cast<int64_t>(seq.size());
  for (int64_t i = 0; i <= n; ++i) {
    const Tag t = split_tag(i < n ? *seq[static_cast<size_t>(i)] : o);
    if (end_of_chunk(prev_tag, t.prefix, prev_type, t.type)) chunks.push_back({prev_type, begin, i - 1});
    if (start_of_chunk(prev_tag, t.prefix, prev_type, t.type)) begin = i;
    prev_tag = t.prefix;
    prev_type = t.type;
  }
  return chunks;
}

void check_same_shape(const std::vector<std::vector<std::string>>& gold,
                      const std::vector<std::vector<std::string>>& predicted) {
  if (gold.size() != predicted.size())
    fail("entity scores: ", gold.size(), " gold sentences but ", predicted.size(), " predicted");
  for (size_t i = 0; i < gold.size(); ++i)
    if (gold[i].size() != predicted[i].size())
      fail("entity scores: sentence ", i, " has ", gold[i].size(), " gold tags but ", predicted[i].size(),
           " predicted");
}

}  // namespace

std::vector<Entity> get_entities(const std::vector<std::string>& tags) {
  std::vector<const std::string*> seq;
  seq.reserve(tags.size());
  for (const std::string& t : tags) seq.push_back(&t);
  return entities_of(seq);
}

std::vector<Entity> get_entities(const std::vector<std::vector<std::string>>& sentences) {
  static const std::string o = "O";
  std::vector<const std::string*> seq;
  for (const auto& s : sentences) {
    for (const std::string& t : s) seq.push_back(&t);
    seq.push_back(&o);
  }
  return entities_of(seq);
}

EntityScores entity_scores(const std::vector<std::vector<std::string>>& gold,
                           const std::vector<std::vector<std::string>>& predicted) {
  check_same_shape(gold, predicted);
  using Key = std::tuple<std::string, int64_t, int64_t>;
  std::set<Key> g, p;
  for (const Entity& e : get_entities(gold)) g.emplace(e.type, e.begin, e.end);
  for (const Entity& e : get_entities(predicted)) p.emplace(e.type, e.begin, e.end);
  EntityScores s;
  s.gold = static_cast<int64_t>(g.size());
  s.predicted = static_cast<int64_t>(p.size());
  for (const Key& k : g) s.correct += p.count(k);
  const double correct = static_cast<double>(s.correct);
  s.precision = s.predicted > 0 ? correct / static_cast<double>(s.predicted) : 0.0;
  s.recall = s.gold > 0 ? correct / static_cast<double>(s.gold) : 0.0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  int64_t tokens = 0, equal = 0;
  for (size_t i = 0; i < gold.size(); ++i)
    for (size_t j = 0; j < gold[i].size(); ++j) {
      ++tokens;
      equal += gold[i][j] == predicted[i][j];
    }
  s.accuracy = tokens > 0 ? static_cast<double>(equal) / static_cast<double>(tokens) : 0.0;
  return s;
}

// ---------------------------------------------------------------- SQuAD v1.1

namespace {

std::string to_utf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8::append(out, c);
  return out;
}

// Python's str.lower on the scripts SQuAD-like data mostly has (see normalize_answer).
char32_t lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 32;  // Latin-1 capitals (not ×)
  if (c >= 0x100 && c <= 0x137) return c | 1;    // Latin Extended-A pairs (U+0130 İ: see above)
  if (c >= 0x139 && c <= 0x148) return (c & 1) ? c + 1 : c;
  if (c >= 0x14A && c <= 0x177) return c | 1;
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E) return (c & 1) ? c + 1 : c;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;  // Greek capitals
  if (c >= 0x400 && c <= 0x40F) return c + 80;                // Cyrillic Ѐ..Џ
  if (c >= 0x410 && c <= 0x42F) return c + 32;                // Cyrillic А..Я
  return c;
}

bool is_ascii_punctuation(char32_t c) {  // Python's string.punctuation
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// Python's re \w (str patterns): letters, digits (any script) and '_'. Outside ASCII: anything
// but whitespace, Latin-1 punctuation and symbols, and the General Punctuation block.
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  if (utf8::is_python_space(c)) return false;
  if (c <= 0xBF)
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || (c >= 0xBC && c <= 0xBE);
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;
  if (c >= 0x3000 && c <= 0x303F) return false;  // CJK symbols and punctuation
  return true;
}

std::vector<std::u32string> normalized_tokens(std::string_view s) {
  const std::u32string n = utf8::to_u32(normalize_answer(s));
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < n.size()) {
    const size_t j = n.find(U' ', i);
    out.push_back(n.substr(i, j == std::u32string::npos ? std::u32string::npos : j - i));
    if (j == std::u32string::npos) break;
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string normalize_answer(std::string_view s) {
  utf8::validate(s, "answer");
  std::u32string t;
  for (char32_t c : utf8::to_u32(s)) {
    c = lower(c);
    if (!is_ascii_punctuation(c)) t.push_back(c);
  }
  // \b(a|an|the)\b -> " ": a whole run of word characters that is an article.
  std::u32string u;
  for (size_t i = 0; i < t.size();) {
    if (!is_word_char(t[i])) {
      u.push_back(t[i++]);
      continue;
    }
    size_t j = i;
    while (j < t.size() && is_word_char(t[j])) ++j;
    const std::u32string word = t.substr(i, j - i);
    if (word == U"a" || word == U"an" || word == U"the") u.push_back(U' ');
    else u += word;
    i = j;
  }
  // " ".join(text.split())
  std::u32string out;
  for (size_t i = 0; i < u.size();) {
    if (utf8::is_python_space(u[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < u.size() && !utf8::is_python_space(u[j])) ++j;
    if (!out.empty()) out.push_back(U' ');
    out.append(u, i, j - i);
    i = j;
  }
  return to_utf8(out);
}

bool exact_match(std::string_view prediction, std::string_view gold) {
  return normalize_answer(prediction) == normalize_answer(gold);
}

double token_f1(std::string_view prediction, std::string_view gold) {
  const std::vector<std::u32string> p = normalized_tokens(prediction), g = normalized_tokens(gold);
  std::map<std::u32string, int64_t> count;
  for (const auto& w : g) ++count[w];
  int64_t same = 0;
  for (const auto& w : p) {
    auto it = count.find(w);
    if (it != count.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(same) / static_cast<double>(p.size());
  const double recall = 1.0 * static_cast<double>(same) / static_cast<double>(g.size());
  return (2 * precision * recall) / (precision + recall);
}

SquadScores squad_scores(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& gold) {
  if (predictions.size() != gold.size())
    fail("squad scores: ", predictions.size(), " predictions for ", gold.size(), " questions");
  SquadScores s;
  double em = 0, f1 = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i].empty()) fail("squad scores: question ", i, " has no gold answer");
    double best_em = 0, best_f1 = 0;
    for (const std::string& g : gold[i]) {
      best_em = std::max(best_em, exact_match(predictions[i], g) ? 1.0 : 0.0);
      best_f1 = std::max(best_f1, token_f1(predictions[i], g));
    }
    em += best_em;
    f1 += best_f1;
  }
  s.count = static_cast<int64_t>(gold.size());
  if (s.count > 0) {
    s.exact_match = 100.0 * em / static_cast<double>(s.count);
    s.f1 = 100.0 * f1 / static_cast<double>(s.count);
  }
  return s;
}

// ---------------------------------------------------------------- run_qa post-processing

namespace {

// np.argsort(x)[-1 : -n - 1 : -1]: the n largest, largest first; equal values: later index first.
std::vector<int64_t> top_indices(const float* x, int64_t length, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(length));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  const size_t take = static_cast<size_t>(std::min(n, length));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(take), idx.end(),
                    [x](int64_t a, int64_t b) { return x[a] != x[b] ? x[a] > x[b] : a > b; });
  idx.resize(take);
  return idx;
}

}  // namespace

QaSpan best_span(const std::vector<QaFeatureView>& features, int64_t n_best, int64_t max_answer_length) {
  BB_CHECK(n_best >= 1, "n_best must be at least 1, got ", n_best);
  BB_CHECK(max_answer_length >= 1, "max_answer_length must be at least 1, got ", max_answer_length);
  QaSpan best;
  for (size_t f = 0; f < features.size(); ++f) {
    const QaFeatureView& v = features[f];
    BB_CHECK(v.length >= 0, "feature ", f, ": negative length ", v.length);
    BB_CHECK(v.length == 0 || (v.start_logits != nullptr && v.end_logits != nullptr), "feature ", f, ": null logits");
    BB_CHECK(v.offsets != nullptr, "feature ", f, ": no offset mapping");
    const auto& off = *v.offsets;
    const auto in_context = [&](int64_t t) {
      return t < static_cast<int64_t>(off.size()) && off[static_cast<size_t>(t)].first >= 0;
    };
    const std::vector<int64_t> starts = top_indices(v.start_logits, v.length, n_best),
                               ends = top_indices(v.end_logits, v.length, n_best);
    for (int64_t s : starts) {
      for (int64_t e : ends) {
        if (!in_context(s) || !in_context(e)) continue;
        if (e < s || e - s + 1 > max_answer_length) continue;
        const float score = v.start_logits[s] + v.end_logits[e];
        ++best.candidates;
        if (!best.found || score > best.score) {
          best.found = true;
          best.score = score;
          best.feature = static_cast<int64_t>(f);
          best.start_token = s;
          best.end_token = e;
          best.start_char = off[static_cast<size_t>(s)].first;
          best.end_char = off[static_cast<size_t>(e)].second;
        }
      }
    }
  }
  return best;
}

std::string best_answer(const std::string& context, const std::vector<QaFeatureView>& features, int64_t n_best,
                        int64_t max_answer_length) {
  const QaSpan span = best_span(features, n_best, max_answer_length);
  if (!span.found) return "empty";
  utf8::validate(context, "context");
  // context[start:end] on code points, clamped like a Python slice.
  std::vector<size_t> starts;  // byte where each code point starts, then the end
  for (size_t b = 0; b < context.size(); ++b)
    if ((static_cast<unsigned char>(context[b]) & 0xC0) != 0x80) starts.push_back(b);
  const int64_t n = static_cast<int64_t>(starts.size());
  starts.push_back(context.size());
  const int64_t a = std::clamp<int64_t>(span.start_char, 0, n), b = std::clamp<int64_t>(span.end_char, 0, n);
  std::string text;
  if (b > a)
    text =
        context.substr(starts[static_cast<size_t>(a)], starts[static_cast<size_t>(b)] - starts[static_cast<size_t>(a)]);
  if (text.empty() && span.candidates == 1) return "empty";
  return text;
}

}  // namespace bigbird::train
