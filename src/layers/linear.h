// A fully connected layer, y = x·Wᵀ + b (W [out, in], PyTorch's convention), and the one place
// that decides how it is computed: float32 BLAS, bf16 or int8 (weights packed once, on first use,
// for the CPU's matrix unit), the scalar reference, or one matrix-vector product per row for the
// one or two rows of a decoder step.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>

#include "core/tensor.h"
#include "layers/types.h"

namespace bigbird {

struct PackedWeightBf16;
struct PackedWeightInt8;

class Linear {
 public:
  // When a call has few rows (one or two: a decoder step), `few_rows` says how to multiply.
  enum class FewRows {
    Gemm,    // as any other call (the encoders: their bits do not depend on the row count)
    MatVec,  // one sgemv per row (decoders: sgemm would pack all of W for every step)
  };

  Linear() = default;
  Linear(ConstView w, ConstView b, FewRows few_rows = FewRows::Gemm);

  int64_t out() const { return w_.dim(0); }
  int64_t in() const { return w_.dim(1); }
  const ConstView& weight() const { return w_; }
  const ConstView& bias() const { return b_; }  // empty when the layer has none

  enum class Bias { Add, Skip };  // Skip: the caller fuses the bias into a later op
  // y = x·Wᵀ (+ b); x [rows, in], y [rows, out].
  void forward(const Compute& c, const float* x, int64_t rows, float* y, Bias bias = Bias::Add) const;
  // y += x·Wᵀ + b (a residual connection).
  void accumulate(const Compute& c, const float* x, int64_t rows, float* y) const;
  // Backward over `rows` rows of x (the forward's input) given dy: dx = dy·W (written; null:
  // skipped); dW += dyᵀ·x and db += Σ dy into the given buffers (null: skipped).
  void backward(const Compute& c, const float* x, int64_t rows, const float* dy, float* dx, float* dW, float* db) const;
  // The layer over the last dimension of x: [..., in] -> [..., out].
  Tensor operator()(const Compute& c, const Tensor& x) const;

  // Whether a call of `rows` rows runs the tiled float32 sgemm of kernels/linear.h (what
  // forward_many and backward_many batch together).
  bool tiled_f32(const Compute& c, int64_t rows) const {
    return c.matmul == MatMul::F32 && !(few_rows_ == FewRows::MatVec && rows <= 2);
  }

  // Packs the weights c.matmul multiplies (bf16 or int8) now rather than on first use (e.g.
  // before timing); nothing for float32. Thread-safe.
  void prepare(const Compute& c) const;

 private:
  void run(const Compute& c, const float* x, int64_t rows, float* y, const float* bias, bool accumulate) const;
  const PackedWeightBf16& packed_bf16(const ThreadingContext& ctx) const;
  const PackedWeightInt8& packed_int8(const ThreadingContext& ctx) const;

  ConstView w_, b_;
  FewRows few_rows_ = FewRows::Gemm;
  struct PackedCache;
  std::shared_ptr<PackedCache> packed_;  // shared by copies of this layer
};

// Several layers on the same input: y_i = x·W_iᵀ + b_i. On the tiled float32 path one parallel
// region runs every layer's tiles (one fork/join instead of one per layer, and the threads
// balance over all the tiles); the bits are those of each layer's forward().
void forward_many(const Compute& c, const float* x, int64_t rows, std::initializer_list<std::pair<const Linear*, float*>> layers);

// Several layers' backward passes over the same rows (Linear::backward's semantics per entry), in
// one parallel region on the tiled float32 path; the same bits as one backward() per entry.
struct LinearGrad {
  const Linear* layer;
  const float* x;
  const float* dy;
  float *dx, *dW, *db;
};
void backward_many(const Compute& c, int64_t rows, std::initializer_list<LinearGrad> grads);

}  // namespace bigbird
