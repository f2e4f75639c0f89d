// The test program's main: GoogleTest's, after the same OpenBLAS core check as `bigbird`
// (kernels/blas_core.h), so that the suite runs the kernels users get.
#include <gtest/gtest.h>

#include "kernels/blas_core.h"

int main(int argc, char** argv) {
  bigbird::ensure_blas_core(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
