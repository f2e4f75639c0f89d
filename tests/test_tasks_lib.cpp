// The task library (src/tasks/) without the CLI: answers held to the model's own heads, QA
// windows, batching that gives the same bits as one input at a time, and input parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "tasks/classify.h"
#include "tasks/fill_mask.h"
#include "tasks/jsonl.h"
#include "tasks/question_answering.h"
#include "tasks_test_util.h"

using namespace bigbird;
using namespace bigbird::tasks;
using bigbird::test::kPre;
using bigbird::test::kQa;
using bigbird::test::kSeqCls;
using bigbird::test::kTok;

namespace {

InputRecord text(const std::string& t) {
  InputRecord r;
  r.text = t;
  return r;
}

}  // namespace

TEST(TasksLib, FillMaskScoresAreTheSoftmaxOfTheMlmHeadAtTheMask) {
  auto tm = TaskModel::load(kPre, kTok);
  FillMaskOptions three;
  three.top_k = 3;
  FillMaskTask task(*tm, three);
  const json got = run_one(task, text("The license is [MASK]."), {});
  // The same through the model directly: full sequence, logits at the mask position.
  const Encoding e = tm->tokenizer().encode("The license is [MASK].");
  size_t pos = 0;
  while (e.input_ids[pos] != tm->tokenizer().mask_id()) ++pos;
  EncoderInput in;
  in.input_ids = TensorI64(Shape{1, static_cast<int64_t>(e.size())});
  std::copy(e.input_ids.begin(), e.input_ids.end(), in.input_ids.data.begin());
  ForwardOptions fo;
  fo.plan_source = PlanSource::HF;
  const Tensor logits = tm->model().mlm_logits(tm->model().encode(in, fo, test::ctx()).sequence_output, test::ctx());
  const int64_t V = logits.dim(2);
  const float* row = logits.ptr() + static_cast<int64_t>(pos) * V;
  double mx = row[0], sum = 0;
  for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
  for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& c : got) {
    const int64_t id = c["token"];
    EXPECT_NEAR(c["score"].get<double>(), std::exp(row[id] - mx) / sum, 1e-6);
    EXPECT_EQ(c["token_str"], tm->tokenizer().decode({id}));
  }
}

TEST(TasksLib, QaWindowsStartEveryDocStrideAndArePadded) {
  auto tm = TaskModel::load(kQa, kTok);
  QaOptions o;
  o.max_seq_len = 64;
  o.doc_stride = 16;
  QaTask task(*tm, o);
  InputRecord r;
  r.question = "Why?";
  r.context = test::read_file(test::data_path("tasks/qa_context.txt")).substr(0, 300);
  auto item = task.prepare(r, {});
  const Tokenizer& tok = tm->tokenizer();
  const std::vector<int64_t> q = tok.encode(r.question, EncodeOptions{false, -1}).input_ids;
  const int64_t nq = static_cast<int64_t>(q.size()), room = 64 - nq - 3;
  // The context tokens as the pipeline makes them: word by word.
  std::vector<int64_t> doc;
  std::istringstream words(r.context);
  for (std::string w; words >> w;)
    for (int64_t id : tok.encode(w, EncodeOptions{false, -1}).input_ids) doc.push_back(id);
  ASSERT_GT(static_cast<int64_t>(doc.size()), room);
  ASSERT_GE(item->rows.size(), 2u);
  for (size_t k = 0; k < item->rows.size(); ++k) {
    const EncoderRow& row = item->rows[k];
    ASSERT_EQ(row.input_ids.size(), 64u);
    EXPECT_EQ(row.input_ids[0], tok.cls_id());
    EXPECT_EQ(std::vector<int64_t>(row.input_ids.begin() + 1, row.input_ids.begin() + 1 + nq), q);
    EXPECT_EQ(row.input_ids[static_cast<size_t>(nq + 1)], tok.sep_id());
    const int64_t start = static_cast<int64_t>(k) * 16,
                  len = std::min<int64_t>(room, static_cast<int64_t>(doc.size()) - start);
    for (int64_t i = 0; i < len; ++i)
      EXPECT_EQ(row.input_ids[static_cast<size_t>(nq + 2 + i)], doc[static_cast<size_t>(start + i)]);
    EXPECT_EQ(row.input_ids[static_cast<size_t>(nq + 2 + len)], tok.sep_id());
    for (size_t t = 0; t < 64; ++t) {
      EXPECT_EQ(row.attention_mask[t], static_cast<int64_t>(t) <= nq + 2 + len ? 1 : 0) << t;
      EXPECT_EQ(row.token_type_ids[t], static_cast<int64_t>(t) <= nq + 1 ? 0 : 1) << t;  // 1 - question mask
    }
  }
  // The last window reaches the end of the context, the one before did not.
  const int64_t last = static_cast<int64_t>(item->rows.size()) - 1;
  EXPECT_LE(static_cast<int64_t>(doc.size()) - last * 16, room);
  EXPECT_GT(static_cast<int64_t>(doc.size()) - (last - 1) * 16, room);
}

TEST(TasksLib, BatchSizeAndThreadsDoNotChangeAnswers) {
  auto tm = TaskModel::load(kSeqCls, kTok);
  ClassifyTask task(*tm, {});
  std::vector<std::string> texts;
  std::string t = "x";
  for (int i = 0; i < 24; ++i) {
    texts.push_back(t);
    t += i % 3 ? " more" : " words, and then some";  // up to ~200 tokens: full and block-sparse attention
  }
  std::vector<json> reference;
  for (const auto& s : texts) {
    RunOptions one;
    one.batch_size = 1;
    reference.push_back(run_one(task, text(s), one));
  }
  for (int bs : {2, 5, 32}) {
    RunOptions o;
    o.batch_size = bs;
    std::vector<std::unique_ptr<Item>> items;
    std::vector<Item*> ptrs;
    for (const auto& s : texts) {
      items.push_back(task.prepare(text(s), o));
      ptrs.push_back(items.back().get());
    }
    run_items(task, ptrs, o);
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(task.finish(*items[i]).dump(), reference[i].dump()) << bs << " " << i;
  }
}

TEST(TasksLib, TooLongInputIsAnInputError) {
  auto tm = TaskModel::load(kSeqCls, kTok);
  ClassifyTask task(*tm, {});
  std::string t;
  for (int i = 0; i < 1100; ++i) t += "word ";
  EXPECT_THROW(task.prepare(text(t), {}), InputError);
  EXPECT_TRUE(tm->fits(1024, {}));
  EXPECT_FALSE(tm->fits(1025, {}));
  EXPECT_EQ(tm->max_tokens({}), 1024);
}

TEST(TasksLib, ParseRecord) {
  EXPECT_EQ(parse_record(R"({"text": "a"})", InputKind::Text).text, "a");
  const InputRecord p = parse_record(R"({"text": "a", "text_pair": "b"})", InputKind::TextOrPair);
  ASSERT_TRUE(p.text_pair.has_value());
  EXPECT_EQ(*p.text_pair, "b");
  EXPECT_FALSE(parse_record(R"({"text": "a", "text_pair": null})", InputKind::TextOrPair).text_pair.has_value());
  const InputRecord q = parse_record(R"({"question": "q", "context": "c", "id": 7})", InputKind::QuestionContext);
  EXPECT_EQ(q.question, "q");
  EXPECT_EQ(q.context, "c");
  for (const char* bad : {"", "{", "[1]", R"({"text": 1})", R"({"txt": "a"})", "{\"text\": \"\xff\"}",
                          R"({"text": "a", "text_pair": "b"})"})
    EXPECT_THROW(parse_record(bad, InputKind::Text), InputError) << bad;
  EXPECT_THROW(parse_record(R"({"question": "q"})", InputKind::QuestionContext), InputError);
}

TEST(TasksLib, JsonlDriverKeepsOrderAndSkipsBadLines) {
  auto tm = TaskModel::load(kSeqCls, kTok);
  ClassifyTask task(*tm, {});
  std::istringstream in("{\"text\": \"one two three four\"}\n\n{\"text\": 3}\n{\"text\": \"one\"}\n");
  std::ostringstream out;
  JsonLinesWriter w(out);
  BatchOptions bo;
  bo.skip_bad_lines = true;
  bo.source = "mem";
  testing::internal::CaptureStderr();
  const BatchStats st = run_jsonl(task, in, -1, w, bo);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(st.inputs, 3);
  EXPECT_EQ(st.bad, 1);
  EXPECT_NE(err.find("mem:3:"), std::string::npos) << err;
  std::istringstream lines(out.str());
  std::vector<std::string> got;
  for (std::string l; std::getline(lines, l);) got.push_back(l);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], run_one(task, text("one two three four"), {}).dump());
  EXPECT_NE(got[1].find("\"error\""), std::string::npos);
  EXPECT_EQ(got[2], run_one(task, text("one"), {}).dump());
  // Without skipping, the bad line stops the run with its number.
  std::istringstream in2("{\"text\": \"a\"}\n{\"text\": 3}\n");
  std::ostringstream out2;
  JsonLinesWriter w2(out2);
  bo.skip_bad_lines = false;
  try {
    run_jsonl(task, in2, -1, w2, bo);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mem:2:"), std::string::npos) << e.what();
  }
}
