// Kernel execution: a grid runs block after block; the threads of a block are fibers
// (Boost.Context) scheduled cooperatively, switching only at __syncthreads and the warp
// intrinsics, which follow independent thread scheduling (sm_70+): the lanes named in a mask
// meet, whatever their path. Every misuse that hangs or is undefined on hardware (a barrier
// some threads never reach, a lane that exits while named in a mask, masks that disagree) is
// a fault naming the kernel, the lanes and the source line.
//
// Races: each grid runs twice, threads in ascending and then in descending order between
// synchronisation points, from the same snapshot of memory; if the two runs leave different
// memory, a barrier or a __syncwarp is missing (or threads write one location), and the
// launch faults. Atomics whose returned value is read make a result order-dependent by
// design; such launches are exempt from the comparison.
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gpulearn_emu/device.hpp"
#include "gpulearn_emu/launch.hpp"
#include "runtime_state.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(GPULEARN_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace gpulearn_emu {

ThreadState* g_current = nullptr;
thread_local KernelBounds* g_probe = nullptr;

namespace {

namespace bctx = boost::context;

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v, &end, 10);
  return end != v && *end == '\0' ? static_cast<size_t>(x) : fallback;
}

// Fiber stacks, reused from block to block (a block has up to 1024 threads). Each stack's top
// is offset by a different multiple of 1 KiB (and of 64 bytes) within 128 KiB: the hot frames of
// hundreds of suspended fibers then spread over the cache sets instead of all mapping to the
// same few (the stacks are page-aligned blocks of one size), which made every switch a miss.
class StackPool {
 public:
  explicit StackPool(size_t size) : size_(size) {}
  bctx::stack_context allocate() {
    if (!free_.empty()) {
      const bctx::stack_context sc = free_.back();
      free_.pop_back();
      return sc;
    }
    constexpr size_t kColours = 128, kColourStep = 1024, kSubStep = 64, kSubColours = 16;
    const size_t colour = (made_ % kColours) * kColourStep + (made_ / kColours % kSubColours) * kSubStep;
    ++made_;
    void* p = std::malloc(size_ + kColours * kColourStep);
    if (p == nullptr) throw std::bad_alloc();
    bctx::stack_context sc;
    sc.size = size_;
    sc.sp = static_cast<char*>(p) + size_ + colour;
    return sc;
  }
  void deallocate(bctx::stack_context& sc) {
#if defined(__SANITIZE_ADDRESS__) || defined(GPULEARN_EMU_ASAN)
    // A fiber unwound by an exception (a failed block) leaves its frames' red zones poisoned
    // (AddressSanitizer does not know fiber stacks): clear them before the stack is reused.
    if (unwinding) ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(sc.sp) - sc.size, sc.size);
#endif
    free_.push_back(sc);
  }
  bool unwinding = false;
  size_t size() const { return size_; }

 private:
  size_t size_;
  size_t made_ = 0;
  std::vector<bctx::stack_context> free_;
};

StackPool& stacks() {
  static StackPool* pool = new StackPool(env_size("GPULEARN_EMU_STACK_KIB", 256) * 1024);
  return *pool;
}

struct PoolAllocator {
  bctx::stack_context allocate() { return stacks().allocate(); }
  void deallocate(bctx::stack_context& sc) noexcept { stacks().deallocate(sc); }
};

enum class RunState { kReady, kBarrier, kWarp, kDone };

struct Pending {
  WarpOp op = WarpOp::kSync;
  unsigned mask = 0;
  uint64_t value = 0;
  int arg = 0;
  int width = 32;
  const char* file = "";
  int line = 0;
  uint64_t result = 0;
};

struct Worker;

struct Thread {
  ThreadState ts{};
  int id = 0, warp = 0, lane = 0;
  RunState state = RunState::kReady;
  const char* bar_file = "";
  int bar_line = 0;
  Pending pend;
  Worker* worker = nullptr;  // the fiber that runs it; null until it starts
};

// A fiber that runs device threads. A thread starts on an idle worker and keeps it while it is
// suspended (at a barrier or a warp intrinsic); when it exits, the worker starts the next
// thread of the run queue itself if that one has not started yet, which is exactly what the
// scheduler would do next, without the switches and the fiber creation. So a thread that never
// waits costs a function call, and a block needs only as many fibers as it has threads
// suspended at once. Workers live for one run of a grid (they are reused from block to block).
// A thread that suspends, or a worker whose thread exits, switches straight to the worker of
// the next thread the scheduler would pick (the run queue's order); only when none can run does
// control go back to the scheduler (a barrier every thread reached, or a fault).
struct Worker {
  bctx::fiber fiber;         // the worker's continuation while it is not running
  Thread* thread = nullptr;  // the device thread it runs; null while idle
};

// A warp collective in progress: the lanes of `mask` that have arrived so far.
struct Group {
  unsigned mask = 0;
  unsigned arrived = 0;
  WarpOp op = WarpOp::kSync;
};

struct Warp {
  unsigned exited = 0;   // lanes that have exited
  unsigned waiting = 0;  // lanes waiting in some group
  Group groups[32];
  int n_groups = 0;
};

// The run queue: a FIFO of thread ids (a vector and a head, reset whenever it drains).
class RunQueue {
 public:
  bool empty() const { return head_ == ids_.size(); }
  int front() const { return ids_[head_]; }
  void pop_front() {
    if (++head_ == ids_.size()) {
      ids_.clear();
      head_ = 0;
    }
  }
  void push_back(int id) { ids_.push_back(id); }
  void clear() {
    ids_.clear();
    head_ = 0;
  }

 private:
  std::vector<int> ids_;
  size_t head_ = 0;
};

struct Block {
  const LaunchSite* site = nullptr;
  std::vector<Warp> warps;
  uint3 idx{};
  std::vector<Thread> threads;
  RunQueue runq;
  bool reverse = false;
  bool failed = false;
  std::string failure;
  int at_barrier = 0;
  int done = 0;
  unsigned char* dyn_shared = nullptr;
  Stats* stats = nullptr;  // state().stats, looked up once per block, not per suspension
};

// The workers of one grid run, and the thread body they call.
struct Crew {
  const std::function<void()>* body = nullptr;
  bctx::fiber scheduler;  // the scheduler's continuation while a worker runs
  std::vector<std::unique_ptr<Worker>> all;
  std::vector<Worker*> idle;
  Block block;  // reused from block to block (its vectors keep their capacity)
};

Block* g_block = nullptr;
Thread* g_thread = nullptr;
Crew* g_crew = nullptr;
bctx::fiber* g_from = nullptr;  // where the fiber that switches away keeps its continuation
bool g_order_dependent = false;

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::kSync: return "__syncwarp";
    case WarpOp::kShflIdx: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
    case WarpOp::kMatchAny: return "__match_any_sync";
  }
  return "?";
}

std::string where(const char* file, int line) {
  const char* slash = std::strrchr(file, '/');
  std::string s = slash != nullptr ? slash + 1 : file;
  // Keep the family folder: "cluster/kmeans_assign.cu:200".
  if (slash != nullptr) {
    const char* p = slash;
    while (p > file && *(p - 1) != '/') --p;
    s = std::string(p);
  }
  return s + ":" + std::to_string(line);
}

std::string describe_thread(const Thread& t) {
  std::ostringstream os;
  os << "thread (" << t.ts.thread_idx.x << "," << t.ts.thread_idx.y << "," << t.ts.thread_idx.z
     << ") [warp " << t.warp << " lane " << t.lane << "]";
  return os.str();
}

std::string hex_mask(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

// Switches to the fiber whose continuation `target` holds; this fiber's continuation goes to
// `mine`. Whoever switches back here says, in g_from, where its own continuation belongs.
void switch_to(bctx::fiber* target, bctx::fiber* mine) {
  g_from = mine;
  bctx::fiber from = std::move(*target).resume();
  *g_from = std::move(from);
}

Worker* acquire_worker(Crew& crew);

// The worker of the thread the scheduler runs next (the first ready thread of the run queue;
// one that has not started gets a worker), with that thread made current; null when none.
Worker* next_runnable(Block& b) {
  while (!b.failed && !b.runq.empty()) {
    Thread& t = b.threads[static_cast<size_t>(b.runq.front())];
    b.runq.pop_front();
    if (t.state != RunState::kReady) continue;
    if (t.worker == nullptr) {
      t.worker = acquire_worker(*g_crew);
      t.worker->thread = &t;
    }
    g_thread = &t;
    g_current = &t.ts;
    return t.worker;
  }
  return nullptr;
}

// Whether two __FILE__ strings name one file: one pointer within a translation unit, so the
// string compare (which ASan's interceptor makes costly) runs only across units. Checked for
// every waiting thread at every barrier release.
bool same_file(const char* a, const char* b) { return a == b || std::strcmp(a, b) == 0; }

// Suspends the running device thread: the next runnable thread runs, or the scheduler.
void suspend() {
  ++g_block->stats->suspensions;
  Worker* me = g_thread->worker;
  Worker* next = next_runnable(*g_block);
  switch_to(next != nullptr ? &next->fiber : &g_crew->scheduler, &me->fiber);
}

// Fails the block: the scheduler resumes nothing more, and the launch faults with the message.
[[noreturn]] void fail_block(const std::string& msg) {
  Block& b = *g_block;
  if (!b.failed) {
    b.failed = true;
    std::ostringstream os;
    os << "block (" << b.idx.x << "," << b.idx.y << "," << b.idx.z << "): " << msg;
    b.failure = os.str();
  }
  for (;;) suspend();  // never resumed; unwound when the block is torn down
}

void make_ready(Block& b, Thread& t) {
  t.state = RunState::kReady;
  b.runq.push_back(t.id);
}

// Lane `lane` of warp `warp` is a live thread of the block.
Thread* lane_thread(Block& b, int warp, int lane) {
  const size_t id = static_cast<size_t>(warp) * 32 + static_cast<size_t>(lane);
  return id < b.threads.size() ? &b.threads[id] : nullptr;
}

void on_thread_exit(Block& b, Thread& t) {
  ++b.done;
  Warp& w = b.warps[static_cast<size_t>(t.warp)];
  w.exited |= 1u << t.lane;
  // A lane that exits while others wait for it in a warp intrinsic would hang them.
  for (int g = 0; g < w.n_groups; ++g) {
    if (((w.groups[g].mask >> t.lane) & 1u) == 0) continue;
    const int waiter = __builtin_ctz(w.groups[g].arrived);
    const Thread& o = *lane_thread(b, t.warp, waiter);
    fail_block(describe_thread(t) + " exited while " + describe_thread(o) + " waits for it in " +
               op_name(o.pend.op) + "(mask " + hex_mask(o.pend.mask) + ") at " +
               where(o.pend.file, o.pend.line));
  }
}

uint64_t shuffle_source(Block& b, Thread& self, const Pending& p, unsigned mask) {
  const int width = p.width;
  const int lane = self.lane;
  const int seg = lane & ~(width - 1);
  int src = lane;
  switch (p.op) {
    case WarpOp::kShflIdx: src = seg + (p.arg & (width - 1)); break;
    case WarpOp::kShflUp: src = lane - p.arg >= seg ? lane - p.arg : lane; break;
    case WarpOp::kShflDown: src = lane + p.arg < seg + width ? lane + p.arg : lane; break;
    case WarpOp::kShflXor: src = (lane ^ p.arg) < seg + width ? (lane ^ p.arg) : lane; break;
    default: break;
  }
  if (src < 0 || src > 31 || ((mask >> src) & 1u) == 0) {
    // Reading a lane that does not take part is undefined: garbage, visibly.
    return ~uint64_t{0};
  }
  return lane_thread(b, self.warp, src)->pend.value;
}

void complete_collective(Block& b, Thread& last, unsigned mask) {
  Thread* lanes[32];
  int n = 0;
  for (unsigned m = mask; m != 0; m &= m - 1) lanes[n++] = lane_thread(b, last.warp, __builtin_ctz(m));
  const WarpOp op = last.pend.op;
  uint64_t ballot = 0;
  for (int i = 0; i < n; ++i) {
    if (lanes[i]->pend.value != 0) ballot |= uint64_t{1} << lanes[i]->lane;
  }
  for (int i = 0; i < n; ++i) {
    Thread* t = lanes[i];
    uint64_t r = 0;
    switch (op) {
      case WarpOp::kSync: r = 0; break;
      case WarpOp::kShflIdx:
      case WarpOp::kShflUp:
      case WarpOp::kShflDown:
      case WarpOp::kShflXor: r = shuffle_source(b, *t, t->pend, mask); break;
      case WarpOp::kBallot: r = ballot; break;
      case WarpOp::kAny: r = ballot != 0; break;
      case WarpOp::kAll: r = ballot == mask; break;
      case WarpOp::kMatchAny: {
        unsigned m = 0;
        for (int j = 0; j < n; ++j) {
          if (lanes[j]->pend.value == t->pend.value) m |= 1u << lanes[j]->lane;
        }
        r = m;
        break;
      }
    }
    t->pend.result = r;
  }
  // The others resume in scheduling order; the last arrival goes on at once.
  for (int k = 0; k < n; ++k) {
    Thread* t = lanes[b.reverse ? n - 1 - k : k];
    if (t != &last) make_ready(b, *t);
  }
  last.state = RunState::kReady;
}

// ---- Static shared memory: the kernel module's thread-local block ------------------------------

struct TlsBlock {
  unsigned char* data = nullptr;
  size_t size = 0;
  bool poisonable = false;
};

int find_tls(struct dl_phdr_info* info, size_t, void* arg) {
  auto* want = static_cast<std::pair<uintptr_t, TlsBlock>*>(arg);
  if (info->dlpi_tls_data == nullptr) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_TLS) continue;
    const auto base = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
    if (want->first >= base && want->first < base + ph.p_memsz) {
      want->second.data = static_cast<unsigned char*>(info->dlpi_tls_data);
      want->second.size = ph.p_memsz;
      // Only zero-initialised thread-locals (which is what __shared__ variables are) may be
      // overwritten; a module with initialised thread-locals is left alone.
      want->second.poisonable = ph.p_filesz == 0;
      return 1;
    }
  }
  return 0;
}

TlsBlock shared_tls(void* (*anchor)()) {
  if (anchor == nullptr) return {};
  // The anchor's address is this host thread's; its block is found once per module and thread.
  thread_local std::vector<std::pair<uintptr_t, TlsBlock>> found;
  const auto address = reinterpret_cast<uintptr_t>(anchor());
  for (const auto& [a, tls] : found) {
    if (a == address) return tls;
  }
  std::pair<uintptr_t, TlsBlock> want{address, TlsBlock{}};
  dl_iterate_phdr(find_tls, &want);
  found.push_back(want);
  return want.second;
}

// ---- One block ---------------------------------------------------------------------------------

struct GridRun {
  const LaunchSite* site;
  dim3 grid, block;
  size_t shared;
  const std::function<void()>* body;
  TlsBlock tls;
};

// The worker loop: runs its thread, then the next not-yet-started thread of the run queue (as
// the scheduler would run it next), until the next one has started already; then goes idle and
// switches to that thread's worker (or the scheduler), until it is handed a thread, or none
// (the grid is done: the worker returns).
bctx::fiber worker_main(Worker* w) {
  while (w->thread != nullptr) {
    Thread& t = *w->thread;
    (*g_crew->body)();
    t.state = RunState::kDone;
    Block& b = *g_block;
    on_thread_exit(b, t);
    w->thread = nullptr;
    // The scheduler skips queue entries of threads that are not ready; so does this.
    while (!b.runq.empty() &&
           b.threads[static_cast<size_t>(b.runq.front())].state != RunState::kReady) {
      b.runq.pop_front();
    }
    if (!b.runq.empty()) {
      Thread& next = b.threads[static_cast<size_t>(b.runq.front())];
      if (next.worker == nullptr) {
        b.runq.pop_front();
        next.worker = w;
        w->thread = &next;
        g_thread = &next;
        g_current = &next.ts;
        continue;
      }
    }
    Worker* next = next_runnable(b);
    g_crew->idle.push_back(w);
    switch_to(next != nullptr ? &next->fiber : &g_crew->scheduler, &w->fiber);
  }
  g_from = &w->fiber;
  return std::move(g_crew->scheduler);
}

// A worker for a thread that has not started: an idle one, or a new one.
Worker* acquire_worker(Crew& crew) {
  if (!crew.idle.empty()) {
    Worker* w = crew.idle.back();
    crew.idle.pop_back();
    return w;
  }
  ++state().stats.workers;
  crew.all.push_back(std::make_unique<Worker>());
  Worker* w = crew.all.back().get();
  w->fiber = bctx::fiber(std::allocator_arg, PoolAllocator{}, [w](bctx::fiber&& from) {
    *g_from = std::move(from);
    return worker_main(w);
  });
  return w;
}

// Runs one block; returns false (with the message) when it failed.
bool run_block(const GridRun& g, Crew& crew, uint3 bidx, bool reverse, unsigned char* dyn,
               std::string* failure) {
  Block& b = crew.block;
  b.site = g.site;
  b.idx = bidx;
  b.reverse = reverse;
  b.failed = false;
  b.failure.clear();
  b.at_barrier = 0;
  b.done = 0;
  b.dyn_shared = dyn;
  b.runq.clear();
  const unsigned n = g.block.x * g.block.y * g.block.z;
  b.threads.resize(n);
  b.warps.assign((n + 31) / 32, Warp{});
  if (g.shared > 0) poison(dyn, g.shared);
  if (g.tls.poisonable) poison(g.tls.data, g.tls.size);
  b.stats = &state().stats;
  ++b.stats->blocks;
  b.stats->threads += n;

  // Only what a thread reads before it writes it (the rest is set when used).
  uint3 tid{0, 0, 0};
  for (unsigned i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.id = static_cast<int>(i);
    t.warp = static_cast<int>(i / 32);
    t.lane = static_cast<int>(i % 32);
    t.state = RunState::kReady;
    t.worker = nullptr;
    t.ts.thread_idx = tid;
    t.ts.block_idx = bidx;
    t.ts.block_dim = g.block;
    t.ts.grid_dim = g.grid;
    if (++tid.x == g.block.x) {
      tid.x = 0;
      if (++tid.y == g.block.y) {
        tid.y = 0;
        ++tid.z;
      }
    }
  }
  for (unsigned k = 0; k < n; ++k) b.runq.push_back(static_cast<int>(reverse ? n - 1 - k : k));

  Block* saved_block = g_block;
  Thread* saved_thread = g_thread;
  ThreadState* saved_current = g_current;
  g_block = &b;
  for (;;) {
    // Runs threads until none is ready: the workers switch among themselves and come back
    // here only then.
    while (Worker* w = next_runnable(b)) switch_to(&w->fiber, &crew.scheduler);
    if (b.failed) break;
    if (b.done == static_cast<int>(n)) break;
    // Nobody can run: a barrier every thread reached, or a fault.
    const int live = static_cast<int>(n) - b.done;
    bool same_site = true;
    const Thread* first = nullptr;
    for (const Thread& t : b.threads) {
      if (t.state != RunState::kBarrier) continue;
      if (first == nullptr) {
        first = &t;
      } else if (t.bar_line != first->bar_line || !same_file(t.bar_file, first->bar_file)) {
        same_site = false;
      }
    }
    if (b.at_barrier == live && b.done == 0 && same_site) {
      b.at_barrier = 0;
      for (unsigned k = 0; k < n; ++k) {
        Thread& t = b.threads[reverse ? n - 1 - k : k];
        if (t.state == RunState::kBarrier) make_ready(b, t);
      }
      continue;
    }
    std::ostringstream os;
    if (b.at_barrier > 0 && b.done > 0) {
      os << b.done << " of " << n << " threads exited without reaching the __syncthreads at "
         << where(first->bar_file, first->bar_line) << " that " << b.at_barrier
         << " threads wait at (a barrier in a branch that only some threads take)";
    } else if (b.at_barrier > 0 && !same_site) {
      os << "threads wait at different __syncthreads (" << where(first->bar_file, first->bar_line);
      for (const Thread& t : b.threads) {
        if (t.state == RunState::kBarrier &&
            (t.bar_line != first->bar_line || !same_file(t.bar_file, first->bar_file))) {
          os << " and " << where(t.bar_file, t.bar_line) << " by " << describe_thread(t);
          break;
        }
      }
      os << "): a barrier in a branch that only some threads take";
    } else {
      os << "deadlock:";
      int listed = 0;
      for (const Thread& t : b.threads) {
        if (t.state == RunState::kWarp && listed++ < 4) {
          os << " " << describe_thread(t) << " waits in " << op_name(t.pend.op) << "(mask "
             << hex_mask(t.pend.mask) << ") at " << where(t.pend.file, t.pend.line) << ";";
        }
      }
      if (b.at_barrier > 0) {
        os << " " << b.at_barrier << " threads wait at __syncthreads ("
           << where(first->bar_file, first->bar_line) << ")";
      }
      os << " (a lane named in a mask never arrives)";
    }
    b.failed = true;
    b.failure = "block (" + std::to_string(bidx.x) + "," + std::to_string(bidx.y) + "," +
                std::to_string(bidx.z) + "): " + os.str();
    break;
  }
  g_block = saved_block;
  g_thread = saved_thread;
  g_current = saved_current;
  const bool ok = !b.failed;
  if (!ok) *failure = b.failure;
  return ok;
}

bool run_grid_blocks(const GridRun& g, Crew& crew, bool reverse, std::string* failure) {
  std::unique_ptr<unsigned char, decltype(&std::free)> dyn(nullptr, &std::free);
  {
    void* p = nullptr;
    // The exact size: under AddressSanitizer, a read past the dynamic shared memory is caught.
    if (posix_memalign(&p, 16, g.shared) != 0) {
      *failure = "out of host memory for the block's shared memory";
      return false;
    }
    dyn.reset(static_cast<unsigned char*>(p));
  }
  // The second run of the race check also takes the blocks in reverse: a race between blocks
  // (two blocks writing one location) then shows too.
  for (unsigned zi = 0; zi < g.grid.z; ++zi) {
    const unsigned z = reverse ? g.grid.z - 1 - zi : zi;
    for (unsigned yi = 0; yi < g.grid.y; ++yi) {
      const unsigned y = reverse ? g.grid.y - 1 - yi : yi;
      for (unsigned xi = 0; xi < g.grid.x; ++xi) {
        const unsigned x = reverse ? g.grid.x - 1 - xi : xi;
        if (!run_block(g, crew, uint3{x, y, z}, reverse, dyn.get(), failure)) return false;
      }
    }
  }
  return true;
}

bool run_blocks(const GridRun& g, bool reverse, std::string* failure) {
  Crew crew;
  crew.body = g.body;
  Crew* saved_crew = g_crew;
  g_crew = &crew;
  struct Restore {
    Crew* saved;
    ~Restore() { g_crew = saved; }
  } restore_crew{saved_crew};
  const bool ok = run_grid_blocks(g, crew, reverse, failure);
  if (ok) {
    // Every worker is idle: let each return.
    for (Worker* w : crew.idle) switch_to(&w->fiber, &crew.scheduler);
  }
  // Workers still suspended (a failed block) are unwound by their destructors here.
  stacks().unwinding = !ok;
  crew.all.clear();
  stacks().unwinding = false;
  return ok;
}

// ---- The race check: two orders from one snapshot ------------------------------------------------
//
// Memory is copied once, before the first run. After it, each allocation's changed byte range
// is found by comparison, kept aside and put back from the copy; after the second run,
// memory is compared with what the first run left (the kept range, the copy elsewhere). The
// buffers live from launch to launch, so a launch costs one copy and two comparisons of the
// memory it can reach (see plan_snapshot), and no page faults.

// The first index where a and b differ, or n.
size_t first_mismatch(const unsigned char* a, const unsigned char* b, size_t n) {
  constexpr size_t kChunk = 4096;
  for (size_t i = 0; i < n; i += kChunk) {
    const size_t m = std::min(kChunk, n - i);
    if (std::memcmp(a + i, b + i, m) != 0) {
      while (a[i] == b[i]) ++i;
      return i;
    }
  }
  return n;
}

// One past the last index where a and b differ (they differ somewhere).
size_t last_mismatch_end(const unsigned char* a, const unsigned char* b, size_t n) {
  constexpr size_t kChunk = 4096;
  size_t end = n;
  while (end > 0) {
    const size_t m = std::min(kChunk, end);
    if (std::memcmp(a + end - m, b + end - m, m) != 0) {
      while (a[end - 1] == b[end - 1]) --end;
      return end;
    }
    end -= m;
  }
  return 0;
}

struct Snapshot {
  struct Part {
    Allocation* al;
    size_t at;               // where its copy starts in `before`
    size_t lo = 0, hi = 0;   // the bytes the first run changed
    size_t kept = 0;         // where those bytes, as the first run left them, start in `first`
  };
  std::vector<Part> parts;
  std::vector<unsigned char> before;  // every allocation before the launch
  std::vector<unsigned char> first;   // the changed ranges after the first run
};

Snapshot& snapshot_buffers() {
  static Snapshot* s = new Snapshot();
  return *s;
}

// Buffers sized for a large launch are given back once launches are much smaller.
void fit(std::vector<unsigned char>& v, size_t n) {
  if (v.capacity() > (size_t{64} << 20) && n < v.capacity() / 4) {
    std::vector<unsigned char>().swap(v);
  }
  if (v.size() < n) v.resize(n);
}

// The allocations that some word of the kernel's arguments points into (KernelArgs): a
// launch's cost then follows its own data, not everything the process holds (a cached chunk
// workspace of a earlier, larger fit made each small launch of a chunked fit copy and compare
// all of it: 18 s alone, 270 s after that fit). A word that only looks like a pointer adds an
// allocation, which costs time, never a missed race.
// The allocations a launch's race check covers, and their total size.
size_t plan_snapshot(Snapshot& s, const KernelArgs& args) {
  s.parts.clear();
  size_t total = 0;
  auto add = [&](Allocation& al) {
    for (const Snapshot::Part& p : s.parts) {
      if (p.al == &al) return;
    }
    s.parts.push_back(Snapshot::Part{&al, total});
    total += al.bytes;
  };
  for (const void* w : args.words) {
    if (const Allocation* al = find_allocation(w)) add(const_cast<Allocation&>(*al));
  }
  return total;
}

void take_snapshot(Snapshot& s, size_t total) {
  fit(s.before, total);
  state().stats.snapshot_bytes += total;
  for (const Snapshot::Part& p : s.parts) {
    if (p.al->bytes > 0) std::memcpy(s.before.data() + p.at, p.al->base, p.al->bytes);
  }
}

// After the first run: keeps what it changed and puts memory back as it was before it.
void keep_first_and_restore(Snapshot& s) {
  size_t kept = 0;
  for (Snapshot::Part& p : s.parts) {
    auto* now = static_cast<unsigned char*>(p.al->base);
    const unsigned char* old = s.before.data() + p.at;
    p.lo = first_mismatch(now, old, p.al->bytes);
    p.hi = p.lo == p.al->bytes ? p.lo : last_mismatch_end(now, old, p.al->bytes);
    p.kept = kept;
    kept += p.hi - p.lo;
  }
  fit(s.first, kept);
  for (const Snapshot::Part& p : s.parts) {
    if (p.hi == p.lo) continue;
    auto* now = static_cast<unsigned char*>(p.al->base);
    std::memcpy(s.first.data() + p.kept, now + p.lo, p.hi - p.lo);
    std::memcpy(now + p.lo, s.before.data() + p.at + p.lo, p.hi - p.lo);
  }
}

// The first difference between memory now and what the first run left, described; empty when
// equal.
std::string first_difference(const Snapshot& s) {
  for (const Snapshot::Part& p : s.parts) {
    const auto* now = static_cast<const unsigned char*>(p.al->base);
    const unsigned char* old = s.before.data() + p.at;
    const unsigned char* changed = s.first.data() + p.kept;
    size_t i = first_mismatch(now, old, p.lo);
    if (i == p.lo) {
      i = p.lo + first_mismatch(now + p.lo, changed, p.hi - p.lo);
      if (i == p.hi) i = p.hi + first_mismatch(now + p.hi, old + p.hi, p.al->bytes - p.hi);
    }
    if (i == p.al->bytes) continue;
    const unsigned char was = i >= p.lo && i < p.hi ? changed[i - p.lo] : old[i];
    std::ostringstream os;
    os << "byte " << i << " of the " << p.al->bytes << "-byte "
       << (p.al->pinned ? "pinned" : "device") << " allocation at " << p.al->base << " is 0x"
       << std::hex << int{was} << " with threads in ascending order and 0x" << int{now[i]}
       << " in descending order";
    return os.str();
  }
  return {};
}

std::string kernel_where(const LaunchSite& site) {
  return std::string("kernel ") + site.name + " launched at " + where(site.file, site.line);
}

void run_grid_checked(const LaunchSite& site, dim3 grid, dim3 block, size_t shared,
                      const std::function<void()>& body, void* (*anchor)(),
                      const KernelArgs& args) {
  State& s = state();
  for (size_t i = 0; i < args.pointers.size(); ++i) {
    const void* p = args.pointers[i];
    if (p != nullptr && !is_kernel_accessible(p, 0)) {
      std::ostringstream os;
      os << kernel_where(site) << ": pointer argument " << i + 1 << " (" << p
         << ") is neither device memory nor pinned host memory";
      fault(cudaErrorIllegalAddress, os.str());
      return;
    }
  }
  ++s.stats.launches;
  GridRun g{&site, grid, block, shared, &body, shared_tls(anchor)};
  std::string failure;
  static const bool race_check = env_size("GPULEARN_EMU_RACECHECK", 1) != 0;
  static const size_t race_cap = env_size("GPULEARN_EMU_RACECHECK_MAX_BYTES", size_t{256} << 20);
  Snapshot& snap = snapshot_buffers();
  const size_t snap_bytes = race_check ? plan_snapshot(snap, args) : 0;
  if (!race_check || snap_bytes > race_cap) {
    if (race_check) ++s.stats.race_unchecked;
    if (!run_blocks(g, false, &failure)) {
      fault(cudaErrorLaunchFailure, kernel_where(site) + ": " + failure);
    }
    return;
  }
  take_snapshot(snap, snap_bytes);
  g_order_dependent = false;
  if (!run_blocks(g, false, &failure)) {
    fault(cudaErrorLaunchFailure, kernel_where(site) + ": " + failure);
    return;
  }
  const bool order_dependent = g_order_dependent;
  keep_first_and_restore(snap);
  if (!run_blocks(g, true, &failure)) {
    fault(cudaErrorLaunchFailure, kernel_where(site) + " (threads in descending order): " +
                                      failure);
    return;
  }
  ++s.stats.race_checked;
  if (order_dependent || g_order_dependent) {
    ++s.stats.race_order_dependent;
    return;
  }
  const std::string diff = first_difference(snap);
  if (!diff.empty()) {
    fault(cudaErrorLaunchFailure,
          kernel_where(site) + ": data race: " + diff +
              " (a missing __syncthreads or __syncwarp, or threads writing one location "
              "without an atomic)");
  }
}


// ---- GPULEARN_EMU_PROFILE=1: where the emulator's time goes, per kernel, printed at exit ------

struct KernelProfile {
  const char* name;
  uint64_t launches = 0, blocks = 0, threads = 0, suspensions = 0, snapshot_bytes = 0;
  double seconds = 0;
};

std::vector<KernelProfile>& profiles() {
  static auto* p = new std::vector<KernelProfile>();
  return *p;
}

void print_profile() {
  std::vector<KernelProfile> all = profiles();
  std::sort(all.begin(), all.end(),
            [](const KernelProfile& a, const KernelProfile& b) { return a.seconds > b.seconds; });
  double total = 0;
  for (const KernelProfile& k : all) total += k.seconds;
  std::fprintf(stderr, "gpulearn CUDA emulator profile: %.2f s in kernels\n", total);
  std::fprintf(stderr, "%9s %8s %10s %12s %12s %10s  %s\n", "seconds", "launches", "blocks",
               "threads", "suspensions", "snap MiB", "kernel");
  for (size_t i = 0; i < all.size() && i < 25; ++i) {
    const KernelProfile& k = all[i];
    std::fprintf(stderr, "%9.3f %8llu %10llu %12llu %12llu %10.1f  %s\n", k.seconds,
                 static_cast<unsigned long long>(k.launches),
                 static_cast<unsigned long long>(k.blocks),
                 static_cast<unsigned long long>(k.threads),
                 static_cast<unsigned long long>(k.suspensions),
                 static_cast<double>(k.snapshot_bytes) / (1 << 20), k.name);
  }
}

void run_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t shared,
              const std::function<void()>& body, void* (*anchor)(),
              const KernelArgs& args) {
  static const bool profile = env_size("GPULEARN_EMU_PROFILE", 0) != 0;
  if (!profile) {
    run_grid_checked(site, grid, block, shared, body, anchor, args);
    return;
  }
  static const bool registered = std::atexit(print_profile) == 0;
  (void)registered;
  const Stats before = state().stats;
  const auto t0 = std::chrono::steady_clock::now();
  run_grid_checked(site, grid, block, shared, body, anchor, args);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Stats& after = state().stats;
  KernelProfile* k = nullptr;
  for (KernelProfile& p : profiles()) {
    if (std::strcmp(p.name, site.name) == 0) k = &p;
  }
  if (k == nullptr) {
    profiles().push_back(KernelProfile{site.name});
    k = &profiles().back();
  }
  ++k->launches;
  k->blocks += after.blocks - before.blocks;
  k->threads += after.threads - before.threads;
  k->suspensions += after.suspensions - before.suspensions;
  k->snapshot_bytes += after.snapshot_bytes - before.snapshot_bytes;
  k->seconds += dt;
}

}  // namespace

// ---- Device-side entry points -------------------------------------------------------------------

void* dynamic_shared() { return g_block != nullptr ? g_block->dyn_shared : nullptr; }

void block_barrier(const char* file, int line) {
  Thread& t = *g_thread;
  Block& b = *g_block;
  t.state = RunState::kBarrier;
  t.bar_file = file;
  t.bar_line = line;
  ++b.at_barrier;
  suspend();
}

namespace {

// The faults of a misused warp intrinsic, out of line: the hot path below keeps a small stack
// frame (every suspended thread's stack holds one, and hundreds are live at once).
[[noreturn]] __attribute__((noinline, cold)) void collective_misuse(
    WarpOp op, unsigned mask, int width, const char* file, int line, unsigned existing,
    unsigned elsewhere) {
  Thread& t = *g_thread;
  Block& b = *g_block;
  Warp& w = b.warps[static_cast<size_t>(t.warp)];
  const std::string at = std::string(op_name(op)) + "(mask " + hex_mask(mask) + ") at " +
                         where(file, line) + " by " + describe_thread(t);
  if ((mask & (1u << t.lane)) == 0) fail_block(at + ": the calling lane is not in its mask");
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fail_block(at + ": width " + std::to_string(width) + " is not a power of 2 up to 32");
  }
  if ((mask & ~existing) != 0) {
    fail_block(at + ": lane " + std::to_string(__builtin_ctz(mask & ~existing)) +
               " named in the mask does not exist (the block has " +
               std::to_string(b.threads.size()) + " threads)");
  }
  if ((mask & w.exited) != 0) {
    fail_block(at + ": lane " + std::to_string(__builtin_ctz(mask & w.exited)) +
               " named in the mask has exited");
  }
  const Thread& o = *lane_thread(b, t.warp, __builtin_ctz(elsewhere));
  fail_block(at + ": lane " + std::to_string(o.lane) + " waits in " + op_name(o.pend.op) +
             "(mask " + hex_mask(o.pend.mask) + ") at " + where(o.pend.file, o.pend.line) +
             " instead");
}

}  // namespace

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width,
                         const char* file, int line) {
  Thread& t = *g_thread;
  Block& b = *g_block;
  Warp& w = b.warps[static_cast<size_t>(t.warp)];
  const unsigned self = 1u << t.lane;
  const size_t first_lane = static_cast<size_t>(t.warp) * 32;
  const unsigned existing =
      b.threads.size() - first_lane >= 32
          ? ~0u
          : (1u << static_cast<unsigned>(b.threads.size() - first_lane)) - 1u;
  if (__builtin_expect((mask & self) == 0 || width < 1 || width > 32 ||
                           (width & (width - 1)) != 0 || (mask & ~existing) != 0 ||
                           (mask & w.exited) != 0,
                       0)) {
    collective_misuse(op, mask, width, file, line, existing, 0);
  }
  Group* g = nullptr;
  for (int i = 0; i < w.n_groups; ++i) {
    if (w.groups[i].mask == mask) g = &w.groups[i];
  }
  // Lanes of this mask already waiting elsewhere (another mask or another intrinsic). That is
  // legal under independent thread scheduling (they come here once their collective is done)
  // unless their collective names this lane too: then each waits for the other. Deadlocks
  // beyond that are found when nothing in the block can run.
  const unsigned elsewhere = (w.waiting & mask) & ~(g != nullptr ? g->arrived : 0u);
  bool misuse = g != nullptr && g->op != op;
  if (elsewhere != 0) {
    for (int i = 0; i < w.n_groups; ++i) {
      if ((w.groups[i].arrived & elsewhere) != 0 && (w.groups[i].mask & self) != 0) misuse = true;
    }
  }
  if (__builtin_expect(misuse, 0)) {
    collective_misuse(op, mask, width, file, line, existing,
                      elsewhere != 0 ? elsewhere : g->arrived);
  }
  if (g == nullptr) {
    g = &w.groups[w.n_groups++];
    *g = Group{mask, 0, op};
  }
  g->arrived |= self;
  w.waiting |= self;
  t.pend = Pending{op, mask, value, arg, width, file, line, 0};
  t.state = RunState::kWarp;
  if (g->arrived == mask) {
    w.waiting &= ~mask;
    *g = w.groups[--w.n_groups];
    complete_collective(b, t, mask);
    return t.pend.result;
  }
  suspend();
  return g_thread->pend.result;
}

unsigned active_mask() {
  Thread& t = *g_thread;
  Block& b = *g_block;
  const size_t first_lane = static_cast<size_t>(t.warp) * 32;
  const unsigned existing =
      b.threads.size() - first_lane >= 32
          ? ~0u
          : (1u << static_cast<unsigned>(b.threads.size() - first_lane)) - 1u;
  return existing & ~b.warps[static_cast<size_t>(t.warp)].exited;
}

void note_order_dependent() { g_order_dependent = true; }

cudaError_t launch_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t shared,
                        cudaStream_t stream, std::function<void()> thread_body,
                        void* (*tls_anchor)(), KernelArgs args) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  if (const cudaError_t e = sticky(current_device()); e != cudaSuccess) return set_error(e);
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 ||
      block.z > 64 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    return set_error(cudaErrorInvalidConfiguration);
  }
  // A kernel compiled with __launch_bounds__(n) cannot be launched with more than n threads
  // per block: the hardware refuses it as too many resources requested.
  if (site.max_threads_per_block > 0 && threads > uint64_t(site.max_threads_per_block)) {
    return set_error(cudaErrorLaunchOutOfResources);
  }
  size_t limit = kSharedPerBlock;
  if (auto it = s.max_dynamic_shared.find(site.func); it != s.max_dynamic_shared.end()) {
    limit = std::max(limit, it->second);
  }
  if (shared > limit) return set_error(cudaErrorInvalidValue);
  auto body = std::make_shared<std::function<void()>>(std::move(thread_body));
  auto ptrs = std::make_shared<KernelArgs>(std::move(args));
  const LaunchSite site_copy = site;
  return enqueue(
      stream,
      [site_copy, grid, block, shared, body, tls_anchor, ptrs] {
        run_grid(site_copy, grid, block, shared, *body, tls_anchor, *ptrs);
      },
      site.name);
}

}  // namespace gpulearn_emu
