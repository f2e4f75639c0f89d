// PegasusModel::random: the same weights as a checkpoint's walk binds (every shape), deterministic
// per seed, uniform with std 0.02, LayerNorms 1/0, and a model that encodes and generates.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "models/pegasus_generate.h"
#include "models/pegasus_model.h"

using namespace bigbird;

namespace {

BigBirdPegasusConfig tiny() {
  BigBirdPegasusConfig c;
  c.d_model = 32, c.encoder_attention_heads = c.decoder_attention_heads = 4;
  c.encoder_ffn_dim = c.decoder_ffn_dim = 64, c.vocab_size = 300;
  c.encoder_layers = 2, c.decoder_layers = 3, c.block_size = 8, c.num_random_blocks = 2;
  c.max_position_embeddings = 256;
  return c;
}

// Every view of the weights, in the walk's order.
std::vector<ConstView> views(const PegasusWeights& w) {
  std::vector<ConstView> v{w.shared, w.enc_positions, w.dec_positions};
  auto lin = [&](const Linear& l) {
    v.push_back(l.weight());
    if (l.bias().data) v.push_back(l.bias());
  };
  auto norm = [&](const NormW& n) { v.push_back(n.g), v.push_back(n.b); };
  for (const auto& e : w.encoder) {
    norm(e.attn_ln), lin(e.q), lin(e.k), lin(e.v), lin(e.o), norm(e.ffn_ln), lin(e.ffn_in), lin(e.ffn_out);
  }
  norm(w.encoder_ln);
  for (const auto& d : w.decoder) {
    norm(d.self_ln), lin(d.self_attn.q), lin(d.self_attn.k), lin(d.self_attn.v), lin(d.self_attn.o);
    norm(d.cross_ln), lin(d.cross_attn.q), lin(d.cross_attn.k), lin(d.cross_attn.v), lin(d.cross_attn.o);
    norm(d.ffn_ln), lin(d.fc1), lin(d.fc2);
  }
  norm(w.decoder_ln);
  v.push_back(w.lm_head.weight());
  v.push_back(w.lm_head.bias());
  return v;
}

}  // namespace

TEST(PegasusRandom, BindsTheSameShapesAsTheCheckpointLoader) {
  auto loaded = PegasusModel::load(std::string(BIGBIRD_TEST_DATA) + "/pegasus-tiny/model");
  auto rnd = PegasusModel::random(loaded->config(), 7);
  const auto a = views(loaded->weights()), b = views(rnd->weights());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].shape, b[i].shape) << "view " << i;
    EXPECT_NE(b[i].data, nullptr) << "view " << i;
  }
}

TEST(PegasusRandom, DeterministicNormalWithLayerNormsAtOneAndZeroBiases) {
  const auto c = tiny();
  auto m1 = PegasusModel::random(c, 1), m2 = PegasusModel::random(c, 1), m3 = PegasusModel::random(c, 2);
  const auto& w = m1->weights();
  const int64_t n = numel(w.shared.shape);
  EXPECT_TRUE(std::equal(w.shared.data, w.shared.data + n, m2->weights().shared.data));
  EXPECT_FALSE(std::equal(w.shared.data, w.shared.data + n, m3->weights().shared.data));
  // Different tensors get different streams.
  EXPECT_NE(w.decoder[0].fc1.weight().data[0], w.decoder[1].fc1.weight().data[0]);
  double s = 0, s2 = 0, mx = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = w.shared.data[i];
    s += x, s2 += x * x, mx = std::max(mx, std::fabs(x));
  }
  EXPECT_NEAR(s / n, 0.0, 2e-3);
  EXPECT_NEAR(std::sqrt(s2 / n), 0.02, 1e-3);
  EXPECT_LE(mx, 2 * std::sqrt(3.0) * 0.02 + 1e-7);  // Irwin-Hall(4), rescaled: bounded at ±2√3σ
  for (int64_t i = 0; i < c.d_model; ++i) {
    EXPECT_EQ(w.decoder[2].cross_ln.g.data[i], 1.0f);
    EXPECT_EQ(w.decoder[2].cross_ln.b.data[i], 0.0f);
    EXPECT_EQ(w.encoder_ln.g.data[i], 1.0f);
    EXPECT_EQ(w.decoder[0].fc2.bias().data[i], 0.0f);
  }
  EXPECT_EQ(w.lm_head.weight().data, w.shared.data);  // tied
}

TEST(PegasusRandom, EncodesAndGeneratesAFixedNumberOfTokens) {
  auto m = PegasusModel::random(tiny(), 3);
  EncoderInput in{TensorI64({1, 100}, 7), TensorI64({1, 100}, 1), {}};
  const auto enc = m->encode(in, ForwardOptions{}, test::ctx());
  EXPECT_EQ(enc.attention_used, AttentionType::BlockSparse);
  GenerationConfig g;
  g.max_new_tokens = 12;
  g.min_length = 13;
  g.num_beams = 2;
  g.eos_token_id = {1};
  g.pad_token_id = 0;
  const auto r = pegasus_generate(*m, enc, g, test::ctx());
  EXPECT_EQ(r.steps, 12);
  EXPECT_EQ(r.sequences.dim(1), 13);
  for (float x : enc.sequence_output.data) ASSERT_TRUE(std::isfinite(x));
}
