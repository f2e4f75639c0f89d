#include <gtest/gtest.h>

#include "core/safetensors.h"

TEST(SafeTensors, Placeholder) { EXPECT_EQ(bigbird::dtype_size(bigbird::DType::F32), 4u); }
