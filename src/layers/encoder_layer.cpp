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

namespace {
// v holds n values (contents unspecified: the caller writes every one before reading it).
void fit(std::vector<float>& v, int64_t n) {
  if (v.size() != static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}
}  // namespace

void post_ln_layer_train(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch,
                         int layer, float* x, PostLnCache& cache, AttentionWorkspace& ws, PostLnScratch& tmp,
                         const LayerDropout& drop) {
  const int64_t rows = batch.rows(), H = s.hidden, F = s.ffn, n = rows * H;
  for (auto* v : {&cache.x, &cache.q, &cache.k, &cache.v, &cache.ctx, &cache.z1, &cache.a, &cache.z2}) fit(*v, n);
  fit(cache.h, rows * F);
  fit(tmp.act, rows * F);
  copy(c, x, cache.x.data(), n);
  w.q.forward(c, x, rows, cache.q.data());
  w.k.forward(c, x, rows, cache.k.data());
  w.v.forward(c, x, rows, cache.v.data());
  batch.attention(c, layer, cache.q.data(), cache.k.data(), cache.v.data(), cache.ctx.data(), ws, drop.attention_probs);
  w.o.forward(c, cache.ctx.data(), rows, cache.z1.data());
  apply_dropout(c.ctx, drop.attention_output, cache.z1.data(), n);
  add_inplace(c, cache.z1.data(), x, n);
  layer_norm(c, cache.z1.data(), nullptr, nullptr, cache.a.data(), rows, H, w.attn_ln, s.eps);
  w.ffn_in.forward(c, cache.a.data(), rows, cache.h.data());
  float* act = tmp.act.data();
  copy(c, cache.h.data(), act, rows * F);
  activation(c, s.act, act, rows * F);
  w.ffn_out.forward(c, act, rows, cache.z2.data());
  apply_dropout(c.ctx, drop.ffn_output, cache.z2.data(), n);
  add_inplace(c, cache.z2.data(), cache.a.data(), n);
  layer_norm(c, cache.z2.data(), nullptr, nullptr, x, rows, H, w.ffn_ln, s.eps);
}

void post_ln_layer_backward(const Compute& c, const EncoderLayerW& w, const StackShape& s, const EncoderBatch& batch,
                            int layer, const PostLnCache& cache, float* dx, Gradients& g, PostLnScratch& tmp,
                            const LayerDropout& drop) {
  const int64_t rows = batch.rows(), H = s.hidden, F = s.ffn, n = rows * H;
  for (auto* v : {&tmp.dz2, &tmp.da, &tmp.dq, &tmp.dk, &tmp.dv}) fit(*v, n);
  fit(tmp.act, rows * F);
  fit(tmp.dh, rows * F);
  auto grad = [&](const Linear& l, const float* x, const float* dy, float* dxl) {
    l.backward(c, x, rows, dy, dxl, g.of(l.weight()), g.of(l.bias()));
  };
  // x_out = LN(z2), z2 = drop(act(h)·W2ᵀ + b2) + a
  float *dz2 = tmp.dz2.data(), *act = tmp.act.data(), *dh = tmp.dh.data(), *da = tmp.da.data();
  layer_norm_backward(c, cache.z2.data(), dx, rows, H, w.ffn_ln, s.eps, dz2, g.of(w.ffn_ln.g), g.of(w.ffn_ln.b));
  copy(c, cache.h.data(), act, rows * F);
  activation(c, s.act, act, rows * F);
  if (drop.ffn_output.active()) {  // da holds the dropped gradient of the dense's output for now
    copy(c, dz2, da, n);
    apply_dropout(c.ctx, drop.ffn_output, da, n);
    grad(w.ffn_out, act, da, dh);
  } else {
    grad(w.ffn_out, act, dz2, dh);
  }
  activation_backward(c, s.act, cache.h.data(), dh, dh, rows * F);
  grad(w.ffn_in, cache.a.data(), dh, da);
  add_inplace(c, da, dz2, n);
  // a = LN(z1), z1 = drop(ctx·Woᵀ + bo) + x
  float* dz1 = dz2;  // dz2 is no longer needed
  layer_norm_backward(c, cache.z1.data(), da, rows, H, w.attn_ln, s.eps, dz1, g.of(w.attn_ln.g), g.of(w.attn_ln.b));
  // x feeds q, k, v and the residual of z1 (dx is free since the first LayerNorm's backward).
  copy(c, dz1, dx, n);
  apply_dropout(c.ctx, drop.attention_output, dz1, n);  // now the gradient of the dense's output
  float* dctx = da;                                     // da is no longer needed
  grad(w.o, cache.ctx.data(), dz1, dctx);
  float *dq = tmp.dq.data(), *dk = tmp.dk.data(), *dv = tmp.dv.data();
  batch.attention_backward(c, layer, cache.q.data(), cache.k.data(), cache.v.data(), dctx, dq, dk, dv,
                           drop.attention_probs);
  float* dxp = dctx;  // dctx is no longer needed
  for (auto [l, d] : {std::pair{&w.q, dq}, std::pair{&w.k, dk}, std::pair{&w.v, dv}}) {
    grad(*l, cache.x.data(), d, dxp);
    add_inplace(c, dx, dxp, n);
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
