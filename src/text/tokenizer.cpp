// The class-independent half of HF's slow tokenizers (tokenization_utils.py /
// tokenization_utils_base.py in transformers 4.27.1): splitting on special tokens, truncation,
// special-token templates, padding, batching and the decode pipeline.
#include "text/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "text/sentencepiece.h"
#include "text/utf8.h"

namespace bigbird {

Truncation parse_truncation(std::string_view name) {
  if (name == "longest_first") return Truncation::LongestFirst;
  if (name == "only_first") return Truncation::OnlyFirst;
  if (name == "only_second") return Truncation::OnlySecond;
  if (name == "do_not_truncate") return Truncation::DoNotTruncate;
  fail("unknown truncation strategy '", name, "' (expected longest_first, only_first, only_second or do_not_truncate)");
}

Padding parse_padding(std::string_view name) {
  if (name == "do_not_pad") return Padding::DoNotPad;
  if (name == "longest") return Padding::Longest;
  if (name == "max_length") return Padding::MaxLength;
  fail("unknown padding strategy '", name, "' (expected do_not_pad, longest or max_length)");
}

// One text after tokenize(): HF's tokens, their ids and code-point offsets into the text.
struct Tokenizer::Segment {
  std::vector<std::string> tokens;
  std::vector<int64_t> ids;
  std::vector<std::pair<int64_t, int64_t>> offsets;

  size_t size() const { return ids.size(); }
  void drop_last(size_t n) {
    const size_t keep = n >= size() ? 0 : size() - n;
    tokens.resize(keep);
    ids.resize(keep);
    offsets.resize(keep);
  }
};

Tokenizer::Tokenizer(Setup setup)
    : sp_(std::move(setup.sp)),
      class_name_(std::move(setup.class_name)),
      model_max_length_(setup.model_max_length),
      roles_(std::move(setup.roles)) {
  // all_special_tokens: roles in HF order, then the additional tokens, without duplicates.
  std::vector<SpecialToken> all;
  for (const auto& [role, token] : roles_) all.push_back(token);
  all.insert(all.end(), setup.additional.begin(), setup.additional.end());
  for (const auto& token : all) {
    BB_CHECK(!token.content.empty(), class_name_, ": empty special token");
    if (!special_strings_.insert(token.content).second) continue;
    all_special_tokens_.push_back(token.content);
    splitters_.push_back(token);
  }
  // Leftmost match wins; at one position the longest (HF's trie does the same).
  std::stable_sort(splitters_.begin(), splitters_.end(),
                   [](const SpecialToken& a, const SpecialToken& b) { return a.content.size() > b.content.size(); });
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::finish_setup() {
  for (const auto& [role, token] : roles_) role_ids_[role] = token_to_id(token.content);
  for (const auto& token : all_special_tokens_) special_ids_.insert(token_to_id(token));
}

int64_t Tokenizer::role_id(std::string_view role) const {
  const auto it = role_ids_.find(std::string(role));
  return it == role_ids_.end() ? -1 : it->second;
}

std::string Tokenizer::special_token(std::string_view role) const {
  for (const auto& [name, token] : roles_)
    if (name == role) return token.content;
  return "";
}

std::vector<int64_t> Tokenizer::all_special_ids() const { return convert_tokens_to_ids(all_special_tokens_); }

std::vector<int64_t> Tokenizer::convert_tokens_to_ids(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  for (const auto& t : tokens) ids.push_back(token_to_id(t));
  return ids;
}

std::vector<std::string> Tokenizer::convert_ids_to_tokens(const std::vector<int64_t>& ids,
                                                          bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids)
    if (!(skip_special_tokens && is_special_id(id))) tokens.push_back(id_to_token(id));
  return tokens;
}

int64_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  const auto slots = special_tokens_template(pair);
  return std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.segment < 0; });
}

// HF tokenize(): cut the raw text at every special-token string, let the special tokens strip the
// whitespace of their neighbours, drop empty chunks, SentencePiece-encode each text chunk alone.
Tokenizer::Segment Tokenizer::tokenize_segment(std::string_view text) const {
  utf8::validate(text, "text to tokenize");
  struct Chunk {
    size_t begin, end;  // bytes in `text`
    const SpecialToken* special;
  };
  std::vector<Chunk> chunks;
  size_t last = 0;
  for (size_t pos = 0; pos < text.size();) {
    const SpecialToken* hit = nullptr;
    for (const auto& s : splitters_)
      if (text.compare(pos, s.content.size(), s.content) == 0) {
        hit = &s;
        break;
      }
    if (!hit) {
      ++pos;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (pos > last) chunks.push_back({last, pos, nullptr});
    chunks.push_back({pos, pos + hit->content.size(), hit});
    pos = last = pos + hit->content.size();
  }
  if (last < text.size()) chunks.push_back({last, text.size(), nullptr});

  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!chunks[i].special) continue;
    if (chunks[i].special->rstrip && i + 1 < chunks.size() && !chunks[i + 1].special) {
      Chunk& next = chunks[i + 1];
      next.begin = next.end - utf8::lstrip(text.substr(next.begin, next.end - next.begin)).size();
    }
    if (chunks[i].special->lstrip && i > 0 && !chunks[i - 1].special) {
      Chunk& prev = chunks[i - 1];
      prev.end = prev.begin + utf8::rstrip(text.substr(prev.begin, prev.end - prev.begin)).size();
    }
  }

  const std::vector<int64_t> chars = utf8::char_offsets(text);
  Segment seg;
  auto add = [&](std::string token, size_t begin, size_t end) {
    seg.ids.push_back(token_to_id(token));
    seg.tokens.push_back(std::move(token));
    seg.offsets.emplace_back(chars[begin], chars[end]);
  };
  for (const Chunk& c : chunks) {
    if (c.begin >= c.end) continue;
    if (c.special) {
      add(c.special->content, c.begin, c.end);
      continue;
    }
    for (auto& p : sp_->encode(text.substr(c.begin, c.end - c.begin)))
      add(std::move(p.piece), c.begin + p.begin, c.begin + p.end);
  }
  return seg;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const { return tokenize_segment(text).tokens; }

// HF truncate_sequences() (truncation_side "right", no stride): remove n > 0 tokens, or log why not.
void Tokenizer::truncate(Segment& a, Segment* b, int64_t n, Truncation strategy, std::vector<std::string>& log) {
  const auto cannot = [&](const char* which, size_t len) {
    return "ERROR: We need to remove " + std::to_string(n) + " to truncate the input but the " + which +
           " sequence has a length " + std::to_string(len) + ". ";
  };
  if (strategy == Truncation::OnlyFirst || (strategy == Truncation::LongestFirst && !b)) {
    if (a.size() > static_cast<size_t>(n)) {
      a.drop_last(n);
      return;
    }
    std::string msg = cannot("first", a.size());
    if (strategy == Truncation::OnlyFirst)
      msg +=
          "Please select another truncation strategy than TruncationStrategy.ONLY_FIRST, "
          "for instance 'longest_first' or 'only_second'.";
    log.push_back(msg);
  } else if (strategy == Truncation::LongestFirst) {
    log.push_back(
        "WARNING: Be aware, overflowing tokens are not returned for the setting you have chosen, i.e. "
        "sequence "
        "pairs with the 'longest_first' truncation strategy. So the returned list will always be empty even "
        "if "
        "some tokens have been removed.");
    for (int64_t i = 0; i < n; ++i) (a.size() > b->size() ? a : *b).drop_last(1);  // ties: from the pair
  } else if (strategy == Truncation::OnlySecond && b) {
    if (b->size() > static_cast<size_t>(n)) {
      b->drop_last(n);
      return;
    }
    log.push_back(cannot("second", b->size()) +
                  "Please select another truncation strategy than TruncationStrategy.ONLY_SECOND, "
                  "for instance 'longest_first' or 'only_first'.");
  }
}

Encoding Tokenizer::encode_one(std::string_view text, std::optional<std::string_view> pair,
                               const EncodeOptions& options) const {
  Segment a = tokenize_segment(text);
  std::optional<Segment> b;
  if (pair) b = tokenize_segment(*pair);
  Encoding e;

  // Truncation: n tokens must go so that the result (special tokens included) fits max_length.
  if (options.max_length >= 0 && options.truncation != Truncation::DoNotTruncate) {
    const int64_t total = static_cast<int64_t>(a.size() + (b ? b->size() : 0)) +
                          (options.add_special_tokens ? num_special_tokens_to_add(b.has_value()) : 0);
    if (total > options.max_length)
      truncate(a, b ? &*b : nullptr, total - options.max_length, options.truncation, e.warnings);
  }

  auto append_segment = [&](const Segment& s, int64_t seq_id, int64_t type_id, bool mark_specials) {
    for (size_t i = 0; i < s.size(); ++i) {
      e.input_ids.push_back(s.ids[i]);
      e.token_type_ids.push_back(type_id);
      e.special_tokens_mask.push_back(mark_specials && masks_special_in_text(s.ids[i]) ? 1 : 0);
      e.tokens.push_back(s.tokens[i]);
      e.offsets.push_back(s.offsets[i]);
      e.sequence_ids.push_back(seq_id);
    }
  };
  if (options.add_special_tokens) {
    for (const Slot& slot : special_tokens_template(b.has_value())) {
      if (slot.segment < 0) {
        e.input_ids.push_back(slot.id);
        e.token_type_ids.push_back(slot.type_id);
        e.special_tokens_mask.push_back(1);
        e.tokens.push_back(id_to_token(slot.id));
        e.offsets.emplace_back(0, 0);
        e.sequence_ids.push_back(-1);
      } else {
        append_segment(slot.segment == 0 ? a : *b, slot.segment, slot.type_id, true);
      }
    }
  } else {
    append_segment(a, 0, 0, false);
    if (b) append_segment(*b, 1, 0, false);
  }
  // id_to_token of a text token may differ from its tokenize() string (unknown pieces): use the id's.
  for (size_t i = 0; i < e.size(); ++i) e.tokens[i] = id_to_token(e.input_ids[i]);
  e.attention_mask.assign(e.size(), 1);
  warn_if_too_long(e, options);
  return e;
}

void Tokenizer::warn_if_too_long(Encoding& e, const EncodeOptions& options) const {
  if (options.max_length < 0 && options.padding != Padding::MaxLength &&
      static_cast<int64_t>(e.size()) > model_max_length_)
    e.warnings.push_back(
        "WARNING: Token indices sequence length is longer than the specified maximum sequence "
        "length for this model (" +
        std::to_string(e.size()) + " > " + std::to_string(model_max_length_) +
        "). Running this sequence through the model will result in indexing errors");
}

const SentencePieceModel& Tokenizer::sentencepiece() const {
  BB_CHECK(sp_, class_name_, " has no SentencePiece model");
  return *sp_;
}

void Tokenizer::pad(Encoding& e, int64_t length) const {
  if (static_cast<int64_t>(e.size()) >= length) return;  // padding never shortens
  const int64_t pad = pad_id();
  BB_CHECK(pad >= 0, class_name_, ": cannot pad, the tokenizer has no pad token");
  const size_t n = static_cast<size_t>(length);
  e.input_ids.resize(n, pad);
  e.token_type_ids.resize(n, 0);
  e.attention_mask.resize(n, 0);
  e.special_tokens_mask.resize(n, 1);
  e.tokens.resize(n, id_to_token(pad));
  e.offsets.resize(n, {0, 0});
  e.sequence_ids.resize(n, -1);
}

// Padding::MaxLength pads to max_length, or to model_max_length() when none is given.
int64_t Tokenizer::padding_length(const EncodeOptions& options) const {
  if (options.max_length >= 0) return options.max_length;
  BB_CHECK(model_max_length_ <= (int64_t{1} << 24), class_name_,
           ": padding to max_length needs EncodeOptions::max_length (the tokenizer has no model_max_length)");
  return model_max_length_;
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  return encode(text, std::nullopt, options);
}

Encoding Tokenizer::encode(std::string_view text, std::optional<std::string_view> pair,
                           const EncodeOptions& options) const {
  Encoding e = encode_one(text, pair, options);
  if (options.padding == Padding::MaxLength) pad(e, padding_length(options));
  return e;
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                              const EncodeOptions& options) const {
  return encode_batch(texts, {}, options);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                              const std::vector<std::string>& pairs,
                                              const EncodeOptions& options) const {
  BB_CHECK(pairs.empty() || pairs.size() == texts.size(), "encode_batch: ", texts.size(), " texts but ", pairs.size(),
           " pairs");
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    rows.push_back(
        encode_one(texts[i], pairs.empty() ? std::nullopt : std::optional<std::string_view>(pairs[i]), options));
  int64_t length = 0;
  if (options.padding == Padding::Longest)
    for (const auto& r : rows) length = std::max<int64_t>(length, r.size());
  else if (options.padding == Padding::MaxLength) length = padding_length(options);
  for (auto& r : rows) pad(r, length);
  return rows;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                              bool clean_up_tokenization_spaces) const {
  const std::vector<std::string> tokens = convert_ids_to_tokens(ids, skip_special_tokens);
  std::string text = postprocess_decoded(tokens.empty() ? std::string() : convert_tokens_to_string(tokens));
  if (!clean_up_tokenization_spaces) return text;
  return clean_up_tokenization(std::move(text));
}

std::string Tokenizer::clean_up_tokenization(std::string text) {
  // HF clean_up_tokenization(): plain replace-all, in this order.
  static const std::pair<const char*, const char*> kCleanUp[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kCleanUp) text = utf8::replace_all(text, from, to);
  return text;
}

}  // namespace bigbird
