#include "sparse/plan_io.h"

#include <string>

#include "core/error.h"

namespace bigbird {

std::map<int, RandomPlan> plans_from_safetensors(const SafeTensors& st) {
  std::map<int, RandomPlan> plans;
  const std::string prefix = "rand_attn.layer";
  for (const auto& name : st.names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    int layer = -1;
    if (!digits.empty() && digits.size() < 7 && digits.find_first_not_of("0123456789") == std::string::npos)
      layer = std::stoi(digits);
    BB_CHECK(layer >= 0, "'", st.path(), "': cannot read a layer index from tensor name '", name, "'");
    TensorI64 t = st.read_i64(name);
    BB_CHECK(t.shape.size() == 3, "'", st.path(), "': ", name, " must be [heads, blocks - 2, r], got ",
             to_string(t.shape));
    // Each dimension, and blocks = rows + 2, must fit the plan's int (a zero-element tensor can
    // claim any size).
    BB_CHECK(t.dim(0) <= INT32_MAX && t.dim(1) <= INT32_MAX - 2 && t.dim(2) <= INT32_MAX, "'", st.path(), "': ",
             name, " has shape ", to_string(t.shape), ", too large for a random plan");
    RandomPlan p{static_cast<int>(t.dim(0)), static_cast<int>(t.dim(1)), static_cast<int>(t.dim(2)), {}};
    p.blocks.reserve(t.data.size());
    for (int64_t v : t.data) {
      BB_CHECK(v >= 0 && v <= INT32_MAX, "'", st.path(), "': ", name, " holds ", v, ", not a block index");
      p.blocks.push_back(static_cast<int32_t>(v));
    }
    plans[layer] = std::move(p);
  }
  return plans;
}

}  // namespace bigbird
