#include "core/torch_checkpoint.h"

#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/torch_pickle.h"

namespace bigbird {

namespace {

using pickle::Value;

// ---- bounds-checked little-endian reads ----------------------------------------------------------

struct Bytes {
  const uint8_t* p;
  uint64_t size;
  const std::string& name;

  // data[at, at + n) must lie inside the buffer.
  void need(uint64_t at, uint64_t n, const char* what) const {
    if (at > size || n > size - at)
      fail("'", name, "': truncated or corrupt file (", what, " at byte ", at, " runs past the end, ", size,
           " bytes)");
  }
  uint64_t le(uint64_t at, int n, const char* what) const {
    need(at, static_cast<uint64_t>(n), what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[at + static_cast<uint64_t>(i)]) << (8 * i);
    return v;
  }
};

// ---- zip (stored entries only) ------------------------------------------------------------------

struct ZipEntry {
  uint64_t data = 0;  // offset of the entry's bytes
  uint64_t size = 0;
};

// name -> entry, from the central directory. Only stored (method 0), unencrypted entries are
// accepted: torch.save never compresses.
std::map<std::string, ZipEntry> read_zip(const Bytes& b) {
  constexpr uint64_t kEocd = 22;
  if (b.size < kEocd) fail("'", b.name, "': truncated zip archive (", b.size, " bytes)");
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = b.size - kEocd > 65535 ? b.size - kEocd - 65535 : 0;
  for (uint64_t at = b.size - kEocd + 1; at-- > lowest;)
    if (b.le(at, 4, "end of central directory") == 0x06054b50u) {
      eocd = at;
      break;
    }
  if (eocd == UINT64_MAX)
    fail("'", b.name, "': truncated or corrupt zip archive (no end of central directory record)");
  uint64_t count = b.le(eocd + 10, 2, "entry count");
  uint64_t cd_size = b.le(eocd + 12, 4, "central directory size");
  uint64_t cd_off = b.le(eocd + 16, 4, "central directory offset");
  if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {  // zip64
    if (eocd < 20 || b.le(eocd - 20, 4, "zip64 locator") != 0x07064b50u)
      fail("'", b.name, "': corrupt zip64 archive (no zip64 end of central directory locator)");
    const uint64_t e64 = b.le(eocd - 20 + 8, 8, "zip64 record offset");
    if (b.le(e64, 4, "zip64 end of central directory") != 0x06064b50u)
      fail("'", b.name, "': corrupt zip64 archive (bad zip64 end of central directory record)");
    count = b.le(e64 + 32, 8, "zip64 entry count");
    cd_size = b.le(e64 + 40, 8, "zip64 central directory size");
    cd_off = b.le(e64 + 48, 8, "zip64 central directory offset");
  }
  b.need(cd_off, cd_size, "central directory");
  if (count > cd_size / 46) fail("'", b.name, "': corrupt zip archive (", count, " entries in ", cd_size, " bytes)");
  std::map<std::string, ZipEntry> out;
  uint64_t at = cd_off;
  const uint64_t end = cd_off + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - at < 46 || b.le(at, 4, "central directory entry") != 0x02014b50u)
      fail("'", b.name, "': corrupt zip archive (bad central directory entry ", i, ")");
    const uint64_t flags = b.le(at + 8, 2, "flags");
    const uint64_t method = b.le(at + 10, 2, "method");
    uint64_t csize = b.le(at + 20, 4, "compressed size");
    uint64_t usize = b.le(at + 24, 4, "size");
    const uint64_t nlen = b.le(at + 28, 2, "name length");
    const uint64_t xlen = b.le(at + 30, 2, "extra length");
    const uint64_t clen = b.le(at + 32, 2, "comment length");
    uint64_t local = b.le(at + 42, 4, "local header offset");
    if (end - at - 46 < nlen + xlen + clen) fail("'", b.name, "': corrupt zip archive (entry ", i, " overruns)");
    const std::string name(reinterpret_cast<const char*>(b.p + at + 46), static_cast<size_t>(nlen));
    // zip64 extra field: the 64-bit values of the fields that read 0xffffffff, in this order.
    for (uint64_t x = at + 46 + nlen, xend = x + xlen; xend - x >= 4;) {
      const uint64_t id = b.le(x, 2, "extra id"), len = b.le(x + 2, 2, "extra length");
      if (xend - x - 4 < len) break;
      if (id == 0x0001) {
        uint64_t f = x + 4, fend = f + len;
        auto next = [&](uint64_t& v) {
          if (v != 0xffffffffu) return;
          if (fend - f < 8) fail("'", b.name, "': corrupt zip64 extra field of '", name, "'");
          v = b.le(f, 8, "zip64 extra field");
          f += 8;
        };
        next(usize);
        next(csize);
        next(local);
      }
      x += 4 + len;
    }
    at += 46 + nlen + xlen + clen;
    if (flags & 1) fail("'", b.name, "': zip entry '", name, "' is encrypted");
    if (method != 0 || csize != usize)
      fail("'", b.name, "': zip entry '", name, "' is compressed (method ", method,
           "); torch.save stores entries uncompressed");
    if (b.le(local, 4, "local header") != 0x04034b50u)
      fail("'", b.name, "': corrupt zip archive (bad local header of '", name, "')");
    const uint64_t data = local + 30 + b.le(local + 26, 2, "name length") + b.le(local + 28, 2, "extra length");
    b.need(data, usize, "zip entry data");
    if (!out.emplace(name, ZipEntry{data, usize}).second)
      fail("'", b.name, "': corrupt zip archive (entry '", name, "' twice)");
  }
  return out;
}

// ---- tensors from the state dict ------------------------------------------------------------------

struct RawStorage {
  DType dtype;
  const uint8_t* data = nullptr;
  uint64_t numel = 0;  // elements present in the file
};

bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// The dict's tensors, checked against the storages (key -> bytes in the file).
std::vector<TorchTensorEntry> collect(const Value* root, const std::map<std::string, RawStorage>& storages,
                                      const std::string& name) {
  if (root->kind != Value::Kind::Dict)
    fail("'", name, "': the pickle holds a ", pickle::kind_name(root->kind), ", not a state dict of tensors");
  std::vector<TorchTensorEntry> out;
  for (const auto& [k, v] : root->dict) {
    if (k->kind != Value::Kind::Str) fail("'", name, "': a state dict key is a ", pickle::kind_name(k->kind));
    if (v->kind != Value::Kind::Tensor)
      fail("'", name, "': state dict entry '", k->s, "' is a ", pickle::kind_name(v->kind), ", not a tensor");
    const pickle::TensorRef& t = v->tensor;
    auto s = storages.find(t.storage.key);
    if (s == storages.end()) fail("'", name, "': tensor '", k->s, "': storage '", t.storage.key, "' is missing");
    if (s->second.dtype != t.storage.dtype)
      fail("'", name, "': tensor '", k->s, "': storage '", t.storage.key, "' is used with two dtypes");
    TorchTensorEntry e;
    e.name = k->s;
    e.dtype = t.storage.dtype;
    e.shape = t.size;
    e.stride = t.stride;
    e.offset = t.offset;
    e.storage = s->second.data;
    e.storage_numel = s->second.numel;
    if (e.offset < 0) fail("'", name, "': tensor '", e.name, "' has storage offset ", e.offset);
    uint64_t n = 1, last = static_cast<uint64_t>(e.offset);
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (e.shape[d] < 0 || e.stride[d] < 0)
        fail("'", name, "': tensor '", e.name, "' has size ", to_string(e.shape), " and stride ",
             to_string(e.stride), " (negative values are not supported)");
      if (!mul_ok(n, static_cast<uint64_t>(e.shape[d]), &n) || n > (1ull << 48))
        fail("'", name, "': tensor '", e.name, "' has too many elements ", to_string(e.shape));
    }
    if (n > e.storage_numel)
      fail("'", name, "': tensor '", e.name, "' has ", n, " elements, more than its storage '", t.storage.key,
           "' (", e.storage_numel, "): overlapping views are not supported");
    if (n > 0) {
      for (size_t d = 0; d < e.shape.size(); ++d) {
        uint64_t span;
        if (!mul_ok(static_cast<uint64_t>(e.shape[d] - 1), static_cast<uint64_t>(e.stride[d]), &span) ||
            __builtin_add_overflow(last, span, &last))
          fail("'", name, "': tensor '", e.name, "' overflows its storage");
      }
      if (last >= e.storage_numel)
        fail("'", name, "': tensor '", e.name, "' (size ", to_string(e.shape), ", stride ", to_string(e.stride),
             ", offset ", e.offset, ") reaches element ", last, " of storage '", t.storage.key, "', which has ",
             e.storage_numel);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<TorchTensorEntry> parse_zip(const Bytes& b) {
  const auto entries = read_zip(b);
  std::string prefix;
  int found = 0;
  for (const auto& [n, e] : entries) {
    const std::string tail = "data.pkl";
    if (n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0 &&
        (n.size() == tail.size() || n[n.size() - tail.size() - 1] == '/')) {
      prefix = n.substr(0, n.size() - tail.size());
      ++found;
    }
  }
  if (found != 1)
    fail("'", b.name, "': not a torch.save archive (", found == 0 ? "no" : "more than one", " data.pkl entry)");
  auto bo = entries.find(prefix + "byteorder");
  if (bo != entries.end()) {
    const std::string order(reinterpret_cast<const char*>(b.p + bo->second.data), static_cast<size_t>(bo->second.size));
    if (order != "little")
      fail("'", b.name, "': byteorder '", order.substr(0, 16), "': only little-endian checkpoints are supported");
  }
  const ZipEntry& pk = entries.at(prefix + "data.pkl");
  const pickle::Document doc = pickle::load(b.p + pk.data, static_cast<size_t>(pk.size), b.name);
  // The storages the tensors name: prefix/data/<key>, whose size bounds each tensor.
  std::map<std::string, RawStorage> storages;
  if (doc.root->kind == Value::Kind::Dict)
    for (const auto& kv : doc.root->dict)
      if (kv.second->kind == Value::Kind::Tensor) {
        const auto& s = kv.second->tensor.storage;
        if (storages.count(s.key)) continue;
        auto z = entries.find(prefix + "data/" + s.key);
        if (z == entries.end()) fail("'", b.name, "': storage '", s.key, "' has no entry in the archive");
        uint64_t bytes;
        if (!mul_ok(static_cast<uint64_t>(s.numel), dtype_size(s.dtype), &bytes) || bytes > z->second.size)
          fail("'", b.name, "': storage '", s.key, "' holds ", z->second.size, " bytes, fewer than its ", s.numel, " ",
               dtype_name(s.dtype), " elements");
        storages[s.key] = RawStorage{s.dtype, b.p + z->second.data, static_cast<uint64_t>(s.numel)};
      }
  return collect(doc.root, storages, b.name);
}

std::vector<TorchTensorEntry> parse_legacy(const Bytes& b) {
  // 0x1950a86a20f9469cfc6c, little-endian.
  static const uint8_t kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  uint64_t at = 0;
  auto next = [&](const char* what) {
    if (at >= b.size) fail("'", b.name, "': truncated file (ends before the ", what, ")");
    pickle::Document d = pickle::load(b.p + at, static_cast<size_t>(b.size - at), b.name);
    at += d.consumed;
    return d;
  };
  if (b.size < 2 || b.p[0] != 0x80)
    fail("'", b.name, "': not a PyTorch checkpoint (neither a zip archive nor torch.save's legacy format)");
  const auto magic = next("magic number");
  if (magic.root->kind != Value::Kind::BigInt || magic.root->s.size() != sizeof kMagic ||
      std::memcmp(magic.root->s.data(), kMagic, sizeof kMagic) != 0)
    fail("'", b.name, "': not a PyTorch checkpoint (bad magic number of the legacy format)");
  const auto proto = next("protocol version");
  if (proto.root->kind != Value::Kind::Int || proto.root->i != 1001)
    fail("'", b.name, "': unsupported legacy protocol version (expected 1001)");
  const auto sys = next("sys_info");
  if (sys.root->kind == Value::Kind::Dict)
    for (const auto& [k, v] : sys.root->dict)
      if (k->kind == Value::Kind::Str && k->s == "little_endian" && v->kind == Value::Kind::Bool && !v->b)
        fail("'", b.name, "': a big-endian checkpoint: only little-endian checkpoints are supported");
  const auto main = next("state dict");
  const auto keys = next("storage keys");
  if (keys.root->kind != Value::Kind::List) fail("'", b.name, "': the storage key list is a ", pickle::kind_name(keys.root->kind));
  // Each key's dtype, from the tensors that use it.
  std::map<std::string, DType> dtypes;
  if (main.root->kind == Value::Kind::Dict)
    for (const auto& kv : main.root->dict)
      if (kv.second->kind == Value::Kind::Tensor) dtypes[kv.second->tensor.storage.key] = kv.second->tensor.storage.dtype;
  std::map<std::string, RawStorage> storages;
  for (const Value* k : keys.root->items) {
    if (k->kind != Value::Kind::Str) fail("'", b.name, "': a storage key is a ", pickle::kind_name(k->kind));
    auto d = dtypes.find(k->s);
    if (d == dtypes.end()) fail("'", b.name, "': storage '", k->s, "' is used by no tensor");
    const uint64_t numel = b.le(at, 8, "storage size");
    uint64_t bytes;
    if (!mul_ok(numel, dtype_size(d->second), &bytes))
      fail("'", b.name, "': storage '", k->s, "' claims ", numel, " elements");
    b.need(at + 8, bytes, "storage data");
    if (!storages.emplace(k->s, RawStorage{d->second, b.p + at + 8, numel}).second)
      fail("'", b.name, "': storage '", k->s, "' listed twice");
    at += 8 + bytes;
  }
  return collect(main.root, storages, b.name);
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // x86-64 and aarch64 are little-endian, as the files are
  return v;
}

// Calls f(i, storage_index) for every element of `e` in row-major order.
template <typename F>
void for_each_element(const TorchTensorEntry& e, F f) {
  const int64_t n = numel(e.shape);
  if (n == 0) return;
  if (e.contiguous()) {
    for (int64_t i = 0; i < n; ++i) f(i, e.offset + i);
    return;
  }
  const size_t nd = e.shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t pos = e.offset;
  for (int64_t i = 0; i < n; ++i) {
    f(i, pos);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < e.shape[d]) {
        pos += e.stride[d];
        break;
      }
      pos -= (e.shape[d] - 1) * e.stride[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

bool TorchTensorEntry::contiguous() const {
  int64_t expect = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && stride[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

TorchCheckpoint TorchCheckpoint::parse(const uint8_t* data, size_t size, const std::string& name) {
  if (!data && size) fail("'", name, "': no data");
  const Bytes b{data, size, name};
  TorchCheckpoint c;
  c.path_ = name;
  if (size >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4)
    c.entries_ = parse_zip(b);
  else
    c.entries_ = parse_legacy(b);
  for (size_t i = 0; i < c.entries_.size(); ++i)
    if (!c.index_.emplace(c.entries_[i].name, i).second)
      fail("'", name, "': tensor '", c.entries_[i].name, "' appears twice");
  return c;
}

TorchCheckpoint TorchCheckpoint::open(const std::string& path) {
  auto m = std::make_shared<MappedFile>(path);
  TorchCheckpoint c = parse(m->data(), static_cast<size_t>(m->size()), path);
  c.keep_ = m;
  return c;
}

const TorchTensorEntry& TorchCheckpoint::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("'", path_, "': no tensor '", name, "'");
  return entries_[it->second];
}

std::vector<std::string> TorchCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

Tensor TorchCheckpoint::read_f32(const std::string& name) const {
  const TorchTensorEntry& e = entry(name);
  Tensor t(e.shape);
  float* o = t.ptr();
  const uint8_t* s = e.storage;
  switch (e.dtype) {
    case DType::F32:
      if (e.contiguous() && !t.data.empty()) {
        std::memcpy(o, s + 4 * e.offset, t.data.size() * 4);
        break;
      }
      for_each_element(e, [&](int64_t i, int64_t j) { o[i] = load_le<float>(s + 4 * j); });
      break;
    case DType::F16:
      for_each_element(e, [&](int64_t i, int64_t j) { o[i] = half_to_float(load_le<uint16_t>(s + 2 * j)); });
      break;
    case DType::BF16:
      for_each_element(e, [&](int64_t i, int64_t j) { o[i] = bf16_to_float(load_le<uint16_t>(s + 2 * j)); });
      break;
    case DType::F64:
      for_each_element(e, [&](int64_t i, int64_t j) { o[i] = static_cast<float>(load_le<double>(s + 8 * j)); });
      break;
    default:
      fail("'", path_, "': tensor '", name, "' has dtype ", dtype_name(e.dtype), ", not a floating-point type");
  }
  return t;
}

TensorI64 TorchCheckpoint::read_i64(const std::string& name) const {
  const TorchTensorEntry& e = entry(name);
  TensorI64 t(e.shape);
  int64_t* o = t.data.data();
  const uint8_t* s = e.storage;
  switch (e.dtype) {
    case DType::I64: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = load_le<int64_t>(s + 8 * j); }); break;
    case DType::I32: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = load_le<int32_t>(s + 4 * j); }); break;
    case DType::I16: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = load_le<int16_t>(s + 2 * j); }); break;
    case DType::I8: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = static_cast<int8_t>(s[j]); }); break;
    case DType::U8: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = s[j]; }); break;
    case DType::BOOL: for_each_element(e, [&](int64_t i, int64_t j) { o[i] = s[j] != 0; }); break;
    default:
      fail("'", path_, "': tensor '", name, "' has dtype ", dtype_name(e.dtype), ", not an integer type");
  }
  return t;
}

size_t check_torch_checkpoint_bytes(const uint8_t* data, size_t size) {
  const TorchCheckpoint c = TorchCheckpoint::parse(data, size, "<memory>");
  for (const auto& n : c.names()) {
    const DType d = c.entry(n).dtype;
    if (d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64)
      c.read_f32(n);
    else
      c.read_i64(n);
  }
  return c.names().size();
}

}  // namespace bigbird
