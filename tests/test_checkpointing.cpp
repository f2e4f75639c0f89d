// Gradient checkpointing (TrainingOptions::gradient_checkpointing): the recomputed forward runs
// the same operations on the same inputs, so every gradient must equal the stored-activation
// path's bit for bit, on every head, both attention types, with and without dropout.
#include <gtest/gtest.h>

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
