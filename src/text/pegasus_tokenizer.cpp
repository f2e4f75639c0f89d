// HF PegasusTokenizer (transformers 4.27.1, tokenization_pegasus.py): ids 0..offset+1 are a fixed
// table (<pad>, </s>, <mask_1>, <mask_2>, <unk_2>..<unk_102>); every SentencePiece id p >= 2 is
// HF id p + offset. A (B) </s>; the special tokens are plain strings, so they strip the
// whitespace on both sides; decode joins special tokens without spaces.
#include <algorithm>
#include <map>
#include <unordered_set>

#include "core/error.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace bigbird {

namespace {

constexpr int64_t kMaxPegasusOffset = 1024;  // reserved ids below the SentencePiece pieces

class PegasusTokenizer final : public Tokenizer {
 public:
  explicit PegasusTokenizer(const detail::TokenizerFiles& files) : PegasusTokenizer(resolve(files)) {}

  int64_t token_to_id(std::string_view token) const override {
    if (auto it = decoder_.find(std::string(token)); it != decoder_.end()) return it->second;
    return sp_->piece_to_id(token) + offset_;
  }

  std::string id_to_token(int64_t id) const override {
    BB_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is out of range [0, ", vocab_size(), ")");
    if (auto it = encoder_.find(id); it != encoder_.end()) return it->second;
    return sp_->id_to_piece(static_cast<int>(id - offset_));
  }

  int64_t vocab_size() const override { return sp_->piece_size() + offset_; }

 protected:
  std::vector<Slot> special_tokens_template(bool pair) const override {
    std::vector<Slot> slots = {{0, 0, 0}};
    if (pair) slots.push_back({1, 0, 0});
    slots.push_back({-1, eos_id(), 0});
    return slots;
  }

  // <unk> is "only sometimes special": every other special id typed in the text counts.
  bool masks_special_in_text(int64_t id) const override { return id != unk_id() && is_special_id(id); }

  // A special token appends the SentencePiece decoding of the pending pieces, then itself.
  std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const override {
    std::string out;
    std::vector<std::string> group;
    for (const auto& token : tokens) {
      if (is_special_token(token)) {
        out += sp_->decode_pieces(group) + token;
        group.clear();
      } else {
        group.push_back(token);
      }
    }
    out += sp_->decode_pieces(group);
    return std::string(utf8::strip(out));
  }

 private:
  struct Resolved {
    Setup setup;
    int64_t offset = 0;
    std::map<int64_t, std::string> encoder;  // the fixed id -> token table
  };

  explicit PegasusTokenizer(Resolved r)
      : Tokenizer(std::move(r.setup)), offset_(r.offset), encoder_(std::move(r.encoder)) {
    for (const auto& [id, token] : encoder_) decoder_.emplace(token, id);
    finish_setup();
  }

  // Resolves the special tokens and builds the fixed id table as the class's constructor does.
  static Resolved resolve(const detail::TokenizerFiles& files) {
    Resolved r;
    Setup& setup = r.setup;
    int64_t& offset = r.offset;
    auto& encoder = r.encoder;
    setup.class_name = "PegasusTokenizer";
    setup.sp = files.sp;
    setup.model_max_length = files.model_max_length;
    offset = 103;
    if (auto it = files.config.find("offset"); it != files.config.end()) {
      // An integer (a float such as 1e30 converted to int64 would be undefined behaviour).
      BB_CHECK(it->is_number_integer() && !(it->is_number_unsigned() && it->get<uint64_t>() > 1000000000u),
               files.config_path, ": \"offset\" must be an integer, got ", it->dump().substr(0, 40));
      offset = it->get<int64_t>();
    }
    BB_CHECK(offset >= 0, files.config_path, ": negative offset ", offset);
    // Each reserved id below the offset becomes an added token (<unk_2> ... <unk_{offset-1}>) that
    // every text is split on: a huge offset would make loading and encoding crawl (fuzz_tokenizer_files:
    // offset 8206 took 25 s). HF's Pegasus uses 103.
    BB_CHECK(offset <= kMaxPegasusOffset, files.config_path, ": offset ", offset, " is larger than this engine takes (",
             kMaxPegasusOffset, "; HF's Pegasus uses 103)");

    // Plain-string defaults (they strip both neighbours). HF order: eos, unk, pad, mask.
    const std::pair<const char*, const char*> defaults[] = {
        {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}, {"mask_token", "<mask_2>"}};
    for (const auto& [role, content] : defaults)
      if (auto t = detail::resolve_special_token(files, role, SpecialToken{content, true, true}))
        setup.roles.emplace_back(role, *t);

    std::optional<std::string> mask_token_sent = "<mask_1>";
    if (auto it = files.config.find("mask_token_sent"); it != files.config.end())
      mask_token_sent =
          it->is_null() ? std::nullopt : std::optional(detail::parse_special_token(*it, files.config_path).content);

    // additional_special_tokens: mask_token_sent first, then <unk_i> up to offset - 1 entries.
    std::vector<std::string> extended;
    auto given = files.config.find("additional_special_tokens");
    if (given != files.config.end() && !given->is_null()) {
      BB_CHECK(given->is_array(), files.config_path, ": additional_special_tokens must be a list");
      for (const auto& v : *given) extended.push_back(detail::parse_special_token(v, files.config_path).content);
      if (mask_token_sent && std::find(extended.begin(), extended.end(), *mask_token_sent) == extended.end())
        extended.insert(extended.begin(), *mask_token_sent);
      for (int64_t i = static_cast<int64_t>(extended.size()); i < offset - 1; ++i)
        extended.push_back("<unk_" + std::to_string(i) + ">");
      BB_CHECK(std::unordered_set<std::string>(extended.begin(), extended.end()).size() == extended.size(),
               files.config_path,
               ": additional_special_tokens contain duplicates (an incorrectly shifted list of "
               "<unk_x> tokens?)");
    } else {
      if (mask_token_sent) extended.push_back(*mask_token_sent);
      for (int64_t i = 2; i < offset; ++i) extended.push_back("<unk_" + std::to_string(i) + ">");
    }

    const auto role = [&](const char* name) {
      for (const auto& [r, t] : setup.roles)
        if (r == name) return t.content;
      fail("PegasusTokenizer needs a ", name, " (", files.dir, ")");
    };
    encoder = {{0, role("pad_token")}, {1, role("eos_token")}};
    if (mask_token_sent) {
      encoder[2] = *mask_token_sent;
      encoder[3] = role("mask_token");
    }
    for (int64_t i = 1; i < offset - 1 && i < static_cast<int64_t>(extended.size()); ++i) encoder[i + 3] = extended[i];

    // special_tokens_map.json, when it lists them, sets the additional special tokens afterwards.
    auto from_map = files.special_map.find("additional_special_tokens");
    if (from_map != files.special_map.end() && from_map->is_array()) {
      for (const auto& v : *from_map)
        setup.additional.push_back(detail::parse_special_token(v, files.special_map_path));
    } else {
      for (const auto& s : extended) setup.additional.push_back({s, true, true});
    }
    return r;
  }

  int64_t offset_;
  std::map<int64_t, std::string> encoder_;
  std::unordered_map<std::string, int64_t> decoder_;
};

}  // namespace

std::unique_ptr<Tokenizer> detail::make_pegasus_tokenizer(const TokenizerFiles& files) {
  return std::make_unique<PegasusTokenizer>(files);
}

}  // namespace bigbird
