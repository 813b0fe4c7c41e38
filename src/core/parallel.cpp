// The CPU backend's worker threads (run_on_threads, parallel.hpp): one process-wide pool, so
// that a parallel pass costs a wake-up of parked threads (microseconds) rather than starting and
// joining threads on each call (about 0.1 ms, more than a small predict's whole product).
//
// One job at a time: a caller takes the pool with try_lock, publishes (work, arg, places) under
// the pool's mutex with a new generation number, runs its own share, withdraws the places no
// helper has claimed yet and waits for the helpers that did. A helper claims a place only under
// the mutex, so it never pairs one generation's number with another's job. Between jobs, helpers spin for a short while before
// parking on the condition variable: a pass that follows another (a check, then a product) finds
// them awake. The pool is never destroyed (threads parked at exit are ended with the process);
// in a child after fork, where its threads do not exist, the next call starts a new one.
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <memory>

#include "parallel.hpp"

namespace gpulearn::detail {

namespace {

// Set while a thread runs a pool job: a parallel_for inside it runs on that thread alone.
thread_local bool t_in_job = false;

// How long a helper keeps spinning after a job before it parks.
constexpr auto kSpin = std::chrono::microseconds(100);

class Pool {
 public:
  explicit Pool(int64_t n_helpers) {
    threads_.reserve(n_helpers);
    for (int64_t i = 0; i < n_helpers; ++i) threads_.emplace_back([this] { serve(); });
  }

  int64_t size() const { return static_cast<int64_t>(threads_.size()); }

  /// Runs work(arg) here and on up to `helpers` pool threads (helpers <= size()); false, doing
  /// nothing, where another caller holds the pool. Helpers that have not claimed a place by the
  /// time the caller's own share is done are not waited for: their places are withdrawn (the
  /// tasks are gone by then), so a small pass never waits for a parked thread to wake.
  bool run(int64_t helpers, void (*work)(void*), void* arg) {
    std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
    if (!submit.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_ = work;
      arg_ = arg;
      open_ = helpers;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    t_in_job = true;
    work(arg);
    t_in_job = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = 0;  // withdrawn: a helper waking from now on finds nothing to do
    }
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (running_.load(std::memory_order_acquire) != 0 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_.load(std::memory_order_relaxed) == 0; });
    return true;
  }

  /// Ends and joins the threads (only for a pool that lost the race to be the process's).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& th : threads_) th.join();
  }

 private:
  void serve() {
    uint64_t seen = 0;
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (generation_.load(std::memory_order_acquire) == seen &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      void (*work)(void*) = nullptr;
      void* arg = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        if (stopping_) return;
        seen = generation_.load(std::memory_order_relaxed);
        if (open_ == 0) continue;  // every place taken, or withdrawn
        --open_;
        running_.fetch_add(1, std::memory_order_relaxed);
        work = work_;
        arg = arg_;
      }
      t_in_job = true;
      work(arg);
      t_in_job = false;
      std::lock_guard<std::mutex> lock(mutex_);
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex submit_;  // held by the caller of the job in flight
  std::mutex mutex_;   // guards the job's fields, open_ and the parking
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> running_{0};  // helpers inside the job (changed under mutex_)
  void (*work_)(void*) = nullptr;
  void* arg_ = nullptr;
  int64_t open_ = 0;  // places still open to helpers in the current job
  bool stopping_ = false;
};

std::atomic<Pool*> g_pool{nullptr};

// The process's pool, started on first use; nullptr where there is one hardware thread.
Pool* pool() {
  Pool* current = g_pool.load(std::memory_order_acquire);
  if (current != nullptr) return current;
  const int64_t helpers = default_threads() - 1;
  if (helpers <= 0) return nullptr;
  static const bool registered = [] {
    // In a child after fork only the forking thread exists: forget (leak) the parent's pool.
    pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  auto fresh = std::make_unique<Pool>(helpers);
  if (g_pool.compare_exchange_strong(current, fresh.get(), std::memory_order_acq_rel)) {
    return fresh.release();
  }
  fresh->stop();  // another thread started the pool first
  return current;
}

}  // namespace

void run_on_threads(int64_t helpers, void (*work)(void*), void* arg) {
  if (helpers <= 0 || t_in_job) {  // nested: this thread alone takes every task
    work(arg);
    return;
  }
  Pool* p = pool();
  if (p != nullptr && helpers <= p->size() && p->run(helpers, work, arg)) return;
  // The pool is busy (another thread's pass) or smaller than asked for: threads for this call.
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (int64_t i = 0; i < helpers; ++i) threads.emplace_back(work, arg);
  work(arg);
  for (auto& th : threads) th.join();
}

}  // namespace gpulearn::detail
