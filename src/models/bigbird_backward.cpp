// BigBirdModel::loss_and_grads: the training forward (every layer's activations kept), the
// architecture's loss as HF 4.27 computes it, and the backward through heads, layers and
// embeddings, composed from the layers' backward functions.
#include <cmath>

#include "core/error.h"
#include "kernels/embedding.h"
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
                                        const ThreadingContext& ctx) const {
  BB_CHECK(!opt.bf16, "gradients are computed in float32: --dtype bf16 has no backward");
  const Compute c = compute_for(opt, ctx);
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
  std::vector<int64_t> ids(static_cast<size_t>(rows)), pos(ids.size()), types(ids.size());
  Tensor z0(Shape{rows, H}), x(Shape{rows, H});
  batch.for_each_token(ctx, [&](int64_t r, const TokenRow& t) {
    ids[static_cast<size_t>(r)] = t.id, pos[static_cast<size_t>(r)] = t.position,
    types[static_cast<size_t>(r)] = t.type;
    float* zr = z0.ptr() + r * H;
    const float* we = w_.word.data + t.id * H;
    const float* pe = w_.position.data + t.position * H;
    const float* te = w_.token_type.empty() ? nullptr : w_.token_type.data + t.type * H;
    for (int64_t j = 0; j < H; ++j) zr[j] = we[j] * scale + (te ? te[j] : 0.0f) + pe[j];
  });
  layer_norm(c, z0.ptr(), nullptr, nullptr, x.ptr(), rows, H, w_.emb_ln, s.eps);
  std::vector<PostLnCache> caches(w_.layers.size());
  AttentionWorkspace ws;
  for (size_t li = 0; li < w_.layers.size(); ++li)
    post_ln_layer_train(c, w_.layers[li], s, batch, static_cast<int>(li), x.ptr(), caches[li], ws);
  const Tensor seq = std::move(batch.finish(std::move(x))[0].sequence_output);  // [b, L, H]
  const int64_t b = seq.dim(0), L = seq.dim(1);

  // The head's loss and the gradient of the sequence output.
  Gradients g;
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
      const Tensor logits = sequence_classification_logits(seq, ctx);  // [b, labels]
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
      dseq = classification_head_backward(c, *w_.cls_dense, w_.cls_out, act, seq, dlogits, g);
      break;
    }
    case Architecture::TokenClassification: {
      BB_CHECK(lab.labels.shape == in.input_ids.shape, "token classification needs `labels` shaped as input_ids ",
               to_string(in.input_ids.shape), ", got ", to_string(lab.labels.shape));
      const Tensor logits = token_classification_logits(seq, ctx);
      Tensor dlogits;
      out.loss = ce(logits, logits.dim(-1), lab.labels, dlogits, "labels");
      dseq = linear_head_backward(c, *w_.token_cls, seq, dlogits, g);
      break;
    }
    case Architecture::QuestionAnswering: {
      BB_CHECK(!lab.start_positions.data.empty() && !lab.end_positions.data.empty(),
               "question answering needs `start_positions` and `end_positions` [batch]");
      Tensor logits = qa_logits(seq, ctx);  // [b, L, 2]; HF subtracts 1e6 on the question (a constant)
      BB_CHECK(logits.dim(2) == 2, "question answering head has ", logits.dim(2), " outputs, expected 2");
      for (int64_t i = 0; i < b; ++i)
        for (int64_t t = 1; t < std::min(L, qlen[static_cast<size_t>(i)]); ++t)
          for (int64_t e = 0; e < 2; ++e) logits.data[static_cast<size_t>((i * L + t) * 2 + e)] -= 1e6f;
      Tensor dlogits(logits.shape);
      out.loss = 0.5f * (qa_end_loss(logits, 0, lab.start_positions, dlogits, "start_positions") +
                         qa_end_loss(logits, 1, lab.end_positions, dlogits, "end_positions"));
      dseq =
          qa_head_backward(c, *w_.qa_intermediate, w_.qa_output, w_.qa_ln, w_.qa_outputs, act, s.eps, seq, dlogits, g);
      break;
    }
    case Architecture::Model: fail("BigBirdModel has no head and no loss: gradients need a task head");
  }

  // Backward through the layers, from the sequence output (padding rows get no gradient).
  std::vector<float> dx(static_cast<size_t>(n), 0.0f);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < L; ++t) std::copy_n(dseq.ptr() + (i * L + t) * H, H, dx.data() + batch.row_of(0, i, t) * H);
  for (size_t li = w_.layers.size(); li-- > 0;)
    post_ln_layer_backward(c, w_.layers[li], s, batch, static_cast<int>(li), caches[li], dx.data(), g);
  out.embedding_output = Tensor(Shape{b, rows / b, H});
  std::copy(dx.begin(), dx.end(), out.embedding_output.data.begin());

  // Embeddings: word (scaled; padding_idx = pad_token_id gets nothing from the lookup), position, type.
  layer_norm_backward(c, z0.ptr(), dx.data(), rows, H, w_.emb_ln, s.eps, dx.data(), g.of(w_.emb_ln.g),
                      g.of(w_.emb_ln.b));
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
    if (t.data.empty()) t.data.assign(static_cast<size_t>(numel(view.shape)), 0.0f);
    out.grads.emplace_back(name, std::move(t));
  }
  return out;
}

}  // namespace bigbird
