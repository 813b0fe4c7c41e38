// Kernel launches: GPULEARN_LAUNCH(grid, block, shared, stream, kernel)(args...) (see
// cuda/core/launch.cuh) becomes a Launch, which validates the configuration as the hardware
// does and queues the grid on the stream; the grid runs when the host synchronises.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "gpulearn_emu/device.hpp"
#include "gpulearn_emu/runtime_api.hpp"

namespace gpulearn_emu {

struct LaunchSite {
  const char* name;  // the kernel as written at the launch, e.g. "assign_kernel<T, kLanes>"
  const char* file;
  int line;
  const void* func;  // the kernel's host address: the key of cudaFuncSetAttribute
  int max_threads_per_block = 0;  // the kernel's __launch_bounds__, 0 where it has none
};

/// Calls the kernel in a probe: its entry hook (GPULEARN_EMU_KERNEL_ENTRY, which
/// emulator/tools/instrument_kernels.py writes into every kernel) reports its __launch_bounds__
/// and returns before the body runs. Only in modules built from instrumented sources
/// (GPULEARN_EMU_INSTRUMENTED); elsewhere no bounds are known.
template <typename... P>
KernelBounds probe_kernel_bounds([[maybe_unused]] void (*kernel)(P...),
                                 [[maybe_unused]] const std::tuple<std::decay_t<P>...>& params) {
  KernelBounds bounds;
#if defined(GPULEARN_EMU_INSTRUMENTED)
  KernelBounds* const outer = g_probe;
  g_probe = &bounds;
  std::apply(kernel, params);
  g_probe = outer;
  if (!bounds.reported) {
    std::fprintf(stderr,
                 "gpulearn CUDA emulator: a kernel without its entry hook was called in "
                 "a probe (its source did not go through instrument_kernels.py)\n");
    std::abort();
  }
#endif
  return bounds;
}

/// What a launch's arguments say about the memory its kernel may reach.
struct KernelArgs {
  std::vector<const void*> pointers;  // the raw pointer arguments
  // Every pointer-sized, pointer-aligned word of the arguments, structs included: a kernel
  // reaches device memory only through pointers it is given (cuda/ has no __device__ or
  // __constant__ pointers, and no pointers stored in device memory), and a pointer inside a
  // struct is such a word. The race check copies the allocations these point into.
  std::vector<const void*> words;
};

/// Appends the words of one argument that could be pointers.
template <typename V>
void collect_argument(const V& v, KernelArgs& args) {
  if constexpr (std::is_pointer_v<V>) {
    args.pointers.push_back(static_cast<const void*>(v));
    args.words.push_back(static_cast<const void*>(v));
  } else if constexpr (sizeof(V) >= sizeof(void*) && alignof(V) >= alignof(void*)) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(&v);
    for (size_t at = 0; at + sizeof(void*) <= sizeof(V); at += sizeof(void*)) {
      const void* w = nullptr;
      std::memcpy(&w, bytes + at, sizeof w);
      if (w != nullptr) args.words.push_back(w);
    }
  }
}

/// Checks the launch configuration (block and grid limits, dynamic shared memory against the
/// default 48 KiB or the kernel's opt-in), then queues one run of the grid on `stream`:
/// `thread_body` is called once per device thread, each a fiber. `tls_anchor`, when not null,
/// returns an address inside the kernel module's thread-local block, which holds its static
/// shared memory (poisoned before each block). `args.pointers` are the kernel's raw pointer
/// arguments, checked when the grid runs: each must be null or point into memory a kernel may
/// dereference. Returns the launch error, also recorded as the thread's last error.
GPULEARN_EMU_API_CXX cudaError_t launch_grid(const LaunchSite& site, dim3 grid, dim3 block,
                                             size_t shared, cudaStream_t stream,
                                             std::function<void()> thread_body,
                                             void* (*tls_anchor)(),
                                             KernelArgs args);

namespace {
// In the module that compiles the kernels (internal linkage: one per translation unit, all in
// that module's thread-local block).
#if defined(GPULEARN_EMU_POISON_STATIC_SHARED)
thread_local char tls_anchor_byte;
inline void* tls_anchor() { return &tls_anchor_byte; }
constexpr void* (*kTlsAnchor)() = &tls_anchor;
#else
constexpr void* (*kTlsAnchor)() = nullptr;
#endif
}  // namespace

template <typename... P>
class Launch {
 public:
  using Kernel = void (*)(P...);
  Launch(Kernel kernel, const char* name, dim3 grid, dim3 block, size_t shared,
         cudaStream_t stream, const char* file, int line)
      : kernel_(kernel),
        site_{name, file, line, reinterpret_cast<const void*>(kernel)},
        grid_(grid),
        block_(block),
        shared_(shared),
        stream_(stream) {}
  // 0 and nullptr as the stream argument.
  Launch(Kernel kernel, const char* name, dim3 grid, dim3 block, size_t shared, int stream,
         const char* file, int line)
      : Launch(kernel, name, grid, block, shared, static_cast<cudaStream_t>(nullptr), file,
               line) {
    (void)stream;
  }

  /// The arguments are converted to the kernel's parameter types now, as a launch copies them.
  template <typename... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong argument count");
    auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
    KernelArgs kernel_args;
    std::apply([&kernel_args](const auto&... p) { (collect_argument(p, kernel_args), ...); },
               *params);
    Kernel k = kernel_;
    LaunchSite site = site_;
    site.max_threads_per_block = probe_kernel_bounds(k, *params).max_threads_per_block;
    launch_grid(
        site, grid_, block_, shared_, stream_, [k, params] { std::apply(k, *params); }, kTlsAnchor,
        std::move(kernel_args));
  }

 private:
  Kernel kernel_;
  LaunchSite site_;
  dim3 grid_, block_;
  size_t shared_;
  cudaStream_t stream_;
};

template <typename... P, typename S>
Launch(void (*)(P...), const char*, dim3, dim3, size_t, S, const char*, int) -> Launch<P...>;

}  // namespace gpulearn_emu

/// As the runtime's: maxThreadsPerBlock is the kernel's __launch_bounds__ where it has one
/// (learnt by a probe with value-initialised arguments, which the entry hook never reads).
template <typename... P>
inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, void (*func)(P...)) {
  const cudaError_t status =
      gpulearn_emu_func_get_attributes(attr, reinterpret_cast<const void*>(func));
  if constexpr ((std::is_default_constructible_v<std::decay_t<P>> && ...)) {
    if (status == cudaSuccess) {
      const int bound = ::gpulearn_emu::probe_kernel_bounds(func, std::tuple<std::decay_t<P>...>{})
                            .max_threads_per_block;
      if (bound > 0) attr->maxThreadsPerBlock = std::min(attr->maxThreadsPerBlock, bound);
    }
  }
  return status;
}
