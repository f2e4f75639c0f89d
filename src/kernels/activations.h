// Element-wise activations, named as HF's ACT2FN (transformers 4.27).
#pragma once
#include <cstdint>
#include <string>

namespace bigbird {

enum class Activation {
  Gelu, Gelu10, GeluFast, GeluNew, GeluPython, GeluPytorchTanh, GeluAccurate, Laplace, Linear, Mish,
  QuickGelu, Relu, Relu2, Relu6, Sigmoid, Silu, Swish, Tanh
};

bool is_known_activation(const std::string& name);
std::string known_activations();  // comma-separated list, for error messages
Activation parse_activation(const std::string& name);  // throws bigbird::Error

float activate(Activation a, float x);
// In place over n values (parallel for large n).
void activate_inplace(Activation a, float* x, int64_t n);

}  // namespace bigbird
