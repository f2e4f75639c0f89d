#include "layers/losses.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace bigbird {

namespace {
constexpr int64_t kIgnoreIndex = -100;
}

float cross_entropy_loss(const float* logits, int64_t rows, int64_t classes, const int64_t* labels, float* dlogits) {
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t l = labels[r];
    if (l == kIgnoreIndex) continue;
    BB_CHECK(l >= 0 && l < classes, "cross_entropy_loss: row ", r, " has label ", l, ", outside [0, ", classes,
             ") and not the ignore index -100");
    ++count;
  }
  if (count == 0) {
    if (dlogits) std::fill(dlogits, dlogits + rows * classes, 0.0f);
    return 0.0f;
  }
  double total = 0;
  std::vector<double> e(static_cast<size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t l = labels[r];
    if (l == kIgnoreIndex) {
      if (dlogits) std::fill(dlogits + r * classes, dlogits + (r + 1) * classes, 0.0f);
      continue;
    }
    const float* x = logits + r * classes;
    double m = x[0];
    for (int64_t c = 1; c < classes; ++c) m = std::max(m, static_cast<double>(x[c]));
    double s = 0;
    for (int64_t c = 0; c < classes; ++c) s += e[static_cast<size_t>(c)] = std::exp(x[c] - m);
    total += m + std::log(s) - x[l];
    if (dlogits) {
      float* d = dlogits + r * classes;
      for (int64_t c = 0; c < classes; ++c)
        d[c] = static_cast<float>((e[static_cast<size_t>(c)] / s - (c == l ? 1.0 : 0.0)) / static_cast<double>(count));
    }
  }
  return static_cast<float>(total / static_cast<double>(count));
}

float mse_loss(const float* pred, const float* target, int64_t n, float* dpred) {
  if (n <= 0) return 0.0f;
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    total += d * d;
    if (dpred) dpred[i] = static_cast<float>(2.0 * d / static_cast<double>(n));
  }
  return static_cast<float>(total / static_cast<double>(n));
}

float bce_with_logits_loss(const float* logits, const float* targets, int64_t n, float* dlogits) {
  if (n <= 0) return 0.0f;
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = logits[i], t = targets[i];
    total += std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
    if (dlogits) {
      // sigmoid without overflow for either sign of x.
      const double s = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
      dlogits[i] = static_cast<float>((s - t) / static_cast<double>(n));
    }
  }
  return static_cast<float>(total / static_cast<double>(n));
}

}  // namespace bigbird
