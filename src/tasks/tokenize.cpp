#include "tasks/tokenize.h"

namespace bigbird::tasks {

namespace {
struct TokenizeItem : Item {
  Encoding enc;
};
}  // namespace

TokenizeTask::TokenizeTask(const TaskModel& tm, TokenizeOptions options) : Task(tm), options_(options) {
  BB_CHECK(options_.max_length < 0 || options_.max_length >= 1, "--max-length must be at least 1, got ",
           options_.max_length);
}

std::unique_ptr<Item> TokenizeTask::prepare(const InputRecord& in, const RunOptions&) const {
  check_text(in.text, "the text", /*allow_empty=*/true);
  if (in.text_pair) check_text(*in.text_pair, "the text pair", true);
  EncodeOptions eo;
  eo.add_special_tokens = options_.add_special_tokens;
  eo.max_length = options_.max_length;
  auto item = std::make_unique<TokenizeItem>();
  item->enc = in.text_pair ? tm_.tokenizer().encode(in.text, std::string_view(*in.text_pair), eo)
                           : tm_.tokenizer().encode(in.text, eo);
  return item;
}

json TokenizeTask::finish(const Item& base) const {
  const Encoding& e = static_cast<const TokenizeItem&>(base).enc;
  json j;
  j["input_ids"] = e.input_ids;
  j["token_type_ids"] = e.token_type_ids;
  j["attention_mask"] = e.attention_mask;
  j["tokens"] = e.tokens;
  json offs = json::array();
  for (const auto& [b, en] : e.offsets) offs.push_back({b, en});
  j["offsets"] = std::move(offs);
  return j;
}

}  // namespace bigbird::tasks
