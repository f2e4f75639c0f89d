// Dynamic batching for `bigbird serve`: a bounded queue of jobs and one worker thread that takes
// the jobs waiting (up to max_batch_tokens input tokens; a larger job runs alone) and runs them
// together: encoder jobs of one task kind through tasks::run_items, summaries through
// tasks::summarize_jobs. Both run the inputs side by side, one thread each, never padded
// together, so every answer is bit-identical to the answer the input gets alone.
//
// Admission: at most max_concurrent jobs are queued or running; submit() refuses more with
// Overloaded (HTTP 429) instead of growing the queue.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tasks/summarize.h"
#include "tasks/task.h"

namespace bigbird::serve {

class Overloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One request's work. Encoder work: `task` (whose head runs the rows) and `items`; jobs whose
// tasks are of the same class run in one batch with the first job's task's head (a task's head
// depends on the model only, never on per-request options). Summaries: `summarizer` and `summaries`.
struct Job {
  const tasks::Task* task = nullptr;
  std::vector<tasks::Item*> items;
  const tasks::Summarizer* summarizer = nullptr;
  std::vector<tasks::SummaryJob*> summaries;
  int64_t tokens = 0;  // input tokens (batch budget and metrics)
  std::promise<void> done;
  std::function<void()> on_finish;  // optional: called on the worker after `done` is set
};

struct BatcherOptions {
  int64_t max_batch_tokens = 16384;
  int64_t max_concurrent = 512;
  tasks::RunOptions run;          // encoder runs (threads, plan, attention, dtype)
  tasks::SummarizeOptions summarize;  // summary runs (generation settings, threads, ...)
};

class Batcher {
 public:
  // `on_batch(requests, tokens)` is called after each batch; `on_queue(n)` when the queue changes.
  Batcher(BatcherOptions opt, std::function<void(int64_t, int64_t)> on_batch = {},
          std::function<void(int64_t)> on_queue = {});
  ~Batcher();  // stop()
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues the job; throws Overloaded when max_concurrent jobs are queued or running, or after stop().
  std::future<void> submit(std::shared_ptr<Job> job);
  // Runs what is queued, then ends the worker.
  void stop();
  int64_t queued() const;

 private:
  void loop();
  void run_batch(std::vector<std::shared_ptr<Job>>& batch);
  void run_group(const std::vector<Job*>& group);

  BatcherOptions opt_;
  std::function<void(int64_t, int64_t)> on_batch_;
  std::function<void(int64_t)> on_queue_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t in_flight_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace bigbird::serve
