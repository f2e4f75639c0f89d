// Random attention inputs for the kernel tests: q, k, v [L, ld] (ld = heads·d + spare columns,
// so rows are strided and misaligned when spare > 0) and a mask whose tail from `pad_from` is 0.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "test_util.h"

namespace bigbird::test {

struct AttnProblem {
  int64_t L = 0, heads = 0, d = 0, ld = 0;
  std::vector<float> q, k, v, mask;
  // The kernels' input, writing into `out` (same ld; nullptr: no output), with or without the mask.
  AttentionInput input(float* out = nullptr, bool with_mask = true) const {
    AttentionInput a;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.ld = ld;
    a.out = out;
    a.ld_out = ld;
    a.L = L;
    a.heads = static_cast<int>(heads);
    a.d = d;
    a.mask = with_mask ? mask.data() : nullptr;
    return a;
  }
  // The largest |a - b| over the heads·d columns the kernels write.
  double diff_cols(const std::vector<float>& a, const std::vector<float>& b) const {
    double m = 0;
    for (int64_t t = 0; t < L; ++t)
      m = std::max(m, max_abs_diff(a.data() + t * ld, b.data() + t * ld, static_cast<size_t>(heads * d)));
    return m;
  }
};

// q and k scaled by qk_scale (larger: more peaked softmaxes); v in [-1, 1].
inline AttnProblem make_attn_problem(int64_t L, int64_t heads, int64_t d, int64_t spare_cols, int64_t pad_from,
                                     uint64_t seed, float qk_scale = 1.0f) {
  AttnProblem p;
  p.L = L, p.heads = heads, p.d = d, p.ld = heads * d + spare_cols;
  const size_t n = static_cast<size_t>(L * p.ld);
  p.q = random_vec(n, seed, qk_scale);
  p.k = random_vec(n, seed + 1, qk_scale);
  p.v = random_vec(n, seed + 2);
  p.mask.assign(static_cast<size_t>(L), 1.0f);
  for (int64_t t = pad_from; t < L; ++t) p.mask[static_cast<size_t>(t)] = 0.0f;
  return p;
}

}  // namespace bigbird::test
