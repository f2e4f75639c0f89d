// Placeholder until the HF plan generator lands.
#include "core/error.h"
#include "sparse/plan.h"
namespace bigbird {
RandomPlan hf_random_plan(int, int, int, int, int, int) { fail("--random-plan hf is not implemented yet"); }
}  // namespace bigbird
