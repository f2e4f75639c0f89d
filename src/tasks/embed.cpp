#include "tasks/embed.h"

#include <limits>

namespace bigbird::tasks {

EmbedTask::EmbedTask(const TaskModel& tm, EmbedOptions options)
    : Task(tm), options_(std::move(options)), long_(tm, options_.long_input, "embed", true) {
  const std::string& p = options_.pooling;
  BB_CHECK(p == "mean" || p == "cls" || p == "pooler", "unknown pooling '", p, "' (expected mean, cls or pooler)");
  if (p == "pooler") tm.require(tm.model().has_pooler(), "embed --pooling pooler", "pooler");
}

std::unique_ptr<Item> EmbedTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.text, "the text");
  if (in.text_pair) check_text(*in.text_pair, "the text pair");

  // HF's default call: no token types.
  return long_.prepare_pooled(in.text, in.text_pair ? std::optional<std::string_view>(*in.text_pair) : std::nullopt,
                              opt);
}

Tensor EmbedTask::head(const Tensor& seq, const EncoderRow&, const ThreadingContext& ctx) const {
  const int64_t L = seq.dim(1), H = seq.dim(2);
  Tensor v(Shape{H});
  if (options_.pooling == "pooler") {
    Tensor first(Shape{1, 1, H});
    std::copy_n(seq.ptr(), H, first.ptr());
    Tensor p = tm_.model().pooler(first, ctx);
    std::copy_n(p.ptr(), H, v.ptr());
  } else if (options_.pooling == "cls") {
    std::copy_n(seq.ptr(), H, v.ptr());
  } else {
    std::vector<double> acc(static_cast<size_t>(H), 0.0);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t j = 0; j < H; ++j) acc[static_cast<size_t>(j)] += seq.data[static_cast<size_t>(t * H + j)];
    for (int64_t j = 0; j < H; ++j)
      v.data[static_cast<size_t>(j)] = static_cast<float>(acc[static_cast<size_t>(j)] / L);
  }
  return v;
}

json EmbedTask::finish(const Item& item) const {
  json out = json::array();
  for (float x : static_cast<const PooledItem&>(item).result().data) out.push_back(static_cast<double>(x));
  return out;
}

json EmbedTask::finish_strands(const Item& forward, const Item& reverse) const {
  const Tensor a = static_cast<const PooledItem&>(forward).result();
  const Tensor b = static_cast<const PooledItem&>(reverse).result();
  json out = json::array();
  for (size_t i = 0; i < a.data.size(); ++i)
    out.push_back(static_cast<double>(static_cast<float>((static_cast<double>(a.data[i]) + b.data[i]) / 2)));
  return out;
}

void NpyWriter::write(const json& answer) {
  BB_CHECK(answer.is_array() && static_cast<int64_t>(answer.size()) == dim_, "embedding of size ", answer.size(),
           ", expected ", dim_);
  for (const auto& x : answer) data_.push_back(static_cast<float>(x.get<double>()));
}

void NpyWriter::write_error(const std::string&) {
  data_.insert(data_.end(), static_cast<size_t>(dim_), std::numeric_limits<float>::quiet_NaN());
}

void NpyWriter::finish() {
  const int64_t rows = dim_ > 0 ? static_cast<int64_t>(data_.size()) / dim_ : 0;
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(dim_) + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  out_.write("\x93NUMPY\x01\x00", 8);
  const uint16_t n = static_cast<uint16_t>(header.size());
  const char len[2] = {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8)};
  out_.write(len, 2);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
  out_.write(reinterpret_cast<const char*>(data_.data()), static_cast<std::streamsize>(data_.size() * sizeof(float)));
}

}  // namespace bigbird::tasks
