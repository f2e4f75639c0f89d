#include "tasks/tag.h"

#include <algorithm>
#include <cmath>

#include "text/utf8.h"

namespace bigbird::tasks {

namespace {

// input.encoding: the whole text (windows) or the one row (maybe truncated).
struct TagItem : WindowedItem {
  std::string text;
  std::u32string chars;
  // Windows: per token of the windowed text, the window it takes its scores from (see tag.h), and
  // the scores of every token of the encoding [enc.size(), labels], filled as the windows arrive
  // (special tokens outside the windowed text stay 0: they are skipped).
  std::vector<int64_t> best;
  Tensor merged;

  void take_window(int64_t w, Tensor&& logits) override {
    const LongRows& in = input;
    const int64_t nl = logits.dim(1);
    if (merged.data.empty()) merged = Tensor(Shape{static_cast<int64_t>(in.encoding.size()), nl});
    const WindowSpan& s = in.spans[static_cast<size_t>(w)];
    for (int64_t i = 0; i < s.len; ++i)
      if (best[static_cast<size_t>(s.start + i)] == w)
        std::copy_n(logits.ptr() + (in.offset + i) * nl, nl, merged.ptr() + (in.offset + s.start + i) * nl);
  }
};

struct Token {  // HF's "pre-entity"
  std::vector<float> scores;
  int64_t index, id, start, end;
  std::string word;  // the token string (the text itself for <unk>)
  bool is_subword;
};

struct Entity {
  std::string label;
  float score;
  int64_t index = -1;
  std::vector<const Token*> tokens;
};

std::string utf8_of(const std::u32string& s, int64_t b, int64_t e) {
  std::string out;
  for (int64_t i = b; i < e; ++i) utf8::append(out, s[static_cast<size_t>(i)]);
  return out;
}

// B-X / I-X / X -> ("B" or "I", X).
std::pair<char, std::string> bio(const std::string& label) {
  if (label.rfind("B-", 0) == 0) return {'B', label.substr(2)};
  if (label.rfind("I-", 0) == 0) return {'I', label.substr(2)};
  return {'B', label};
}

int64_t argmax(const std::vector<float>& v) {
  return static_cast<int64_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Per token of the windowed text, the window where it is furthest from a cut (see tag.h): the
// largest min(tokens of context before it in the window, after it), where the text's own start
// and end are not cuts; ties go to the earlier window.
std::vector<int64_t> best_windows(const std::vector<WindowSpan>& spans) {
  int64_t n = 0;
  for (const WindowSpan& s : spans) n = std::max(n, s.start + s.len);
  std::vector<int64_t> best(static_cast<size_t>(n), -1), dist(static_cast<size_t>(n), -1);
  for (size_t w = 0; w < spans.size(); ++w) {
    const WindowSpan& s = spans[w];
    for (int64_t i = 0; i < s.len; ++i) {
      const size_t j = static_cast<size_t>(s.start + i);
      const int64_t before = s.start > 0 ? i : n, after = s.start + s.len < n ? s.len - 1 - i : n;
      const int64_t d = std::min(before, after);
      if (d <= dist[j]) continue;  // ties: the earlier window
      dist[j] = d;
      best[j] = static_cast<int64_t>(w);
    }
  }
  return best;
}

}  // namespace

TagTask::TagTask(const TaskModel& tm, TagOptions options)
    : Task(tm), options_(std::move(options)), long_(tm, options_.long_input, "tag", true) {
  tm.require(tm.model().architecture() == Architecture::TokenClassification, "tag",
             "token-classification head (BigBirdForTokenClassification)");
  const std::string& a = options_.aggregation;
  BB_CHECK(a == "none" || a == "simple" || a == "first" || a == "average" || a == "max", "unknown aggregation '", a,
           "' (expected none, simple, first, average or max)");
}

std::unique_ptr<Item> TagTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.text, "the text");
  auto item = std::make_unique<TagItem>();
  item->text = in.text;
  item->chars = utf8::to_u32(in.text);
  // HF: truncation=True, to model_max_length; never past what the model takes (block padding).
  item->input = long_.prepare(in.text, std::nullopt, opt);
  item->rows = std::move(item->input.rows);
  item->input.rows.clear();
  if (item->windows() > 0) item->best = best_windows(item->input.spans);
  return item;
}

Tensor TagTask::head(const Tensor& seq, const EncoderRow&, const ThreadingContext& ctx) const {
  Tensor logits = tm_.model().token_classification_logits(seq, ctx);  // [1, L, n]
  logits.shape = Shape{logits.dim(1), logits.dim(2)};
  return logits;
}

json TagTask::finish(const Item& base) const {
  const auto& item = static_cast<const TagItem&>(base);
  const Tokenizer& tok = tm_.tokenizer();
  const Tensor& logits = item.windows() > 0 ? item.merged : item.outputs.at(0);
  const Encoding& enc = item.input.encoding;
  const int64_t L = logits.dim(0), nl = logits.dim(1);
  const auto& chars = item.chars;

  std::vector<Token> tokens;
  for (int64_t t = 0; t < L; ++t) {
    if (enc.special_tokens_mask[static_cast<size_t>(t)]) continue;
    Token k;
    k.scores = softmax(logits.ptr() + t * nl, nl);
    k.index = t;
    k.id = enc.input_ids[static_cast<size_t>(t)];
    k.start = enc.offsets[static_cast<size_t>(t)].first;
    k.end = enc.offsets[static_cast<size_t>(t)].second;
    k.word = enc.tokens[static_cast<size_t>(t)];
    // HF's heuristic for tokenizers without word boundaries: a token continues a word unless a
    // space is just before it or is its first character.
    k.is_subword = k.start > 0 && chars[static_cast<size_t>(k.start - 1)] != U' ' &&
                   !(k.start < static_cast<int64_t>(chars.size()) && chars[static_cast<size_t>(k.start)] == U' ');
    if (k.id == tok.unk_id()) {
      k.word = utf8_of(chars, k.start, k.end);
      k.is_subword = false;
    }
    // A lone "▁" (a space on its own) starts the word that the next token spells out.
    if (!tokens.empty() && tokens.back().word == "\xe2\x96\x81" && tokens.back().end == k.start) k.is_subword = true;
    tokens.push_back(std::move(k));
  }

  // Decoded text of some tokens (HF convert_tokens_to_string; <unk> keeps its text).
  auto text_of = [&](const std::vector<const Token*>& ts) {
    std::string out;
    std::vector<int64_t> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string d = tok.decode(run, false, false);
      if (!out.empty() && !d.empty()) out += ' ';
      out += d;
      run.clear();
    };
    for (const Token* t : ts) {
      if (t->id == tok.unk_id()) {
        flush();
        const std::string w(utf8::strip(t->word));
        if (!out.empty() && !w.empty() && t->start > 0 && chars[static_cast<size_t>(t->start)] == U' ') out += ' ';
        out += w;
      } else {
        run.push_back(t->id);
      }
    }
    flush();
    return out;
  };
  auto span_of = [&](const std::vector<const Token*>& ts) {
    int64_t b = ts.front()->start, e = ts.back()->end;
    while (b < e && utf8::is_python_space(chars[static_cast<size_t>(b)])) ++b;
    return std::pair<int64_t, int64_t>{b, e};
  };
  const std::string& agg = options_.aggregation;

  std::vector<Entity> entities;
  if (agg == "none" || agg == "simple") {
    for (const Token& t : tokens) {
      const int64_t a = argmax(t.scores);
      entities.push_back({tm_.label(a), t.scores[static_cast<size_t>(a)], t.index, {&t}});
    }
  } else {
    std::vector<std::vector<const Token*>> words;
    for (const Token& t : tokens) {
      if (words.empty() || !t.is_subword) words.emplace_back();
      words.back().push_back(&t);
    }
    for (const auto& w : words) {
      Entity e;
      e.tokens = w;
      if (agg == "first") {
        const int64_t a = argmax(w.front()->scores);
        e.label = tm_.label(a);
        e.score = w.front()->scores[static_cast<size_t>(a)];
      } else if (agg == "max") {
        const Token* best = w.front();
        for (const Token* t : w)
          if (*std::max_element(t->scores.begin(), t->scores.end()) >
              *std::max_element(best->scores.begin(), best->scores.end()))
            best = t;
        const int64_t a = argmax(best->scores);
        e.label = tm_.label(a);
        e.score = best->scores[static_cast<size_t>(a)];
      } else {  // average
        std::vector<float> mean(static_cast<size_t>(nl), 0.0f);
        for (const Token* t : w)
          for (int64_t c = 0; c < nl; ++c) mean[static_cast<size_t>(c)] += t->scores[static_cast<size_t>(c)];
        for (auto& m : mean) m /= static_cast<float>(w.size());
        const int64_t a = argmax(mean);
        e.label = tm_.label(a);
        e.score = mean[static_cast<size_t>(a)];
      }
      entities.push_back(std::move(e));
    }
  }
  const auto ignored = [&](const std::string& label) {
    return std::find(options_.ignore_labels.begin(), options_.ignore_labels.end(), label) !=
           options_.ignore_labels.end();
  };

  json out = json::array();
  if (agg == "none") {
    for (const Entity& e : entities) {
      if (ignored(e.label)) continue;
      const Token& t = *e.tokens.front();
      const auto [b, en] = span_of(e.tokens);
      json j;
      j["entity"] = e.label;
      j["score"] = score_json(e.score);
      j["index"] = t.index;
      j["word"] = t.word;
      j["start"] = b;
      j["end"] = en;
      out.push_back(std::move(j));
    }
    return out;
  }
  // Group adjacent entities of one type: a new group at a different type or at a "B-".
  std::vector<std::vector<const Entity*>> groups;
  for (const Entity& e : entities) {
    if (!groups.empty()) {
      const auto [b, tag] = bio(e.label);
      const auto [lb, ltag] = bio(groups.back().back()->label);
      if (tag == ltag && b != 'B') {
        groups.back().push_back(&e);
        continue;
      }
    }
    groups.push_back({&e});
  }
  for (const auto& g : groups) {
    const std::string group = bio(g.front()->label).second;
    if (ignored(group)) continue;
    double sum = 0;
    std::vector<const Token*> ts;
    for (const Entity* e : g) {
      sum += e->score;
      ts.insert(ts.end(), e->tokens.begin(), e->tokens.end());
    }
    const auto [b, en] = span_of(ts);
    if (b == en) continue;  // only whitespace (a lone "▁"): nothing to show
    json j;
    j["entity_group"] = group;
    j["score"] = score_json(static_cast<float>(sum / static_cast<double>(g.size())));
    j["word"] = text_of(ts);
    j["start"] = b;
    j["end"] = en;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace bigbird::tasks
