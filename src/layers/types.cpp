#include "layers/types.h"

#include "core/error.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/simd/dispatch.h"

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

Precision parse_precision(const std::string& s) {
  if (s == "f32") return Precision::F32;
  if (s == "bf16") return Precision::BF16;
  if (s == "int8") return Precision::Int8;
  fail("unknown dtype '", s, "' (f32, bf16 or int8)");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::F32: return "f32";
    case Precision::BF16: return "bf16";
    case Precision::Int8: return "int8";
  }
  return "?";
}

const char* matrix_unit_name(Precision p) {
  switch (p) {
    case Precision::F32: return simd_path_name(resolve_simd_path(SimdPath::Auto));
    case Precision::BF16: return bf16_unit_name(resolve_bf16_unit());
    case Precision::Int8: return int8_unit_name(resolve_int8_unit());
  }
  return "?";
}

Compute compute_for(const ForwardOptions& opt, const ThreadingContext& ctx) {
  if (opt.reference_kernels) {
    BB_CHECK(opt.precision == Precision::F32, "reference kernels are float32: --dtype ",
             precision_name(opt.precision), " and reference_kernels exclude each other");
    return Compute{ctx, MatMul::Reference};
  }
  return compute_for(opt.precision, ctx);
}

Compute compute_for(Precision p, const ThreadingContext& ctx) {
  switch (p) {
    case Precision::F32: return Compute{ctx, MatMul::F32};
    case Precision::BF16: resolve_bf16_unit(); return Compute{ctx, MatMul::BF16};
    case Precision::Int8: resolve_int8_unit(); return Compute{ctx, MatMul::Int8};
  }
  fail("unknown precision");
}

}  // namespace bigbird
