// The tokenizer's own files (text/tokenizer_load.cpp): tokenizer_config.json,
// special_tokens_map.json and config.json beside the shipped tiny-mlm spiece.model. The input is
// the three files separated by 0 bytes (a file missing from the input is absent). A tokenizer
// that loads must then encode and decode text with its special tokens in it.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "text/tokenizer.h"

using namespace bigbird;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::copy_file(fuzz::source_path("models/tiny-mlm/spiece.model"), fuzz::scratch_dir() + "/spiece.model",
                             std::filesystem::copy_options::overwrite_existing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = fuzz::scratch_dir();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json", "config.json"}) {
    const std::string path = dir + "/" + name;
    if (in.data() == nullptr) {
      std::remove(path.c_str());
      continue;
    }
    const size_t cut = in.find('\0');
    fuzz::write_file(path, in.substr(0, cut));
    in = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
  }
  fuzz::accepts([&] {
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(dir);
    FUZZ_CHECK(tok->vocab_size() > 0 && tok->model_max_length() >= 0);
    std::string text = "Paris is the capital of France.";
    for (const std::string& s : tok->all_special_tokens()) text += " " + s + "x";
    EncodeOptions o;
    o.max_length = 24;
    const Encoding e = tok->encode(text, std::string_view("A pair."), o);
    const size_t n = e.input_ids.size();
    FUZZ_CHECK(e.tokens.size() == n && e.offsets.size() == n && e.sequence_ids.size() == n &&
               e.attention_mask.size() == n && e.token_type_ids.size() == n && e.special_tokens_mask.size() == n);
    for (int64_t id : e.input_ids) FUZZ_CHECK(id >= 0 && id < tok->vocab_size());
    tok->decode(e.input_ids, true);
    tok->decode(e.input_ids, false);
    for (int64_t id : tok->all_special_ids()) FUZZ_CHECK(id >= 0 && id < tok->vocab_size());
  });
  return 0;
}
