// Random plans carried in a safetensors file as `rand_attn.layer{L}` (int [heads, blocks - 2, r]),
// the fixtures' layout: how plans are injected into a run.
#pragma once
#include <map>

#include "core/safetensors.h"
#include "sparse/plan.h"

namespace bigbird {

// Every rand_attn.layer{L} tensor of `st` as layer -> plan (shapes are validated later, against
// the model, when a layer uses its plan). Throws on a malformed name or a tensor that is not 3-D.
std::map<int, RandomPlan> plans_from_safetensors(const SafeTensors& st);

}  // namespace bigbird
