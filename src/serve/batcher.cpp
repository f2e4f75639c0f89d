#include "serve/batcher.h"

#include <typeinfo>

namespace bigbird::serve {

Batcher::Batcher(BatcherOptions opt, std::function<void(int64_t, int64_t)> on_batch,
                 std::function<void(int64_t)> on_queue)
    : opt_(std::move(opt)), on_batch_(std::move(on_batch)), on_queue_(std::move(on_queue)) {
  worker_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() { stop(); }

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> l(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t Batcher::queued() const {
  std::lock_guard<std::mutex> l(m_);
  return static_cast<int64_t>(queue_.size());
}

std::future<void> Batcher::submit(std::shared_ptr<Job> job) {
  std::future<void> f = job->done.get_future();
  int64_t n;
  {
    std::lock_guard<std::mutex> l(m_);
    if (stopping_) throw Overloaded("the server is shutting down");
    if (in_flight_ >= opt_.max_concurrent)
      throw Overloaded("Model is overloaded: " + std::to_string(in_flight_) +
                       " requests are queued or running (--max-concurrent-requests " +
                       std::to_string(opt_.max_concurrent) + ")");
    ++in_flight_;
    queue_.push_back(std::move(job));
    n = static_cast<int64_t>(queue_.size());
  }
  if (on_queue_) on_queue_(n);
  cv_.notify_one();
  return f;
}

void Batcher::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    int64_t left;
    {
      std::unique_lock<std::mutex> l(m_);
      cv_.wait(l, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, nothing left
      int64_t tokens = queue_.front()->tokens;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      while (!queue_.empty() && tokens + queue_.front()->tokens <= opt_.max_batch_tokens) {
        tokens += queue_.front()->tokens;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      left = static_cast<int64_t>(queue_.size());
    }
    if (on_queue_) on_queue_(left);
    run_batch(batch);
    {
      std::lock_guard<std::mutex> l(m_);
      in_flight_ -= static_cast<int64_t>(batch.size());
    }
  }
}

void Batcher::run_batch(std::vector<std::shared_ptr<Job>>& batch) {
  // Groups of one kind (a task class, or summaries), in queue order.
  std::vector<std::vector<Job*>> groups;
  auto kind = [](const Job* j) -> const std::type_info* {
    return j->task ? &typeid(*j->task) : &typeid(tasks::Summarizer);
  };
  int64_t tokens = 0;
  for (auto& j : batch) {
    tokens += j->tokens;
    bool placed = false;
    for (auto& g : groups)
      if (*kind(g.front()) == *kind(j.get())) {
        g.push_back(j.get());
        placed = true;
        break;
      }
    if (!placed) groups.push_back({j.get()});
  }
  for (auto& g : groups) {
    try {
      run_group(g);
      for (Job* j : g) j->done.set_value();
    } catch (...) {
      if (g.size() == 1) {
        g.front()->done.set_exception(std::current_exception());
      } else {
        // Find the job at fault: each one alone (the others' answers are the same bits).
        for (Job* j : g) {
          try {
            run_group({j});
            j->done.set_value();
          } catch (...) {
            j->done.set_exception(std::current_exception());
          }
        }
      }
    }
    for (Job* j : g)
      if (j->on_finish) j->on_finish();
  }
  if (on_batch_) on_batch_(static_cast<int64_t>(batch.size()), tokens);
}

void Batcher::run_group(const std::vector<Job*>& group) {
  if (group.front()->task) {
    std::vector<tasks::Item*> items;
    for (Job* j : group) items.insert(items.end(), j->items.begin(), j->items.end());
    tasks::run_items(*group.front()->task, items, opt_.run);
  } else {
    std::vector<tasks::SummaryJob*> jobs;
    for (Job* j : group) jobs.insert(jobs.end(), j->summaries.begin(), j->summaries.end());
    tasks::summarize_jobs(*group.front()->summarizer, jobs, opt_.summarize);
  }
}

}  // namespace bigbird::serve
