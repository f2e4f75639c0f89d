// `bigbird compare A.safetensors B.safetensors`: max |difference| of every tensor both files
// hold, to check our outputs against PyTorch's (or two runs against each other).
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace bigbird::cli {

Runner add_compare(CLI::App& app) {
  struct Args {
    std::string a, b;
    double atol = 1e-4;
  };
  auto args = std::make_shared<Args>();
  app.add_option("A", args->a, "first safetensors file")->required();
  app.add_option("B", args->b, "second safetensors file (reference)")->required();
  app.add_option("--atol", args->atol, "absolute tolerance for the verdict (default 1e-4)");
  return [args] {
    SafeTensors A = SafeTensors::open(args->a), B = SafeTensors::open(args->b);
    int compared = 0, over = 0;
    std::printf("%-34s %-16s %12s\n", "tensor", "shape", "max|diff|");
    for (const auto& name : A.names()) {
      if (!B.has(name)) continue;
      const TensorEntry &ea = A.entry(name), &eb = B.entry(name);
      if (ea.shape != eb.shape) {
        std::printf("%-34s shape %s != %s\n", name.c_str(), to_string(ea.shape).c_str(), to_string(eb.shape).c_str());
        ++over;
        continue;
      }
      const bool is_float =
          ea.dtype == DType::F32 || ea.dtype == DType::F16 || ea.dtype == DType::BF16 || ea.dtype == DType::F64;
      double worst = 0;
      if (is_float) {
        Tensor x = A.read_f32(name), y = B.read_f32(name);
        for (size_t i = 0; i < x.data.size(); ++i) worst = std::max(worst, std::fabs(double(x.data[i]) - y.data[i]));
      } else {
        TensorI64 x = A.read_i64(name), y = B.read_i64(name);
        for (size_t i = 0; i < x.data.size(); ++i) worst = std::max(worst, std::fabs(double(x.data[i] - y.data[i])));
      }
      // logits near -1e6 (masked QA) carry float32 rounding of ~0.06: judge those relative.
      ++compared;
      const bool bad = worst > args->atol * (name.find("logits") != std::string::npos ? 10 : 1) &&
                       !(name.find("qa.") == 0 && name.find("unmasked") == std::string::npos && worst < 0.1);
      over += bad;
      std::printf("%-34s %-16s %12.3g%s\n", name.c_str(), to_string(ea.shape).c_str(), worst,
                  bad ? "  <-- over tolerance" : "");
    }
    BB_CHECK(compared > 0, "'", args->a, "' and '", args->b, "' have no tensor name in common");
    std::printf("%d tensors compared, %d over tolerance (atol %g, logits %g)\n", compared, over, args->atol,
                args->atol * 10);
    return over == 0 ? 0 : 3;
  };
}

}  // namespace bigbird::cli
