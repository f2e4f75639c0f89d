#include "text/sentencepiece.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "text/utf8.h"

namespace bigbird {

SentencePieceModel::SentencePieceModel(const std::string& path)
    : path_(path), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  BB_CHECK(std::filesystem::is_regular_file(path), "SentencePiece model '", path,
           "' does not exist or is not a regular file");
  BB_CHECK(std::ifstream(path, std::ios::binary).good(), "cannot open SentencePiece model '", path, "'");
  const auto status = sp_->Load(path);
  BB_CHECK(status.ok(), "cannot load SentencePiece model '", path, "': ", status.ToString());
}

SentencePieceModel::~SentencePieceModel() = default;

std::vector<SentencePiece> SentencePieceModel::encode(std::string_view text) const {
  utf8::validate(text, "text to tokenize");
  sentencepiece::ImmutableSentencePieceText spt;
  const auto status = sp_->Encode(absl::string_view(text.data(), text.size()), spt.mutable_proto());
  BB_CHECK(status.ok(), "SentencePiece encode failed (", path_, "): ", status.ToString());
  std::vector<SentencePiece> out;
  out.reserve(spt.pieces_size());
  for (const auto& p : spt.pieces()) out.push_back({p.piece(), static_cast<int>(p.id()), p.begin(), p.end()});
  return out;
}

std::vector<std::string> SentencePieceModel::encode_as_pieces(std::string_view text) const {
  std::vector<std::string> out;
  for (auto& p : encode(text)) out.push_back(std::move(p.piece));
  return out;
}

std::vector<int> SentencePieceModel::encode_as_ids(std::string_view text) const {
  std::vector<int> out;
  for (const auto& p : encode(text)) out.push_back(p.id);
  return out;
}

std::string SentencePieceModel::decode_ids(const std::vector<int>& ids) const {
  for (int id : ids) check_id(id);
  std::string out;
  const auto status = sp_->Decode(ids, &out);
  BB_CHECK(status.ok(), "SentencePiece decode failed (", path_, "): ", status.ToString());
  return out;
}

std::string SentencePieceModel::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string out;
  const auto status = sp_->Decode(pieces, &out);
  BB_CHECK(status.ok(), "SentencePiece decode failed (", path_, "): ", status.ToString());
  return out;
}

int SentencePieceModel::piece_size() const { return sp_->GetPieceSize(); }

int SentencePieceModel::piece_to_id(std::string_view piece) const {
  return sp_->PieceToId(absl::string_view(piece.data(), piece.size()));
}

const std::string& SentencePieceModel::id_to_piece(int id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

bool SentencePieceModel::is_unknown(int id) const { return sp_->IsUnknown(id); }
bool SentencePieceModel::is_control(int id) const { return sp_->IsControl(id); }
int SentencePieceModel::unk_id() const { return sp_->unk_id(); }
int SentencePieceModel::bos_id() const { return sp_->bos_id(); }
int SentencePieceModel::eos_id() const { return sp_->eos_id(); }
int SentencePieceModel::pad_id() const { return sp_->pad_id(); }

void SentencePieceModel::check_id(int id) const {
  BB_CHECK(id >= 0 && id < piece_size(), "SentencePiece id ", id, " is out of range [0, ", piece_size(), ") for '",
           path_, "'");
}

}  // namespace bigbird
