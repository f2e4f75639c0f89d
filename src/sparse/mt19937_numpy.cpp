#include "sparse/mt19937_numpy.h"

#include <utility>

namespace bigbird {

uint32_t NumpyLegacyRandom::interval(uint32_t max) {
  if (max == 0) return 0;  // no draw at all
  uint32_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  uint32_t value;
  do {
    value = next_uint32() & mask;
  } while (value > max);
  return value;
}

void NumpyLegacyRandom::shuffle(std::vector<int32_t>& values) {
  for (size_t i = values.size(); i-- > 1;) {
    const size_t j = interval(static_cast<uint32_t>(i));
    std::swap(values[i], values[j]);
  }
}

}  // namespace bigbird
