// `bigbird serve` (src/serve/): the built binary started on a free loopback port, every route
// against the CLI's answer for the same input (bit for bit: the same tasks, the same default
// random plan "zeros"), every error status, concurrent clients (dynamic batching gives each
// request the answer it gets alone), 429 when the queue is full, and SIGTERM (requests in
// flight answered, exit 0). The Service (routes without sockets) answers 503 before its model
// is loaded.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "serve/service.h"
#include "tasks_test_util.h"
#include "text/tokenizer.h"

using namespace bigbird::test;
using nlohmann::json;

namespace {

const std::string kMlm = std::string(BIGBIRD_TEST_DATA) + "/../../models/tiny-mlm";
const std::string kTagger = std::string(BIGBIRD_TEST_DATA) + "/../../models/tiny-tagger";

// `bigbird serve --port 0 ...` as a child process; its stderr (JSON log lines) collected.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& args) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string cmd = "exec " + std::string(BIGBIRD_EXE) + " serve --port 0 --threads 2 " + args + " >/dev/null";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd_, buf, sizeof buf)) > 0) {
        std::lock_guard<std::mutex> l(m_);
        log_.append(buf, static_cast<size_t>(n));
      }
    });
    // The port from the "listening" line, then /health until the model is loaded.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (port_ == 0 && std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard<std::mutex> l(m_);
        std::istringstream in(log_);
        for (std::string line; std::getline(in, line);) {
          try {
            const json j = json::parse(line);
            if (j.value("message", "") == "listening") port_ = j["port"].get<int>();
          } catch (const std::exception&) {
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GT(port_, 0) << log();
    while (port_ > 0 && std::chrono::steady_clock::now() < until) {
      auto r = client().Get("/health");
      if (r && r->status == 200) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(ready_) << log();
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c;
  }
  // Sends `sig` and waits (up to 60 s) for the exit; returns the exit status (-1: killed or hung).
  int stop(int sig) {
    ::kill(pid_, sig);
    int st = 0;
    for (int i = 0; i < 6000; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string log() {
    std::lock_guard<std::mutex> l(m_);
    return log_;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
  bool ready_ = false, exited_ = false;
  std::thread reader_;
  std::mutex m_;
  std::string log_;
};

struct Answer {
  int status = 0;
  json body;
  std::string raw;
};

Answer post(const ServerProcess& s, const std::string& path, const std::string& body) {
  Answer a;
  auto r = s.client().Post(path.c_str(), body, "application/json");
  if (!r) {
    ADD_FAILURE() << "no answer from POST " << path << ": " << httplib::to_string(r.error());
    return a;
  }
  a.status = r->status;
  a.raw = r->body;
  try {
    a.body = json::parse(r->body);
  } catch (const std::exception&) {
  }
  return a;
}
Answer post(const ServerProcess& s, const std::string& path, const json& body) { return post(s, path, body.dump()); }

// A TEI error: the status, and {"error": non-empty string, "error_type": type}.
void expect_error(const Answer& a, int status, const std::string& type, const std::string& what) {
  EXPECT_EQ(a.status, status) << what << ": " << a.raw;
  ASSERT_TRUE(a.body.is_object()) << what << ": " << a.raw;
  ASSERT_TRUE(a.body.contains("error") && a.body["error"].is_string()) << what << ": " << a.raw;
  EXPECT_FALSE(a.body["error"].get<std::string>().empty()) << what;
  EXPECT_EQ(a.body["error_type"], type) << what << ": " << a.raw;
  EXPECT_EQ(a.body.size(), 2u) << what << ": " << a.raw;
}

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += i % 3 ? "river" : "Paris";
  }
  return s;
}

std::vector<float> decode_base64_floats(const std::string& b64) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::vector<unsigned char> bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    const int v = val(c);
    if (v < 0) break;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<unsigned char>((acc >> bits) & 0xFF));
    }
  }
  std::vector<float> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t u = uint32_t{bytes[4 * i]} | uint32_t{bytes[4 * i + 1]} << 8 | uint32_t{bytes[4 * i + 2]} << 16 |
                       uint32_t{bytes[4 * i + 3]} << 24;
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

}  // namespace

TEST(Serve, EmbedAndTokenizeRoutesMatchTheCli) {
  ServerProcess s("--model " + kMlm);
  const std::string text = "Paris is the capital of France.";
  const std::string longer = words(100);  // ~400 tokens, past the full-attention fall-back (176): block-sparse with the zeros plan

  // GET routes.
  EXPECT_EQ(s.client().Get("/health")->status, 200);
  auto info = json::parse(s.client().Get("/info")->body);
  EXPECT_EQ(info["architecture"], "BigBirdForPreTraining");
  EXPECT_EQ(info["model_dtype"], "float32");
  EXPECT_EQ(info["model_pooling"], "mean");
  EXPECT_EQ(info["max_input_length"], 1024);
  EXPECT_TRUE(info["version"].is_string());

  // normalize: false is `bigbird embed` exactly; the default (true) is that vector over its L2 norm.
  for (const std::string& t : {text, longer}) {
    const json cli = cli_json("embed --model " + kMlm + " --threads 1 " + sh(t));
    const Answer raw = post(s, "/embed", json{{"inputs", t}, {"normalize", false}});
    ASSERT_EQ(raw.status, 200) << raw.raw;
    EXPECT_EQ(raw.body, json::array({cli}));
    const Answer unit = post(s, "/embed", json{{"inputs", t}});
    ASSERT_EQ(unit.status, 200);
    double ss = 0;
    for (const auto& x : cli) ss += x.get<double>() * x.get<double>();
    const double norm = std::sqrt(ss);
    ASSERT_EQ(unit.body[0].size(), cli.size());
    double unit_ss = 0;
    for (size_t i = 0; i < cli.size(); ++i) {
      // One float32 rounding of x / norm: within half an ulp, below 1e-7 of the largest |value| (<= 1).
      EXPECT_NEAR(unit.body[0][i].get<double>(), cli[i].get<double>() / norm, 1e-7);
      unit_ss += unit.body[0][i].get<double>() * unit.body[0][i].get<double>();
    }
    EXPECT_NEAR(unit_ss, 1.0, 1e-5);  // 64 values each off by < 1e-7 relative
  }

  // A batch: each vector the one its input gets alone; OpenAI's route: the same normalised vectors.
  const std::vector<std::string> texts = {text, longer, "Short.", words(40)};
  const Answer batch = post(s, "/embed", json{{"inputs", texts}});
  ASSERT_EQ(batch.status, 200);
  int64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(batch.body[i], post(s, "/embed", json{{"inputs", texts[i]}}).body[0]) << i;
    tokens += static_cast<int64_t>(cli_json("tokenize --model " + kMlm + " " + sh(texts[i]))["input_ids"].size());
  }
  const Answer oa = post(s, "/v1/embeddings", json{{"input", texts}, {"model", "bigbird-tiny"}});
  ASSERT_EQ(oa.status, 200) << oa.raw;
  EXPECT_EQ(oa.body["object"], "list");
  EXPECT_EQ(oa.body["model"], "bigbird-tiny");
  EXPECT_EQ(oa.body["usage"]["prompt_tokens"], tokens);
  EXPECT_EQ(oa.body["usage"]["total_tokens"], tokens);
  ASSERT_EQ(oa.body["data"].size(), texts.size());
  const Answer b64 = post(s, "/v1/embeddings", json{{"input", texts}, {"encoding_format", "base64"}});
  ASSERT_EQ(b64.status, 200) << b64.raw;
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(oa.body["data"][i]["object"], "embedding");
    EXPECT_EQ(oa.body["data"][i]["index"], i);
    EXPECT_EQ(oa.body["data"][i]["embedding"], batch.body[i]);
    const std::vector<float> f = decode_base64_floats(b64.body["data"][i]["embedding"].get<std::string>());
    ASSERT_EQ(f.size(), batch.body[i].size());
    for (size_t k = 0; k < f.size(); ++k) EXPECT_EQ(f[k], static_cast<float>(batch.body[i][k].get<double>()));
  }
  const Answer one = post(s, "/v1/embeddings", json{{"input", text}});
  EXPECT_EQ(one.body["data"][0]["embedding"], batch.body[0]);

  // /tokenize: the CLI's ids; byte offsets into the text; special tokens without offsets.
  const std::string utf = "Ça coûte 5 €, [MASK] non?";
  const json cli_tok = cli_json("tokenize --model " + kMlm + " " + sh(utf));
  const Answer tk = post(s, "/tokenize", json{{"inputs", utf}});
  ASSERT_EQ(tk.status, 200) << tk.raw;
  ASSERT_EQ(tk.body.size(), 1u);
  ASSERT_EQ(tk.body[0].size(), cli_tok["input_ids"].size());
  std::vector<int64_t> ids;
  for (size_t i = 0; i < tk.body[0].size(); ++i) {
    const json& t = tk.body[0][i];
    EXPECT_EQ(t["id"], cli_tok["input_ids"][i]);
    ids.push_back(t["id"].get<int64_t>());
    if (t["special"].get<bool>()) {
      EXPECT_TRUE(t["start"].is_null());
      EXPECT_EQ(t["text"], cli_tok["tokens"][i]);
    } else {
      const size_t b = t["start"].get<size_t>(), e = t["stop"].get<size_t>();
      EXPECT_EQ(t["text"], utf.substr(b, e - b));
    }
  }
  EXPECT_TRUE(tk.body[0].front()["special"].get<bool>());  // [CLS]
  const Answer nosp = post(s, "/tokenize", json{{"inputs", {utf, text}}, {"add_special_tokens", false}});
  ASSERT_EQ(nosp.body.size(), 2u);
  EXPECT_EQ(nosp.body[0].size() + 2, tk.body[0].size());

  // /decode: the tokenizer's decode.
  auto tokenizer = bigbird::Tokenizer::load(kMlm);
  const Answer dec = post(s, "/decode", json{{"ids", ids}});
  ASSERT_EQ(dec.status, 200) << dec.raw;
  EXPECT_EQ(dec.body, json::array({tokenizer->decode(ids, true)}));
  const Answer dec2 = post(s, "/decode", json{{"ids", {ids, ids}}, {"skip_special_tokens", false}});
  EXPECT_EQ(dec2.body, json::array({tokenizer->decode(ids, false), tokenizer->decode(ids, false)}));

  // /fill-mask: the CLI's answer.
  const std::string masked = "Paris is the [MASK] of France.";
  EXPECT_EQ(post(s, "/fill-mask", json{{"text", masked}}).body, cli_json("fill-mask --model " + kMlm + " " + sh(masked)));
  EXPECT_EQ(post(s, "/fill-mask", json{{"text", masked}, {"top_k", 2}}).body,
            cli_json("fill-mask --model " + kMlm + " --top-k 2 " + sh(masked)));

  // /score: the CLI's answer; a list: each text's answer alone, in order.
  const std::string plain = "Paris is the capital of France.";
  const json score_cli = cli_json("score --model " + kMlm + " " + sh(plain));
  EXPECT_EQ(post(s, "/score", json{{"inputs", plain}}).body, score_cli);
  EXPECT_EQ(post(s, "/score", json{{"inputs", {plain, "Short."}}}).body,
            json::array({score_cli, cli_json("score --model " + kMlm + " Short.")}));

  // Metrics: Prometheus text with the counters.
  const std::string m = s.client().Get("/metrics")->body;
  for (const char* k : {"bigbird_requests_total{route=\"/embed\",status=\"200\"}", "bigbird_request_duration_seconds_bucket",
                        "bigbird_queue_size", "bigbird_batch_requests_bucket", "bigbird_tokens_total"})
    EXPECT_NE(m.find(k), std::string::npos) << k << "\n" << m;
}

TEST(Serve, ErrorsHaveTeiShapeAndStatus) {
  ServerProcess s("--model " + kMlm + " --max-client-batch-size 4 --payload-limit 100000");
  expect_error(post(s, "/embed", std::string("{\"inputs\": ")), 400, "Validation", "malformed JSON");
  expect_error(post(s, "/embed", std::string("[1, 2]")), 400, "Validation", "not an object");
  expect_error(post(s, "/embed", std::string("{\"inputs\": \"\xff\"}")), 400, "Validation", "invalid UTF-8");
  expect_error(post(s, "/embed", json{{"inputs", 5}}), 422, "Validation", "wrong type");
  expect_error(post(s, "/embed", json{{"inputs", {"a", 5}}}), 422, "Validation", "wrong element type");
  expect_error(post(s, "/embed", json{{"text", "a"}}), 422, "Validation", "missing inputs");
  expect_error(post(s, "/embed", json{{"inputs", "a"}, {"normalize", "yes"}}), 422, "Validation", "normalize type");
  expect_error(post(s, "/embed", json{{"inputs", json::array()}}), 400, "Empty", "empty list");
  expect_error(post(s, "/embed", json{{"inputs", ""}}), 400, "Empty", "empty text");
  expect_error(post(s, "/embed", json{{"inputs", {"a", "b", "c", "d", "e"}}}), 413, "Validation", "batch too large");
  expect_error(post(s, "/v1/embeddings", json{{"input", "a"}, {"encoding_format", "int8"}}), 422, "Validation",
               "encoding_format");
  // Too long: 413 with "truncate": false; truncated by default (the first 1024 tokens, as
  // `bigbird embed` with its default --truncation true).
  const std::string too_long = words(1500);
  expect_error(post(s, "/embed", json{{"inputs", too_long}, {"truncate", false}}), 413, "Validation", "too long");
  const Answer cut = post(s, "/embed", json{{"inputs", too_long}, {"truncate", true}});
  EXPECT_EQ(cut.status, 200) << cut.raw;
  const Answer by_default = post(s, "/embed", json{{"inputs", too_long}});
  EXPECT_EQ(by_default.status, 200) << by_default.raw;
  EXPECT_EQ(by_default.body, cut.body);
  expect_error(post(s, "/embed", std::string(200000, ' ')), 413, "Validation", "body over --payload-limit");
  // Routes this model has no head for, bad task inputs and options.
  expect_error(post(s, "/predict", json{{"inputs", "a"}}), 400, "Validation", "no classification head");
  expect_error(post(s, "/qa", json{{"question", "a"}, {"context", "b"}}), 400, "Validation", "no QA head");
  expect_error(post(s, "/summarize", json{{"text", "a"}}), 400, "Validation", "not Pegasus");
  expect_error(post(s, "/summarize", json{{"text", "a"}, {"stream", true}}), 400, "Validation", "not Pegasus (stream)");
  expect_error(post(s, "/fill-mask", json{{"text", "no mask here"}}), 422, "Validation", "no mask");
  expect_error(post(s, "/fill-mask", json{{"text", "a [MASK]"}, {"top_k", 0}}), 422, "Validation", "top_k");
  expect_error(post(s, "/fill-mask", json{{"txt", "a [MASK]"}}), 422, "Validation", "missing text");
  expect_error(post(s, "/score", json{{"inputs", "a [MASK] here"}}), 422, "Validation", "score of a masked text");
  expect_error(post(s, "/score", json{{"text", "a"}}), 422, "Validation", "score without inputs");
  expect_error(post(s, "/score", json{{"inputs", json::array()}}), 400, "Empty", "score of no texts");
  expect_error(post(s, "/score", json{{"inputs", json::array({"a", words(200)})}}), 413, "Validation",
               "score over --max-score-tokens (default 512)");
  expect_error(post(s, "/decode", json{{"ids", {1, 100000}}}), 422, "Validation", "id out of range");
  expect_error(post(s, "/decode", json{{"ids", "1 2"}}), 422, "Validation", "ids type");
  expect_error(post(s, "/nowhere", json{{"inputs", "a"}}), 404, "Validation", "unknown route");
  // Still healthy after all that.
  EXPECT_EQ(s.client().Get("/health")->status, 200);
  EXPECT_EQ(post(s, "/embed", json{{"inputs", "still here"}}).status, 200);
}

TEST(Serve, ConcurrentClientsGetTheirSingleRequestAnswers) {
  ServerProcess s("--model " + kMlm + " --max-batch-tokens 4096");
  std::vector<std::string> texts;
  for (int i = 0; i < 16; ++i) texts.push_back(words(3 + 15 * i) + " " + std::to_string(i));  // 10 to ~900 tokens
  std::vector<json> alone;
  for (const auto& t : texts) alone.push_back(post(s, "/embed", json{{"inputs", t}, {"normalize", false}}).body);
  const std::string masked = "The [MASK] flows through Paris.";
  const json fill_alone = post(s, "/fill-mask", json{{"text", masked}}).body;
  std::vector<json> got(texts.size() * 3);
  std::vector<json> fills(texts.size());
  std::vector<std::thread> clients;
  std::atomic<int> go{0};
  for (size_t c = 0; c < texts.size(); ++c)
    clients.emplace_back([&, c] {
      ++go;
      while (go.load() < static_cast<int>(texts.size())) std::this_thread::yield();
      for (int rep = 0; rep < 3; ++rep)
        got[c * 3 + static_cast<size_t>(rep)] =
            post(s, "/embed", json{{"inputs", texts[(c + static_cast<size_t>(rep)) % texts.size()]}, {"normalize", false}}).body;
      fills[c] = post(s, "/fill-mask", json{{"text", masked}}).body;
    });
  for (auto& t : clients) t.join();
  for (size_t c = 0; c < texts.size(); ++c) {
    for (int rep = 0; rep < 3; ++rep)
      EXPECT_EQ(got[c * 3 + static_cast<size_t>(rep)], alone[(c + static_cast<size_t>(rep)) % texts.size()]) << c << "/" << rep;
    EXPECT_EQ(fills[c], fill_alone) << c;
  }
}

TEST(Serve, FullQueueAnswers429) {
  ServerProcess s("--model " + kMlm + " --max-concurrent-requests 1");
  const std::string t = words(200);  // ~800 tokens
  std::vector<int> status(24, 0);
  std::vector<std::thread> clients;
  std::atomic<int> go{0};
  for (size_t c = 0; c < status.size(); ++c)
    clients.emplace_back([&, c] {
      ++go;
      while (go.load() < static_cast<int>(status.size())) std::this_thread::yield();
      const Answer a = post(s, "/embed", json{{"inputs", t}});
      status[c] = a.status;
      if (a.status == 429) expect_error(a, 429, "Overloaded", "queue full");
    });
  for (auto& th : clients) th.join();
  const int ok = static_cast<int>(std::count(status.begin(), status.end(), 200));
  const int busy = static_cast<int>(std::count(status.begin(), status.end(), 429));
  EXPECT_EQ(ok + busy, static_cast<int>(status.size()));
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);  // 24 clients at once, one admitted at a time
}

TEST(Serve, SigtermAnswersRequestsInFlightAndExitsZero) {
  ServerProcess s("--model " + kMlm);
  Answer in_flight;
  std::atomic<bool> answered{false};
  std::thread client([&] {
    in_flight = post(s, "/embed", json{{"inputs", std::vector<std::string>(24, words(200))}});
    answered = true;
  });
  // SIGTERM once the request is being handled (the /metrics request itself is the other one).
  // One reading of 2 can be the previous /metrics request still finishing (its count drops after
  // its answer is written), so two readings 50 ms apart, and the client at least 200 ms under way.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int seen = 0;
  while (!answered && std::chrono::steady_clock::now() < until && seen < 2) {
    auto m = s.client().Get("/metrics");
    const bool two = m && m->body.find("bigbird_requests_in_flight 2") != std::string::npos;
    seen = two ? seen + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(s.stop(SIGTERM), 0) << s.log();
  client.join();
  EXPECT_EQ(in_flight.status, 200) << in_flight.raw;
  EXPECT_NE(s.log().find("shutting down"), std::string::npos) << s.log();
}

TEST(Serve, SigintExitsZero) {
  ServerProcess s("--model " + kMlm);
  EXPECT_EQ(s.stop(SIGINT), 0) << s.log();
}

TEST(Serve, PredictQaTagMatchTheCli) {
  {
    ServerProcess s("--model " + kSeqCls + " --tokenizer " + kTok);
    const std::string q = "What is a license?", p = "A license is a permission.";
    const std::string cli = "classify --model " + kSeqCls + " --tokenizer " + kTok + " ";
    const json single = cli_json(cli + sh(q));
    const json pair = cli_json(cli + sh(q) + " --text-pair " + sh(p));
    EXPECT_EQ(post(s, "/predict", json{{"inputs", q}}).body, single);
    EXPECT_EQ(post(s, "/predict", json{{"inputs", json::array({json::array({q, p})})}}).body, json::array({pair}));
    EXPECT_EQ(post(s, "/predict", json{{"inputs", json::array({q, json::array({q, p})})}}).body, json::array({single, pair}));
    EXPECT_EQ(post(s, "/predict", json{{"inputs", q}, {"raw_scores", true}}).body,
              cli_json(cli + "--function-to-apply none " + sh(q)));
    expect_error(post(s, "/predict", json{{"inputs", json::array({json::array({q, p, q})})}}), 422, "Validation", "triple");
    expect_error(post(s, "/fill-mask", json{{"text", "a [MASK]"}}), 400, "Validation", "no MLM head");
    expect_error(post(s, "/score", json{{"inputs", "a"}}), 400, "Validation", "score without an MLM head");
  }
  {
    ServerProcess s("--model " + kQa + " --tokenizer " + kTok);
    const json in = {{"question", "Where is the river?"}, {"context", "The river flows through Paris in France."}};
    EXPECT_EQ(post(s, "/qa", in).body, cli_json("qa --model " + kQa + " --tokenizer " + kTok + " " + sh(in.dump())));
    json in3 = in;
    in3["top_k"] = 3;
    EXPECT_EQ(post(s, "/qa", in3).body,
              cli_json("qa --model " + kQa + " --tokenizer " + kTok + " --top-k 3 " + sh(in.dump())));
  }
  {
    ServerProcess s("--model " + kTagger);
    const std::string t = "Ada Lovelace lived in London with Charles Babbage.";
    EXPECT_EQ(post(s, "/tag", json{{"text", t}}).body, cli_json("tag --model " + kTagger + " " + sh(t)));
    EXPECT_EQ(post(s, "/tag", json{{"text", t}, {"aggregation", "none"}, {"ignore_labels", json::array()}}).body,
              cli_json("tag --model " + kTagger + " --aggregation none --ignore-labels '' " + sh(t)));
  }
}

TEST(Serve, SummarizeAndItsEventStream) {
  const std::string model = data_path("pegasus-tiny/model"), tok = data_path("tokenizer-hf/pegasus");
  ServerProcess s("--model " + model + " --tokenizer " + tok);
  const std::string text = "The river flows through the city. " + words(60);
  const json cli = cli_json("summarize --model " + model + " --tokenizer " + tok + " " + sh(text));
  const Answer a = post(s, "/summarize", json{{"text", text}});
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body, cli);
  // Server-sent events: "data: {...}" blocks; the token texts add up to the summary; the last
  // event holds the whole answer.
  auto r = s.client().Post("/summarize", json{{"text", text}, {"stream", true}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::vector<json> events;
  size_t pos = 0;
  while (pos < r->body.size()) {
    const size_t end = r->body.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos) << r->body;
    const std::string ev = r->body.substr(pos, end - pos);
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    events.push_back(json::parse(ev.substr(6)));
    pos = end + 2;
  }
  ASSERT_GE(events.size(), 2u);
  std::string joined;
  for (size_t i = 0; i + 1 < events.size(); ++i) joined += events[i]["token"]["text"].get<std::string>();
  const std::string summary = cli[0]["summary_text"];
  EXPECT_EQ(joined, summary);
  EXPECT_EQ(events.back()["generated_text"], summary);
  EXPECT_EQ(events.back()["summary"], cli);
  expect_error(post(s, "/embed", json{{"inputs", "a"}}), 400, "Validation", "embed on Pegasus");
  // Tokenize and decode use the Pegasus tokenizer.
  EXPECT_EQ(post(s, "/tokenize", json{{"inputs", "a b"}}).status, 200);
}

TEST(Serve, ServiceAnswers503UntilLoaded) {
  bigbird::serve::ServeOptions o;
  o.model_dir = kMlm;
  o.run.threading = bigbird::ThreadingContext(1);
  bigbird::serve::Service svc(o);
  const auto h = svc.get("/health");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(json::parse(h.body)["error_type"], "Unhealthy");
  EXPECT_EQ(svc.post("/embed", "{\"inputs\": \"a\"}").status, 503);
  svc.load();
  EXPECT_EQ(svc.get("/health").status, 200);
  const auto e = svc.post("/embed", "{\"inputs\": \"Paris\", \"normalize\": false}");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(json::parse(e.body), json::array({cli_json("embed --model " + kMlm + " Paris")}));
  svc.shutdown();
  EXPECT_EQ(svc.post("/embed", "{\"inputs\": \"a\"}").status, 503);
}
