#include "serve/service.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tasks/classify.h"
#include "tasks/embed.h"
#include "tasks/fill_mask.h"
#include "tasks/jsonl.h"
#include "tasks/question_answering.h"
#include "tasks/score.h"
#include "tasks/tag.h"
#include "text/utf8.h"

namespace bigbird::serve {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

[[noreturn]] void bad(int status, const std::string& type, const std::string& msg) { throw ApiError(status, type, msg); }
[[noreturn]] void invalid(const std::string& msg) { bad(422, "Validation", msg); }

json parse_object(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    bad(400, "Validation", "the body is not valid JSON (" + what + ")");
  }
  if (!j.is_object()) bad(400, "Validation", std::string("the body must be a JSON object, got ") + j.type_name());
  return j;
}

bool get_bool(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) invalid(std::string("\"") + key + "\" must be a boolean, got " + it->type_name());
  return it->get<bool>();
}

std::optional<int64_t> get_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) invalid(std::string("\"") + key + "\" must be an integer, got " + it->type_name());
  return it->get<int64_t>();
}

int get_positive_int(const json& j, const char* key, int dflt) {
  auto v = get_int(j, key);
  if (!v) return dflt;
  if (*v < 1 || *v > 1000000) invalid(std::string("\"") + key + "\" must be between 1 and 1000000, got " + std::to_string(*v));
  return static_cast<int>(*v);
}

std::string get_string(const json& j, const char* key, const std::string& dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_string()) invalid(std::string("\"") + key + "\" must be a string, got " + it->type_name());
  return it->get<std::string>();
}

void check_string(const json& s, const std::string& where) {
  if (!s.is_string()) invalid(where + " must be a string, got " + s.type_name());
  if (s.get_ref<const std::string&>().empty()) bad(400, "Empty", where + " is empty");
}

// "inputs" as str | [str]: the texts, and whether a list was given.
std::vector<std::string> get_texts(const json& j, const char* key, bool& batch, int64_t max_batch) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) invalid(std::string("missing \"") + key + "\"");
  std::vector<std::string> out;
  batch = it->is_array();
  if (!batch) {
    check_string(*it, std::string("\"") + key + "\"");
    out.push_back(it->get<std::string>());
    return out;
  }
  if (it->empty()) bad(400, "Empty", std::string("\"") + key + "\" is an empty list");
  if (static_cast<int64_t>(it->size()) > max_batch)
    bad(413, "Validation", "batch size " + std::to_string(it->size()) + " > maximum allowed batch size " +
                               std::to_string(max_batch) + " (--max-client-batch-size)");
  for (size_t i = 0; i < it->size(); ++i) {
    check_string((*it)[i], std::string("\"") + key + "\"[" + std::to_string(i) + "]");
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

// The float32 values of an embedding answer (the CLI's JSON: doubles that hold floats exactly).
std::vector<float> floats_of(const json& a) {
  std::vector<float> v;
  v.reserve(a.size());
  for (const auto& x : a) v.push_back(static_cast<float>(x.get<double>()));
  return v;
}

// TEI's normalize: each value divided by the vector's L2 norm (the sum of squares in double).
std::vector<float> l2_normalized(std::vector<float> v) {
  double ss = 0;
  for (float x : v) ss += static_cast<double>(x) * x;
  const double n = std::sqrt(ss);
  if (n > 0)
    for (float& x : v) x = static_cast<float>(static_cast<double>(x) / n);
  return v;
}

json float_array(const std::vector<float>& v) {
  json a = json::array();
  for (float x : v) a.push_back(static_cast<double>(x));
  return a;
}

std::string base64(const unsigned char* p, size_t n) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b = (uint32_t{p[i]} << 16) | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out += t[(b >> 18) & 63];
    out += t[(b >> 12) & 63];
    out += i + 1 < n ? t[(b >> 6) & 63] : '=';
    out += i + 2 < n ? t[b & 63] : '=';
  }
  return out;
}

// Little-endian float32 bytes, base64 (OpenAI's encoding_format "base64").
std::string base64_floats(const std::vector<float>& v) {
  std::vector<unsigned char> bytes(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) bytes[i * 4 + static_cast<size_t>(k)] = static_cast<unsigned char>(u >> (8 * k));
  }
  return base64(bytes.data(), bytes.size());
}

std::string read_model_type(const std::string& dir) {
  std::ifstream f(fs::path(dir) / "config.json");
  if (!f) return "";
  try {
    auto j = nlohmann::json::parse(f);
    if (j.is_object() && j.contains("model_type") && j["model_type"].is_string()) return j["model_type"];
  } catch (const std::exception&) {
  }
  return "";
}

}  // namespace

std::string error_body(const std::string& message, const std::string& type) {
  json j;
  j["error"] = message;
  j["error_type"] = type;
  return dump(j);
}

Reply error_reply(const ApiError& e) { return Reply{e.status, error_body(e.what(), e.type)}; }

void EventStream::push(std::string event) {
  {
    std::lock_guard<std::mutex> l(m_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void EventStream::close() {
  {
    std::lock_guard<std::mutex> l(m_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool EventStream::next(std::string& event) {
  std::unique_lock<std::mutex> l(m_);
  cv_.wait(l, [&] { return !events_.empty() || closed_; });
  if (events_.empty()) return false;
  event = std::move(events_.front());
  events_.pop_front();
  return true;
}

const std::vector<std::string>& Service::get_routes() {
  static const std::vector<std::string> r = {"/health", "/info", "/metrics"};
  return r;
}

const std::vector<std::string>& Service::post_routes() {
  static const std::vector<std::string> r = {"/embed", "/v1/embeddings", "/predict", "/tokenize", "/decode",
                                             "/fill-mask", "/score", "/qa", "/tag", "/summarize"};
  return r;
}

Service::Service(ServeOptions opt) : opt_(std::move(opt)) {}

Service::~Service() { shutdown(); }

void Service::load() {
  const bool pegasus = read_model_type(opt_.model_dir) == "bigbird_pegasus";
  BatcherOptions bo;
  bo.max_batch_tokens = opt_.max_batch_tokens;
  bo.max_concurrent = opt_.max_concurrent_requests;
  bo.run = opt_.run;
  int64_t model_max;
  if (pegasus) {
    summarizer_ = tasks::Summarizer::load(opt_.model_dir, opt_.tokenizer_dir);
    tasks::SummarizeOptions& o = summarize_opt_;
    o.generation = summarizer_->default_generation();
    o.batch_size = opt_.run.batch_size;
    o.plan_source = opt_.run.plan_source;
    o.seed = opt_.run.seed;
    o.attention = opt_.run.attention;
    o.precision = opt_.run.precision;
    o.threading = opt_.run.threading;
    bo.summarize = o;
    model_max = summarizer_->max_input_tokens();
    architecture_ = "BigBirdPegasusForConditionalGeneration";
  } else {
    tm_ = tasks::TaskModel::load(opt_.model_dir, opt_.tokenizer_dir);
    tasks::EmbedOptions pooling;
    pooling.pooling = opt_.pooling;
    tasks::EmbedTask check(*tm_, pooling);  // a bad --pooling fails at start
    model_max = tm_->max_tokens(opt_.run);
    architecture_ = architecture_name(tm_->model().architecture());
  }
  BB_CHECK(opt_.max_input_length >= 0 && opt_.max_input_length <= model_max, "--max-input-length ",
           opt_.max_input_length, " is more than the model takes (", model_max, " tokens)");
  max_input_length_ = opt_.max_input_length > 0 ? opt_.max_input_length : model_max;
  batcher_ = std::make_unique<Batcher>(
      bo, [this](int64_t r, int64_t t) { metrics_.batch(r, t); }, [this](int64_t n) { metrics_.queue_size(n); });
  ready_ = true;
}

void Service::shutdown() {
  stopping_ = true;
  if (batcher_) batcher_->stop();
}

void Service::check_ready() const {
  if (stopping_) bad(503, "Unhealthy", "the server is shutting down");
  if (!ready_) bad(503, "Unhealthy", "the model is loading");
}

const Tokenizer& Service::tokenizer() const { return tm_ ? tm_->tokenizer() : summarizer_->tokenizer(); }

Reply Service::get(const std::string& route) {
  try {
    if (route == "/metrics") return Reply{200, metrics_.text(), "text/plain; version=0.0.4"};
    check_ready();
    if (route == "/health") return Reply{200, "", "text/plain"};
    if (route == "/info") {
      json j;
      j["model_id"] = fs::path(opt_.model_dir).filename().string();
      j["model_dir"] = opt_.model_dir;
      j["architecture"] = architecture_;
      j["model_dtype"] = opt_.run.precision == Precision::BF16   ? "bfloat16"
                         : opt_.run.precision == Precision::Int8 ? "int8"
                                                                 : "float32";
      j["model_pooling"] = tm_ ? opt_.pooling : "";
      j["max_input_length"] = max_input_length_;
      j["max_batch_tokens"] = opt_.max_batch_tokens;
      j["max_concurrent_requests"] = opt_.max_concurrent_requests;
      j["max_client_batch_size"] = opt_.max_client_batch_size;
      j["threads"] = opt_.run.threading.threads();
      j["random_plan"] = opt_.run.plan_source == PlanSource::Zeros ? "zeros"
                         : opt_.run.plan_source == PlanSource::Seeded ? "seeded" : "hf";
      j["version"] = kVersion;
      return Reply{200, dump(j)};
    }
    bad(404, "Validation", "no route GET " + route);
  } catch (const ApiError& e) {
    return error_reply(e);
  }
}

Reply Service::post(const std::string& route, const std::string& body) {
  try {
    check_ready();
    const json req = parse_object(body);
    return Reply{200, dump(this->route(route, req))};
  } catch (const ApiError& e) {
    return error_reply(e);
  } catch (const Overloaded& e) {
    return Reply{429, error_body(e.what(), "Overloaded")};
  } catch (const tasks::TooLongError& e) {
    return Reply{413, error_body(e.what(), "Validation")};
  } catch (const tasks::InputError& e) {
    return Reply{422, error_body(e.what(), "Validation")};
  } catch (const std::bad_alloc&) {
    return Reply{424, error_body("out of memory", "Backend")};
  } catch (const std::exception& e) {
    return Reply{424, error_body(e.what(), "Backend")};
  }
}

std::vector<json> Service::run(const tasks::Task& task, const std::vector<tasks::InputRecord>& inputs,
                               std::vector<std::unique_ptr<tasks::Item>>* keep, int64_t* tokens, int64_t limit,
                               const char* limit_hint) {
  if (limit <= 0) limit = max_input_length_;
  if (!limit_hint) limit_hint = " (--max-input-length): shorten it, or send \"truncate\": true";
  std::vector<std::unique_ptr<tasks::Item>> items;
  auto job = std::make_shared<Job>();
  job->task = &task;
  for (size_t i = 0; i < inputs.size(); ++i) {
    try {
      items.push_back(task.prepare(inputs[i], opt_.run));
    } catch (const tasks::InputError& e) {
      const std::string where = inputs.size() > 1 ? "input " + std::to_string(i) + ": " : "";
      if (dynamic_cast<const tasks::TooLongError*>(&e)) bad(413, "Validation", where + e.what());
      invalid(where + e.what());
    }
    for (const int64_t n : items.back()->row_lengths()) {
      if (n > limit)
        bad(413, "Validation", (inputs.size() > 1 ? "input " + std::to_string(i) + ": " : std::string()) +
                                   "the input is " + std::to_string(n) + " tokens long, more than " +
                                   std::to_string(limit) + limit_hint);
      job->tokens += n;
    }
    job->items.push_back(items.back().get());
  }
  if (tokens) *tokens = job->tokens;
  batcher_->submit(job).get();
  std::vector<json> out;
  for (const auto& it : items) out.push_back(task.finish(*it));
  if (keep) *keep = std::move(items);
  return out;
}

json Service::route(const std::string& route, const json& req) {
  const auto need_encoder = [&](const char* what) {
    if (!tm_) bad(400, "Validation", std::string("the model in '") + opt_.model_dir + "' (" + architecture_ + ") has no BigBird encoder: " + what + " needs one");
  };
  const auto task_or_400 = [&](auto make) {
    try {
      return make();
    } catch (const tasks::InputError&) {
      throw;
    } catch (const Error& e) {
      // A head the checkpoint lacks: the route is not for this model; a bad option otherwise.
      const std::string m = e.what();
      if (m.find("checkpoint, which has no") != std::string::npos) bad(400, "Validation", m);
      invalid(m);
    }
  };

  if (route == "/embed" || route == "/v1/embeddings") {
    need_encoder(route.c_str());
    const bool openai = route == "/v1/embeddings";
    bool batch = false;
    const auto texts = get_texts(req, openai ? "input" : "inputs", batch, opt_.max_client_batch_size);
    const bool normalize = openai ? true : get_bool(req, "normalize", true);
    // Truncated unless "truncate": false, as `bigbird embed` (its default --truncation true).
    const bool truncate = get_bool(req, "truncate", true);
    std::string format = "float";
    if (openai) {
      format = get_string(req, "encoding_format", "float");
      if (format != "float" && format != "base64")
        invalid("\"encoding_format\" must be \"float\" or \"base64\", got \"" + format + "\"");
    }
    tasks::EmbedOptions eo;
    eo.pooling = opt_.pooling;
    eo.long_input.truncation = truncate;
    if (truncate) eo.long_input.max_length = max_input_length_;  // HF truncation=True, to --max-input-length
    auto task = task_or_400([&] { return tasks::EmbedTask(*tm_, eo); });
    std::vector<tasks::InputRecord> in(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) in[i].text = texts[i];
    int64_t tokens = 0;
    const std::vector<json> answers = run(task, in, nullptr, &tokens);
    if (!openai) {
      json out = json::array();
      for (const auto& a : answers) out.push_back(normalize ? float_array(l2_normalized(floats_of(a))) : a);
      return out;
    }
    json data = json::array();
    for (size_t i = 0; i < answers.size(); ++i) {
      const std::vector<float> v = l2_normalized(floats_of(answers[i]));
      json d;
      d["object"] = "embedding";
      d["embedding"] = format == "base64" ? json(base64_floats(v)) : float_array(v);
      d["index"] = i;
      data.push_back(std::move(d));
    }
    json out;
    out["object"] = "list";
    out["data"] = std::move(data);
    out["model"] = get_string(req, "model", fs::path(opt_.model_dir).filename().string());
    out["usage"] = {{"prompt_tokens", tokens}, {"total_tokens", tokens}};
    return out;
  }

  if (route == "/predict") {
    need_encoder("/predict");
    auto it = req.find("inputs");
    if (it == req.end() || it->is_null()) invalid("missing \"inputs\"");
    std::vector<tasks::InputRecord> in;
    const bool batch = it->is_array();
    auto record = [&](const json& x, const std::string& where) {
      tasks::InputRecord r;
      if (x.is_array()) {
        if (x.size() != 1 && x.size() != 2) invalid(where + " must be a string or a pair [str, str], got a list of " + std::to_string(x.size()));
        check_string(x[0], where + "[0]");
        r.text = x[0].get<std::string>();
        if (x.size() == 2) {
          check_string(x[1], where + "[1]");
          r.text_pair = x[1].get<std::string>();
        }
      } else {
        check_string(x, where);
        r.text = x.get<std::string>();
      }
      return r;
    };
    if (!batch) {
      in.push_back(record(*it, "\"inputs\""));
    } else {
      if (it->empty()) bad(400, "Empty", "\"inputs\" is an empty list");
      if (static_cast<int64_t>(it->size()) > opt_.max_client_batch_size)
        bad(413, "Validation", "batch size " + std::to_string(it->size()) + " > maximum allowed batch size " +
                                   std::to_string(opt_.max_client_batch_size) + " (--max-client-batch-size)");
      for (size_t i = 0; i < it->size(); ++i) in.push_back(record((*it)[i], "\"inputs\"[" + std::to_string(i) + "]"));
    }
    tasks::ClassifyOptions co;
    if (get_bool(req, "raw_scores", false)) co.function_to_apply = "none";
    if (get_bool(req, "truncate", false)) {  // HF truncation=True, to --max-input-length
      co.long_input.truncation = true;
      co.long_input.max_length = max_input_length_;
    }
    auto task = task_or_400([&] { return tasks::ClassifyTask(*tm_, co); });
    const std::vector<json> answers = run(task, in);
    if (!batch) return answers.front();
    json out = json::array();
    for (const auto& a : answers) out.push_back(a);
    return out;
  }

  if (route == "/tokenize") {
    bool batch = false;
    const auto texts = get_texts(req, "inputs", batch, opt_.max_client_batch_size);
    EncodeOptions eo;
    eo.add_special_tokens = get_bool(req, "add_special_tokens", true);
    json out = json::array();
    for (const std::string& t : texts) {
      if (utf8::find_invalid(t) != std::string::npos) invalid("the text is not valid UTF-8");
      const Encoding e = tokenizer().encode(t, eo);
      // Code-point offsets -> byte offsets (TEI's start/stop index the UTF-8 bytes of the text).
      std::vector<int64_t> byte_of_cp;  // where each code point starts, then the end
      for (size_t b = 0; b < t.size(); ++b)
        if ((static_cast<unsigned char>(t[b]) & 0xC0) != 0x80) byte_of_cp.push_back(static_cast<int64_t>(b));
      byte_of_cp.push_back(static_cast<int64_t>(t.size()));
      json toks = json::array();
      for (size_t i = 0; i < e.size(); ++i) {
        json k;
        k["id"] = e.input_ids[i];
        const bool special = e.sequence_ids[i] < 0;
        if (special) {
          k["text"] = e.tokens[i];
          k["special"] = true;
          k["start"] = nullptr;
          k["stop"] = nullptr;
        } else {
          const int64_t b = byte_of_cp[static_cast<size_t>(e.offsets[i].first)];
          const int64_t en = byte_of_cp[static_cast<size_t>(e.offsets[i].second)];
          k["text"] = t.substr(static_cast<size_t>(b), static_cast<size_t>(en - b));
          k["special"] = false;
          k["start"] = b;
          k["stop"] = en;
        }
        toks.push_back(std::move(k));
      }
      out.push_back(std::move(toks));
    }
    return out;
  }

  if (route == "/decode") {
    auto it = req.find("ids");
    if (it == req.end() || it->is_null()) invalid("missing \"ids\"");
    if (!it->is_array()) invalid(std::string("\"ids\" must be a list of integers or of lists of integers, got ") + it->type_name());
    if (it->empty()) bad(400, "Empty", "\"ids\" is an empty list");
    const bool skip = get_bool(req, "skip_special_tokens", true);
    std::vector<std::vector<int64_t>> seqs;
    auto ids_of = [&](const json& a, const std::string& where) {
      std::vector<int64_t> ids;
      for (const auto& x : a) {
        if (!x.is_number_integer()) invalid(where + " must hold integers, got " + x.type_name());
        const int64_t id = x.get<int64_t>();
        if (id < 0 || id >= tokenizer().vocab_size())
          invalid(where + ": id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(tokenizer().vocab_size()) + ")");
        ids.push_back(id);
      }
      return ids;
    };
    if ((*it)[0].is_array()) {
      if (static_cast<int64_t>(it->size()) > opt_.max_client_batch_size)
        bad(413, "Validation", "batch size " + std::to_string(it->size()) + " > maximum allowed batch size " +
                                   std::to_string(opt_.max_client_batch_size));
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_array()) invalid("\"ids\"[" + std::to_string(i) + "] must be a list of integers");
        seqs.push_back(ids_of((*it)[i], "\"ids\"[" + std::to_string(i) + "]"));
      }
    } else {
      seqs.push_back(ids_of(*it, "\"ids\""));
    }
    json out = json::array();
    for (const auto& s : seqs) out.push_back(tokenizer().decode(s, skip));
    return out;
  }

  if (route == "/fill-mask") {
    need_encoder("/fill-mask");
    const tasks::InputRecord r = tasks::parse_record(dump(req), tasks::InputKind::Text);
    tasks::FillMaskOptions o;
    o.top_k = get_positive_int(req, "top_k", o.top_k);
    auto task = task_or_400([&] { return tasks::FillMaskTask(*tm_, o); });
    return run(task, {r}).front();
  }
  if (route == "/score") {
    // `bigbird score`: {"inputs": str | [str]} -> its answer, or a list of them (one per text).
    need_encoder("/score");
    bool batch = false;
    const auto texts = get_texts(req, "inputs", batch, opt_.max_client_batch_size);
    auto task = task_or_400([&] { return tasks::ScoreTask(*tm_); });
    std::vector<tasks::InputRecord> in(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) in[i].text = texts[i];
    // A text of n tokens is n rows of n tokens (n forward passes): bounded apart from --max-input-length.
    const std::vector<json> answers =
        run(task, in, nullptr, nullptr, std::min(max_input_length_, opt_.max_score_tokens),
            " (--max-score-tokens: scoring n tokens costs n forward passes)");
    if (!batch) return answers.front();
    json out = json::array();
    for (const auto& a : answers) out.push_back(a);
    return out;
  }
  if (route == "/qa") {
    need_encoder("/qa");
    const tasks::InputRecord r = tasks::parse_record(dump(req), tasks::InputKind::QuestionContext);
    tasks::QaOptions o;
    o.top_k = get_positive_int(req, "top_k", o.top_k);
    o.max_answer_len = get_positive_int(req, "max_answer_len", o.max_answer_len);
    o.handle_impossible_answer = get_bool(req, "handle_impossible_answer", false);
    auto task = task_or_400([&] { return tasks::QaTask(*tm_, o); });
    return run(task, {r}).front();
  }
  if (route == "/tag") {
    need_encoder("/tag");
    const tasks::InputRecord r = tasks::parse_record(dump(req), tasks::InputKind::Text);
    tasks::TagOptions o;
    o.aggregation = get_string(req, "aggregation", o.aggregation);
    if (auto il = req.find("ignore_labels"); il != req.end() && !il->is_null()) {
      if (!il->is_array()) invalid("\"ignore_labels\" must be a list of strings");
      o.ignore_labels.clear();
      for (const auto& l : *il) {
        if (!l.is_string()) invalid("\"ignore_labels\" must be a list of strings");
        o.ignore_labels.push_back(l.get<std::string>());
      }
    }
    auto task = task_or_400([&] { return tasks::TagTask(*tm_, o); });
    return run(task, {r}).front();
  }
  if (route == "/summarize") {
    if (!summarizer_)
      bad(400, "Validation", "the model in '" + opt_.model_dir + "' (" + architecture_ +
                                 ") is not a BigBird-Pegasus checkpoint: /summarize needs one");
    const tasks::InputRecord r = tasks::parse_record(dump(req), tasks::InputKind::Text);
    tasks::SummaryJob sj;
    sj.input = summarizer_->prepare(r.text, summarize_opt_);
    auto job = std::make_shared<Job>();
    job->summarizer = summarizer_.get();
    job->summaries = {&sj};
    job->tokens = static_cast<int64_t>(sj.input.input_ids.size());
    batcher_->submit(job).get();
    return sj.answer;
  }
  bad(404, "Validation", "no route POST " + route);
}

std::shared_ptr<EventStream> Service::summarize_stream(const std::string& body) {
  check_ready();
  const json req = parse_object(body);
  if (!get_bool(req, "stream", false)) return nullptr;
  if (!summarizer_)
    bad(400, "Validation", "the model in '" + opt_.model_dir + "' (" + architecture_ +
                               ") is not a BigBird-Pegasus checkpoint: /summarize needs one");
  tasks::InputRecord r;
  try {
    r = tasks::parse_record(dump(req), tasks::InputKind::Text);
  } catch (const tasks::InputError& e) {
    invalid(e.what());
  }
  auto sj = std::make_shared<tasks::SummaryJob>();
  try {
    sj->input = summarizer_->prepare(r.text, summarize_opt_);
  } catch (const tasks::InputError& e) {
    invalid(e.what());
  }
  auto stream = std::make_shared<EventStream>();
  // Greedy search: each step's prefix is final, so its new text is sent as it comes (the text
  // decoded so far, minus what was sent). Beam search: the tokens come with the answer.
  const bool live = summarize_opt_.generation.num_beams == 1 && summarize_opt_.generation.num_return_sequences == 1;
  struct State {
    std::string sent;
    size_t tokens = 1;  // the decoder start token is no output
  };
  auto state = std::make_shared<State>();
  const Tokenizer* tok = &summarizer_->tokenizer();
  const bool clean = summarize_opt_.clean_up_tokenization_spaces;
  auto send_tokens = [stream, state, tok, clean](const int64_t* ids, size_t n) {
    for (; state->tokens < n; ++state->tokens) {
      const std::vector<int64_t> prefix(ids + 1, ids + state->tokens + 1);
      const std::string text = tok->decode(prefix, true, clean);
      std::string delta;
      if (text.compare(0, state->sent.size(), state->sent) == 0) {
        delta = text.substr(state->sent.size());
        state->sent = text;
      }
      const int64_t id = ids[state->tokens];
      json ev;
      ev["token"] = {{"id", id}, {"text", delta}, {"special", tok->is_special_id(id)}};
      ev["generated_text"] = nullptr;
      stream->push("data: " + dump(ev) + "\n\n");
    }
  };
  if (live)
    sj->on_step = [send_tokens](const SearchState& st) {
      send_tokens(st.tokens, static_cast<size_t>(st.cur_len));
    };
  auto job = std::make_shared<Job>();
  job->summarizer = summarizer_.get();
  job->summaries = {sj.get()};
  job->tokens = static_cast<int64_t>(sj->input.input_ids.size());
  // The text after the last streamed token (the last step's token is in no step's prefix),
  // then the answer as the non-streamed route gives it; or the error.
  job->on_finish = [stream, sj, state]() {
    json ev;
    if (sj->answer.is_array() && !sj->answer.empty()) {
      const std::string text = sj->answer[0]["summary_text"].get<std::string>();
      if (text.size() > state->sent.size() && text.compare(0, state->sent.size(), state->sent) == 0) {
        json last;
        last["token"] = {{"id", nullptr}, {"text", text.substr(state->sent.size())}, {"special", false}};
        last["generated_text"] = nullptr;
        stream->push("data: " + dump(last) + "\n\n");
      }
      ev["token"] = nullptr;
      ev["generated_text"] = text;
      ev["summary"] = sj->answer;
    } else {
      ev["error"] = "the model failed to summarize this input";
      ev["error_type"] = "Backend";
    }
    stream->push("data: " + dump(ev) + "\n\n");
    stream->close();
  };
  batcher_->submit(job);
  return stream;
}

}  // namespace bigbird::serve
