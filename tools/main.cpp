// The `bigbird` command-line tool: dispatches to one subcommand per file (cmd_*.cpp).
// Every error, a bad flag included, becomes one line `error: <message>` on stderr and exit
// status 1 (`--help` exits 0). SIGINT/SIGTERM/SIGHUP remove the temporary file of an output being
// written (core/temp_files.h) and end the process by the signal.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "commands.h"
#include "core/error.h"
#include "core/temp_files.h"
#include "kernels/blas_core.h"

int main(int argc, char** argv) {
  bigbird::ensure_blas_core(argv);  // OpenBLAS's AVX2/AVX-512 kernels on CPUs newer than it
  bigbird::install_temp_file_cleanup();
  CLI::App app{"bigbird: BigBird sparse-attention transformers on CPU"};
  app.require_subcommand(1);
  std::map<CLI::App*, bigbird::cli::Runner> runners;
  auto add = [&](const char* name, const char* help, auto adder) {
    CLI::App* sub = app.add_subcommand(name, help);
    runners[sub] = adder(*sub);
  };
  add("forward", "run a checkpoint on input tensors and write every output tensor (golden-file runner)",
      bigbird::cli::add_forward);
  add("grad", "the loss of a labelled batch and every parameter's gradient (HF names), as PyTorch's backward",
      bigbird::cli::add_grad);
  add("train", "train a checkpoint: HF Trainer's AdamW, clipping, schedules and decay groups", bigbird::cli::add_train);
  add("bench", "time and memory benchmark on random weights or a checkpoint", bigbird::cli::add_bench);
  add("compare", "max |difference| per tensor between two safetensors files", bigbird::cli::add_compare);
  add("generate", "summarize: greedy or beam-search generation with a BigBirdPegasus checkpoint (HF generate())",
      bigbird::cli::add_generate);
  add("fill-mask", "fill each [MASK] of a text: top-k tokens as HF's fill-mask pipeline", bigbird::cli::add_fill_mask);
  add("classify", "classify a text or a text pair: every label with its score, as HF's text-classification pipeline",
      bigbird::cli::add_classify);
  add("qa",
      "answer a question from a context: spans with scores and character offsets, as HF's question-answering pipeline",
      bigbird::cli::add_qa);
  add("tag",
      "label the tokens of a text, grouped into entities with character spans (HF's token-classification pipeline)",
      bigbird::cli::add_tag);
  add("score", "a masked LM's pseudo-log-likelihood of a text or of each --fasta window, and bits per base",
      bigbird::cli::add_score);
  add("tokenizer-train", "train a DNA or text tokenizer: BPE tokenizer.json, SentencePiece, or one token per base",
      bigbird::cli::add_tokenizer_train);
  add("embed", "one vector per input (mean, cls or pooler pooling), as JSON or .npy", bigbird::cli::add_embed);
  add("tokenize", "ids, tokens and character offsets of a text (or pair), as HF's tokenizer call",
      bigbird::cli::add_tokenize);
  add("summarize", "summarize a text with a BigBird-Pegasus checkpoint, as HF's summarization pipeline",
      bigbird::cli::add_summarize);
  add("convert", "write a checkpoint (pytorch_model.bin, sharded or not) as model.safetensors in a new directory",
      bigbird::cli::add_convert);
  add("serve", "HTTP server: text-embeddings-inference and OpenAI routes and the tasks, with dynamic batching",
      bigbird::cli::add_serve);
  add("attention", "attention maps without an n x n matrix: block-level mass per layer and head, bertviz maps, a PNG",
      bigbird::cli::add_attention);
  add("bench-decode", "decoding benchmark: tokens/s of greedy and beam search, step time early vs late",
      bigbird::cli::add_bench_decode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One convention for every command: one line `error: ...`, exit status 1.
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    return 1;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const bigbird::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
