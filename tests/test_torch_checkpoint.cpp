// PyTorch checkpoints (core/torch_checkpoint.h, core/torch_pickle.h) and `bigbird convert`.
// The files of tests/data/torch/ come from scripts/make_torch_checkpoints.py (PyTorch 1.13): one
// micro BigBirdForPreTraining whose every weight is k/128 or 1 + k/128, exact in float16 and
// bfloat16, so every format (fp16/bf16 included) must give the float32 reference bit for bit:
// the tolerance of every comparison here is zero.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/torch_checkpoint.h"
#include "core/torch_pickle.h"
#include "core/weight_store.h"
#include "test_util.h"

namespace bigbird::test {
namespace {

namespace fs = std::filesystem;

const std::string kDir = data_path("torch");
const std::string kRefDir = kDir + "/model";
constexpr const char* kPwned = "/tmp/bigbird_torch_pwned";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64; }

// Every tensor of the reference equals the checkpoint's, bit for bit, and the names agree.
void expect_equals_reference(const TorchCheckpoint& c, DType float_dtype) {
  const SafeTensors ref = SafeTensors::open(kRefDir + "/model.safetensors");
  const auto names = c.names(), ref_names = ref.names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            std::set<std::string>(ref_names.begin(), ref_names.end()));
  for (const auto& n : ref.names()) {
    SCOPED_TRACE(c.path() + ": " + n);
    ASSERT_TRUE(c.has(n));
    const auto& e = c.entry(n);
    EXPECT_EQ(e.shape, ref.entry(n).shape);
    if (ref.entry(n).dtype == DType::I64) {
      EXPECT_EQ(e.dtype, DType::I64);
      EXPECT_EQ(c.read_i64(n).data, ref.read_i64(n).data);
      continue;
    }
    EXPECT_EQ(e.dtype, float_dtype);
    const Tensor got = c.read_f32(n), want = ref.read_f32(n);
    ASSERT_EQ(got.data.size(), want.data.size());
    EXPECT_EQ(std::memcmp(got.ptr(), want.ptr(), 4 * want.data.size()), 0);
  }
}

TEST(TorchCheckpoint, EveryFormatEqualsTheSafetensorsReference) {
  const std::pair<const char*, DType> files[] = {
      {"zip_f32.bin", DType::F32},    {"legacy_f32.bin", DType::F32}, {"zip_f16.bin", DType::F16},
      {"zip_bf16.bin", DType::BF16},  {"legacy_f16.bin", DType::F16}, {"tied.bin", DType::F32},
      {"tied_legacy.bin", DType::F32},
  };
  for (const auto& [f, dtype] : files) expect_equals_reference(TorchCheckpoint::open(kDir + "/" + f), dtype);
}

TEST(TorchCheckpoint, TiedWeightsShareOneStorageWithOffsetsAndStrides) {
  for (const char* f : {"tied.bin", "tied_legacy.bin"}) {
    SCOPED_TRACE(f);
    const TorchCheckpoint c = TorchCheckpoint::open(kDir + "/" + f);
    EXPECT_EQ(c.entry("cls.predictions.decoder.weight").storage,
              c.entry("bert.embeddings.word_embeddings.weight").storage);
    EXPECT_EQ(c.entry("cls.predictions.decoder.bias").storage, c.entry("cls.predictions.bias").storage);
    EXPECT_EQ(c.entry("bert.embeddings.LayerNorm.weight").storage, c.entry("bert.embeddings.LayerNorm.bias").storage);
    EXPECT_EQ(c.entry("bert.embeddings.LayerNorm.weight").offset, 0);
    EXPECT_EQ(c.entry("bert.embeddings.LayerNorm.bias").offset, 16);
    EXPECT_FALSE(c.entry("bert.pooler.weight").contiguous());  // a transpose: gathered in row-major order
    EXPECT_EQ(c.entry("bert.pooler.weight").stride, (std::vector<int64_t>{1, 16}));
  }
}

TEST(TorchCheckpoint, InMemoryParseForFuzzing) {
  const std::string bytes = slurp(kDir + "/zip_f32.bin");
  EXPECT_EQ(check_torch_checkpoint_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
            SafeTensors::open(kRefDir + "/model.safetensors").names().size());
  EXPECT_NE(error_of([] { check_torch_checkpoint_bytes(nullptr, 0); }).find("not a PyTorch checkpoint"),
            std::string::npos);
}

// A directory with the reference's config.json and `weights` as pytorch_model.bin.
std::string bin_dir(const TempDir& dir, const std::string& sub, const std::string& weights) {
  fs::create_directories(dir.path / sub);
  fs::copy_file(kRefDir + "/config.json", dir.path / sub / "config.json");
  fs::copy_file(kDir + "/" + weights, dir.path / sub / "pytorch_model.bin");
  return dir.file(sub);
}

TEST(TorchCheckpoint, WeightStoreShardedAndPreference) {
  const SafeTensors ref = SafeTensors::open(kRefDir + "/model.safetensors");
  WeightStore sharded = WeightStore::open_dir(kDir + "/sharded");
  EXPECT_NE(sharded.source().find("pytorch_model.bin.index.json"), std::string::npos);
  for (const auto& n : ref.names()) {
    if (!is_float(ref.entry(n).dtype)) continue;
    const Tensor want = ref.read_f32(n);
    const ConstView got = sharded.get(n, want.shape);
    EXPECT_EQ(std::memcmp(got.data, want.ptr(), 4 * want.data.size()), 0) << n;
  }
  EXPECT_NE(error_of([&] { sharded.get("bert.pooler.weight", {3, 3}); }).find("has shape [16, 16], expected [3, 3]"),
            std::string::npos);
  // model.safetensors wins over pytorch_model.bin (as in HF): the hostile .bin is never read.
  TempDir dir;
  const std::string both = bin_dir(dir, "both", "hostile.bin");
  fs::copy_file(kRefDir + "/model.safetensors", fs::path(both) / "model.safetensors");
  EXPECT_NE(WeightStore::open_dir(both).source().find("model.safetensors"), std::string::npos);
  const std::string bin = bin_dir(dir, "bin", "legacy_f32.bin");
  EXPECT_NE(WeightStore::open_dir(bin).source().find("pytorch_model.bin"), std::string::npos);
  fs::create_directories(dir.path / "none");
  EXPECT_NE(error_of([&] { WeightStore::open_dir(dir.file("none")); }).find("no model.safetensors"),
            std::string::npos);
}

TEST(TorchCheckpoint, HostilePicklesAreRefusedAndNeverRun) {
  fs::remove(kPwned);
  const std::pair<const char*, const char*> files[] = {
      {"hostile.bin", "'posix.system'"}, {"hostile_legacy.bin", "'posix.system'"}, {"hostile_eval.bin", "'__builtin__.eval'"}};
  for (const auto& [f, global] : files) {
    const std::string err = error_of([&] { TorchCheckpoint::open(kDir + "/" + f); });
    EXPECT_NE(err.find(global), std::string::npos) << err;
    EXPECT_NE(err.find("refused (nothing was executed)"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  // The CLI: one error line, exit status 1, and the payload's file never appears.
  TempDir dir;
  const std::string model = bin_dir(dir, "m", "hostile.bin");
  const RunResult r = run_cli("convert --model " + model + " --output " + dir.file("out"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("posix.system"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(kPwned));
  EXPECT_FALSE(fs::exists(dir.file("out")));
}

TEST(TorchCheckpoint, TruncatedFilesGiveClearErrors) {
  EXPECT_NE(error_of([] { TorchCheckpoint::open(kDir + "/truncated.bin"); }).find("truncated"), std::string::npos);
  // Every shorter prefix of each format is refused with a bigbird::Error (never a crash): the
  // zip's central directory is at its end, and the legacy format's storages are checked in full.
  for (const char* f : {"zip_f32.bin", "legacy_f32.bin", "tied_legacy.bin", "zip_bf16.bin"}) {
    const std::string bytes = slurp(kDir + "/" + f);
    std::vector<size_t> cuts;
    for (size_t n = 0; n < bytes.size(); n += bytes.size() / 150 + 1) cuts.push_back(n);
    for (size_t n = bytes.size() > 80 ? bytes.size() - 80 : 0; n < bytes.size(); ++n) cuts.push_back(n);
    for (size_t n : cuts) {
      const std::string err = error_of([&] {
        TorchCheckpoint::parse(reinterpret_cast<const uint8_t*>(bytes.data()), n, f);
      });
      EXPECT_NE(err, "(no error)") << f << " cut at " << n;
    }
  }
}

TEST(TorchCheckpoint, CorruptFilesNeverCrash) {
  // Random byte changes: each must load (a changed value) or throw bigbird::Error; anything else
  // (another exception, a crash, a sanitizer report) fails.
  std::mt19937 rng(7);
  for (const char* f : {"zip_f32.bin", "legacy_f32.bin", "tied.bin"}) {
    const std::string orig = slurp(kDir + "/" + f);
    for (int trial = 0; trial < 400; ++trial) {
      std::string b = orig;
      const int changes = 1 + trial % 4;
      for (int k = 0; k < changes; ++k) b[rng() % b.size()] = static_cast<char>(rng());
      try {
        check_torch_checkpoint_bytes(reinterpret_cast<const uint8_t*>(b.data()), b.size());
      } catch (const Error&) {
      }
    }
  }
  // A compressed entry, and a file that is neither format.
  std::string zip = slurp(kDir + "/zip_f32.bin");
  const size_t cd = zip.rfind(std::string("PK\x01\x02", 4));
  zip[cd + 10] = 8;  // the last entry's method: deflate
  EXPECT_NE(error_of([&] { TorchCheckpoint::parse(reinterpret_cast<const uint8_t*>(zip.data()), zip.size(), "z"); })
                .find("is compressed"),
            std::string::npos);
  const std::string junk = "not a checkpoint";
  EXPECT_NE(error_of([&] { TorchCheckpoint::parse(reinterpret_cast<const uint8_t*>(junk.data()), junk.size(), "j"); })
                .find("not a PyTorch checkpoint"),
            std::string::npos);
}

// A literal's bytes, NULs included.
template <size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string pickle_error(const std::string& p) {
  return error_of([&] { pickle::load(reinterpret_cast<const uint8_t*>(p.data()), p.size(), "p"); });
}

TEST(TorchPickle, RefusesWhatTorchSaveNeverWrites) {
  EXPECT_NE(pickle_error(lit("\x80\x02" "cos\nsystem\n" "X\x01\x00\x00\x00x\x85R.")).find("'os.system'"),
            std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02\x8c\x08" "builtins\x8c\x04" "eval\x93.").find("'builtins.eval'"),
            std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02(i__main__\nX\n.").find("opcode 0x69"), std::string::npos);  // INST
  EXPECT_NE(pickle_error("\x80\x02h\x05.").find("memo index 5"), std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02X\xff\xff\xff\x7f").find("truncated"), std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02N").find("truncated"), std::string::npos);
  EXPECT_NE(pickle_error(std::string("\x80\x02") + std::string(70000, '(')).find("nested MARKs"), std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02t.").find("no MARK"), std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02R.").find("stack underflow"), std::string::npos);
  // A storage type is not callable, and OrderedDict takes no arguments.
  EXPECT_NE(pickle_error("\x80\x02" "ctorch\nFloatStorage\n)R.").find("not callable"), std::string::npos);
  EXPECT_NE(pickle_error("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.").find("OrderedDict with arguments"),
            std::string::npos);
  // What it accepts: an OrderedDict of ints, through the memo.
  const std::string ok = lit("\x80\x02" "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00" "aK\x07u.");
  const pickle::Document d = pickle::load(reinterpret_cast<const uint8_t*>(ok.data()), ok.size(), "ok");
  ASSERT_EQ(d.root->kind, pickle::Value::Kind::Dict);
  ASSERT_EQ(d.root->dict.size(), 1u);
  EXPECT_EQ(d.root->dict[0].second->i, 7);
  EXPECT_EQ(d.consumed, ok.size());
}

// `bigbird forward` on a directory, the outputs' tensors by name.
std::map<std::string, std::vector<uint8_t>> forward(const TempDir& dir, const std::string& model, const std::string& tag) {
  const std::string in = dir.file("in.safetensors");
  if (!fs::exists(in)) {
    std::vector<int64_t> ids(2 * 64);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 37 + 5) % 128);
    write_safetensors(in, {OutTensor::i64("input_ids", {2, 64}, ids.data())});
  }
  const std::string out = dir.file(tag + ".out.safetensors");
  const RunResult r = run_cli("forward --model " + model + " --inputs " + in + " --outputs " + out + " --threads 1");
  EXPECT_EQ(r.status, 0) << r.output;
  std::map<std::string, std::vector<uint8_t>> t;
  if (r.status != 0) return t;
  const SafeTensors st = SafeTensors::open(out);
  for (const auto& n : st.names()) {
    const auto& e = st.entry(n);
    t[n].assign(st.bytes(e), st.bytes(e) + (e.end - e.begin));
  }
  return t;
}

TEST(TorchCheckpointCli, ForwardFromBinEqualsForwardFromSafetensors) {
  TempDir dir;
  const auto want = forward(dir, kRefDir, "ref");
  ASSERT_FALSE(want.empty());
  for (const char* f : {"zip_f32.bin", "legacy_f32.bin", "zip_bf16.bin", "tied.bin"}) {
    const auto got = forward(dir, bin_dir(dir, f, f), f);
    EXPECT_TRUE(got == want) << f;  // the same weights: the same bits
  }
  // sharded, with its config beside the shards
  fs::copy(kDir + "/sharded", dir.path / "sharded");
  fs::copy_file(kRefDir + "/config.json", dir.path / "sharded" / "config.json");
  EXPECT_TRUE(forward(dir, dir.file("sharded"), "sharded") == want);
}

TEST(TorchCheckpointCli, ConvertRoundTrip) {
  TempDir dir;
  const auto want = forward(dir, kRefDir, "ref");
  const std::string model = bin_dir(dir, "bin", "tied_legacy.bin");
  const RunResult r = run_cli("convert --model " + model + " --output " + dir.file("conv"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(dir.file("conv/config.json")), slurp(kRefDir + "/config.json"));
  EXPECT_FALSE(fs::exists(dir.file("conv/pytorch_model.bin")));
  // The same tensors (names, shapes, values) as the reference safetensors.
  const SafeTensors ref = SafeTensors::open(kRefDir + "/model.safetensors");
  const SafeTensors conv = SafeTensors::open(dir.file("conv/model.safetensors"));
  EXPECT_EQ(conv.names(), ref.names());
  for (const auto& n : ref.names()) {
    EXPECT_EQ(conv.entry(n).dtype, ref.entry(n).dtype) << n;
    EXPECT_EQ(conv.entry(n).shape, ref.entry(n).shape) << n;
    const auto& a = conv.entry(n);
    const auto& b = ref.entry(n);
    ASSERT_EQ(a.end - a.begin, b.end - b.begin) << n;
    EXPECT_EQ(std::memcmp(conv.bytes(a), ref.bytes(b), a.end - a.begin), 0) << n;
  }
  EXPECT_TRUE(forward(dir, dir.file("conv"), "conv") == want);
  // The sharded checkpoint converts too; an empty existing directory may be the output.
  fs::copy(kDir + "/sharded", dir.path / "sharded");
  fs::copy_file(kRefDir + "/config.json", dir.path / "sharded" / "config.json");
  fs::create_directories(dir.path / "empty");
  ASSERT_EQ(run_cli("convert --model " + dir.file("sharded") + " --output " + dir.file("empty")).status, 0);
  EXPECT_TRUE(forward(dir, dir.file("empty"), "conv2") == want);
}

TEST(TorchCheckpointCli, ConvertErrors) {
  TempDir dir;
  const std::string model = bin_dir(dir, "bin", "zip_f32.bin");
  auto expect_error = [&](const std::string& args, const std::string& msg) {
    const RunResult r = run_cli("convert " + args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(msg), std::string::npos) << r.output;
  };
  expect_error("--model " + model + " --output " + model, "is the --model directory");
  expect_error("--model " + model + " --output " + model + "/../bin", "is the --model directory");
  expect_error("--model " + model + " --output " + dir.file("bin/../bin/"), "is the --model directory");
  fs::create_directories(dir.path / "full");
  std::ofstream(dir.file("full/keep.txt")) << "x";
  expect_error("--model " + model + " --output " + dir.file("full"), "already exists");
  EXPECT_EQ(slurp(dir.file("full/keep.txt")), "x");
  expect_error("--model " + dir.file("nope") + " --output " + dir.file("o"), "is not a directory");
  expect_error("--model " + model + " --output " + dir.file("no/such/o"), "does not exist");
  fs::create_directories(dir.path / "noconfig");
  fs::copy_file(kDir + "/zip_f32.bin", dir.path / "noconfig" / "pytorch_model.bin");
  expect_error("--model " + dir.file("noconfig") + " --output " + dir.file("o"), "no config.json");
  const std::string trunc = bin_dir(dir, "trunc", "truncated.bin");
  expect_error("--model " + trunc + " --output " + dir.file("o"), "truncated");
  expect_error("--model " + model, "--output is required");
  // Nothing half-written: no output and no temporary directory left beside it.
  EXPECT_FALSE(fs::exists(dir.file("o")));
  for (const auto& e : fs::directory_iterator(dir.path))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace bigbird::test
