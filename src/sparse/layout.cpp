#include "sparse/layout.h"

#include <algorithm>

#include "core/error.h"

namespace bigbird {

size_t BlockLayout::max_row_blocks() const {
  size_t m = 0;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) m = std::max(m, static_cast<size_t>(offsets[i + 1] - offsets[i]));
  return m;
}

BlockLayout itc_layout(int n_blocks, int block, int heads, const RandomPlan& plan) {
  BB_CHECK(block > 0, "itc layout: block size must be positive, got ", block);
  BB_CHECK(n_blocks >= 5, "itc layout: needs at least 5 blocks, got ", n_blocks,
           " (shorter inputs use full attention)");
  validate_plan(plan, heads, n_blocks, plan.r, "itc layout");
  BlockLayout L;
  L.n_blocks = n_blocks;
  L.block = block;
  L.heads = heads;
  L.offsets.reserve(static_cast<size_t>(heads) * n_blocks + 1);
  L.offsets.push_back(0);
  const int last = n_blocks - 1;
  auto add = [&](int b, MaskKind k) { L.keys.push_back({b, k}); };
  auto add_random = [&](int h, int q) {
    for (int j = 0; j < plan.r; ++j) add(plan.at(h, q - 1, j), MaskKind::QueryKey);
  };
  for (int h = 0; h < heads; ++h) {
    for (int q = 0; q < n_blocks; ++q) {
      if (q == 0 || q == last) {
        for (int b = 0; b < n_blocks; ++b) add(b, MaskKind::Key);
      } else if (q == 1) {
        for (int b : {0, 1, 2, last}) add(b, MaskKind::Key);
        add_random(h, q);
      } else if (q == last - 1) {
        for (int b : {0, last - 2, last - 1, last}) add(b, MaskKind::Key);
        add_random(h, q);
      } else {
        add(0, MaskKind::Key);
        for (int b : {q - 1, q, q + 1}) add(b, MaskKind::QueryKey);
        add_random(h, q);
        add(last, MaskKind::Key);
      }
      L.offsets.push_back(static_cast<int64_t>(L.keys.size()));
    }
  }
  return L;
}

int64_t LayoutSpec::fallback_blocks(int64_t r) const {
  if (is_itc()) return 5 + 2 * r;
  return std::max<int64_t>(2 * global_blocks + window_blocks, 5) + 2 * r;
}

void LayoutSpec::validate(const std::string& what) const {
  // The bound keeps (2g + w + 2r) * block_size far from overflowing (r and block are bounded too).
  constexpr int64_t kMaxBlocks = int64_t{1} << 20;
  BB_CHECK(window_blocks >= 1 && window_blocks % 2 == 1 && window_blocks <= kMaxBlocks, what,
           ": window_blocks must be an odd number in [1, ", kMaxBlocks, "], got ", window_blocks);
  BB_CHECK(global_blocks >= 0 && global_blocks <= kMaxBlocks, what, ": global_blocks must be in [0, ", kMaxBlocks,
           "], got ", global_blocks);
  constexpr int64_t kMaxGlobalTokens = 4096;
  BB_CHECK(global_tokens >= 0 && global_tokens <= kMaxGlobalTokens, what, ": num_global_tokens must be in [0, ",
           kMaxGlobalTokens, "], got ", global_tokens);
}

BlockLayout make_layout(const LayoutSpec& spec, int n_blocks, int block, int heads, const RandomPlan& plan) {
  if (spec.is_itc()) return itc_layout(n_blocks, block, heads, plan);
  spec.validate("layout");
  BB_CHECK(block > 0, "layout: block size must be positive, got ", block);
  BB_CHECK(n_blocks > spec.fallback_blocks(plan.r), "layout: window_blocks ", spec.window_blocks,
           ", global_blocks ", spec.global_blocks, " and ", plan.r, " random blocks need more than ",
           spec.fallback_blocks(plan.r), " blocks, got ", n_blocks, " (shorter inputs use full attention)");
  validate_plan(plan, heads, n_blocks, plan.r, "layout");
  const int g = static_cast<int>(spec.global_blocks);
  const int half = static_cast<int>(spec.window_blocks / 2);
  BlockLayout L;
  L.n_blocks = n_blocks;
  L.block = block;
  L.heads = heads;
  L.offsets.reserve(static_cast<size_t>(heads) * n_blocks + 1);
  L.offsets.push_back(0);
  auto add = [&](int b, MaskKind k) { L.keys.push_back({b, k}); };
  for (int h = 0; h < heads; ++h) {
    for (int q = 0; q < n_blocks; ++q) {
      if (q < g || q >= n_blocks - g) {
        for (int b = 0; b < n_blocks; ++b) add(b, MaskKind::Key);
      } else {
        for (int b = 0; b < g; ++b) add(b, MaskKind::Key);
        for (int b = std::max(q - half, g); b <= std::min(q + half, n_blocks - g - 1); ++b) add(b, MaskKind::QueryKey);
        const int row = std::clamp(q - 1, 0, n_blocks - 3);
        for (int j = 0; j < plan.r; ++j) add(plan.at(h, row, j), MaskKind::QueryKey);
        for (int b = n_blocks - g; b < n_blocks; ++b) add(b, MaskKind::Key);
      }
      L.offsets.push_back(static_cast<int64_t>(L.keys.size()));
    }
  }
  return L;
}

BlockLayout with_global_tokens(const BlockLayout& base, int extra) {
  BB_CHECK(extra >= 0, "layout: negative number of global-token blocks ", extra);
  BlockLayout L;
  const int n = base.n_blocks, total = n + extra;
  L.n_blocks = total;
  L.block = base.block;
  L.heads = base.heads;
  L.offsets.reserve(static_cast<size_t>(base.heads) * total + 1);
  L.offsets.push_back(0);
  for (int h = 0; h < base.heads; ++h) {
    for (int q = 0; q < n; ++q) {
      for (const KeyBlock& kb : base.row(h, q)) L.keys.push_back(kb);
      for (int b = n; b < total; ++b) L.keys.push_back({b, MaskKind::Key});
      L.offsets.push_back(static_cast<int64_t>(L.keys.size()));
    }
    for (int q = n; q < total; ++q) {
      for (int b = 0; b < total; ++b) L.keys.push_back({b, MaskKind::Key});
      L.offsets.push_back(static_cast<int64_t>(L.keys.size()));
    }
  }
  return L;
}

DenseLayout expand_dense(const BlockLayout& layout) {
  DenseLayout D;
  D.L = layout.seq_len();
  D.heads = layout.heads;
  const size_t per_head = static_cast<size_t>(D.L) * D.L;
  D.key_count.assign(per_head * D.heads, 0);
  D.qk_count.assign(per_head * D.heads, 0);
  const int B = layout.block;
  for (int h = 0; h < layout.heads; ++h)
    for (int qb = 0; qb < layout.n_blocks; ++qb)
      for (const KeyBlock& kb : layout.row(h, qb)) {
        auto& counts = kb.kind == MaskKind::Key ? D.key_count : D.qk_count;
        for (int i = 0; i < B; ++i)
          for (int j = 0; j < B; ++j)
            ++counts[h * per_head + static_cast<size_t>(qb * B + i) * D.L + static_cast<size_t>(kb.block) * B + j];
      }
  return D;
}

}  // namespace bigbird
