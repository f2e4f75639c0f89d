// Training-side optimisation: HF Trainer's weight-decay grouping, torch 1.13's clip_grad_norm_
// (norm type 2) and torch 1.13's AdamW (single-tensor, amsgrad False), bit-level as torch computes
// them on CPU in float32 (the operation order is the one the fixtures' README gives:
// /work/shared/fixtures/bigbird/README.md, "train_case_adamw_mlm").
//
// Every element-wise loop runs over fixed chunks of elements with parallel_for, so results are
// bit-identical for any thread count. The context is a trailing argument (one thread by default).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "core/threading.h"

namespace bigbird::train {

// One trainable tensor: HF name, data (updated in place), its gradient (nullptr: the parameter got
// no gradient this step: AdamW skips it entirely — no decay, no state, as torch does for .grad None),
// element count, and whether it decays. A tied parameter appears once (under its first name).
struct Param {
  std::string name;
  float* data = nullptr;
  const float* grad = nullptr;
  int64_t n = 0;
  bool decay = false;
};

// HF Trainer 4.27's rule: no weight decay for every parameter of a LayerNorm module and every
// name containing "bias". LayerNorm modules are recognised by name: the module (the name up to the
// last '.') whose last component contains "layernorm" or "layer_norm", case-insensitively
// (BigBird's `LayerNorm`, Pegasus's `self_attn_layer_norm`, `final_layer_norm`, `layer_norm`,
// `layernorm_embedding`).
bool hf_weight_decay(const std::string& name);

// torch 1.13 clip_grad_norm_(norm_type 2) over the gradients that exist (each tied parameter
// once): returns the total norm before clipping (as torch: rounded to float32) and multiplies every
// gradient by c = min(fl(fl(1/fl(total+fl(1e-6)))·max_norm), 1) (also when c = 1, an exact no-op).
// The norm is accumulated in double over fixed chunks (the same bits for any thread count).
// grads: (pointer, n) pairs, modified in place.
double clip_grad_norm(const std::vector<std::pair<float*, int64_t>>& grads, double max_norm,
                      const ThreadingContext& ctx = ThreadingContext::serial());

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// torch 1.13 AdamW (single-tensor, amsgrad False, maximize False). For each parameter with a
// gradient g, step t, λ = weight_decay if Param::decay else 0 (fl = round to float32):
//   θ = fl(θ · fl(1 − lr·λ))
//   m = fma(g, fl(1 − β1), fl(fl(β1) · m))
//   v = fma(fl(fl(1 − β2) · g), g, fl(fl(β2) · v))
//   d = fl(fl(sqrt(v) / fl(sqrt(bc2))) + fl(eps))          bc1 = 1 − β1^t, bc2 = 1 − β2^t (double)
//   θ = fl(θ + fl(fl(fl(−lr/bc1) · m) / d))
class AdamW {
 public:
  explicit AdamW(AdamWConfig cfg);

  // One update; state keyed by name, created on the first step of a parameter. Throws
  // bigbird::Error when a parameter's element count differs from its state's.
  void step(const std::vector<Param>& params, double lr, const ThreadingContext& ctx = ThreadingContext::serial());

  // Updates done on `name` (0: none yet / unknown).
  int64_t steps(const std::string& name) const;
  const AdamWConfig& config() const { return cfg_; }

  // State for checkpoints: exp_avg.<name>, exp_avg_sq.<name> (F32 [n]) and adamw.step.<name>
  // (I64 [1]). load_state replaces the whole state; it gives a bit-identical continuation.
  std::vector<OutTensor> state_tensors() const;
  // Throws bigbird::Error on missing or mismatched tensors (every adamw.step.<name> needs both
  // moments of equal element count, F32, and a step ≥ 1; moments without a step are an error).
  void load_state(const SafeTensors& st);

 private:
  struct State {
    std::vector<float> exp_avg, exp_avg_sq;
    int64_t step = 0;
  };
  AdamWConfig cfg_;
  std::map<std::string, State> state_;
};

}  // namespace bigbird::train
