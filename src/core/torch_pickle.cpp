#include "core/torch_pickle.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace bigbird::pickle {

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::BigInt: return "big int";
    case Value::Kind::Float: return "float";
    case Value::Kind::Str: return "str";
    case Value::Kind::Bytes: return "bytes";
    case Value::Kind::Tuple: return "tuple";
    case Value::Kind::List: return "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Global: return "global";
    case Value::Kind::Storage: return "storage";
    case Value::Kind::Tensor: return "tensor";
  }
  return "?";
}

namespace {

constexpr size_t kMaxStack = 1u << 20;  // values on the stack (marks included)
constexpr size_t kMaxMarks = 1u << 16;
constexpr size_t kMaxDims = 64;

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", DType::F32}, {"torch.HalfStorage", DType::F16},  {"torch.BFloat16Storage", DType::BF16},
    {"torch.DoubleStorage", DType::F64}, {"torch.LongStorage", DType::I64}, {"torch.IntStorage", DType::I32},
    {"torch.ShortStorage", DType::I16},  {"torch.CharStorage", DType::I8},  {"torch.ByteStorage", DType::U8},
    {"torch.BoolStorage", DType::BOOL},
};

// The globals a pickle may name (storage types above, too). Anything else is refused.
constexpr const char* kAllowedGlobals[] = {
    "collections.OrderedDict",         "torch._utils._rebuild_tensor_v2",  "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2", "torch.Tensor",              "torch.nn.parameter.Parameter",
};

bool storage_dtype(const std::string& global, DType* out) {
  for (const auto& t : kStorageTypes)
    if (global == t.name) {
      *out = t.dtype;
      return true;
    }
  return false;
}

bool allowed_global(const std::string& g) {
  DType d;
  if (storage_dtype(g, &d)) return true;
  for (const char* a : kAllowedGlobals)
    if (g == a) return true;
  return false;
}

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, const std::string& name) : p_(data), size_(size), name_(name) {}

  Document run() {
    Document doc;
    arena_ = &doc.arena;
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = u8();
      if (step(op, at)) break;
    }
    if (stack_.size() != 1 || stack_[0] == nullptr) bad("STOP with ", stack_.size(), " values on the stack");
    doc.root = stack_[0];
    doc.consumed = pos_;
    return doc;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  const std::string& name_;
  size_t pos_ = 0;
  std::vector<std::unique_ptr<Value>>* arena_ = nullptr;
  std::vector<Value*> stack_;  // nullptr: a MARK
  size_t marks_ = 0;
  std::unordered_map<uint64_t, Value*> memo_;

  template <typename... A>
  [[noreturn]] void bad(const A&... a) {
    fail("'", name_, "': bad pickle at byte ", pos_, ": ", a...);
  }

  void need(uint64_t n) {
    if (n > size_ - pos_) fail("'", name_, "': truncated pickle (needs ", n, " more bytes at byte ", pos_, ")");
  }
  uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  uint64_t uint_le(int n) {
    need(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p_[pos_ + static_cast<size_t>(i)]) << (8 * i);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', size_ - pos_);
    if (!nl) fail("'", name_, "': truncated pickle (unterminated GLOBAL at byte ", pos_, ")");
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (p_ + pos_));
    if (len > 256) bad("GLOBAL name longer than 256 bytes");
    std::string s = bytes(len);
    ++pos_;
    return s;
  }

  Value* make(Value::Kind k) {
    arena_->push_back(std::make_unique<Value>());
    arena_->back()->kind = k;
    return arena_->back().get();
  }
  void push(Value* v) {
    if (stack_.size() >= kMaxStack) bad("more than ", kMaxStack, " values on the stack");
    stack_.push_back(v);
  }
  Value* pop() {
    if (stack_.empty() || stack_.back() == nullptr) bad("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || stack_.back() == nullptr) bad("stack underflow");
    return stack_.back();
  }
  // The values above the topmost MARK (removed with the mark).
  std::vector<Value*> pop_mark() {
    size_t m = stack_.size();
    while (m > 0 && stack_[m - 1] != nullptr) --m;
    if (m == 0) bad("no MARK on the stack");
    std::vector<Value*> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m - 1);
    --marks_;
    return out;
  }
  Value* tuple(std::vector<Value*> items) {
    Value* t = make(Value::Kind::Tuple);
    t->items.assign(items.begin(), items.end());
    return t;
  }
  Value* str(Value::Kind k, std::string s) {
    Value* v = make(k);
    v->s = std::move(s);
    return v;
  }
  Value* integer(int64_t i) {
    Value* v = make(Value::Kind::Int);
    v->i = i;
    return v;
  }
  void set_item(Value* d, Value* k, Value* v) {
    if (d->kind != Value::Kind::Dict) bad("SETITEM on a ", kind_name(d->kind));
    d->dict.emplace_back(k, v);
  }
  void put(uint64_t idx) { memo_[idx] = top(); }
  Value* get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad("memo index ", idx, " was never stored");
    return it->second;
  }
  Value* global(const std::string& module, const std::string& nm) {
    const std::string g = module + "." + nm;
    if (!allowed_global(g))
      fail("'", name_, "': the pickle refers to the global '", g,
           "', which torch.save never writes for tensors: refused (nothing was executed)");
    return str(Value::Kind::Global, g);
  }

  static int64_t as_int(const Value* v, const char* what, Machine& m) {
    if (v->kind != Value::Kind::Int) m.bad(what, " is a ", kind_name(v->kind), ", not an int");
    return v->i;
  }
  std::vector<int64_t> int_tuple(const Value* v, const char* what) {
    if (v->kind != Value::Kind::Tuple && v->kind != Value::Kind::List) bad(what, " is a ", kind_name(v->kind));
    if (v->items.size() > kMaxDims) bad(what, " has more than ", kMaxDims, " dimensions");
    std::vector<int64_t> out;
    for (const Value* x : v->items) out.push_back(as_int(x, what, *this));
    return out;
  }

  Value* rebuild_tensor(const Value* args, bool v2) {
    if (args->kind != Value::Kind::Tuple) bad("tensor arguments are a ", kind_name(args->kind));
    const auto& a = args->items;
    if (v2 ? (a.size() < 6 || a.size() > 7) : a.size() != 4)
      bad(v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor", " with ", a.size(), " arguments");
    if (a[0]->kind != Value::Kind::Storage) bad("a tensor's storage is a ", kind_name(a[0]->kind));
    Value* t = make(Value::Kind::Tensor);
    t->tensor.storage = a[0]->storage;
    t->tensor.offset = as_int(a[1], "storage offset", *this);
    t->tensor.size = int_tuple(a[2], "tensor size");
    t->tensor.stride = int_tuple(a[3], "tensor stride");
    if (t->tensor.size.size() != t->tensor.stride.size())
      bad("tensor size ", t->tensor.size.size(), "-d but stride ", t->tensor.stride.size(), "-d");
    if (v2 && a[4]->kind != Value::Kind::Bool) bad("requires_grad is a ", kind_name(a[4]->kind));
    return t;
  }

  Value* reduce(const Value* fn, const Value* args) {
    if (fn->kind != Value::Kind::Global) bad("REDUCE calls a ", kind_name(fn->kind));
    if (args->kind != Value::Kind::Tuple) bad("REDUCE arguments are a ", kind_name(args->kind));
    const std::string& g = fn->s;
    const auto& a = args->items;
    if (g == "collections.OrderedDict") {
      if (!a.empty()) bad("OrderedDict with arguments");
      return make(Value::Kind::Dict);
    }
    if (g == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, true);
    if (g == "torch._utils._rebuild_tensor") return rebuild_tensor(args, false);
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      if (a.size() < 3 || a[0]->kind != Value::Kind::Tensor) bad(g, " without a tensor");
      return const_cast<Value*>(a[0]);
    }
    if (g == "torch._tensor._rebuild_from_type_v2") {
      if (a.size() != 4 || a[0]->kind != Value::Kind::Global || a[1]->kind != Value::Kind::Global)
        bad("_rebuild_from_type_v2 with unexpected arguments");
      if (a[1]->s != "torch.Tensor" && a[1]->s != "torch.nn.parameter.Parameter")
        bad("_rebuild_from_type_v2 to type '", a[1]->s, "'");
      if (a[0]->s == "torch._tensor._rebuild_from_type_v2") bad("nested _rebuild_from_type_v2");
      return reduce(a[0], a[2]);
    }
    bad("'", g, "' is not callable here");
  }

  // Executes one opcode; true at STOP.
  bool step(uint8_t op, size_t at) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t v = u8();
        if (v < 2 || v > 5) bad("pickle protocol ", int(v), " (torch.save writes 2)");
        return false;
      }
      case 0x95: uint_le(8); return false;  // FRAME: a hint, the data follow inline
      case '(':
        if (++marks_ > kMaxMarks) bad("more than ", kMaxMarks, " nested MARKs");
        push(nullptr);
        return false;
      case '.':
        return true;
      case '0': pop(); return false;  // POP
      case '1': pop_mark(); return false;  // POP_MARK
      case 'N': push(make(Value::Kind::None)); return false;
      case 0x88:
      case 0x89: {
        Value* v = make(Value::Kind::Bool);
        v->b = op == 0x88;
        push(v);
        return false;
      }
      case 'J': push(integer(static_cast<int32_t>(static_cast<uint32_t>(uint_le(4))))); return false;
      case 'K': push(integer(static_cast<int64_t>(uint_le(1)))); return false;
      case 'M': push(integer(static_cast<int64_t>(uint_le(2)))); return false;
      case 0x8a: {  // LONG1: n bytes, little-endian two's complement
        const uint8_t n = u8();
        if (n > 8) {  // a big integer (the legacy format's magic number): its bytes, little-endian
          push(str(Value::Kind::BigInt, bytes(n)));
          return false;
        }
        uint64_t v = n ? uint_le(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
        push(integer(static_cast<int64_t>(v)));
        return false;
      }
      case 'G': {  // BINFLOAT: big-endian double
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p_[pos_ + static_cast<size_t>(i)];
        pos_ += 8;
        Value* v = make(Value::Kind::Float);
        std::memcpy(&v->f, &bits, 8);
        push(v);
        return false;
      }
      case 'X': push(str(Value::Kind::Str, bytes(uint_le(4)))); return false;    // BINUNICODE
      case 0x8c: push(str(Value::Kind::Str, bytes(uint_le(1)))); return false;   // SHORT_BINUNICODE
      case 0x8d: push(str(Value::Kind::Str, bytes(uint_le(8)))); return false;   // BINUNICODE8
      case 'T': push(str(Value::Kind::Str, bytes(uint_le(4)))); return false;    // BINSTRING
      case 'U': push(str(Value::Kind::Str, bytes(uint_le(1)))); return false;    // SHORT_BINSTRING
      case 'B': push(str(Value::Kind::Bytes, bytes(uint_le(4)))); return false;  // BINBYTES
      case 'C': push(str(Value::Kind::Bytes, bytes(uint_le(1)))); return false;  // SHORT_BINBYTES
      case 0x8e: push(str(Value::Kind::Bytes, bytes(uint_le(8)))); return false;  // BINBYTES8
      case ')': push(make(Value::Kind::Tuple)); return false;
      case 't': push(tuple(pop_mark())); return false;
      case 0x85: {
        Value* a = pop();
        push(tuple({a}));
        return false;
      }
      case 0x86: {
        Value* b = pop();
        Value* a = pop();
        push(tuple({a, b}));
        return false;
      }
      case 0x87: {
        Value* c = pop();
        Value* b = pop();
        Value* a = pop();
        push(tuple({a, b, c}));
        return false;
      }
      case ']': push(make(Value::Kind::List)); return false;
      case 'a': {
        Value* v = pop();
        Value* l = top();
        if (l->kind != Value::Kind::List) bad("APPEND to a ", kind_name(l->kind));
        l->items.push_back(v);
        return false;
      }
      case 'e': {
        auto vs = pop_mark();
        Value* l = top();
        if (l->kind != Value::Kind::List) bad("APPENDS to a ", kind_name(l->kind));
        l->items.insert(l->items.end(), vs.begin(), vs.end());
        return false;
      }
      case '}': push(make(Value::Kind::Dict)); return false;
      case 's': {
        Value* v = pop();
        Value* k = pop();
        set_item(top(), k, v);
        return false;
      }
      case 'u': {
        auto kv = pop_mark();
        if (kv.size() % 2) bad("SETITEMS with an odd number of values");
        Value* d = top();
        for (size_t i = 0; i < kv.size(); i += 2) set_item(d, kv[i], kv[i + 1]);
        return false;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        const std::string nm = line();
        push(global(module, nm));
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* nm = pop();
        Value* module = pop();
        if (module->kind != Value::Kind::Str || nm->kind != Value::Kind::Str) bad("STACK_GLOBAL of non-strings");
        push(global(module->s, nm->s));
        return false;
      }
      case 'R': {
        Value* args = pop();
        Value* fn = pop();
        push(reduce(fn, args));
        return false;
      }
      case 'b': {  // BUILD: the state of an OrderedDict (its _metadata) or tensor is not needed
        pop();
        Value* obj = top();
        if (obj->kind != Value::Kind::Dict && obj->kind != Value::Kind::Tensor) bad("BUILD on a ", kind_name(obj->kind));
        return false;
      }
      case 'Q': push(persistent(pop())); return false;  // BINPERSID
      case 'q': put(uint_le(1)); return false;           // BINPUT
      case 'r': put(uint_le(4)); return false;           // LONG_BINPUT
      case 0x94: put(memo_.size()); return false;        // MEMOIZE
      case 'h': push(get(uint_le(1))); return false;     // BINGET
      case 'j': push(get(uint_le(4))); return false;     // LONG_BINGET
      default:
        pos_ = at;
        bad("opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15],
            " is not one that torch.save writes: refused");
    }
  }

  // ('storage', torch.<T>Storage, key, location, numel[, view_metadata]) -> a storage reference.
  Value* persistent(const Value* pid) {
    if (pid->kind != Value::Kind::Tuple || pid->items.size() < 5 || pid->items.size() > 6)
      bad("persistent id is not a torch storage tuple");
    const auto& a = pid->items;
    if (a[0]->kind != Value::Kind::Str || a[0]->s != "storage") bad("persistent id is not a torch storage");
    Value* v = make(Value::Kind::Storage);
    if (a[1]->kind != Value::Kind::Global || !storage_dtype(a[1]->s, &v->storage.dtype))
      bad("persistent id with storage type ", a[1]->kind == Value::Kind::Global ? a[1]->s : kind_name(a[1]->kind));
    if (a[2]->kind != Value::Kind::Str) bad("storage key is a ", kind_name(a[2]->kind));
    v->storage.key = a[2]->s;
    v->storage.numel = as_int(a[4], "storage size", *this);
    if (v->storage.numel < 0) bad("storage size ", v->storage.numel);
    if (a.size() == 6 && a[5]->kind != Value::Kind::None) bad("storage views (PyTorch < 0.4) are not supported");
    return v;
  }
};

}  // namespace

Document load(const uint8_t* data, size_t size, const std::string& name) {
  if (!data && size) fail("'", name, "': no data");
  Machine m(data, size, name);
  return m.run();
}

}  // namespace bigbird::pickle
