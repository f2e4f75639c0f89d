#include "kernels/blas_core.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/linear.h"

namespace bigbird {

const char* better_blas_core(const char* loaded) {
  // OpenBLAS 0.3.21's names of the cores without AVX2 (what it falls back to on a CPU it does
  // not know); every other name already runs AVX2 or AVX-512 kernels.
  static const char* const kGeneric[] = {"Unknown", "Katmai",   "Coppermine", "Northwood", "Prescott",
                                         "Banias",  "Atom",     "Core2",      "Penryn",    "Dunnington",
                                         "Nehalem", "Athlon",   "Opteron",    "Opteron_SSE3", "Barcelona",
                                         "Nano",    "Sandybridge", "Bobcat"};
  bool generic = false;
  for (const char* g : kGeneric) generic = generic || std::strcmp(loaded, g) == 0;
  if (!generic) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void ensure_blas_core(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const std::string loaded = blas_core_name();
  const char* core = better_blas_core(loaded.c_str());
  if (!*core) return;
  if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "warning: OpenBLAS runs its generic %s kernels on this CPU and restarting with "
               "OPENBLAS_CORETYPE=%s failed (%s): set it yourself for ~10x faster matrix products\n",
               loaded.c_str(), core, std::strerror(errno));
}

}  // namespace bigbird
