#include "core/safetensors.h"

#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace bigbird {

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MB, as the reference implementation
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
  }
  return 0;
}

static bool parse_dtype(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"I64", DType::I64},
      {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},   {"U8", DType::U8},     {"BOOL", DType::BOOL}};
  for (auto& [name, t] : table)
    if (s == name) {
      *out = t;
      return true;
    }
  return false;
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafeTensors SafeTensors::open(const std::string& path) {
  SafeTensors st;
  st.path_ = path;
  st.file_ = std::make_shared<const MappedFile>(path);
  const uint64_t size = st.file_->size();
  const uint8_t* base = st.file_->data();
  if (size < 8) fail("'", path, "' is not a safetensors file: ", size, " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];
  if (n > kMaxHeader)
    fail("'", path, "': safetensors header of ", n, " bytes is larger than the 100 MB limit (corrupt file?)");
  if (n > size - 8)
    fail("'", path, "': safetensors header of ", n, " bytes runs past the end of the file (", size,
         " bytes): truncated file?");
  nlohmann::json header;
  std::string duplicate;  // JSON keeps the last of two equal keys: a tensor given twice is an error
  try {
    std::set<std::string> seen;
    header = nlohmann::json::parse(base + 8, base + 8 + n,
                                   [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                                     if (depth == 1 && event == nlohmann::json::parse_event_t::key &&
                                         !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
                                       duplicate = parsed.get<std::string>();
                                     return true;
                                   });
  } catch (const std::exception& e) {
    fail("'", path, "': safetensors header is not valid JSON (", e.what(), ")");
  }
  if (!duplicate.empty()) fail("'", path, "': safetensors header names tensor '", duplicate, "' twice");
  if (!header.is_object()) fail("'", path, "': safetensors header is not a JSON object");
  st.data_ = base + 8 + n;
  st.data_size_ = size - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("'", path, "': __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        st.metadata_[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    auto where = [&] { return detail::concat("'", path, "': tensor '", name, "': "); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(where(), "entry needs dtype, shape and data_offsets");
    TensorEntry e;
    e.name = name;
    if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), &e.dtype))
      fail(where(), "unsupported dtype ", v["dtype"].dump());
    if (!v["shape"].is_array()) fail(where(), "shape is not an array");
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(where(), "bad dimension ", d.dump());
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / dim) fail(where(), "shape too large");
      count *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(where(), "data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > st.data_size_)
      fail(where(), "data_offsets [", e.begin, ", ", e.end, "] out of bounds of the ", st.data_size_,
           "-byte data section (truncated or corrupt file?)");
    if (e.end - e.begin != count * dtype_size(e.dtype))
      fail(where(), "data_offsets span ", e.end - e.begin, " bytes but shape ", to_string(e.shape), " of ",
           dtype_name(e.dtype), " needs ", count * dtype_size(e.dtype));
    st.index_[name] = st.entries_.size();
    st.entries_.push_back(std::move(e));
  }
  // No two tensors may share bytes (empty tensors take none).
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : st.entries_)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorEntry &a = *by_offset[i - 1], &b = *by_offset[i];
    if (b.begin < a.end)
      fail("'", path, "': tensors '", a.name, "' (data_offsets [", a.begin, ", ", a.end, "]) and '", b.name, "' ([",
           b.begin, ", ", b.end, "]) overlap (corrupt file?)");
  }
  return st;
}

const TensorEntry& SafeTensors::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("'", path_, "': no tensor named '", name, "'");
  return entries_[it->second];
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

const uint8_t* SafeTensors::bytes(const TensorEntry& e) const { return data_ + e.begin; }

const float* SafeTensors::f32_in_place(const std::string& name) const {
  const TensorEntry& e = entry(name);
  const uint8_t* p = bytes(e);
  if (e.dtype != DType::F32 || reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) return nullptr;
  return reinterpret_cast<const float*>(p);
}

template <typename T>
static T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

Tensor SafeTensors::read_f32(const std::string& name) const {
  const TensorEntry& e = entry(name);
  Tensor t(e.shape);
  const uint8_t* p = bytes(e);
  const size_t n = t.data.size();
  switch (e.dtype) {
    case DType::F32:
      if (n) std::memcpy(t.ptr(), p, n * 4);
      break;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) t.data[i] = half_to_float(load_le<uint16_t>(p + 2 * i));
      break;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) t.data[i] = bf16_to_float(load_le<uint16_t>(p + 2 * i));
      break;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) t.data[i] = static_cast<float>(load_le<double>(p + 8 * i));
      break;
    default:
      fail("'", path_, "': tensor '", name, "' has dtype ", dtype_name(e.dtype),
           ", expected a float type (F32, F16, BF16)");
  }
  return t;
}

TensorI64 SafeTensors::read_i64(const std::string& name) const {
  const TensorEntry& e = entry(name);
  TensorI64 t(e.shape);
  const uint8_t* p = bytes(e);
  const size_t n = t.data.size();
  switch (e.dtype) {
    case DType::I64:
      if (n) std::memcpy(t.data.data(), p, n * 8);
      break;
    case DType::I32:
      for (size_t i = 0; i < n; ++i) t.data[i] = load_le<int32_t>(p + 4 * i);
      break;
    case DType::I16:
      for (size_t i = 0; i < n; ++i) t.data[i] = load_le<int16_t>(p + 2 * i);
      break;
    case DType::I8:
      for (size_t i = 0; i < n; ++i) t.data[i] = static_cast<int8_t>(p[i]);
      break;
    case DType::U8:
    case DType::BOOL:
      for (size_t i = 0; i < n; ++i) t.data[i] = p[i];
      break;
    default:
      fail("'", path_, "': tensor '", name, "' has dtype ", dtype_name(e.dtype),
           ", expected an integer type (I64, I32)");
  }
  return t;
}

TensorI64 read_optional_like(const SafeTensors& st, const std::string& name, const Shape& like) {
  if (!st.has(name)) return TensorI64{};
  const Shape& shape = st.entry(name).shape;
  BB_CHECK(shape == like, "'", st.path(), "': ", name, " has shape ", to_string(shape), " but input_ids has ",
           to_string(like), " (give a tensor of input_ids' shape, or none)");
  return st.read_i64(name);
}

OutTensor OutTensor::f32(std::string name, Shape shape, const float* data) {
  OutTensor t{std::move(name), DType::F32, std::move(shape), {}};
  t.bytes.resize(static_cast<size_t>(numel(t.shape)) * 4);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}
OutTensor OutTensor::i64(std::string name, Shape shape, const int64_t* data) {
  OutTensor t{std::move(name), DType::I64, std::move(shape), {}};
  t.bytes.resize(static_cast<size_t>(numel(t.shape)) * 8);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}
OutTensor OutTensor::i32(std::string name, Shape shape, const int32_t* data) {
  OutTensor t{std::move(name), DType::I32, std::move(shape), {}};
  t.bytes.resize(static_cast<size_t>(numel(t.shape)) * 4);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& t : tensors) {
    BB_CHECK(t.bytes.size() == static_cast<size_t>(numel(t.shape)) * dtype_size(t.dtype), "tensor '", t.name,
             "': data size does not match shape ", to_string(t.shape));
    header[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');

  AtomicOutput out(path);  // a temporary file created exclusively beside `path`, renamed by commit()
  std::ostream& f = out.stream();
  uint64_t n = h.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  f.write(reinterpret_cast<const char*>(len), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& t : tensors)
    f.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  out.commit();
}

}  // namespace bigbird
