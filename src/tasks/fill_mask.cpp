#include "tasks/fill_mask.h"

#include <algorithm>
#include <numeric>

namespace bigbird::tasks {

namespace {
struct FillMaskItem : Item {
  std::vector<int64_t> ids;
  std::vector<int64_t> mask_positions;
};

std::vector<int64_t> mask_positions(const std::vector<int64_t>& ids, int64_t mask_id) {
  std::vector<int64_t> pos;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == mask_id) pos.push_back(static_cast<int64_t>(i));
  return pos;
}
}  // namespace

FillMaskTask::FillMaskTask(const TaskModel& tm, FillMaskOptions options)
    : Task(tm), options_(options), long_(tm, options_.long_input, "fill-mask", false) {
  tm.require(tm.model().has_mlm(), "fill-mask", "masked-LM head (BigBirdForMaskedLM or BigBirdForPreTraining)");
  BB_CHECK(tm.tokenizer().mask_id() >= 0, "the tokenizer has no mask token: fill-mask needs one");
  const int64_t vocab = tm.model().config().vocab_size;
  BB_CHECK(options_.top_k >= 1 && options_.top_k <= vocab, "--top-k must be between 1 and the vocabulary size ", vocab,
           ", got ", options_.top_k);
}

std::unique_ptr<Item> FillMaskTask::prepare(const InputRecord& in, const RunOptions& opt) const {
  check_text(in.text, "the text");
  const Tokenizer& tok = tm_.tokenizer();
  auto item = std::make_unique<FillMaskItem>();
  if (mask_positions(tok.encode(in.text).input_ids, tok.mask_id()).empty())
    input_fail("no mask token (", tok.special_token("mask_token"), ") in the text: fill-mask needs at least one");
  item->ids = long_.prepare(in.text, std::nullopt, opt).encoding.input_ids;
  item->mask_positions = mask_positions(item->ids, tok.mask_id());
  if (item->mask_positions.empty())
    input_fail("no mask token (", tok.special_token("mask_token"), ") in the first ", item->ids.size(),
               " tokens that --truncation keeps: fill-mask needs at least one there");
  item->rows.push_back(EncoderRow{item->ids, {}, {}});
  return item;
}

Tensor FillMaskTask::head(const Tensor& seq, const EncoderRow& row, const ThreadingContext& ctx) const {
  const std::vector<int64_t> pos = mask_positions(row.input_ids, tm_.tokenizer().mask_id());
  const int64_t H = seq.dim(2), m = static_cast<int64_t>(pos.size());
  Tensor at_masks(Shape{1, m, H});
  for (int64_t i = 0; i < m; ++i) std::copy_n(seq.ptr() + pos[static_cast<size_t>(i)] * H, H, at_masks.ptr() + i * H);
  Tensor logits = tm_.model().mlm_logits(at_masks, ctx);  // [1, m, V]
  logits.shape = Shape{m, logits.dim(2)};
  return logits;
}

json FillMaskTask::finish(const Item& base) const {
  const auto& item = static_cast<const FillMaskItem&>(base);
  const Tokenizer& tok = tm_.tokenizer();
  const Tensor& logits = item.outputs.at(0);
  const int64_t V = logits.dim(1);
  const bool single = item.mask_positions.size() == 1;
  const size_t k = static_cast<size_t>(std::min<int64_t>(options_.top_k, V));
  json all = json::array();
  for (size_t i = 0; i < item.mask_positions.size(); ++i) {
    const std::vector<float> p = softmax(logits.ptr() + static_cast<int64_t>(i) * V, V);
    std::vector<int64_t> order(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](int64_t a, int64_t b) {
                        return p[static_cast<size_t>(a)] != p[static_cast<size_t>(b)]
                                   ? p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]
                                   : a < b;
                      });
    json row = json::array();
    for (size_t r = 0; r < k; ++r) {
      const int64_t id = order[r];
      std::vector<int64_t> filled;
      filled.reserve(item.ids.size());
      for (size_t t = 0; t < item.ids.size(); ++t) {
        const int64_t v = static_cast<int64_t>(t) == item.mask_positions[i] ? id : item.ids[t];
        if (v != tok.pad_id()) filled.push_back(v);  // HF drops padding ids (a predicted pad too)
      }
      json cand;
      cand["score"] = score_json(p[static_cast<size_t>(id)]);
      cand["token"] = id;
      cand["token_str"] = tok.decode({id});
      cand["sequence"] = tok.decode(filled, /*skip_special_tokens=*/single);
      row.push_back(std::move(cand));
    }
    all.push_back(std::move(row));
  }
  return single ? all[0] : all;
}

}  // namespace bigbird::tasks
