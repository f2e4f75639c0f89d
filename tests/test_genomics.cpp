// DNA input and tokenizers: the FASTA reader, the --fasta windows, `score`, reverse-complement
// averaging, the BPE learner against a naive reference, tokenizer-train, and the CLI's errors.
//
// Tolerances: answers computed two ways through the same kernels on the same rows are compared
// bit for bit; the pseudo-log-likelihood against fill-mask's float32 probabilities within 2e-6
// per token (float32 softmax rounding, |ln p| < 20); strand means within 1e-6 (one float
// rounding of the mean).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "genomics/dna_windows.h"
#include "genomics/fasta.h"
#include "tasks/classify.h"
#include "tasks/embed.h"
#include "tasks/fasta_input.h"
#include "tasks/fill_mask.h"
#include "tasks/score.h"
#include "tasks_test_util.h"
#include "text/tokenizer.h"
#include "text/tokenizer_train.h"

namespace bigbird::test {
namespace {

namespace fs = std::filesystem;
const std::string kDnaMlm = data_path("dna-tiny/mlm");
const std::string kDnaCls = data_path("dna-tiny/cls");

std::string random_dna(size_t n, uint64_t seed, const char* alphabet = "ACGT") {
  std::mt19937_64 rng(seed);
  const size_t k = std::strlen(alphabet);
  std::string s(n, 'A');
  for (auto& c : s) c = alphabet[rng() % k];
  return s;
}

// `seq` as FASTA lines of `width`.
std::string fasta_record(const std::string& name, const std::string& seq, size_t width) {
  std::string out = ">" + name + " a description\n";
  for (size_t i = 0; i < seq.size(); i += width) out += seq.substr(i, width) + "\n";
  return out;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_TRUE(f);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<std::pair<std::string, std::string>> read_all(const std::string& path) {
  genomics::FastaReader in(path);
  std::vector<std::pair<std::string, std::string>> out;
  while (in.next_record()) {
    std::string s;
    while (in.read_bases(s, 7) > 0) {
    }
    out.emplace_back(in.record(), s);
  }
  return out;
}

// ------------------------------------------------------------------ FASTA

TEST(Fasta, ReadsRecordsOfAnyLineWidthCaseAndCompression) {
  TempDir dir;
  const std::string a = random_dna(1000, 1), b = random_dna(77, 2, "ACGTNRYKMSWBDHV");
  std::string text = "\n" + fasta_record("chrA", a, 60) + fasta_record("chrB", b, 1000);
  // lower case and CRLF in the first record, U read as T
  std::string lower = text;
  for (size_t i = lower.find('\n', 1) + 1; i < lower.find(">chrB"); ++i)
    lower[i] = lower[i] == '\n' ? '\n' : static_cast<char>(std::tolower(lower[i]));
  std::string crlf;
  for (char c : lower) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  write_file(dir.file("a.fa"), crlf + ">rna\nACGU\n");
  write_gzip(dir.file("a.fa.gz"), crlf + ">rna\nACGU\n");
  for (const char* f : {"a.fa", "a.fa.gz"}) {
    const auto recs = read_all(dir.file(f));
    ASSERT_EQ(recs.size(), 3u) << f;
    EXPECT_EQ(recs[0].first, "chrA");
    EXPECT_EQ(recs[0].second, a);
    EXPECT_EQ(recs[1].first, "chrB");
    EXPECT_EQ(recs[1].second, b);
    EXPECT_EQ(recs[2].second, "ACGT");
  }
  // next_record skips what is left of a record.
  genomics::FastaReader in(dir.file("a.fa"));
  ASSERT_TRUE(in.next_record());
  std::string s;
  in.read_bases(s, 10);
  EXPECT_EQ(in.position(), 10);
  ASSERT_TRUE(in.next_record());
  EXPECT_EQ(in.record(), "chrB");
  EXPECT_EQ(in.header(), "chrB a description");
}

TEST(Fasta, RefusesWhatIsNotFasta) {
  TempDir dir;
  const auto err = [&](const std::string& content) {
    write_file(dir.file("x.fa"), content);
    return error_of([&] { read_all(dir.file("x.fa")); });
  };
  EXPECT_NE(err("ACGT\n").find("x.fa:1: not FASTA"), std::string::npos) << err("ACGT\n");
  EXPECT_NE(err("").find("not FASTA: the file is empty"), std::string::npos);
  EXPECT_NE(err(">a\nACGT\nAC-T\n").find("x.fa:3: '-' in record 'a' is not an IUPAC"), std::string::npos)
      << err(">a\nACGT\nAC-T\n");
  EXPECT_NE(err(">a\nAC GT\n").find("byte 0x20 in record 'a'"), std::string::npos) << err(">a\nAC GT\n");
  EXPECT_NE(err(">a\nACGT\n>b\n>c\nAC\n").find("x.fa:3: record 'b' has no bases"), std::string::npos)
      << err(">a\nACGT\n>b\n>c\nAC\n");
  EXPECT_NE(err(">a\n").find("record 'a' has no bases"), std::string::npos);
  EXPECT_NE(err("> a\nAC\n").find("without a name"), std::string::npos);
  EXPECT_NE(err(">a\nAC\xff\n").find("byte 0xFF"), std::string::npos);
  // A truncated gzip file is an error, not a shorter genome.
  write_gzip(dir.file("t.gz"), fasta_record("a", random_dna(50000, 3), 60));
  const std::string gz = read_file(dir.file("t.gz"));
  write_file(dir.file("t.gz"), gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of([&] { read_all(dir.file("t.gz")); }).find("ends early"), std::string::npos);
  EXPECT_NE(error_of([&] { genomics::FastaReader r(dir.path.string()); }).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { genomics::FastaReader r(dir.file("missing.fa")); }).find("cannot read"), std::string::npos);
}

TEST(Fasta, ReverseComplementOfIupacCodes) {
  EXPECT_EQ(genomics::reverse_complement("ACGTN"), "NACGT");
  EXPECT_EQ(genomics::reverse_complement("RYKMSWBDHV"), "BDHVWSKMRY");
  const std::string s = random_dna(500, 4, "ACGTNRYKMSWBDHV");
  EXPECT_EQ(genomics::reverse_complement(genomics::reverse_complement(s)), s);
  EXPECT_THROW(genomics::reverse_complement("AX"), Error);
}

// ------------------------------------------------------------------ windows

struct WindowSpec {
  std::string record;
  int64_t start, end, tokens;
  bool operator==(const WindowSpec&) const = default;
};

std::vector<WindowSpec> windows_of(const std::string& fasta, const Tokenizer& tok, int64_t room, int64_t overlap,
                                   int64_t chunk, std::map<std::string, std::string>* bases = nullptr) {
  genomics::FastaReader in(fasta);
  genomics::DnaWindows win(in, tok, room, overlap, chunk);
  std::vector<WindowSpec> out;
  genomics::DnaWindow w;
  while (win.next(w)) {
    out.push_back({w.record, w.start, w.end, w.tokens});
    if (bases) (*bases)[w.record + ":" + std::to_string(w.start)] = w.bases;
  }
  return out;
}

TEST(DnaWindows, TileEveryRecordAndStreamExactly) {
  TempDir dir;
  // Long records (streamed in several chunks) with N runs, and short ones.
  std::string seq1 = random_dna(30011, 5);
  seq1.replace(9000, 40, std::string(40, 'N'));
  seq1.replace(20000, 3, "NNN");
  const std::string seq2 = random_dna(9, 6), seq3 = random_dna(23456, 7, "ACGTACGTACGTN");
  write_file(dir.file("g.fa"), fasta_record("one", seq1, 61) + fasta_record("two", seq2, 80) + fasta_record("three", seq3, 70));
  const std::map<std::string, std::string> records = {{"one", seq1}, {"two", seq2}, {"three", seq3}};
  // A per-base tokenizer and a BPE one, both trained here.
  TokenizerTrainOptions o;
  o.inputs = {dir.file("g.fa")};
  o.type = "per-base";
  o.output_dir = dir.file("pb");
  train_tokenizer(o);
  o.type = "bpe";
  o.vocab_size = 300;
  o.output_dir = dir.file("bpe");
  train_tokenizer(o);
  for (const char* kind : {"pb", "bpe"}) {
    const auto tok = Tokenizer::load(dir.file(kind));
    for (auto [room, overlap] : {std::pair<int64_t, int64_t>{100, 0}, {64, 17}, {1, 0}, {500, 450}}) {
      if (room == 1 && std::string(kind) == "bpe") continue;
      std::map<std::string, std::string> bases;
      const auto whole = windows_of(dir.file("g.fa"), *tok, room, overlap, int64_t{1} << 30, &bases);
      const auto streamed = windows_of(dir.file("g.fa"), *tok, room, overlap, 1000);
      EXPECT_EQ(whole, streamed) << kind << " room " << room << " overlap " << overlap;
      // The windows tile each record: start at 0, end at its length, no gap between windows;
      // a window's bases are the record's, and hold `tokens` tokens.
      std::map<std::string, int64_t> covered;
      for (size_t i = 0; i < whole.size(); ++i) {
        const WindowSpec& w = whole[i];
        const std::string& rec = records.at(w.record);
        const bool first = i == 0 || whole[i - 1].record != w.record;
        if (first) EXPECT_EQ(w.start, 0);
        else EXPECT_LE(w.start, covered[w.record]) << "gap before window " << i;
        covered[w.record] = std::max(covered[w.record], w.end);
        EXPECT_LE(w.tokens, room);
        const std::string b = bases.at(w.record + ":" + std::to_string(w.start));
        ASSERT_EQ(b, rec.substr(static_cast<size_t>(w.start), static_cast<size_t>(w.end - w.start)));
        EncodeOptions eo;
        eo.add_special_tokens = false;
        EXPECT_EQ(static_cast<int64_t>(tok->encode(b, eo).size()), w.tokens) << kind << " window " << i;
        if (std::string(kind) == "pb") {
          EXPECT_EQ(w.end - w.start, w.tokens);
        }
        const bool last = i + 1 == whole.size() || whole[i + 1].record != w.record;
        if (!last) {
          EXPECT_EQ(w.tokens, room);
          // consecutive windows share `overlap` tokens
          if (std::string(kind) == "pb") {
            EXPECT_EQ(whole[i + 1].start, w.end - overlap);
          }
        }
      }
      for (const auto& [name, seq] : records) EXPECT_EQ(covered[name], static_cast<int64_t>(seq.size())) << name;
    }
  }
  // Bad window shapes.
  const auto tok = Tokenizer::load(dir.file("pb"));
  genomics::FastaReader in(dir.file("g.fa"));
  EXPECT_THROW(genomics::DnaWindows(in, *tok, 0, 0), Error);
  EXPECT_THROW(genomics::DnaWindows(in, *tok, 10, 10), Error);
}

// ------------------------------------------------------------------ score

TEST(Score, IsTheSumOfEachTokenMaskedAlone) {
  const auto tm = tasks::TaskModel::load(kDnaMlm, "");
  tasks::ScoreTask score(*tm);
  tasks::FillMaskOptions fo;
  fo.top_k = static_cast<int>(tm->model().config().vocab_size);
  tasks::FillMaskTask fill(*tm, fo);
  tasks::RunOptions opt;
  const std::string seq = "ACGTTGCAAGGCTAN";
  const auto got = tasks::run_one(score, tasks::InputRecord{seq, std::nullopt, {}, {}}, opt);
  double want = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    std::string masked = seq.substr(0, i) + "[MASK]" + seq.substr(i + 1);
    const auto cands = tasks::run_one(fill, tasks::InputRecord{masked, std::nullopt, {}, {}}, opt);
    const std::string truth(1, seq[i]);
    bool found = false;
    for (const auto& c : cands)
      if (c["token_str"] == truth) {
        want += std::log(c["score"].get<double>());
        found = true;
      }
    ASSERT_TRUE(found) << truth;
  }
  EXPECT_NEAR(got["pseudo_log_likelihood"].get<double>(), want, 2e-6 * seq.size());
  EXPECT_EQ(got["tokens"], static_cast<int64_t>(seq.size()));
  EXPECT_EQ(got["bases"], static_cast<int64_t>(seq.size()));
  EXPECT_NEAR(got["bits_per_base"].get<double>(), -want / std::log(2.0) / seq.size(), 1e-6);
  // The same with every row alone and side by side.
  opt.batch_size = 1;
  EXPECT_EQ(tasks::run_one(score, tasks::InputRecord{seq, std::nullopt, {}, {}}, opt), got);
  EXPECT_THROW(tasks::run_one(score, tasks::InputRecord{"AC[MASK]", std::nullopt, {}, {}}, opt), tasks::InputError);
  EXPECT_THROW(tasks::run_one(score, tasks::InputRecord{std::string(200, 'A'), std::nullopt, {}, {}}, opt),
               tasks::TooLongError);
  // A checkpoint without a masked-LM head is refused.
  const auto cls = tasks::TaskModel::load(kDnaCls, "");
  EXPECT_THROW(tasks::ScoreTask{*cls}, Error);
}

// ------------------------------------------------------------------ --fasta through the tasks

class CollectWriter : public tasks::ResultWriter {
 public:
  void write(const tasks::json& a) override { lines.push_back(a); }
  void write_error(const std::string& m) override { lines.push_back({{"error", m}}); }
  std::vector<tasks::json> lines;
};

TEST(FastaTasks, EachWindowIsItsBasesAsText) {
  TempDir dir;
  const std::string s1 = random_dna(700, 8), s2 = random_dna(90, 9);
  write_file(dir.file("g.fa"), fasta_record("r1", s1, 50) + fasta_record("r2", s2, 50));
  const auto mlm = tasks::TaskModel::load(kDnaMlm, "");
  const auto cls = tasks::TaskModel::load(kDnaCls, "");
  tasks::EmbedTask embed(*mlm, {});
  tasks::ClassifyTask classify(*cls, {});
  tasks::ScoreTask score(*mlm);
  tasks::RunOptions run;
  run.batch_size = 3;
  for (bool rc : {false, true}) {
    for (const tasks::Task* task : std::vector<const tasks::Task*>{&embed, &classify, &score}) {
      tasks::FastaOptions fo;
      fo.path = dir.file("g.fa");
      fo.window = task == &score ? 20 : 64;
      fo.stride = 5;
      fo.reverse_complement = rc;
      fo.field = task == &embed ? "embedding" : task == &classify ? "labels" : "";
      fo.chunk = 100;
      CollectWriter w;
      const tasks::FastaStats st = tasks::run_fasta(*task, fo, w, run, false);
      ASSERT_GT(w.lines.size(), 2u);
      EXPECT_EQ(st.records, 2);
      EXPECT_EQ(st.windows, static_cast<int64_t>(w.lines.size()));
      const size_t check = task == &score ? 3 : w.lines.size();  // score: a few windows (n forward passes each)
      for (size_t i = 0; i < check; ++i) {
        const tasks::json& line = w.lines[i];
        const std::string& rec = line["record"] == "r1" ? s1 : s2;
        const std::string b = rec.substr(line["start"].get<size_t>(), line["end"].get<size_t>() - line["start"].get<size_t>());
        if (line["end"].get<size_t>() < rec.size()) {  // all but a record's last window are full
          EXPECT_EQ(line["end"].get<int64_t>() - line["start"].get<int64_t>(), fo.window - 2);
        }
        const tasks::InputRecord fwd{b, std::nullopt, {}, {}};
        const tasks::InputRecord rev{genomics::reverse_complement(b), std::nullopt, {}, {}};
        if (task == &embed) {
          const auto a = tasks::run_one(embed, fwd, run);
          if (!rc) {
            EXPECT_EQ(line["embedding"], a);
          } else {
            const auto r = tasks::run_one(embed, rev, run);
            ASSERT_EQ(line["embedding"].size(), a.size());
            for (size_t j = 0; j < a.size(); ++j)
              EXPECT_NEAR(line["embedding"][j].get<double>(), (a[j].get<double>() + r[j].get<double>()) / 2, 1e-6);
          }
        } else if (task == &classify) {
          const auto a = tasks::run_one(classify, fwd, run);
          if (!rc) {
            EXPECT_EQ(line["labels"], a);
          } else {
            const auto r = tasks::run_one(classify, rev, run);
            std::map<std::string, double> mean;
            for (const auto& e : a) mean[e["label"]] += e["score"].get<double>() / 2;
            for (const auto& e : r) mean[e["label"]] += e["score"].get<double>() / 2;
            ASSERT_EQ(line["labels"].size(), 2u);
            EXPECT_GE(line["labels"][0]["score"].get<double>(), line["labels"][1]["score"].get<double>());
            for (const auto& e : line["labels"]) EXPECT_NEAR(e["score"].get<double>(), mean[e["label"]], 1e-6);
          }
        } else {
          const auto a = tasks::run_one(score, fwd, run);
          if (!rc) {
            EXPECT_EQ(line["pseudo_log_likelihood"], a["pseudo_log_likelihood"]);
            EXPECT_EQ(line["bits_per_base"], a["bits_per_base"]);
          } else {
            const auto r = tasks::run_one(score, rev, run);
            EXPECT_NEAR(line["bits_per_base"].get<double>(),
                        (a["bits_per_base"].get<double>() + r["bits_per_base"].get<double>()) / 2, 1e-12);
          }
          EXPECT_EQ(line["tokens"], line["bases"]);
        }
      }
    }
  }
  // A window longer than the model takes, or one with no room for bases.
  tasks::FastaOptions fo;
  fo.path = dir.file("g.fa");
  CollectWriter w;
  fo.window = 129;
  EXPECT_NE(error_of([&] { tasks::run_fasta(embed, fo, w, run, false); }).find("longer than the model takes"),
            std::string::npos);
  fo.window = 2;
  EXPECT_NE(error_of([&] { tasks::run_fasta(embed, fo, w, run, false); }).find("leaves no room"), std::string::npos);
  // A task without a strand mean.
  tasks::FillMaskTask fill(*mlm, {});
  fo.window = 10;
  fo.reverse_complement = true;
  EXPECT_THROW(tasks::run_fasta(fill, fo, w, run, false), Error);
}

// ------------------------------------------------------------------ BPE learner

// The textbook algorithm: count every adjacent pair of every piece, merge the best one
// everywhere left to right, repeat.
std::vector<std::pair<std::string, std::string>> naive_bpe(const std::vector<std::pair<std::string, int64_t>>& pieces,
                                                           int64_t max_new, int64_t min_frequency) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  std::set<std::string> vocab;
  for (const auto& [p, w] : pieces) {
    std::vector<std::string> s;
    for (char c : p) {
      s.emplace_back(1, c);
      vocab.insert(s.back());
    }
    words.emplace_back(s, w);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  int64_t added = 0;
  while (added < max_new) {
    std::map<std::pair<std::string, std::string>, int64_t> count;
    for (const auto& [s, w] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) count[{s[i], s[i + 1]}] += w;
    std::pair<std::string, std::string> best;
    int64_t best_n = 0;
    for (const auto& [pair, n] : count)  // map order: ties go to the pair whose strings sort first
      if (n > best_n) {
        best = pair;
        best_n = n;
      }
    if (best_n < min_frequency || best_n == 0) break;
    merges.push_back(best);
    if (vocab.insert(best.first + best.second).second) ++added;
    for (auto& [s, w] : words) {
      std::vector<std::string> t;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
          t.push_back(best.first + best.second);
          ++i;
        } else {
          t.push_back(s[i]);
        }
      }
      s = std::move(t);
    }
  }
  return merges;
}

TEST(TokenizerTrain, BpeLearnerMatchesTheTextbookAlgorithm) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<std::pair<std::string, int64_t>> pieces;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      const char* alpha = trial % 3 == 0 ? "A" : trial % 3 == 1 ? "AC" : "ACGT";
      pieces.emplace_back(random_dna(1 + rng() % 200, rng(), alpha), 1 + static_cast<int64_t>(rng() % 3));
    }
    const int64_t max_new = 1 + static_cast<int64_t>(rng() % 40), min_freq = 1 + static_cast<int64_t>(rng() % 3);
    const auto got = learn_bpe(pieces, {"A", "C", "G", "T"}, max_new, min_freq);
    EXPECT_EQ(got, naive_bpe(pieces, max_new, min_freq)) << "trial " << trial;
  }
  // Overlapping runs: AAAA -> AA AA, then AAAA.
  const auto runs = learn_bpe({{"AAAA", 1}, {"AAAAA", 1}}, {"A"}, 5, 1);
  ASSERT_GE(runs.size(), 2u);
  EXPECT_EQ(runs[0], std::make_pair(std::string("A"), std::string("A")));
  EXPECT_EQ(runs[1], std::make_pair(std::string("AA"), std::string("AA")));
}

TEST(TokenizerTrain, WritesTokenizersThatLoadAndRoundTrip) {
  TempDir dir;
  const std::string g = random_dna(20000, 12) + std::string(30, 'N') + random_dna(5000, 13);
  write_file(dir.file("g.fa"), fasta_record("g", g, 60));
  write_gzip(dir.file("g.fa.gz"), fasta_record("g", g, 60));
  write_file(dir.file("t.txt"), "the cat sat on the mat\n\nthe dog sat on the log\nthe cat ate the rat\n");
  const std::string probe = g.substr(100, 60);
  EncodeOptions raw;
  raw.add_special_tokens = false;
  {  // BPE from (gzip) FASTA: exact vocabulary size, GENA-LM components, decode(encode(x)) == x
    TokenizerTrainOptions o;
    o.inputs = {dir.file("g.fa.gz")};
    o.vocab_size = 200;
    o.output_dir = dir.file("bpe");
    const auto r = train_tokenizer(o);
    EXPECT_TRUE(r.fasta);
    EXPECT_EQ(r.vocab_size, 200);
    EXPECT_EQ(r.chars, static_cast<int64_t>(g.size()));
    EXPECT_GT(r.chars_per_token, 2.0);
    const auto tok = Tokenizer::load(o.output_dir);
    const Encoding e = tok->encode("ACGTAC" + probe);
    EXPECT_EQ(e.tokens.front(), "[CLS]");
    EXPECT_EQ(e.tokens.back(), "[SEP]");
    EXPECT_EQ(tok->decode(tok->encode(probe, raw).input_ids), probe);
    const nlohmann::json j = nlohmann::json::parse(read_file(o.output_dir + "/tokenizer.json"));
    EXPECT_EQ(j["normalizer"]["normalizers"][1]["pattern"]["Regex"], "N{10,}");
    EXPECT_EQ(j["pre_tokenizer"]["type"], "Split");
    EXPECT_EQ(j["model"]["vocab"].size(), 200u);
    // The N run becomes one "-" token, as GENA-LM's tokenizer makes it.
    const Encoding n = tok->encode("ACGT" + std::string(12, 'N') + "ACGT", raw);
    EXPECT_NE(std::find(n.tokens.begin(), n.tokens.end(), "-"), n.tokens.end());
  }
  {  // per-base: one token per base, the special tokens and the IUPAC codes
    TokenizerTrainOptions o;
    o.type = "per-base";
    o.output_dir = dir.file("pb");
    const auto r = train_tokenizer(o);
    EXPECT_EQ(r.vocab_size, 20);
    const auto tok = Tokenizer::load(o.output_dir);
    const Encoding e = tok->encode(probe, raw);
    ASSERT_EQ(e.size(), probe.size());
    for (size_t i = 0; i < e.size(); ++i) EXPECT_EQ(e.tokens[i], probe.substr(i, 1));
    EXPECT_EQ(tok->encode("RYKMSWBDHV", raw).size(), 10u);
    EXPECT_EQ(tok->mask_id(), 4);
  }
  {  // SentencePiece from FASTA, loaded as a BigBirdTokenizer
    TokenizerTrainOptions o;
    o.type = "sentencepiece";
    o.sentencepiece_model_type = "bpe";
    o.inputs = {dir.file("g.fa")};
    o.vocab_size = 100;
    o.output_dir = dir.file("sp");
    const auto r = train_tokenizer(o);
    EXPECT_EQ(r.vocab_size, 100);
    const auto tok = Tokenizer::load(o.output_dir);
    EXPECT_EQ(tok->class_name(), "BigBirdTokenizer");
    EXPECT_EQ(tok->decode(tok->encode(probe, raw).input_ids), probe);
    EXPECT_GE(tok->mask_id(), 0);
  }
  {  // BPE from text: Metaspace words
    TokenizerTrainOptions o;
    o.inputs = {dir.file("t.txt")};
    o.vocab_size = 40;
    o.output_dir = dir.file("text");
    const auto r = train_tokenizer(o);
    EXPECT_FALSE(r.fasta);
    const auto tok = Tokenizer::load(o.output_dir);
    EXPECT_EQ(tok->decode(tok->encode("the cat sat", raw).input_ids), "the cat sat");
  }
  // Errors.
  TokenizerTrainOptions o;
  o.inputs = {dir.file("g.fa")};
  o.output_dir = dir.file("bad");
  o.vocab_size = 10;
  EXPECT_NE(error_of([&] { train_tokenizer(o); }).find("smaller than the 5 special tokens and the 16 characters"),
            std::string::npos);
  o.vocab_size = 100;
  o.inputs = {dir.file("g.fa"), dir.file("t.txt")};
  EXPECT_NE(error_of([&] { train_tokenizer(o); }).find("one kind of input"), std::string::npos);
  o.inputs = {};
  EXPECT_NE(error_of([&] { train_tokenizer(o); }).find("no input files"), std::string::npos);
  o.inputs = {dir.file("g.fa")};
  o.output_dir = dir.file("sp");  // holds spiece.model
  EXPECT_NE(error_of([&] { train_tokenizer(o); }).find("already holds spiece.model"), std::string::npos);
  o.type = "per-base";
  o.inputs = {dir.file("t.txt")};
  o.output_dir = dir.file("pb2");
  EXPECT_NE(error_of([&] { train_tokenizer(o); }).find("is not FASTA"), std::string::npos);
}

// ------------------------------------------------------------------ CLI

TEST(GenomicsCli, FastaCommandsAndTheirErrors) {
  TempDir dir;
  const std::string s = random_dna(300, 14);
  write_file(dir.file("g.fa"), fasta_record("chr", s, 60));
  write_file(dir.file("bad.fa"), ">chr\nACGTX\n");
  // embed: one line per window, naming the record and its bases; the summary on stderr.
  const RunResult r = run_cli("embed --model " + kDnaMlm + " --fasta " + dir.file("g.fa") +
                              " --window 66 --stride 4 --output " + dir.file("e.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 records, 5 windows"), std::string::npos) << r.output;
  const auto lines = read_jsonl(dir.file("e.jsonl"));
  ASSERT_EQ(lines.size(), 5u);  // 64 bases a window, 60 new each: 0, 60, 120, 180, 240-300
  EXPECT_EQ(lines[0]["record"], "chr");
  EXPECT_EQ(lines[1]["start"], 60);
  EXPECT_EQ(lines[4]["end"], 300);
  EXPECT_EQ(lines[0]["embedding"].size(), 32u);
  // .npy: the vectors alone, one row a window
  ASSERT_EQ(run_cli("embed --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " --window 66 --stride 4 --output " +
                    dir.file("e.npy")).status, 0);
  EXPECT_EQ(fs::file_size(dir.file("e.npy")), 128u + 5 * 32 * 4);
  // score: the total on stderr
  const RunResult sc = run_cli("score --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " --window 34 --output " +
                               dir.file("s.jsonl"));
  ASSERT_EQ(sc.status, 0) << sc.output;
  EXPECT_NE(sc.output.find("bits per base over the windows"), std::string::npos);
  EXPECT_EQ(read_jsonl(dir.file("s.jsonl")).size(), 10u);
  // classify, both strands
  const RunResult c = run_cli("classify --model " + kDnaCls + " --fasta " + dir.file("g.fa") +
                              " --reverse-complement average --output " + dir.file("c.jsonl"));
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_EQ(read_jsonl(dir.file("c.jsonl"))[0]["labels"].size(), 2u);
  // tokenizer-train
  const RunResult t = run_cli("tokenizer-train --vocab-size 64 --output-dir " + dir.file("tok") + " " + dir.file("g.fa"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_LE(nlohmann::json::parse(t.output)["vocab_size"], 64);  // 300 bases may run out of pairs seen twice
  EXPECT_GT(nlohmann::json::parse(t.output)["vocab_size"], 21);

  // Errors: one line, status 1, no output file.
  const std::string out = dir.file("never.jsonl");
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"embed --model " + kDnaMlm + " --fasta " + dir.file("bad.fa"), "bad.fa:2: 'X' in record 'chr' is not an IUPAC"},
           {"embed --model " + kDnaMlm + " --fasta " + kDnaMlm + "/config.json", "not FASTA"},
           {"embed --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " --window 1000", "longer than the model takes"},
           {"embed --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " ACGT", "not both"},
           {"embed --model " + kDnaMlm + " --window 10 ACGT", "--window needs --fasta"},
           {"classify --model " + kDnaCls + " --reverse-complement average ACGT", "--reverse-complement needs --fasta"},
           {"classify --model " + kDnaCls + " --fasta " + dir.file("g.fa") + " --aggregation max", "--aggregation excludes --fasta"},
           {"embed --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " --truncation true", "--truncation excludes --fasta"},
           {"score --model " + kDnaCls + " ACGT", "masked-LM head"},
           {"score --model " + kDnaMlm + " --fasta " + dir.file("g.fa") + " --window 10 --stride 8", "must be smaller"},
           {"tokenizer-train --vocab-size 5 --output-dir " + dir.file("t2") + " " + dir.file("g.fa"), "smaller than"},
           {"tokenizer-train --output-dir " + dir.file("t3") + " " + dir.file("bad.fa"), "not an IUPAC"},
       }) {
    const bool writes = args.rfind("tokenizer-train", 0) != 0;
    const RunResult e = run_cli(args + (writes ? " --output " + out : ""));
    EXPECT_EQ(e.status, 1) << args << "\n" << e.output;
    EXPECT_EQ(e.output.rfind("error: ", 0), 0u) << e.output;
    EXPECT_EQ(std::count(e.output.begin(), e.output.end(), '\n'), 1) << e.output;
    EXPECT_NE(e.output.find(message), std::string::npos) << args << "\n" << e.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
  EXPECT_FALSE(fs::exists(dir.file("t2") + "/tokenizer.json"));
  EXPECT_FALSE(fs::exists(dir.file("t3") + "/tokenizer.json"));
}

}  // namespace
}  // namespace bigbird::test
