#include "layers/attention.h"

#include <algorithm>
#include <string>

#include "kernels/gemm_bf16.h"

namespace bigbird {

RandomPlan choose_layer_plan(const ForwardOptions& opt, int layer, int heads, int n_blocks, int block, int r,
                             int max_position_embeddings) {
  auto inj = opt.injected_plans.find(layer);
  if (inj != opt.injected_plans.end()) {
    validate_plan(inj->second, heads, n_blocks, r, ("injected rand_attn.layer" + std::to_string(layer)).c_str());
    return inj->second;
  }
  if (opt.plan_source == PlanSource::HF)
    return hf_random_plan(layer, n_blocks * block, block, r, heads, max_position_embeddings);
  if (opt.plan_source == PlanSource::Zeros) {  // transformers >= 4.30, eval mode
    RandomPlan p;
    p.heads = heads, p.rows = n_blocks - 2, p.r = r;
    p.blocks.assign(static_cast<size_t>(heads) * static_cast<size_t>(std::max(0, n_blocks - 2)) * r, 0);
    return p;
  }
  return seeded_random_plan(opt.seed, layer, n_blocks, r, heads);
}

void encoder_attention(const Compute& c, const EncoderAttentionArgs& a, const BlockLayout* layout,
                       AttentionWorkspace* ws, const ProbsDropout& drop) {
  // bf16 products in block-sparse attention too, on VDPBF16PS only (the AVX2 emulation of the
  // bf16 unit would be slower than the float32 kernel); full attention stays float32.
  const bool bf16_attention = c.matmul == MatMul::BF16 && resolve_bf16_unit() == Bf16Unit::Avx512Bf16;
  for (int64_t bi = 0; bi < a.batch; ++bi) {
    AttentionInput ai;
    const int64_t off = bi * a.Lp * a.ld;
    ai.q = a.q + off;
    ai.k = a.k + off;
    ai.v = a.v + off;
    ai.ld = a.ld;
    ai.out = a.out + off;
    ai.ld_out = a.ld;
    ai.L = a.Lp;
    ai.heads = a.heads;
    ai.d = a.d;
    ai.mask = a.mask + bi * a.Lp;
    if (layout) {
      if (c.reference()) block_sparse_attention_ref(ai, *layout);
      else if (bf16_attention) block_sparse_attention_bf16(c.ctx, ai, *layout, ws);
      else block_sparse_attention(c.ctx, ai, *layout, ws);
    } else {
      ProbsDropout d = drop;
      d.seq += static_cast<uint64_t>(bi);
      if (c.reference()) full_attention_ref(ai, d);
      else full_attention(c.ctx, ai, ws, SimdPath::Auto, d);
    }
  }
}

}  // namespace bigbird
