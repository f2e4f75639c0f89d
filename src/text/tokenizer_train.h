// Training a tokenizer from DNA (FASTA) or text, as the BigBird paper built its DNA vocabulary:
//  - "bpe": an HF tokenizer.json with GENA-LM's component types: normalizer Sequence[Strip,
//    Replace(N{10,} -> "-")], pre-tokenizer Split("-+", Isolated), a BPE model (fuse_unk, [UNK]),
//    TemplateProcessing ([CLS] A [SEP] / [CLS] A [SEP] B [SEP]) and a Fuse decoder. Text input
//    instead gets a Metaspace pre-tokenizer and decoder (words keep their "▁" space).
//  - "sentencepiece": spiece.model trained by SentencePiece itself (unigram or bpe), loaded as a
//    BigBirdTokenizer (<pad> </s> <s> <unk> [SEP] [CLS] [MASK]).
//  - "per-base": one token per base, HyenaDNA's and Caduceus's tokenisation: the BPE
//    tokenizer.json above without merges, its vocabulary the special tokens and the IUPAC codes.
// Each writes tokenizer_config.json and special_tokens_map.json beside it, every file atomically.
//
// The BPE learner takes the most frequent adjacent pair at each step (ties: the pair whose
// strings sort first), counting every occurrence of every piece (overlapping pairs included) and
// merging left to right, as HF tokenizers' BpeTrainer; it keeps the pieces as linked symbols with
// each pair's positions, so a step costs the pair's occurrences, not the corpus: a genome of
// megabases, one piece per record, trains in seconds.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bigbird {

struct TokenizerTrainOptions {
  std::string type = "bpe";                          // bpe | sentencepiece | per-base
  int64_t vocab_size = 4096;                         // bpe, sentencepiece (special tokens included)
  std::string sentencepiece_model_type = "unigram";  // unigram | bpe
  int64_t min_frequency = 2;                         // bpe: the least count a merge needs
  int64_t model_max_length = 512;                    // tokenizer_config.json
  int64_t max_chars = 0;                             // read at most this many bases / characters (0: all)
  std::vector<std::string> inputs;                   // FASTA (plain or gzip) or text files
  std::string output_dir;
};

struct TokenizerTrainReport {
  bool fasta = false;             // the inputs were FASTA
  int64_t chars = 0;              // bases / characters trained on
  int64_t vocab_size = 0;         // of the written tokenizer
  int64_t merges = 0;             // bpe
  double chars_per_token = 0;     // on (up to 1 M characters of) the training data
};

// Trains and writes the tokenizer; checks that it loads and encodes. Throws bigbird::Error on a bad
// option, an unreadable or empty input, or a directory that holds the other kind of tokenizer.
TokenizerTrainReport train_tokenizer(const TokenizerTrainOptions& options);

// The BPE learner: `pieces` (UTF-8 strings, each with a weight, e.g. how often a word occurs) over
// the single-character `alphabet` (every character of the pieces must be in it). Returns the
// merges in order, each (left, right); stops after `max_merges` distinct new tokens or when the
// best pair occurs fewer than `min_frequency` times.
std::vector<std::pair<std::string, std::string>> learn_bpe(const std::vector<std::pair<std::string, int64_t>>& pieces,
                                                           const std::vector<std::string>& alphabet,
                                                           int64_t max_merges, int64_t min_frequency);

}  // namespace bigbird
