#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace bigbird {

namespace {

struct KeyRange {
  int64_t start;
  int64_t len;
  MaskKind kind;
};

struct Scratch {
  std::vector<float> scores;  // [nq, width]
  std::vector<float> kt;      // [d, range len] transposed key block
  std::vector<float> acc;     // [nq, d]
};

// Attends query rows [q0, q0+nq) of head h to the concatenation of `ranges`.
void attend_tile(const AttentionInput& a, int h, int64_t q0, int64_t nq, const std::vector<KeyRange>& ranges,
                 float penalty, float scale, bool zero_padded_queries, Scratch& s) {
  const int64_t d = a.d;
  int64_t width = 0, max_len = 0;
  for (const auto& r : ranges) {
    width += r.len;
    max_len = std::max(max_len, r.len);
  }
  s.scores.resize(static_cast<size_t>(nq * width));
  s.kt.resize(static_cast<size_t>(d * max_len));
  s.acc.assign(static_cast<size_t>(nq * d), 0.0f);
  const float* qh = a.q + h * d;
  const float* kh = a.k + h * d;
  const float* vh = a.v + h * d;

  // Scores, range by range: S[i, c..c+len) = scale · q_i · K_rangeᵀ + penalty.
  int64_t col = 0;
  for (const auto& r : ranges) {
    for (int64_t j = 0; j < r.len; ++j)
      for (int64_t t = 0; t < d; ++t) s.kt[t * r.len + j] = kh[(r.start + j) * a.ld + t];
    for (int64_t i = 0; i < nq; ++i) {
      float* srow = s.scores.data() + i * width + col;
      const float* qi = qh + (q0 + i) * a.ld;
      std::fill(srow, srow + r.len, 0.0f);
      for (int64_t t = 0; t < d; ++t) {
        const float qv = qi[t];
        const float* ktr = s.kt.data() + t * r.len;
        for (int64_t j = 0; j < r.len; ++j) srow[j] += qv * ktr[j];
      }
      const float mq = a.mask ? a.mask[q0 + i] : 1.0f;
      for (int64_t j = 0; j < r.len; ++j) {
        float v = srow[j] * scale;
        if (a.mask) {
          const float mk = a.mask[r.start + j];
          v += (r.kind == MaskKind::Key ? (1.0f - mk) : (1.0f - mq * mk)) * penalty;
        }
        srow[j] = v;
      }
    }
    col += r.len;
  }
  // Softmax per row.
  for (int64_t i = 0; i < nq; ++i) {
    float* srow = s.scores.data() + i * width;
    float mx = srow[0];
    for (int64_t j = 1; j < width; ++j) mx = std::max(mx, srow[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < width; ++j) {
      srow[j] = std::exp(srow[j] - mx);
      sum += srow[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < width; ++j) srow[j] *= inv;
  }
  // Weighted values.
  col = 0;
  for (const auto& r : ranges) {
    for (int64_t i = 0; i < nq; ++i) {
      const float* p = s.scores.data() + i * width + col;
      float* acc = s.acc.data() + i * d;
      for (int64_t j = 0; j < r.len; ++j) {
        const float pj = p[j];
        const float* vj = vh + (r.start + j) * a.ld;
        for (int64_t t = 0; t < d; ++t) acc[t] += pj * vj[t];
      }
    }
    col += r.len;
  }
  for (int64_t i = 0; i < nq; ++i) {
    const float mq = (zero_padded_queries && a.mask) ? a.mask[q0 + i] : 1.0f;
    float* o = a.out + (q0 + i) * a.ld_out + h * d;
    const float* acc = s.acc.data() + i * d;
    for (int64_t t = 0; t < d; ++t) o[t] = acc[t] * mq;
  }
}

void check_input(const AttentionInput& a) {
  BB_CHECK(a.q && a.k && a.v && a.out, "attention: null input");
  BB_CHECK(a.heads > 0 && a.d > 0 && a.ld >= a.heads * a.d && a.ld_out >= a.heads * a.d, "attention: bad strides");
}

}  // namespace

void block_sparse_attention(const AttentionInput& a, const BlockLayout& layout) {
  check_input(a);
  BB_CHECK(a.L == layout.seq_len(), "block_sparse_attention: sequence length ", a.L, " != layout length ",
           layout.seq_len());
  BB_CHECK(a.heads == layout.heads, "block_sparse_attention: ", a.heads, " heads but layout has ", layout.heads);
  const int n = layout.n_blocks;
  const int64_t B = layout.block;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)));
  const int64_t tasks = static_cast<int64_t>(a.heads) * n;
#pragma omp parallel
  {
    Scratch s;
    std::vector<KeyRange> ranges;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int h = static_cast<int>(t / n);
      const int qb = static_cast<int>(t % n);
      ranges.clear();
      for (const KeyBlock& kb : layout.row(h, qb)) ranges.push_back({kb.block * B, B, kb.kind});
      attend_tile(a, h, qb * B, B, ranges, kSparsePenalty, scale, true, s);
    }
  }
}

void full_attention(const AttentionInput& a) {
  check_input(a);
  const int64_t T = 64;  // query rows per tile
  const int64_t tiles = (a.L + T - 1) / T;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.d)));
  const std::vector<KeyRange> all{{0, a.L, MaskKind::Key}};
  const int64_t tasks = static_cast<int64_t>(a.heads) * tiles;
#pragma omp parallel
  {
    Scratch s;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int h = static_cast<int>(t / tiles);
      const int64_t q0 = (t % tiles) * T;
      attend_tile(a, h, q0, std::min(T, a.L - q0), all, kFullPenalty, scale, false, s);
    }
  }
}

// ---------------------------------------------------------------- scalar references

namespace {
// One query row against a weighted key list: weight w_j multiplies exp(score_j + pen_j).
void ref_row(const AttentionInput& a, int h, int64_t qi, const std::vector<int64_t>& keys,
             const std::vector<double>& pens, const std::vector<double>& mult, double scale, double out_scale) {
  const int64_t d = a.d;
  std::vector<double> sc(keys.size());
  double mx = -INFINITY;
  for (size_t j = 0; j < keys.size(); ++j) {
    double dot = 0;
    for (int64_t t = 0; t < d; ++t) dot += static_cast<double>(a.q[qi * a.ld + h * d + t]) * a.k[keys[j] * a.ld + h * d + t];
    sc[j] = dot * scale + pens[j];
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (size_t j = 0; j < keys.size(); ++j) {
    sc[j] = mult[j] * std::exp(sc[j] - mx);
    sum += sc[j];
  }
  for (int64_t t = 0; t < d; ++t) {
    double acc = 0;
    for (size_t j = 0; j < keys.size(); ++j) acc += sc[j] * a.v[keys[j] * a.ld + h * d + t];
    a.out[qi * a.ld_out + h * d + t] = static_cast<float>(acc / sum * out_scale);
  }
}
double m_at(const AttentionInput& a, int64_t i) { return a.mask ? a.mask[i] : 1.0; }
}  // namespace

void block_sparse_attention_ref(const AttentionInput& a, const BlockLayout& layout) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  const int64_t B = layout.block;
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens, mult;
      const double mq = m_at(a, qi);
      for (const KeyBlock& kb : layout.row(h, static_cast<int>(qi / B)))
        for (int64_t j = 0; j < B; ++j) {
          const int64_t k = kb.block * B + j;
          const double mk = m_at(a, k);
          keys.push_back(k);
          pens.push_back((kb.kind == MaskKind::Key ? 1.0 - mk : 1.0 - mq * mk) * kSparsePenalty);
          mult.push_back(1.0);
        }
      ref_row(a, h, qi, keys, pens, mult, scale, mq);
    }
}

void full_attention_ref(const AttentionInput& a) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens, mult;
      for (int64_t k = 0; k < a.L; ++k) {
        keys.push_back(k);
        pens.push_back((1.0 - m_at(a, k)) * static_cast<double>(kFullPenalty));
        mult.push_back(1.0);
      }
      ref_row(a, h, qi, keys, pens, mult, scale, 1.0);
    }
}

void dense_layout_attention_ref(const AttentionInput& a, const DenseLayout& D) {
  BB_CHECK(D.L == a.L && D.heads == a.heads, "dense_layout_attention_ref: shape mismatch");
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  const size_t per_head = static_cast<size_t>(a.L) * a.L;
  for (int h = 0; h < a.heads; ++h)
    for (int64_t qi = 0; qi < a.L; ++qi) {
      std::vector<int64_t> keys;
      std::vector<double> pens, mult;
      const double mq = m_at(a, qi);
      for (int64_t k = 0; k < a.L; ++k) {
        const size_t idx = h * per_head + static_cast<size_t>(qi) * a.L + k;
        const double mk = m_at(a, k);
        if (D.key_count[idx]) {
          keys.push_back(k);
          pens.push_back((1.0 - mk) * kSparsePenalty);
          mult.push_back(D.key_count[idx]);
        }
        if (D.qk_count[idx]) {
          keys.push_back(k);
          pens.push_back((1.0 - mq * mk) * kSparsePenalty);
          mult.push_back(D.qk_count[idx]);
        }
      }
      ref_row(a, h, qi, keys, pens, mult, scale, mq);
    }
}

}  // namespace bigbird
