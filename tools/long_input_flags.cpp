#include "long_input_flags.h"

#include <string>

namespace bigbird::cli {

void add_long_input_options(CLI::App& app, tasks::LongInputOptions& o, bool windows, bool aggregation) {
  const std::string dflt = o.truncation ? "true" : "false";
  app.add_option("--truncation", o.truncation,
                 "true | false (default " + dflt +
                     "): cut an input longer than the model takes (or --max-length) as the tokenizer's "
                     "truncation=True does (longest_first for pairs, [CLS]/[SEP] kept)")
      ->check(CLI::IsMember({"true", "false"}));
  app.add_option("--max-length", o.max_length,
                 windows ? "tokens per input or window, special tokens included (default: the model's maximum; "
                           "with --truncation true or --stride)"
                         : "tokens per input, special tokens included (default: the model's maximum; with "
                           "--truncation true)")
      ->check(CLI::PositiveNumber);
  if (windows)
    app.add_option("--stride", o.stride,
                   "run a long input in overlapping windows, consecutive ones sharing S tokens (HF's "
                   "return_overflowing_tokens=True, stride=S; a pair windows its second text)")
        ->check(CLI::NonNegativeNumber);
  if (aggregation)
    app.add_option("--aggregation", o.aggregation, "how windows combine with --stride: mean (default) | max")
        ->check(CLI::IsMember({"mean", "max"}));
}

}  // namespace bigbird::cli
