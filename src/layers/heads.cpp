#include "layers/heads.h"

#include <algorithm>
#include <cmath>

#include "layers/ops.h"

namespace bigbird {

Tensor first_tokens(const Tensor& seq) {
  const int64_t b = seq.dim(0), L = seq.dim(1), H = seq.dim(2);
  Tensor t(Shape{b, H});
  for (int64_t i = 0; i < b; ++i) std::copy_n(seq.ptr() + i * L * H, H, t.ptr() + i * H);
  return t;
}

Tensor pooler_head(const Compute& c, const Linear& dense, const Tensor& seq) {
  Tensor y = dense(c, first_tokens(seq));
  for (float& v : y.data) v = std::tanh(v);
  return y;
}

Tensor mlm_head(const Compute& c, const Linear& transform, const NormW& ln, const Linear& decoder, Activation act,
                float eps, const Tensor& seq) {
  Tensor t = transform(c, seq);
  const int64_t H = transform.out();
  activation(c, act, t.ptr(), t.size());
  layer_norm(c, t.ptr(), nullptr, nullptr, t.ptr(), t.size() / H, H, ln, eps);
  return decoder(c, t);
}

Tensor classification_head(const Compute& c, const Linear& dense, const Linear& out_proj, Activation act,
                           const Tensor& seq) {
  Tensor t = dense(c, first_tokens(seq));
  activation(c, act, t.ptr(), t.size());
  return out_proj(c, t);
}

Tensor qa_head(const Compute& c, const Linear& intermediate, const Linear& output, const NormW& ln,
               const Linear& qa_outputs, Activation act, float eps, const Tensor& seq) {
  Tensor t = intermediate(c, seq);
  activation(c, act, t.ptr(), t.size());
  Tensor u = seq;  // residual
  const int64_t H = output.out();
  output.accumulate(c, t.ptr(), t.size() / t.shape.back(), u.ptr());
  layer_norm(c, u.ptr(), nullptr, nullptr, u.ptr(), u.size() / H, H, ln, eps);
  return qa_outputs(c, u);
}

}  // namespace bigbird
