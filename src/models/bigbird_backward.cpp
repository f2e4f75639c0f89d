// BigBirdModel::loss_and_grads: the training forward (every layer's activations kept, or with
// gradient checkpointing only every layer's input), the architecture's loss as HF 4.27 computes
// it, and the backward through heads, layers and embeddings, composed from the layers' backward
// functions; HF's training-mode dropout when asked.
#include <cmath>

#include "core/error.h"
#include "kernels/embedding.h"
#include "layers/dropout.h"
#include "layers/heads.h"
#include "layers/losses.h"
#include "layers/ops.h"
#include "models/bigbird_model.h"

namespace bigbird {

namespace {

int64_t count(const TensorI64& t) { return static_cast<int64_t>(t.data.size()); }

// Cross entropy over `classes` columns whose labels (one per row) may be -100; adds the loss and
// writes dlogits.
float ce(const Tensor& logits, int64_t classes, const TensorI64& labels, Tensor& dlogits, const char* what) {
  const int64_t rows = logits.size() / classes;
  BB_CHECK(count(labels) == rows, what, ": ", count(labels), " labels for ", rows, " predictions");
  dlogits = Tensor(logits.shape);
  return cross_entropy_loss(logits.ptr(), rows, classes, labels.data.data(), dlogits.ptr());
}

// HF's QA loss on one end: positions clamped to [0, L]; L (out of range) is ignored.
float qa_end_loss(const Tensor& logits, int64_t end, const TensorI64& positions, Tensor& dlogits, const char* what) {
  const int64_t b = logits.dim(0), L = logits.dim(1);
  BB_CHECK(count(positions) == b, what, ": ", count(positions), " positions for a batch of ", b);
  Tensor col(Shape{b, L});
  for (int64_t i = 0; i < b * L; ++i) col.data[static_cast<size_t>(i)] = logits.data[static_cast<size_t>(i * 2 + end)];
  TensorI64 lab(Shape{b});
  for (int64_t i = 0; i < b; ++i) {
    const int64_t p = std::clamp<int64_t>(positions.data[static_cast<size_t>(i)], 0, L);
    lab.data[static_cast<size_t>(i)] = p == L ? -100 : p;
  }
  Tensor d;
  const float loss = ce(col, L, lab, d, what);
  for (int64_t i = 0; i < b * L; ++i)
    dlogits.data[static_cast<size_t>(i * 2 + end)] += 0.5f * d.data[static_cast<size_t>(i)];
  return loss;
}

}  // namespace

GradOutput BigBirdModel::loss_and_grads(const EncoderInput& in, const TrainLabels& lab, const ForwardOptions& opt,
                                        const ThreadingContext& ctx, const TrainingOptions& train) const {
  BB_CHECK(opt.precision == Precision::F32, "gradients are computed in float32: --dtype ", precision_name(opt.precision),
           " has no backward");
  const Compute c = compute_for(opt, ctx);
  // Training-mode dropout at `site` with probability p (inactive without train.dropout or at p = 0).
  // HF's dropout on the attention probabilities (attention_probs_dropout_prob) acts where full
  // attention runs: original_full layers and the short-input fall-back (block-sparse has none).
  auto dropout = [&](uint64_t site, double p) {
    return train.dropout ? Dropout{static_cast<float>(p), train.dropout_seed, train.step, site} : Dropout{};
  };
  const double p_hidden = config_.hidden_dropout_prob, p_cls = config_.classifier_dropout_prob();
  const double p_probs = config_.attention_probs_dropout_prob;
  auto layer_dropout = [&](size_t li) {
    const int l = static_cast<int>(li);
    return LayerDropout{dropout(dropout_site::attention_output(l), p_hidden),
                        dropout(dropout_site::ffn_output(l), p_hidden),
                        dropout(dropout_site::attention_probs(l), p_probs)};
  };
  const StackShape s = stack_shape();
  EncoderInput input = in;
  std::vector<int64_t> qlen;
  if (arch_ == Architecture::QuestionAnswering) {  // HF: token types 1 - question mask when absent
    qlen = question_lengths(in.input_ids, config_.sep_token_id);
    if (input.token_type_ids.data.empty()) {
      const int64_t L = in.input_ids.dim(1);
      input.token_type_ids = TensorI64(in.input_ids.shape);
      for (size_t i = 0; i < input.token_type_ids.data.size(); ++i)
        input.token_type_ids.data[i] = static_cast<int64_t>(i) % L < qlen[i / static_cast<size_t>(L)] ? 0 : 1;
    }
  }
  EncoderBatch batch(s, {&input}, opt);
  const int64_t H = s.hidden, rows = batch.rows(), n = rows * H;

  // Forward: embeddings (their LayerNorm input z0 kept), then every layer with its cache.
  const float scale = config_.rescale_embeddings ? std::sqrt(static_cast<float>(H)) : 1.0f;
  std::vector<int64_t> ids(static_cast<size_t>(rows)), pos(ids.size()), types(ids.size()), globals(ids.size());
  Tensor z0(Shape{rows, H}), x(Shape{rows, H});
  batch.for_each_token(ctx, [&](int64_t r, const TokenRow& t) {
    ids[static_cast<size_t>(r)] = t.id, pos[static_cast<size_t>(r)] = t.position,
    types[static_cast<size_t>(r)] = t.type, globals[static_cast<size_t>(r)] = t.global;
    float* zr = z0.ptr() + r * H;
    if (t.global >= 0) return static_cast<void>(std::copy_n(w_.global_tokens.data + t.global * H, H, zr));
    const float* we = w_.word.data + t.id * H;
    const float* pe = w_.position.data + t.position * H;
    const float* te = w_.token_type.empty() ? nullptr : w_.token_type.data + t.type * H;
    for (int64_t j = 0; j < H; ++j) zr[j] = we[j] * scale + (te ? te[j] : 0.0f) + pe[j];
  });
  layer_norm(c, z0.ptr(), nullptr, nullptr, x.ptr(), rows, H, w_.emb_ln, s.eps);
  const Dropout emb_drop = dropout(dropout_site::kEmbeddings, p_hidden);
  apply_dropout(ctx, emb_drop, x.ptr(), n);
  // Without checkpointing every layer keeps its cache; with it, only the layer inputs are kept
  // (inputs[li], [rows, H]) and one cache serves every layer, forward and recomputation alike.
  const bool ckpt = train.gradient_checkpointing;
  const size_t n_layers = w_.layers.size();
  // A caller's workspace is reused as it is (the buffers keep their size from step to step); a
  // local one frees each layer's cache as soon as its backward is done.
  TrainWorkspace local;
  TrainWorkspace& work = train.workspace ? *train.workspace : local;
  std::vector<PostLnCache>& caches = work.caches;
  std::vector<std::vector<float>>& inputs = work.inputs;
  caches.resize(ckpt ? 1 : n_layers);
  inputs.resize(ckpt ? n_layers : 0);
  AttentionWorkspace& ws = work.attention;
  // The last layer's cache stays valid for its backward: it is neither kept as an input nor recomputed.
  for (size_t li = 0; li < n_layers; ++li) {
    const bool recompute = ckpt && li + 1 < n_layers;
    if (recompute) inputs[li].resize(static_cast<size_t>(n)), copy(c, x.ptr(), inputs[li].data(), n);
    post_ln_layer_train(c, w_.layers[li], s, batch, static_cast<int>(li), x.ptr(), caches[ckpt ? 0 : li], ws,
                        work.scratch, layer_dropout(li));
  }
  const Tensor seq = std::move(batch.finish(std::move(x))[0].sequence_output);  // [b, L, H]
  const int64_t b = seq.dim(0), L = seq.dim(1);

  // The head's loss and the gradient of the sequence output.
  Gradients g(train.pool);
  GradOutput out;
  Tensor dseq(seq.shape);
  const Activation act = s.act;
  switch (arch_) {
    case Architecture::PreTraining:
    case Architecture::MaskedLM: {
      BB_CHECK(!lab.labels.data.empty(), architecture_name(arch_), " needs `labels` (MLM targets, -100 = ignored)");
      BB_CHECK(lab.labels.shape == in.input_ids.shape, "labels shape ", to_string(lab.labels.shape),
               " does not match input_ids ", to_string(in.input_ids.shape));
      // Only the labelled positions reach the loss: the head runs on those rows alone (the others'
      // logits and gradients are not needed; about 7x less work at HF's 15 % masking).
      std::vector<int64_t> at;
      for (int64_t i = 0; i < b * L; ++i)
        if (lab.labels.data[static_cast<size_t>(i)] != -100) at.push_back(i);
      const int64_t m = static_cast<int64_t>(at.size());
      Tensor sel(Shape{m, H});
      TensorI64 sel_labels(Shape{m});
      for (int64_t r = 0; r < m; ++r) {
        std::copy_n(seq.ptr() + at[static_cast<size_t>(r)] * H, H, sel.ptr() + r * H);
        sel_labels.data[static_cast<size_t>(r)] = lab.labels.data[static_cast<size_t>(at[static_cast<size_t>(r)])];
      }
      if (m > 0) {
        const Tensor logits = mlm_head(c, *w_.mlm_transform, w_.mlm_ln, w_.mlm_decoder, act, s.eps, sel);  // [m, V]
        Tensor dlogits;
        out.loss = ce(logits, config_.vocab_size, sel_labels, dlogits, "labels");
        const Tensor dsel =
            mlm_head_backward(c, *w_.mlm_transform, w_.mlm_ln, w_.mlm_decoder, act, s.eps, sel, dlogits, g);
        for (int64_t r = 0; r < m; ++r) std::copy_n(dsel.ptr() + r * H, H, dseq.ptr() + at[static_cast<size_t>(r)] * H);
      }
      if (arch_ == Architecture::PreTraining && !lab.next_sentence_label.data.empty()) {
        const Tensor pooled = pooler(seq, ctx);
        Tensor dnsp;
        out.loss += ce(nsp_logits(pooled, ctx), 2, lab.next_sentence_label, dnsp, "next_sentence_label");
        const Tensor dpooled = linear_head_backward(c, *w_.nsp, pooled, dnsp, g);
        const Tensor d = pooler_head_backward(c, *w_.pooler, seq, dpooled, g);
        for (size_t i = 0; i < d.data.size(); ++i) dseq.data[i] += d.data[i];
      }
      break;
    }
    case Architecture::SequenceClassification: {
      const Dropout d_in = dropout(dropout_site::kClassifierIn, p_cls);
      const Dropout d_hidden = dropout(dropout_site::kClassifierHidden, p_cls);
      const Tensor logits =  // [b, labels]
          d_in.active() || d_hidden.active()
              ? classification_head(c, *w_.cls_dense, w_.cls_out, act, seq, d_in, d_hidden)
              : sequence_classification_logits(seq, ctx);
      const int64_t nl = logits.dim(1);
      std::string problem = config_.problem_type;
      if (problem.empty())
        problem = nl == 1 ? "regression"
                          : (!lab.labels.data.empty() ? "single_label_classification" : "multi_label_classification");
      Tensor dlogits(logits.shape);
      if (problem == "single_label_classification") {
        BB_CHECK(!lab.labels.data.empty(), "single-label classification needs integer `labels` [batch]");
        out.loss = ce(logits, nl, lab.labels, dlogits, "labels");
      } else {
        Tensor target = lab.float_labels;
        if (target.data.empty())
          for (int64_t v : lab.labels.data) target.data.push_back(static_cast<float>(v));
        BB_CHECK(static_cast<int64_t>(target.data.size()) == logits.size(), problem, " needs ", logits.size(),
                 " float labels (batch x num_labels), got ", target.data.size());
        out.loss = problem == "regression"
                       ? mse_loss(logits.ptr(), target.ptr(), logits.size(), dlogits.ptr())
                       : bce_with_logits_loss(logits.ptr(), target.ptr(), logits.size(), dlogits.ptr());
      }
      dseq = classification_head_backward(c, *w_.cls_dense, w_.cls_out, act, seq, dlogits, g, d_in, d_hidden);
      break;
    }
    case Architecture::TokenClassification: {
      BB_CHECK(lab.labels.shape == in.input_ids.shape, "token classification needs `labels` shaped as input_ids ",
               to_string(in.input_ids.shape), ", got ", to_string(lab.labels.shape));
      const Dropout d = dropout(dropout_site::kTokenClassifier, p_cls);
      Tensor seq_d;  // the classifier's input: the dropped sequence output
      if (d.active()) seq_d = seq, apply_dropout(ctx, d, seq_d.ptr(), seq_d.size());
      const Tensor& in_cls = d.active() ? seq_d : seq;
      const Tensor logits = d.active() ? (*w_.token_cls)(c, in_cls) : token_classification_logits(seq, ctx);
      Tensor dlogits;
      out.loss = ce(logits, logits.dim(-1), lab.labels, dlogits, "labels");
      dseq = linear_head_backward(c, *w_.token_cls, in_cls, dlogits, g);
      apply_dropout(ctx, d, dseq.ptr(), dseq.size());
      break;
    }
    case Architecture::QuestionAnswering: {
      BB_CHECK(!lab.start_positions.data.empty() && !lab.end_positions.data.empty(),
               "question answering needs `start_positions` and `end_positions` [batch]");
      const Dropout d_in = dropout(dropout_site::kQaIn, p_hidden), d_out = dropout(dropout_site::kQaOutput, p_hidden);
      Tensor logits =  // [b, L, 2]; HF subtracts 1e6 on the question (a constant)
          d_in.active() || d_out.active()
              ? qa_head(c, *w_.qa_intermediate, w_.qa_output, w_.qa_ln, w_.qa_outputs, act, s.eps, seq, d_in, d_out)
              : qa_logits(seq, ctx);
      BB_CHECK(logits.dim(2) == 2, "question answering head has ", logits.dim(2), " outputs, expected 2");
      for (int64_t i = 0; i < b; ++i)
        for (int64_t t = 1; t < std::min(L, qlen[static_cast<size_t>(i)]); ++t)
          for (int64_t e = 0; e < 2; ++e) logits.data[static_cast<size_t>((i * L + t) * 2 + e)] -= 1e6f;
      Tensor dlogits(logits.shape);
      out.loss = 0.5f * (qa_end_loss(logits, 0, lab.start_positions, dlogits, "start_positions") +
                         qa_end_loss(logits, 1, lab.end_positions, dlogits, "end_positions"));
      dseq = qa_head_backward(c, *w_.qa_intermediate, w_.qa_output, w_.qa_ln, w_.qa_outputs, act, s.eps, seq, dlogits,
                              g, d_in, d_out);
      break;
    }
    case Architecture::Model: fail("BigBirdModel has no head and no loss: gradients need a task head");
  }

  // Backward through the layers, from the sequence output (padding rows get no gradient).
  std::vector<float> dx(static_cast<size_t>(n), 0.0f);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < L; ++t) std::copy_n(dseq.ptr() + (i * L + t) * H, H, dx.data() + batch.row_of(0, i, t) * H);
  for (size_t li = n_layers; li-- > 0;) {
    if (ckpt && li + 1 < n_layers) {  // recompute the layer's forward from its input (overwritten by its output)
      post_ln_layer_train(c, w_.layers[li], s, batch, static_cast<int>(li), inputs[li].data(), caches[0], ws,
                          work.scratch, layer_dropout(li));
      if (&work == &local) std::vector<float>().swap(inputs[li]);
    }
    post_ln_layer_backward(c, w_.layers[li], s, batch, static_cast<int>(li), caches[ckpt ? 0 : li], dx.data(), g,
                           work.scratch, layer_dropout(li));
    if (!ckpt && &work == &local) caches[li] = PostLnCache{};  // freed as soon as used
  }
  out.embedding_output = Tensor(Shape{b, rows / b, H});
  std::copy(dx.begin(), dx.end(), out.embedding_output.data.begin());
  apply_dropout(ctx, emb_drop, dx.data(), n);  // now ∂L/∂(the embedding LayerNorm's output)

  // Embeddings: word (scaled; padding_idx = pad_token_id gets nothing from the lookup), position, type.
  layer_norm_backward(c, z0.ptr(), dx.data(), rows, H, w_.emb_ln, s.eps, dx.data(), g.of(w_.emb_ln.g),
                      g.of(w_.emb_ln.b));
  // ETC global tokens: their rows' gradient goes to their own vectors (in row order), and nothing
  // of it to the word, position or type tables (the rows are zeroed before those lookups).
  float* const dglobal = g.of(w_.global_tokens);  // nullptr without ETC (no row is global then)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t j = globals[static_cast<size_t>(r)];
    if (j < 0) continue;
    float* gg = dglobal + j * H;
    float* d = dx.data() + r * H;
    for (int64_t e = 0; e < H; ++e) gg[e] += d[e], d[e] = 0.0f;
  }
  embedding_backward(ctx, pos.data(), rows, dx.data(), H, g.of(w_.position), -1);
  if (!w_.token_type.empty()) embedding_backward(ctx, types.data(), rows, dx.data(), H, g.of(w_.token_type), -1);
  if (scale != 1.0f)
    for (float& v : dx) v *= scale;
  embedding_backward(ctx, ids.data(), rows, dx.data(), H, g.of(w_.word), config_.pad_token_id);

  for (const auto& [name, view] : params_) {
    Tensor t;
    t.shape = view.shape;
    t.data = g.take(view);
    out.reached.push_back(!t.data.empty());
    if (t.data.empty()) t.data = g.zeros(static_cast<size_t>(numel(view.shape)));
    out.grads.emplace_back(name, std::move(t));
  }
  return out;
}

}  // namespace bigbird
