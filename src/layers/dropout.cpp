#include "layers/dropout.h"

#include <algorithm>

#include "core/counter_rng.h"

namespace bigbird {

float Dropout::scale() const { return p >= 1.0f ? 0.0f : static_cast<float>(1.0 / (1.0 - static_cast<double>(p))); }

// A key per (seed, step, site), then one mix of the key and the element's counter (core/counter_rng.h).
uint64_t Dropout::key() const { return counter_key(seed, step, site); }

float Dropout::uniform(uint64_t key, uint64_t e) { return counter_uniform(key, e); }

void apply_dropout(const ThreadingContext& ctx, const Dropout& d, float* x, int64_t n, uint64_t first) {
  if (!d.active() || n <= 0) return;
  const float s = d.scale(), p = d.p;
  const uint64_t key = d.key();
  constexpr int64_t kChunk = 1 << 14;
  parallel_for(
      ctx, (n + kChunk - 1) / kChunk,
      [&](int64_t t) {
        const int64_t i1 = std::min(n, (t + 1) * kChunk);
        for (int64_t i = t * kChunk; i < i1; ++i)
          x[i] = Dropout::uniform(key, first + static_cast<uint64_t>(i)) >= p ? x[i] * s : 0.0f;
      },
      Schedule::Static);
}

}  // namespace bigbird
