#include "kernels/decoder_attention.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/simd/dispatch.h"

namespace bigbird {

namespace {

void check(const DecoderAttentionArgs& a, const std::vector<KeyValueSpan>& spans) {
  BB_CHECK(static_cast<int64_t>(spans.size()) == a.rows, "decoder_attention: ", spans.size(), " spans for ", a.rows,
           " query rows");
  BB_CHECK(a.heads > 0 && a.d > 0 && a.ldq >= a.heads * a.d && a.ldo >= a.heads * a.d,
           "decoder_attention: bad strides");
  for (const auto& s : spans) {
    BB_CHECK(s.n >= 1 && s.k && s.v && s.head_stride >= 0, "decoder_attention: empty or malformed key span");
    BB_CHECK(s.head_stride ? (s.ld >= a.d && s.head_stride >= (s.n - 1) * s.ld + a.d) : s.ld >= a.heads * a.d,
             "decoder_attention: key span strides overlap its heads");
  }
}

inline float penalty(const float* mask, int64_t j) {
  // HF _expand_mask: (1 - m) where non-zero becomes finfo.min.
  return (mask && 1.0f - mask[j] != 0.0f) ? kFullPenalty : 0.0f;
}

// Query rows [i0, i0 + g) share one span (the beams of an input in cross-attention): per head, each
// key and value row is read once for the whole group. p holds the group's scores [g, n]. The
// softmax is the SIMD kernel's (vectorised exp).
void attend_group(const DecoderAttentionArgs& a, int64_t i0, int64_t g, const KeyValueSpan& s, int h,
                  std::vector<float>& p) {
  const int64_t d = a.d, n = s.n, off = h * d, kv = s.head_offset(h, d);
  p.resize(static_cast<size_t>(g * n));
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = s.k + j * s.ld + kv;
    const float pen = penalty(s.mask, j);
    for (int64_t r = 0; r < g; ++r) {
      const float* q = a.q + (i0 + r) * a.ldq + off;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t t = 0; t < d; ++t) dot += q[t] * kj[t];
      p[static_cast<size_t>(r * n + j)] = dot + pen;
    }
  }
  const simd::KernelTable& kt = simd::kernels(SimdPath::Auto);
  for (int64_t r = 0; r < g; ++r) {  // softmax of each query row
    kt.softmax_row(p.data() + r * n, nullptr, n);
    std::fill_n(a.out + (i0 + r) * a.ldo + off, d, 0.0f);
  }
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = s.v + j * s.ld + kv;
    for (int64_t r = 0; r < g; ++r) {
      const float w = p[static_cast<size_t>(r * n + j)];
      if (w == 0.0f) continue;
      float* o = a.out + (i0 + r) * a.ldo + off;
#pragma omp simd
      for (int64_t t = 0; t < d; ++t) o[t] += w * vj[t];
    }
  }
}

constexpr int64_t kMaxGroup = 16;  // rows per group: bounds the scores buffer to 16·n floats

bool same_span(const KeyValueSpan& x, const KeyValueSpan& y) {
  return x.k == y.k && x.v == y.v && x.ld == y.ld && x.n == y.n && x.mask == y.mask;
}

}  // namespace

void decoder_attention(const ThreadingContext& ctx, const DecoderAttentionArgs& a,
                       const std::vector<KeyValueSpan>& spans) {
  check(a, spans);
  std::vector<int64_t> group_start;  // runs of consecutive rows with the same span
  int64_t work = 0;
  for (int64_t i = 0; i < a.rows; ++i) {
    if (i == 0 || i - group_start.back() == kMaxGroup ||
        !same_span(spans[static_cast<size_t>(i)], spans[static_cast<size_t>(i - 1)]))
      group_start.push_back(i);
    work += spans[static_cast<size_t>(i)].n;
  }
  group_start.push_back(a.rows);
  const int64_t groups = static_cast<int64_t>(group_start.size()) - 1, tasks = groups * a.heads;
  const ThreadingContext team = ctx.when(work * a.heads * a.d > (1 << 18));     // small steps: no fork/join cost
  std::vector<std::vector<float>> scores(static_cast<size_t>(team.threads()));  // per worker
  parallel_for(team, tasks, [&](int64_t t, int worker) {
    const int64_t gi = t / a.heads, i0 = group_start[static_cast<size_t>(gi)];
    attend_group(a, i0, group_start[static_cast<size_t>(gi) + 1] - i0, spans[static_cast<size_t>(i0)],
                 static_cast<int>(t % a.heads), scores[static_cast<size_t>(worker)]);
  });
}

void decoder_attention_ref(const DecoderAttentionArgs& a, const std::vector<KeyValueSpan>& spans) {
  check(a, spans);
  for (int64_t i = 0; i < a.rows; ++i) {
    const KeyValueSpan& s = spans[static_cast<size_t>(i)];
    for (int h = 0; h < a.heads; ++h) {
      const int64_t off = h * a.d, kv = s.head_offset(h, a.d);
      std::vector<double> sc(static_cast<size_t>(s.n));
      double mx = -INFINITY;
      for (int64_t j = 0; j < s.n; ++j) {
        double dot = 0;
        for (int64_t t = 0; t < a.d; ++t)
          dot += static_cast<double>(a.q[i * a.ldq + off + t]) * s.k[j * s.ld + kv + t];
        sc[static_cast<size_t>(j)] = dot + penalty(s.mask, j);
        mx = std::max(mx, sc[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (int64_t t = 0; t < a.d; ++t) {
        double acc = 0;
        for (int64_t j = 0; j < s.n; ++j) acc += sc[static_cast<size_t>(j)] * s.v[j * s.ld + kv + t];
        a.out[i * a.ldo + off + t] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace bigbird
