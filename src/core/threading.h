// Explicit threading: a ThreadingContext is made once (from `--threads` in main, or by a test)
// and passed down to every kernel that runs in parallel; parallel_for is the one way work is
// split across threads. Nothing here reads or changes a global thread count.
//
// Results never depend on the thread count: every kernel splits its work into tasks fixed by
// the shape, and each task computes the same bits whichever thread runs it.
//
//   ThreadingContext ctx(2);
//   parallel_for(ctx, rows, [&](int64_t r) { ... });                 // one task per index
//   parallel_for(ctx, tiles, [&](int64_t t, int worker) { ... });    // worker ∈ [0, ctx.threads())
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <type_traits>

namespace bigbird {

class ThreadingContext {
 public:
  // `threads` ≤ 0: every core the process may use. Also tells OpenBLAS never to start threads
  // of its own (our tasks carry the parallelism; see pin_blas_to_one_thread).
  explicit ThreadingContext(int threads);
  ThreadingContext() : ThreadingContext(0) {}  // every core
  // One thread, for work nested inside a task of another context (e.g. one input per thread).
  static ThreadingContext serial() { return ThreadingContext(Serial{}); }

  int threads() const { return threads_; }
  // This context when `worth_it` (enough work to pay for a fork/join), else a serial one.
  ThreadingContext when(bool worth_it) const { return worth_it ? *this : serial(); }

 private:
  struct Serial {};
  explicit ThreadingContext(Serial) : threads_(1) {}
  int threads_ = 1;
};

// Makes OpenBLAS run every call on the calling thread. Its OpenMP build implements
// openblas_set_num_threads with omp_set_num_threads; the OpenMP default is restored after it.
void pin_blas_to_one_thread();

enum class Schedule {
  Dynamic,  // tasks handed out one at a time (uneven tasks)
  Static,   // equal contiguous ranges of tasks per thread (even, cheap tasks)
};

namespace detail {
// At the start of each worker: BLAS called inside a task runs single-threaded (the OpenMP
// thread count of this worker's own nested regions becomes 1; nothing outside the region changes).
inline void enter_worker() { omp_set_num_threads(1); }

template <typename F>
inline void call_task(F& f, int64_t i, int worker) {
  if constexpr (std::is_invocable_v<F&, int64_t, int>) f(i, worker);
  else f(i);
}
}  // namespace detail

// Runs f(i) (or f(i, worker)) for every i in [0, n) on the context's threads and returns when
// all are done. An exception thrown by a task is rethrown here (the one of the lowest index that
// threw); the other tasks still run.
template <typename F>
void parallel_for(const ThreadingContext& ctx, int64_t n, F&& f, Schedule schedule = Schedule::Dynamic) {
  if (n <= 0) return;
  const int team = static_cast<int>(std::min<int64_t>(ctx.threads(), n));
  std::exception_ptr error;
  int64_t error_index = n;
#pragma omp parallel num_threads(team)
  {
    detail::enter_worker();
    const int worker = omp_get_thread_num();
    auto run = [&](int64_t i) {
      try {
        detail::call_task(f, i, worker);
      } catch (...) {
#pragma omp critical(bigbird_parallel_for_error)
        if (i < error_index) {
          error_index = i;
          error = std::current_exception();
        }
      }
    };
    if (schedule == Schedule::Dynamic) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < n; ++i) run(i);
    } else {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) run(i);
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace bigbird
