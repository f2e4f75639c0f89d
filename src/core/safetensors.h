// The safetensors format: a memory-mapped, fully validated reader and an atomic writer.
//
// Layout: u64 little-endian N, then N bytes of JSON header, then the data section. Every
// tensor entry is checked at open time (dtype known, shape non-negative, offsets inside the
// data section and matching the shape), so later reads cannot run out of bounds.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace bigbird {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // offsets relative to the data section
  uint64_t end = 0;
};

class MappedFile;  // read-only mmap of a whole file

class SafeTensors {
 public:
  // Opens and validates `path`; throws bigbird::Error naming the file and the fault.
  static SafeTensors open(const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const TensorEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Raw bytes of a tensor (inside the mapping).
  const uint8_t* bytes(const TensorEntry& e) const;
  // A float32 tensor's data without copying when it is F32 and 4-byte aligned, else nullptr.
  const float* f32_in_place(const std::string& name) const;
  // Copies converting F32/F16/BF16/F64 to float32 (any other dtype is an error).
  Tensor read_f32(const std::string& name) const;
  // Copies converting any integer or bool dtype to int64 (float dtypes are an error).
  TensorI64 read_i64(const std::string& name) const;

  // Keeps the mapping alive for views handed out by f32_in_place.
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  std::string path_;
  std::shared_ptr<const MappedFile> file_;
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// An optional integer input beside input_ids (attention_mask, token_type_ids, ...): empty when
// `st` has no tensor `name`; when it has one, its shape must be `like` (input_ids' shape), so a
// zero-element tensor is an error rather than taken as absent.
TensorI64 read_optional_like(const SafeTensors& st, const std::string& name, const Shape& like);

// One tensor to write: float32, int64 or int32 data.
struct OutTensor {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::vector<uint8_t> bytes;

  static OutTensor f32(std::string name, Shape shape, const float* data);
  static OutTensor f32(std::string name, const Tensor& t) { return f32(std::move(name), t.shape, t.ptr()); }
  static OutTensor i64(std::string name, Shape shape, const int64_t* data);
  static OutTensor i64(std::string name, const TensorI64& t) { return i64(std::move(name), t.shape, t.data.data()); }
  static OutTensor i32(std::string name, Shape shape, const int32_t* data);
};

// Writes atomically: a temporary file in the same directory, renamed over `path` when complete,
// so a failure never leaves a half-written file behind.
void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// float16 / bfloat16 bit patterns to float32.
float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);

}  // namespace bigbird
