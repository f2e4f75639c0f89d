// The output tensors of `bigbird forward`, named as the fixture README names them, in one place
// for the CLI (tools/cmd_forward.cpp, tools/forward_pegasus.cpp) and the Python package
// (python/_bigbird.cpp): embeddings, every layer's hidden state, the heads' outputs and the
// random plans each layer used.
#pragma once
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "models/pegasus_model.h"

namespace bigbird {

// A BigBird encoder checkpoint: embedding_output, hidden_state.layer{L}, sequence_output,
// pooler_output, mlm_logits, nsp_logits, seqcls.logits, token_cls.logits, qa.* (whichever heads
// the checkpoint has) and rand_attn.layer{L}. `in.input_ids` is [batch, length]; a QA checkpoint
// without token_type_ids gets HF's (1 - question mask). `opt.injected_plans` are checked against
// the layers; `source` names the inputs in messages.
std::vector<OutTensor> encoder_forward_outputs(const BigBirdModel& model, EncoderInput in, ForwardOptions opt,
                                               const ThreadingContext& ctx, const std::string& source);

// A BigBird-Pegasus checkpoint: encoder.*, decoder.* (on `decoder_input_ids`, or on input_ids
// shifted right as HF does when it is null), logits, rand_attn.layer{L}, and with
// generate_steps > 0 a greedy decode of that many steps without an eos stop (greedy.tokens,
// greedy.step_logits). `decoder_attention_mask` (may be null) must be all ones.
std::vector<OutTensor> pegasus_forward_outputs(const PegasusModel& model, const EncoderInput& in,
                                               const TensorI64* decoder_input_ids,
                                               const TensorI64* decoder_attention_mask, ForwardOptions opt,
                                               int generate_steps, const ThreadingContext& ctx,
                                               const std::string& source);

}  // namespace bigbird
