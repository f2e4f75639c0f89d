// HuggingFace-compatible tokenizers for BigBird and (BigBird-)Pegasus checkpoints.
//
// Reproduces transformers 4.27.1's slow (SentencePiece) `BigBirdTokenizer` and `PegasusTokenizer`
// as loaded with `from_pretrained(dir)`: special tokens typed in the text are split off first
// (with their whitespace-stripping rules), each remaining chunk is encoded by SentencePiece on
// its own, then truncation, special tokens ([CLS] A [SEP] B [SEP] / A B </s>) and padding.
// `decode` follows HF's rules too, clean-up of tokenization spaces included.
//
//   auto tok = bigbird::Tokenizer::load("path/to/checkpoint");   // spiece.model + *.json
//   bigbird::Encoding e = tok->encode("Paris is the [MASK] of France.");
//   std::string back = tok->decode(e.input_ids, /*skip_special_tokens=*/true);
//
// All text is UTF-8; malformed input throws bigbird::Error.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace bigbird {

class SentencePieceModel;

// HF's truncation strategies. The "first"/"second" sequence is the text / the text pair.
enum class Truncation { LongestFirst, OnlyFirst, OnlySecond, DoNotTruncate };
// HF's padding strategies (always on the right, with the pad id).
enum class Padding { DoNotPad, Longest, MaxLength };
// HF's names: "longest_first", "only_first", "only_second", "do_not_truncate" / "do_not_pad",
// "longest", "max_length". Anything else throws bigbird::Error.
Truncation parse_truncation(std::string_view name);
Padding parse_padding(std::string_view name);

struct EncodeOptions {
  bool add_special_tokens = true;
  // < 0: no limit (no truncation; Padding::MaxLength then pads to model_max_length()).
  int64_t max_length = -1;
  // Applied only when max_length >= 0 (like HF's `max_length=N`, which implies truncation).
  Truncation truncation = Truncation::LongestFirst;
  // Longest: in encode_batch, pad every row to the longest row (a single encode is unchanged).
  Padding padding = Padding::DoNotPad;
};

// One encoded text (or text pair). All vectors have the same length.
struct Encoding {
  std::vector<int64_t> input_ids;
  // BigBird: 0 over [CLS] A [SEP], 1 over B [SEP]. Pegasus: all 0 (its HF tokenizer returns none).
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> attention_mask;       // 1 on tokens, 0 on padding
  std::vector<int64_t> special_tokens_mask;  // HF's get_special_tokens_mask (+ 1 on padding)
  std::vector<std::string> tokens;           // id_to_token(input_ids[i]) (HF convert_ids_to_tokens)
  // [begin, end) in Unicode code points of the text the token came from (see sequence_ids), like
  // HF fast tokenizers' offset_mapping: a "▁w" piece covers " w" when the space is in the text.
  // Added special tokens and padding get (0, 0).
  std::vector<std::pair<int64_t, int64_t>> offsets;
  // 0: from the text, 1: from the pair, -1: added special token or padding.
  std::vector<int64_t> sequence_ids;
  // What HF 4.27.1 logs for this call: "WARNING: ..." / "ERROR: ..." lines (e.g. an impossible truncation).
  std::vector<std::string> warnings;

  size_t size() const { return input_ids.size(); }
};

// A special-token string and whether it eats the whitespace of its neighbours in the raw text:
// lstrip = the text before it loses its trailing whitespace, rstrip = the text after it loses its
// leading whitespace (HF AddedToken semantics; a plain-string special token strips both sides).
struct SpecialToken {
  std::string content;
  bool lstrip = false;
  bool rstrip = false;
};

class Tokenizer {
 public:
  // `dir` holds spiece.model and tokenizer_config.json (its "tokenizer_class", else config.json's
  // "model_type", picks the class: BigBirdTokenizer or PegasusTokenizer), and optionally
  // special_tokens_map.json. Throws bigbird::Error naming the file at fault.
  static std::unique_ptr<Tokenizer> load(const std::string& dir);
  virtual ~Tokenizer();

  const std::string& class_name() const { return class_name_; }

  // HF tokenize(): the pieces of `text` (SentencePiece piece strings; an unknown piece is its own
  // text, e.g. "\t"), special tokens typed in the text kept whole. No special tokens added.
  virtual std::vector<std::string> tokenize(std::string_view text) const;

  // HF tokenizer(text[, pair], ...): ids with special tokens, truncation, padding, masks, offsets.
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  Encoding encode(std::string_view text, std::optional<std::string_view> pair, const EncodeOptions& options = {}) const;
  // HF tokenizer(list[, list], ...): rows encoded alone, then padded together.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options = {}) const;
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>& pairs,
                                     const EncodeOptions& options = {}) const;

  // HF decode(ids, skip_special_tokens, clean_up_tokenization_spaces).
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false,
                             bool clean_up_tokenization_spaces = true) const;

  // Vocabulary. Ids outside [0, vocab_size()) throw bigbird::Error.
  virtual int64_t token_to_id(std::string_view token) const = 0;  // unk_id() for an unknown string
  virtual std::string id_to_token(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  std::vector<int64_t> convert_tokens_to_ids(const std::vector<std::string>& tokens) const;
  std::vector<std::string> convert_ids_to_tokens(const std::vector<int64_t>& ids,
                                                 bool skip_special_tokens = false) const;
  // How many tokens encode() adds: BigBird 2 (single) / 3 (pair), Pegasus 1.
  int64_t num_special_tokens_to_add(bool pair) const;
  int64_t model_max_length() const { return model_max_length_; }
  // Lowers model_max_length to `m` when it is larger (a model with fewer positions than its
  // tokenizer_config.json claims).
  void limit_model_max_length(int64_t m) { model_max_length_ = std::min(model_max_length_, m); }

  // Special tokens; id -1 (and an empty string) where the class has none (Pegasus: no bos/cls/sep).
  int64_t pad_id() const { return role_id("pad_token"); }
  int64_t eos_id() const { return role_id("eos_token"); }
  int64_t bos_id() const { return role_id("bos_token"); }
  int64_t unk_id() const { return role_id("unk_token"); }
  int64_t cls_id() const { return role_id("cls_token"); }
  int64_t sep_id() const { return role_id("sep_token"); }
  int64_t mask_id() const { return role_id("mask_token"); }
  std::string special_token(std::string_view role) const;  // role: "pad_token", "mask_token", ...
  // HF order: bos, eos, unk, sep, pad, cls, mask, then the additional special tokens.
  const std::vector<std::string>& all_special_tokens() const { return all_special_tokens_; }
  std::vector<int64_t> all_special_ids() const;
  bool is_special_id(int64_t id) const { return special_ids_.count(id) != 0; }

  // Throws bigbird::Error for a tokenizer.json tokenizer (it has no SentencePiece model).
  const SentencePieceModel& sentencepiece() const;

  // HF clean_up_tokenization() (" ." -> ".", " n't" -> "n't", ...).
  static std::string clean_up_tokenization(std::string text);

 protected:
  // What a subclass's constructor gets: the model and the resolved special tokens.
  struct Setup {
    std::string class_name;
    std::shared_ptr<const SentencePieceModel> sp;
    int64_t model_max_length = 1024;
    std::vector<std::pair<std::string, SpecialToken>> roles;  // ("bos_token", {...}), ... in HF order
    std::vector<SpecialToken> additional;                     // additional_special_tokens
  };
  explicit Tokenizer(Setup setup);
  // Subclasses call this at the end of their constructor (token_to_id works from then on).
  void finish_setup();

  // One slot of the special-token template: a text (segment 0 = text, 1 = pair) or an added token.
  struct Slot {
    int segment;      // 0, 1, or -1 for an added special token
    int64_t id;       // the added token's id (segment -1 only)
    int64_t type_id;  // token_type_id for the slot's tokens
  };
  // HF build_inputs_with_special_tokens + create_token_type_ids_from_sequences, as a template.
  virtual std::vector<Slot> special_tokens_template(bool pair) const = 0;
  // special_tokens_mask for a token of the text itself (HF: BigBird 0, Pegasus 1 for specials but <unk>).
  virtual bool masks_special_in_text(int64_t id) const = 0;
  // HF convert_tokens_to_string (decode of a list of tokens; special tokens stay verbatim).
  virtual std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const = 0;
  // Applied to the joined text before the clean-up (BigBird: no space before [MASK]/[SEP]).
  virtual std::string postprocess_decoded(std::string text) const { return text; }

  bool is_special_token(const std::string& token) const { return special_strings_.count(token) != 0; }
  // One text (or pair) without padding; tokenizer.json tokenizers replace the whole pipeline.
  virtual Encoding encode_one(std::string_view text, std::optional<std::string_view> pair,
                              const EncodeOptions& options) const;
  // HF's "Token indices sequence length is longer than ..." warning, when it applies.
  void warn_if_too_long(Encoding& e, const EncodeOptions& options) const;

  std::shared_ptr<const SentencePieceModel> sp_;

 private:
  struct Segment;  // one text, tokenized
  Segment tokenize_segment(std::string_view text) const;
  static void truncate(Segment& a, Segment* b, int64_t n, Truncation strategy, std::vector<std::string>& log);
  int64_t role_id(std::string_view role) const;
  void pad(Encoding& e, int64_t length) const;
  int64_t padding_length(const EncodeOptions& options) const;

  std::string class_name_;
  int64_t model_max_length_;
  std::vector<std::pair<std::string, SpecialToken>> roles_;
  std::vector<SpecialToken> splitters_;  // unique special strings, longest first
  std::vector<std::string> all_special_tokens_;
  std::unordered_set<std::string> special_strings_;
  std::unordered_set<int64_t> special_ids_;
  std::unordered_map<std::string, int64_t> role_ids_;
};

}  // namespace bigbird
