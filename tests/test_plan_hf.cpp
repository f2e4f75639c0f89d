// Random-attention plans: HF 4.27.1's numpy-drawn plans (hf_random_plan) and the stateless
// default (seeded_random_plan).
//
// Test data (tests/data/hf_plans, see its README.md): four plans drawn by HF transformers 4.27.1
// itself, copied from the project's BigBird fixtures (roberta-tiny 256 tokens, pegasus-tiny 304
// tokens; block 16, r 3, 4 heads, layers 0 and 1), and 19 plans made by a throwaway Python script
// kept outside the repository: real numpy 1.24.2 (`np.random.seed(layer)`,
// `np.random.permutation`) driving an independent transcription of HF 4.27.1's plan functions
// (`_get_rand_attn_plan`, `_bigbird_block_rand_mask_with_head`, `_bigbird_block_rand_mask`). The
// script reproduced all 34 fixture plans exactly before writing its own, which cover both paths:
// "with_head" (block 8..64, r 1..4, 1..12 heads, 8..100 blocks, layers 2..11) and "paper"
// (padded length 1024/3072/4096, block 8..192, max_position_embeddings 1024..4096, layers 0..11).
// The numpy stream values below were printed by the same numpy.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "sparse/mt19937_numpy.h"
#include "sparse/plan.h"

using bigbird::Error;
using bigbird::NumpyLegacyRandom;
using bigbird::RandomPlan;

namespace {

const std::string kPlanDir = std::string(BIGBIRD_TEST_DATA) + "/hf_plans";

int meta_int(const bigbird::SafeTensors& st, const std::string& key) {
  auto it = st.metadata().find(key);
  if (it == st.metadata().end()) throw Error(st.path() + ": metadata '" + key + "' missing");
  return std::stoi(it->second);
}

std::vector<std::string> plan_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(kPlanDir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// numpy's legacy RandomState

TEST(NumpyLegacyRandom, RawStreamMatchesNumpy) {
  // np.random.RandomState(s).randint(0, 2**32, size=k, dtype=np.uint32): raw MT19937 words.
  NumpyLegacyRandom r0(0);
  for (uint32_t v : {2357136044u, 2546248239u, 3071714933u, 3626093760u, 2588848963u}) EXPECT_EQ(r0.next_uint32(), v);
  NumpyLegacyRandom r5(5);
  for (uint32_t v : {953453411u, 236996814u, 3739766767u}) EXPECT_EQ(r5.next_uint32(), v);
}

TEST(NumpyLegacyRandom, RandomSampleMatchesNumpy) {
  // np.random.RandomState(0).random_sample(3), built from pairs of words as numpy does.
  NumpyLegacyRandom rng(0);
  for (double v : {0.5488135039273248, 0.7151893663724195, 0.6027633760716439}) {
    const uint32_t a = rng.next_uint32() >> 5, b = rng.next_uint32() >> 6;
    EXPECT_EQ((a * 67108864.0 + b) / 9007199254740992.0, v);
  }
}

TEST(NumpyLegacyRandom, PermutationMatchesNumpy) {
  NumpyLegacyRandom r0(0);  // np.random.RandomState(0).permutation(10)
  std::vector<int32_t> v(10);
  for (int i = 0; i < 10; ++i) v[static_cast<size_t>(i)] = i;
  r0.shuffle(v);
  EXPECT_EQ(v, (std::vector<int32_t>{2, 8, 4, 9, 1, 6, 7, 3, 0, 5}));

  NumpyLegacyRandom r11(11);  // np.random.RandomState(11).permutation(np.arange(3, 40))
  std::vector<int32_t> w;
  for (int i = 3; i < 40; ++i) w.push_back(i);
  r11.shuffle(w);
  EXPECT_EQ(w, (std::vector<int32_t>{18, 12, 37, 26, 23, 17, 9,  6,  22, 36, 11, 14, 31, 24, 32, 39, 8,  13, 33,
                                     25, 5,  7,  34, 29, 3,  38, 35, 27, 21, 10, 4,  15, 16, 20, 30, 19, 28}));
}

TEST(NumpyLegacyRandom, IntervalBoundsAndNoDrawForZero) {
  NumpyLegacyRandom a(3), b(3);
  EXPECT_EQ(a.interval(0), 0u);  // consumes nothing
  std::vector<int32_t> one{7}, none;
  a.shuffle(one);  // 0 or 1 elements: nothing drawn either
  a.shuffle(none);
  EXPECT_EQ(one, std::vector<int32_t>{7});
  EXPECT_EQ(a.next_uint32(), b.next_uint32());
  for (uint32_t max : {1u, 2u, 5u, 8u, 100u, 0x80000000u, 0xffffffffu})
    for (int i = 0; i < 200; ++i) EXPECT_LE(a.interval(max), max);
}

// ---------------------------------------------------------------------------------------------
// hf_random_plan

TEST(HfRandomPlan, MatchesEveryStoredPlan) {
  const auto files = plan_files();
  ASSERT_GE(files.size(), 23u) << "expected the plans of tests/data/hf_plans";
  std::map<std::string, int> per_path;
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto st = bigbird::SafeTensors::open(f);
    const auto want = st.read_i64("rand_attn");
    const int layer = meta_int(st, "layer"), len = meta_int(st, "padded_len"), block = meta_int(st, "block");
    const int r = meta_int(st, "r"), heads = meta_int(st, "heads"), max_pos = meta_int(st, "max_position_embeddings");
    per_path[st.metadata().at("path")]++;
    const RandomPlan got = bigbird::hf_random_plan(layer, len, block, r, heads, max_pos);
    ASSERT_EQ(want.shape, (bigbird::Shape{heads, len / block - 2, r}));
    ASSERT_EQ(got.heads, heads);
    ASSERT_EQ(got.rows, len / block - 2);
    ASSERT_EQ(got.r, r);
    ASSERT_EQ(got.blocks.size(), want.data.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < want.data.size(); ++i) mismatches += got.blocks[i] != want.data[i];
    EXPECT_EQ(mismatches, 0u);
  }
  EXPECT_GE(per_path["with_head"], 10);
  EXPECT_GE(per_path["paper"], 10);
}

TEST(HfRandomPlan, FixturePlansArePresent) {
  for (const char* name : {"fixture_roberta_s256_layer0", "fixture_roberta_s256_layer1", "fixture_pegasus_s304_layer0",
                           "fixture_pegasus_s304_layer1"})
    EXPECT_TRUE(std::filesystem::exists(kPlanDir + "/" + name + ".safetensors")) << name;
}

TEST(HfRandomPlan, WithHeadPathDrawsFromTheFirstSegmentOnly) {
  // HF's plan for n > 2r + 5 blocks: every row's blocks lie in [1, 2r + 3], distinct, outside
  // the row's window; identical on every call (the seed is the layer index).
  for (int r : {1, 2, 3, 4}) {
    const int n = 40, block = 16;
    const RandomPlan p = bigbird::hf_random_plan(7, n * block, block, r, 6, 4096);
    EXPECT_NO_THROW(bigbird::validate_plan(p, 6, n, r, "hf"));
    EXPECT_EQ(p.blocks, bigbird::hf_random_plan(7, n * block, block, r, 6, 4096).blocks);
    for (int h = 0; h < p.heads; ++h)
      for (int row = 0; row < p.rows; ++row) {
        const int q = row + 1;
        std::set<int> seen;
        for (int j = 0; j < r; ++j) {
          const int k = p.at(h, row, j);
          EXPECT_GE(k, 1);
          EXPECT_LE(k, 2 * r + 3);
          EXPECT_TRUE(k < q - 1 || k > q + 1) << "row " << row << " picked window block " << k;
          seen.insert(k);
        }
        EXPECT_EQ(seen.size(), static_cast<size_t>(r));
      }
  }
  // Different layers are different seeds.
  EXPECT_NE(bigbird::hf_random_plan(0, 640, 16, 3, 4, 1024).blocks,
            bigbird::hf_random_plan(1, 640, 16, 3, 4, 1024).blocks);
}

TEST(HfRandomPlan, PaperPathQuirks) {
  // Each head drafts the whole max_position_embeddings plan, so later heads depend on it: with
  // block 64 the kept rows of head 0 see the same candidates (blocks < 1024/64) for 3072 and
  // 4096, but head 1 starts after 46 or 62 drafted rows.
  const RandomPlan a = bigbird::hf_random_plan(0, 1024, 64, 3, 2, 3072);
  const RandomPlan b = bigbird::hf_random_plan(0, 1024, 64, 3, 2, 4096);
  for (int row = 0; row < a.rows; ++row)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(a.at(0, row, j), b.at(0, row, j));
  bool head1_differs = false;
  for (int row = 0; row < a.rows; ++row)
    for (int j = 0; j < 3; ++j) head1_differs |= a.at(1, row, j) != b.at(1, row, j);
  EXPECT_TRUE(head1_differs);

  // With max_position_embeddings 4096 and block 64, candidates reach block 1024/64 - 1 = 15, the
  // last (global) block of a 1024-token input: HF can pick it.
  const RandomPlan c = bigbird::hf_random_plan(0, 1024, 64, 3, 12, 4096);
  EXPECT_NE(std::find(c.blocks.begin(), c.blocks.end(), 15), c.blocks.end());

  // Block 192 on 3072 tokens: some rows have a single candidate, which numpy broadcasts.
  const RandomPlan d = bigbird::hf_random_plan(4, 3072, 192, 2, 2, 3072);
  EXPECT_EQ(d.at(0, 1, 0), d.at(0, 1, 1));
}

TEST(HfRandomPlan, ZeroRandomBlocksGiveAnEmptyPlan) {
  for (int len : {96, 1024}) {
    const RandomPlan p = bigbird::hf_random_plan(3, len, 16, 0, 4, 1024);
    EXPECT_EQ(p.heads, 4);
    EXPECT_EQ(p.rows, len / 16 - 2);
    EXPECT_EQ(p.r, 0);
    EXPECT_TRUE(p.blocks.empty());
  }
}

TEST(HfRandomPlan, RejectsBadArguments) {
  auto expect_error = [](auto&& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([] { bigbird::hf_random_plan(0, 250, 16, 3, 4, 1024); }, "not a positive multiple");
  expect_error([] { bigbird::hf_random_plan(0, 0, 16, 3, 4, 1024); }, "not a positive multiple");
  expect_error([] { bigbird::hf_random_plan(0, 256, 0, 3, 4, 1024); }, "block size");
  expect_error([] { bigbird::hf_random_plan(-1, 256, 16, 3, 4, 1024); }, "negative");
  expect_error([] { bigbird::hf_random_plan(0, 256, 16, -1, 4, 1024); }, "negative");
  expect_error([] { bigbird::hf_random_plan(0, 256, 16, 3, 0, 1024); }, "heads");
  // 11 = 2r + 5 blocks: HF would have fallen back to full attention.
  expect_error([] { bigbird::hf_random_plan(0, 176, 16, 3, 4, 1024); }, "too few");
  expect_error([] { bigbird::hf_random_plan(0, 80, 16, 0, 4, 1024); }, "too few");
  // Paper path drafts at max_position_embeddings, which must cover the input.
  expect_error([] { bigbird::hf_random_plan(0, 3072, 64, 3, 4, 2048); }, "max_position_embeddings");
  // Block 256 on 4096 tokens: query block 2 has no candidate at all, HF raises too.
  expect_error([] { bigbird::hf_random_plan(0, 4096, 256, 3, 4, 4096); }, "candidate");
  // The smallest legal inputs work.
  EXPECT_NO_THROW(bigbird::hf_random_plan(0, 192, 16, 3, 4, 1024));
  EXPECT_NO_THROW(bigbird::hf_random_plan(0, 96, 16, 0, 4, 1024));
}

// ---------------------------------------------------------------------------------------------
// seeded_random_plan

TEST(SeededRandomPlan, RowsAreDistinctAndAvoidWindowAndGlobals) {
  for (int r : {1, 2, 3, 5})
    for (int n : {2 * r + 6, 2 * r + 7, 33, 64}) {
      const RandomPlan p = bigbird::seeded_random_plan(42, 3, n, r, 4);
      EXPECT_NO_THROW(bigbird::validate_plan(p, 4, n, r, "seeded"));
      for (int h = 0; h < p.heads; ++h)
        for (int row = 0; row < p.rows; ++row) {
          const int q = row + 1;
          std::set<int> seen;
          for (int j = 0; j < r; ++j) {
            const int k = p.at(h, row, j);
            EXPECT_TRUE(k > 0 && k < n - 1) << "global block " << k << " (n " << n << ")";
            EXPECT_TRUE(k < q - 1 || k > q + 1) << "window block " << k << " in row " << row;
            seen.insert(k);
          }
          EXPECT_EQ(seen.size(), static_cast<size_t>(r)) << "repeated block in row " << row;
        }
    }
}

TEST(SeededRandomPlan, DeterministicAndSeedDependent) {
  const RandomPlan a = bigbird::seeded_random_plan(7, 2, 30, 3, 8);
  EXPECT_EQ(a.blocks, bigbird::seeded_random_plan(7, 2, 30, 3, 8).blocks);
  EXPECT_NE(a.blocks, bigbird::seeded_random_plan(8, 2, 30, 3, 8).blocks);
  EXPECT_NE(a.blocks, bigbird::seeded_random_plan(7, 3, 30, 3, 8).blocks);
  // A pure function of (seed, layer, head, row): more heads leave the first heads unchanged.
  const RandomPlan more = bigbird::seeded_random_plan(7, 2, 30, 3, 12);
  EXPECT_TRUE(std::equal(a.blocks.begin(), a.blocks.end(), more.blocks.begin()));
  // Heads differ from each other.
  EXPECT_FALSE(std::equal(a.blocks.begin(), a.blocks.begin() + a.rows * 3, a.blocks.begin() + a.rows * 3));
}

TEST(SeededRandomPlan, RoughlyUniformOverCandidates) {
  // Query block 10 of 20 blocks: candidates 1..18 minus 9, 10, 11 = 15 blocks, each expected in
  // r/15 of the rows. 600 seeds x 8 heads x 3 picks = 14400 picks, 960 per block (sd ~ 30).
  const int n = 20, r = 3, heads = 8, row = 9;
  std::map<int, int> count;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    const RandomPlan p = bigbird::seeded_random_plan(seed, 0, n, r, heads);
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < r; ++j) count[p.at(h, row, j)]++;
  }
  EXPECT_EQ(count.size(), 15u);
  for (const auto& [block, c] : count) {
    EXPECT_GT(c, 960 - 150) << "block " << block;
    EXPECT_LT(c, 960 + 150) << "block " << block;
  }
  // Pick position j is uniform too (no bias towards low blocks in the first slot).
  std::map<int, int> first;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    const RandomPlan p = bigbird::seeded_random_plan(seed, 1, n, r, heads);
    for (int h = 0; h < heads; ++h) first[p.at(h, row, 0)]++;
  }
  for (const auto& [block, c] : first) {
    EXPECT_GT(c, 320 - 90) << "block " << block;
    EXPECT_LT(c, 320 + 90) << "block " << block;
  }
}

TEST(SeededRandomPlan, EdgeCases) {
  const RandomPlan empty = bigbird::seeded_random_plan(1, 0, 10, 0, 4);
  EXPECT_EQ(empty.rows, 8);
  EXPECT_TRUE(empty.blocks.empty());
  EXPECT_THROW(bigbird::seeded_random_plan(1, 0, 11, 3, 4), Error);  // 2r + 5 blocks
  EXPECT_NO_THROW(bigbird::seeded_random_plan(1, 0, 12, 3, 4));
}
