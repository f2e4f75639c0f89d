// What every model shares: the encoder's input and output, the options of a forward pass and
// how its products are computed. Models add their own weights and heads on top.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/threading.h"
#include "sparse/plan.h"

namespace bigbird {

enum class AttentionType { BlockSparse, OriginalFull };
AttentionType parse_attention_type(const std::string& s);  // "block_sparse" | "original_full"
const char* attention_type_name(AttentionType t);

// Which random plan each block-sparse layer uses:
//   HF     transformers 4.27 to 4.29 in any mode, and every later version in training mode:
//          numpy's MT19937 draw seeded with the layer index, bit-exact, both plan paths;
//   Zeros  transformers >= 4.30 in eval mode: every random block of every row is block 0 (both
//          plan paths; HF attends to block 0 again, 1 + r times in all, masked as a random block);
//   Seeded our own stateless draw from a seed.
enum class PlanSource { Seeded, HF, Zeros };
PlanSource parse_plan_source(const std::string& s);  // "seeded" | "hf" | "zeros"

// LayerNorm weights.
struct NormW {
  ConstView g, b;
};

struct EncoderInput {
  TensorI64 input_ids;       // [batch, L]
  TensorI64 attention_mask;  // [batch, L] of 0/1, or empty (all ones)
  TensorI64 token_type_ids;  // [batch, L], or empty (zeros); ignored by models without token types
};

struct BlockLayout;

// What one layer's attention sees for one sequence of an input: its query and key projections
// ([Lp, ld] row-major, head h in columns [h·d, (h+1)·d)), the mask ([Lp] of 0/1, block padding 0)
// and the layout (nullptr: full attention, HF's original_full or the short-input fall-back).
struct AttentionCall {
  int layer = 0;
  size_t input = 0;  // index of the input in the call (encode_batch), 0 for encode
  int64_t seq = 0;   // sequence within that input's batch
  const float* q = nullptr;
  const float* k = nullptr;
  int64_t ld = 0;
  int64_t L = 0;   // tokens of the input
  int64_t Lp = 0;  // rows after block padding (q, k and mask have Lp rows)
  int heads = 0;
  int64_t d = 0;
  const float* mask = nullptr;
  const BlockLayout* layout = nullptr;
};

// Looks at every layer's attention inputs during inference (`bigbird attention`'s maps); called
// on the calling thread, layer after layer, before the layer's attention overwrites q.
class AttentionObserver {
 public:
  virtual ~AttentionObserver() = default;
  virtual void observe(const AttentionCall& call) = 0;
};

// The numbers the projections multiply in (`--dtype`).
enum class Precision { F32, BF16, Int8 };
Precision parse_precision(const std::string& s);  // "f32", "bf16" or "int8"; throws otherwise
const char* precision_name(Precision p);
// The unit that runs p's products on this CPU: "avx512_bf16" or "avx2" (emulation) for bf16,
// "avx512_vnni" or "avx2" for int8, the SIMD path OpenBLAS-free kernels use for f32 ("avx512",
// "avx2", "scalar"). Throws where the CPU has no unit for p.
const char* matrix_unit_name(Precision p);

struct ForwardOptions {
  std::optional<AttentionType> attention;  // overrides config.attention_type
  PlanSource plan_source = PlanSource::Seeded;
  uint64_t seed = 0;
  std::map<int, RandomPlan> injected_plans;  // layer -> plan (pins that layer)
  bool keep_hidden_states = false;
  // Run the scalar reference kernels (double accumulation) instead of the fast ones: slow, for
  // tests that hold the fast path to the reference on arbitrary shapes.
  bool reference_kernels = false;
  // The encoder's projections in float32 (default, exact), bf16 (bf16 inputs, float32 sums) or
  // int8 (dynamic per-token / per-channel quantisation, int32 sums); attention, norms and
  // activations stay float32. Weights are packed once, on first use, for the CPU's matrix unit
  // (matrix_unit_name). Throws where the CPU has no unit for it. Error against float32:
  // tests/test_encoder_parity.cpp, test_pegasus.cpp.
  Precision precision = Precision::F32;
  // Sees each layer's q, k, mask and layout (inference only; not owned). nullptr: none.
  AttentionObserver* attention_observer = nullptr;
};

// How BigBirdModel::loss_and_grads trains (inference never reads these).
//   gradient_checkpointing: the forward keeps only each layer's input [rows, hidden]; the backward
//     recomputes the layer's forward right before its backward (the same operations: bit-identical
//     gradients, about one more forward of time, per-layer activations of one layer at a time).
//   dropout: HF's training-mode dropout with the config's probabilities (layers/dropout.h); the
//     masks are a pure function of (dropout_seed, step, site, element), so a step is reproducible
//     on any thread count and after a resume.
//   pool: where the gradient buffers come from (reused across steps: the caller hands the returned
//     gradients back to it after the optimizer step); nullptr = fresh buffers.
//   workspace: the activations and temporaries of the step (layers/encoder_layer.h), kept by the
//     caller and reused by the next step; nullptr = fresh buffers, freed as the backward goes.
class GradientPool;
struct TrainWorkspace;
struct TrainingOptions {
  bool gradient_checkpointing = false;
  bool dropout = false;
  uint64_t dropout_seed = 0;
  uint64_t step = 0;
  GradientPool* pool = nullptr;
  TrainWorkspace* workspace = nullptr;
};

struct EncoderOutput {
  int64_t input_len = 0;   // L_in
  int64_t padded_len = 0;  // Lp: rows per sequence (block multiple under block_sparse; ETC rows included)
  AttentionType attention_used = AttentionType::BlockSparse;
  bool fell_back = false;             // block_sparse requested, full attention used (short input)
  Tensor embedding_output;            // [b, Lp, H] (only with keep_hidden_states)
  std::vector<Tensor> hidden_states;  // per layer [b, Lp, H] (only with keep_hidden_states)
  Tensor sequence_output;             // [b, L_in, H]
  std::vector<RandomPlan> plans;      // per layer, when block_sparse ran
};

// How a forward pass computes: on which threads, and with which products.
enum class MatMul {
  F32,        // float32 BLAS (the default, exact path)
  BF16,       // bf16 inputs, float32 accumulation (opt-in)
  Int8,       // dynamic int8 quantisation, int32 accumulation (opt-in)
  Reference,  // scalar reference kernels, double accumulation (tests)
};
struct Compute {
  const ThreadingContext& ctx;
  MatMul matmul = MatMul::F32;
  bool reference() const { return matmul == MatMul::Reference; }
};
// The Compute a ForwardOptions asks for (throws when it asks for bf16/int8 and reference
// together, or for a precision this CPU has no unit for).
Compute compute_for(const ForwardOptions& opt, const ThreadingContext& ctx);
// The fast path of precision p (throws where the CPU has no unit for it).
Compute compute_for(Precision p, const ThreadingContext& ctx);

}  // namespace bigbird
