// The encoder on checkpoints of other shapes than the fixtures (hidden size, heads, block size,
// r, layers, activations, dtypes, shards): fast kernels against the scalar reference model,
// HF's internal padding and fall-back rules, batching, and every load-time error.
//
// Tolerance: the reference model accumulates in double; the fast one in float32 through
// 2-4 post-LN layers of width <= 64. LayerNorm renormalises each layer, so errors stay at
// ~1e-6; 1e-4 absolute leaves a wide margin while still catching any masking/layout mistake
// (those move outputs by > 1e-2).
#include <gtest/gtest.h>

#include <omp.h>

#include <fstream>

#include "checkpoint_util.h"
#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "models/bigbird_model.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::CheckpointSpec;
using bigbird::test::error_of;
using bigbird::test::max_abs_diff;
using bigbird::test::TempDir;
using bigbird::test::write_checkpoint;

namespace {

EncoderInput random_input(int64_t batch, int64_t L, int64_t vocab, int64_t pad_row_from, uint64_t seed) {
  std::mt19937_64 rng(seed);
  EncoderInput in{TensorI64({batch, L}), TensorI64({batch, L}, 1), TensorI64({batch, L})};
  for (int64_t i = 0; i < batch * L; ++i) {
    in.input_ids.data[static_cast<size_t>(i)] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab - 1));
    in.token_type_ids.data[static_cast<size_t>(i)] = (i % L) > L / 2 ? 1 : 0;
  }
  if (batch > 1)  // last row padded from pad_row_from
    for (int64_t t = pad_row_from; t < L; ++t) {
      in.attention_mask.data[static_cast<size_t>((batch - 1) * L + t)] = 0;
      in.input_ids.data[static_cast<size_t>((batch - 1) * L + t)] = 0;
    }
  return in;
}

}  // namespace

TEST(EncoderShapes, FastEqualsReferenceOnOtherShapes) {
  struct Variant {
    CheckpointSpec spec;
    int64_t blocks_extra;  // length = (2r+6+extra) * block + tail
    int64_t tail;
  };
  std::vector<Variant> variants;
  {
    CheckpointSpec s;  // hidden 48, 3 heads, block 8, r 2, 3 layers
    variants.push_back({s, 3, 5});
  }
  {
    CheckpointSpec s;
    s.hidden = 40, s.heads = 5, s.block = 4, s.r = 1, s.layers = 2, s.hidden_act = "relu";
    variants.push_back({s, 7, 0});
  }
  {
    CheckpointSpec s;
    s.hidden = 64, s.heads = 2, s.block = 16, s.r = 0, s.layers = 2, s.hidden_act = "gelu", s.use_bias = false;
    s.rescale_embeddings = true;
    variants.push_back({s, 1, 9});
  }
  {
    CheckpointSpec s;
    s.hidden = 32, s.heads = 4, s.block = 8, s.r = 4, s.layers = 4, s.hidden_act = "silu";
    variants.push_back({s, 2, 1});
  }
  uint64_t seed = 10;
  for (const auto& v : variants) {
    TempDir dir;
    write_checkpoint(dir.path.string(), v.spec, seed);
    auto m = BigBirdModel::load(dir.path.string());
    const int64_t L = (2 * v.spec.r + 6 + v.blocks_extra) * v.spec.block + v.tail;
    EncoderInput in = random_input(2, L, v.spec.vocab, L - v.spec.block - 2, seed++);
    ForwardOptions fast, ref;
    fast.keep_hidden_states = ref.keep_hidden_states = true;
    ref.reference_kernels = true;
    EncoderOutput a = m->encode(in, fast, test::ctx()), b = m->encode(in, ref, test::ctx());
    SCOPED_TRACE("hidden " + std::to_string(v.spec.hidden) + " block " + std::to_string(v.spec.block) + " r " +
                 std::to_string(v.spec.r));
    EXPECT_EQ(a.attention_used, AttentionType::BlockSparse);
    EXPECT_EQ(a.padded_len % v.spec.block, 0);
    EXPECT_EQ(a.sequence_output.shape, (Shape{2, L, v.spec.hidden}));
    EXPECT_LT(max_abs_diff(a.sequence_output.data, b.sequence_output.data), 1e-4);
    for (size_t l = 0; l < a.hidden_states.size(); ++l)
      EXPECT_LT(max_abs_diff(a.hidden_states[l].data, b.hidden_states[l].data), 1e-4);
    EXPECT_LT(max_abs_diff(m->mlm_logits(a.sequence_output, test::ctx()).data,
                           m->mlm_logits(b.sequence_output, test::ctx()).data),
              1e-3);
    // Full attention on the same model and input.
    fast.attention = ref.attention = AttentionType::OriginalFull;
    EXPECT_LT(max_abs_diff(m->encode(in, fast, test::ctx()).sequence_output.data,
                           m->encode(in, ref, test::ctx()).sequence_output.data),
              1e-4);
  }
}

TEST(EncoderShapes, FallBackToFullAttentionIsDecidedPerCall) {
  CheckpointSpec s;  // block 8, r 2: fall-back up to (5 + 4) * 8 = 72 tokens
  TempDir dir;
  write_checkpoint(dir.path.string(), s);
  auto m = BigBirdModel::load(dir.path.string());
  ForwardOptions opt;
  EncoderOutput at = m->encode(random_input(1, 72, s.vocab, 72, 1), opt, test::ctx());
  EXPECT_EQ(at.attention_used, AttentionType::OriginalFull);
  EXPECT_TRUE(at.fell_back);
  EXPECT_EQ(at.padded_len, 72);
  EncoderOutput above = m->encode(random_input(1, 73, s.vocab, 73, 1), opt, test::ctx());
  EXPECT_EQ(above.attention_used, AttentionType::BlockSparse);
  EXPECT_EQ(above.padded_len, 80);
  // Not sticky: a short call then a long call on the same model object.
  EXPECT_EQ(m->encode(random_input(1, 20, s.vocab, 20, 1), opt, test::ctx()).attention_used,
            AttentionType::OriginalFull);
  EXPECT_EQ(m->encode(random_input(1, 200, s.vocab, 200, 1), opt, test::ctx()).attention_used,
            AttentionType::BlockSparse);
}

TEST(EncoderShapes, InternalPaddingEqualsExplicitPadding) {
  CheckpointSpec s;
  TempDir dir;
  write_checkpoint(dir.path.string(), s);
  auto m = BigBirdModel::load(dir.path.string());
  const int64_t L = 101, Lp = 104;
  EncoderInput in = random_input(2, L, s.vocab, 90, 3);
  EncoderInput padded{TensorI64({2, Lp}), TensorI64({2, Lp}), TensorI64({2, Lp})};
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t t = 0; t < L; ++t) {
      const size_t a = static_cast<size_t>(i * L + t), b = static_cast<size_t>(i * Lp + t);
      padded.input_ids.data[b] = in.input_ids.data[a];
      padded.attention_mask.data[b] = in.attention_mask.data[a];
      padded.token_type_ids.data[b] = in.token_type_ids.data[a];
    }
  ForwardOptions opt;
  opt.keep_hidden_states = true;
  EncoderOutput a = m->encode(in, opt, test::ctx()), b = m->encode(padded, opt, test::ctx());
  EXPECT_EQ(a.padded_len, Lp);
  EXPECT_EQ(a.hidden_states.back().data, b.hidden_states.back().data);
  ASSERT_EQ(a.sequence_output.shape, (Shape{2, L, s.hidden}));
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_EQ(max_abs_diff(a.sequence_output.ptr() + i * L * s.hidden, b.sequence_output.ptr() + i * Lp * s.hidden,
                           static_cast<size_t>(L * s.hidden)),
              0.0);
}

TEST(EncoderShapes, BatchRowsEqualSingleRows) {
  CheckpointSpec s;
  TempDir dir;
  write_checkpoint(dir.path.string(), s);
  auto m = BigBirdModel::load(dir.path.string());
  const int64_t L = 120;
  EncoderInput in = random_input(3, L, s.vocab, 77, 4);
  ForwardOptions opt;
  EncoderOutput all = m->encode(in, opt, test::ctx());
  for (int64_t i = 0; i < 3; ++i) {
    EncoderInput one{TensorI64({1, L}), TensorI64({1, L}), TensorI64({1, L})};
    std::copy_n(in.input_ids.data.begin() + i * L, L, one.input_ids.data.begin());
    std::copy_n(in.attention_mask.data.begin() + i * L, L, one.attention_mask.data.begin());
    std::copy_n(in.token_type_ids.data.begin() + i * L, L, one.token_type_ids.data.begin());
    EncoderOutput o = m->encode(one, opt, test::ctx());
    EXPECT_LT(max_abs_diff(o.sequence_output.ptr(), all.sequence_output.ptr() + i * L * s.hidden,
                           static_cast<size_t>(L * s.hidden)),
              1e-5);
  }
}

TEST(EncoderShapes, ShardedAndHalfPrecisionCheckpointsLoad) {
  CheckpointSpec s;
  TempDir one, three, bf16, f16;
  write_checkpoint(one.path.string(), s, 7);
  CheckpointSpec sh = s;
  sh.shards = 3;
  write_checkpoint(three.path.string(), sh, 7);
  EncoderInput in = random_input(1, 90, s.vocab, 90, 5);
  ForwardOptions opt;
  auto a = BigBirdModel::load(one.path.string())->encode(in, opt, test::ctx());
  auto b = BigBirdModel::load(three.path.string())->encode(in, opt, test::ctx());
  EXPECT_EQ(a.sequence_output.data, b.sequence_output.data);

  CheckpointSpec hb = s;
  hb.dtype = "BF16";
  write_checkpoint(bf16.path.string(), hb, 7);
  CheckpointSpec hf = s;
  hf.dtype = "F16";
  write_checkpoint(f16.path.string(), hf, 7);
  auto mb = BigBirdModel::load(bf16.path.string());
  auto mf = BigBirdModel::load(f16.path.string());
  auto m1 = BigBirdModel::load(one.path.string());
  // Weights are the float32 values rounded to bf16 / f16 and converted back exactly.
  const float* w32 = m1->weights().word.data;
  for (int64_t i = 0; i < s.vocab * s.hidden; ++i) {
    EXPECT_EQ(mb->weights().word.data[i], bf16_to_float(bigbird::test::to_bf16(w32[i])));
    EXPECT_EQ(mf->weights().word.data[i], static_cast<float>(static_cast<_Float16>(w32[i])));
  }
  auto c = mb->encode(in, opt, test::ctx());
  EXPECT_LT(max_abs_diff(a.sequence_output.data, c.sequence_output.data), 0.2);  // bf16 weights: close, not equal
}

namespace {
// The error of loading the default test checkpoint with its config.json edited (and, with `run`,
// of encoding 100 tokens with it: they pad to a multiple of the block (8), pad_token_id filling
// the padding); "" when there is none.
std::string config_error(const std::function<void(nlohmann::json&)>& edit, bool run = false) {
  TempDir dir;
  CheckpointSpec s;
  write_checkpoint(dir.path.string(), s);
  nlohmann::json j = bigbird::test::config_json(s);
  edit(j);
  std::ofstream(dir.file("config.json")) << j.dump();
  return error_of([&] {
    auto m = BigBirdModel::load(dir.path.string());
    if (run) m->encode(random_input(1, 100, s.vocab, 100, 1), ForwardOptions{}, test::ctx());
  });
}
}  // namespace

TEST(EncoderShapes, BadConfigsAndCheckpointsGiveClearErrors) {
  EXPECT_NE(config_error([](auto& j) { j["hidden_act"] = "gelu_newest"; }).find("unknown hidden_act 'gelu_newest'"),
            std::string::npos);
  EXPECT_NE(config_error([](auto& j) { j["attention_type"] = "sparse"; }).find("unknown attention_type 'sparse'"),
            std::string::npos);
  EXPECT_NE(
      config_error([](auto& j) { j["position_embedding_type"] = "relative_key"; }).find("position_embedding_type"),
      std::string::npos);
  EXPECT_NE(config_error([](auto& j) { j["num_attention_heads"] = 5; }).find("not a multiple"), std::string::npos);
  EXPECT_NE(config_error([](auto& j) { j["hidden_size"] = "big"; }).find("wrong type"), std::string::npos);
  EXPECT_NE(config_error([](auto& j) { j["architectures"] = {"BigBirdForWhatever"}; }).find("unsupported architecture"),
            std::string::npos);
  // A config whose sizes disagree with the weights: the message names tensor, expected and found shape.
  const std::string shape_msg = config_error([](auto& j) { j["intermediate_size"] = 81; });
  EXPECT_NE(shape_msg.find("'bert.encoder.layer.0.intermediate.dense.weight' has shape [80, 48], expected [81, 48]"),
            std::string::npos)
      << shape_msg;

  TempDir empty;
  EXPECT_NE(error_of([&] { BigBirdModel::load(empty.path.string()); }).find("cannot open model config"),
            std::string::npos);
  EXPECT_NE(error_of([&] { BigBirdModel::load(empty.file("nope")); }).find("does not exist"), std::string::npos);
  TempDir broken;
  CheckpointSpec s;
  write_checkpoint(broken.path.string(), s);
  std::ofstream(broken.file("config.json")) << "{ not json";
  EXPECT_NE(error_of([&] { BigBirdModel::load(broken.path.string()); }).find("not valid JSON"), std::string::npos);
  TempDir noweights;
  write_checkpoint(noweights.path.string(), s);
  std::filesystem::remove(noweights.file("model.safetensors"));
  EXPECT_NE(error_of([&] { BigBirdModel::load(noweights.path.string()); }).find("no model.safetensors"),
            std::string::npos);
}

// Item 1 of issue 11: every id and size config.json gives is checked, with an error naming the
// file and the key. An out-of-range pad_token_id used to segfault in the block padding (1e9,
// -1e9) or read memory beside the embedding table (-1, vocab_size).
TEST(EncoderShapes, ConfigIdsAndSizesAreRangeChecked) {
  auto expect = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    const std::string e = config_error(edit, true);
    EXPECT_NE(e.find("config.json: "), std::string::npos) << e;
    EXPECT_NE(e.find(needle), std::string::npos) << "'" << needle << "' not in: " << e;
  };
  for (int64_t pad : {int64_t{1000000000}, int64_t{-1000000000}, int64_t{-1}, int64_t{97}})
    expect([&](auto& j) { j["pad_token_id"] = pad; },
           "pad_token_id " + std::to_string(pad) + " is outside the vocabulary [0, 97)");
  expect([](auto& j) { j["sep_token_id"] = -5; }, "sep_token_id -5 is outside the vocabulary");
  expect([](auto& j) { j["bos_token_id"] = 97; }, "bos_token_id 97 is outside the vocabulary");
  expect([](auto& j) { j["eos_token_id"] = nlohmann::json::array({2, 1000}); }, "eos_token_id 1000 is outside");
  expect([](auto& j) { j["eos_token_id"] = "x"; }, "'eos_token_id' must be a token id");
  expect([](auto& j) { j["pad_token_id"] = 1.5; },
         "field 'pad_token_id' has the wrong type (must be an integer, got 1.5)");
  expect([](auto& j) { j["hidden_size"] = 48.0; }, "field 'hidden_size' has the wrong type (must be an integer");
  expect([](auto& j) { j["block_size"] = 9223372036854775807LL; }, "overflows");
  expect([](auto& j) { j["num_random_blocks"] = 4611686018427387903LL; }, "overflows");
  expect([](auto& j) { j["num_hidden_layers"] = 18446744073709551615ULL; },
         "'num_hidden_layers' = 18446744073709551615 is out of range");
  expect([](auto& j) { j["type_vocab_size"] = 0; }, "type_vocab_size is 0 but the checkpoint has");
  EXPECT_NE(config_error([](auto& j) {
              j["type_vocab_size"] = 3;
            }).find("'bert.embeddings.token_type_embeddings.weight' has shape [2, 48], expected [3, 48]"),
            std::string::npos);
  expect([](auto& j) { j["id2label"] = {{"0", "A"}, {"5", "B"}}; }, "id2label keys must be 0 to 1");
  expect([](auto& j) { j["id2label"] = {{"0", "A"}, {"-1", "B"}}; }, "id2label key '-1' is not a label index");
  expect([](auto& j) { j["id2label"] = {{"0", "A"}, {"1x", "B"}}; }, "id2label key '1x'");
  expect([](auto& j) { j["num_labels"] = 0; }, "num_labels must be positive");
  // What HF configs accept still loads: null ids (HF's defaults), ids inside the vocabulary.
  EXPECT_EQ(
      config_error(
          [](auto& j) { j["bos_token_id"] = nullptr, j["eos_token_id"] = nullptr, j["pad_token_id"] = nullptr; }, true),
      "");
  EXPECT_EQ(config_error([](auto& j) { j["pad_token_id"] = 96; }, true), "");
}

TEST(EncoderShapes, BadInputsGiveClearErrors) {
  CheckpointSpec s;
  TempDir dir;
  write_checkpoint(dir.path.string(), s);
  auto m = BigBirdModel::load(dir.path.string());
  ForwardOptions opt;
  EncoderInput in = random_input(1, 100, s.vocab, 100, 1);
  in.input_ids.data[7] = s.vocab;
  EXPECT_NE(error_of([&] { m->encode(in, opt, test::ctx()); }).find("input_ids[0, 7] = 97 is out of range"),
            std::string::npos);
  in.input_ids.data[7] = -1;
  EXPECT_NE(error_of([&] { m->encode(in, opt, test::ctx()); }).find("out of range"), std::string::npos);
  in = random_input(1, 100, s.vocab, 100, 1);
  in.attention_mask.data[3] = 2;
  EXPECT_NE(error_of([&] { m->encode(in, opt, test::ctx()); }).find("must be 0 or 1"), std::string::npos);
  in = random_input(1, 100, s.vocab, 100, 1);
  in.token_type_ids.data[3] = 2;
  EXPECT_NE(error_of([&] { m->encode(in, opt, test::ctx()); }).find("type_vocab_size"), std::string::npos);
  EXPECT_NE(error_of([&] {
              m->encode(random_input(1, 513, s.vocab, 513, 1), opt, test::ctx());
            }).find("longer than max_position_embeddings 512"),
            std::string::npos);
  // 509 tokens pad to 512 under block_sparse: fits; 510..512 too. 505 with block 8 -> 512.
  EXPECT_NO_THROW(m->encode(random_input(1, 509, s.vocab, 509, 1), opt, test::ctx()));
  in = random_input(1, 100, s.vocab, 100, 1);
  in.attention_mask = TensorI64({1, 99}, 1);
  EXPECT_NE(error_of([&] { m->encode(in, opt, test::ctx()); }).find("does not match input_ids"), std::string::npos);
  opt.injected_plans[0] = seeded_random_plan(0, 0, 10, 2, 3);  // 100 tokens -> 13 blocks, not 10
  EXPECT_NE(error_of([&] {
              m->encode(random_input(1, 100, s.vocab, 100, 1), opt, test::ctx());
            }).find("injected rand_attn.layer0"),
            std::string::npos);
}

TEST(EncoderShapes, TaskHeadsOnOtherShapesFollowTheirDefinitions) {
  // Each head recomputed from its weights with the scalar reference linear / definition.
  uint64_t seed = 50;
  for (const char* arch : {"BigBirdForSequenceClassification", "BigBirdForTokenClassification",
                           "BigBirdForQuestionAnswering", "BigBirdForMaskedLM", "BigBirdModel"}) {
    SCOPED_TRACE(arch);
    CheckpointSpec s;
    s.architecture = arch;
    s.num_labels = std::string(arch).find("Question") != std::string::npos ? 2 : 4;
    TempDir dir;
    write_checkpoint(dir.path.string(), s, seed++);
    auto m = BigBirdModel::load(dir.path.string());
    const int64_t L = 90, H = s.hidden;
    EncoderOutput eo = m->encode(random_input(2, L, s.vocab, 80, seed), ForwardOptions{}, test::ctx());
    const Tensor& h = eo.sequence_output;
    const BigBirdWeights& w = m->weights();
    auto ref_linear = [](const Linear& l, const float* x, int64_t rows) {
      std::vector<float> y(static_cast<size_t>(rows * l.out()));
      linear_ref(x, rows, l.in(), l.weight().data, l.bias().data, l.out(), y.data());
      return y;
    };
    const Activation act = parse_activation(s.hidden_act);
    if (std::string(arch) == "BigBirdForSequenceClassification") {
      Tensor logits = m->sequence_classification_logits(h, test::ctx());
      ASSERT_EQ(logits.shape, (Shape{2, 4}));
      for (int64_t i = 0; i < 2; ++i) {
        auto t = ref_linear(*w.cls_dense, h.ptr() + i * L * H, 1);
        for (auto& v : t) v = activate(act, v);
        auto want = ref_linear(w.cls_out, t.data(), 1);
        EXPECT_LT(max_abs_diff(want.data(), logits.ptr() + i * 4, 4), 1e-4);
      }
      EXPECT_FALSE(m->has_pooler());
    } else if (std::string(arch) == "BigBirdForTokenClassification") {
      Tensor logits = m->token_classification_logits(h, test::ctx());
      ASSERT_EQ(logits.shape, (Shape{2, L, 4}));
      auto want = ref_linear(*w.token_cls, h.ptr(), 2 * L);
      EXPECT_LT(max_abs_diff(want, logits.data), 1e-4);
    } else if (std::string(arch) == "BigBirdForQuestionAnswering") {
      Tensor logits = m->qa_logits(h, test::ctx());
      ASSERT_EQ(logits.shape, (Shape{2, L, 2}));
      auto t = ref_linear(*w.qa_intermediate, h.ptr(), 2 * L);
      for (auto& v : t) v = activate(act, v);
      auto u = ref_linear(w.qa_output, t.data(), 2 * L);
      for (size_t i = 0; i < u.size(); ++i) u[i] += h.data[i];
      layernorm(test::ctx(), u.data(), u.data(), 2 * L, H, w.qa_ln.g.data, w.qa_ln.b.data, 1e-12f);
      auto want = ref_linear(w.qa_outputs, u.data(), 2 * L);
      EXPECT_LT(max_abs_diff(want, logits.data), 1e-4);
      EXPECT_THROW(m->mlm_logits(h, test::ctx()), Error);
    } else if (std::string(arch) == "BigBirdForMaskedLM") {
      EXPECT_EQ(m->mlm_logits(h, test::ctx()).shape, (Shape{2, L, s.vocab}));
      EXPECT_EQ(w.mlm_decoder.weight().data, w.word.data);  // tied: the decoder is the embedding matrix
      EXPECT_FALSE(m->has_nsp());
      EXPECT_THROW(m->sequence_classification_logits(h, test::ctx()), Error);
    } else {
      EXPECT_THROW(m->qa_logits(h, test::ctx()), Error);
      EXPECT_THROW(m->token_classification_logits(h, test::ctx()), Error);
    }
  }
}

TEST(EncoderShapes, BitIdenticalWhateverTheThreadCount) {
  // Random weights of a mid-size shape: large enough that BLAS and every kernel split their
  // work across threads; a padded row and both attention types.
  BigBirdConfig c;
  c.hidden_size = 256, c.num_attention_heads = 4, c.intermediate_size = 512, c.num_hidden_layers = 2;
  c.block_size = 32, c.num_random_blocks = 2, c.vocab_size = 500, c.max_position_embeddings = 2048;
  auto m = BigBirdModel::random(c, Architecture::Model, 5);
  EncoderInput in = random_input(2, 1100, c.vocab_size, 1000, 6);
  for (const char* att : {"block_sparse", "original_full"}) {
    ForwardOptions opt;
    opt.attention = parse_attention_type(att);
    std::vector<std::vector<float>> outs;
    for (int threads : {1, 2, 3}) {
      outs.push_back(m->encode(in, opt, ThreadingContext(threads)).sequence_output.data);
    }
    EXPECT_EQ(outs[0], outs[1]) << att;
    EXPECT_EQ(outs[0], outs[2]) << att;
  }
}

TEST(EncoderShapes, BatchOfMixedLengthsEqualsEachAlone) {
  // No padding to the longest input: each input is encoded as it would be alone (a short one
  // falls back to full attention, lengths that are not block multiples get their own padding).
  CheckpointSpec s;
  TempDir dir;
  write_checkpoint(dir.path.string(), s);
  auto m = BigBirdModel::load(dir.path.string());
  std::vector<EncoderInput> ins = {random_input(1, 150, s.vocab, 150, 1), random_input(2, 97, s.vocab, 80, 2),
                                   random_input(1, 40, s.vocab, 40, 3), random_input(1, 256, s.vocab, 256, 4)};
  for (PlanSource src : {PlanSource::Seeded, PlanSource::HF}) {
    ForwardOptions opt;
    opt.plan_source = src;
    opt.keep_hidden_states = true;
    std::vector<EncoderOutput> all = m->encode_batch(ins, opt, test::ctx());
    ASSERT_EQ(all.size(), ins.size());
    for (size_t i = 0; i < ins.size(); ++i) {
      EncoderOutput one = m->encode(ins[i], opt, test::ctx());
      EXPECT_EQ(all[i].sequence_output.shape, one.sequence_output.shape);
      EXPECT_LT(max_abs_diff(all[i].sequence_output.data, one.sequence_output.data), 1e-5) << i;
      EXPECT_EQ(all[i].attention_used, one.attention_used);
      EXPECT_EQ(all[i].padded_len, one.padded_len);
      EXPECT_EQ(all[i].plans.size(), one.plans.size());
      EXPECT_EQ(all[i].hidden_states.size(), one.hidden_states.size());
      EXPECT_EQ(all[i].embedding_output.shape, one.embedding_output.shape);
    }
    EXPECT_EQ(all[2].attention_used, AttentionType::OriginalFull);
  }
  EXPECT_NE(error_of([&] {
              std::vector<EncoderInput> bad = {ins[0], EncoderInput{TensorI64({1, 5}, 500), TensorI64(), TensorI64()}};
              m->encode_batch(bad, ForwardOptions{}, test::ctx());
            }).find("input 1: input_ids[0, 0] = 500"),
            std::string::npos);
}
