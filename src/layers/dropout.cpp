#include "layers/dropout.h"

#include <algorithm>

namespace bigbird {

namespace {
// SplitMix64's finaliser: a bijection of 64-bit words whose output bits each depend on every input bit.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

float Dropout::scale() const { return p >= 1.0f ? 0.0f : static_cast<float>(1.0 / (1.0 - static_cast<double>(p))); }

// A key per (seed, step, site), then one mix of the key and the element's counter.
uint64_t Dropout::key() const {
  return mix(mix(mix(seed + 0x9e3779b97f4a7c15ull) ^ step) ^ (site * 0xd1b54a32d192ed03ull));
}

float Dropout::uniform(uint64_t key, uint64_t e) {
  const uint64_t h = mix(key ^ (e * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
  return static_cast<float>(h >> 40) * 0x1.0p-24f;
}

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
