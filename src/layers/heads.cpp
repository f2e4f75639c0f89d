#include "layers/heads.h"

#include <algorithm>
#include <cmath>

#include "kernels/activations.h"
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

namespace {
Tensor dropped(const Compute& c, const Dropout& d, Tensor t) {
  apply_dropout(c.ctx, d, t.ptr(), t.size());
  return t;
}
// z = seq + drop_out(output(u)): the residual sum feeding the QA head's LayerNorm. Without dropout
// the bias and the sum are fused into one accumulate (HF's bits at inference).
Tensor qa_residual(const Compute& c, const Linear& output, const Tensor& u, const Tensor& seq,
                   const Dropout& drop_out) {
  const int64_t rows = u.size() / u.shape.back();
  if (!drop_out.active()) {
    Tensor z = seq;
    output.accumulate(c, u.ptr(), rows, z.ptr());
    return z;
  }
  Tensor z = dropped(c, drop_out, output(c, u));
  for (size_t i = 0; i < z.data.size(); ++i) z.data[i] += seq.data[i];
  return z;
}
}  // namespace

Tensor classification_head(const Compute& c, const Linear& dense, const Linear& out_proj, Activation act,
                           const Tensor& seq, const Dropout& drop_in, const Dropout& drop_hidden) {
  Tensor t = dense(c, dropped(c, drop_in, first_tokens(seq)));
  activation(c, act, t.ptr(), t.size());
  apply_dropout(c.ctx, drop_hidden, t.ptr(), t.size());
  return out_proj(c, t);
}

Tensor qa_head(const Compute& c, const Linear& intermediate, const Linear& output, const NormW& ln,
               const Linear& qa_outputs, Activation act, float eps, const Tensor& seq, const Dropout& drop_in,
               const Dropout& drop_out) {
  Tensor t = drop_in.active() ? intermediate(c, dropped(c, drop_in, seq)) : intermediate(c, seq);
  activation(c, act, t.ptr(), t.size());
  Tensor u = qa_residual(c, output, t, seq, drop_out);
  const int64_t H = output.out();
  layer_norm(c, u.ptr(), nullptr, nullptr, u.ptr(), u.size() / H, H, ln, eps);
  return qa_outputs(c, u);
}

namespace {
// dx [..., in] of a linear layer applied to x, its weight gradients into g.
Tensor linear_back(const Compute& c, const Linear& l, const Tensor& x, const Tensor& dy, Gradients& g) {
  Tensor dx(x.shape);
  l.backward(c, x.ptr(), x.size() / l.in(), dy.ptr(), dx.ptr(), g.of(l.weight()), g.of(l.bias()));
  return dx;
}
// Scatters d(first tokens) [b, H] into a zero [b, L, H] gradient of seq.
Tensor scatter_first_tokens(const Tensor& seq, const Tensor& dfirst) {
  Tensor d(seq.shape);
  const int64_t b = seq.dim(0), L = seq.dim(1), H = seq.dim(2);
  for (int64_t i = 0; i < b; ++i) std::copy_n(dfirst.ptr() + i * H, H, d.ptr() + i * L * H);
  return d;
}
}  // namespace

Tensor linear_head_backward(const Compute& c, const Linear& l, const Tensor& x, const Tensor& dy, Gradients& g) {
  return linear_back(c, l, x, dy, g);
}

Tensor pooler_head_backward(const Compute& c, const Linear& dense, const Tensor& seq, const Tensor& dpooled,
                            Gradients& g) {
  const Tensor first = first_tokens(seq);
  Tensor y = pooler_head(c, dense, seq), dz(dpooled.shape);
  for (size_t i = 0; i < y.data.size(); ++i) dz.data[i] = dpooled.data[i] * (1.0f - y.data[i] * y.data[i]);
  return scatter_first_tokens(seq, linear_back(c, dense, first, dz, g));
}

Tensor mlm_head_backward(const Compute& c, const Linear& transform, const NormW& ln, const Linear& decoder,
                         Activation act, float eps, const Tensor& seq, const Tensor& dlogits, Gradients& g) {
  const int64_t H = transform.out(), rows = seq.size() / transform.in();
  const Tensor t = transform(c, seq);  // pre-activation
  Tensor u = t;
  activation(c, act, u.ptr(), u.size());
  Tensor y(u.shape);
  layer_norm(c, u.ptr(), nullptr, nullptr, y.ptr(), rows, H, ln, eps);
  Tensor dy = linear_back(c, decoder, y, dlogits, g);
  layer_norm_backward(c, u.ptr(), dy.ptr(), rows, H, ln, eps, dy.ptr(), g.of(ln.g), g.of(ln.b));
  activation_backward(c, act, t.ptr(), dy.ptr(), dy.ptr(), dy.size());
  return linear_back(c, transform, seq, dy, g);
}

Tensor classification_head_backward(const Compute& c, const Linear& dense, const Linear& out_proj, Activation act,
                                    const Tensor& seq, const Tensor& dlogits, Gradients& g, const Dropout& drop_in,
                                    const Dropout& drop_hidden) {
  const Tensor first = dropped(c, drop_in, first_tokens(seq));
  const Tensor t = dense(c, first);
  Tensor u = t;
  activation(c, act, u.ptr(), u.size());
  apply_dropout(c.ctx, drop_hidden, u.ptr(), u.size());
  Tensor du = linear_back(c, out_proj, u, dlogits, g);
  apply_dropout(c.ctx, drop_hidden, du.ptr(), du.size());
  activation_backward(c, act, t.ptr(), du.ptr(), du.ptr(), du.size());
  return scatter_first_tokens(seq, dropped(c, drop_in, linear_back(c, dense, first, du, g)));
}

Tensor qa_head_backward(const Compute& c, const Linear& intermediate, const Linear& output, const NormW& ln,
                        const Linear& qa_outputs, Activation act, float eps, const Tensor& seq, const Tensor& dlogits,
                        Gradients& g, const Dropout& drop_in, const Dropout& drop_out) {
  const int64_t H = output.out(), rows = seq.size() / H;
  const Tensor x = dropped(c, drop_in, seq);  // the intermediate's input
  const Tensor t = intermediate(c, x);        // pre-activation
  Tensor u = t;
  activation(c, act, u.ptr(), u.size());
  const Tensor z = qa_residual(c, output, u, seq, drop_out);  // the LayerNorm's input
  Tensor y(z.shape);
  layer_norm(c, z.ptr(), nullptr, nullptr, y.ptr(), rows, H, ln, eps);
  Tensor dz = linear_back(c, qa_outputs, y, dlogits, g);
  layer_norm_backward(c, z.ptr(), dz.ptr(), rows, H, ln, eps, dz.ptr(), g.of(ln.g), g.of(ln.b));
  Tensor du = linear_back(c, output, u, dropped(c, drop_out, dz), g);
  activation_backward(c, act, t.ptr(), du.ptr(), du.ptr(), du.size());
  Tensor dseq = dropped(c, drop_in, linear_back(c, intermediate, x, du, g));
  for (size_t i = 0; i < dseq.data.size(); ++i) dseq.data[i] += dz.data[i];  // the residual
  return dseq;
}

}  // namespace bigbird
