#include "tasks/question_answering.h"

#include <algorithm>

#include "text/utf8.h"

namespace bigbird::tasks {

namespace {

// SQuAD's whitespace (transformers' squad.py _is_whitespace).
bool squad_space(char32_t c) { return c == U' ' || c == U'\t' || c == U'\r' || c == U'\n' || c == 0x202F; }

struct Window {
  std::vector<int64_t> word_of;   // per position: the context word of that token, or -1
  std::vector<uint8_t> eligible;  // per position: may start/end an answer
};

struct QaItem : Item {
  std::vector<std::string> words;
  std::vector<int64_t> first_char, last_char;  // per word, code points
  std::vector<Window> windows;
};

size_t utf8_len(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

QaTask::QaTask(const TaskModel& tm, QaOptions o) : Task(tm), options_(o) {
  tm.require(tm.model().architecture() == Architecture::QuestionAnswering, "qa",
             "question-answering head (BigBirdForQuestionAnswering)");
  if (options_.max_seq_len < 0)
    options_.max_seq_len = static_cast<int>(std::min<int64_t>(tm.tokenizer().model_max_length(), 384));
  if (options_.doc_stride < 0) options_.doc_stride = std::min(options_.max_seq_len / 2, 128);
  BB_CHECK(options_.top_k >= 1, "--top-k must be at least 1, got ", options_.top_k);
  BB_CHECK(options_.max_answer_len >= 1, "--max-answer-len must be at least 1, got ", options_.max_answer_len);
  BB_CHECK(options_.max_question_len >= 1, "--max-question-len must be at least 1, got ", options_.max_question_len);
  BB_CHECK(options_.max_seq_len >= 4, "--max-seq-len must be at least 4, got ", options_.max_seq_len);
  BB_CHECK(options_.doc_stride >= 1, "--doc-stride must be at least 1, got ", options_.doc_stride);
  BB_CHECK(options_.doc_stride <= options_.max_seq_len, "--doc-stride (", options_.doc_stride,
           ") is larger than --max-seq-len (", options_.max_seq_len, ")");
  // Windows start every doc_stride context tokens: each context token is encoded up to
  // max_seq_len / doc_stride times. More than kMaxWindowOverlap times is refused (doc_stride 1
  // runs one window per context token).
  const int min_stride = (options_.max_seq_len + kMaxWindowOverlap - 1) / kMaxWindowOverlap;
  BB_CHECK(options_.doc_stride >= min_stride, "--doc-stride ", options_.doc_stride, " is too small for --max-seq-len ",
           options_.max_seq_len, ": windows would overlap up to ", options_.max_seq_len / options_.doc_stride,
           " times (the limit is ", kMaxWindowOverlap, "); use at least ", min_stride);
  RunOptions ro;
  BB_CHECK(tm.fits(options_.max_seq_len, ro), "--max-seq-len ", options_.max_seq_len,
           " is longer than the model takes (", tm.max_tokens(ro), ", max_position_embeddings)");
}

std::unique_ptr<Item> QaTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.question, "the question");
  check_text(in.context, "the context");
  const Tokenizer& tok = tm_.tokenizer();
  auto item = std::make_unique<QaItem>();

  // Words and char_to_word_offset (whitespace belongs to the word before it).
  std::vector<int64_t> char_to_word;
  bool prev_space = true;
  const std::string& ctx = in.context;
  for (size_t b = 0; b < ctx.size();) {
    const size_t n = std::min(utf8_len(static_cast<unsigned char>(ctx[b])), ctx.size() - b);
    const std::u32string cp = utf8::to_u32(std::string_view(ctx).substr(b, n));
    if (squad_space(cp[0])) {
      prev_space = true;
    } else {
      if (prev_space) item->words.emplace_back();
      item->words.back().append(ctx, b, n);
      prev_space = false;
    }
    char_to_word.push_back(static_cast<int64_t>(item->words.size()) - 1);
    b += n;
  }
  item->first_char.assign(item->words.size(), -1);
  item->last_char.assign(item->words.size(), -1);
  for (size_t i = 0; i < char_to_word.size(); ++i) {
    const int64_t w = char_to_word[i];
    if (w < 0) continue;
    if (item->first_char[static_cast<size_t>(w)] < 0)
      item->first_char[static_cast<size_t>(w)] = static_cast<int64_t>(i);
    item->last_char[static_cast<size_t>(w)] = static_cast<int64_t>(i);
  }

  // Context tokens, word by word.
  EncodeOptions plain;
  plain.add_special_tokens = false;
  std::vector<int64_t> doc, doc_word;
  for (size_t w = 0; w < item->words.size(); ++w)
    for (int64_t id : tok.encode(item->words[w], plain).input_ids) {
      doc.push_back(id);
      doc_word.push_back(static_cast<int64_t>(w));
    }
  if (doc.empty()) input_fail("the context has no tokens");

  EncodeOptions qopt = plain;
  qopt.max_length = options_.max_question_len;
  const std::vector<int64_t> q = tok.encode(in.question, qopt).input_ids;

  const int64_t L = options_.max_seq_len, nq = static_cast<int64_t>(q.size());
  const int64_t room = L - nq - 3;  // context tokens per window
  if (room <= 0)
    input_fail("the question is ", nq, " tokens long: with --max-seq-len ", L, " no room is left for the context");
  const int64_t n = static_cast<int64_t>(doc.size()), stride = options_.doc_stride;
  const std::vector<int64_t> special = tok.all_special_ids();
  const auto is_special = [&](int64_t id) { return std::find(special.begin(), special.end(), id) != special.end(); };
  const int64_t sep_cfg = tm_.model().config().sep_token_id;

  for (const WindowSpan& span : window_spans(n, room, stride)) {
    const int64_t start = span.start, len = span.len;
    EncoderRow row;
    Window win;
    row.input_ids.push_back(tok.cls_id());
    row.input_ids.insert(row.input_ids.end(), q.begin(), q.end());
    row.input_ids.push_back(tok.sep_id());
    row.input_ids.insert(row.input_ids.end(), doc.begin() + start, doc.begin() + start + len);
    row.input_ids.push_back(tok.sep_id());
    const int64_t real = static_cast<int64_t>(row.input_ids.size());
    row.input_ids.resize(static_cast<size_t>(L), tok.pad_id());
    row.attention_mask.assign(static_cast<size_t>(L), 0);
    std::fill(row.attention_mask.begin(), row.attention_mask.begin() + real, 1);
    // BigBirdForQuestionAnswering without token_type_ids: 0 up to the first [SEP], 1 after.
    int64_t qlen = 1;
    for (int64_t t = 0; t < L; ++t)
      if (row.input_ids[static_cast<size_t>(t)] == sep_cfg) {
        qlen = t + 1;
        break;
      }
    row.token_type_ids.assign(static_cast<size_t>(L), 1);
    std::fill(row.token_type_ids.begin(), row.token_type_ids.begin() + qlen, 0);

    win.word_of.assign(static_cast<size_t>(L), -1);
    for (int64_t i = 0; i < len; ++i)
      win.word_of[static_cast<size_t>(nq + 2 + i)] = doc_word[static_cast<size_t>(start + i)];
    // p_mask: 1 before the context and on every special id (padding and <unk> included), 0 on [CLS].
    win.eligible.assign(static_cast<size_t>(L), 0);
    int64_t cls_index = -1;
    for (int64_t t = 0; t < L; ++t) {
      const int64_t id = row.input_ids[static_cast<size_t>(t)];
      if (cls_index < 0 && id == tok.cls_id()) cls_index = t;
      const bool p_mask = t < nq + 2 || is_special(id);
      win.eligible[static_cast<size_t>(t)] = !p_mask && row.attention_mask[static_cast<size_t>(t)] == 1;
    }
    if (cls_index >= 0)
      win.eligible[static_cast<size_t>(cls_index)] = row.attention_mask[static_cast<size_t>(cls_index)] == 1;

    item->rows.push_back(std::move(row));
    item->windows.push_back(std::move(win));
  }
  (void)opt;
  return item;
}

Tensor QaTask::head(const Tensor& seq, const EncoderRow& row, const ThreadingContext& ctx) const {
  Tensor logits = tm_.model().qa_logits(seq, ctx);  // [1, L, labels]
  const int64_t L = logits.dim(1), nl = logits.dim(2);
  BB_CHECK(nl >= 2, "question answering head has ", nl, " outputs, expected 2");
  int64_t qlen = 1;
  const int64_t sep = tm_.model().config().sep_token_id;
  for (int64_t t = 0; t < L; ++t)
    if (row.input_ids[static_cast<size_t>(t)] == sep) {
      qlen = t + 1;
      break;
    }
  Tensor out(Shape{L, 2});
  for (int64_t t = 0; t < L; ++t) {
    const float m = (t > 0 && t < qlen) ? 1e6f : 0.0f;  // HF's question mask
    out.data[static_cast<size_t>(2 * t)] = logits.data[static_cast<size_t>(t * nl)] - m;
    out.data[static_cast<size_t>(2 * t + 1)] = logits.data[static_cast<size_t>(t * nl + 1)] - m;
  }
  return out;
}

json QaTask::finish(const Item& base) const {
  const auto& item = static_cast<const QaItem&>(base);
  struct Answer {
    float score;
    int64_t start, end;
    std::string text;
  };
  std::vector<Answer> answers;
  float min_null = 1000000.0f;
  const size_t k = static_cast<size_t>(options_.top_k);
  for (size_t w = 0; w < item.windows.size(); ++w) {
    const Window& win = item.windows[w];
    const Tensor& lg = item.outputs.at(w);
    const int64_t L = lg.dim(0);
    std::vector<float> s(static_cast<size_t>(L)), e(static_cast<size_t>(L));
    for (int64_t t = 0; t < L; ++t) {
      const bool ok = win.eligible[static_cast<size_t>(t)];
      s[static_cast<size_t>(t)] = ok ? lg.data[static_cast<size_t>(2 * t)] : -10000.0f;
      e[static_cast<size_t>(t)] = ok ? lg.data[static_cast<size_t>(2 * t + 1)] : -10000.0f;
    }
    std::vector<float> ps = softmax(s.data(), L), pe = softmax(e.data(), L);
    min_null = std::min(min_null, ps[0] * pe[0]);
    ps[0] = pe[0] = 0.0f;
    struct Span {
      float score;
      int64_t i, j;
    };
    std::vector<Span> spans;
    for (int64_t i = 0; i < L; ++i) {
      if (!win.eligible[static_cast<size_t>(i)] || ps[static_cast<size_t>(i)] <= 0) continue;
      for (int64_t j = i; j < std::min(L, i + options_.max_answer_len); ++j) {
        if (!win.eligible[static_cast<size_t>(j)]) continue;
        const float sc = ps[static_cast<size_t>(i)] * pe[static_cast<size_t>(j)];
        if (sc > 0) spans.push_back({sc, i, j});
      }
    }
    // Best first; equal scores in (start, end) order, as numpy's argmax over the flattened matrix.
    const size_t take = std::min(k, spans.size());
    std::partial_sort(spans.begin(), spans.begin() + static_cast<std::ptrdiff_t>(take), spans.end(),
                      [](const Span& a, const Span& b) {
                        if (a.score != b.score) return a.score > b.score;
                        return a.i != b.i ? a.i < b.i : a.j < b.j;
                      });
    for (size_t r = 0; r < take; ++r) {
      const int64_t ws = win.word_of[static_cast<size_t>(spans[r].i)],
                    we = win.word_of[static_cast<size_t>(spans[r].j)];
      std::string text;
      for (int64_t x = ws; x <= we; ++x) {
        if (x > ws) text += ' ';
        text += item.words[static_cast<size_t>(x)];
      }
      answers.push_back({spans[r].score, item.first_char[static_cast<size_t>(ws)],
                         item.last_char[static_cast<size_t>(we)], std::move(text)});
    }
  }
  if (options_.handle_impossible_answer) answers.push_back({min_null, 0, 0, ""});
  std::stable_sort(answers.begin(), answers.end(), [](const Answer& a, const Answer& b) { return a.score > b.score; });
  if (answers.size() > k) answers.resize(k);
  json out = json::array();
  for (const Answer& a : answers) {
    json j;
    j["score"] = score_json(a.score);
    j["start"] = a.start;
    j["end"] = a.end;
    j["answer"] = a.text;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace bigbird::tasks
