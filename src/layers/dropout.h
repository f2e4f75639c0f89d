// Dropout as PyTorch's nn.Dropout in training mode (an element is kept with probability 1 - p
// and then scaled by 1/(1-p), else zeroed), with masks from a counter-based generator instead of
// a stateful one: element e of the tensor at site s keeps iff u(seed, step, s, e) >= p, where u is
// a uniform in [0, 1) hashed from the four numbers (core/counter_rng.h, shared with the attention
// kernels for HF's dropout on full-attention probabilities). A mask therefore does not depend on
// the thread count, on the order of calls or on anything run before, and a resumed run reproduces
// it; the backward applies the same mask and scale by calling the same function on the gradient.
#pragma once
#include <cstdint>

#include "core/threading.h"

namespace bigbird {

// Where a dropout sits: one id per dropout module of the model (each layer has its own).
namespace dropout_site {
constexpr uint64_t kEmbeddings = 1;
// Encoder layer `layer`: the attention output dense (HF BigBirdSelfOutput), the feed-forward output
// dense (BigBirdOutput), the original_full attention probabilities (BigBirdSelfAttention).
constexpr uint64_t attention_output(int layer) { return 0x100 + 4 * static_cast<uint64_t>(layer); }
constexpr uint64_t ffn_output(int layer) { return 0x100 + 4 * static_cast<uint64_t>(layer) + 1; }
constexpr uint64_t attention_probs(int layer) { return 0x100 + 4 * static_cast<uint64_t>(layer) + 2; }
// Heads: the classification head's two dropouts (before dense, after dense + activation), token
// classification's (on the sequence output), the QA head's (on the encoder output, and inside its
// BigBirdOutput).
constexpr uint64_t kClassifierIn = 0x10000;
constexpr uint64_t kClassifierHidden = 0x10001;
constexpr uint64_t kTokenClassifier = 0x10002;
constexpr uint64_t kQaIn = 0x10003;
constexpr uint64_t kQaOutput = 0x10004;
}  // namespace dropout_site

// One dropout of one training step. Inactive (the identity) when p == 0 or the default-constructed
// value: the caller passes Dropout{} outside training.
struct Dropout {
  float p = 0.0f;
  uint64_t seed = 0, step = 0, site = 0;
  bool active() const { return p > 0.0f; }
  // 1/(1-p) rounded to float, as torch scales (0 when p == 1: everything dropped).
  float scale() const;
  // The uniform of element e, in [0, 1) (24 random bits).
  float uniform(uint64_t e) const { return uniform(key(), e); }
  bool keep(uint64_t e) const { return uniform(e) >= p; }

  uint64_t key() const;                            // the hash of (seed, step, site)
  static float uniform(uint64_t key, uint64_t e);  // uniform(e) given key()
};

// x[i] (element first + i of the site's tensor) becomes keep ? x[i]·scale : 0, for i in [0, n);
// nothing when !d.active(). On ctx's threads; the result does not depend on their number.
void apply_dropout(const ThreadingContext& ctx, const Dropout& d, float* x, int64_t n, uint64_t first = 0);

}  // namespace bigbird
