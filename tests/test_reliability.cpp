// Reliability of the file handling every command shares: outputs written through temporary
// files created exclusively (never through a planted link), read errors reported (never taken as
// the end of an input), temporary files removed on SIGINT/SIGTERM/SIGHUP, and an output path that
// is an input refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <streambuf>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tasks/jsonl.h"
#include "tasks_test_util.h"
#include "test_util.h"

using namespace bigbird;
using namespace bigbird::test;
namespace fs = std::filesystem;

namespace {

// Every entry of a directory (hidden ones included), sorted.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A stream buffer that yields `good` and then fails as a disk or pipe does (libstdc++'s
// basic_filebuf throws from underflow on a read error; the istream turns that into badbit).
class FailingBuf : public std::streambuf {
 public:
  explicit FailingBuf(std::string good) : good_(std::move(good)) {
    setg(good_.data(), good_.data(), good_.data() + good_.size());
  }

 protected:
  int_type underflow() override { throw std::ios_base::failure("read error"); }

 private:
  std::string good_;
};

const std::string kMlm = data_path("../../models/tiny-mlm");

}  // namespace

// Item 3: the temporary file of an output was `<out>.tmp.<pid>`, opened with truncation: a link
// planted under that name redirected the write to its target. Now it is created exclusively under
// a fresh name, and the link and its target are left alone.
TEST(Reliability, TemporaryFilesNeverFollowAPlantedLink) {
  TempDir dir;
  const std::string victim = dir.file("victim.txt");
  write_file(victim, "precious");
  const std::string out = dir.file("out.safetensors");
  const std::string planted = out + ".tmp." + std::to_string(::getpid());
  fs::create_symlink(victim, planted);
  const float x[2] = {1, 2};
  write_safetensors(out, {OutTensor::f32("x", {2}, x)});
  EXPECT_EQ(read_file(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(planted));
  EXPECT_EQ(SafeTensors::open(out).read_f32("x").data, std::vector<float>({1, 2}));

  const std::string answers = dir.file("answers.jsonl");
  fs::create_symlink(victim, answers + ".tmp." + std::to_string(::getpid()));
  {
    tasks::OutputSink sink(answers);
    sink.stream() << "{}\n";
    sink.commit();
  }
  EXPECT_EQ(read_file(victim), "precious");
  EXPECT_EQ(read_file(answers), "{}\n");

  write_file_atomically(dir.file("plain.txt"), "new");
  EXPECT_EQ(read_file(dir.file("plain.txt")), "new");
  // Nothing else was created: no temporary file is left behind.
  EXPECT_EQ(
      entries(dir.path),
      (std::vector<std::string>{"answers.jsonl", "answers.jsonl.tmp." + std::to_string(::getpid()), "out.safetensors",
                                "out.safetensors.tmp." + std::to_string(::getpid()), "plain.txt", "victim.txt"}));
  // An uncommitted output leaves nothing either.
  {
    tasks::OutputSink sink(dir.file("never.jsonl"));
    sink.stream() << "partial";
  }
  EXPECT_FALSE(fs::exists(dir.file("never.jsonl")));
  EXPECT_EQ(entries(dir.path).size(), 6u);
}

// Item 4: a failed getline was taken as the end of the input, so a read error ended a JSONL
// batch early with a successful exit. It is an error now, and nothing is written.
TEST(Reliability, AReadErrorIsNotTheEndOfAJsonlBatch) {
  FailingBuf buf("{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  std::istream in(&buf);
  std::ostringstream out;
  tasks::JsonLinesWriter writer(out);
  int prepared = 0;
  auto run = [&] {
    return tasks::drive_jsonl<int>(
        in, 16, "in.jsonl", false, writer,
        [&](const std::string&, int64_t) {
          ++prepared;
          return std::make_unique<int>(0);
        },
        [](std::vector<int*>&, int64_t, size_t) {}, [&](int&, int64_t) { writer.write(nlohmann::json::object()); },
        [](const std::string&) {}, [] {});
  };
  try {
    run();
    FAIL() << "a read error ended the batch silently";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read in.jsonl: read error after line 2"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(out.str(), "");

  // Whole-file readers report read errors too (reading /proc/self/mem at offset 0 fails with EIO).
  try {
    read_file_bytes("/proc/self/mem");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read '/proc/self/mem': "), std::string::npos) << e.what();
  }
  TempDir dir;
  auto r = run_cli("tokenize --model " + kMlm + " --input /proc/self/mem --output " + dir.file("o.jsonl"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: cannot read /proc/self/mem: read error", 0), 0u) << r.output;
  EXPECT_TRUE(entries(dir.path).empty());
}

// Item 5: SIGTERM or SIGHUP in the middle of a JSONL batch left its temporary file behind. The
// handler removes it, says which output was not written, and ends the process by the signal.
TEST(Reliability, SignalsRemoveTheTemporaryFileOfAnOutput) {
  for (const char* sig : {"TERM", "HUP"}) {
    TempDir dir;
    const std::string fifo = dir.file("in.fifo"), out = dir.file("out.jsonl");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // The batch reads one line, then waits on the FIFO with its output's temporary file open.
    const std::string script = "(printf '{\"text\": \"a b\"}\\n'; sleep 20) > " + sh(fifo) + " & w=$!; " +
                               std::string(BIGBIRD_EXE) + " tokenize --model " + sh(kMlm) + " --input " + sh(fifo) +
                               " --output " + sh(out) + " 2>" + sh(dir.file("err")) +
                               " & pid=$!; for i in $(seq 100); do ls -a " + sh(dir.path.string()) +
                               " | grep -q '^\\.out\\.jsonl\\.tmp' && break; sleep 0.1; done; kill -" + sig +
                               " $pid; wait $pid; echo status=$?; kill $w 2>/dev/null";
    FILE* p = popen(script.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char b[256];
    while (fgets(b, sizeof b, p)) output += b;
    pclose(p);
    const int expected = 128 + (std::string(sig) == "TERM" ? 15 : 1);
    EXPECT_NE(output.find("status=" + std::to_string(expected)), std::string::npos) << sig << ": " << output;
    const std::string err = read_file(dir.file("err"));
    EXPECT_EQ(err, "error: interrupted (SIG" + std::string(sig) + "): '" + out + "' not written\n") << err;
    EXPECT_EQ(entries(dir.path), (std::vector<std::string>{"err", "in.fifo"})) << sig;
  }
}

// Item 6: an output path that is an input (the same path, another spelling of it, or a link to
// it) destroyed the input. It is refused before any work, and the input is left as it was.
TEST(Reliability, AnOutputThatIsAnInputIsRefused) {
  TempDir dir;
  const std::string in = dir.file("a.jsonl"), text = dir.file("t.txt");
  write_file(in, "{\"text\": \"a b\"}\n");
  write_file(text, "a b");
  fs::create_symlink(in, dir.file("link.jsonl"));
  const std::string tensors = dir.file("x.safetensors");
  fs::copy_file(data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors"), tensors);
  const std::string model = dir.file("model");
  fs::copy(kMlm, model);
  auto refused = [&](const std::string& args, const std::string& needle) {
    auto r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  };
  const std::string tok = "tokenize --model " + sh(model);
  refused(tok + " --input " + sh(in) + " --output " + sh(in), "is the input file --input");
  refused(tok + " --input " + sh(in) + " --output " + sh(dir.file("./sub/../a.jsonl")), "is the input file --input");
  refused(tok + " --input " + sh(in) + " --output " + sh(dir.file("link.jsonl")), "is the input file --input");
  refused(tok + " --file " + sh(text) + " --output " + sh(text), "is the input file --file");
  refused("embed --model " + sh(model) + " --file " + sh(text) + " --output " + sh(text), "is the input file --file");
  refused("fill-mask --model " + sh(model) + " 'a [MASK]' --output " + sh(model + "/config.json"), "of the model");
  refused("forward --model " + sh(kPre) + " --inputs " + sh(tensors) + " --outputs " + sh(tensors),
          "is the input file --inputs");
  refused("grad --model " + sh(kPre) + " --inputs " + sh(tensors) + " --outputs " + sh(tensors),
          "is the input file --inputs");
  refused(
      "forward --model " + sh(model) + " --inputs " + sh(tensors) + " --outputs " + sh(model + "/model.safetensors"),
      "of the model");
  EXPECT_EQ(read_file(in), "{\"text\": \"a b\"}\n");
  EXPECT_EQ(read_file(text), "a b");
  EXPECT_EQ(read_file(tensors), read_file(data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors")));
  EXPECT_EQ(read_file(model + "/config.json"), read_file(kMlm + "/config.json"));
  // A different output still works.
  EXPECT_EQ(run_cli(tok + " --input " + sh(in) + " --output " + sh(dir.file("b.jsonl"))).status, 0);
}

// Item 8: lenient inputs. A zero-element attention_mask or token_type_ids was taken as absent;
// Pegasus's decoder_attention_mask was ignored whatever it held; `generate` took an empty
// decoder_input_ids as no prompt where `forward` refused it. Each is a clear error now.
TEST(Reliability, LenientTensorInputsAreRefused) {
  TempDir dir;
  const SafeTensors bb = SafeTensors::open(data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors"));
  const TensorI64 ids = bb.read_i64("input_ids");
  const int64_t none[1] = {0};
  auto bb_file = [&](const std::string& name, std::vector<OutTensor> extra) {
    std::vector<OutTensor> t{OutTensor::i64("input_ids", ids.shape, ids.data.data())};
    for (auto& e : extra) t.push_back(std::move(e));
    write_safetensors(dir.file(name), t);
    return dir.file(name);
  };
  auto refused = [&](const std::string& args, const std::string& needle) {
    auto r = run_cli(args + " --outputs " + sh(dir.file("out.safetensors")));
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
    EXPECT_FALSE(fs::exists(dir.file("out.safetensors")));
  };
  for (const char* name : {"attention_mask", "token_type_ids"}) {
    const std::string f = bb_file(std::string(name) + ".safetensors", {OutTensor::i64(name, {0}, none)});
    refused("forward --model " + sh(kPre) + " --inputs " + sh(f),
            std::string(name) + " has shape [0] but input_ids has [2, 256]");
    refused("grad --model " + sh(kPre) + " --inputs " + sh(f), std::string(name) + " has shape [0]");
  }

  const std::string peg = data_path("pegasus-tiny/model");
  const SafeTensors pc = SafeTensors::open(data_path("pegasus-tiny/case_enc100_b2_padrow1_fallback.safetensors"));
  const TensorI64 pids = pc.read_i64("input_ids"), dec = pc.read_i64("decoder_input_ids");
  auto peg_file = [&](const std::string& name, std::vector<OutTensor> extra) {
    std::vector<OutTensor> t{OutTensor::i64("input_ids", pids.shape, pids.data.data())};
    for (auto& e : extra) t.push_back(std::move(e));
    write_safetensors(dir.file(name), t);
    return dir.file(name);
  };
  const std::string empty_mask = peg_file("pm.safetensors", {OutTensor::i64("attention_mask", {0}, none)});
  refused("forward --model " + sh(peg) + " --inputs " + sh(empty_mask), "attention_mask has shape [0]");
  refused("generate --model " + sh(peg) + " --inputs " + sh(empty_mask), "attention_mask has shape [0]");
  std::vector<int64_t> mask(dec.data.size(), 1);
  mask[3] = 2;
  const std::string two =
      peg_file("two.safetensors", {OutTensor::i64("decoder_input_ids", dec.shape, dec.data.data()),
                                   OutTensor::i64("decoder_attention_mask", dec.shape, mask.data())});
  refused("forward --model " + sh(peg) + " --inputs " + sh(two), "decoder_attention_mask[0, 3] = 2: must be 0 or 1");
  mask[3] = 0;
  const std::string zero =
      peg_file("zero.safetensors", {OutTensor::i64("decoder_input_ids", dec.shape, dec.data.data()),
                                    OutTensor::i64("decoder_attention_mask", dec.shape, mask.data())});
  refused("forward --model " + sh(peg) + " --inputs " + sh(zero), "padded decoder inputs are not supported");
  const std::string no_prompt =
      peg_file("np.safetensors", {OutTensor::i64("decoder_input_ids", {pids.dim(0), 0}, none)});
  refused("forward --model " + sh(peg) + " --inputs " + sh(no_prompt), "decoder_input_ids must be [2, length >= 1]");
  refused("generate --model " + sh(peg) + " --inputs " + sh(no_prompt), "decoder_input_ids must be [2, length >= 1]");
  // An all-ones decoder mask is the same as none.
  std::fill(mask.begin(), mask.end(), 1);
  const std::string ones =
      peg_file("ones.safetensors", {OutTensor::i64("decoder_input_ids", dec.shape, dec.data.data()),
                                    OutTensor::i64("decoder_attention_mask", dec.shape, mask.data())});
  EXPECT_EQ(
      run_cli("forward --model " + sh(peg) + " --inputs " + sh(ones) + " --outputs " + sh(dir.file("o.st"))).status, 0);
}

// Slow but not hung: `--num-beams 100000` ran for 38 s and `qa --doc-stride 1` for 36 s. Both are
// refused at once with the documented limits (kMaxNumBeams = 256; windows overlapping at most
// kMaxWindowOverlap = 64 times, i.e. --doc-stride >= --max-seq-len / 64).
TEST(Reliability, AbsurdBeamsAndStridesAreRefusedAtOnce) {
  auto refused = [&](const std::string& args, const std::string& needle) {
    auto r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
  };
  const std::string models = data_path("../../models");
  refused("summarize --model " + models + "/tiny-pegasus 'hello world' --num-beams 100000",
          "num_beams 100000 is more than the limit of 256");
  refused("generate --model " + data_path("pegasus-tiny/model") + " --inputs " +
              data_path("pegasus-tiny/generate_enc256_greedy.safetensors") +
              " --outputs /nonexistent/o --num-beams 257",
          "num_beams 257 is more than the limit of 256");
  const std::string qa = "qa --model " + kQa + " --tokenizer " + kTok + " --question 'Why?' --context " +
                         data_path("tasks/qa_context.txt");
  refused(qa + " --doc-stride 1", "--doc-stride 1 is too small for --max-seq-len 384");
  refused(qa + " --max-seq-len 128 --doc-stride 1", "use at least 2");
  EXPECT_EQ(run_cli(qa + " --doc-stride 6").status, 0);
  EXPECT_EQ(run_cli("summarize --model " + models + "/tiny-pegasus 'hello world' --num-beams 4").status, 0);
}
