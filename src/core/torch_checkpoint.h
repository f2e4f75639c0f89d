// PyTorch checkpoints (pytorch_model.bin) as torch.save writes them, read with no Python:
//  - the zip format (PyTorch >= 1.6): a zip archive of stored (uncompressed) entries
//    <prefix>/data.pkl (the state dict's pickle), <prefix>/data/<key> (one per storage),
//    <prefix>/version and maybe <prefix>/byteorder; read through its central directory (zip64
//    records included);
//  - the legacy format (PyTorch < 1.6): pickles of the magic number, the protocol version and
//    sys_info, then the state dict's pickle, the list of storage keys, and each storage's bytes
//    after an 8-byte element count.
// The pickles go through core/torch_pickle.h (only torch.save's opcodes and globals; nothing is
// executed). Storages may be F32/F16/BF16/F64 or integer; several tensors may share one storage
// (tied weights) at any offset and with any non-negative strides (a non-contiguous view is
// gathered in its logical row-major order). Every offset, size and stride is checked against the
// file when it is opened, so reads never leave it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace bigbird {

struct TorchTensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::vector<int64_t> stride;  // in elements
  int64_t offset = 0;           // in elements, into the storage
  const uint8_t* storage = nullptr;
  uint64_t storage_numel = 0;
  bool contiguous() const;
};

class TorchCheckpoint {
 public:
  // Opens (memory-maps) and validates `path`; throws bigbird::Error naming the file and the fault.
  static TorchCheckpoint open(const std::string& path);
  // Parses `size` bytes of a torch.save file held by the caller (kept alive while the result is
  // used); `name` prefixes the errors. The in-memory entry point (fuzzing, tests).
  static TorchCheckpoint parse(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const TorchTensorEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;  // in the file's order
  // Copies converting F32/F16/BF16/F64 to float32 (any other dtype is an error).
  Tensor read_f32(const std::string& name) const;
  // Copies converting any integer or bool dtype to int64 (float dtypes are an error).
  TensorI64 read_i64(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<const void> keep_;  // the mapping of open()
  std::vector<TorchTensorEntry> entries_;
  std::map<std::string, size_t> index_;
};

// Parses a torch.save file from memory and reads every tensor (float dtypes as float32, integer
// ones as int64); returns the number of tensors. Throws bigbird::Error on any bad input: the
// function a fuzz target calls.
size_t check_torch_checkpoint_bytes(const uint8_t* data, size_t size);

}  // namespace bigbird
