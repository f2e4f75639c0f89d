#include "models/pegasus_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/decoder_attention.h"
#include "layers/ops.h"

namespace bigbird {

namespace fs = std::filesystem;

void SelfAttentionCache::reset(int64_t layers, int64_t n_rows, int64_t cap, int64_t hidden) {
  rows = n_rows;
  capacity = cap;
  const size_t per_layer = static_cast<size_t>(n_rows * cap * hidden);
  k.assign(static_cast<size_t>(layers), std::vector<float>(per_layer, 0.0f));
  v.assign(static_cast<size_t>(layers), std::vector<float>(per_layer, 0.0f));
}

// ------------------------------------------------------------------------- loading

namespace {

// Visits every weight of a configuration by HF name and expected shape (p = "model." or ""):
// `get(name, shape)` returns the view, `has(name)` says whether an optional or aliased tensor
// exists. Used both by load() and by random(). final_logits_bias is left empty when absent.
template <typename Get, typename Has>
PegasusWeights bind_pegasus_weights(const BigBirdPegasusConfig& c, const std::string& p, const std::string& source,
                                    Get&& get, Has has, ConstView zero_bias) {
  const int64_t H = c.d_model, V = c.vocab_size, P = c.max_position_embeddings;
  // A step of the decoder projects one or two rows: its layers multiply them as matrix-vector products.
  auto lin = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    ConstView w = get(name + ".weight", Shape{out, in});
    return Linear(w, bias ? get(name + ".bias", Shape{out}) : ConstView{}, Linear::FewRows::MatVec);
  };
  auto norm = [&](const std::string& name) {
    return NormW{get(name + ".weight", Shape{H}), get(name + ".bias", Shape{H})};
  };

  PegasusWeights w;
  // model.shared is tied to both embed_tokens (and to lm_head when tie_word_embeddings); HF's
  // safetensors files keep only one name of a tied group, so take whichever is stored.
  std::vector<std::string> shared_names{p + "shared.weight", p + "encoder.embed_tokens.weight",
                                        p + "decoder.embed_tokens.weight"};
  if (c.tie_word_embeddings) shared_names.push_back("lm_head.weight");
  for (const auto& n : shared_names)
    if (has(n)) {
      w.shared = get(n, Shape{V, H});
      break;
    }
  if (w.shared.empty()) fail("'", source, "': no token embeddings ('", p, "shared.weight' or an alias)");
  w.enc_positions = get(p + "encoder.embed_positions.weight", Shape{P, H});
  w.dec_positions = get(p + "decoder.embed_positions.weight", Shape{P, H});
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    const std::string L = p + "encoder.layers." + std::to_string(i) + ".";
    EncoderLayerW e;
    e.attn_ln = norm(L + "self_attn_layer_norm");
    e.q = lin(L + "self_attn.self.query", H, H, c.use_bias);
    e.k = lin(L + "self_attn.self.key", H, H, c.use_bias);
    e.v = lin(L + "self_attn.self.value", H, H, c.use_bias);
    e.o = lin(L + "self_attn.output", H, H, c.use_bias);
    e.ffn_ln = norm(L + "final_layer_norm");
    e.ffn_in = lin(L + "fc1", c.encoder_ffn_dim, H, true);
    e.ffn_out = lin(L + "fc2", H, c.encoder_ffn_dim, true);
    w.encoder.push_back(e);
  }
  w.encoder_ln = norm(p + "encoder.layernorm_embedding");
  auto attn = [&](const std::string& prefix) {
    PegasusAttentionW a;
    a.q = lin(prefix + "q_proj", H, H, c.use_bias);
    a.k = lin(prefix + "k_proj", H, H, c.use_bias);
    a.v = lin(prefix + "v_proj", H, H, c.use_bias);
    a.o = lin(prefix + "out_proj", H, H, c.use_bias);
    return a;
  };
  for (int64_t i = 0; i < c.decoder_layers; ++i) {
    const std::string L = p + "decoder.layers." + std::to_string(i) + ".";
    PegasusDecoderLayerW d;
    d.self_ln = norm(L + "self_attn_layer_norm");
    d.self_attn = attn(L + "self_attn.");
    d.cross_ln = norm(L + "encoder_attn_layer_norm");
    d.cross_attn = attn(L + "encoder_attn.");
    d.ffn_ln = norm(L + "final_layer_norm");
    d.fc1 = lin(L + "fc1", c.decoder_ffn_dim, H, true);
    d.fc2 = lin(L + "fc2", H, c.decoder_ffn_dim, true);
    w.decoder.push_back(d);
  }
  w.decoder_ln = norm(p + "decoder.layernorm_embedding");
  ConstView head;
  if (c.tie_word_embeddings) head = w.shared;
  else if (has("lm_head.weight")) head = get("lm_head.weight", Shape{V, H});
  else fail("'", source, "': tie_word_embeddings is false but the checkpoint has no lm_head.weight");
  // No final_logits_bias: a buffer HF initialises to zeros (in _keys_to_ignore_on_load_missing).
  ConstView bias = has("final_logits_bias") ? get("final_logits_bias", Shape{1, V}) : zero_bias;
  bias.shape = Shape{V};
  w.lm_head = Linear(head, bias, Linear::FewRows::MatVec);
  return w;
}

}  // namespace

std::unique_ptr<PegasusModel> PegasusModel::load(const std::string& dir, const ConfigOverrides& ov) {
  BB_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  auto m = std::make_unique<PegasusModel>();
  m->config_ = load_pegasus_config(dir, ov);
  const BigBirdPegasusConfig& c = m->config_;
  BB_CHECK(c.model_type == "bigbird_pegasus", (fs::path(dir) / "config.json").string(), ": model_type '", c.model_type,
           "' is not BigBirdPegasus (expected bigbird_pegasus)");
  m->store_ = std::make_unique<WeightStore>(WeightStore::open_dir(dir));
  WeightStore& ws = *m->store_;
  std::string p;  // "model." for ...ForConditionalGeneration, "" for a bare BigBirdPegasusModel
  if (ws.has("model.encoder.layernorm_embedding.weight")) p = "model.";
  else if (!ws.has("encoder.layernorm_embedding.weight"))
    fail("'", ws.source(), "': no 'model.encoder.layernorm_embedding.weight' (not a BigBirdPegasus checkpoint?)");
  m->zero_bias_.assign(static_cast<size_t>(c.vocab_size), 0.0f);
  m->w_ = bind_pegasus_weights(
      c, p, ws.source(), [&](const std::string& n, const Shape& s) { return ws.get(n, s); },
      [&](const std::string& n) { return ws.has(n); }, ConstView{m->zero_bias_.data(), Shape{c.vocab_size}});
  return m;
}

std::unique_ptr<PegasusModel> PegasusModel::random(const BigBirdPegasusConfig& config, uint64_t seed) {
  auto m = std::make_unique<PegasusModel>();
  m->config_ = config;
  m->random_ = std::make_unique<RandomWeights>(seed);
  m->zero_bias_.assign(static_cast<size_t>(config.vocab_size), 0.0f);
  m->w_ = bind_pegasus_weights(
      config, "model.", "random weights", *m->random_, [](const std::string& n) { return n != "final_logits_bias"; },
      ConstView{m->zero_bias_.data(), Shape{config.vocab_size}});
  return m;
}

// ------------------------------------------------------------------------- encoder

StackShape PegasusModel::encoder_shape() const {
  const BigBirdPegasusConfig& c = config_;
  StackShape s;
  s.hidden = c.d_model;
  s.heads = c.encoder_attention_heads;
  s.ffn = c.encoder_ffn_dim;
  s.layers = c.encoder_layers;
  s.vocab = c.vocab_size;
  s.token_types = false;
  s.max_positions = c.max_position_embeddings;
  s.padding_has_positions = false;
  s.pad_token_id = c.pad_token_id;
  s.attention_type = c.attention_type;
  s.block = c.block_size;
  s.random_blocks = c.num_random_blocks;
  s.layout = c.layout;
  s.act = parse_activation(c.activation_function);
  s.eps = static_cast<float>(c.layer_norm_eps);
  return s;
}

// Embeddings (shared·scale + position; internal padding rows are shared[pad]: no scale, no
// position), the pre-LN layers, then the final LayerNorm.
PegasusEncoderOutput PegasusModel::encode(const EncoderInput& in, const ForwardOptions& opt,
                                          const ThreadingContext& ctx) const {
  const Compute c = compute_for(opt, ctx);
  const StackShape s = encoder_shape();
  EncoderBatch batch(s, {&in}, opt);
  const int64_t H = s.hidden;
  const float scale = config_.scale_embedding ? static_cast<float>(std::sqrt(static_cast<double>(H))) : 1.0f;
  Tensor x(Shape{batch.rows(), H});
  batch.for_each_token(ctx, [&](int64_t r, const TokenRow& t) {
    float* xr = x.ptr() + r * H;
    const float* we = w_.shared.data + t.id * H;
    if (!t.real) return static_cast<void>(std::copy_n(we, H, xr));
    const float* pe = w_.enc_positions.data + t.position * H;
    for (int64_t j = 0; j < H; ++j) xr[j] = we[j] * scale + pe[j];
  });
  batch.keep_embedding(x);
  LayerBuffers buf(s, batch.rows(), /*pre_ln=*/true);
  for (size_t li = 0; li < w_.encoder.size(); ++li) {
    pre_ln_layer(c, w_.encoder[li], s, batch, static_cast<int>(li), x.ptr(), buf);
    batch.keep_layer(x);
  }
  layer_norm(c, x.ptr(), nullptr, nullptr, x.ptr(), batch.rows(), H, w_.encoder_ln, s.eps);
  PegasusEncoderOutput out;
  static_cast<EncoderOutput&>(out) = std::move(batch.finish(std::move(x))[0]);
  out.attention_mask = in.attention_mask.data.empty() ? TensorI64(in.input_ids.shape, 1) : in.attention_mask;
  out.precision = opt.precision;
  return out;
}

// ------------------------------------------------------------------------- decoder

CrossAttentionCache PegasusModel::cross_attention_cache(const PegasusEncoderOutput& enc,
                                                        const ThreadingContext& ctx) const {
  const int64_t H = config_.d_model;
  const Tensor& eo = enc.sequence_output;
  BB_CHECK(eo.shape.size() == 3 && eo.dim(2) == H, "encoder output must be [batch, length, ", H, "], got ",
           to_string(eo.shape));
  CrossAttentionCache cc;
  cc.items = eo.dim(0);
  cc.len = eo.dim(1);
  BB_CHECK(enc.attention_mask.shape == Shape({cc.items, cc.len}), "encoder attention mask shape ",
           to_string(enc.attention_mask.shape), " does not match the encoder output ", to_string(eo.shape));
  cc.precision = enc.precision;
  const Compute c = compute_for(cc.precision, ctx);
  const int64_t rows = cc.items * cc.len;
  cc.heads = config_.decoder_attention_heads;
  cc.head_dim = config_.decoder_head_dim();
  std::vector<float> tmp(static_cast<size_t>(rows * H));
  // [items, len, heads, d] (the projection's rows) -> [items, heads, len, d]
  auto head_major = [&](std::vector<float>& dst) {
    dst.resize(static_cast<size_t>(rows * H));
    parallel_for(ctx, cc.items * cc.heads, [&](int64_t t) {
      const int64_t item = t / cc.heads, h = t % cc.heads;
      const float* src = tmp.data() + item * cc.len * H + h * cc.head_dim;
      float* out = dst.data() + (item * cc.heads + h) * cc.len * cc.head_dim;
      for (int64_t j = 0; j < cc.len; ++j)
        std::copy_n(src + j * H, cc.head_dim, out + j * cc.head_dim);
    });
  };
  for (const PegasusDecoderLayerW& W : w_.decoder) {
    cc.k.emplace_back();
    cc.v.emplace_back();
    W.cross_attn.k.forward(c, eo.ptr(), rows, tmp.data());
    head_major(cc.k.back());
    W.cross_attn.v.forward(c, eo.ptr(), rows, tmp.data());
    head_major(cc.v.back());
  }
  cc.mask.resize(static_cast<size_t>(rows));
  for (size_t i = 0; i < cc.mask.size(); ++i) cc.mask[i] = static_cast<float>(enc.attention_mask.data[i]);
  return cc;
}

void PegasusModel::decoder_forward(const int64_t* ids, int64_t n, int64_t T, int64_t p0, const int64_t* cache_row,
                                   const int64_t* row_item, SelfAttentionCache& self, const CrossAttentionCache& cross,
                                   Tensor& x, PegasusDecoderOutput* keep, const ThreadingContext& ctx) const {
  const BigBirdPegasusConfig& c = config_;
  const int64_t H = c.d_model, heads = c.decoder_attention_heads, d = c.decoder_head_dim();
  const int64_t rows = n * T, cap = self.capacity;
  BB_CHECK(T >= 1 && p0 >= 0, "decoder: bad token count ", T, " / start position ", p0);
  BB_CHECK(p0 + T <= c.max_position_embeddings, "decoder position ", p0 + T - 1, " is beyond max_position_embeddings ",
           c.max_position_embeddings, " (decoder sequences are limited to ", c.max_position_embeddings, " tokens)");
  BB_CHECK(p0 + T <= cap, "decoder: self-attention cache holds ", cap, " positions, ", p0 + T, " needed");
  BB_CHECK(static_cast<int64_t>(self.k.size()) == c.decoder_layers, "decoder: cache has ", self.k.size(),
           " layers, the model ", c.decoder_layers);
  BB_CHECK(static_cast<int64_t>(cross.k.size()) == c.decoder_layers, "decoder: cross-attention cache has ",
           cross.k.size(), " layers, the model ", c.decoder_layers);
  for (int64_t i = 0; i < n; ++i) {
    BB_CHECK(cache_row[i] >= 0 && cache_row[i] < self.rows, "decoder: cache row ", cache_row[i], " out of range");
    BB_CHECK(row_item[i] >= 0 && row_item[i] < cross.items, "decoder: encoder item ", row_item[i], " out of range");
    for (int64_t t = 0; t < T; ++t)
      BB_CHECK(ids[i * T + t] >= 0 && ids[i * T + t] < c.vocab_size, "decoder token id ", ids[i * T + t],
               " is out of range for vocab_size ", c.vocab_size);
  }
  const Compute cp = compute_for(cross.precision, ctx);
  const Activation act = parse_activation(c.activation_function);
  const float eps = static_cast<float>(c.layer_norm_eps);
  const float scale = c.scale_embedding ? static_cast<float>(std::sqrt(static_cast<double>(H))) : 1.0f;
  const float q_scale = static_cast<float>(std::pow(static_cast<double>(d), -0.5));

  x = Tensor(Shape{n, T, H});
  for (int64_t r = 0; r < rows; ++r) {
    const float* we = w_.shared.data + ids[r] * H;
    const float* pe = w_.dec_positions.data + (p0 + r % T) * H;
    float* xr = x.ptr() + r * H;
    for (int64_t j = 0; j < H; ++j) xr[j] = we[j] * scale + pe[j];
  }
  if (keep) keep->embedding_output = x;

  std::vector<float> h(static_cast<size_t>(rows * H)), q(h.size()), kv(h.size()), att(h.size()), inter;
  std::vector<KeyValueSpan> self_spans(static_cast<size_t>(rows)), cross_spans(static_cast<size_t>(rows));
  DecoderAttentionArgs args;
  args.q = q.data();
  args.ldq = H;
  args.out = att.data();
  args.ldo = H;
  args.rows = rows;
  args.heads = static_cast<int>(heads);
  args.d = d;
  auto project_q = [&](const Linear& l) {
    l.forward(cp, h.data(), rows, q.data());
    for (float& e : q) e *= q_scale;  // HF scales after the bias: (h·Wᵀ + b)·d^-0.5
  };
  // Writes the new keys (or values) [rows, H] into the cache at positions p0 .. p0+T-1.
  auto store = [&](const Linear& l, std::vector<float>& cache) {
    l.forward(cp, h.data(), rows, kv.data());
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(kv.data() + r * H, H, cache.data() + (cache_row[r / T] * cap + p0 + r % T) * H);
  };

  for (size_t li = 0; li < w_.decoder.size(); ++li) {
    const PegasusDecoderLayerW& W = w_.decoder[li];
    // Causal self-attention: query t of row i sees its cached positions 0 .. p0 + t.
    layer_norm(cp, x.ptr(), nullptr, nullptr, h.data(), rows, H, W.self_ln, eps);
    project_q(W.self_attn.q);
    store(W.self_attn.k, self.k[li]);
    store(W.self_attn.v, self.v[li]);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t base = cache_row[r / T] * cap * H;
      self_spans[static_cast<size_t>(r)] = {self.k[li].data() + base, self.v[li].data() + base, H, p0 + r % T + 1,
                                            nullptr};
    }
    decoder_attention(ctx, args, self_spans);
    W.self_attn.o.accumulate(cp, att.data(), rows, x.ptr());
    // Cross-attention on the encoder output of the row's input, keys masked by its attention mask.
    layer_norm(cp, x.ptr(), nullptr, nullptr, h.data(), rows, H, W.cross_ln, eps);
    project_q(W.cross_attn.q);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t item = row_item[r / T];
      cross_spans[static_cast<size_t>(r)] = {cross.k[li].data() + item * cross.len * H,
                                             cross.v[li].data() + item * cross.len * H, cross.head_dim, cross.len,
                                             cross.mask.data() + item * cross.len, cross.len * cross.head_dim};
    }
    decoder_attention(ctx, args, cross_spans);
    W.cross_attn.o.accumulate(cp, att.data(), rows, x.ptr());
    pre_ln_feed_forward(cp, W.ffn_ln, W.fc1, W.fc2, act, eps, x.ptr(), rows, h.data(), inter);
    if (keep) keep->layer_outputs.push_back(x);
  }
  layer_norm(cp, x.ptr(), nullptr, nullptr, x.ptr(), rows, H, w_.decoder_ln, eps);
}

void PegasusModel::lm_logits(const float* h, int64_t rows, float* logits, const ThreadingContext& ctx,
                             Precision precision) const {
  w_.lm_head.forward(compute_for(precision, ctx), h, rows, logits);
}

PegasusDecoderOutput PegasusModel::decode(const CrossAttentionCache& cross, const TensorI64& dec_ids,
                                          const std::vector<int64_t>& row_item, bool keep_hidden,
                                          const ThreadingContext& ctx) const {
  BB_CHECK(dec_ids.shape.size() == 2 && dec_ids.dim(0) >= 1 && dec_ids.dim(1) >= 1,
           "decoder_input_ids must be a non-empty [batch, length], got ", to_string(dec_ids.shape));
  const int64_t n = dec_ids.dim(0), T = dec_ids.dim(1);
  BB_CHECK(static_cast<int64_t>(row_item.size()) == n, "decoder: ", row_item.size(), " encoder items for ", n, " rows");
  SelfAttentionCache self;
  self.reset(config_.decoder_layers, n, T, config_.d_model);
  std::vector<int64_t> cache_row(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) cache_row[static_cast<size_t>(i)] = i;
  PegasusDecoderOutput out;
  decoder_forward(dec_ids.data.data(), n, T, 0, cache_row.data(), row_item.data(), self, cross, out.output,
                  keep_hidden ? &out : nullptr, ctx);
  out.logits = Tensor(Shape{n, T, config_.vocab_size});
  lm_logits(out.output.ptr(), n * T, out.logits.ptr(), ctx, cross.precision);
  return out;
}

}  // namespace bigbird
