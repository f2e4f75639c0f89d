// PlanSource::Zeros (--random-plan zeros): what transformers >= 4.30 computes in eval mode. There
// `_bigbird_block_rand_mask` (the "paper" path, padded length 1024, 3072 or 4096) returns
// np.zeros((n - 2, r)) and `_bigbird_block_rand_mask_with_head` (every other length) returns
// np.zeros((n, r)) sliced to rows 1 .. n-2, both before drawing anything: on either path every
// random block of every row is block 0, for BigBird and BigBird-Pegasus alike. The model runs
// that plan exactly as it runs the same plan injected (rand_attn.layer{L} all zeros), with
// padding anywhere, block 0 included. The kernels' treatment of the repeated block 0 against HF's
// dense math is tested in test_kernels_attention.cpp (block_sparse_attention_zero_plan_vs_hf_dense).
#include <gtest/gtest.h>

#include <random>

#include "models/bigbird_model.h"
#include "models/pegasus_model.h"
#include "sparse/plan.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::data_path;

namespace {

// Two rows of L_in random ids: row 0 unpadded; row 1 with its first 5 tokens (inside block 0) and
// its last 37 padded, so that the random blocks (block 0) hold padding.
EncoderInput two_rows(int64_t L_in, int64_t vocab, uint64_t seed) {
  EncoderInput in;
  in.input_ids = TensorI64(Shape{2, L_in});
  in.attention_mask = TensorI64(Shape{2, L_in});
  std::mt19937_64 g(seed);
  for (int64_t i = 0; i < 2 * L_in; ++i) {
    in.input_ids.data[static_cast<size_t>(i)] = 3 + static_cast<int64_t>(g() % static_cast<uint64_t>(vocab - 3));
    const int64_t row = i / L_in, t = i % L_in;
    in.attention_mask.data[static_cast<size_t>(i)] = row == 1 && (t < 5 || t >= L_in - 37) ? 0 : 1;
  }
  return in;
}

int64_t padded(int64_t L_in, int64_t B) { return (L_in + B - 1) / B * B; }

void expect_zero_plans(const std::vector<RandomPlan>& plans, size_t layers, int heads, int64_t Lp, int64_t B, int r) {
  ASSERT_EQ(plans.size(), layers);
  for (const RandomPlan& p : plans) {
    EXPECT_EQ(p.heads, heads);
    EXPECT_EQ(p.rows, Lp / B - 2);
    EXPECT_EQ(p.r, r);
    EXPECT_EQ(p.blocks, std::vector<int32_t>(static_cast<size_t>(heads) * (Lp / B - 2) * r, 0));
  }
}

std::map<int, RandomPlan> injected_zeros(size_t layers, int heads, int64_t n_blocks, int r) {
  std::map<int, RandomPlan> m;
  for (size_t l = 0; l < layers; ++l) {
    RandomPlan p{heads, static_cast<int>(n_blocks - 2), r, {}};
    p.blocks.assign(static_cast<size_t>(heads) * (n_blocks - 2) * r, 0);
    m[static_cast<int>(l)] = p;
  }
  return m;
}

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape, b.shape) << what;
  EXPECT_EQ(a.data, b.data) << what;
}

// Padded lengths: 256 and 1008 take HF's per-head path, 1024 its paper path.
const int64_t kLengths[] = {250, 1000, 1024};

}  // namespace

TEST(ZerosPlan, BigBirdEqualsTheInjectedZeroPlanOnBothPlanPaths) {
  auto model = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  const auto& cfg = model->config();
  const ThreadingContext ctx(2);
  for (int64_t L_in : kLengths) {
    SCOPED_TRACE("L_in " + std::to_string(L_in));
    const EncoderInput in = two_rows(L_in, cfg.vocab_size, static_cast<uint64_t>(L_in));
    const int64_t B = cfg.block_size, Lp = padded(L_in, B);
    ForwardOptions zeros;
    zeros.plan_source = PlanSource::Zeros;
    zeros.keep_hidden_states = true;
    const EncoderOutput z = model->encode(in, zeros, ctx);
    ASSERT_EQ(z.attention_used, AttentionType::BlockSparse);
    ASSERT_EQ(z.padded_len, Lp);
    expect_zero_plans(z.plans, static_cast<size_t>(cfg.num_hidden_layers), static_cast<int>(cfg.num_attention_heads),
                      Lp, B, static_cast<int>(cfg.num_random_blocks));

    ForwardOptions inj;
    inj.plan_source = PlanSource::HF;  // overridden by the injected plans on every layer
    inj.keep_hidden_states = true;
    inj.injected_plans =
        injected_zeros(static_cast<size_t>(cfg.num_hidden_layers), static_cast<int>(cfg.num_attention_heads), Lp / B,
                       static_cast<int>(cfg.num_random_blocks));
    const EncoderOutput i = model->encode(in, inj, ctx);
    for (size_t l = 0; l < z.hidden_states.size(); ++l)
      expect_same_bits(z.hidden_states[l], i.hidden_states[l], "hidden_state.layer" + std::to_string(l));
    expect_same_bits(z.sequence_output, i.sequence_output, "sequence_output");
    expect_same_bits(model->mlm_logits(z.sequence_output, ctx), model->mlm_logits(i.sequence_output, ctx),
                     "mlm_logits");

    // Not HF 4.27's plan: the random blocks matter.
    ForwardOptions hf;
    hf.plan_source = PlanSource::HF;
    const EncoderOutput h = model->encode(in, hf, ctx);
    EXPECT_NE(h.plans[0].blocks, z.plans[0].blocks);
    EXPECT_NE(h.sequence_output.data, z.sequence_output.data);
  }
}

TEST(ZerosPlan, PegasusEqualsTheInjectedZeroPlanOnBothPlanPaths) {
  auto model = PegasusModel::load(data_path("pegasus-tiny/model"));
  const auto& cfg = model->config();
  const ThreadingContext ctx(2);
  for (int64_t L_in : kLengths) {
    SCOPED_TRACE("L_in " + std::to_string(L_in));
    const EncoderInput in = two_rows(L_in, cfg.vocab_size, 100 + static_cast<uint64_t>(L_in));
    const int64_t B = cfg.block_size, Lp = padded(L_in, B);
    ForwardOptions zeros;
    zeros.plan_source = PlanSource::Zeros;
    zeros.keep_hidden_states = true;
    const PegasusEncoderOutput z = model->encode(in, zeros, ctx);
    ASSERT_EQ(z.attention_used, AttentionType::BlockSparse);
    ASSERT_EQ(z.padded_len, Lp);
    expect_zero_plans(z.plans, static_cast<size_t>(cfg.encoder_layers), static_cast<int>(cfg.encoder_attention_heads),
                      Lp, B, static_cast<int>(cfg.num_random_blocks));

    ForwardOptions inj;
    inj.plan_source = PlanSource::HF;
    inj.keep_hidden_states = true;
    inj.injected_plans =
        injected_zeros(static_cast<size_t>(cfg.encoder_layers), static_cast<int>(cfg.encoder_attention_heads), Lp / B,
                       static_cast<int>(cfg.num_random_blocks));
    const PegasusEncoderOutput i = model->encode(in, inj, ctx);
    for (size_t l = 0; l < z.hidden_states.size(); ++l)
      expect_same_bits(z.hidden_states[l], i.hidden_states[l], "encoder.layer" + std::to_string(l) + ".output");
    expect_same_bits(z.sequence_output, i.sequence_output, "encoder.output");

    ForwardOptions hf;
    hf.plan_source = PlanSource::HF;
    const PegasusEncoderOutput h = model->encode(in, hf, ctx);
    EXPECT_NE(h.plans[0].blocks, z.plans[0].blocks);
    EXPECT_NE(h.sequence_output.data, z.sequence_output.data);
  }
}
