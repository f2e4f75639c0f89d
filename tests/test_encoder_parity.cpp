// HF parity of the BigBird encoder and heads on the roberta-tiny fixtures (copied into
// tests/data/roberta-tiny from the reference set; computed by HF transformers 4.27.1).
//
// Tolerances as the fixture README derives them: hidden states and pooler 1e-4 absolute,
// logits 1e-3 absolute; the question-masked QA logits (about -1e6, where one float32 ulp is
// 0.0625) relative 1e-6 on top.
#include <gtest/gtest.h>

#include <cmath>

#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "sparse/plan_io.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::data_path;

namespace {

struct Case {
  const char* name;
  bool sparse;
};
const Case kCases[] = {{"case_i_b2_s256_padrow1", true},
                       {"case_ii_b1_s250", true},
                       {"case_iii_b1_s96_fallback", false},
                       {"case_iv_b2_s256_original_full", false}};

void expect_close(const Tensor& got, const SafeTensors& ref, const std::string& name, double atol, double rtol = 0) {
  SCOPED_TRACE(name);
  Tensor want = ref.read_f32(name);
  ASSERT_EQ(got.shape, want.shape);
  double worst = 0;
  for (size_t i = 0; i < got.data.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got.data[i]) - want.data[i]);
    worst = std::max(worst, d - rtol * std::fabs(want.data[i]));
  }
  EXPECT_LE(worst, atol);
}

EncoderInput inputs_of(const SafeTensors& st) {
  return {st.read_i64("input_ids"), st.read_i64("attention_mask"), st.read_i64("token_type_ids")};
}

std::map<int, RandomPlan> plans_of(const SafeTensors& st) { return plans_from_safetensors(st); }

class EncoderParity : public ::testing::TestWithParam<std::tuple<Case, PlanSource, bool>> {};

TEST_P(EncoderParity, AllHeadsMatchHf) {
  const auto [c, source, inject] = GetParam();
  SafeTensors ref = SafeTensors::open(data_path(std::string("roberta-tiny/") + c.name + ".safetensors"));
  ForwardOptions opt;
  opt.keep_hidden_states = true;
  opt.plan_source = source;
  if (inject) opt.injected_plans = plans_of(ref);
  if (std::string(c.name).find("original_full") != std::string::npos) opt.attention = AttentionType::OriginalFull;

  auto pre = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  EncoderOutput eo = pre->encode(inputs_of(ref), opt, test::ctx());
  EXPECT_EQ(eo.attention_used == AttentionType::BlockSparse, c.sparse);
  expect_close(eo.embedding_output, ref, "embedding_output", 1e-4);
  for (size_t l = 0; l < eo.hidden_states.size(); ++l)
    expect_close(eo.hidden_states[l], ref, "hidden_state.layer" + std::to_string(l), 1e-4);
  expect_close(eo.sequence_output, ref, "sequence_output", 1e-4);
  Tensor pooled = pre->pooler(eo.sequence_output, test::ctx());
  expect_close(pooled, ref, "pooler_output", 1e-4);
  expect_close(pre->mlm_logits(eo.sequence_output, test::ctx()), ref, "mlm_logits", 1e-3);
  expect_close(pre->nsp_logits(pooled, test::ctx()), ref, "nsp_logits", 1e-3);
  if (c.sparse && source == PlanSource::HF) {  // the drawn plans are HF's own
    for (auto& [l, p] : plans_of(ref)) EXPECT_EQ(eo.plans[static_cast<size_t>(l)].blocks, p.blocks);
  }

  auto cls = BigBirdModel::load(data_path("roberta-tiny/seqcls"));
  expect_close(
      cls->sequence_classification_logits(cls->encode(inputs_of(ref), opt, test::ctx()).sequence_output, test::ctx()),
      ref, "seqcls.logits", 1e-3);

  auto qa = BigBirdModel::load(data_path("roberta-tiny/qa"));
  EncoderInput in = inputs_of(ref);
  Tensor logits = qa->qa_logits(qa->encode(in, opt, test::ctx()).sequence_output, test::ctx());
  const int64_t b = logits.dim(0), L = logits.dim(1);
  Tensor start(Shape{b, L}), start_masked(Shape{b, L});
  auto qlen = question_lengths(in.input_ids, qa->config().sep_token_id);
  TensorI64 want_qlen = ref.read_i64("qa.question_lengths");
  for (int64_t i = 0; i < b; ++i) {
    EXPECT_EQ(qlen[static_cast<size_t>(i)], want_qlen.data[static_cast<size_t>(i)]);
    for (int64_t t = 0; t < L; ++t) {
      start.data[static_cast<size_t>(i * L + t)] = logits.data[static_cast<size_t>((i * L + t) * 2)];
      start_masked.data[static_cast<size_t>(i * L + t)] =
          start.data[static_cast<size_t>(i * L + t)] - ((t > 0 && t < qlen[static_cast<size_t>(i)]) ? 1e6f : 0.0f);
    }
  }
  expect_close(start, ref, "qa.start_logits_unmasked", 1e-3);
  expect_close(start_masked, ref, "qa.start_logits", 1e-3, 1e-6);
}

std::string case_name(const ::testing::TestParamInfo<EncoderParity::ParamType>& info) {
  const auto& [c, source, inject] = info.param;
  return std::string(c.name) + (inject ? "_injected" : source == PlanSource::HF ? "_hfplan" : "_seeded");
}

INSTANTIATE_TEST_SUITE_P(RobertaTiny, EncoderParity,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values(PlanSource::HF),
                                            ::testing::Values(true, false)),
                         case_name);

}  // namespace

TEST(EncoderParityExtra, SeededPlanDiffersFromHfButIsDeterministic) {
  SafeTensors ref = SafeTensors::open(data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors"));
  auto pre = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  ForwardOptions opt;  // seeded, seed 0
  EncoderOutput a = pre->encode(inputs_of(ref), opt, test::ctx());
  EncoderOutput b = pre->encode(inputs_of(ref), opt, test::ctx());
  EXPECT_EQ(a.sequence_output.data, b.sequence_output.data);
  opt.seed = 1;
  EncoderOutput c = pre->encode(inputs_of(ref), opt, test::ctx());
  EXPECT_NE(a.sequence_output.data, c.sequence_output.data);
}

TEST(EncoderParityExtra, QaDerivesTokenTypesFromTheQuestionLikeHf) {
  SafeTensors ref = SafeTensors::open(data_path("roberta-tiny/case_i_b2_s256_padrow1.safetensors"));
  TensorI64 ids = ref.read_i64("input_ids");
  auto qlen = question_lengths(ids, 66);
  TensorI64 want = ref.read_i64("qa_derived_tt.token_type_ids_used");
  const int64_t L = ids.dim(1);
  for (int64_t i = 0; i < ids.dim(0); ++i)
    for (int64_t t = 0; t < L; ++t)
      EXPECT_EQ(want.data[static_cast<size_t>(i * L + t)], t < qlen[static_cast<size_t>(i)] ? 0 : 1);
}

TEST(EncoderParityExtra, Bf16AndInt8ErrorAgainstHfOnTheFixtures) {
  // The opt-in bf16 and int8 paths against HF's float32 outputs, on the CPU's matrix unit: the
  // cosine similarity of every token's final hidden state to HF's (issue: >= 0.999 for bf16, >= 0.99
  // for int8) and the max |error| (hidden states of unit scale after LayerNorm), printed per case.
  // Measured on AMD Zen 4: bf16 min cosine 0.99999, max |err| 1.7e-2; int8 0.9998, 6.3e-2. The
  // max |err| bounds leave about 3x and 2.4x of that.
  auto pre = BigBirdModel::load(data_path("roberta-tiny/pretraining"));
  struct Want {
    Precision p;
    double min_cos, max_abs;
  };
  for (const Want& w : {Want{Precision::BF16, 0.999, 0.05}, Want{Precision::Int8, 0.99, 0.15}}) {
    std::printf("  --dtype %s on %s:\n", precision_name(w.p), matrix_unit_name(w.p));
    for (const Case& c : kCases) {
      SafeTensors ref = SafeTensors::open(data_path(std::string("roberta-tiny/") + c.name + ".safetensors"));
      ForwardOptions opt;
      opt.plan_source = PlanSource::HF;
      opt.injected_plans = plans_of(ref);
      if (std::string(c.name).find("original_full") != std::string::npos) opt.attention = AttentionType::OriginalFull;
      opt.precision = w.p;
      EncoderOutput lp = pre->encode(inputs_of(ref), opt, test::ctx());
      Tensor want = ref.read_f32("sequence_output");
      ASSERT_EQ(lp.sequence_output.shape, want.shape);
      const int64_t H = want.shape.back(), tokens = static_cast<int64_t>(want.data.size()) / H;
      double worst = 0, sq = 0, min_cos = 1;
      for (int64_t t = 0; t < tokens; ++t) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t h = 0; h < H; ++h) {
          const double a = lp.sequence_output.data[static_cast<size_t>(t * H + h)],
                       b = want.data[static_cast<size_t>(t * H + h)];
          dot += a * b, na += a * a, nb += b * b;
          worst = std::max(worst, std::fabs(a - b));
          sq += (a - b) * (a - b);
        }
        min_cos = std::min(min_cos, dot / std::sqrt(na * nb));
      }
      std::printf("    %s: min cosine %.6f, max |err| %.3e, RMS %.3e\n", c.name, min_cos, worst,
                  std::sqrt(sq / static_cast<double>(want.data.size())));
      EXPECT_GE(min_cos, w.min_cos) << precision_name(w.p) << " " << c.name;
      EXPECT_LT(worst, w.max_abs) << precision_name(w.p) << " " << c.name;
    }
  }
}
