// What `bigbird serve` counts, as Prometheus text (GET /metrics): requests by route and status,
// request latency and batch histograms, queue size, tokens processed. Thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bigbird::serve {

// A Prometheus histogram: cumulative bucket counts over fixed upper bounds, a sum and a count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double v);
  // "# TYPE name histogram" and its _bucket{le=...}, _sum and _count lines.
  std::string text(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative)
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  Metrics();
  // One answered HTTP request: `route` (the path of a known route, else "other"), its status, seconds taken.
  void request(const std::string& route, int status, double seconds);
  // One batch run by the batcher: the requests and encoder/decoder tokens it held.
  void batch(int64_t requests, int64_t tokens);
  void queue_size(int64_t n);
  // HTTP requests being handled (arrived, not yet answered).
  void started();
  void finished();
  std::string text() const;  // the Prometheus exposition

 private:
  mutable std::mutex m_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_, batch_requests_, batch_tokens_;
  uint64_t tokens_ = 0, batches_ = 0;
  int64_t queue_ = 0, in_flight_ = 0;
};

}  // namespace bigbird::serve
