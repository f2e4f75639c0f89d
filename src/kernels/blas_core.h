// OpenBLAS's kernel choice, checked before anything runs.
//
// Debian's OpenBLAS is a DYNAMIC_ARCH build: when the library loads it picks its kernels from the
// CPU's family and model numbers. A CPU newer than the library gets a generic core instead:
// Debian 12's 0.3.21 does not know Intel's Emerald Rapids (family 6, model 0xCF) and runs the
// SSE3 "Prescott" kernels there, about 10x slower sgemm on a machine with AVX-512. The override,
// OPENBLAS_CORETYPE, is read only while the library loads, so it cannot be set from inside the
// process: `bigbird` runs itself again with it instead.
#pragma once

namespace bigbird {

// The OPENBLAS_CORETYPE this CPU should run: "" when the library's own choice is fine (a core
// with AVX2 or better, or a CPU without AVX2), else "Cooperlake" (AVX-512 with BF16),
// "SkylakeX" (AVX-512) or "Haswell" (AVX2 + FMA). `loaded` is the core the library chose.
const char* better_blas_core(const char* loaded);

// When OPENBLAS_CORETYPE is unset and better_blas_core() names a core, sets it and re-executes
// /proc/self/exe with the same arguments (returns only when that fails, with a warning on
// stderr). A value the user set is never changed.
void ensure_blas_core(char** argv);

}  // namespace bigbird
