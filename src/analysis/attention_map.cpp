#include "analysis/attention_map.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/atomic_file.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "sparse/layout.h"

namespace bigbird {

AttentionMapCollector::AttentionMapCollector(int layers, int heads, AttentionMapOptions options, ThreadingContext ctx)
    : n_layers_(layers), n_heads_(heads), options_(options), ctx_(ctx) {
  BB_CHECK(options_.layer >= -1 && options_.layer < layers, "--layer ", options_.layer,
           " is out of range: the model has ", layers, " layers (0 .. ", layers - 1, ")");
  BB_CHECK(options_.head >= -1 && options_.head < heads, "--head ", options_.head, " is out of range: the model has ",
           heads, " heads per layer (0 .. ", heads - 1, ")");
  BB_CHECK(options_.block >= 1, "attention maps: block size ", options_.block, " must be positive");
  BB_CHECK(options_.token_map_max >= 0, "attention maps: token_map_max must not be negative");
}

void AttentionMapCollector::observe(const AttentionCall& c) {
  if (c.input != 0 || c.seq != 0) return;
  if (options_.layer >= 0 && c.layer != options_.layer) return;
  BB_CHECK(c.heads == n_heads_ && c.layer < n_layers_, "attention maps: a call with ", c.heads, " heads at layer ",
           c.layer, " for a collector of ", n_layers_, " layers x ", n_heads_, " heads");
  LayerAttentionMap lm;
  lm.layer = c.layer;
  lm.L = c.L;
  lm.Lp = c.Lp;
  lm.block_sparse = c.layout != nullptr;
  lm.block = c.layout ? c.layout->block : options_.block;
  lm.n_blocks = (c.Lp + lm.block - 1) / lm.block;
  const int64_t nb = lm.n_blocks, L = c.L;
  const bool token_map = options_.token_map_max > 0 && L <= options_.token_map_max;

  AttentionInput a;
  a.q = c.q;
  a.k = c.k;
  a.ld = c.ld;
  a.L = c.Lp;
  a.heads = c.heads;
  a.d = c.d;
  a.mask = c.mask;

  lm.mean_block_mass.assign(static_cast<size_t>(nb * nb), 0.0);
  for (int h = 0; h < c.heads; ++h) {
    if (options_.head >= 0 && h != options_.head) continue;
    HeadAttentionMap hm;
    hm.head = h;
    // Each query row's mass per key block (and its token row), one task per row.
    std::vector<double> row_mass(static_cast<size_t>(L * nb), 0.0);
    if (token_map) hm.tokens.assign(static_cast<size_t>(L * L), 0.0f);
    parallel_for(ctx_.when(L * nb >= 4096), L, [&](int64_t qi) {
      std::vector<int64_t> keys;
      std::vector<double> probs;
      attention_row_probs(a, c.layout, h, qi, keys, probs);
      double* rm = row_mass.data() + qi * nb;
      std::vector<double> tok(token_map ? static_cast<size_t>(L) : 0, 0.0);
      for (size_t j = 0; j < keys.size(); ++j) {
        rm[keys[j] / lm.block] += probs[j];
        if (token_map && keys[j] < L) tok[static_cast<size_t>(keys[j])] += probs[j];
      }
      for (int64_t k = 0; token_map && k < L; ++k)
        hm.tokens[static_cast<size_t>(qi * L + k)] = static_cast<float>(tok[static_cast<size_t>(k)]);
    });
    // Query block i: the mean over its tokens (the rows of the input, not the block padding).
    hm.block_mass.assign(static_cast<size_t>(nb * nb), 0.0);
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t q0 = i * lm.block, q1 = std::min(L, q0 + lm.block);
      if (q1 <= q0) continue;
      for (int64_t qi = q0; qi < q1; ++qi)
        for (int64_t j = 0; j < nb; ++j) hm.block_mass[static_cast<size_t>(i * nb + j)] += row_mass[static_cast<size_t>(qi * nb + j)];
      for (int64_t j = 0; j < nb; ++j) hm.block_mass[static_cast<size_t>(i * nb + j)] /= static_cast<double>(q1 - q0);
    }
    for (size_t e = 0; e < hm.block_mass.size(); ++e) lm.mean_block_mass[e] += hm.block_mass[e];
    lm.heads.push_back(std::move(hm));
  }
  for (double& x : lm.mean_block_mass) x /= static_cast<double>(lm.heads.size());
  layers_.push_back(std::move(lm));
}

namespace {

// White -> light blue -> blue -> dark purple, at t in [0, 1].
std::array<uint8_t, 3> heat_colour(double t) {
  static const double stops[][3] = {{255, 255, 255}, {158, 202, 225}, {49, 130, 189}, {63, 0, 125}};
  t = std::clamp(t, 0.0, 1.0) * 3.0;
  const int i = std::min(2, static_cast<int>(t));
  const double f = t - i;
  std::array<uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k) c[static_cast<size_t>(k)] = static_cast<uint8_t>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  return c;
}

void png_append(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

}  // namespace

void write_heatmap_png(const std::string& path, const std::vector<double>& m, int64_t n, int cell) {
  BB_CHECK(n >= 1 && static_cast<int64_t>(m.size()) == n * n, "heatmap: ", m.size(), " values for a ", n, " x ", n,
           " map");
  BB_CHECK(cell >= 1 && n * cell <= 16384, "heatmap: ", n, " blocks of ", cell, " pixels is too large an image");
  const int64_t W = n * cell;
  std::string bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  BB_CHECK(png, "heatmap: libpng could not start");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> row(static_cast<size_t>(W * 3));
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    fail("heatmap: libpng failed to encode '", path, "'");
  }
  png_set_write_fn(png, &bytes, png_append, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(W), static_cast<png_uint_32>(W), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < W; ++y) {
    const int64_t i = y / cell;
    for (int64_t x = 0; x < W; ++x) {
      const auto c = heat_colour(std::sqrt(std::max(0.0, m[static_cast<size_t>(i * n + x / cell)])));
      std::copy(c.begin(), c.end(), row.begin() + x * 3);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  write_file_atomically(path, bytes);
}

}  // namespace bigbird
