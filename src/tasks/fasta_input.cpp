#include "tasks/fasta_input.h"

#include <chrono>

#include "genomics/dna_windows.h"

namespace bigbird::tasks {

FastaStats run_fasta(const Task& task, const FastaOptions& fo, ResultWriter& writer, const RunOptions& run,
                     bool progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const TaskModel& tm = task.task_model();
  const Tokenizer& tok = tm.tokenizer();
  const int64_t most = tm.max_tokens(run);
  const int64_t window = fo.window < 0 ? most : fo.window;
  BB_CHECK(window <= most, "--window ", window, " is longer than the model takes: at most ", most,
           " tokens (max_position_embeddings ", tm.model().config().max_position_embeddings, ")");
  const int64_t specials = tok.num_special_tokens_to_add(false);
  BB_CHECK(window > specials, "--window ", window, " leaves no room for bases besides the ", specials,
           " special tokens");
  BB_CHECK(fo.stride >= 0, "--stride must not be negative, got ", fo.stride);

  genomics::FastaReader in(fo.path);
  genomics::DnaWindows windows(in, tok, window - specials, fo.stride, fo.chunk);
  FastaStats stats;
  Progress bar(progress, -1);
  const size_t ahead = static_cast<size_t>(std::max(1, run.batch_size)) * 4;
  std::string last_record;
  bool more = true;
  while (more) {
    std::vector<genomics::DnaWindow> group;
    genomics::DnaWindow w;
    while (group.size() < ahead && (more = windows.next(w))) group.push_back(std::move(w));
    if (group.empty()) break;
    std::vector<std::unique_ptr<Item>> fwd(group.size()), rev(group.size());
    std::vector<Item*> all;
    for (size_t i = 0; i < group.size(); ++i) {
      const genomics::DnaWindow& g = group[i];
      try {
        fwd[i] = task.prepare(InputRecord{g.bases, std::nullopt, {}, {}}, run);
        all.push_back(fwd[i].get());
        if (fo.reverse_complement) {
          rev[i] = task.prepare(InputRecord{genomics::reverse_complement(g.bases), std::nullopt, {}, {}}, run);
          all.push_back(rev[i].get());
        }
      } catch (const Error& e) {
        bar.done();
        fail(in.path(), ": record '", g.record, "' bases [", g.start, ", ", g.end, "): ", e.what());
      }
    }
    run_items(task, all, run);
    for (size_t i = 0; i < group.size(); ++i) {
      const genomics::DnaWindow& g = group[i];
      json answer = fo.reverse_complement ? task.finish_strands(*fwd[i], *rev[i]) : task.finish(*fwd[i]);
      if (answer.is_object() && answer.contains("bits_per_base") && answer.contains("bases")) {
        stats.bits += answer["bits_per_base"].get<double>() * answer["bases"].get<double>();
        stats.scored_bases += answer["bases"].get<int64_t>();
      }
      if (g.record != last_record || stats.windows == 0) ++stats.records;
      last_record = g.record;
      ++stats.windows;
      stats.bases += g.end - g.start;
      if (fo.raw) {
        writer.write(answer);
        continue;
      }
      json line;
      line["record"] = g.record;
      line["start"] = g.start;
      line["end"] = g.end;
      if (fo.field.empty() && answer.is_object()) {
        for (auto it = answer.begin(); it != answer.end(); ++it) line[it.key()] = it.value();
      } else {
        line[fo.field.empty() ? "answer" : fo.field] = std::move(answer);
      }
      writer.write(line);
    }
    bar.update(static_cast<double>(stats.windows));
  }
  bar.done();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace bigbird::tasks
