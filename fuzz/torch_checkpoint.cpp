// The PyTorch checkpoint reader (core/torch_checkpoint.h): torch.save's zip and legacy formats and
// the safe pickle reader under them. The input is the file's bytes. Only bigbird::Error may come
// out: never a crash, an out-of-bounds read, a leak, or a call of anything the pickle names.
#include <cstdint>

#include "core/torch_checkpoint.h"
#include "fuzz_common.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::accepts([&] {
    const size_t tensors = check_torch_checkpoint_bytes(data, size);
    FUZZ_CHECK(tensors < (size_t{1} << 32));
  });
  return 0;
}
