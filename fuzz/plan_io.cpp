// The random-plan reader (sparse/plan_io.*): rand_attn.layer{L} tensors of a safetensors file.
// A plan it returns either passes validate_plan for its own shape, and then every entry it
// describes is readable, or validate_plan refuses it.
#include <cstdint>
#include <string>

#include "core/safetensors.h"
#include "fuzz_common.h"
#include "sparse/plan.h"
#include "sparse/plan_io.h"

using namespace bigbird;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::scratch_dir() + "/plans.safetensors";
  fuzz::write_file(path, data, size);
  fuzz::accepts([&] {
    const SafeTensors st = SafeTensors::open(path);
    for (const auto& layer_plan : plans_from_safetensors(st)) {
      const int layer = layer_plan.first;
      const RandomPlan& plan = layer_plan.second;
      FUZZ_CHECK(layer >= 0);
      // The plan has its tensor's shape (its name may have written the layer with leading zeros).
      bool found = false;
      for (const std::string& name : st.names()) {
        const std::string digits = name.rfind("rand_attn.layer", 0) == 0 ? name.substr(15) : "";
        if (digits.empty() || digits.size() >= 7 || digits.find_first_not_of("0123456789") != std::string::npos ||
            std::stoll(digits) != layer)
          continue;
        const Shape& s = st.entry(name).shape;
        if (s == Shape{plan.heads, plan.rows, plan.r}) found = true;
      }
      FUZZ_CHECK(found);
      fuzz::accepts([&] {
        validate_plan(plan, plan.heads, plan.rows + 2, plan.r, "fuzz");
        int64_t sum = 0;
        for (int h = 0; h < plan.heads; ++h)
          for (int row = 0; row < plan.rows; ++row)
            for (int j = 0; j < plan.r; ++j) {
              const int32_t b = plan.at(h, row, j);  // bounds-checked (_GLIBCXX_ASSERTIONS)
              FUZZ_CHECK(b >= 0 && b < plan.rows + 2);
              sum += b;
            }
        (void)sum;
      });
    }
  });
  return 0;
}
