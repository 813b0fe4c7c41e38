// A minimal fork-join helper for the CPU backend: runs f(task) for task in [0, n_tasks) on up
// to n_threads threads. The task split is fixed by the caller, never by the thread count, so
// reductions over tasks give the same bits with any number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace gpulearn::detail {

// The thread count when the caller gives none (0): GPULEARN_NUM_THREADS, else every hardware
// thread; read once per process. (OMP_NUM_THREADS is not read: distributed sets it to 1 in the
// client's own process when it starts a LocalCluster, which would quietly make every later
// single-machine fit there single-threaded. gpulearn.dask gives its tasks their count itself.)
inline int default_threads() {
  static const int n = [] {
    if (const char* v = std::getenv("GPULEARN_NUM_THREADS")) {
      char* end = nullptr;
      const long k = std::strtol(v, &end, 10);
      if (end != v && k > 0) return static_cast<int>(std::min<long>(k, 1 << 12));
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }();
  return n;
}

inline int resolve_threads(int n_threads) { return n_threads > 0 ? n_threads : default_threads(); }

/// Runs work(arg) on the calling thread and on `helpers` more threads at once, returning when
/// every one has returned (work must not throw). The helpers come from one process-wide pool of
/// default_threads() - 1 threads, started on first use, kept parked between calls (a call costs a
/// wake-up, not a thread start: the per-call cost of small predict calls), and restarted in a
/// child after fork. Where the pool is taken (a concurrent call from another thread) or too small
/// for the request, the helpers are started for this call; a call made from inside a pool job
/// (nested parallelism) runs on its own thread alone. src/core/parallel.cpp.
void run_on_threads(int64_t helpers, void (*work)(void*), void* arg);

template <typename F>
void parallel_for(int64_t n_tasks, int n_threads, F&& f) {
  const int64_t workers = std::min<int64_t>(resolve_threads(n_threads), n_tasks);
  if (workers <= 1) {
    for (int64_t t = 0; t < n_tasks; ++t) f(t);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t t = next++; t < n_tasks; t = next++) {
      try {
        f(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  run_on_threads(
      workers - 1, [](void* w) { (*static_cast<decltype(work)*>(w))(); }, &work);
  if (error) std::rethrow_exception(error);
}

/// Splits [0, n) into parts of at least min_rows rows, at most max_parts of them; the split
/// depends on n alone.
struct RowSplit {
  int64_t n_parts;
  int64_t part_rows;
  RowSplit(int64_t n, int64_t min_rows, int64_t max_parts) {
    n_parts =
        std::max<int64_t>(1, std::min<int64_t>(max_parts, n / std::max<int64_t>(1, min_rows)));
    part_rows = (n + n_parts - 1) / n_parts;
  }
  int64_t begin(int64_t p, int64_t n) const { return std::min(n, p * part_rows); }
  int64_t count(int64_t p, int64_t n) const {
    return std::min(n, (p + 1) * part_rows) - begin(p, n);
  }
};

}  // namespace gpulearn::detail
