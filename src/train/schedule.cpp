#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace bigbird::train {

namespace {

struct Named {
  const char* name;
  LrSchedule schedule;
};
constexpr Named kSchedules[] = {
    {"constant", LrSchedule::Constant},
    {"constant_with_warmup", LrSchedule::ConstantWithWarmup},
    {"linear", LrSchedule::Linear},
    {"cosine", LrSchedule::Cosine},
    {"cosine_with_restarts", LrSchedule::CosineWithRestarts},
    {"polynomial", LrSchedule::Polynomial},
};

// float(current_step) / float(max(1, num_warmup_steps))
double warmup_factor(int64_t step, int64_t warmup) {
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
}

// float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
double progress(int64_t step, int64_t warmup, int64_t total) {
  return static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
}

// The LambdaLR multiplier of HF 4.27's schedules (optimization.py).
double multiplier(LrSchedule s, double base_lr, int64_t step, int64_t warmup, int64_t total) {
  switch (s) {
    case LrSchedule::Constant: return 1.0;
    case LrSchedule::ConstantWithWarmup:
      // float(current_step) / float(max(1.0, num_warmup_steps))
      if (step < warmup) return static_cast<double>(step) / std::max(1.0, static_cast<double>(warmup));
      return 1.0;
    case LrSchedule::Linear:
      if (step < warmup) return warmup_factor(step, warmup);
      return std::max(0.0,
                      static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
    case LrSchedule::Cosine: {
      if (step < warmup) return warmup_factor(step, warmup);
      const double num_cycles = 0.5;
      const double p = progress(step, warmup, total);
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * num_cycles * 2.0 * p)));
    }
    case LrSchedule::CosineWithRestarts: {
      if (step < warmup) return warmup_factor(step, warmup);
      const double num_cycles = 1.0;
      const double p = progress(step, warmup, total);
      if (p >= 1.0) return 0.0;
      // Python's % on non-negative floats is fmod.
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * std::fmod(num_cycles * p, 1.0))));
    }
    case LrSchedule::Polynomial: {
      const double lr_end = 1e-7, power = 1.0, lr_init = base_lr;
      BB_CHECK(lr_init > lr_end, "polynomial schedule: lr_end (", lr_end, ") must be smaller than the initial lr (",
               lr_init, ")");
      if (step < warmup) return warmup_factor(step, warmup);
      if (step > total) return lr_end / lr_init;
      const double lr_range = lr_init - lr_end;
      const int64_t decay_steps = total - warmup;
      BB_CHECK(decay_steps != 0, "polynomial schedule: total_steps must exceed warmup_steps (both ", total, ")");
      const double pct_remaining = 1.0 - static_cast<double>(step - warmup) / static_cast<double>(decay_steps);
      const double decay = lr_range * std::pow(pct_remaining, power) + lr_end;
      return decay / lr_init;
    }
  }
  fail("lr_at: unknown schedule");
}

}  // namespace

LrSchedule parse_lr_schedule(const std::string& name) {
  for (const Named& n : kSchedules)
    if (name == n.name) return n.schedule;
  std::string valid;
  for (const Named& n : kSchedules) valid += std::string(valid.empty() ? "" : ", ") + n.name;
  fail("unknown learning-rate schedule '", name, "' (valid: ", valid, ")");
}

const char* lr_schedule_name(LrSchedule s) {
  for (const Named& n : kSchedules)
    if (n.schedule == s) return n.name;
  return "?";
}

double lr_at(LrSchedule s, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  BB_CHECK(step >= 0, "lr_at: step must be >= 0, got ", step);
  BB_CHECK(warmup_steps >= 0, "lr_at: warmup_steps must be >= 0, got ", warmup_steps);
  // LambdaLR: base_lr * lr_lambda(last_epoch).
  return base_lr * multiplier(s, base_lr, step, warmup_steps, total_steps);
}

}  // namespace bigbird::train
