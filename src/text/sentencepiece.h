// A thin wrapper over the SentencePiece C++ library: raw encode/decode of one model file, with
// piece surfaces and byte offsets. No HF logic here (see text/tokenizer.h for that).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace bigbird {

// One piece of an encoding. `piece` is what SentencePiece returns as the piece string: the
// vocabulary entry, except for unknown pieces, where it is the original text (e.g. "\t" or
// "😀🚀", with id == unk_id()). [begin, end) is the piece's span in bytes of the encoded input
// (the dummy-prefix "▁" has an empty span).
struct SentencePiece {
  std::string piece;
  int id = 0;
  size_t begin = 0;
  size_t end = 0;
};

class SentencePieceModel {
 public:
  // Loads a `.model` file; throws bigbird::Error naming the file if it is missing or unreadable.
  explicit SentencePieceModel(const std::string& path);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Plain SentencePieceProcessor::Encode (no BOS/EOS, no sampling). Throws bigbird::Error on
  // invalid UTF-8 input.
  std::vector<SentencePiece> encode(std::string_view text) const;
  std::vector<std::string> encode_as_pieces(std::string_view text) const;
  std::vector<int> encode_as_ids(std::string_view text) const;

  // SentencePiece decoding: pieces concatenated, "▁" -> " ", no leading space; unknown ids
  // decode to " ⁇ ", control ids to "". Throws on ids outside [0, piece_size()).
  std::string decode_ids(const std::vector<int>& ids) const;
  std::string decode_pieces(const std::vector<std::string>& pieces) const;

  int piece_size() const;
  int piece_to_id(std::string_view piece) const;  // unk_id() if `piece` is not in the vocabulary
  const std::string& id_to_piece(int id) const;   // throws on ids outside [0, piece_size())
  bool is_unknown(int id) const;
  bool is_control(int id) const;
  int unk_id() const;
  int bos_id() const;  // -1 if the model has none
  int eos_id() const;
  int pad_id() const;
  const std::string& path() const { return path_; }

 private:
  void check_id(int id) const;

  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace bigbird
