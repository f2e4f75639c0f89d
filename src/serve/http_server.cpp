#include "serve/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <sys/socket.h>

#include "core/error.h"

namespace bigbird::serve {

using json = nlohmann::ordered_json;

namespace {

thread_local std::chrono::steady_clock::time_point t_start{};

std::string utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "no such route";
    case 405: return "method not allowed";
    case 413:
      return "the request body is too large: over --payload-limit bytes, or over 8192 bytes sent as "
             "application/x-www-form-urlencoded (curl -d's default: send Content-Type: application/json)";
    case 414: return "the request URI is too long";
    default: return "the request could not be read";
  }
}

}  // namespace

void log_line(const std::string& level, const std::string& message, const json& fields) {
  json j;
  j["time"] = utc_now();
  j["level"] = level;
  j["message"] = message;
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
  const std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// httplib 0.11 listens with a backlog of 5: a burst of clients overflows it and the kernel resets
// connections. The listening socket, to listen again with a longer queue.
struct ListeningServer : httplib::Server {
  void longer_backlog() {
    const socket_t fd = svr_sock_;
    if (fd != INVALID_SOCKET) ::listen(fd, SOMAXCONN);
  }
};

struct HttpServer::Impl {
  Service& svc;
  HttpOptions opt;
  ListeningServer server;
  Impl(Service& s, HttpOptions o) : svc(s), opt(std::move(o)) {}
};

HttpServer::HttpServer(Service& service, HttpOptions opt) : impl_(std::make_unique<Impl>(service, std::move(opt))) {
  Impl& m = *impl_;
  httplib::Server& s = m.server;
  Service& svc = m.svc;
  s.set_payload_max_length(m.opt.payload_limit);
  s.set_tcp_nodelay(true);  // no Nagle delay between the headers and the body of an answer
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_keep_alive_timeout(5);
  const int threads = m.opt.threads > 0 ? m.opt.threads : 0;
  s.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads > 0 ? threads : 8));
  };
  s.set_pre_routing_handler([&svc](const httplib::Request&, httplib::Response&) {
    t_start = std::chrono::steady_clock::now();
    svc.metrics().started();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  for (const std::string& r : Service::get_routes())
    s.Get(r, [&svc, r](const httplib::Request&, httplib::Response& res) {
      Reply rep = svc.get(r);
      res.status = rep.status;
      res.set_content(rep.body, rep.content_type);
    });
  for (const std::string& r : Service::post_routes())
    s.Post(r, [&svc, r](const httplib::Request& req, httplib::Response& res) {
      if (r == "/summarize") {
        std::shared_ptr<EventStream> stream;
        try {
          stream = svc.summarize_stream(req.body);
        } catch (const ApiError& e) {
          res.status = e.status;
          res.set_content(error_body(e.what(), e.type), "application/json");
          return;
        } catch (const Overloaded& e) {
          res.status = 429;
          res.set_content(error_body(e.what(), "Overloaded"), "application/json");
          return;
        }
        if (stream) {
          res.status = 200;
          res.set_header("Cache-Control", "no-cache");
          res.set_chunked_content_provider("text/event-stream", [stream](size_t, httplib::DataSink& sink) {
            std::string ev;
            if (stream->next(ev)) return sink.write(ev.data(), ev.size());
            sink.done();
            return true;
          });
          return;
        }
      }
      Reply rep = svc.post(r, req.body);
      res.status = rep.status;
      res.set_content(rep.body, rep.content_type);
    });
  // What httplib answers itself (unknown route, body too large, bad request line): TEI's shape.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = reason(res.status);
    if (res.status == 404) msg += ": " + req.method + " " + req.path;
    res.set_content(error_body(msg, "Validation"), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    res.status = 424;
    res.set_content(error_body(msg, "Backend"), "application/json");
  });
  const bool access_log = m.opt.access_log;
  s.set_logger([&svc, access_log](const httplib::Request& req, const httplib::Response& res) {
    double secs = 0;
    if (t_start.time_since_epoch().count() != 0) {
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      svc.metrics().finished();
    }
    t_start = {};
    std::string route = "other";
    for (const auto* list : {&Service::get_routes(), &Service::post_routes()})
      if (std::find(list->begin(), list->end(), req.path) != list->end()) route = req.path;
    svc.metrics().request(route, res.status, secs);
    if (access_log) {
      json f;
      f["method"] = req.method;
      f["path"] = req.path;
      f["status"] = res.status;
      f["duration_ms"] = std::round(secs * 1e6) / 1e3;
      f["request_bytes"] = req.body.size();
      f["response_bytes"] = res.body.size();
      f["remote"] = req.remote_addr;
      if (res.status >= 400 && !res.body.empty() && res.body.size() < 2000) {
        try {
          const auto e = json::parse(res.body);
          if (e.is_object() && e.contains("error")) f["error"] = e["error"];
        } catch (const std::exception&) {
        }
      }
      log_line(res.status >= 500 ? "error" : res.status >= 400 ? "warn" : "info", "request", f);
    }
  });
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  Impl& m = *impl_;
  int port = m.opt.port;
  if (port == 0) {
    port = m.server.bind_to_any_port(m.opt.host);
    if (port <= 0) fail("cannot listen on ", m.opt.host, ": no free port");
  } else if (!m.server.bind_to_port(m.opt.host, port)) {
    fail("cannot listen on ", m.opt.host, ":", port, " (address in use, or not an address of this machine)");
  }
  m.server.longer_backlog();
  return port;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

bool HttpServer::running() const { return impl_->server.is_running(); }

}  // namespace bigbird::serve
