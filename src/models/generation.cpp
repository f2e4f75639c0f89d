#include "models/generation.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace bigbird {

GenerationConfig GenerationConfig::from_defaults(const GenerationDefaults& d) {
  if (!d.unsupported.empty()) {
    std::string list;
    for (const auto& s : d.unsupported) list += (list.empty() ? "" : ", ") + s;
    fail("the model's generation settings use features this engine does not implement: ", list,
         " (only greedy and beam search with min/max length, no_repeat_ngram_size, forced bos/eos are supported)");
  }
  GenerationConfig c;
  c.max_length = d.max_length;
  c.max_new_tokens = d.max_new_tokens;
  c.min_length = d.min_length;
  c.num_beams = d.num_beams;
  c.num_return_sequences = d.num_return_sequences;
  c.length_penalty = d.length_penalty;
  c.early_stopping = d.early_stopping;
  c.no_repeat_ngram_size = d.no_repeat_ngram_size;
  c.eos_token_id = d.eos_token_id;
  c.pad_token_id = d.pad_token_id;
  BB_CHECK(d.decoder_start_token_id || d.bos_token_id,
           "the model config has neither decoder_start_token_id nor bos_token_id: give --decoder-start-token-id");
  c.decoder_start_token_id = d.decoder_start_token_id ? *d.decoder_start_token_id : *d.bos_token_id;
  c.forced_bos_token_id = d.forced_bos_token_id;
  c.forced_eos_token_id = d.forced_eos_token_id;
  return c;
}

int64_t resolved_max_length(const GenerationConfig& cfg, int64_t prompt_len) {
  return cfg.max_new_tokens ? prompt_len + *cfg.max_new_tokens : cfg.max_length;
}

void validate_generation(const GenerationConfig& cfg, int64_t vocab, int64_t prompt_len) {
  auto id_ok = [&](const char* what, int64_t id) {
    BB_CHECK(id >= 0 && id < vocab, what, " ", id, " is outside the vocabulary [0, ", vocab, ")");
  };
  for (int64_t e : cfg.eos_token_id) id_ok("eos_token_id", e);
  if (cfg.pad_token_id) id_ok("pad_token_id", *cfg.pad_token_id);
  id_ok("decoder_start_token_id", cfg.decoder_start_token_id);
  if (cfg.forced_bos_token_id) id_ok("forced_bos_token_id", *cfg.forced_bos_token_id);
  if (cfg.forced_eos_token_id) id_ok("forced_eos_token_id", *cfg.forced_eos_token_id);
  BB_CHECK(cfg.pad_token_id || !cfg.eos_token_id.empty() || cfg.num_beams == 1,
           "beam search needs a pad_token_id or an eos_token_id");
  BB_CHECK(!cfg.max_new_tokens || *cfg.max_new_tokens >= 0, "max_new_tokens must be >= 0, got ", *cfg.max_new_tokens);
  BB_CHECK(cfg.max_new_tokens || cfg.max_length >= 0, "max_length must be >= 0, got ", cfg.max_length);
  BB_CHECK(cfg.min_length >= 0, "min_length must be >= 0, got ", cfg.min_length);
  BB_CHECK(cfg.no_repeat_ngram_size >= 0, "no_repeat_ngram_size must be >= 0, got ", cfg.no_repeat_ngram_size);
  BB_CHECK(cfg.num_beams >= 1, "num_beams must be >= 1, got ", cfg.num_beams);
  BB_CHECK(cfg.num_beams <= kMaxNumBeams, "num_beams ", cfg.num_beams, " is more than the limit of ", kMaxNumBeams);
  BB_CHECK(cfg.num_return_sequences >= 1, "num_return_sequences must be >= 1, got ", cfg.num_return_sequences);
  BB_CHECK(std::isfinite(cfg.length_penalty), "length_penalty must be a finite number");
  const int64_t max_length = resolved_max_length(cfg, prompt_len);
  BB_CHECK(cfg.min_length <= max_length, "Unfeasible length constraints: the minimum length (", cfg.min_length,
           ") is larger than the maximum length (", max_length, ")");
  if (cfg.num_beams == 1) {
    BB_CHECK(cfg.num_return_sequences == 1, "num_return_sequences has to be 1, but is ", cfg.num_return_sequences,
             " when doing greedy search (use num_beams >= num_return_sequences)");
  } else {
    BB_CHECK(cfg.num_return_sequences <= cfg.num_beams, "num_return_sequences (", cfg.num_return_sequences,
             ") has to be smaller or equal to num_beams (", cfg.num_beams, ")");
    BB_CHECK(max_length > prompt_len, "beam search needs max_length (", max_length,
             ") greater than the decoder prompt length (", prompt_len, "); HF 4.27 fails on this too");
  }
}

namespace {

// [rows, len] prefixes -> [rows, len + 1]: row j = old row src[j] followed by tok[j].
std::vector<int64_t> extend(const std::vector<int64_t>& seqs, int64_t rows, int64_t len,
                            const std::vector<int64_t>& src, const std::vector<int64_t>& tok) {
  std::vector<int64_t> out(static_cast<size_t>(rows * (len + 1)));
  for (int64_t j = 0; j < rows; ++j) {
    std::copy_n(seqs.begin() + src[static_cast<size_t>(j)] * len, len, out.begin() + j * (len + 1));
    out[static_cast<size_t>(j * (len + 1) + len)] = tok[static_cast<size_t>(j)];
  }
  return out;
}

bool is_eos(const GenerationConfig& cfg, int64_t t) {
  return std::find(cfg.eos_token_id.begin(), cfg.eos_token_id.end(), t) != cfg.eos_token_id.end();
}

int64_t pad_id(const GenerationConfig& cfg) {
  return cfg.pad_token_id ? *cfg.pad_token_id : (cfg.eos_token_id.empty() ? 0 : cfg.eos_token_id[0]);
}

GenerationResult greedy_search(const GenerationConfig& cfg, const TensorI64& prompt, int64_t V, int64_t max_length,
                               const ScoreFn& score) {
  const int64_t rows = prompt.dim(0);
  int64_t len = prompt.dim(1);
  std::vector<int64_t> seqs = prompt.data, identity(static_cast<size_t>(rows)), next(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) identity[static_cast<size_t>(r)] = r;
  std::vector<uint8_t> unfinished(static_cast<size_t>(rows), 1);
  std::vector<float> scores(static_cast<size_t>(rows * V));
  GenerationResult res;
  res.max_length = max_length;
  const bool has_eos = !cfg.eos_token_id.empty();
  while (true) {  // HF runs at least one step, even when the prompt is already max_length long
    SearchState st{rows, len, seqs.data(), res.steps ? &identity : nullptr, &unfinished, V};
    score(st, scores.data());
    for (int64_t r = 0; r < rows; ++r) {
      if (has_eos && !unfinished[static_cast<size_t>(r)]) {
        next[static_cast<size_t>(r)] = pad_id(cfg);  // a finished row is padded
        continue;
      }
      const float* row = scores.data() + r * V;
      next[static_cast<size_t>(r)] = std::max_element(row, row + V) - row;  // first maximum, as torch.argmax
    }
    seqs = extend(seqs, rows, len, identity, next);
    ++len;
    ++res.steps;
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      if (has_eos && is_eos(cfg, next[static_cast<size_t>(r)])) unfinished[static_cast<size_t>(r)] = 0;
      any = any || unfinished[static_cast<size_t>(r)];
    }
    if (!any || len >= max_length) break;
  }
  res.sequences = TensorI64(Shape{rows, len});
  res.sequences.data = std::move(seqs);
  return res;
}

// BeamHypotheses of one input: the best num_beams finished hypotheses.
struct Hypothesis {
  double score;
  std::vector<int64_t> tokens;
  std::vector<int64_t> beam_indices;
};

class Hypotheses {
 public:
  Hypotheses(int64_t beams, double lp, EarlyStopping es, int64_t max_length)
      : beams_(beams), lp_(lp), es_(es), max_length_(max_length) {}

  size_t size() const { return hyps_.size(); }
  const std::vector<Hypothesis>& all() const { return hyps_; }

  void add(std::vector<int64_t> tokens, double sum_logprobs, std::vector<int64_t> beam_indices) {
    const double score = sum_logprobs / std::pow(static_cast<double>(tokens.size()), lp_);
    if (static_cast<int64_t>(hyps_.size()) < beams_ || score > worst_) {
      hyps_.push_back({score, std::move(tokens), std::move(beam_indices)});
      if (static_cast<int64_t>(hyps_.size()) > beams_) {
        // Drop the worst (lowest score, then lowest index: Python's sorted((s, idx))).
        std::vector<size_t> order(hyps_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
          return hyps_[a].score < hyps_[b].score || (hyps_[a].score == hyps_[b].score && a < b);
        });
        worst_ = hyps_[order[1]].score;
        hyps_.erase(hyps_.begin() + static_cast<std::ptrdiff_t>(order[0]));
      } else {
        worst_ = std::min(score, worst_);
      }
    }
  }

  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (static_cast<int64_t>(hyps_.size()) < beams_) return false;
    if (es_ == EarlyStopping::True) return true;
    double len = static_cast<double>(cur_len);
    if (es_ == EarlyStopping::Never && lp_ > 0.0) len = static_cast<double>(max_length_);
    return worst_ >= best_sum_logprobs / std::pow(len, lp_);
  }

 private:
  int64_t beams_;
  double lp_;
  EarlyStopping es_;
  int64_t max_length_;
  std::vector<Hypothesis> hyps_;
  double worst_ = 1e9;
};

struct Candidate {
  float score;
  int64_t flat;  // beam · V + token
};

// The 2K best (score desc, then index asc) of the K·V candidates of one input.
std::vector<Candidate> top_candidates(const float* scores, const float* beam_scores, int64_t K, int64_t V) {
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.score > b.score || (a.score == b.score && a.flat < b.flat);
  };
  const size_t keep = static_cast<size_t>(2 * K);
  std::vector<Candidate> heap;  // min-heap on `better`: heap.front() is the worst kept
  heap.reserve(keep + 1);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t t = 0; t < V; ++t) {
      const Candidate c{scores[k * V + t] + beam_scores[k], k * V + t};  // one float32 addition, as HF
      if (std::isnan(c.score)) continue;
      if (heap.size() < keep) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    }
  std::sort(heap.begin(), heap.end(), better);
  return heap;
}

GenerationResult beam_search(const GenerationConfig& cfg, const TensorI64& prompt, int64_t V, int64_t max_length,
                             const ScoreFn& score) {
  const int64_t batch = prompt.dim(0), K = cfg.num_beams, R = cfg.num_return_sequences, rows = batch * K;
  int64_t len = prompt.dim(1);
  const int64_t pad = pad_id(cfg);
  std::vector<int64_t> seqs(static_cast<size_t>(rows * len));
  for (int64_t r = 0; r < rows; ++r) std::copy_n(prompt.data.begin() + (r / K) * len, len, seqs.begin() + r * len);
  std::vector<float> beam_scores(static_cast<size_t>(rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    if (r % K) beam_scores[static_cast<size_t>(r)] = -1e9f;  // step 1 expands beam 0 only
  std::vector<std::vector<int64_t>> beam_idx(static_cast<size_t>(rows));
  std::vector<Hypotheses> hyps(static_cast<size_t>(batch),
                               Hypotheses(K, cfg.length_penalty, cfg.early_stopping, max_length));
  std::vector<uint8_t> done(static_cast<size_t>(batch), 0), active(static_cast<size_t>(rows), 1);
  std::vector<float> scores(static_cast<size_t>(rows * V)), next_scores(static_cast<size_t>(rows));
  std::vector<int64_t> parent(static_cast<size_t>(rows)), next_tok(static_cast<size_t>(rows));
  GenerationResult res;
  res.max_length = max_length;

  while (true) {
    // HF 4.27.1 BeamSearchScorer.process() adds 1 to its cur_len for every input it processes (not
    // once per step), so the m-th unfinished input (m = 1, 2, ...) is judged at len + m. Reproduced.
    int64_t judged_len = len;
    for (int64_t r = 0; r < rows; ++r) active[static_cast<size_t>(r)] = !done[static_cast<size_t>(r / K)];
    SearchState st{rows, len, seqs.data(), res.steps ? &parent : nullptr, &active, V};
    score(st, scores.data());
    for (int64_t i = 0; i < batch; ++i) {
      if (done[static_cast<size_t>(i)]) {  // a finished input: its beams idle on pad
        for (int64_t k = 0; k < K; ++k) {
          const size_t r = static_cast<size_t>(i * K + k);
          next_scores[r] = 0.0f;
          next_tok[r] = pad;
          parent[r] = static_cast<int64_t>(r);  // HF points at row 0; these rows are never used again
        }
        continue;
      }
      const std::vector<Candidate> cand = top_candidates(scores.data() + i * K * V, beam_scores.data() + i * K, K, V);
      int64_t filled = 0;
      for (size_t rank = 0; rank < cand.size() && filled < K; ++rank) {
        const int64_t src = i * K + cand[rank].flat / V, tok = cand[rank].flat % V;
        if (is_eos(cfg, tok)) {
          if (static_cast<int64_t>(rank) >= K) continue;  // an eos outside the top K is ignored
          std::vector<int64_t> t(seqs.begin() + src * len, seqs.begin() + (src + 1) * len);
          std::vector<int64_t> bi = beam_idx[static_cast<size_t>(src)];
          bi.push_back(src);
          hyps[static_cast<size_t>(i)].add(std::move(t), static_cast<double>(cand[rank].score), std::move(bi));
        } else {
          const size_t r = static_cast<size_t>(i * K + filled++);
          next_scores[r] = cand[rank].score;
          next_tok[r] = tok;
          parent[r] = src;
        }
      }
      BB_CHECK(filled == K, "beam search: fewer than ", K, " continuations for input ", i,
               " (too many candidates are eos or -inf)");
      if (hyps[static_cast<size_t>(i)].is_done(static_cast<double>(cand[0].score), ++judged_len))
        done[static_cast<size_t>(i)] = 1;
    }
    std::vector<std::vector<int64_t>> bi(static_cast<size_t>(rows));
    for (int64_t j = 0; j < rows; ++j) {
      const int64_t p = parent[static_cast<size_t>(j)];
      bi[static_cast<size_t>(j)] = beam_idx[static_cast<size_t>(p)];
      bi[static_cast<size_t>(j)].push_back(p);
    }
    beam_idx = std::move(bi);
    seqs = extend(seqs, rows, len, parent, next_tok);
    beam_scores = next_scores;
    ++len;
    ++res.steps;
    if (std::all_of(done.begin(), done.end(), [](uint8_t d) { return d != 0; }) || len >= max_length) break;
  }

  // Finalise: open beams of unfinished inputs become hypotheses; keep the R best of each input.
  std::vector<const Hypothesis*> best;
  for (int64_t i = 0; i < batch; ++i) {
    Hypotheses& h = hyps[static_cast<size_t>(i)];
    if (!done[static_cast<size_t>(i)])
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = i * K + k;
        h.add(std::vector<int64_t>(seqs.begin() + r * len, seqs.begin() + (r + 1) * len),
              static_cast<double>(beam_scores[static_cast<size_t>(r)]), beam_idx[static_cast<size_t>(r)]);
      }
    std::vector<const Hypothesis*> sorted;
    for (const auto& x : h.all()) sorted.push_back(&x);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Hypothesis* a, const Hypothesis* b) { return a->score < b->score; });
    BB_CHECK(static_cast<int64_t>(sorted.size()) >= R, "beam search: only ", sorted.size(), " hypotheses for ", R,
             " return sequences");
    for (int64_t j = 0; j < R; ++j) best.push_back(sorted[sorted.size() - 1 - static_cast<size_t>(j)]);  // pop()
  }
  int64_t longest = 0;
  for (const Hypothesis* h : best) longest = std::max<int64_t>(longest, static_cast<int64_t>(h->tokens.size()));
  const int64_t width = std::min(longest + 1, max_length);
  res.sequences = TensorI64(Shape{batch * R, width}, pad);
  res.beam_indices = TensorI64(Shape{batch * R, width}, -1);
  for (size_t j = 0; j < best.size(); ++j) {
    const Hypothesis& h = *best[j];
    const int64_t n = static_cast<int64_t>(h.tokens.size());
    BB_CHECK(n <= width, "beam search: hypothesis of ", n, " tokens is longer than max_length ", width);
    std::copy(h.tokens.begin(), h.tokens.end(), res.sequences.data.begin() + static_cast<int64_t>(j) * width);
    if (n < width && !cfg.eos_token_id.empty()) res.sequences.data[j * width + n] = cfg.eos_token_id[0];
    std::copy_n(h.beam_indices.begin(), std::min<int64_t>(width, static_cast<int64_t>(h.beam_indices.size())),
                res.beam_indices.data.begin() + static_cast<int64_t>(j) * width);
    res.sequences_scores.push_back(static_cast<float>(h.score));
  }
  return res;
}

}  // namespace

GenerationResult run_search(const GenerationConfig& cfg, const TensorI64& prompt, int64_t vocab, const ScoreFn& score) {
  BB_CHECK(prompt.shape.size() == 2 && prompt.dim(0) >= 1 && prompt.dim(1) >= 1,
           "decoder prompt must be a non-empty [batch, length], got ", to_string(prompt.shape));
  for (int64_t t : prompt.data)
    BB_CHECK(t >= 0 && t < vocab, "decoder prompt token ", t, " is outside the vocabulary [0, ", vocab, ")");
  validate_generation(cfg, vocab, prompt.dim(1));
  const int64_t max_length = resolved_max_length(cfg, prompt.dim(1));
  std::vector<std::string> warnings;
  if (prompt.dim(1) >= max_length)
    warnings.push_back("Input length of decoder_input_ids is " + std::to_string(prompt.dim(1)) +
                       ", but `max_length` is set to " + std::to_string(max_length) +
                       ". One token is generated anyway (HF 4.27 behaviour); consider increasing max_new_tokens.");
  GenerationResult res = cfg.num_beams == 1 ? greedy_search(cfg, prompt, vocab, max_length, score)
                                            : beam_search(cfg, prompt, vocab, max_length, score);
  res.warnings = std::move(warnings);
  return res;
}

}  // namespace bigbird
