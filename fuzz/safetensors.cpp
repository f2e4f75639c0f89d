// The safetensors reader (core/safetensors.*): any file either opens, and then every tensor it
// lists reads back in full, or is refused with a bigbird::Error.
#include <cstdint>
#include <string>

#include "core/safetensors.h"
#include "fuzz_common.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::scratch_dir() + "/input.safetensors";
  fuzz::write_file(path, data, size);
  fuzz::accepts([&] {
    const SafeTensors st = SafeTensors::open(path);
    for (const std::string& name : st.names()) {
      const TensorEntry& e = st.entry(name);
      FUZZ_CHECK(e.begin <= e.end);
      const int64_t n = numel(e.shape);
      FUZZ_CHECK(n >= 0 && e.end - e.begin == static_cast<uint64_t>(n) * dtype_size(e.dtype));
      const bool is_float = e.dtype == DType::F64 || e.dtype == DType::F32 || e.dtype == DType::F16 ||
                            e.dtype == DType::BF16;
      // The reader that fits the dtype must take every accepted tensor; the other one refuses.
      if (is_float) {
        const Tensor t = st.read_f32(name);
        FUZZ_CHECK(static_cast<int64_t>(t.data.size()) == n && t.shape == e.shape);
        FUZZ_CHECK(!fuzz::accepts([&] { st.read_i64(name); }));
        if (const float* p = st.f32_in_place(name); p && n > 0) {
          volatile float last = p[n - 1];  // in bounds of the mapping (ASan would say otherwise)
          (void)last;
        }
      } else {
        const TensorI64 t = st.read_i64(name);
        FUZZ_CHECK(static_cast<int64_t>(t.data.size()) == n && t.shape == e.shape);
        FUZZ_CHECK(!fuzz::accepts([&] { st.read_f32(name); }));
      }
    }
    FUZZ_CHECK(!fuzz::accepts([&] { st.entry("\x01no such tensor"); }));
    for (const auto& [k, v] : st.metadata()) (void)k, (void)v;
    // An optional input beside input_ids ([2, 3] here): absent, or exactly that shape.
    fuzz::accepts([&] {
      const TensorI64 m = read_optional_like(st, "attention_mask", Shape{2, 3});
      FUZZ_CHECK(m.data.empty() ? !st.has("attention_mask") : (m.shape == Shape{2, 3} && m.data.size() == 6));
    });
  });
  return 0;
}
