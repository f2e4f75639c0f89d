// Training checkpoints: `checkpoint-{step}/` as HF Trainer writes them, with this engine's file
// formats:
//
//   config.json, model.safetensors, tokenizer files   a model every command (and HF) loads
//   optimizer.safetensors                             AdamW state (exp_avg.<name>, exp_avg_sq.<name>,
//                                                     adamw.step.<name>)
//   trainer_state.json                                step, epoch, position in the epoch, tokens seen,
//                                                     the schedule, and what must match on resume
//
// Every random draw of a run (data order, MLM masks, random attention plans, dropout masks) is a
// function of (seed, epoch, example index, step): there is no generator state to save, and a
// resumed run continues bit-identically from (step, epoch, cursor) and the optimizer state.
//
// A checkpoint directory is written under a temporary name in the same parent and renamed into
// place, so a crash or Ctrl-C never leaves a half-written checkpoint-{step}.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace bigbird {
class BigBirdModel;
}

namespace bigbird::train {

class AdamW;

// Where the run stands after `step` optimizer updates.
struct TrainPosition {
  int64_t step = 0;    // optimizer updates done
  int64_t epoch = 0;   // epoch of the next batch
  int64_t cursor = 0;  // examples of that epoch's order already consumed
  double tokens = 0;   // non-padding tokens seen (all ranks)
};

// What a resumed run must share with the run that wrote the checkpoint for a bit-identical
// continuation; compared field by field on resume.
struct RunIdentity {
  std::string task;
  uint64_t seed = 0;
  int64_t global_batch_size = 0;  // per-device batch size x processes
  int64_t gradient_accumulation_steps = 1;
  int64_t num_examples = 0;
  int64_t max_seq_length = 0;
};

struct TrainerState {
  TrainPosition position;
  RunIdentity identity;
  nlohmann::json extra = nlohmann::json::object();  // schedule, log history: informative
};

nlohmann::json to_json(const TrainerState& s);
// Throws bigbird::Error naming `what` (the file) on a missing or mistyped field.
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& what);

// Throws bigbird::Error naming the first field that differs (resuming across a change would not
// continue the run).
void check_same_run(const RunIdentity& checkpoint, const RunIdentity& now, const std::string& checkpoint_dir);

// Writes `dir` (e.g. OUT/checkpoint-500) whole: a temporary directory next to it, then a rename
// (an existing `dir` is replaced). tokenizer_dir: where the tokenizer files are copied from.
void save_checkpoint(const std::string& dir, const BigBirdModel& model, const std::string& source_config_json,
                     const std::string& tokenizer_dir, const AdamW& optimizer, const TrainerState& state);

struct LoadedCheckpoint {
  TrainerState state;
  std::string dir;  // holds config.json and model.safetensors (load the model from it)
};
// Reads trainer_state.json and checks that the model and optimizer files are there; the optimizer
// state is loaded by load_optimizer_state once the parameters exist.
LoadedCheckpoint read_checkpoint(const std::string& dir);
void load_optimizer_state(const std::string& dir, AdamW& optimizer);

// Copies the tokenizer files a model directory may hold (spiece.model, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, vocab files) from `from` into `to`, each
// written to a temporary name and renamed.
void copy_tokenizer_files(const std::string& from, const std::string& to);

// Throws bigbird::Error unless `dir` exists as a writable directory or could be created (its
// nearest existing ancestor is a writable directory). Creates nothing.
void check_output_dir(const std::string& dir);

}  // namespace bigbird::train
