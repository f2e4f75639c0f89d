// A small, safe reader of the pickles torch.save writes: it interprets only the opcodes of
// protocols 2-4 that torch.save uses (no opcode that calls an arbitrary object: INST, OBJ,
// NEWOBJ, EXT*, PERSID, ...), and only these globals:
//   torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor, torch._utils._rebuild_parameter,
//   torch._tensor._rebuild_from_type_v2 (with torch.Tensor / torch.nn.parameter.Parameter),
//   torch.<T>Storage (Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte, Bool),
//   collections.OrderedDict.
// Nothing is ever called: REDUCE on an allowed global builds a value of ours (a tensor
// description, an empty dict), and any other global (os.system, builtins.eval, ...) is refused by
// name with one error line as soon as its GLOBAL opcode is read. Every length, memo index and
// nesting depth is bounded by the input or a fixed limit, so a truncated or hostile pickle gives a
// bigbird::Error, never a read outside the buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"  // DType

namespace bigbird::pickle {

struct Value;

// A storage named by a persistent id ('storage', torch.<T>Storage, key, location, numel[, view]).
struct StorageRef {
  DType dtype = DType::F32;
  std::string key;
  int64_t numel = 0;  // elements, as the persistent id gives them
};

// What _rebuild_tensor_v2 / _rebuild_tensor describe: a strided view of a storage.
struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;  // in elements
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

struct Value {
  enum class Kind { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str, Bytes; BigInt: little-endian bytes; Global: "module.name"
  std::vector<const Value*> items;                          // Tuple, List
  std::vector<std::pair<const Value*, const Value*>> dict;  // Dict (insertion order)
  StorageRef storage;
  TensorRef tensor;
};

const char* kind_name(Value::Kind k);

// A loaded pickle: every value lives in the arena (so a self-referencing pickle cannot leak or
// loop: walkers of `root` must still bound their depth, see kMaxWalkDepth).
struct Document {
  std::vector<std::unique_ptr<Value>> arena;
  const Value* root = nullptr;
  size_t consumed = 0;  // bytes read, through STOP
};

constexpr int kMaxWalkDepth = 32;

// Reads one pickle starting at data[0]; `name` prefixes every error. The root is the value STOP
// leaves on the stack; `consumed` the bytes read (for the legacy format's consecutive pickles).
// Persistent ids (BINPERSID) are resolved as torch's storage ids.
Document load(const uint8_t* data, size_t size, const std::string& name);

}  // namespace bigbird::pickle
