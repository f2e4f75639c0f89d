// `bigbird serve`'s routes as functions of a request body, without sockets (http_server.h puts
// them on HTTP). Bodies and answers follow text-embeddings-inference (TEI) and OpenAI:
//   GET  /health /info /metrics
//   POST /embed          {"inputs": str | [str], "normalize": true, "truncate": false} -> [[float]]
//   POST /v1/embeddings  {"input": str | [str], "model": str, "encoding_format": "float" | "base64"}
//   POST /predict        {"inputs": str | [str | [str, str]], "raw_scores": false, "truncate": false}
//   POST /tokenize       {"inputs": str | [str], "add_special_tokens": true} -> [[{id, text, special, start, stop}]]
//   POST /decode         {"ids": [int] | [[int]], "skip_special_tokens": true} -> [str]
//   POST /fill-mask /qa /tag /summarize: the CLI's JSONL line in, its JSON answer out
// Every answer is the one `bigbird <task>` prints for that input (the same tasks, the same
// random plan, bit-identical whatever else is batched with it); /embed with "normalize": true
// divides the vector by its L2 norm, as TEI does.
//
// Errors: {"error": str, "error_type": str} with TEI's types: 400 Validation (body not a JSON
// object; a route the model has no head for) / Empty (no input or an empty text); 413 Validation
// (input over --max-input-length with "truncate": false, batch over --max-client-batch-size,
// body over --payload-limit); 422 Validation (a field of the wrong type, invalid UTF-8, an input
// a task refuses); 424 Backend (the model failed); 429 Overloaded (queue full); 503 Unhealthy
// (loading or shutting down).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "serve/batcher.h"
#include "serve/metrics.h"
#include "tasks/summarize.h"
#include "tasks/task.h"

namespace bigbird::serve {

// The server's version (GET /info).
inline constexpr const char* kVersion = "0.1.0";

struct ServeOptions {
  std::string model_dir, tokenizer_dir;
  tasks::RunOptions run;          // threads, attention, random plan (zeros: the CLI's default), bf16
  std::string pooling = "mean";   // /embed and /v1/embeddings (bigbird embed's default)
  int64_t max_batch_tokens = 16384;
  int64_t max_concurrent_requests = 512;
  int64_t max_input_length = 0;   // tokens per input; 0: the most the model takes
  int64_t max_client_batch_size = 32;
  // /score: tokens per text (capped by max_input_length). Scoring n tokens costs n forward passes.
  int64_t max_score_tokens = 512;
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)) {}
  int status;
  std::string type;
};

// {"error": message, "error_type": type}
std::string error_body(const std::string& message, const std::string& type);
Reply error_reply(const ApiError& e);

// Server-sent events of a streamed summary, filled by the batcher's worker and read by the
// HTTP thread: each event a complete "data: {...}\n\n".
class EventStream {
 public:
  void push(std::string event);
  void close();
  // Blocks until an event comes (true) or the stream is closed and drained (false).
  bool next(std::string& event);

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
  bool closed_ = false;
};

class Service {
 public:
  explicit Service(ServeOptions opt);
  ~Service();
  // Loads the checkpoint (BigBird, or BigBird-Pegasus for /summarize) and starts the batcher.
  // Throws bigbird::Error. Until it returns, every model route answers 503.
  void load();
  bool ready() const { return ready_; }
  // New requests get 503; the queued ones are run; returns when the batcher has stopped.
  void shutdown();

  // GET routes: "/health", "/info", "/metrics"; POST routes: the rest. Never throws.
  Reply get(const std::string& route);
  Reply post(const std::string& route, const std::string& body);
  // POST /summarize with "stream": true: checks the request and queues it (throws ApiError);
  // nullptr when the body does not ask for a stream (answer it with post()).
  std::shared_ptr<EventStream> summarize_stream(const std::string& body);

  Metrics& metrics() { return metrics_; }
  // The routes (for metrics labels): GET ones then POST ones.
  static const std::vector<std::string>& get_routes();
  static const std::vector<std::string>& post_routes();
  int64_t max_input_length() const { return max_input_length_; }

 private:
  void check_ready() const;
  const Tokenizer& tokenizer() const;
  nlohmann::ordered_json route(const std::string& route, const nlohmann::ordered_json& body);
  // prepare (per-request task) -> batcher -> finish: one answer per input.
  std::vector<nlohmann::ordered_json> run(const tasks::Task& task, const std::vector<tasks::InputRecord>& inputs,
                                          std::vector<std::unique_ptr<tasks::Item>>* keep = nullptr,
                                          int64_t* tokens = nullptr, int64_t limit = 0,
                                          const char* limit_hint = nullptr);  // rows over limit (0:
                                                                              // max_input_length_) get 413

  ServeOptions opt_;
  Metrics metrics_;
  std::unique_ptr<tasks::TaskModel> tm_;
  std::unique_ptr<tasks::Summarizer> summarizer_;
  tasks::SummarizeOptions summarize_opt_;
  std::unique_ptr<Batcher> batcher_;
  std::atomic<bool> ready_{false}, stopping_{false};
  int64_t max_input_length_ = 0;
  std::string architecture_;
};

}  // namespace bigbird::serve
