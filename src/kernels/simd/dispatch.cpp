#include "kernels/simd/dispatch.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace bigbird {

const char* simd_path_name(SimdPath p) {
  switch (p) {
    case SimdPath::Auto: return "auto";
    case SimdPath::Scalar: return "scalar";
    case SimdPath::Avx2: return "avx2";
    case SimdPath::Avx512: return "avx512";
  }
  return "?";
}

bool simd_path_supported(SimdPath p) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (p) {
    case SimdPath::Auto:
    case SimdPath::Scalar: return true;
    case SimdPath::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdPath::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return p == SimdPath::Auto || p == SimdPath::Scalar;
#endif
}

namespace {
SimdPath detect() {
  SimdPath cap = SimdPath::Avx512;
  if (const char* env = std::getenv("BIGBIRD_SIMD")) {
    if (!std::strcmp(env, "scalar")) cap = SimdPath::Scalar;
    else if (!std::strcmp(env, "avx2")) cap = SimdPath::Avx2;
  }
  for (SimdPath p : {SimdPath::Avx512, SimdPath::Avx2})
    if (static_cast<int>(p) <= static_cast<int>(cap) && simd_path_supported(p)) return p;
  return SimdPath::Scalar;
}
}  // namespace

SimdPath resolve_simd_path(SimdPath p) {
  static const SimdPath best = detect();
  if (p == SimdPath::Auto) return best;
  BB_CHECK(simd_path_supported(p), "SIMD path ", simd_path_name(p), " is not supported by this CPU");
  return p;
}

namespace simd {

int64_t scratch_floats(int64_t d) {
  const int64_t ldo = (d + 15) / 16 * 16;
  return kTileRows * (kChunkCols + kColPad) + kTileRows * ldo + 2 * kTileRows + 64;
}

const KernelTable& kernels(SimdPath p) {
  switch (resolve_simd_path(p)) {
    case SimdPath::Avx512: return kAvx512Table;
    case SimdPath::Avx2: return kAvx2Table;
    default: return kScalarTable;
  }
}

}  // namespace simd
}  // namespace bigbird
