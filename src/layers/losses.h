// The training losses of HF's heads (transformers 4.27 / torch defaults, reduction 'mean'), each with its gradient.
// Computed in double, returned as float; gradients rounded once to float.
#pragma once
#include <cstdint>

namespace bigbird {

// CrossEntropyLoss() (ignore_index -100): mean over the rows whose label != -100 of
// logsumexp(logits[r]) - logits[r][label[r]]. logits [rows, classes].
// dlogits (same shape; null: skipped) = (softmax(logits[r]) - onehot(label[r])) / count on those rows, 0 on ignored
// rows (dlogits may alias logits). No labelled row: torch returns nan (0/0); we return 0 with dlogits all 0, so that a
// batch of only padding adds nothing to a training step. A label outside [0, classes) other than -100: bigbird::Error
// naming the row and the value (torch raises too); nothing is written then.
float cross_entropy_loss(const float* logits, int64_t rows, int64_t classes, const int64_t* labels, float* dlogits);

// MSELoss() (mean over n): HF's regression (num_labels == 1). dpred (null: skipped) = 2·(pred - target)/n.
// n == 0: returns 0 (torch: nan).
float mse_loss(const float* pred, const float* target, int64_t n, float* dpred);

// BCEWithLogitsLoss() (mean over n): HF's multi_label_classification. Stable form per element:
// max(x, 0) - x·t + log1p(exp(-|x|)); dlogits (null: skipped) = (sigmoid(x) - t)/n. n == 0: returns 0 (torch: nan).
float bce_with_logits_loss(const float* logits, const float* targets, int64_t n, float* dlogits);

}  // namespace bigbird
