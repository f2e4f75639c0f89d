// `bigbird serve`: an HTTP server with text-embeddings-inference's and OpenAI's routes and this
// engine's tasks (src/serve/service.h), with dynamic batching (src/serve/batcher.h). It listens
// first (GET /health answers 503 while the model loads), loopback by default. SIGTERM or SIGINT:
// stop listening, answer the requests in flight, exit 0.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <thread>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "serve/http_server.h"
#include "serve/service.h"

namespace bigbird::cli {

namespace {

int g_signal_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_serve_signal(int sig) {
  g_signal = sig;
  const char c = 's';
  if (g_signal_pipe[1] >= 0) (void)!::write(g_signal_pipe[1], &c, 1);
}

struct ServeArgs {
  serve::ServeOptions serve;
  serve::HttpOptions http;
  CommonOptions common;
  int64_t payload_limit = 2000000;
};

int run(ServeArgs& a) {
  a.common.check();
  a.serve.run = a.common.run_options();
  a.serve.run.batch_size = std::max(1, a.serve.run.threading.threads());
  a.http.payload_limit = static_cast<size_t>(a.payload_limit);
  a.http.threads = static_cast<int>(std::clamp<int64_t>(a.serve.max_concurrent_requests + 4, 8, 128));

  serve::Service svc(a.serve);
  serve::HttpServer http(svc, a.http);
  const int port = http.bind();
  serve::log_line("info", "listening", {{"host", a.http.host}, {"port", port}, {"model", a.serve.model_dir}});

  BB_CHECK(::pipe(g_signal_pipe) == 0, "cannot create a pipe: ", std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_serve_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::thread watcher([&] {
    char c = 0;
    while (::read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c == 'x') return;  // the server has stopped
    // A signal or a failed load: stop the server once it runs (stop() before that does nothing).
    for (int i = 0; i < 1000 && !http.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (g_signal != 0)
      serve::log_line("info", "shutting down: finishing the requests in flight",
                      {{"signal", g_signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    http.stop();
  });

  std::exception_ptr load_error;
  std::thread loader([&] {
    try {
      svc.load();
      serve::log_line("info", "ready", {{"max_input_length", svc.max_input_length()}});
    } catch (...) {
      load_error = std::current_exception();
      const char c = 'e';
      (void)!::write(g_signal_pipe[1], &c, 1);
    }
  });
  http.run();  // until stopped; the requests in flight are answered
  loader.join();
  const char c = 'x';
  (void)!::write(g_signal_pipe[1], &c, 1);  // ends the watcher if no signal came
  watcher.join();
  svc.shutdown();
  if (load_error) std::rethrow_exception(load_error);
  serve::log_line("info", "stopped");
  return 0;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  app.add_option("--model", a->serve.model_dir,
                 "checkpoint directory (a BigBird model; a BigBird-Pegasus one serves /summarize)")
      ->required();
  app.add_option("--tokenizer", a->serve.tokenizer_dir, "directory with the tokenizer files (default: --model)");
  app.add_option("--host", a->http.host, "address to listen on (default 127.0.0.1: this machine only)");
  app.add_option("--port", a->http.port, "port (default 8080; 0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--max-batch-tokens", a->serve.max_batch_tokens,
                 "input tokens of the requests encoded together (default 16384; a larger request runs alone)")
      ->check(positive_number());
  app.add_option("--max-concurrent-requests", a->serve.max_concurrent_requests,
                 "requests queued or running at once; more get 429 (default 512)")
      ->check(positive_number());
  app.add_option("--max-input-length", a->serve.max_input_length,
                 "tokens per input (default: the most the model takes); longer inputs get 413 unless truncated")
      ->check(positive_number());
  app.add_option("--max-score-tokens", a->serve.max_score_tokens,
                 "tokens per /score text (default 512, at most --max-input-length): a text of n tokens costs n "
                 "forward passes; longer texts get 413")
      ->check(positive_number());
  app.add_option("--max-client-batch-size", a->serve.max_client_batch_size,
                 "inputs per request (default 32, as TEI); more get 413")
      ->check(positive_number());
  app.add_option("--payload-limit", a->payload_limit, "request body bytes (default 2000000, as TEI); more get 413")
      ->check(positive_number());
  app.add_option("--pooling", a->serve.pooling, "embedding pooling: mean (default, as bigbird embed) | cls | pooler")
      ->check(CLI::IsMember({"mean", "cls", "pooler"}));
  app.add_flag("--no-access-log", [a](int64_t) { a->http.access_log = false; }, "no log line per request");
  add_common_options(app, a->common);
  return [a] { return run(*a); };
}

}  // namespace bigbird::cli
