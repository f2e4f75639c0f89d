// The fast kernels (kernel_table_impl.h) compiled for the portable scalar path: no target, but
// the same layout as the AVX files (standard headers first, everything in a namespace of its own).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/simd/dispatch.h"

namespace bigbird::simd::scalar {
namespace {
#include "kernels/simd/vec_scalar.h"
#include "kernels/simd/kernel_table_impl.h"
}  // namespace
}  // namespace bigbird::simd::scalar

namespace bigbird::simd {
constinit const KernelTable kScalarTable = scalar::kTable;
}  // namespace bigbird::simd
