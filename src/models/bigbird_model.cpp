#include "models/bigbird_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "kernels/activations.h"
#include "layers/heads.h"
#include "layers/ops.h"

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
BigBirdWeights bind_weights(const BigBirdConfig& c, Architecture arch, const std::string& prefix, Get&& get, Has has) {
  const int64_t H = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  BigBirdWeights w;
  auto lin = [&](const std::string& name, int64_t out, int64_t in, bool bias = true) {
    ConstView w = get(name + ".weight", Shape{out, in});
    return Linear(w, bias ? get(name + ".bias", Shape{out}) : ConstView{});
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
    L.ffn_ln = norm(p + "output.LayerNorm", H);
    w.layers.push_back(L);
  }
  const bool want_pooler =
      arch == Architecture::PreTraining || (arch == Architecture::Model && has(prefix + "pooler.weight"));
  if (want_pooler) w.pooler = lin(prefix + "pooler", H, H);
  if (arch == Architecture::PreTraining || arch == Architecture::MaskedLM) {
    w.mlm_transform = lin("cls.predictions.transform.dense", H, H);
    w.mlm_ln = norm("cls.predictions.transform.LayerNorm", H);
    // Tied as HF ties them: the decoder is the word embedding matrix unless stored.
    // Tied as HF ties them (one parameter): the decoder is the word-embedding matrix, whether or not
    // the file also stores the alias.
    const ConstView dw = (!c.tie_word_embeddings && has("cls.predictions.decoder.weight"))
                             ? get("cls.predictions.decoder.weight", Shape{V, H})
                             : w.word;
    w.mlm_decoder = Linear(dw, (!has("cls.predictions.bias") && has("cls.predictions.decoder.bias"))
                                   ? get("cls.predictions.decoder.bias", Shape{V})
                                   : get("cls.predictions.bias", Shape{V}));
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
  // Last, so that the other tensors' random initialisation does not depend on it.
  if (c.layout.global_tokens > 0) w.global_tokens = get(e + "global_token_embeddings.weight", Shape{c.layout.global_tokens, H});
  return w;
}

}  // namespace

std::unique_ptr<BigBirdModel> BigBirdModel::load(const std::string& dir, const ConfigOverrides& ov) {
  BB_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  auto m = std::make_unique<BigBirdModel>();
  m->config_ = load_bigbird_config((fs::path(dir) / "config.json").string(), ov);
  BB_CHECK(m->config_.model_type == "big_bird", (fs::path(dir) / "config.json").string(), ": model_type '",
           m->config_.model_type, "' is not a BigBird encoder (expected big_bird)");
  m->arch_ = parse_architecture(m->config_.architectures);
  m->store_ = std::make_unique<WeightStore>(WeightStore::open_dir(dir));
  WeightStore& ws = *m->store_;
  std::string prefix;
  if (ws.has("bert.embeddings.word_embeddings.weight")) prefix = "bert.";
  else if (!ws.has("embeddings.word_embeddings.weight"))
    fail("'", ws.source(), "': no 'bert.embeddings.word_embeddings.weight' (not a BigBird checkpoint?)");
  // type_vocab_size 0 binds no token-type table: a checkpoint that has one would be ignored.
  const std::string types = prefix + "embeddings.token_type_embeddings.weight";
  BB_CHECK(m->config_.type_vocab_size > 0 || !ws.has(types), (fs::path(dir) / "config.json").string(),
           ": type_vocab_size is 0 but the checkpoint has '", types, "' of shape ", to_string(ws.shape(types)),
           " (type_vocab_size should be its first dimension)");
  if (m->arch_ == Architecture::QuestionAnswering && m->config_.id2label.empty()) m->config_.num_labels = 2;
  const std::string etc = prefix + "embeddings.global_token_embeddings.weight";
  BB_CHECK(m->config_.layout.global_tokens == 0 || ws.has(etc), (fs::path(dir) / "config.json").string(),
           ": num_global_tokens is ", m->config_.layout.global_tokens, " but '", ws.source(), "' has no '", etc,
           "' (the ETC global tokens' vectors: `bigbird train --config-overrides num_global_tokens=N` creates them)");
  auto get = [&](const std::string& n, const Shape& s) {
    ConstView v = ws.get(n, s);
    m->params_.emplace_back(n, v);
    return v;
  };
  m->prefix_ = prefix;
  m->w_ = bind_weights(m->config_, m->arch_, prefix, get, [&](const std::string& n) { return ws.has(n); });
  // Stored parameters no head of this architecture reads (e.g. the pooler of a classifier, which
  // HF's model has too): parameters without gradient. Tied aliases and buffers are not parameters.
  for (const std::string& n : ws.names()) {
    const bool alias = m->config_.tie_word_embeddings &&
                       (n == "cls.predictions.decoder.weight" || n == "cls.predictions.decoder.bias");
    const bool buffer = n.size() >= 12 && n.compare(n.size() - 12, 12, "position_ids") == 0;
    bool bound = false;
    for (const auto& p : m->params_) bound = bound || p.first == n;
    if (!alias && !buffer && !bound) get(n, ws.shape(n));
  }
  return m;
}

std::unique_ptr<BigBirdModel> BigBirdModel::random(const BigBirdConfig& config, Architecture arch, uint64_t seed) {
  auto m = std::make_unique<BigBirdModel>();
  m->config_ = config;
  m->arch_ = arch;
  m->random_ = std::make_unique<RandomWeights>(seed);
  auto get = [&](const std::string& n, const Shape& s) {
    ConstView v = (*m->random_)(n, s);
    m->params_.emplace_back(n, v);
    return v;
  };
  m->w_ = bind_weights(config, arch, "bert.", get, [](const std::string&) { return false; });
  return m;
}

std::unique_ptr<BigBirdModel> BigBirdModel::load_for_training(const std::string& dir, Architecture arch,
                                                              int64_t num_labels, uint64_t seed,
                                                              std::vector<std::string>* initialised,
                                                              const ConfigOverrides& ov) {
  BB_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  auto m = std::make_unique<BigBirdModel>();
  m->config_ = load_bigbird_config((fs::path(dir) / "config.json").string(), ov);
  m->arch_ = arch;
  if (num_labels > 0) m->config_.num_labels = num_labels;
  if (arch == Architecture::QuestionAnswering) m->config_.num_labels = 2;
  m->store_ = std::make_unique<WeightStore>(WeightStore::open_dir(dir));
  m->random_ = std::make_unique<RandomWeights>(seed);
  WeightStore& ws = *m->store_;
  const std::string prefix = ws.has("embeddings.word_embeddings.weight") ? "" : "bert.";
  m->prefix_ = prefix;
  auto get = [&](const std::string& n, const Shape& s) {
    ConstView v;
    if (ws.has(n)) {
      BB_CHECK(ws.shape(n) == s, "'", dir, "': tensor '", n, "' has shape ", to_string(ws.shape(n)),
               " but config.json (and the task's labels) need ", to_string(s),
               ": the checkpoint does not fit its config");
      v = ws.get(n, s);
    } else {
      v = (*m->random_)(n, s);
      if (initialised) initialised->push_back(n);
    }
    m->params_.emplace_back(n, v);
    return v;
  };
  m->w_ = bind_weights(m->config_, arch, prefix, get, [&](const std::string& n) { return ws.has(n); });
  add_unused_pooler(*m, get);
  return m;
}

// HF's BigBirdForMaskedLM, ...SequenceClassification and ...TokenClassification hold a pooler the
// loss never reaches (named_parameters() lists it; saved checkpoints carry it).
template <typename Get>
void BigBirdModel::add_unused_pooler(BigBirdModel& m, Get& get) {
  const bool hf_has_pooler = m.arch_ == Architecture::MaskedLM || m.arch_ == Architecture::SequenceClassification ||
                             m.arch_ == Architecture::TokenClassification;
  if (hf_has_pooler && !m.w_.pooler) {
    const int64_t H = m.config_.hidden_size;
    get(m.prefix_ + "pooler.weight", Shape{H, H});
    get(m.prefix_ + "pooler.bias", Shape{H});
  }
}

std::unique_ptr<BigBirdModel> BigBirdModel::random_for_training(const BigBirdConfig& config, Architecture arch,
                                                                uint64_t seed) {
  auto m = random(config, arch, seed);
  auto get = [&](const std::string& n, const Shape& s) {
    ConstView v = (*m->random_)(n, s);
    m->params_.emplace_back(n, v);
    return v;
  };
  add_unused_pooler(*m, get);
  return m;
}

void BigBirdModel::set_labels(const std::vector<std::string>& id2label, const std::string& problem_type) {
  config_.id2label.clear();
  for (size_t i = 0; i < id2label.size(); ++i) config_.id2label[static_cast<int64_t>(i)] = id2label[i];
  config_.problem_type = problem_type;
}

std::vector<std::pair<std::string, float*>> BigBirdModel::make_trainable() {
  std::map<std::string, float*> copy;
  std::vector<std::pair<std::string, float*>> out;
  std::deque<std::vector<float>> owned;
  for (auto& [name, view] : params_) copy[name] = owned.emplace_back(view.data, view.data + numel(view.shape)).data();
  for (auto& [name, view] : params_) {
    view.data = copy.at(name);
    out.emplace_back(name, copy.at(name));
  }
  std::map<std::string, ConstView> by_name(params_.begin(), params_.end());
  w_ = bind_weights(
      config_, arch_, prefix_,
      [&](const std::string& n, const Shape& s) {
        auto it = by_name.find(n);
        BB_CHECK(it != by_name.end() && it->second.shape == s, "make_trainable: no parameter '", n, "' of shape ",
                 to_string(s));
        return it->second;
      },
      [&](const std::string& n) { return by_name.count(n) != 0; });
  owned_ = std::move(owned);  // a deque's move keeps its elements where they are
  store_.reset();
  random_.reset();
  return out;
}

void BigBirdModel::save(const std::string& dir, const std::string& source_config_json) const {
  fs::create_directories(dir);
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!source_config_json.empty()) {
    std::ifstream f(source_config_json);
    BB_CHECK(f, "cannot read '", source_config_json, "'");
    j = nlohmann::ordered_json::parse(f, nullptr, false);
    BB_CHECK(j.is_object(), "'", source_config_json, "' is not a JSON object");
  }
  apply_config_overrides(j, config_.overrides);  // what the model was loaded or trained with
  j["architectures"] = {architecture_name(arch_)};
  j["model_type"] = "big_bird";
  if (!config_.id2label.empty()) {
    nlohmann::ordered_json id2label = nlohmann::ordered_json::object(), label2id = nlohmann::ordered_json::object();
    for (const auto& [i, name] : config_.id2label) {
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
  }
  if (arch_ == Architecture::SequenceClassification || arch_ == Architecture::TokenClassification)
    j["num_labels"] = config_.num_labels;
  if (!config_.problem_type.empty()) j["problem_type"] = config_.problem_type;
  std::vector<OutTensor> tensors;
  for (const auto& [name, view] : params_) tensors.push_back(OutTensor::f32(name, view.shape, view.data));
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  write_file_atomically((fs::path(dir) / "config.json").string(), j.dump(2) + "\n");
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

StackShape BigBirdModel::stack_shape() const {
  const BigBirdConfig& c = config_;
  StackShape s;
  s.hidden = c.hidden_size;
  s.heads = c.num_attention_heads;
  s.ffn = c.intermediate_size;
  s.layers = c.num_hidden_layers;
  s.vocab = c.vocab_size;
  s.token_types = true;
  s.type_vocab = c.type_vocab_size;
  s.max_positions = c.max_position_embeddings;
  s.padding_has_positions = true;
  s.pad_token_id = c.pad_token_id;
  s.attention_type = c.attention_type;
  s.block = c.block_size;
  s.random_blocks = c.num_random_blocks;
  s.layout = c.layout;
  s.act = parse_activation(c.hidden_act);
  s.eps = static_cast<float>(c.layer_norm_eps);
  return s;
}

EncoderOutput BigBirdModel::encode(const EncoderInput& in, const ForwardOptions& opt,
                                   const ThreadingContext& ctx) const {
  return std::move(forward({&in}, opt, ctx)[0]);
}

std::vector<EncoderOutput> BigBirdModel::encode_batch(const std::vector<EncoderInput>& inputs,
                                                      const ForwardOptions& opt, const ThreadingContext& ctx) const {
  std::vector<const EncoderInput*> ptrs;
  for (const auto& in : inputs) ptrs.push_back(&in);
  return forward(ptrs, opt, ctx);
}

// Embeddings (word·scale + token type + position, then LayerNorm), then the post-LN layers.
// Internal padding rows are pad tokens with mask 0, type 0 and continuing positions. ETC global
// tokens (config num_global_tokens) start from their own vectors, through the same LayerNorm.
std::vector<EncoderOutput> BigBirdModel::forward(const std::vector<const EncoderInput*>& inputs,
                                                 const ForwardOptions& opt, const ThreadingContext& ctx) const {
  const Compute c = compute_for(opt, ctx);
  const StackShape s = stack_shape();
  EncoderBatch batch(s, inputs, opt);
  const int64_t H = s.hidden;
  const float scale = config_.rescale_embeddings ? std::sqrt(static_cast<float>(H)) : 1.0f;
  Tensor x(Shape{batch.rows(), H});
  batch.for_each_token(ctx, [&](int64_t r, const TokenRow& t) {
    float* xr = x.ptr() + r * H;
    if (t.global >= 0) return static_cast<void>(std::copy_n(w_.global_tokens.data + t.global * H, H, xr));
    const float* we = w_.word.data + t.id * H;
    const float* pe = w_.position.data + t.position * H;
    const float* te = w_.token_type.empty() ? nullptr : w_.token_type.data + t.type * H;
    for (int64_t j = 0; j < H; ++j) xr[j] = we[j] * scale + (te ? te[j] : 0.0f) + pe[j];
  });
  layer_norm(c, x.ptr(), nullptr, nullptr, x.ptr(), batch.rows(), H, w_.emb_ln, s.eps);
  batch.keep_embedding(x);
  LayerBuffers buf(s, batch.rows(), /*pre_ln=*/false);
  for (size_t li = 0; li < w_.layers.size(); ++li) {
    post_ln_layer(c, w_.layers[li], s, batch, static_cast<int>(li), x.ptr(), buf);
    batch.keep_layer(x);
  }
  return batch.finish(std::move(x));
}

void BigBirdModel::prepare(const ForwardOptions& opt, const ThreadingContext& ctx) const {
  const Compute c = compute_for(opt, ctx);
  for (const EncoderLayerW& l : w_.layers)
    for (const Linear* p : {&l.q, &l.k, &l.v, &l.o, &l.ffn_in, &l.ffn_out}) p->prepare(c);
}

// ------------------------------------------------------------------------- heads

namespace {
template <typename T>
const T& need(const std::optional<T>& head, Architecture arch, const char* what) {
  BB_CHECK(head, architecture_name(arch), " checkpoint has no ", what);
  return *head;
}
}  // namespace

Tensor BigBirdModel::pooler(const Tensor& seq, const ThreadingContext& ctx) const {
  return pooler_head(Compute{ctx}, need(w_.pooler, arch_, "pooler"), seq);
}

Tensor BigBirdModel::mlm_logits(const Tensor& seq, const ThreadingContext& ctx) const {
  return mlm_head(Compute{ctx}, need(w_.mlm_transform, arch_, "masked-LM head"), w_.mlm_ln, w_.mlm_decoder,
                  parse_activation(config_.hidden_act), static_cast<float>(config_.layer_norm_eps), seq);
}

Tensor BigBirdModel::nsp_logits(const Tensor& pooled, const ThreadingContext& ctx) const {
  return need(w_.nsp, arch_, "next-sentence head")(Compute{ctx}, pooled);
}

Tensor BigBirdModel::sequence_classification_logits(const Tensor& seq, const ThreadingContext& ctx) const {
  return classification_head(Compute{ctx}, need(w_.cls_dense, arch_, "sequence-classification head"), w_.cls_out,
                             parse_activation(config_.hidden_act), seq);
}

Tensor BigBirdModel::qa_logits(const Tensor& seq, const ThreadingContext& ctx) const {
  return qa_head(Compute{ctx}, need(w_.qa_intermediate, arch_, "question-answering head"), w_.qa_output, w_.qa_ln,
                 w_.qa_outputs, parse_activation(config_.hidden_act), static_cast<float>(config_.layer_norm_eps), seq);
}

Tensor BigBirdModel::token_classification_logits(const Tensor& seq, const ThreadingContext& ctx) const {
  return need(w_.token_cls, arch_, "token-classification head")(Compute{ctx}, seq);
}

}  // namespace bigbird
