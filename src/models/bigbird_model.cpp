#include "models/bigbird_model.h"

#include "models/encoder_attention.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "sparse/layout.h"

namespace bigbird {

namespace fs = std::filesystem;

Architecture parse_architecture(const std::vector<std::string>& archs) {
  if (archs.empty()) return Architecture::Model;
  const std::string& a = archs[0];
  if (a == "BigBirdModel") return Architecture::Model;
  if (a == "BigBirdForPreTraining") return Architecture::PreTraining;
  if (a == "BigBirdForMaskedLM" || a == "BigBirdForCausalLM") return Architecture::MaskedLM;
  if (a == "BigBirdForSequenceClassification") return Architecture::SequenceClassification;
  if (a == "BigBirdForQuestionAnswering") return Architecture::QuestionAnswering;
  if (a == "BigBirdForTokenClassification") return Architecture::TokenClassification;
  fail("unsupported architecture '", a,
       "' (supported: BigBirdModel, BigBirdForPreTraining, BigBirdForMaskedLM, BigBirdForSequenceClassification, "
       "BigBirdForQuestionAnswering, BigBirdForTokenClassification)");
}

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::Model: return "BigBirdModel";
    case Architecture::PreTraining: return "BigBirdForPreTraining";
    case Architecture::MaskedLM: return "BigBirdForMaskedLM";
    case Architecture::SequenceClassification: return "BigBirdForSequenceClassification";
    case Architecture::QuestionAnswering: return "BigBirdForQuestionAnswering";
    case Architecture::TokenClassification: return "BigBirdForTokenClassification";
  }
  return "?";
}

namespace {

// Visits every weight of a configuration by HF name and expected shape. `get` returns the view;
// `has` says whether an optional tensor exists. Used both for loading and for random weights.
template <typename Get, typename Has>
BigBirdWeights bind_weights(const BigBirdConfig& c, Architecture arch, const std::string& prefix, Get get, Has has) {
  const int64_t H = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  BigBirdWeights w;
  auto lin = [&](const std::string& name, int64_t out, int64_t in, bool bias = true) {
    LinearW l;
    l.w = get(name + ".weight", Shape{out, in});
    if (bias) l.b = get(name + ".bias", Shape{out});
    return l;
  };
  auto norm = [&](const std::string& name, int64_t dim) {
    return NormW{get(name + ".weight", Shape{dim}), get(name + ".bias", Shape{dim})};
  };
  const std::string e = prefix + "embeddings.";
  w.word = get(e + "word_embeddings.weight", Shape{V, H});
  w.position = get(e + "position_embeddings.weight", Shape{c.max_position_embeddings, H});
  if (c.type_vocab_size > 0) w.token_type = get(e + "token_type_embeddings.weight", Shape{c.type_vocab_size, H});
  w.emb_ln = norm(e + "LayerNorm", H);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = prefix + "encoder.layer." + std::to_string(i) + ".";
    EncoderLayerW L;
    L.q = lin(p + "attention.self.query", H, H, c.use_bias);
    L.k = lin(p + "attention.self.key", H, H, c.use_bias);
    L.v = lin(p + "attention.self.value", H, H, c.use_bias);
    L.o = lin(p + "attention.output.dense", H, H);
    L.attn_ln = norm(p + "attention.output.LayerNorm", H);
    L.ffn_in = lin(p + "intermediate.dense", F, H);
    L.ffn_out = lin(p + "output.dense", H, F);
    L.out_ln = norm(p + "output.LayerNorm", H);
    w.layers.push_back(L);
  }
  const bool want_pooler = arch == Architecture::PreTraining ||
                           (arch == Architecture::Model && has(prefix + "pooler.weight"));
  if (want_pooler) w.pooler = lin(prefix + "pooler", H, H);
  if (arch == Architecture::PreTraining || arch == Architecture::MaskedLM) {
    w.mlm_transform = lin("cls.predictions.transform.dense", H, H);
    w.mlm_ln = norm("cls.predictions.transform.LayerNorm", H);
    // Tied as HF ties them: the decoder is the word embedding matrix unless stored.
    w.mlm_decoder.w = has("cls.predictions.decoder.weight") ? get("cls.predictions.decoder.weight", Shape{V, H}) : w.word;
    w.mlm_decoder.b = (!has("cls.predictions.bias") && has("cls.predictions.decoder.bias"))
                          ? get("cls.predictions.decoder.bias", Shape{V})
                          : get("cls.predictions.bias", Shape{V});
  }
  if (arch == Architecture::PreTraining) w.nsp = lin("cls.seq_relationship", 2, H);
  if (arch == Architecture::SequenceClassification) {
    w.cls_dense = lin("classifier.dense", H, H);
    w.cls_out = lin("classifier.out_proj", c.num_labels, H);
  }
  if (arch == Architecture::QuestionAnswering) {
    w.qa_intermediate = lin("qa_classifier.intermediate.dense", F, H);
    w.qa_output = lin("qa_classifier.output.dense", H, F);
    w.qa_ln = norm("qa_classifier.output.LayerNorm", H);
    w.qa_outputs = lin("qa_classifier.qa_outputs", c.num_labels, H);
  }
  if (arch == Architecture::TokenClassification) w.token_cls = lin("classifier", c.num_labels, H);
  return w;
}

}  // namespace

std::unique_ptr<BigBirdModel> BigBirdModel::load(const std::string& dir) {
  BB_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  auto m = std::make_unique<BigBirdModel>();
  m->config_ = load_bigbird_config((fs::path(dir) / "config.json").string());
  BB_CHECK(m->config_.model_type == "big_bird", (fs::path(dir) / "config.json").string(), ": model_type '",
           m->config_.model_type, "' is not a BigBird encoder (expected big_bird)");
  m->arch_ = parse_architecture(m->config_.architectures);
  m->store_ = std::make_unique<WeightStore>(WeightStore::open_dir(dir));
  WeightStore& ws = *m->store_;
  std::string prefix;
  if (ws.has("bert.embeddings.word_embeddings.weight")) prefix = "bert.";
  else if (!ws.has("embeddings.word_embeddings.weight"))
    fail("'", ws.source(), "': no 'bert.embeddings.word_embeddings.weight' (not a BigBird checkpoint?)");
  if (m->arch_ == Architecture::QuestionAnswering && m->config_.id2label.empty()) m->config_.num_labels = 2;
  m->w_ = bind_weights(
      m->config_, m->arch_, prefix, [&](const std::string& n, const Shape& s) { return ws.get(n, s); },
      [&](const std::string& n) { return ws.has(n); });
  return m;
}

namespace {
// SplitMix64's finaliser: a counter-based generator, so every element is a pure function of
// (seed, tensor, index) and the fill parallelises without changing a single value.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// Approximately N(0, sigma): the Irwin-Hall sum of four 16-bit uniforms, rescaled to unit
// variance (bounded at ±3.46σ; plenty for benchmark weights, and ~50x faster than
// std::normal_distribution).
void fill_normal(float* x, int64_t n, uint64_t seed, float sigma) {
  const float scale = sigma * std::sqrt(3.0f) / 65536.0f;  // var(sum of 4 U(0, 65536)) = 4·65536²/12
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = mix64(seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1));
    const float s = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    x[i] = (s - 131070.0f) * scale;
  }
}
}  // namespace

std::unique_ptr<BigBirdModel> BigBirdModel::random(const BigBirdConfig& config, Architecture arch, uint64_t seed) {
  auto m = std::make_unique<BigBirdModel>();
  m->config_ = config;
  m->arch_ = arch;
  uint64_t tensor = 0;
  auto get = [&](const std::string& name, const Shape& s) {
    std::vector<float> data(static_cast<size_t>(numel(s)));
    const bool ln_weight = name.find("LayerNorm.weight") != std::string::npos;
    const bool ln_bias = name.find("LayerNorm.bias") != std::string::npos;
    if (ln_weight) std::fill(data.begin(), data.end(), 1.0f);
    else if (!ln_bias) fill_normal(data.data(), static_cast<int64_t>(data.size()), mix64(seed ^ mix64(++tensor)), 0.02f);
    m->owned_.push_back(std::move(data));
    return ConstView{m->owned_.back().data(), s};
  };
  m->owned_.reserve(static_cast<size_t>(32 + 16 * config.num_hidden_layers));
  m->w_ = bind_weights(config, arch, "bert.", get, [](const std::string&) { return false; });
  return m;
}

std::vector<std::pair<std::string, Shape>> BigBirdModel::tensor_names(const BigBirdConfig& config, Architecture arch) {
  std::vector<std::pair<std::string, Shape>> names;
  static const float dummy = 0.0f;
  bind_weights(
      config, arch, "bert.",
      [&](const std::string& n, const Shape& s) {
        names.emplace_back(n, s);
        return ConstView{&dummy, s};
      },
      [](const std::string&) { return false; });
  return names;
}

std::vector<int64_t> question_lengths(const TensorI64& ids, int64_t sep) {
  const int64_t b = ids.dim(0), L = ids.dim(1);
  std::vector<int64_t> out(static_cast<size_t>(b), 1);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < L; ++t)
      if (ids.data[static_cast<size_t>(i * L + t)] == sep) {
        out[static_cast<size_t>(i)] = t + 1;
        break;
      }
  return out;
}

// ------------------------------------------------------------------------- encoder

namespace {

// One input of a call: b sequences of one length, with their own padding, attention type and
// random plans; its rows sit at [row0, row0 + b·Lp) of the call's activations.
struct Group {
  const EncoderInput* in = nullptr;
  int64_t b = 0, L = 0, Lp = 0, pad = 0, row0 = 0;
  EncoderOutput out;
};

void check_input(const BigBirdConfig& c, const EncoderInput& in, const std::string& what) {
  BB_CHECK(in.input_ids.shape.size() == 2, what, "input_ids must be [batch, length], got ",
           to_string(in.input_ids.shape));
  const int64_t b = in.input_ids.dim(0), L = in.input_ids.dim(1);
  BB_CHECK(b >= 1 && L >= 1, what, "input_ids is empty: shape ", to_string(in.input_ids.shape));
  const bool has_mask = !in.attention_mask.data.empty(), has_tt = !in.token_type_ids.data.empty();
  BB_CHECK(!has_mask || in.attention_mask.shape == in.input_ids.shape, what, "attention_mask shape ",
           to_string(in.attention_mask.shape), " does not match input_ids ", to_string(in.input_ids.shape));
  BB_CHECK(!has_tt || in.token_type_ids.shape == in.input_ids.shape, what, "token_type_ids shape ",
           to_string(in.token_type_ids.shape), " does not match input_ids ", to_string(in.input_ids.shape));
  for (size_t i = 0; i < in.input_ids.data.size(); ++i) {
    const int64_t id = in.input_ids.data[i];
    BB_CHECK(id >= 0 && id < c.vocab_size, what, "input_ids[", i / L, ", ", i % L, "] = ", id,
             " is out of range for vocab_size ", c.vocab_size);
    if (has_mask)
      BB_CHECK(in.attention_mask.data[i] == 0 || in.attention_mask.data[i] == 1, what, "attention_mask[", i / L, ", ",
               i % L, "] = ", in.attention_mask.data[i], ": must be 0 or 1");
    if (has_tt)
      BB_CHECK(in.token_type_ids.data[i] >= 0 && in.token_type_ids.data[i] < std::max<int64_t>(c.type_vocab_size, 1),
               what, "token_type_ids[", i / L, ", ", i % L, "] = ", in.token_type_ids.data[i],
               " is out of range for type_vocab_size ", c.type_vocab_size);
  }
}

}  // namespace

const std::vector<BigBirdModel::LayerBf16>& BigBirdModel::bf16_layers() const {
  std::call_once(bf16_once_, [&] {
    auto pack = [](const LinearW& l) { return pack_weight_bf16(l.w.data, l.out(), l.in()); };
    for (const EncoderLayerW& W : w_.layers)
      bf16_.push_back({pack(W.q), pack(W.k), pack(W.v), pack(W.o), pack(W.ffn_in), pack(W.ffn_out)});
  });
  return bf16_;
}

EncoderOutput BigBirdModel::encode(const EncoderInput& in, const ForwardOptions& opt) const {
  return std::move(encode_groups({&in}, opt)[0]);
}

std::vector<EncoderOutput> BigBirdModel::encode_batch(const std::vector<EncoderInput>& inputs,
                                                      const ForwardOptions& opt) const {
  std::vector<const EncoderInput*> ptrs;
  for (const auto& in : inputs) ptrs.push_back(&in);
  return encode_groups(ptrs, opt);
}

std::vector<EncoderOutput> BigBirdModel::encode_groups(const std::vector<const EncoderInput*>& inputs,
                                                       const ForwardOptions& opt) const {
  const BigBirdConfig& c = config_;
  BB_CHECK(!inputs.empty(), "encode: no input");
  const int64_t B = c.block_size;
  std::vector<Group> groups(inputs.size());
  int64_t rows = 0;
  for (size_t gi = 0; gi < inputs.size(); ++gi) {
    Group& g = groups[gi];
    g.in = inputs[gi];
    check_input(c, *g.in, inputs.size() > 1 ? "input " + std::to_string(gi) + ": " : std::string());
    g.b = g.in->input_ids.dim(0);
    g.L = g.in->input_ids.dim(1);
    EncoderOutput& out = g.out;
    out.input_len = g.L;
    out.attention_used = opt.attention.value_or(c.attention_type);
    if (out.attention_used == AttentionType::BlockSparse && g.L <= c.max_tokens_for_full_fallback()) {
      out.attention_used = AttentionType::OriginalFull;  // decided per call (HF's switch is sticky; ours is not)
      out.fell_back = true;
    }
    g.pad = out.attention_used == AttentionType::BlockSparse ? (B - g.L % B) % B : 0;
    g.Lp = g.L + g.pad;
    out.padded_len = g.Lp;
    BB_CHECK(g.Lp <= c.max_position_embeddings, "input of ", g.L, " tokens", (g.pad ? " (padded to " : ""),
             (g.pad ? std::to_string(g.Lp) : std::string()), (g.pad ? ")" : ""),
             " is longer than max_position_embeddings ", c.max_position_embeddings);
    g.row0 = rows;
    rows += g.b * g.Lp;
  }

  const int64_t H = c.hidden_size, heads = c.num_attention_heads, d = c.head_dim(), F = c.intermediate_size;
  const Activation act = parse_activation(c.hidden_act);
  const float eps = static_cast<float>(c.layer_norm_eps);

  // Embeddings (internal padding appends pad tokens with mask 0, type 0, continuing positions).
  std::vector<float> mask(static_cast<size_t>(rows), 1.0f);
  Tensor x(Shape{rows, H});
  const float word_scale = c.rescale_embeddings ? std::sqrt(static_cast<float>(H)) : 1.0f;
  for (const Group& g : groups) {
    const EncoderInput& in = *g.in;
    const bool has_mask = !in.attention_mask.data.empty(), has_tt = !in.token_type_ids.data.empty();
    const int64_t n = g.b * g.Lp, Lp = g.Lp, L = g.L;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = g.row0 + i, bi = i / Lp, t = i % Lp;
      const bool real = t < L;
      const size_t src = static_cast<size_t>(bi * L + t);
      const int64_t id = real ? in.input_ids.data[src] : c.pad_token_id;
      const int64_t tt = real && has_tt ? in.token_type_ids.data[src] : 0;
      mask[static_cast<size_t>(r)] = real ? (has_mask ? static_cast<float>(in.attention_mask.data[src]) : 1.0f) : 0.0f;
      float* xr = x.ptr() + r * H;
      const float* we = w_.word.data + id * H;
      const float* pe = w_.position.data + t * H;
      const float* te = w_.token_type.empty() ? nullptr : w_.token_type.data + tt * H;
      for (int64_t j = 0; j < H; ++j) xr[j] = we[j] * word_scale + (te ? te[j] : 0.0f) + pe[j];
    }
  }
  layernorm(x.ptr(), x.ptr(), rows, H, w_.emb_ln.g.data, w_.emb_ln.b.data, eps);
  // Copies a group's rows of x into a [b, Lp, H] tensor.
  auto group_rows = [&](const Group& g) {
    Tensor t(Shape{g.b, g.Lp, H});
    std::copy(x.data.begin() + g.row0 * H, x.data.begin() + (g.row0 + g.b * g.Lp) * H, t.data.begin());
    return t;
  };
  if (opt.keep_hidden_states)
    for (Group& g : groups) g.out.embedding_output = group_rows(g);

  // Work buffers, allocated once for all layers (about 4·H floats per token plus the attention
  // workspace's transposed keys): the attention output overwrites q (each attention job reads
  // only the q rows and head it writes), and the attention sublayer's output reuses k.
  std::vector<float> q(static_cast<size_t>(rows * H)), k(q.size()), v(q.size());
  float* ctx = q.data();
  float* a = k.data();
  const int64_t chunk = std::min<int64_t>(rows, 2048);
  std::vector<float> inter(static_cast<size_t>(chunk * F));
  AttentionWorkspace ws;
  const bool ref = opt.reference_kernels;
  BB_CHECK(!(ref && opt.bf16), "reference kernels are float32: bf16 and reference_kernels exclude each other");
  BB_CHECK(!opt.bf16 || bf16_supported(),
           "bf16 needs a CPU with AVX512-BF16 (e.g. AMD Zen 4, Intel Cooper Lake or later)");
  const std::vector<LayerBf16>* wb = opt.bf16 ? &bf16_layers() : nullptr;
  // y = x·Wᵀ + b through float32 BLAS, the bf16 kernel, or the double reference.
  auto proj = [&](const float* xin, int64_t nr, int64_t in, const LinearW& l, const PackedWeightBf16* pw,
                  const float* bias, float* y) {
    if (ref) linear_ref(xin, nr, in, l.w.data, bias, l.out(), y);
    else if (pw) linear_bf16(xin, nr, *pw, bias, y);
    else linear(xin, nr, in, l.w.data, bias, l.out(), y);
  };
  auto norm = [&](const float* xin, const float* res, const float* bias, float* y, int64_t nr, const NormW& nw) {
    if (ref) layernorm_ref(xin, res, bias, y, nr, H, nw.g.data, nw.b.data, eps);
    else layernorm_fused(xin, res, bias, y, nr, H, nw.g.data, nw.b.data, eps);
  };

  // Every layer's random plan and layout, built before the layer loop (no allocation inside it).
  std::vector<std::vector<std::optional<BlockLayout>>> layouts(groups.size());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = groups[gi];
    layouts[gi].resize(w_.layers.size());
    if (g.out.attention_used != AttentionType::BlockSparse) continue;
    const int n_blocks = static_cast<int>(g.Lp / B);
    for (size_t li = 0; li < w_.layers.size(); ++li) {
      RandomPlan plan = choose_layer_plan(opt, static_cast<int>(li), static_cast<int>(heads), n_blocks,
                                          static_cast<int>(B), static_cast<int>(c.num_random_blocks),
                                          static_cast<int>(c.max_position_embeddings));
      layouts[gi][li] = itc_layout(n_blocks, static_cast<int>(B), static_cast<int>(heads), plan);
      g.out.plans.push_back(std::move(plan));
    }
  }

  for (size_t li = 0; li < w_.layers.size(); ++li) {
    const EncoderLayerW& W = w_.layers[li];
    const LayerBf16* Wb = wb ? &(*wb)[li] : nullptr;
    proj(x.ptr(), rows, H, W.q, Wb ? &Wb->q : nullptr, W.q.b.data, q.data());
    proj(x.ptr(), rows, H, W.k, Wb ? &Wb->k : nullptr, W.k.b.data, k.data());
    proj(x.ptr(), rows, H, W.v, Wb ? &Wb->v : nullptr, W.v.b.data, v.data());
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const Group& g = groups[gi];
      const std::optional<BlockLayout>& layout = layouts[gi][li];
      const int64_t off = g.row0 * H;
      encoder_attention({q.data() + off, k.data() + off, v.data() + off, ctx + off, H, g.b, g.Lp,
                         static_cast<int>(heads), d, mask.data() + g.row0},
                        layout ? &*layout : nullptr, ref, &ws);
    }
    // a = LN(ctx·Woᵀ + bo + x)
    proj(ctx, rows, H, W.o, Wb ? &Wb->o : nullptr, nullptr, a);
    norm(a, x.ptr(), W.o.b.data, a, rows, W.attn_ln);
    // x = LN(act(a·W1ᵀ + b1)·W2ᵀ + b2 + a), in row chunks to bound the intermediate buffer.
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t nr = std::min(chunk, rows - r0);
      proj(a + r0 * H, nr, H, W.ffn_in, Wb ? &Wb->ffn_in : nullptr, nullptr, inter.data());
      if (ref) {
        for (int64_t i = 0; i < nr * F; ++i)
          inter[static_cast<size_t>(i)] = activate(act, inter[static_cast<size_t>(i)] + W.ffn_in.b.data[i % F]);
      } else {
        bias_activate_inplace(act, inter.data(), nr, F, W.ffn_in.b.data);
      }
      proj(inter.data(), nr, F, W.ffn_out, Wb ? &Wb->ffn_out : nullptr, nullptr, x.ptr() + r0 * H);
      norm(x.ptr() + r0 * H, a + r0 * H, W.ffn_out.b.data, x.ptr() + r0 * H, nr, W.out_ln);
    }
    if (opt.keep_hidden_states)
      for (Group& g : groups) g.out.hidden_states.push_back(group_rows(g));
  }

  std::vector<EncoderOutput> outs;
  for (Group& g : groups) {
    if (groups.size() == 1 && g.pad == 0) {
      x.shape = Shape{g.b, g.L, H};
      g.out.sequence_output = std::move(x);
    } else {
      g.out.sequence_output = Tensor(Shape{g.b, g.L, H});
      for (int64_t bi = 0; bi < g.b; ++bi)
        std::copy(x.data.begin() + (g.row0 + bi * g.Lp) * H, x.data.begin() + (g.row0 + bi * g.Lp + g.L) * H,
                  g.out.sequence_output.data.begin() + bi * g.L * H);
    }
    outs.push_back(std::move(g.out));
  }
  return outs;
}

// ------------------------------------------------------------------------- heads

namespace {
Tensor first_tokens(const Tensor& seq) {
  const int64_t b = seq.dim(0), L = seq.dim(1), H = seq.dim(2);
  Tensor t(Shape{b, H});
  for (int64_t i = 0; i < b; ++i) std::copy_n(seq.ptr() + i * L * H, H, t.ptr() + i * H);
  return t;
}
Tensor apply(const LinearW& l, const Tensor& x) {
  const int64_t rows = x.size() / l.in();
  Shape s = x.shape;
  s.back() = l.out();
  Tensor y(s);
  linear(x.ptr(), rows, l.in(), l.w.data, l.b.data, l.out(), y.ptr());
  return y;
}
}  // namespace

Tensor BigBirdModel::pooler(const Tensor& seq) const {
  BB_CHECK(w_.pooler, architecture_name(arch_), " checkpoint has no pooler");
  Tensor y = apply(*w_.pooler, first_tokens(seq));
  for (auto& v : y.data) v = std::tanh(v);
  return y;
}

Tensor BigBirdModel::mlm_logits(const Tensor& seq) const {
  BB_CHECK(w_.mlm_transform, architecture_name(arch_), " checkpoint has no masked-LM head");
  Tensor t = apply(*w_.mlm_transform, seq);
  activate_inplace(parse_activation(config_.hidden_act), t.ptr(), t.size());
  layernorm(t.ptr(), t.ptr(), t.size() / config_.hidden_size, config_.hidden_size, w_.mlm_ln.g.data, w_.mlm_ln.b.data,
            static_cast<float>(config_.layer_norm_eps));
  return apply(w_.mlm_decoder, t);
}

Tensor BigBirdModel::nsp_logits(const Tensor& pooled) const {
  BB_CHECK(w_.nsp, architecture_name(arch_), " checkpoint has no next-sentence head");
  return apply(*w_.nsp, pooled);
}

Tensor BigBirdModel::sequence_classification_logits(const Tensor& seq) const {
  BB_CHECK(w_.cls_dense, architecture_name(arch_), " checkpoint has no sequence-classification head");
  Tensor t = apply(*w_.cls_dense, first_tokens(seq));
  activate_inplace(parse_activation(config_.hidden_act), t.ptr(), t.size());
  return apply(w_.cls_out, t);
}

Tensor BigBirdModel::qa_logits(const Tensor& seq) const {
  BB_CHECK(w_.qa_intermediate, architecture_name(arch_), " checkpoint has no question-answering head");
  Tensor t = apply(*w_.qa_intermediate, seq);
  activate_inplace(parse_activation(config_.hidden_act), t.ptr(), t.size());
  Tensor u = seq;  // residual
  linear_accumulate(t.ptr(), t.size() / t.shape.back(), t.shape.back(), w_.qa_output.w.data, w_.qa_output.b.data,
                    config_.hidden_size, u.ptr());
  layernorm(u.ptr(), u.ptr(), u.size() / config_.hidden_size, config_.hidden_size, w_.qa_ln.g.data, w_.qa_ln.b.data,
            static_cast<float>(config_.layer_norm_eps));
  return apply(w_.qa_outputs, u);
}

Tensor BigBirdModel::token_classification_logits(const Tensor& seq) const {
  BB_CHECK(w_.token_cls, architecture_name(arch_), " checkpoint has no token-classification head");
  return apply(*w_.token_cls, seq);
}

}  // namespace bigbird
