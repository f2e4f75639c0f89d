// A tiny random BigBird of every head with a batch and labels for it (tests of training options:
// test_checkpointing.cpp, test_dropout.cpp): block 8, r 1, 3 heads, two sequences of 83 tokens
// (11 blocks after padding, so block-sparse runs without the fall-back) with internal padding.
#pragma once
#include <memory>
#include <string>

#include "models/bigbird_model.h"

namespace bigbird::test {

struct TrainArch {
  Architecture arch;
  const char* name;
};
inline constexpr TrainArch kTrainArchs[] = {{Architecture::PreTraining, "pretraining"},
                                            {Architecture::MaskedLM, "mlm"},
                                            {Architecture::SequenceClassification, "seqcls"},
                                            {Architecture::TokenClassification, "tokcls"},
                                            {Architecture::QuestionAnswering, "qa"}};

inline BigBirdConfig tiny_train_config(Architecture arch, int64_t layers = 2) {
  BigBirdConfig cfg;
  cfg.vocab_size = 60, cfg.hidden_size = 24, cfg.num_hidden_layers = layers, cfg.num_attention_heads = 3;
  cfg.intermediate_size = 40, cfg.max_position_embeddings = 128, cfg.type_vocab_size = 2;
  cfg.block_size = 8, cfg.num_random_blocks = 1, cfg.hidden_act = "gelu_new", cfg.layer_norm_eps = 1e-12;
  cfg.num_labels = arch == Architecture::QuestionAnswering ? 2 : 3, cfg.sep_token_id = 7;
  return cfg;
}

struct TrainCase {
  EncoderInput in;
  TrainLabels labels;
};

inline TrainCase tiny_train_case(Architecture arch) {
  TrainCase c;
  const int64_t b = 2, L = 83;
  c.in.input_ids = TensorI64(Shape{b, L});
  c.in.attention_mask = TensorI64(Shape{b, L}, 1);
  for (int64_t i = 0; i < b * L; ++i) c.in.input_ids.data[static_cast<size_t>(i)] = 8 + (i * 37 + 11) % 52;
  for (int64_t t = 70; t < L; ++t) c.in.attention_mask.data[static_cast<size_t>(L + t)] = 0;
  c.in.input_ids.data[5] = 7;  // the only [SEP]: row 0's question is tokens 1-5
  TrainLabels& lab = c.labels;
  if (arch == Architecture::SequenceClassification) {
    lab.labels = TensorI64(Shape{b}), lab.labels.data = {2, 0};
  } else if (arch == Architecture::QuestionAnswering) {
    lab.start_positions = TensorI64(Shape{b}), lab.start_positions.data = {9, 30};
    lab.end_positions = TensorI64(Shape{b}), lab.end_positions.data = {12, 40};
  } else {
    lab.labels = TensorI64(Shape{b, L}, -100);
    const int64_t classes = arch == Architecture::TokenClassification ? 3 : 60;
    for (int64_t i = 0; i < b * L; i += 7) lab.labels.data[static_cast<size_t>(i)] = (i * 13) % classes;
    if (arch == Architecture::PreTraining)
      lab.next_sentence_label = TensorI64(Shape{b}), lab.next_sentence_label.data = {1, 0};
  }
  return c;
}

// Every output of two loss_and_grads calls bit for bit.
inline void expect_same_bits(const GradOutput& a, const GradOutput& b) {
  EXPECT_EQ(a.loss, b.loss);
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    EXPECT_EQ(a.grads[i].first, b.grads[i].first);
    EXPECT_EQ(a.grads[i].second.data, b.grads[i].second.data) << a.grads[i].first;
  }
  EXPECT_EQ(a.reached, b.reached);
  EXPECT_EQ(a.embedding_output.data, b.embedding_output.data);
}

}  // namespace bigbird::test
