#include "text/tokenizer_train.h"

#include <sentencepiece_trainer.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "genomics/fasta.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace bigbird {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kSpecials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
const char* const kPerBase = "ACGTNRYKMSWBDHV";  // the IUPAC codes, the four bases and N first
const char* const kDnaAlphabet = "ACGTN-RYKMSWBDHV";
const char* const kMeta = "\xE2\x96\x81";  // U+2581, Metaspace's replacement for ' '

size_t utf8_len(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// ---------------------------------------------------------------- inputs

// The first non-blank byte of the (possibly gzip) file is '>'.
bool looks_like_fasta(const std::string& path) {
  BB_CHECK(fs::is_regular_file(path), "cannot read '", path, "': ", fs::exists(path) ? "not a regular file" : "no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  BB_CHECK(f, "cannot read '", path, "'");
  int c;
  while ((c = gzgetc(f)) >= 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
  }
  gzclose(f);
  return c == '>';
}

// GENA-LM's normalizer and pre-tokenizer on a record: runs of 10+ N become "-", then the text is
// split around runs of "-" (kept as pieces of their own).
void dna_pieces(const std::string& bases, std::vector<std::pair<std::string, int64_t>>& out) {
  std::string norm;
  norm.reserve(bases.size());
  for (size_t i = 0; i < bases.size();) {
    size_t j = i;
    while (j < bases.size() && bases[j] == 'N') ++j;
    if (j - i >= 10) {
      norm += '-';
      i = j;
    } else if (j > i) {
      norm.append(j - i, 'N');
      i = j;
    } else {
      norm += bases[i++];
    }
  }
  for (size_t i = 0; i < norm.size();) {
    const bool dash = norm[i] == '-';
    size_t j = i;
    while (j < norm.size() && (norm[j] == '-') == dash) ++j;
    out.emplace_back(norm.substr(i, j - i), 1);
    i = j;
  }
}

// Metaspace (prepend "▁", split before each "▁") on a line of text: its words.
void text_words(std::string_view line, std::unordered_map<std::string, int64_t>& words) {
  std::string cur = kMeta;
  for (char c : line) {
    if (c == ' ') {
      if (cur != kMeta) ++words[cur];
      cur = kMeta;
    } else {
      cur += c;
    }
  }
  if (cur != kMeta) ++words[cur];
}

struct Corpus {
  bool fasta = false;
  int64_t chars = 0;
  std::vector<std::string> sequences;  // FASTA records (upper case) or text lines, as read
};

Corpus read_corpus(const TokenizerTrainOptions& o) {
  Corpus c;
  BB_CHECK(!o.inputs.empty(), "no input files: give FASTA or text files to train on");
  c.fasta = looks_like_fasta(o.inputs[0]);
  const int64_t limit = o.max_chars > 0 ? o.max_chars : std::numeric_limits<int64_t>::max();
  for (const std::string& path : o.inputs) {
    BB_CHECK(looks_like_fasta(path) == c.fasta, "'", path, "' is ", c.fasta ? "not FASTA" : "FASTA", " but '",
             o.inputs[0], "' is ", c.fasta ? "FASTA" : "not", ": train on one kind of input");
    if (c.chars >= limit) break;
    if (c.fasta) {
      genomics::FastaReader in(path);
      while (c.chars < limit && in.next_record()) {
        std::string s;
        while (c.chars + static_cast<int64_t>(s.size()) < limit &&
               in.read_bases(s, static_cast<size_t>(std::min<int64_t>(1 << 20, limit - c.chars - static_cast<int64_t>(s.size())))) > 0) {
        }
        c.chars += static_cast<int64_t>(s.size());
        c.sequences.push_back(std::move(s));
      }
    } else {
      const std::string text = read_file_bytes(path);
      size_t pos = 0;
      int64_t line_no = 0;
      while (pos < text.size() && c.chars < limit) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (utf8::find_invalid(line) != std::string_view::npos)
          fail(path, ":", line_no, ": the line is not valid UTF-8");
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        c.chars += static_cast<int64_t>(line.size());
        c.sequences.push_back(std::move(line));
      }
    }
  }
  BB_CHECK(c.chars > 0, "the input files hold no ", c.fasta ? "bases" : "text", " to train on");
  return c;
}

// ---------------------------------------------------------------- writing

ojson added_tokens() {
  ojson a = ojson::array();
  for (size_t i = 0; i < kSpecials.size(); ++i)
    a.push_back({{"id", i}, {"content", kSpecials[i]}, {"single_word", false}, {"lstrip", kSpecials[i] == "[MASK]"},
                 {"rstrip", false}, {"normalized", false}, {"special", true}});
  return a;
}

ojson template_processing() {
  auto special = [](const char* id, int type) { return ojson{{"SpecialToken", {{"id", id}, {"type_id", type}}}}; };
  auto seq = [](const char* id, int type) { return ojson{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
  ojson p;
  p["type"] = "TemplateProcessing";
  p["single"] = ojson::array({special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)});
  p["pair"] = ojson::array({special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)});
  p["special_tokens"] = {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
                         {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}};
  return p;
}

// tokenizer.json: the BPE model over `vocab` (special tokens first) with `merges`.
std::string bpe_tokenizer_json(const std::vector<std::string>& vocab,
                               const std::vector<std::pair<std::string, std::string>>& merges, bool dna,
                               bool per_base) {
  ojson j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added_tokens();
  if (per_base) {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = nullptr;
  } else if (dna) {
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                         {{"type", "Replace"}, {"pattern", {{"Regex", "N{10,}"}}}, {"content", "-"}}}}};
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "-+"}}}, {"behavior", "Isolated"}, {"invert", false}};
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "always"}, {"split", true}};
  }
  j["post_processor"] = template_processing();
  if (dna) j["decoder"] = {{"type", "Fuse"}};
  else j["decoder"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "always"}, {"split", true}};
  ojson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = "[UNK]";
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = !per_base;
  model["byte_fallback"] = false;
  ojson v = ojson::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  model["vocab"] = std::move(v);
  ojson m = ojson::array();
  for (const auto& [a, b] : merges) {
    if (a.find(' ') == std::string::npos && b.find(' ') == std::string::npos) m.push_back(a + " " + b);
    else m.push_back(ojson::array({a, b}));
  }
  model["merges"] = std::move(m);
  j["model"] = std::move(model);
  return j.dump(1) + "\n";
}

void write_side_files(const std::string& dir, const std::string& tokenizer_class, int64_t model_max_length,
                      const ojson& specials) {
  ojson cfg;
  cfg["tokenizer_class"] = tokenizer_class;
  cfg["model_max_length"] = model_max_length;
  write_file_atomically((fs::path(dir) / "tokenizer_config.json").string(), cfg.dump(2) + "\n");
  write_file_atomically((fs::path(dir) / "special_tokens_map.json").string(), specials.dump(2) + "\n");
}

// Feeds SentencePiece the corpus: FASTA records cut into lines of at most 4096 bases.
class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  CorpusIterator(const Corpus& c) : c_(c) { load(); }
  bool done() const override { return seq_ >= c_.sequences.size(); }
  void Next() override {
    pos_ += step();
    if (pos_ >= c_.sequences[seq_].size()) {
      ++seq_;
      pos_ = 0;
    }
    load();
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  size_t step() const { return c_.fasta ? 4096 : c_.sequences[seq_].size(); }
  void load() {
    if (!done()) value_ = c_.sequences[seq_].substr(pos_, step());
  }
  const Corpus& c_;
  size_t seq_ = 0, pos_ = 0;
  std::string value_;
};

void check_output_dir(const std::string& dir, const char* other_file, const char* type) {
  BB_CHECK(!dir.empty(), "--output-dir is required");
  if (fs::exists(dir)) BB_CHECK(fs::is_directory(dir), "--output-dir '", dir, "' is not a directory");
  else fs::create_directories(dir);
  BB_CHECK(!fs::exists(fs::path(dir) / other_file), "'", dir, "' already holds ", other_file,
           ", which would be loaded instead of the ", type,
           " tokenizer written here: choose another --output-dir or remove it");
}

}  // namespace

// ---------------------------------------------------------------- BPE

std::vector<std::pair<std::string, std::string>> learn_bpe(const std::vector<std::pair<std::string, int64_t>>& pieces,
                                                           const std::vector<std::string>& alphabet,
                                                           int64_t max_merges, int64_t min_frequency) {
  std::vector<std::string> strs = alphabet;
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < strs.size(); ++i) ids.emplace(strs[i], static_cast<int32_t>(i));
  // Every piece's symbols, linked; -1 ends a piece (and marks a merged-away symbol in sym).
  std::vector<int32_t> sym, prev, next;
  std::vector<int64_t> weight;
  for (const auto& [piece, w] : pieces) {
    for (size_t i = 0; i < piece.size();) {
      const size_t n = std::min(utf8_len(static_cast<unsigned char>(piece[i])), piece.size() - i);
      const auto it = ids.find(piece.substr(i, n));
      BB_CHECK(it != ids.end(), "internal: a character outside the BPE alphabet: '", piece.substr(i, n), "'");
      const int32_t p = static_cast<int32_t>(sym.size());
      sym.push_back(it->second);
      prev.push_back(i == 0 ? -1 : p - 1);
      next.push_back(-1);
      if (i > 0) next[static_cast<size_t>(p - 1)] = p;
      weight.push_back(w);
      i += n;
    }
  }
  const auto key = [](int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); };
  std::unordered_map<uint64_t, int64_t> count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t p = 0; p < sym.size(); ++p)
    if (next[p] >= 0) {
      const uint64_t k = key(sym[p], sym[static_cast<size_t>(next[p])]);
      count[k] += weight[p];
      where[k].push_back(static_cast<int32_t>(p));
    }
  struct Entry {
    int64_t count;
    int32_t a, b;
  };
  const auto worse = [&](const Entry& x, const Entry& y) {  // true when x ranks below y
    if (x.count != y.count) return x.count < y.count;
    const std::string& xa = strs[static_cast<size_t>(x.a)];
    const std::string& ya = strs[static_cast<size_t>(y.a)];
    if (xa != ya) return xa > ya;
    return strs[static_cast<size_t>(x.b)] > strs[static_cast<size_t>(y.b)];
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(worse)> heap(worse);
  for (const auto& [k, c] : count) heap.push({c, static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xffffffffu)});

  std::vector<std::pair<std::string, std::string>> merges;
  int64_t new_tokens = 0;
  while (new_tokens < max_merges && !heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    const uint64_t k = key(top.a, top.b);
    const auto cit = count.find(k);
    const int64_t now = cit == count.end() ? 0 : cit->second;
    if (now != top.count) {
      if (now > 0 && now < top.count) heap.push({now, top.a, top.b});
      continue;
    }
    if (now < std::max<int64_t>(min_frequency, 1)) break;
    const std::string merged = strs[static_cast<size_t>(top.a)] + strs[static_cast<size_t>(top.b)];
    int32_t c;
    if (auto it = ids.find(merged); it != ids.end()) {
      c = it->second;
    } else {
      c = static_cast<int32_t>(strs.size());
      strs.push_back(merged);
      ids.emplace(merged, c);
      ++new_tokens;
    }
    merges.emplace_back(strs[static_cast<size_t>(top.a)], strs[static_cast<size_t>(top.b)]);
    std::vector<int32_t> positions = std::move(where[k]);
    where.erase(k);
    std::sort(positions.begin(), positions.end());
    std::unordered_set<uint64_t> grown;
    const auto add = [&](int32_t x, int32_t y, int64_t w, int32_t at) {
      const uint64_t kk = key(x, y);
      count[kk] += w;
      where[kk].push_back(at);
      grown.insert(kk);
    };
    const auto sub = [&](int32_t x, int32_t y, int64_t w) {
      auto it = count.find(key(x, y));
      if (it != count.end() && (it->second -= w) <= 0) count.erase(it);
    };
    for (int32_t p : positions) {
      const size_t up = static_cast<size_t>(p);
      if (sym[up] != top.a) continue;
      const int32_t q = next[up];
      if (q < 0 || sym[static_cast<size_t>(q)] != top.b) continue;
      const int64_t w = weight[up];
      const int32_t x = prev[up], y = next[static_cast<size_t>(q)];
      sub(top.a, top.b, w);
      if (x >= 0) {
        sub(sym[static_cast<size_t>(x)], top.a, w);
        add(sym[static_cast<size_t>(x)], c, w, x);
      }
      if (y >= 0) {
        sub(top.b, sym[static_cast<size_t>(y)], w);
        add(c, sym[static_cast<size_t>(y)], w, p);
      }
      sym[up] = c;
      next[up] = y;
      if (y >= 0) prev[static_cast<size_t>(y)] = p;
      sym[static_cast<size_t>(q)] = -1;
    }
    for (uint64_t kk : grown)
      if (auto it = count.find(kk); it != count.end())
        heap.push({it->second, static_cast<int32_t>(kk >> 32), static_cast<int32_t>(kk & 0xffffffffu)});
  }
  return merges;
}

// ---------------------------------------------------------------- the command

TokenizerTrainReport train_tokenizer(const TokenizerTrainOptions& o) {
  BB_CHECK(o.type == "bpe" || o.type == "sentencepiece" || o.type == "per-base", "unknown tokenizer type '", o.type,
           "' (expected bpe, sentencepiece or per-base)");
  BB_CHECK(o.model_max_length >= 1, "--model-max-length must be positive, got ", o.model_max_length);
  BB_CHECK(o.max_chars >= 0, "--max-chars must not be negative, got ", o.max_chars);
  TokenizerTrainReport r;
  ojson specials;
  for (const char* role : {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) specials[role] = nullptr;

  Corpus corpus;  // what the tokenizer is trained on (none for per-base)
  if (o.type == "per-base") {
    for (const std::string& path : o.inputs)
      BB_CHECK(looks_like_fasta(path), "per-base tokenizers are for DNA: '", path, "' is not FASTA");
    check_output_dir(o.output_dir, "spiece.model", "per-base");
    std::vector<std::string> vocab = kSpecials;
    for (const char* c = kPerBase; *c; ++c) vocab.emplace_back(1, *c);
    write_file_atomically((fs::path(o.output_dir) / "tokenizer.json").string(), bpe_tokenizer_json(vocab, {}, true, true));
    r.fasta = true;
  } else {
    corpus = read_corpus(o);
    r.fasta = corpus.fasta;
    r.chars = corpus.chars;
    if (o.type == "bpe") {
      std::vector<std::string> alphabet;
      std::vector<std::pair<std::string, int64_t>> pieces;
      if (corpus.fasta) {
        for (const char* c = kDnaAlphabet; *c; ++c) alphabet.emplace_back(1, *c);
        for (const std::string& s : corpus.sequences) dna_pieces(s, pieces);
      } else {
        std::unordered_map<std::string, int64_t> words;
        for (const std::string& s : corpus.sequences) text_words(s, words);
        std::map<std::string, int64_t> chars;  // every character, by frequency
        for (const auto& [w, n] : words)
          for (size_t i = 0; i < w.size();) {
            const size_t len = std::min(utf8_len(static_cast<unsigned char>(w[i])), w.size() - i);
            chars[w.substr(i, len)] += n;
            i += len;
          }
        std::vector<std::pair<std::string, int64_t>> by_count(chars.begin(), chars.end());
        std::stable_sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        for (const auto& [ch, n] : by_count) alphabet.push_back(ch);
        pieces.assign(words.begin(), words.end());
        std::sort(pieces.begin(), pieces.end());
      }
      const int64_t base = static_cast<int64_t>(kSpecials.size() + alphabet.size());
      BB_CHECK(o.vocab_size >= base, "--vocab-size ", o.vocab_size, " is smaller than the ", kSpecials.size(),
               " special tokens and the ", alphabet.size(), " characters of the alphabet (", base, ")");
      check_output_dir(o.output_dir, "spiece.model", "BPE");
      const auto merges = learn_bpe(pieces, alphabet, o.vocab_size - base, o.min_frequency);
      std::vector<std::string> vocab = kSpecials;
      std::unordered_set<std::string> seen(vocab.begin(), vocab.end());
      for (const auto& a : alphabet)
        if (seen.insert(a).second) vocab.push_back(a);
      for (const auto& [a, b] : merges)
        if (seen.insert(a + b).second) vocab.push_back(a + b);
      r.merges = static_cast<int64_t>(merges.size());
      write_file_atomically((fs::path(o.output_dir) / "tokenizer.json").string(),
                            bpe_tokenizer_json(vocab, merges, corpus.fasta, false));
    } else {
      BB_CHECK(o.sentencepiece_model_type == "unigram" || o.sentencepiece_model_type == "bpe",
               "unknown SentencePiece model type '", o.sentencepiece_model_type, "' (expected unigram or bpe)");
      check_output_dir(o.output_dir, "tokenizer.json", "SentencePiece");
      std::unordered_map<std::string, std::string> args = {
          {"model_type", o.sentencepiece_model_type},
          {"vocab_size", std::to_string(o.vocab_size)},
          {"character_coverage", "1.0"},
          {"pad_id", "0"},
          {"eos_id", "1"},
          {"bos_id", "2"},
          {"unk_id", "3"},
          {"user_defined_symbols", "[SEP],[CLS],[MASK]"},
          {"add_dummy_prefix", corpus.fasta ? "false" : "true"},
          {"max_sentence_length", "8192"},
          {"num_threads", "1"},
          {"minloglevel", "2"},
          {"model_prefix", ""},
      };
      CorpusIterator it(corpus);
      std::string proto;
      const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
      BB_CHECK(status.ok(), "SentencePiece could not train the tokenizer: ", status.ToString());
      write_file_atomically((fs::path(o.output_dir) / "spiece.model").string(), proto);
      specials = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"sep_token", "[SEP]"},
                  {"pad_token", "<pad>"}, {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}};
    }
  }
  const bool sp = o.type == "sentencepiece";
  if (!sp) {
    specials = {{"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"}, {"cls_token", "[CLS]"},
                {"mask_token", "[MASK]"}};
  }
  write_side_files(o.output_dir, sp ? "BigBirdTokenizer" : "PreTrainedTokenizerFast", o.model_max_length, specials);

  // The written tokenizer must load and encode; measure characters per token on the data.
  const auto tok = Tokenizer::load(o.output_dir);
  r.vocab_size = tok->vocab_size();
  if (r.chars > 0) {  // on the corpus's first megabyte
    EncodeOptions eo;
    eo.add_special_tokens = false;
    int64_t tokens = 0, chars = 0;
    for (const std::string& s : corpus.sequences) {
      if (chars >= (1 << 20)) break;
      const std::string head = s.substr(0, static_cast<size_t>((1 << 20) - chars));
      tokens += static_cast<int64_t>(tok->encode(head, eo).size());
      chars += static_cast<int64_t>(head.size());
    }
    r.chars_per_token = tokens > 0 ? static_cast<double>(chars) / static_cast<double>(tokens) : 0;
  }
  return r;
}

}  // namespace bigbird
