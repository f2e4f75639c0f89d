// `bigbird convert --model DIR --output DIR2`: the checkpoint of DIR (pytorch_model.bin, its
// sharded index, or safetensors) as DIR2/model.safetensors (HF's tensor names; float tensors as
// float32, integer buffers as int64) with DIR's config and tokenizer files copied beside it.
// DIR2 is built in a temporary directory next to it and renamed into place when complete, so an
// error leaves nothing behind; DIR2 must not exist yet (or be an empty directory).
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "commands.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/weight_store.h"

namespace bigbird::cli {

namespace fs = std::filesystem;

namespace {

// The files HF keeps beside the weights that a converted directory needs (those present are copied).
constexpr const char* kCopiedFiles[] = {
    "config.json",           "generation_config.json", "tokenizer.json",       "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json",    "spiece.model",         "sentencepiece.bpe.model",
    "vocab.txt",             "vocab.json",             "merges.txt",
};

// A directory removed (with its contents) unless released.
struct TempDirGuard {
  fs::path path;
  ~TempDirGuard() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void convert(const std::string& model, const std::string& output) {
  std::error_code ec;
  BB_CHECK(fs::is_directory(model, ec), "--model '", model, "' is not a directory");
  BB_CHECK(fs::exists(fs::path(model) / "config.json", ec), "no config.json in '", model, "'");
  fs::path out = fs::path(output).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();  // "dir/"
  if (fs::exists(out, ec)) {
    BB_CHECK(!fs::equivalent(out, model, ec), "--output '", output, "' is the --model directory '", model,
             "': convert writes a new directory (choose another output path)");
    BB_CHECK(fs::is_directory(out, ec) && fs::is_empty(out, ec), "--output '", output,
             "' already exists: convert writes a new directory and never overwrites one");
  }
  BB_CHECK(!out.empty() && out.filename() != "." && out.filename() != "..", "--output '", output,
           "' must name a new directory");
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  BB_CHECK(fs::is_directory(parent, ec), "--output '", output, "': the directory '", parent.string(),
           "' does not exist");

  WeightStore ws = WeightStore::open_dir(model);
  std::vector<OutTensor> tensors;
  for (const auto& name : ws.names()) {
    if (ws.is_float(name))
      tensors.push_back(OutTensor::f32(name, ws.read_f32(name)));
    else
      tensors.push_back(OutTensor::i64(name, ws.read_i64(name)));
  }
  BB_CHECK(!tensors.empty(), "'", ws.source(), "' holds no tensors");

  std::string tmpl = (parent / ("." + out.filename().string() + ".tmp-XXXXXX")).string();
  BB_CHECK(::mkdtemp(tmpl.data()) != nullptr, "cannot create a temporary directory in '", parent.string(), "'");
  TempDirGuard tmp{tmpl};
  write_safetensors((tmp.path / "model.safetensors").string(), tensors, {{"format", "pt"}});
  for (const char* f : kCopiedFiles) {
    const fs::path src = fs::path(model) / f;
    if (!fs::exists(src, ec)) continue;
    fs::copy_file(src, tmp.path / f, ec);
    BB_CHECK(!ec, "cannot copy '", src.string(), "': ", ec.message());
  }
  fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec, ec);
  BB_CHECK(std::rename(tmp.path.c_str(), out.c_str()) == 0, "cannot create '", output, "': ",
           std::strerror(errno));
  tmp.path.clear();
  std::printf("converted %zu tensors of '%s' to '%s'\n", tensors.size(), ws.source().c_str(),
              (out / "model.safetensors").c_str());
}

}  // namespace

Runner add_convert(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  app.add_option("--model", *model,
                 "checkpoint directory: pytorch_model.bin (or pytorch_model.bin.index.json + shards) or safetensors, "
                 "with config.json and tokenizer files")
      ->required();
  app.add_option("--output", *output,
                 "new directory to write: model.safetensors plus the config and tokenizer files")
      ->required();
  return [model, output] {
    convert(*model, *output);
    return 0;
  };
}

}  // namespace bigbird::cli
