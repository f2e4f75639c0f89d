// Counter-based uniforms: a pure function of (key, counter), no state. The training dropouts
// (layers/dropout.h) and the dropout on attention probabilities inside the kernels
// (kernels/attention.h) draw from here, so that the same (seed, step, site, element) gives the
// same mask wherever it is computed, on any thread.
#pragma once
#include <cstdint>

namespace bigbird {

// SplitMix64's finaliser: a bijection of 64-bit words whose output bits each depend on every input bit.
inline uint64_t counter_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The key of one dropout of one step: a hash of (seed, step, site).
inline uint64_t counter_key(uint64_t seed, uint64_t step, uint64_t site) {
  return counter_mix(counter_mix(counter_mix(seed + 0x9e3779b97f4a7c15ull) ^ step) ^ (site * 0xd1b54a32d192ed03ull));
}

// The uniform of counter e under `key`, in [0, 1) (24 random bits: exact in float).
inline float counter_uniform(uint64_t key, uint64_t e) {
  const uint64_t h = counter_mix(key ^ (e * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
  return static_cast<float>(h >> 40) * 0x1.0p-24f;
}

}  // namespace bigbird
