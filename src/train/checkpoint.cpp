#include "train/checkpoint.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "train/optimizer.h"

namespace bigbird::train {

namespace fs = std::filesystem;

namespace {

const char* const kTokenizerFiles[] = {
    "spiece.model", "tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json",
    "vocab.txt",    "added_tokens.json"};

std::string read_all(const fs::path& p) { return read_file_bytes(p.string()); }

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& what) {
  BB_CHECK(j.contains(key), what, ": no \"", key, "\"");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(what, ": \"", key, "\" has the wrong type");
  }
}

}  // namespace

nlohmann::json to_json(const TrainerState& s) {
  nlohmann::json j = s.extra.is_object() ? s.extra : nlohmann::json::object();
  j["global_step"] = s.position.step;
  j["epoch_index"] = s.position.epoch;
  j["examples_into_epoch"] = s.position.cursor;
  j["tokens_seen"] = s.position.tokens;
  j["run"] = {{"task", s.identity.task},
              {"seed", s.identity.seed},
              {"global_batch_size", s.identity.global_batch_size},
              {"gradient_accumulation_steps", s.identity.gradient_accumulation_steps},
              {"num_examples", s.identity.num_examples},
              {"max_seq_length", s.identity.max_seq_length}};
  j["random_state"] =
      "none to save: data order, MLM masks, random attention plans and dropout masks are functions of "
      "(seed, epoch, example index, step)";
  return j;
}

TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& what) {
  BB_CHECK(j.is_object(), what, ": not a JSON object");
  TrainerState s;
  s.position.step = field<int64_t>(j, "global_step", what);
  s.position.epoch = field<int64_t>(j, "epoch_index", what);
  s.position.cursor = field<int64_t>(j, "examples_into_epoch", what);
  s.position.tokens = field<double>(j, "tokens_seen", what);
  BB_CHECK(s.position.step >= 0 && s.position.epoch >= 0 && s.position.cursor >= 0, what,
           ": negative step, epoch or position");
  BB_CHECK(j.contains("run") && j["run"].is_object(), what, ": no \"run\" object");
  const nlohmann::json& r = j["run"];
  s.identity.task = field<std::string>(r, "task", what);
  s.identity.seed = field<uint64_t>(r, "seed", what);
  s.identity.global_batch_size = field<int64_t>(r, "global_batch_size", what);
  s.identity.gradient_accumulation_steps = field<int64_t>(r, "gradient_accumulation_steps", what);
  s.identity.num_examples = field<int64_t>(r, "num_examples", what);
  s.identity.max_seq_length = field<int64_t>(r, "max_seq_length", what);
  s.extra = j;
  return s;
}

void check_same_run(const RunIdentity& c, const RunIdentity& n, const std::string& dir) {
  auto same = [&](const char* what, const auto& was, const auto& now) {
    BB_CHECK(was == now, "--resume-from-checkpoint '", dir, "': it was written with ", what, " ", was,
             ", this run has ", now,
             " (a resumed run must repeat the original's settings; to start a new run from its weights, pass it "
             "as --model)");
  };
  same("--task", c.task, n.task);
  same("--seed", c.seed, n.seed);
  same("a global batch size (per-device batch size x processes) of", c.global_batch_size, n.global_batch_size);
  same("--gradient-accumulation-steps", c.gradient_accumulation_steps, n.gradient_accumulation_steps);
  same("a training set of (examples)", c.num_examples, n.num_examples);
  same("--max-seq-length", c.max_seq_length, n.max_seq_length);
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* f : kTokenizerFiles) {
    const fs::path src = fs::path(from) / f;
    if (!fs::is_regular_file(src)) continue;
    write_file_atomically((fs::path(to) / f).string(), read_all(src));
  }
}

void save_checkpoint(const std::string& dir, const BigBirdModel& model, const std::string& source_config_json,
                     const std::string& tokenizer_dir, const AdamW& optimizer, const TrainerState& state) {
  const fs::path target(dir);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  BB_CHECK(!ec, "cannot create '", parent.string(), "': ", ec.message());
  std::string pattern = parent.string();  // appended piece by piece: GCC 12 flags a concatenation (-Wrestrict)
  pattern += "/.";
  pattern += target.filename().string();
  pattern += ".tmp.XXXXXX";
  BB_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a directory in '", parent.string(),
           "': ", std::strerror(errno));
  const fs::path tmp(pattern);
  try {
    model.save(tmp.string(), source_config_json);
    copy_tokenizer_files(tokenizer_dir, tmp.string());
    write_safetensors((tmp / "optimizer.safetensors").string(), optimizer.state_tensors(), {{"format", "bigbird"}});
    write_file_atomically((tmp / "trainer_state.json").string(), to_json(state).dump(2) + "\n");
    if (fs::exists(target)) fs::remove_all(target);
    fs::rename(tmp, target);
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    fail("cannot write checkpoint '", dir, "': ", e.what());
  }
}

LoadedCheckpoint read_checkpoint(const std::string& dir) {
  BB_CHECK(fs::is_directory(dir), "--resume-from-checkpoint: '", dir, "' is not a directory");
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"})
    BB_CHECK(fs::is_regular_file(fs::path(dir) / f), "--resume-from-checkpoint: '", dir, "' has no ", f,
             " (not a checkpoint-{step} directory written by bigbird train)");
  const fs::path state = fs::path(dir) / "trainer_state.json";
  const nlohmann::json j = nlohmann::json::parse(read_all(state), nullptr, false);
  BB_CHECK(!j.is_discarded(), "'", state.string(), "' is not valid JSON");
  return {trainer_state_from_json(j, state.string()), dir};
}

void load_optimizer_state(const std::string& dir, AdamW& optimizer) {
  const std::string path = (fs::path(dir) / "optimizer.safetensors").string();
  try {
    optimizer.load_state(SafeTensors::open(path));
  } catch (const Error& e) {
    fail("'", path, "': ", e.what());
  }
}

void check_output_dir(const std::string& dir) {
  fs::path p = fs::absolute(fs::path(dir));
  std::error_code ec;
  while (!fs::exists(p, ec)) {
    BB_CHECK(p.has_parent_path() && p.parent_path() != p, "--output-dir '", dir, "': no existing parent");
    p = p.parent_path();
  }
  BB_CHECK(fs::is_directory(p, ec), "--output-dir '", dir, "': '", p.string(), "' is not a directory");
  BB_CHECK(::access(p.c_str(), W_OK | X_OK) == 0, "--output-dir '", dir, "': '", p.string(),
           "' is not writable: ", std::strerror(errno));
}

}  // namespace bigbird::train
