#include "layers/linear.h"

#include <mutex>
#include <vector>

#include "core/error.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/linear.h"

namespace bigbird {

struct Linear::PackedCache {
  std::once_flag bf16_once, int8_once;
  PackedWeightBf16 bf16;
  PackedWeightInt8 int8;
};

Linear::Linear(ConstView w, ConstView b, FewRows few_rows)
    : w_(w), b_(b), few_rows_(few_rows), packed_(std::make_shared<PackedCache>()) {}

const PackedWeightBf16& Linear::packed_bf16(const ThreadingContext& ctx) const {
  std::call_once(packed_->bf16_once, [&] { packed_->bf16 = pack_weight_bf16(ctx, w_.data, out(), in()); });
  return packed_->bf16;
}

const PackedWeightInt8& Linear::packed_int8(const ThreadingContext& ctx) const {
  std::call_once(packed_->int8_once, [&] { packed_->int8 = pack_weight_int8(ctx, w_.data, out(), in()); });
  return packed_->int8;
}

void Linear::prepare(const Compute& c) const {
  if (c.matmul == MatMul::BF16) packed_bf16(c.ctx);
  if (c.matmul == MatMul::Int8) packed_int8(c.ctx);
}

void Linear::run(const Compute& c, const float* x, int64_t rows, float* y, const float* bias, bool acc) const {
  switch (c.matmul) {
    case MatMul::Reference: {
      if (!acc) return linear_ref(x, rows, in(), w_.data, bias, out(), y);
      std::vector<float> t(static_cast<size_t>(rows * out()));
      linear_ref(x, rows, in(), w_.data, bias, out(), t.data());
      for (size_t i = 0; i < t.size(); ++i) y[i] += t[i];
      return;
    }
    case MatMul::BF16: return linear_bf16(c.ctx, x, rows, packed_bf16(c.ctx), bias, y, acc);
    case MatMul::Int8: return linear_int8(c.ctx, x, rows, packed_int8(c.ctx), bias, y, acc);
    case MatMul::F32:
      if (few_rows_ == FewRows::MatVec && rows <= 2)
        return linear_matvec(c.ctx, x, rows, in(), w_.data, bias, out(), y, acc);
      if (acc) return linear_accumulate(c.ctx, x, rows, in(), w_.data, bias, out(), y);
      return linear(c.ctx, x, rows, in(), w_.data, bias, out(), y);
  }
}

void Linear::forward(const Compute& c, const float* x, int64_t rows, float* y, Bias bias) const {
  run(c, x, rows, y, bias == Bias::Add ? b_.data : nullptr, false);
}

void Linear::accumulate(const Compute& c, const float* x, int64_t rows, float* y) const {
  run(c, x, rows, y, b_.data, true);
}

void Linear::backward(const Compute& c, const float* x, int64_t rows, const float* dy, float* dx, float* dW,
                      float* db) const {
  if (c.reference()) return linear_backward_ref(x, rows, in(), w_.data, out(), dy, dx, dW, b_.data ? db : nullptr);
  linear_backward(c.ctx, x, rows, in(), w_.data, out(), dy, dx, dW, b_.data ? db : nullptr);
}

Tensor Linear::operator()(const Compute& c, const Tensor& x) const {
  BB_CHECK(!x.shape.empty() && x.shape.back() == in(), "linear layer of input width ", in(), " applied to ",
           to_string(x.shape));
  Shape s = x.shape;
  s.back() = out();
  Tensor y(s);
  forward(c, x.ptr(), x.size() / in(), y.ptr());
  return y;
}

void forward_many(const Compute& c, const float* x, int64_t rows,
                  std::initializer_list<std::pair<const Linear*, float*>> layers) {
  std::vector<LinearJob> jobs;
  for (const auto& [l, y] : layers) {
    if (!l->tiled_f32(c, rows)) {
      l->forward(c, x, rows, y);
      continue;
    }
    jobs.push_back({x, l->in(), l->weight().data, l->bias().data, l->out(), y, false});
  }
  linear_many(c.ctx, rows, jobs.data(), static_cast<int>(jobs.size()));
}

void backward_many(const Compute& c, int64_t rows, std::initializer_list<LinearGrad> grads) {
  std::vector<LinearBackwardJob> jobs;
  for (const LinearGrad& g : grads) {
    const Linear& l = *g.layer;
    if (c.reference()) {
      l.backward(c, g.x, rows, g.dy, g.dx, g.dW, g.db);
      continue;
    }
    jobs.push_back({g.x, l.in(), l.weight().data, l.out(), g.dy, g.dx, g.dW, l.bias().data ? g.db : nullptr});
  }
  linear_backward_many(c.ctx, rows, jobs.data(), static_cast<int>(jobs.size()));
}

}  // namespace bigbird
