// Long inputs (src/tasks/long_input.h): --truncation and --stride windows of classify, embed, tag
// and fill-mask, checked against their definitions. Each window is built here by hand from the
// tokenizer's untruncated ids ([CLS] + the window's tokens + [SEP], consecutive windows sharing
// S tokens), run alone through the single-row path (run_items on one row), and combined by hand;
// the windowed task must give the same answer. Inputs of 1x, 2.5x and 10x the model's 64
// positions, pairs, truncation against HF's own ids (tokenizer fixtures) and JSONL batches.
//
// Tolerance: the windowed run computes the same float operations in the same order as the hand
// computation (run_items gives a row the same bits whatever runs beside it, and the mean is
// taken in double in both), so results are compared with EXPECT_FLOAT_EQ (4 ulp), which here
// only guards against a harmless difference in the last bit of the final float conversion.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tasks/classify.h"
#include "tasks/embed.h"
#include "tasks/fill_mask.h"
#include "tasks/tag.h"
#include "tasks_test_util.h"

namespace bigbird::test {
namespace {

using namespace bigbird::tasks;

constexpr int64_t kPositions = 64;  // the test models' max_position_embeddings

// Random checkpoints with 64 positions (block 8, r 1: inputs above 56 tokens run block-sparse).
struct LongModels {
  TempDir dir;
  std::string cls = dir.file("cls"), tagger = dir.file("tagger");
  std::unique_ptr<TaskModel> cls_tm, tag_tm;
  LongModels() {
    std::filesystem::create_directories(cls);
    std::filesystem::create_directories(tagger);
    write_task_checkpoint(cls, "BigBirdForSequenceClassification", {"neg", "neu", "pos"}, "", kPositions);
    write_task_checkpoint(tagger, "BigBirdForTokenClassification", {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}, "",
                          kPositions);
    cls_tm = TaskModel::load(cls, "");
    tag_tm = TaskModel::load(tagger, "");
  }
};

const LongModels& models() {
  static LongModels m;
  return m;
}

// The most words (picked at random) that keep the text within `tokens` tokens with its [CLS] and
// [SEP]; the words take 1 to 3 tokens, so the text is at least tokens - 2 long.
std::string text_of(const Tokenizer& tok, int64_t tokens, uint32_t seed = 1) {
  static const char* words[] = {"license", "the",     "software", "free",   "copy",   "source",
                                "code",    "program", "you",      "may",    "modify", "terms",
                                "Paris",   "Berlin",  "work",     "rights", "of",     "and"};
  std::string s;
  uint32_t x = seed;
  while (true) {
    x = x * 1664525u + 1013904223u;
    std::string next = s.empty() ? "" : s + " ";
    next += words[(x >> 16) % (sizeof words / sizeof *words)];
    if (static_cast<int64_t>(tok.encode(next).size()) > tokens) return s;
    s = std::move(next);
  }
}

// HF's overflowing windows over the ids of tok(first + second) with `fixed` ids before the windowed
// tokens and `tail` after them, written out independently of src/tasks/long_input.cpp.
struct HandWindow {
  std::vector<int64_t> ids;
  int64_t start, len;  // the windowed tokens [start, start + len)
};
std::vector<HandWindow> hand_windows(const std::vector<int64_t>& head, const std::vector<int64_t>& body,
                                     const std::vector<int64_t>& tail, int64_t max_len, int64_t stride) {
  const int64_t room = max_len - static_cast<int64_t>(head.size() + tail.size());
  const int64_t n = static_cast<int64_t>(body.size());
  std::vector<HandWindow> out;
  int64_t start = 0;
  while (true) {
    const int64_t len = std::min(room, n - start);
    HandWindow w{head, start, len};
    w.ids.insert(w.ids.end(), body.begin() + start, body.begin() + start + len);
    w.ids.insert(w.ids.end(), tail.begin(), tail.end());
    out.push_back(std::move(w));
    if (start + len == n) break;
    start += room - stride;  // the next window repeats the last `stride` tokens
  }
  return out;
}
std::vector<HandWindow> hand_windows(const std::vector<int64_t>& ids, int64_t max_len, int64_t stride) {
  return hand_windows({ids.front()}, std::vector<int64_t>(ids.begin() + 1, ids.end() - 1), {ids.back()}, max_len,
                      stride);
}

InputRecord rec(std::string text, std::optional<std::string> pair = std::nullopt) {
  InputRecord r;
  r.text = std::move(text);
  r.text_pair = std::move(pair);
  return r;
}

// The single-row path: one row through the encoder and the task's head.
Tensor run_row(const Task& task, const std::vector<int64_t>& ids) {
  Item it;
  it.rows.push_back(EncoderRow{ids, {}, {}});
  run_items(task, {&it}, RunOptions{});
  return it.outputs.at(0);
}

std::map<std::string, float> by_label(const json& answer) {
  std::map<std::string, float> m;
  for (const auto& e : answer) m[e["label"].get<std::string>()] = static_cast<float>(e["score"].get<double>());
  return m;
}

ClassifyOptions cls_opts(int64_t stride, const std::string& agg = "mean") {
  ClassifyOptions o;
  o.long_input.stride = stride;
  o.long_input.aggregation = agg;
  return o;
}

// softmax(mean or max of the windows' logits), by label.
std::map<std::string, float> hand_classify(const TaskModel& tm, const std::vector<HandWindow>& windows,
                                           const std::string& agg) {
  ClassifyTask plain(tm, {});
  std::vector<double> acc;
  std::vector<float> mx;
  for (const HandWindow& w : windows) {
    const Tensor l = run_row(plain, w.ids);
    if (acc.empty()) {
      acc.assign(l.data.size(), 0.0);
      mx = l.data;
    }
    for (size_t j = 0; j < l.data.size(); ++j) {
      acc[j] += l.data[j];
      mx[j] = std::max(mx[j], l.data[j]);
    }
  }
  std::vector<float> logits(acc.size());
  for (size_t j = 0; j < acc.size(); ++j)
    logits[j] = agg == "max" ? mx[j] : static_cast<float>(acc[j] / static_cast<double>(windows.size()));
  const std::vector<float> p = softmax(logits.data(), static_cast<int64_t>(logits.size()));
  std::map<std::string, float> m;
  for (size_t j = 0; j < p.size(); ++j) m[tm.label(static_cast<int64_t>(j))] = p[j];
  return m;
}

void expect_same_scores(const std::map<std::string, float>& got, const std::map<std::string, float>& want,
                        const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (const auto& [label, p] : want) EXPECT_FLOAT_EQ(got.at(label), p) << where << " " << label;
}

TEST(LongInputs, WindowSpansStepUntilTheEnd) {
  const std::vector<WindowSpan> w = window_spans(10, 4, 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].start, 0);
  EXPECT_EQ(w[1].start, 3);
  EXPECT_EQ(w[2].start, 6);
  EXPECT_EQ(w[2].len, 4);
  const std::vector<WindowSpan> last = window_spans(11, 4, 3);  // 0, 3, 6, then 9..10 (shorter)
  ASSERT_EQ(last.size(), 4u);
  EXPECT_EQ(last[3].start, 9);
  EXPECT_EQ(last[3].len, 2);
  ASSERT_EQ(window_spans(4, 4, 1).size(), 1u);
  // A step past the room (QA's doc_stride with a long question): windows at 0, 5, then none at 10.
  const std::vector<WindowSpan> gaps = window_spans(10, 3, 5);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[1].start, 5);
  EXPECT_EQ(gaps[1].len, 3);
}

TEST(LongInputs, ClassifyAveragesTheWindowsLogits) {
  const TaskModel& tm = *models().cls_tm;
  const Tokenizer& tok = tm.tokenizer();
  for (double factor : {1.0, 2.5, 10.0}) {
    const std::string text = text_of(tok, static_cast<int64_t>(factor * kPositions));
    const std::vector<int64_t> ids = tok.encode(text).input_ids;
    for (int64_t stride : {0, 16}) {
      for (const std::string agg : {"mean", "max"}) {
        std::ostringstream where_os;
        where_os << "x" << factor << " stride " << stride << " " << agg;
        const std::string where = where_os.str();
        const auto windows = hand_windows(ids, kPositions, stride);
        if (factor == 1.0) {
          EXPECT_EQ(windows.size(), 1u) << where;
        } else {
          EXPECT_GE(windows.size(), factor >= 10 ? 10u : 3u) << where;
        }
        ClassifyTask task(tm, cls_opts(stride, agg));
        std::unique_ptr<Item> item = task.prepare(rec(text), RunOptions{});
        // Windows are made while the input runs (Item::windows), one batch at a time.
        ASSERT_EQ(item->windows(), static_cast<int64_t>(windows.size())) << where;
        EXPECT_TRUE(item->rows.empty()) << where;
        for (size_t w = 0; w < windows.size(); ++w)
          EXPECT_EQ(item->make_window(static_cast<int64_t>(w)).input_ids, windows[w].ids) << where;
        expect_same_scores(by_label(run_one(task, rec(text), RunOptions{})), hand_classify(tm, windows, agg), where);
      }
    }
  }
}

TEST(LongInputs, AnInputThatFitsGivesTheUnwindowedAnswer) {
  const TaskModel& tm = *models().cls_tm;
  const std::string text = text_of(tm.tokenizer(), kPositions - 10);
  ASSERT_LE(tm.tokenizer().encode(text).size(), static_cast<size_t>(kPositions));
  ClassifyTask plain(tm, {}), windowed(tm, cls_opts(8)), truncating(tm, [] {
    ClassifyOptions o;
    o.long_input.truncation = true;
    return o;
  }());
  const json want = run_one(plain, rec(text), RunOptions{});
  EXPECT_EQ(run_one(windowed, rec(text), RunOptions{}), want);
  EXPECT_EQ(run_one(truncating, rec(text), RunOptions{}), want);
}

TEST(LongInputs, PairsSlideOverTheSecondText) {
  const TaskModel& tm = *models().cls_tm;
  const Tokenizer& tok = tm.tokenizer();
  const std::string first = "What may you do with the code?";
  const std::string second = text_of(tok, static_cast<int64_t>(2.5 * kPositions), 7);
  const std::vector<int64_t> a = tok.encode(first).input_ids;   // [CLS] A [SEP]
  const std::vector<int64_t> b = tok.encode(second).input_ids;  // [CLS] B [SEP]
  const auto windows = hand_windows(a, std::vector<int64_t>(b.begin() + 1, b.end() - 1), {b.back()}, kPositions, 10);
  ASSERT_GE(windows.size(), 4u);
  const InputRecord in = rec(first, second);
  ClassifyTask task(tm, cls_opts(10));
  std::unique_ptr<Item> item = task.prepare(in, RunOptions{});
  ASSERT_EQ(item->windows(), static_cast<int64_t>(windows.size()));
  for (size_t w = 0; w < windows.size(); ++w) {
    EXPECT_EQ(item->make_window(static_cast<int64_t>(w)).input_ids, windows[w].ids) << w;
    EXPECT_EQ(item->row_lengths()[w], static_cast<int64_t>(windows[w].ids.size())) << w;
  }
  expect_same_scores(by_label(run_one(task, in, RunOptions{})), hand_classify(tm, windows, "mean"), "pair");

  // A first text that leaves no room for windows of the second is a bad input.
  const InputRecord crowded = rec(text_of(tok, kPositions - 5), second);
  EXPECT_THROW(task.prepare(crowded, RunOptions{}), InputError);
}

TEST(LongInputs, EmbedAveragesTheWindowsVectors) {
  const TaskModel& tm = *models().cls_tm;
  const Tokenizer& tok = tm.tokenizer();
  for (double factor : {2.5, 10.0}) {
    const std::string text = text_of(tok, static_cast<int64_t>(factor * kPositions), 3);
    for (const std::string pooling : {"mean", "cls"}) {
      for (const std::string agg : {"mean", "max"}) {
        EmbedOptions plain_o;
        plain_o.pooling = pooling;
        EmbedTask plain(tm, plain_o);
        EmbedOptions o = plain_o;
        o.long_input.stride = 12;
        o.long_input.aggregation = agg;
        EmbedTask task(tm, o);
        const auto windows = hand_windows(tok.encode(text).input_ids, kPositions, 12);
        std::vector<double> acc(static_cast<size_t>(task.dim()), 0.0);
        std::vector<float> mx(acc.size(), -std::numeric_limits<float>::infinity());
        for (const HandWindow& w : windows) {
          const Tensor v = run_row(plain, w.ids);
          for (size_t j = 0; j < acc.size(); ++j) {
            acc[j] += v.data[j];
            mx[j] = std::max(mx[j], v.data[j]);
          }
        }
        const json got = run_one(task, rec(text), RunOptions{});
        ASSERT_EQ(got.size(), acc.size());
        for (size_t j = 0; j < acc.size(); ++j) {
          const float want = agg == "max" ? mx[j] : static_cast<float>(acc[j] / static_cast<double>(windows.size()));
          EXPECT_FLOAT_EQ(static_cast<float>(got[j].get<double>()), want) << pooling << " " << agg << " " << j;
        }
      }
    }
  }
}

// Tag with aggregation none and no ignored label: one entity per token, so every token's label
// and score can be checked against the window where it is furthest from a cut.
TEST(LongInputs, TagTakesEachTokenFromItsBestCentredWindow) {
  const TaskModel& tm = *models().tag_tm;
  const Tokenizer& tok = tm.tokenizer();
  TagOptions plain_o;
  plain_o.aggregation = "none";
  plain_o.ignore_labels = {};
  TagTask plain(tm, plain_o);
  for (double factor : {1.0, 2.5, 10.0}) {
    const std::string text = text_of(tok, static_cast<int64_t>(factor * kPositions), 5);
    const Encoding full = tok.encode(text);
    const int64_t n = static_cast<int64_t>(full.size()) - 2;
    const int64_t stride = 20;
    const auto windows = hand_windows(full.input_ids, kPositions, stride);
    // Per token: (distance to the nearest cut, window, position in it); the text's ends are no cuts.
    std::vector<std::tuple<int64_t, size_t, int64_t>> best(static_cast<size_t>(n), {-1, 0, 0});
    for (size_t w = 0; w < windows.size(); ++w) {
      const HandWindow& win = windows[w];
      for (int64_t i = 0; i < win.len; ++i) {
        const int64_t left = win.start == 0 ? n : i, right = win.start + win.len == n ? n : win.len - 1 - i;
        auto& b = best[static_cast<size_t>(win.start + i)];
        if (std::min(left, right) > std::get<0>(b)) b = {std::min(left, right), w, i + 1};
      }
    }
    std::vector<Tensor> logits;
    for (const HandWindow& w : windows) logits.push_back(run_row(plain, w.ids));
    TagOptions o = plain_o;
    o.long_input.stride = stride;
    TagTask task(tm, o);
    const json got = run_one(task, rec(text), RunOptions{});
    ASSERT_EQ(got.size(), static_cast<size_t>(n)) << factor;
    for (int64_t j = 0; j < n; ++j) {
      const auto& [d, w, pos] = best[static_cast<size_t>(j)];
      const Tensor& l = logits[w];
      const int64_t nl = l.dim(1);
      const std::vector<float> p = softmax(l.ptr() + pos * nl, nl);
      const int64_t a = std::max_element(p.begin(), p.end()) - p.begin();
      const json& e = got[static_cast<size_t>(j)];
      EXPECT_EQ(e["index"], j + 1);
      EXPECT_EQ(e["entity"], tm.label(a)) << factor << " token " << j;
      EXPECT_FLOAT_EQ(static_cast<float>(e["score"].get<double>()), p[static_cast<size_t>(a)]) << j;
      // Character spans index the whole text.
      EXPECT_EQ(e["end"], full.offsets[static_cast<size_t>(j + 1)].second) << j;
    }
    if (factor == 1.0) {
      EXPECT_EQ(got, run_one(plain, rec(text), RunOptions{}));
    }
  }
}

// HF's ids for tokenizer(text[, pair], truncation=True, max_length=16): the tokenizer fixtures.
TEST(LongInputs, TruncationCutsAsHfTokenizer) {
  const TaskModel& tm = *models().cls_tm;
  const auto fx = nlohmann::json::parse(read_file(kTok + "/fixtures.json"));
  ClassifyOptions o;
  o.long_input.truncation = true;
  o.long_input.max_length = 16;
  ClassifyTask task(tm, o);
  int checked = 0;
  for (const char* kind : {"singles", "pairs"})
    for (const auto& e : fx[kind]) {
      if (!e.contains("truncation_max16") || e["text"].get<std::string>().empty()) continue;
      const auto& t = e["truncation_max16"];
      // Singles: one call; pairs: one per strategy, truncation=True being longest_first.
      const auto& call = t.contains("input_ids") ? t : t.value("longest_first", nlohmann::json::object());
      if (!call.contains("input_ids")) continue;
      const auto& want = call["input_ids"];
      InputRecord in = rec(e["text"].get<std::string>());
      if (e.contains("text_pair")) in.text_pair = e["text_pair"].get<std::string>();
      std::unique_ptr<Item> item;
      try {
        item = task.prepare(in, RunOptions{});
      } catch (const InputError&) {
        continue;  // e.g. an empty second text
      }
      ASSERT_EQ(item->rows.size(), 1u);
      EXPECT_EQ(item->rows[0].input_ids, want.get<std::vector<int64_t>>()) << e["text"];
      ++checked;
    }
  EXPECT_GE(checked, 20);

  // Without --max-length: the model's 64 positions; the answer is the truncated row's own.
  ClassifyOptions to;
  to.long_input.truncation = true;
  ClassifyTask trunc(tm, to);
  const std::string text = text_of(tm.tokenizer(), 10 * kPositions);
  EncodeOptions eo;
  eo.max_length = kPositions;
  const std::vector<int64_t> want = tm.tokenizer().encode(text, eo).input_ids;
  ASSERT_EQ(want.size(), static_cast<size_t>(kPositions));
  EXPECT_EQ(trunc.prepare(rec(text), RunOptions{})->rows.at(0).input_ids, want);
  expect_same_scores(by_label(run_one(trunc, rec(text), RunOptions{})),
                     hand_classify(tm, {HandWindow{want, 0, kPositions - 2}}, "mean"), "truncated");
}

TEST(LongInputs, FillMaskTruncatesAndKeepsTheMasks) {
  auto pre = TaskModel::load(kPre, kTok);
  const Tokenizer& tok = pre->tokenizer();
  const int64_t max_pos = pre->model().config().max_position_embeddings;
  const std::string tail = text_of(tok, 2 * max_pos, 9);
  FillMaskOptions o;
  o.long_input.truncation = true;
  FillMaskTask task(*pre, o);
  const std::string text = "Paris is the [MASK] of France. " + tail;
  EncodeOptions eo;
  eo.max_length = pre->max_tokens(RunOptions{});
  const std::vector<int64_t> cut = tok.encode(text, eo).input_ids;
  Item it;
  it.rows.push_back(EncoderRow{cut, {}, {}});
  FillMaskTask plain(*pre, {});
  run_items(plain, {&it}, RunOptions{});
  const json got = run_one(task, rec(text), RunOptions{});
  ASSERT_TRUE(got.is_array());
  const Tensor& logits = it.outputs.at(0);
  const std::vector<float> p = softmax(logits.ptr(), logits.dim(1));
  const int64_t best = std::max_element(p.begin(), p.end()) - p.begin();
  EXPECT_EQ(got[0]["token"], best);
  EXPECT_FLOAT_EQ(static_cast<float>(got[0]["score"].get<double>()), p[static_cast<size_t>(best)]);
  // A mask past the cut: a clear error.
  try {
    task.prepare(rec(tail + " [MASK]"), RunOptions{});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--truncation"), std::string::npos) << e.what();
  }
}

TEST(LongInputs, TooLongWithoutFlagsNamesBothFlags) {
  const TaskModel& tm = *models().cls_tm;
  const std::string text = text_of(tm.tokenizer(), kPositions + 1);
  ClassifyTask task(tm, {});
  try {
    task.prepare(rec(text), RunOptions{});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--truncation true"), std::string::npos) << m;
    EXPECT_NE(m.find("--stride"), std::string::npos) << m;
  }
  TagOptions no_cut;
  no_cut.long_input.truncation = false;
  EXPECT_THROW(TagTask(*models().tag_tm, no_cut).prepare(rec(text), RunOptions{}), InputError);
  // Options the model cannot honour are refused up front.
  EXPECT_THROW(ClassifyTask(tm, cls_opts(kPositions - 2)), Error);  // no window would move
  ClassifyOptions too_long = cls_opts(4);
  too_long.long_input.max_length = kPositions + 1;
  EXPECT_THROW(ClassifyTask(tm, too_long), Error);
  ClassifyOptions alone;
  alone.long_input.max_length = 32;  // neither --truncation nor --stride
  EXPECT_THROW(ClassifyTask(tm, alone), Error);
}

TEST(LongInputs, CliErrorNamesBothFlags) {
  TempDir dir;
  const std::string text = text_of(models().cls_tm->tokenizer(), 3 * kPositions);
  write_file(dir.file("long.txt"), text);
  const RunResult r = run_cli("classify --model " + models().cls + " --file " + dir.file("long.txt"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("--truncation true"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--stride"), std::string::npos) << r.output;
}

// Batch mode: each JSONL line's answer is the single-mode answer for that line.
TEST(LongInputs, JsonlBatchMatchesSingleInputs) {
  TempDir dir;
  const Tokenizer& tok = models().cls_tm->tokenizer();
  const std::vector<InputRecord> recs = {
      rec("A short text."), rec(text_of(tok, static_cast<int64_t>(2.5 * kPositions), 11)),
      rec("A question?", text_of(tok, 3 * kPositions, 12)), rec(text_of(tok, 10 * kPositions, 13))};
  for (const std::string cmd : {"classify --aggregation max", "embed", "tag"}) {
    const bool tag = cmd == "tag";  // tag takes no pairs
    std::vector<InputRecord> lines;
    std::string jsonl;
    for (const auto& r : recs) {
      if (tag && r.text_pair) continue;
      nlohmann::json j = {{"text", r.text}};
      if (r.text_pair) j["text_pair"] = *r.text_pair;
      jsonl += j.dump() + "\n";
      lines.push_back(r);
    }
    write_file(dir.file("in.jsonl"), jsonl);
    const std::string flags = " --model " + (tag ? models().tagger : models().cls) + " --stride 16 --batch-size 3";
    const RunResult r =
        run_cli(cmd + flags + " --input " + dir.file("in.jsonl") + " --output " + dir.file("out.jsonl"));
    ASSERT_EQ(r.status, 0) << r.output;
    const auto got = read_jsonl(dir.file("out.jsonl"));
    ASSERT_EQ(got.size(), lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      write_file(dir.file("one.txt"), lines[i].text);
      std::string one = cmd + flags + " --file " + dir.file("one.txt");
      if (lines[i].text_pair) one += " --text-pair " + sh(*lines[i].text_pair);
      expect_same_json(got[i], cli_json(one), cmd + " line " + std::to_string(i + 1));
    }
  }
}

}  // namespace
}  // namespace bigbird::test
