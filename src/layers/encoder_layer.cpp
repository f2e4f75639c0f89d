#include "layers/encoder_layer.h"

#include <algorithm>

#include "layers/ops.h"

namespace bigbird {

LayerBuffers::LayerBuffers(const StackShape& s, int64_t rows, bool pre_ln)
    : chunk(std::max<int64_t>(1, std::min<int64_t>(rows, 2048))),
      q(static_cast<size_t>(rows * s.hidden)),
      k(q.size()),
      v(q.size()),
      h(pre_ln ? q.size() : 0),
      inter(static_cast<size_t>(chunk * s.ffn)) {}

void post_ln_layer(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch, int layer,
                   float* x, LayerBuffers& buf) {
  const int64_t rows = batch.rows(), H = s.hidden, F = s.ffn;
  float* ctx = buf.q.data();  // the attention output overwrites q
  float* a = buf.k.data();    // the attention sublayer's output reuses k
  w.q.forward(c, x, rows, buf.q.data());
  w.k.forward(c, x, rows, buf.k.data());
  w.v.forward(c, x, rows, buf.v.data());
  batch.attention(c, layer, buf.q.data(), buf.k.data(), buf.v.data(), ctx, buf.ws);
  // a = LN(ctx·Woᵀ + bo + x): the bias and the residual fused into the norm.
  w.o.forward(c, ctx, rows, a, Linear::Bias::Skip);
  layer_norm(c, a, x, w.o.bias().data, a, rows, H, w.attn_ln, s.eps);
  // x = LN(act(a·W1ᵀ + b1)·W2ᵀ + b2 + a), in row chunks to bound the intermediate buffer.
  for (int64_t r0 = 0; r0 < rows; r0 += buf.chunk) {
    const int64_t nr = std::min(buf.chunk, rows - r0);
    w.ffn_in.forward(c, a + r0 * H, nr, buf.inter.data(), Linear::Bias::Skip);
    bias_activation(c, s.act, buf.inter.data(), nr, F, w.ffn_in.bias().data);
    w.ffn_out.forward(c, buf.inter.data(), nr, x + r0 * H, Linear::Bias::Skip);
    layer_norm(c, x + r0 * H, a + r0 * H, w.ffn_out.bias().data, x + r0 * H, nr, H, w.ffn_ln, s.eps);
  }
}

void pre_ln_layer(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch, int layer,
                  float* x, LayerBuffers& buf) {
  const int64_t rows = batch.rows(), H = s.hidden;
  float* h = buf.h.data();
  float* ctx = buf.q.data();  // the attention output overwrites q
  layer_norm(c, x, nullptr, nullptr, h, rows, H, w.attn_ln, s.eps);
  w.q.forward(c, h, rows, buf.q.data());
  w.k.forward(c, h, rows, buf.k.data());
  w.v.forward(c, h, rows, buf.v.data());
  batch.attention(c, layer, buf.q.data(), buf.k.data(), buf.v.data(), ctx, buf.ws);
  w.o.accumulate(c, ctx, rows, x);
  pre_ln_feed_forward(c, w.ffn_ln, w.ffn_in, w.ffn_out, s.act, s.eps, x, rows, h, buf.inter);
}

void pre_ln_feed_forward(const Compute& c, const NormW& ln, const Linear& w1, const Linear& w2, Activation act,
                         float eps, float* x, int64_t rows, float* h, std::vector<float>& inter) {
  const int64_t H = w1.in(), F = w1.out();
  layer_norm(c, x, nullptr, nullptr, h, rows, H, ln, eps);
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(rows, 2048));  // bounds the intermediate buffer
  if (inter.size() < static_cast<size_t>(chunk * F)) inter.resize(static_cast<size_t>(chunk * F));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    w1.forward(c, h + r0 * H, nr, inter.data());
    activation(c, act, inter.data(), nr * F);
    w2.accumulate(c, inter.data(), nr, x + r0 * H);
  }
}

}  // namespace bigbird
