#include "models/pegasus_model.h"

#include "models/encoder_attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/decoder_attention.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "sparse/layout.h"

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
                                    Get get, Has has) {
  const int64_t H = c.d_model, V = c.vocab_size, P = c.max_position_embeddings;
  auto lin = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    LinearW l;
    l.w = get(name + ".weight", Shape{out, in});
    if (bias) l.b = get(name + ".bias", Shape{out});
    return l;
  };
  auto norm = [&](const std::string& name) { return NormW{get(name + ".weight", Shape{H}), get(name + ".bias", Shape{H})}; };

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
    PegasusEncoderLayerW e;
    e.attn_ln = norm(L + "self_attn_layer_norm");
    e.attn.q = lin(L + "self_attn.self.query", H, H, c.use_bias);
    e.attn.k = lin(L + "self_attn.self.key", H, H, c.use_bias);
    e.attn.v = lin(L + "self_attn.self.value", H, H, c.use_bias);
    e.attn.o = lin(L + "self_attn.output", H, H, c.use_bias);
    e.ffn_ln = norm(L + "final_layer_norm");
    e.fc1 = lin(L + "fc1", c.encoder_ffn_dim, H, true);
    e.fc2 = lin(L + "fc2", H, c.encoder_ffn_dim, true);
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
  if (c.tie_word_embeddings) w.lm_head = w.shared;
  else if (has("lm_head.weight")) w.lm_head = get("lm_head.weight", Shape{V, H});
  else fail("'", source, "': tie_word_embeddings is false but the checkpoint has no lm_head.weight");
  if (has("final_logits_bias")) {
    w.final_logits_bias = get("final_logits_bias", Shape{1, V});
    w.final_logits_bias.shape = Shape{V};
  }
  return w;
}

}  // namespace

std::unique_ptr<PegasusModel> PegasusModel::load(const std::string& dir) {
  BB_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  auto m = std::make_unique<PegasusModel>();
  m->config_ = load_pegasus_config(dir);
  const BigBirdPegasusConfig& c = m->config_;
  BB_CHECK(c.model_type == "bigbird_pegasus", (fs::path(dir) / "config.json").string(), ": model_type '",
           c.model_type, "' is not BigBirdPegasus (expected bigbird_pegasus)");
  m->store_ = std::make_unique<WeightStore>(WeightStore::open_dir(dir));
  WeightStore& ws = *m->store_;
  std::string p;  // "model." for ...ForConditionalGeneration, "" for a bare BigBirdPegasusModel
  if (ws.has("model.encoder.layernorm_embedding.weight")) p = "model.";
  else if (!ws.has("encoder.layernorm_embedding.weight"))
    fail("'", ws.source(), "': no 'model.encoder.layernorm_embedding.weight' (not a BigBirdPegasus checkpoint?)");
  m->w_ = bind_pegasus_weights(
      c, p, ws.source(), [&](const std::string& n, const Shape& s) { return ws.get(n, s); },
      [&](const std::string& n) { return ws.has(n); });
  // No final_logits_bias: a buffer HF initialises to zeros (in _keys_to_ignore_on_load_missing).
  if (m->w_.final_logits_bias.empty()) {
    m->zero_bias_.assign(static_cast<size_t>(c.vocab_size), 0.0f);
    m->w_.final_logits_bias = ConstView{m->zero_bias_.data(), Shape{c.vocab_size}};
  }
  return m;
}

std::unique_ptr<PegasusModel> PegasusModel::random(const BigBirdPegasusConfig& config, uint64_t seed) {
  auto m = std::make_unique<PegasusModel>();
  m->config_ = config;
  // Counter-based splitmix64 per tensor (seeded by seed and the tensor's index): the same weights
  // for any thread count, filled in parallel. Uniform in [-a, a], a = sqrt(3)·0.02 (std 0.02);
  // LayerNorm weights 1, biases 0.
  auto splitmix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  const float a = std::sqrt(3.0f) * 0.02f;
  auto get = [&](const std::string& name, const Shape& s) {
    const int64_t n = numel(s);
    const bool is_norm =
        name.find("layer_norm.") != std::string::npos || name.find("layernorm_embedding.") != std::string::npos;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    std::vector<float> data(static_cast<size_t>(n), 0.0f);
    if (is_norm && !is_bias) std::fill(data.begin(), data.end(), 1.0f);
    else if (!is_bias) {
      const uint64_t base = splitmix(seed ^ splitmix(m->owned_.size() + 1)) << 1;
      float* d = data.data();
#pragma omp parallel for schedule(static) if (n > (1 << 18))
      for (int64_t i = 0; i < (n + 1) / 2; ++i) {
        const uint64_t r = splitmix(base + static_cast<uint64_t>(i));
        for (int64_t j = 0; j < 2 && 2 * i + j < n; ++j) {
          const uint32_t u = static_cast<uint32_t>(r >> (32 * j));
          d[2 * i + j] = a * (static_cast<float>(u >> 8) * (2.0f / 16777216.0f) - 1.0f);
        }
      }
    }
    m->owned_.push_back(std::move(data));  // moving a vector keeps its buffer: the view stays valid
    return ConstView{m->owned_.back().data(), s};
  };
  m->w_ = bind_pegasus_weights(config, "model.", "random weights", get,
                               [](const std::string& n) { return n != "final_logits_bias"; });
  m->zero_bias_.assign(static_cast<size_t>(config.vocab_size), 0.0f);
  m->w_.final_logits_bias = ConstView{m->zero_bias_.data(), Shape{config.vocab_size}};
  return m;
}

// ------------------------------------------------------------------------- encoder

namespace {

// y (+)= x·Wᵀ + b. A decoder step projects one or two rows: there sgemv beats sgemm, which packs
// the whole weight matrix for every call (3x on a 16000 x 512 LM head).
void project(const LinearW& l, const float* x, int64_t rows, float* y, bool accumulate) {
  if (rows > 2) {
    if (accumulate) linear_accumulate(x, rows, l.in(), l.w.data, l.b.data, l.out(), y);
    else linear(x, rows, l.in(), l.w.data, l.b.data, l.out(), y);
    return;
  }
  const int64_t in = l.in(), out = l.out();
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * out;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(out), static_cast<int>(in), 1.0f, l.w.data,
                static_cast<int>(in), x + r * in, 1, accumulate ? 1.0f : 0.0f, yr, 1);
    if (l.b.data)
      for (int64_t o = 0; o < out; ++o) yr[o] += l.b.data[o];
  }
}
void apply(const LinearW& l, const float* x, int64_t rows, float* y) { project(l, x, rows, y, false); }
void apply_add(const LinearW& l, const float* x, int64_t rows, float* y) { project(l, x, rows, y, true); }
void norm(const NormW& n, const float* x, int64_t rows, int64_t dim, float eps, float* y) {
  layernorm(x, y, rows, dim, n.g.data, n.b.data, eps);
}

// x += fc2(act(fc1(LN(x)))), in row chunks to bound the intermediate buffer. h is [rows, H] scratch.
void feed_forward(float* x, float* h, int64_t rows, int64_t H, const NormW& ln, const LinearW& fc1,
                  const LinearW& fc2, Activation act, float eps, std::vector<float>& inter) {
  norm(ln, x, rows, H, eps, h);
  const int64_t F = fc1.out();
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(rows, 2048));
  inter.resize(static_cast<size_t>(chunk * F));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    apply(fc1, h + r0 * H, nr, inter.data());
    activate_inplace(act, inter.data(), nr * F);
    apply_add(fc2, inter.data(), nr, x + r0 * H);
  }
}

}  // namespace

PegasusEncoderOutput PegasusModel::encode(const EncoderInput& in, const ForwardOptions& opt) const {
  const BigBirdPegasusConfig& c = config_;
  BB_CHECK(in.input_ids.shape.size() == 2, "input_ids must be [batch, length], got ", to_string(in.input_ids.shape));
  const int64_t b = in.input_ids.dim(0), L = in.input_ids.dim(1);
  BB_CHECK(b >= 1 && L >= 1, "input_ids is empty: shape ", to_string(in.input_ids.shape));
  const bool has_mask = !in.attention_mask.data.empty();
  BB_CHECK(!has_mask || in.attention_mask.shape == in.input_ids.shape, "attention_mask shape ",
           to_string(in.attention_mask.shape), " does not match input_ids ", to_string(in.input_ids.shape));
  for (size_t i = 0; i < in.input_ids.data.size(); ++i) {
    const int64_t id = in.input_ids.data[i];
    BB_CHECK(id >= 0 && id < c.vocab_size, "input_ids[", i / L, ", ", i % L, "] = ", id,
             " is out of range for vocab_size ", c.vocab_size);
    if (has_mask)
      BB_CHECK(in.attention_mask.data[i] == 0 || in.attention_mask.data[i] == 1, "attention_mask[", i / L, ", ",
               i % L, "] = ", in.attention_mask.data[i], ": must be 0 or 1");
  }
  BB_CHECK(L <= c.max_position_embeddings, "encoder input of ", L, " tokens is longer than max_position_embeddings ",
           c.max_position_embeddings);

  PegasusEncoderOutput out;
  out.input_len = L;
  out.attention_mask = has_mask ? in.attention_mask : TensorI64(in.input_ids.shape, 1);
  out.attention_used = opt.attention.value_or(c.attention_type);
  if (out.attention_used == AttentionType::BlockSparse && L <= c.max_tokens_for_full_fallback()) {
    out.attention_used = AttentionType::OriginalFull;  // per call; the padding mask stays applied
    out.fell_back = true;
  }
  const int64_t B = c.block_size;
  const int64_t pad = out.attention_used == AttentionType::BlockSparse ? (B - L % B) % B : 0;
  const int64_t Lp = L + pad;
  out.padded_len = Lp;

  const int64_t H = c.d_model, heads = c.encoder_attention_heads, d = c.encoder_head_dim();
  const int64_t rows = b * Lp;
  const Activation act = parse_activation(c.activation_function);
  const float eps = static_cast<float>(c.layer_norm_eps);
  const float scale = c.scale_embedding ? static_cast<float>(std::sqrt(static_cast<double>(H))) : 1.0f;

  // Embeddings; internal padding rows are shared[pad] (no scale, no position) with mask 0.
  std::vector<float> mask(static_cast<size_t>(rows), 0.0f);
  Tensor x(Shape{b, Lp, H});
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / Lp, t = r % Lp;
    float* xr = x.ptr() + r * H;
    if (t < L) {
      const size_t src = static_cast<size_t>(bi * L + t);
      mask[static_cast<size_t>(r)] = static_cast<float>(out.attention_mask.data[src]);
      const float* we = w_.shared.data + in.input_ids.data[src] * H;
      const float* pe = w_.enc_positions.data + t * H;
      for (int64_t j = 0; j < H; ++j) xr[j] = we[j] * scale + pe[j];
    } else {
      std::copy_n(w_.shared.data + c.pad_token_id * H, H, xr);
    }
  }
  if (opt.keep_hidden_states) out.embedding_output = x;

  std::vector<float> h(static_cast<size_t>(rows * H)), q(h.size()), k(h.size()), v(h.size()), ctx(h.size()), inter;
  const int n_blocks = static_cast<int>(Lp / B);
  AttentionWorkspace ws;
  for (size_t li = 0; li < w_.encoder.size(); ++li) {
    const PegasusEncoderLayerW& W = w_.encoder[li];
    norm(W.attn_ln, x.ptr(), rows, H, eps, h.data());
    apply(W.attn.q, h.data(), rows, q.data());
    apply(W.attn.k, h.data(), rows, k.data());
    apply(W.attn.v, h.data(), rows, v.data());
    std::optional<BlockLayout> layout;
    if (out.attention_used == AttentionType::BlockSparse) {
      RandomPlan plan = choose_layer_plan(opt, static_cast<int>(li), static_cast<int>(heads), n_blocks,
                                          static_cast<int>(B), static_cast<int>(c.num_random_blocks),
                                          static_cast<int>(c.max_position_embeddings));
      layout = itc_layout(n_blocks, static_cast<int>(B), static_cast<int>(heads), plan);
      out.plans.push_back(std::move(plan));
    }
    encoder_attention({q.data(), k.data(), v.data(), ctx.data(), H, b, Lp, static_cast<int>(heads), d, mask.data()},
                      layout ? &*layout : nullptr, false, &ws);
    apply_add(W.attn.o, ctx.data(), rows, x.ptr());
    feed_forward(x.ptr(), h.data(), rows, H, W.ffn_ln, W.fc1, W.fc2, act, eps, inter);
    if (opt.keep_hidden_states) out.layer_outputs.push_back(x);
  }
  norm(w_.encoder_ln, x.ptr(), rows, H, eps, x.ptr());
  if (pad == 0) {
    out.output = std::move(x);
  } else {
    out.output = Tensor(Shape{b, L, H});
    for (int64_t bi = 0; bi < b; ++bi)
      std::copy(x.data.begin() + bi * Lp * H, x.data.begin() + (bi * Lp + L) * H, out.output.data.begin() + bi * L * H);
  }
  return out;
}

// ------------------------------------------------------------------------- decoder

CrossAttentionCache PegasusModel::cross_attention_cache(const PegasusEncoderOutput& enc) const {
  const int64_t H = config_.d_model;
  BB_CHECK(enc.output.shape.size() == 3 && enc.output.dim(2) == H, "encoder output must be [batch, length, ", H,
           "], got ", to_string(enc.output.shape));
  CrossAttentionCache cc;
  cc.items = enc.output.dim(0);
  cc.len = enc.output.dim(1);
  BB_CHECK(enc.attention_mask.shape == Shape({cc.items, cc.len}), "encoder attention mask shape ",
           to_string(enc.attention_mask.shape), " does not match the encoder output ", to_string(enc.output.shape));
  const int64_t rows = cc.items * cc.len;
  for (const PegasusDecoderLayerW& W : w_.decoder) {
    cc.k.emplace_back(static_cast<size_t>(rows * H));
    cc.v.emplace_back(static_cast<size_t>(rows * H));
    apply(W.cross_attn.k, enc.output.ptr(), rows, cc.k.back().data());
    apply(W.cross_attn.v, enc.output.ptr(), rows, cc.v.back().data());
  }
  cc.mask.resize(static_cast<size_t>(rows));
  for (size_t i = 0; i < cc.mask.size(); ++i) cc.mask[i] = static_cast<float>(enc.attention_mask.data[i]);
  return cc;
}

void PegasusModel::decoder_forward(const int64_t* ids, int64_t n, int64_t T, int64_t p0, const int64_t* cache_row,
                                   const int64_t* row_item, SelfAttentionCache& self, const CrossAttentionCache& cross,
                                   Tensor& x, PegasusDecoderOutput* keep) const {
  const BigBirdPegasusConfig& c = config_;
  const int64_t H = c.d_model, heads = c.decoder_attention_heads, d = c.decoder_head_dim();
  const int64_t rows = n * T, cap = self.capacity;
  BB_CHECK(T >= 1 && p0 >= 0, "decoder: bad token count ", T, " / start position ", p0);
  BB_CHECK(p0 + T <= c.max_position_embeddings, "decoder position ", p0 + T - 1,
           " is beyond max_position_embeddings ", c.max_position_embeddings, " (decoder sequences are limited to ",
           c.max_position_embeddings, " tokens)");
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

  std::vector<float> h(static_cast<size_t>(rows * H)), q(h.size()), kv(h.size()), ctx(h.size()), inter;
  std::vector<KeyValueSpan> self_spans(static_cast<size_t>(rows)), cross_spans(static_cast<size_t>(rows));
  DecoderAttentionArgs args;
  args.q = q.data();
  args.ldq = H;
  args.out = ctx.data();
  args.ldo = H;
  args.rows = rows;
  args.heads = static_cast<int>(heads);
  args.d = d;
  auto project_q = [&](const LinearW& l) {
    apply(l, h.data(), rows, q.data());
    for (float& e : q) e *= q_scale;  // HF scales after the bias: (h·Wᵀ + b)·d^-0.5
  };
  // Writes the new keys (or values) [rows, H] into the cache at positions p0 .. p0+T-1.
  auto store = [&](const LinearW& l, std::vector<float>& cache) {
    apply(l, h.data(), rows, kv.data());
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(kv.data() + r * H, H, cache.data() + (cache_row[r / T] * cap + p0 + r % T) * H);
  };

  for (size_t li = 0; li < w_.decoder.size(); ++li) {
    const PegasusDecoderLayerW& W = w_.decoder[li];
    // Causal self-attention: query t of row i sees its cached positions 0 .. p0 + t.
    norm(W.self_ln, x.ptr(), rows, H, eps, h.data());
    project_q(W.self_attn.q);
    store(W.self_attn.k, self.k[li]);
    store(W.self_attn.v, self.v[li]);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t base = cache_row[r / T] * cap * H;
      self_spans[static_cast<size_t>(r)] = {self.k[li].data() + base, self.v[li].data() + base, H, p0 + r % T + 1, nullptr};
    }
    decoder_attention(args, self_spans);
    apply_add(W.self_attn.o, ctx.data(), rows, x.ptr());
    // Cross-attention on the encoder output of the row's input, keys masked by its attention mask.
    norm(W.cross_ln, x.ptr(), rows, H, eps, h.data());
    project_q(W.cross_attn.q);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t item = row_item[r / T];
      cross_spans[static_cast<size_t>(r)] = {cross.k[li].data() + item * cross.len * H,
                                             cross.v[li].data() + item * cross.len * H, H, cross.len,
                                             cross.mask.data() + item * cross.len};
    }
    decoder_attention(args, cross_spans);
    apply_add(W.cross_attn.o, ctx.data(), rows, x.ptr());
    feed_forward(x.ptr(), h.data(), rows, H, W.ffn_ln, W.fc1, W.fc2, act, eps, inter);
    if (keep) keep->layer_outputs.push_back(x);
  }
  norm(w_.decoder_ln, x.ptr(), rows, H, eps, x.ptr());
}

void PegasusModel::lm_logits(const float* h, int64_t rows, float* logits) const {
  project(LinearW{w_.lm_head, w_.final_logits_bias}, h, rows, logits, false);
}

PegasusDecoderOutput PegasusModel::decode(const CrossAttentionCache& cross, const TensorI64& dec_ids,
                                          const std::vector<int64_t>& row_item, bool keep_hidden) const {
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
                  keep_hidden ? &out : nullptr);
  out.logits = Tensor(Shape{n, T, config_.vocab_size});
  lm_logits(out.output.ptr(), n * T, out.logits.ptr());
  return out;
}

}  // namespace bigbird
