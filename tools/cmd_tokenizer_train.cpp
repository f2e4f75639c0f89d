// `bigbird tokenizer-train`: a BPE tokenizer.json, a SentencePiece model or a per-base tokenizer
// from FASTA or text files (src/text/tokenizer_train.h).
#include <cstdio>

#include "commands.h"
#include "text/tokenizer_train.h"

namespace bigbird::cli {

Runner add_tokenizer_train(CLI::App& app) {
  auto o = std::make_shared<TokenizerTrainOptions>();
  app.add_option("inputs", o->inputs, "FASTA files (plain or gzip) or text files (one sentence or document per line)");
  app.add_option("--type", o->type,
                 "bpe (default: an HF tokenizer.json with GENA-LM's components), sentencepiece (spiece.model) or "
                 "per-base (one token per IUPAC base, no merges)")
      ->check(CLI::IsMember({"bpe", "sentencepiece", "per-base"}));
  app.add_option("--vocab-size", o->vocab_size, "tokens, special tokens included (default 4096; bpe, sentencepiece)")
      ->check(CLI::PositiveNumber);
  app.add_option("--sentencepiece-model-type", o->sentencepiece_model_type, "unigram (default) or bpe")
      ->check(CLI::IsMember({"unigram", "bpe"}));
  app.add_option("--min-frequency", o->min_frequency, "bpe: the least count a merge needs (default 2)")
      ->check(CLI::PositiveNumber);
  app.add_option("--model-max-length", o->model_max_length, "tokenizer_config.json's model_max_length (default 512)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-chars", o->max_chars, "train on at most this many bases or characters (default: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--output-dir", o->output_dir, "where the tokenizer files go")->required();
  return [o] {
    const TokenizerTrainReport r = train_tokenizer(*o);
    std::printf("{\"output_dir\": \"%s\", \"type\": \"%s\", \"input\": \"%s\", \"characters\": %lld, \"vocab_size\": %lld, "
                "\"merges\": %lld, \"characters_per_token\": %.3f}\n",
                o->output_dir.c_str(), o->type.c_str(), r.fasta ? "fasta" : "text", static_cast<long long>(r.chars),
                static_cast<long long>(r.vocab_size), static_cast<long long>(r.merges), r.chars_per_token);
    return 0;
  };
}

}  // namespace bigbird::cli
