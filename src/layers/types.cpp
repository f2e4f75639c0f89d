#include "layers/types.h"

#include "core/error.h"
#include "kernels/gemm_bf16.h"

namespace bigbird {

AttentionType parse_attention_type(const std::string& s) {
  if (s == "block_sparse") return AttentionType::BlockSparse;
  if (s == "original_full") return AttentionType::OriginalFull;
  fail("unknown attention_type '", s, "' (expected block_sparse or original_full)");
}

const char* attention_type_name(AttentionType t) {
  return t == AttentionType::BlockSparse ? "block_sparse" : "original_full";
}

PlanSource parse_plan_source(const std::string& s) {
  if (s == "hf") return PlanSource::HF;
  if (s == "zeros") return PlanSource::Zeros;
  if (s == "seeded") return PlanSource::Seeded;
  fail("unknown random plan '", s, "' (hf, zeros or seeded)");
}

Compute compute_for(const ForwardOptions& opt, const ThreadingContext& ctx) {
  BB_CHECK(!(opt.reference_kernels && opt.bf16),
           "reference kernels are float32: bf16 and reference_kernels exclude each other");
  BB_CHECK(!opt.bf16 || bf16_supported(),
           "bf16 needs a CPU with AVX512-BF16 (e.g. AMD Zen 4, Intel Cooper Lake or later)");
  return Compute{ctx, opt.reference_kernels ? MatMul::Reference : (opt.bf16 ? MatMul::BF16 : MatMul::F32)};
}

}  // namespace bigbird
