// The JSONL input of every task command (tasks/jsonl.*: parse_record and the batch loop
// drive_jsonl) with each task's own line parser (Task::prepare, Summarizer::prepare) on the
// shipped tiny models. The first byte picks the task and the batch options, the rest is the JSONL
// text. A bad line is an InputError (a bigbird::Error); a line a task accepts must give encoder
// rows the model can run: ids inside its vocabulary, masks the length of the ids, no more tokens
// than the model takes.
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "tasks/classify.h"
#include "tasks/embed.h"
#include "tasks/fill_mask.h"
#include "tasks/jsonl.h"
#include "tasks/question_answering.h"
#include "tasks/summarize.h"
#include "tasks/tag.h"
#include "tasks/tokenize.h"

using namespace bigbird;
using namespace bigbird::tasks;

namespace {

struct Models {
  std::unique_ptr<TaskModel> mlm, qa, seqcls, tagger;
  std::unique_ptr<Summarizer> pegasus;
  std::vector<std::unique_ptr<Task>> tasks;  // indexed by the first byte (the last "task" is summarize)
};

const Models& models() {
  static const Models m = [] {
    Models m;
    const std::string tok = fuzz::source_path("models/tiny-mlm");
    m.mlm = TaskModel::load(tok, "");
    m.qa = TaskModel::load(fuzz::source_path("tests/data/roberta-tiny/qa"), tok);
    m.seqcls = TaskModel::load(fuzz::source_path("tests/data/roberta-tiny/seqcls"), tok);
    m.tagger = TaskModel::load(fuzz::source_path("models/tiny-tagger"), "");
    m.pegasus = Summarizer::load(fuzz::source_path("models/tiny-pegasus"), "");
    m.tasks.push_back(std::make_unique<FillMaskTask>(*m.mlm, FillMaskOptions{}));
    m.tasks.push_back(std::make_unique<ClassifyTask>(*m.seqcls, ClassifyOptions{}));
    m.tasks.push_back(std::make_unique<QaTask>(*m.qa, QaOptions{}));
    QaOptions windows;  // many short windows
    windows.max_seq_len = 48;
    windows.doc_stride = 8;
    windows.max_question_len = 8;
    m.tasks.push_back(std::make_unique<QaTask>(*m.qa, windows));
    m.tasks.push_back(std::make_unique<TagTask>(*m.tagger, TagOptions{}));
    m.tasks.push_back(std::make_unique<EmbedTask>(*m.mlm, EmbedOptions{}));
    // Windows (--stride, made while the input runs): short windows, so most lines have several.
    ClassifyOptions wc;
    wc.long_input.stride = 4;
    wc.long_input.max_length = 24;
    m.tasks.push_back(std::make_unique<ClassifyTask>(*m.seqcls, wc));
    TagOptions wt;
    wt.long_input.truncation = false;
    wt.long_input.stride = 3;
    wt.long_input.max_length = 16;
    m.tasks.push_back(std::make_unique<TagTask>(*m.tagger, wt));
    m.tasks.push_back(std::make_unique<TokenizeTask>(*m.mlm, TokenizeOptions{}));
    m.tasks.push_back(std::make_unique<TokenizeTask>(*m.mlm, TokenizeOptions{7, false}));
    return m;
  }();
  return m;
}

void check_row(const EncoderRow& r, const TaskModel& tm, const RunOptions& opt, bool needs_model) {
  const int64_t n = static_cast<int64_t>(r.input_ids.size());
  FUZZ_CHECK(r.token_type_ids.empty() || static_cast<int64_t>(r.token_type_ids.size()) == n);
  FUZZ_CHECK(r.attention_mask.empty() || static_cast<int64_t>(r.attention_mask.size()) == n);
  for (int64_t id : r.input_ids) FUZZ_CHECK(id >= 0 && id < tm.tokenizer().vocab_size());
  for (int64_t m : r.attention_mask) FUZZ_CHECK(m == 0 || m == 1);
  if (needs_model && tm.has_model()) {
    const BigBirdConfig& c = tm.model().config();
    FUZZ_CHECK(n > 0 && tm.fits(n, opt));
    for (int64_t id : r.input_ids) FUZZ_CHECK(id < c.vocab_size);
    for (int64_t t : r.token_type_ids) FUZZ_CHECK(t >= 0 && t < std::max<int64_t>(c.type_vocab_size, 1));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  models();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Models& m = models();
  const size_t which = data[0] % (m.tasks.size() + 1);
  const bool skip_bad_lines = data[0] & 0x80;
  const size_t ahead = 1 + (data[0] >> 4 & 3);  // chunks of 1 to 4 lines
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::ostringstream out;
  JsonLinesWriter writer(out);
  auto nothing = [](auto&&...) {};
  RunOptions opt;
  fuzz::accepts([&] {
    if (which < m.tasks.size()) {
      const Task& task = *m.tasks[which];
      const bool tokenize_only = dynamic_cast<const TokenizeTask*>(&task) != nullptr;
      drive_jsonl<Item>(
          in, ahead, "fuzz", skip_bad_lines, writer,
          [&](const std::string& line, int64_t) { return task.prepare(parse_record(line, task.input_kind()), opt); },
          nothing,
          [&](const Item& item, int64_t) {
            if (!tokenize_only) FUZZ_CHECK(!item.rows.empty() || item.windows() > 0);
            for (const EncoderRow& r : item.rows) check_row(r, task.task_model(), opt, !tokenize_only);
            // Windows: each one a row the model can run, their lengths as row_lengths() says.
            const std::vector<int64_t> lengths = item.row_lengths();
            FUZZ_CHECK(static_cast<int64_t>(lengths.size()) == static_cast<int64_t>(item.rows.size()) + item.windows());
            for (int64_t w = 0; w < item.windows(); ++w) {
              const EncoderRow r = item.make_window(w);
              FUZZ_CHECK(static_cast<int64_t>(r.input_ids.size()) == lengths[item.rows.size() + static_cast<size_t>(w)]);
              check_row(r, task.task_model(), opt, true);
            }
          },
          nothing, nothing);
    } else {
      const Summarizer& s = *m.pegasus;
      SummarizeOptions so;
      so.truncation = !(data[0] & 0x40);
      drive_jsonl<SummaryInput>(
          in, ahead, "fuzz", skip_bad_lines, writer,
          [&](const std::string& line, int64_t) {
            return std::make_unique<SummaryInput>(s.prepare(parse_record(line, InputKind::Text).text, so));
          },
          nothing,
          [&](const SummaryInput& x, int64_t) {
            const int64_t n = static_cast<int64_t>(x.input_ids.size());
            FUZZ_CHECK(n > 0 && n <= s.max_input_tokens() && n <= x.full_length);
            for (int64_t id : x.input_ids) FUZZ_CHECK(id >= 0 && id < s.model().config().vocab_size);
          },
          nothing, nothing);
    }
  });
  return 0;
}
