#include "layers/encoder_stack.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "kernels/attention_backward.h"
#include "layers/attention.h"

namespace bigbird {

namespace {

void check_input(const StackShape& s, const EncoderInput& in, const std::string& what) {
  BB_CHECK(in.input_ids.shape.size() == 2, what, "input_ids must be [batch, length], got ",
           to_string(in.input_ids.shape));
  const int64_t b = in.input_ids.dim(0), L = in.input_ids.dim(1);
  BB_CHECK(b >= 1 && L >= 1, what, "input_ids is empty: shape ", to_string(in.input_ids.shape));
  const bool has_mask = !in.attention_mask.data.empty();
  const bool has_tt = s.token_types && !in.token_type_ids.data.empty();
  BB_CHECK(!has_mask || in.attention_mask.shape == in.input_ids.shape, what, "attention_mask shape ",
           to_string(in.attention_mask.shape), " does not match input_ids ", to_string(in.input_ids.shape));
  BB_CHECK(!has_tt || in.token_type_ids.shape == in.input_ids.shape, what, "token_type_ids shape ",
           to_string(in.token_type_ids.shape), " does not match input_ids ", to_string(in.input_ids.shape));
  const int64_t types = std::max<int64_t>(s.type_vocab, 1);
  for (size_t i = 0; i < in.input_ids.data.size(); ++i) {
    const int64_t id = in.input_ids.data[i];
    BB_CHECK(id >= 0 && id < s.vocab, what, "input_ids[", i / L, ", ", i % L, "] = ", id,
             " is out of range for vocab_size ", s.vocab);
    if (has_mask)
      BB_CHECK(in.attention_mask.data[i] == 0 || in.attention_mask.data[i] == 1, what, "attention_mask[", i / L, ", ",
               i % L, "] = ", in.attention_mask.data[i], ": must be 0 or 1");
    if (has_tt)
      BB_CHECK(in.token_type_ids.data[i] >= 0 && in.token_type_ids.data[i] < types, what, "token_type_ids[", i / L,
               ", ", i % L, "] = ", in.token_type_ids.data[i], " is out of range for type_vocab_size ", s.type_vocab);
  }
}

}  // namespace

EncoderBatch::EncoderBatch(const StackShape& s, const std::vector<const EncoderInput*>& inputs,
                           const ForwardOptions& opt)
    : shape_(s), keep_(opt.keep_hidden_states), observer_(opt.attention_observer) {
  BB_CHECK(!inputs.empty(), "encode: no input");
  const int64_t B = s.block;
  groups_.resize(inputs.size());
  for (size_t gi = 0; gi < inputs.size(); ++gi) {
    Group& g = groups_[gi];
    g.in = inputs[gi];
    g.index = gi;
    check_input(s, *g.in, inputs.size() > 1 ? "input " + std::to_string(gi) + ": " : std::string());
    g.b = g.in->input_ids.dim(0);
    g.L = g.in->input_ids.dim(1);
    EncoderOutput& out = g.out;
    out.input_len = g.L;
    out.attention_used = opt.attention.value_or(s.attention_type);
    if (out.attention_used == AttentionType::BlockSparse && g.L <= s.full_fallback_tokens()) {
      out.attention_used = AttentionType::OriginalFull;  // decided per call (HF's switch is sticky; ours is not)
      out.fell_back = true;
    }
    const bool sparse = out.attention_used == AttentionType::BlockSparse;
    g.pad = sparse ? (B - g.L % B) % B : 0;
    g.Ls = g.L + g.pad;
    const int64_t G = s.layout.global_tokens;
    const int64_t etc_rows = sparse ? (G + B - 1) / B * B : G;
    g.Lp = g.Ls + etc_rows;
    out.padded_len = g.Lp;
    const int64_t positions = s.padding_has_positions ? g.Ls : g.L;
    BB_CHECK(positions <= s.max_positions, "input of ", g.L, " tokens",
             (g.pad && s.padding_has_positions ? " (padded to " + std::to_string(g.Ls) + ")" : std::string()),
             " is longer than max_position_embeddings ", s.max_positions);
    g.row0 = rows_;
    rows_ += g.b * g.Lp;
    g.layouts.resize(static_cast<size_t>(s.layers));
    if (out.attention_used != AttentionType::BlockSparse) continue;
    const int n_blocks = static_cast<int>(g.Ls / B);  // the sequence's blocks (plans cover these)
    for (int li = 0; li < static_cast<int>(s.layers); ++li) {
      RandomPlan plan = choose_layer_plan(opt, li, static_cast<int>(s.heads), n_blocks, static_cast<int>(B),
                                          static_cast<int>(s.random_blocks), static_cast<int>(s.max_positions));
      BlockLayout layout = make_layout(s.layout, n_blocks, static_cast<int>(B), static_cast<int>(s.heads), plan);
      if (etc_rows > 0) layout = with_global_tokens(layout, static_cast<int>(etc_rows / B));
      g.layouts[static_cast<size_t>(li)] = std::move(layout);
      out.plans.push_back(std::move(plan));
    }
  }
  mask_.assign(static_cast<size_t>(rows_), 0.0f);
  for (const Group& g : groups_)
    for (int64_t i = 0; i < g.b * g.Lp; ++i) {
      const int64_t bi = i / g.Lp, t = i % g.Lp;
      const TensorI64& m = g.in->attention_mask;
      if (t < g.L)
        mask_[static_cast<size_t>(g.row0 + i)] =
            m.data.empty() ? 1.0f : static_cast<float>(m.data[static_cast<size_t>(bi * g.L + t)]);
      else if (t >= g.Ls && t - g.Ls < s.layout.global_tokens)
        mask_[static_cast<size_t>(g.row0 + i)] = 1.0f;  // an ETC global token
    }
}

TokenRow EncoderBatch::token(const Group& g, int64_t i) const {
  const int64_t bi = i / g.Lp, t = i % g.Lp;
  if (t >= g.Ls) {  // ETC rows: the global tokens, then their block padding
    const int64_t j = t - g.Ls;
    if (j < shape_.layout.global_tokens) return {shape_.pad_token_id, 0, 0, true, j};
    return {shape_.pad_token_id, 0, 0, false};
  }
  if (t >= g.L) return {shape_.pad_token_id, 0, t, false};
  const size_t src = static_cast<size_t>(bi * g.L + t);
  const TensorI64& tt = g.in->token_type_ids;
  const int64_t type = shape_.token_types && !tt.data.empty() ? tt.data[src] : 0;
  return {g.in->input_ids.data[src], type, t, true};
}

namespace {
// The kernels' dropout on the probabilities of sequence `seq` of the call.
ProbsDropout probs_dropout(const Dropout& d, uint64_t seq) {
  if (!d.active()) return {};
  return {d.p, d.scale(), d.key(), seq};
}
}  // namespace

void EncoderBatch::attention(const Compute& c, int layer, const float* q, const float* k, const float* v, float* out,
                             AttentionWorkspace& ws, const Dropout& probs) const {
  const int64_t H = shape_.hidden;
  uint64_t seq = 0;  // the call's sequences in order, across inputs
  for (const Group& g : groups_) {
    const std::optional<BlockLayout>& layout = g.layouts[static_cast<size_t>(layer)];
    const int64_t off = g.row0 * H;
    if (observer_)
      for (int64_t bi = 0; bi < g.b; ++bi) {
        const int64_t o = (g.row0 + bi * g.Lp) * H;
        observer_->observe({layer, g.index, bi, q + o, k + o, H, g.L, g.Lp, static_cast<int>(shape_.heads),
                            shape_.head_dim(), mask_.data() + g.row0 + bi * g.Lp, layout ? &*layout : nullptr});
      }
    encoder_attention(c,
                      {q + off, k + off, v + off, out + off, H, g.b, g.Lp, static_cast<int>(shape_.heads),
                       shape_.head_dim(), mask_.data() + g.row0},
                      layout ? &*layout : nullptr, &ws, probs_dropout(probs, seq));
    seq += static_cast<uint64_t>(g.b);
  }
}

void EncoderBatch::attention_backward(const Compute& c, int layer, const float* q, const float* k, const float* v,
                                      const float* dout, float* dq, float* dk, float* dv, const Dropout& probs) const {
  const int64_t H = shape_.hidden;
  uint64_t seq = 0;
  for (const Group& g : groups_) {
    const std::optional<BlockLayout>& layout = g.layouts[static_cast<size_t>(layer)];
    for (int64_t bi = 0; bi < g.b; ++bi) {
      const int64_t off = (g.row0 + bi * g.Lp) * H;
      AttentionInput ai;
      ai.q = q + off;
      ai.k = k + off;
      ai.v = v + off;
      ai.ld = H;
      ai.out = nullptr;
      ai.ld_out = H;
      ai.L = g.Lp;
      ai.heads = static_cast<int>(shape_.heads);
      ai.d = shape_.head_dim();
      ai.mask = mask_.data() + g.row0 + bi * g.Lp;
      if (layout) {
        if (c.reference()) block_sparse_attention_backward_ref(ai, *layout, dout + off, dq + off, dk + off, dv + off);
        else block_sparse_attention_backward(c.ctx, ai, *layout, dout + off, dq + off, dk + off, dv + off);
      } else {
        const ProbsDropout drop = probs_dropout(probs, seq + static_cast<uint64_t>(bi));
        if (c.reference()) full_attention_backward_ref(ai, dout + off, dq + off, dk + off, dv + off, drop);
        else full_attention_backward(c.ctx, ai, dout + off, dq + off, dk + off, dv + off, SimdPath::Auto, drop);
      }
    }
    seq += static_cast<uint64_t>(g.b);
  }
}

int64_t EncoderBatch::row_of(size_t input, int64_t bi, int64_t t) const {
  const Group& g = groups_.at(input);
  return g.row0 + bi * g.Lp + t;
}

Tensor EncoderBatch::rows_of(const Group& g, const Tensor& x) const {
  const int64_t H = shape_.hidden;
  Tensor t(Shape{g.b, g.Lp, H});
  std::copy(x.data.begin() + g.row0 * H, x.data.begin() + (g.row0 + g.b * g.Lp) * H, t.data.begin());
  return t;
}

void EncoderBatch::keep_embedding(const Tensor& x) {
  if (keep_)
    for (Group& g : groups_) g.out.embedding_output = rows_of(g, x);
}

void EncoderBatch::keep_layer(const Tensor& x) {
  if (keep_)
    for (Group& g : groups_) g.out.hidden_states.push_back(rows_of(g, x));
}

std::vector<EncoderOutput> EncoderBatch::finish(Tensor&& x) {
  const int64_t H = shape_.hidden;
  std::vector<EncoderOutput> outs;
  for (Group& g : groups_) {
    if (groups_.size() == 1 && g.Lp == g.L) {
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

}  // namespace bigbird
