// numpy's legacy random state (`np.random.seed(int)`, `np.random.permutation`), reduced to what
// HF's BigBird plan drawing needs, so plans can be reproduced bit for bit.
//
// Seeding an int goes through MT19937's init_genrand, and numpy's 32-bit output is the standard
// tempered MT19937 word; both are exactly what std::mt19937 specifies, so it is the engine here.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace bigbird {

class NumpyLegacyRandom {
 public:
  explicit NumpyLegacyRandom(uint32_t seed) : mt_(seed) {}

  // One raw 32-bit MT19937 output (numpy's next_uint32).
  uint32_t next_uint32() { return static_cast<uint32_t>(mt_()); }

  // Uniform integer in [0, max] as numpy's legacy `random_interval`: draw 32-bit words, mask
  // them with the smallest all-ones mask covering `max`, reject values above `max`.
  uint32_t interval(uint32_t max);

  // In-place shuffle as legacy `shuffle` / `permutation` of a 1-d array: for i = n-1 down to 1,
  // swap element i with element interval(i). Arrays of 0 or 1 elements consume no draws.
  void shuffle(std::vector<int32_t>& values);

 private:
  std::mt19937 mt_;
};

}  // namespace bigbird
