#include "serve/metrics.h"

#include <cstdio>
#include <sstream>

namespace bigbird::serve {

namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  if (i < counts_.size()) ++counts_[i];
  ++count_;
  sum_ += v;
}

std::string Histogram::text(const std::string& name, const std::string& help) const {
  std::ostringstream os;
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    os << name << "_bucket{le=\"" << num(bounds_[i]) << "\"} " << cum << "\n";
  }
  os << name << "_bucket{le=\"+Inf\"} " << count_ << "\n";
  os << name << "_sum " << num(sum_) << "\n" << name << "_count " << count_ << "\n";
  return os.str();
}

Metrics::Metrics()
    : latency_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      batch_requests_({1, 2, 4, 8, 16, 32, 64, 128, 256}),
      batch_tokens_({64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}) {}

void Metrics::request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> l(m_);
  ++requests_[{route, status}];
  latency_.observe(seconds);
}

void Metrics::batch(int64_t requests, int64_t tokens) {
  std::lock_guard<std::mutex> l(m_);
  ++batches_;
  tokens_ += static_cast<uint64_t>(tokens);
  batch_requests_.observe(static_cast<double>(requests));
  batch_tokens_.observe(static_cast<double>(tokens));
}

void Metrics::started() {
  std::lock_guard<std::mutex> l(m_);
  ++in_flight_;
}

void Metrics::finished() {
  std::lock_guard<std::mutex> l(m_);
  if (in_flight_ > 0) --in_flight_;
}

void Metrics::queue_size(int64_t n) {
  std::lock_guard<std::mutex> l(m_);
  queue_ = n;
}

std::string Metrics::text() const {
  std::lock_guard<std::mutex> l(m_);
  std::ostringstream os;
  os << "# HELP bigbird_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE bigbird_requests_total counter\n";
  for (const auto& [k, n] : requests_)
    os << "bigbird_requests_total{route=\"" << k.first << "\",status=\"" << k.second << "\"} " << n << "\n";
  os << latency_.text("bigbird_request_duration_seconds", "Time from a request's arrival to its answer.");
  os << "# HELP bigbird_queue_size Requests waiting for the model.\n# TYPE bigbird_queue_size gauge\n"
     << "bigbird_queue_size " << queue_ << "\n";
  os << "# HELP bigbird_requests_in_flight HTTP requests being handled.\n"
        "# TYPE bigbird_requests_in_flight gauge\n"
     << "bigbird_requests_in_flight " << in_flight_ << "\n";
  os << "# HELP bigbird_batches_total Batches run by the model.\n# TYPE bigbird_batches_total counter\n"
     << "bigbird_batches_total " << batches_ << "\n";
  os << batch_requests_.text("bigbird_batch_requests", "Requests per batch.");
  os << batch_tokens_.text("bigbird_batch_tokens", "Input tokens per batch.");
  os << "# HELP bigbird_tokens_total Input tokens run through the model.\n# TYPE bigbird_tokens_total counter\n"
     << "bigbird_tokens_total " << tokens_ << "\n";
  return os.str();
}

}  // namespace bigbird::serve
