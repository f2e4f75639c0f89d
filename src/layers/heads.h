// Task heads on top of an encoder's sequence output [b, L, H], as free functions over their
// weights (BigBird's pooler, MLM, classification and QA heads; HF 4.27's maths).
#pragma once
#include "core/tensor.h"
#include "kernels/activations.h"
#include "layers/dropout.h"
#include "layers/gradients.h"
#include "layers/linear.h"
#include "layers/types.h"

namespace bigbird {

// [b, L, H] -> [b, H]: each sequence's first token.
Tensor first_tokens(const Tensor& seq);

// tanh(dense(first token)) -> [b, H].
Tensor pooler_head(const Compute& c, const Linear& dense, const Tensor& seq);

// decoder(LN(act(transform(x)))) -> [b, L, V] (the decoder tied to the word embeddings).
Tensor mlm_head(const Compute& c, const Linear& transform, const NormW& ln, const Linear& decoder, Activation act,
                float eps, const Tensor& seq);

// out_proj(drop_hidden(act(dense(drop_in(first token))))) -> [b, num_labels] (HF
// BigBirdClassificationHead; the dropouts act in training only, on [b, H] each).
Tensor classification_head(const Compute& c, const Linear& dense, const Linear& out_proj, Activation act,
                           const Tensor& seq, const Dropout& drop_in = {}, const Dropout& drop_hidden = {});

// qa_outputs(LN(x + drop_out(output(act(intermediate(drop_in(x))))))) -> [b, L, 2] (before HF's
// question mask; the residual takes x itself, as HF's BigBirdForQuestionAnsweringHead).
Tensor qa_head(const Compute& c, const Linear& intermediate, const Linear& output, const NormW& ln,
               const Linear& qa_outputs, Activation act, float eps, const Tensor& seq, const Dropout& drop_in = {},
               const Dropout& drop_out = {});

// Backward passes: given the gradient of a head's output, the gradient of its input `seq`
// (returned, same shape as seq) and the head's weight gradients (accumulated into g; the MLM
// decoder's weight gradient goes to the buffer of decoder.weight(), i.e. to the word embeddings'
// when they are tied). Each recomputes the head's forward from seq.
Tensor pooler_head_backward(const Compute& c, const Linear& dense, const Tensor& seq, const Tensor& dpooled,
                            Gradients& g);
Tensor mlm_head_backward(const Compute& c, const Linear& transform, const NormW& ln, const Linear& decoder,
                         Activation act, float eps, const Tensor& seq, const Tensor& dlogits, Gradients& g);
// The dropouts must be those of the forward (same masks).
Tensor classification_head_backward(const Compute& c, const Linear& dense, const Linear& out_proj, Activation act,
                                    const Tensor& seq, const Tensor& dlogits, Gradients& g, const Dropout& drop_in = {},
                                    const Dropout& drop_hidden = {});
Tensor qa_head_backward(const Compute& c, const Linear& intermediate, const Linear& output, const NormW& ln,
                        const Linear& qa_outputs, Activation act, float eps, const Tensor& seq, const Tensor& dlogits,
                        Gradients& g, const Dropout& drop_in = {}, const Dropout& drop_out = {});
// A plain linear head (token classification, next-sentence): dy [..., out] -> dx [..., in].
Tensor linear_head_backward(const Compute& c, const Linear& l, const Tensor& x, const Tensor& dy, Gradients& g);

}  // namespace bigbird
