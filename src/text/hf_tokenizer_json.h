// Tokenizers from an HF `tokenizer.json` (the Rust `tokenizers` library's serialization, what
// transformers' PreTrainedTokenizerFast loads), plugged into the common Tokenizer interface.
//
// The pipeline is HF's: added tokens are split off the raw text (non-normalized ones first,
// normalized ones after normalization), each remaining piece is normalized, pre-tokenized and
// encoded by the model; then truncation (the Rust library's rules, as Python transformers uses
// them), the post-processor's special tokens and type ids, and offsets back in code points of
// the original text. Supported component types:
//   normalizers      Sequence, Strip, Replace (String or Oniguruma Regex), Lowercase, NFC, NFD,
//                    NFKC, NFKD (ICU), Prepend
//   pre-tokenizers   Sequence, Split (all five behaviours, invert), Whitespace, WhitespaceSplit,
//                    Metaspace, ByteLevel, BertPreTokenizer
//   models           BPE (merges, unk_token, fuse_unk, byte_fallback, continuing_subword_prefix,
//                    end_of_word_suffix, ignore_merges; no dropout), WordPiece, Unigram (Viterbi)
//   post-processors  TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence
//   decoders         Sequence, ByteLevel, WordPiece, Metaspace, BPEDecoder, Fuse, Strip, Replace,
//                    ByteFallback
// Any other type is refused at load time with bigbird::Error naming it, e.g.
//   "<dir>/tokenizer.json: pre_tokenizer type \"Digits\" is not supported".
#pragma once
#include <memory>

#include "text/tokenizer_impl.h"

namespace bigbird::detail {

// `files.dir` holds tokenizer.json; files.config / files.special_map give the special-token roles
// (PreTrainedTokenizerFast has no class defaults) and model_max_length.
std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const TokenizerFiles& files);

}  // namespace bigbird::detail
