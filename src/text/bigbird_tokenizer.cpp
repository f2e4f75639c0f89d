// HF BigBirdTokenizer (transformers 4.27.1, tokenization_big_bird.py): ids are the SentencePiece
// ids; [CLS] A [SEP] (B [SEP]); [MASK] eats the whitespace before it; decode puts a space before
// a special token that follows text and none before [MASK] / [SEP].
#include "core/error.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace bigbird {

namespace {

class BigBirdTokenizer final : public Tokenizer {
 public:
  explicit BigBirdTokenizer(const detail::TokenizerFiles& files) : Tokenizer(make_setup(files)) {
    finish_setup();
    for (const char* role : {"cls_token", "sep_token"})
      BB_CHECK(!special_token(role).empty(), "BigBirdTokenizer needs a ", role, " (", files.dir, ")");
  }

  int64_t token_to_id(std::string_view token) const override { return sp_->piece_to_id(token); }

  std::string id_to_token(int64_t id) const override {
    BB_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is out of range [0, ", vocab_size(), ")");
    return sp_->id_to_piece(static_cast<int>(id));
  }

  int64_t vocab_size() const override { return sp_->piece_size(); }

 protected:
  std::vector<Slot> special_tokens_template(bool pair) const override {
    std::vector<Slot> slots = {{-1, cls_id(), 0}, {0, 0, 0}, {-1, sep_id(), 0}};
    if (pair) {
      slots.push_back({1, 0, 1});
      slots.push_back({-1, sep_id(), 1});
    }
    return slots;
  }

  // Only the added [CLS]/[SEP] count; special tokens typed in the text do not.
  bool masks_special_in_text(int64_t) const override { return false; }

  // A special token appends " " (unless the previous token was special too), the SentencePiece
  // decoding of the pending pieces, then itself.
  std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const override {
    std::string out;
    std::vector<std::string> group;
    bool prev_is_special = false;
    for (const auto& token : tokens) {
      if (is_special_token(token)) {
        if (!prev_is_special) out += ' ';
        out += sp_->decode_pieces(group) + token;
        group.clear();
        prev_is_special = true;
      } else {
        group.push_back(token);
        prev_is_special = false;
      }
    }
    out += sp_->decode_pieces(group);
    return std::string(utf8::strip(out));
  }

  // Mimics the Rust tokenizer: no space before [MASK] and [SEP] (HF's regex " (\[(MASK|SEP)\])").
  std::string postprocess_decoded(std::string text) const override {
    return utf8::replace_all(utf8::replace_all(text, " [MASK]", "[MASK]"), " [SEP]", "[SEP]");
  }

 private:
  static Setup make_setup(const detail::TokenizerFiles& files) {
    Setup setup;
    setup.class_name = "BigBirdTokenizer";
    setup.sp = files.sp;
    setup.model_max_length = files.model_max_length;
    // The class defaults; the constructor wraps them (and strings from tokenizer_config.json) as
    // AddedToken(lstrip=False, rstrip=False), except the mask token: lstrip=True.
    const std::pair<const char*, SpecialToken> defaults[] = {
        {"bos_token", {"<s>", false, false}},   {"eos_token", {"</s>", false, false}},
        {"unk_token", {"<unk>", false, false}}, {"sep_token", {"[SEP]", false, false}},
        {"pad_token", {"<pad>", false, false}}, {"cls_token", {"[CLS]", false, false}},
        {"mask_token", {"[MASK]", true, false}}};
    for (const auto& [role, token] : defaults)
      if (auto t = detail::resolve_special_token(files, role, token)) setup.roles.emplace_back(role, *t);
    setup.additional = detail::additional_special_tokens(files);
    return setup;
  }
};

}  // namespace

std::unique_ptr<Tokenizer> detail::make_bigbird_tokenizer(const TokenizerFiles& files) {
  return std::make_unique<BigBirdTokenizer>(files);
}

}  // namespace bigbird
