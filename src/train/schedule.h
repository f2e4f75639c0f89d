// Learning-rate schedules of HF transformers 4.27 (`get_scheduler`, optimization.py), as the
// multipliers its LambdaLR applies to the base learning rate.
#pragma once
#include <cstdint>
#include <string>

namespace bigbird::train {

enum class LrSchedule { Constant, ConstantWithWarmup, Linear, Cosine, CosineWithRestarts, Polynomial };

// HF names: "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
// "polynomial"; an unknown name throws bigbird::Error listing the valid ones.
LrSchedule parse_lr_schedule(const std::string& name);
const char* lr_schedule_name(LrSchedule s);

// lr at optimizer step `step` (0-based: the lr used for the (step+1)-th update, as LambdaLR after
// `step` scheduler.step() calls). HF's formulas with their defaults: cosine num_cycles 0.5,
// cosine_with_restarts num_cycles 1, polynomial power 1 and lr_end 1e-7 (HF raises when
// lr_end > base_lr; so does this, with bigbird::Error).
double lr_at(LrSchedule s, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

}  // namespace bigbird::train
