// `bigbird serve`'s HTTP side (cpp-httplib): the routes of service.h on a socket, a bounded body
// size, TEI-shaped errors for what httplib itself refuses (404, 413, ...), server-sent events for
// POST /summarize with "stream": true, one JSON access-log line per request on stderr, and request
// metrics. stop() ends listening; run() returns once every request in flight has been answered.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "serve/service.h"

namespace bigbird::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (bind() says which)
  size_t payload_limit = 2000000;     // request body bytes (TEI's default); more: 413
  int threads = 0;                    // connection threads; 0: max_concurrent_requests + 4, in [8, 128]
  bool access_log = true;
};

class HttpServer {
 public:
  HttpServer(Service& service, HttpOptions opt);
  ~HttpServer();
  // Binds the socket (before the model is loaded: /health answers 503 meanwhile); returns the
  // port. Throws bigbird::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); returns after the requests in flight are answered.
  void run();
  void stop();  // from any thread (not from a signal handler); no effect before run() starts
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One JSON line on stderr: {"time": ..., "level": ..., "message": ..., <fields>}.
void log_line(const std::string& level, const std::string& message, const nlohmann::ordered_json& fields = {});

}  // namespace bigbird::serve
