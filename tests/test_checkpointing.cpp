// Gradient checkpointing (TrainingOptions::gradient_checkpointing): the recomputed forward runs
// the same operations on the same inputs, so every gradient must equal the stored-activation
// path's bit for bit, on every head, both attention types, with and without dropout.
#include <gtest/gtest.h>

#include "layers/encoder_layer.h"
#include "layers/gradients.h"
#include "models/bigbird_model.h"
#include "test_util.h"
#include "train_fixtures.h"

using namespace bigbird;

TEST(Checkpointing, BitIdenticalGradientsOnEveryHead) {
  for (const test::TrainArch& ta : test::kTrainArchs) {
    // 3 layers: the first two are recomputed, the last one's cache is used as the forward left it.
    auto m = BigBirdModel::random(test::tiny_train_config(ta.arch, 3), ta.arch, 5);
    const test::TrainCase tc = test::tiny_train_case(ta.arch);
    for (const char* att : {"block_sparse", "original_full"}) {
      for (bool dropout : {false, true}) {
        SCOPED_TRACE(std::string(ta.name) + " " + att + (dropout ? " dropout" : ""));
        ForwardOptions opt;
        opt.attention = parse_attention_type(att);
        TrainingOptions plain;
        plain.dropout = dropout, plain.dropout_seed = 3, plain.step = 17;
        TrainingOptions ckpt = plain;
        ckpt.gradient_checkpointing = true;
        const GradOutput a = m->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), plain);
        const GradOutput b = m->loss_and_grads(tc.in, tc.labels, opt, test::ctx(), ckpt);
        ASSERT_TRUE(std::isfinite(a.loss));
        test::expect_same_bits(a, b);
      }
    }
  }
}

TEST(Checkpointing, OneLayerModel) {  // nothing to recompute: the only layer's cache is the forward's
  auto m = BigBirdModel::random(test::tiny_train_config(Architecture::MaskedLM, 1), Architecture::MaskedLM, 5);
  const test::TrainCase tc = test::tiny_train_case(Architecture::MaskedLM);
  TrainingOptions ckpt;
  ckpt.gradient_checkpointing = true;
  test::expect_same_bits(m->loss_and_grads(tc.in, tc.labels, {}, test::ctx()),
                         m->loss_and_grads(tc.in, tc.labels, {}, test::ctx(), ckpt));
}

namespace {
// The first L2 tokens of every sequence of c (labels shaped as the input cut the same way).
test::TrainCase first_tokens(const test::TrainCase& c, int64_t L2) {
  const int64_t b = c.in.input_ids.dim(0), L = c.in.input_ids.dim(1);
  auto cut = [&](const TensorI64& t) {
    if (t.shape != Shape{b, L}) return t;
    TensorI64 r(Shape{b, L2});
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < L2; ++j) r.data[static_cast<size_t>(i * L2 + j)] = t.data[static_cast<size_t>(i * L + j)];
    return r;
  };
  test::TrainCase r = c;
  r.in.input_ids = cut(c.in.input_ids), r.in.attention_mask = cut(c.in.attention_mask);
  r.in.token_type_ids = cut(c.in.token_type_ids), r.labels.labels = cut(c.labels.labels);
  return r;
}
}  // namespace

// A workspace and a gradient pool kept from call to call (as `bigbird train` keeps them) hold
// buffers of the earlier calls, of other lengths and of the other checkpointing mode: every result
// must still equal a call's on fresh buffers, bit for bit.
TEST(TrainWorkspace, ReusedBuffersGiveTheFreshBuffersBits) {
  for (const test::TrainArch& ta : test::kTrainArchs) {
    SCOPED_TRACE(ta.name);
    auto m = BigBirdModel::random(test::tiny_train_config(ta.arch, 3), ta.arch, 5);
    const test::TrainCase full = test::tiny_train_case(ta.arch), cut = first_tokens(full, 41);
    TrainWorkspace work;
    GradientPool pool(&test::ctx());
    int step = 0;
    for (const test::TrainCase* tc : {&full, &cut, &full, &full, &cut})
      for (bool ckpt : {false, true}) {
        SCOPED_TRACE("call " + std::to_string(step));
        TrainingOptions fresh;
        fresh.gradient_checkpointing = ckpt, fresh.dropout = true, fresh.dropout_seed = 3, fresh.step = step++;
        TrainingOptions reused = fresh;
        reused.workspace = &work, reused.pool = &pool;
        const GradOutput a = m->loss_and_grads(tc->in, tc->labels, {}, test::ctx(), fresh);
        GradOutput b = m->loss_and_grads(tc->in, tc->labels, {}, test::ctx(), reused);
        ASSERT_TRUE(std::isfinite(a.loss));
        test::expect_same_bits(a, b);
        for (auto& [name, t] : b.grads) pool.give(std::move(t.data));
      }
  }
}
