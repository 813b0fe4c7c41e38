// Device code on the host: the keywords, built-in variables, barriers, warp intrinsics,
// atomics and device functions of CUDA C++ that gpulearn's kernels use, for the host compiler.
// Each device thread is a fiber; the emulator's scheduler (emulator/src/launch.cpp) runs the
// threads of one block cooperatively, switching at barriers and warp intrinsics.
#pragma once

// The standard headers cuda/ uses, before the keyword macros below: libstdc++ itself spells
// __attribute__((__noinline__)), which the __noinline__ macro would break.
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "gpulearn_emu/runtime_api.hpp"

// ---- Keywords ----------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
// Kept in the source for the reader; the bound itself reaches the emulator through the kernel's
// entry hook (GPULEARN_EMU_KERNEL_ENTRY below).
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static
// Static shared memory: one instance per host thread, and a block's threads all run on the host
// thread that executes the block (blocks run one after the other), so a block's threads share
// it. The emulator fills the plugin's thread-local block with poison before every block, so a
// read of shared memory that no thread of this block wrote shows up as NaN / -1.
#define __shared__ static thread_local

namespace gpulearn_emu {

/// What the device thread now running sees. Set by the scheduler before it resumes a thread.
struct ThreadState {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
GPULEARN_EMU_API_CXX extern ThreadState* g_current;

/// The block's dynamic shared memory (launch parameter), poisoned before each block.
GPULEARN_EMU_API_CXX void* dynamic_shared();

/// A block barrier: all threads of the block must reach it, at the same call site.
GPULEARN_EMU_API_CXX void block_barrier(const char* file, int line);

enum class WarpOp : int { kSync, kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll,
                          kMatchAny };
/// The lanes named in mask meet (independent thread scheduling); returns this lane's result.
GPULEARN_EMU_API_CXX uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg,
                                              int width, const char* file, int line);
/// The lanes of the calling thread's warp that have not exited.
GPULEARN_EMU_API_CXX unsigned active_mask();
/// An atomic's returned old value was read: the launch's result may depend on thread order,
/// so the race check (which compares two orders) accepts differences for this launch.
GPULEARN_EMU_API_CXX void note_order_dependent();

/// The value an atomic returns. Reading it marks the launch as order-dependent; an atomic
/// whose result is ignored (a counter, a minimum) is order-independent for integers.
template <typename T>
struct AtomicOld {
  T value;
  operator T() const {  // NOLINT: implicit, as the real atomics return T
    note_order_dependent();
    return value;
  }
};

/// What a kernel's __launch_bounds__ says about its launches: the most threads per block (0
/// where it gives none). Its other arguments only steer register allocation on hardware.
struct KernelBounds {
  bool reported = false;
  int max_threads_per_block = 0;
};
/// Set while a kernel is called in a probe (launch.hpp): its entry hook reports its bounds
/// here and returns before its body runs. Null in device threads.
GPULEARN_EMU_API_CXX extern thread_local KernelBounds* g_probe;
inline void report_kernel_bounds(int max_threads_per_block = 0, int /*min_blocks_per_sm*/ = 0,
                                 int /*max_blocks_per_cluster*/ = 0) {
  *g_probe = KernelBounds{true, max_threads_per_block};
}

template <typename T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp intrinsic type");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace gpulearn_emu

// The first statement of every kernel the emulator compiles, written there by
// emulator/tools/instrument_kernels.py with the kernel's __launch_bounds__ arguments (none for a
// kernel without them), so that they are evaluated in the kernel's own scope.
#define GPULEARN_EMU_KERNEL_ENTRY(...) \
  if (::gpulearn_emu::g_probe != nullptr) return ::gpulearn_emu::report_kernel_bounds(__VA_ARGS__)

#define threadIdx (::gpulearn_emu::g_current->thread_idx)
#define blockIdx (::gpulearn_emu::g_current->block_idx)
#define blockDim (::gpulearn_emu::g_current->block_dim)
#define gridDim (::gpulearn_emu::g_current->grid_dim)
constexpr int warpSize = 32;

#define __syncthreads() ::gpulearn_emu::block_barrier(__FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  ::gpulearn_emu::warp_collective(::gpulearn_emu::WarpOp::kSync, mask, 0, 0, 32, file, line);
}

#define GPULEARN_EMU_SHFL(name, op)                                                        \
  template <typename T>                                                                    \
  inline T name(unsigned mask, T var, int arg, int width = 32,                            \
                const char* file = __builtin_FILE(), int line = __builtin_LINE()) {        \
    return ::gpulearn_emu::from_bits<T>(::gpulearn_emu::warp_collective(                   \
        ::gpulearn_emu::WarpOp::op, mask, ::gpulearn_emu::to_bits(var), arg, width, file, \
        line));                                                                            \
  }
GPULEARN_EMU_SHFL(__shfl_sync, kShflIdx)
GPULEARN_EMU_SHFL(__shfl_up_sync, kShflUp)
GPULEARN_EMU_SHFL(__shfl_down_sync, kShflDown)
GPULEARN_EMU_SHFL(__shfl_xor_sync, kShflXor)
#undef GPULEARN_EMU_SHFL

inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(::gpulearn_emu::warp_collective(
      ::gpulearn_emu::WarpOp::kBallot, mask, pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(::gpulearn_emu::warp_collective(::gpulearn_emu::WarpOp::kAny, mask,
                                                          pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(::gpulearn_emu::warp_collective(::gpulearn_emu::WarpOp::kAll, mask,
                                                          pred != 0, 0, 32, file, line));
}
template <typename T>
inline unsigned __match_any_sync(unsigned mask, T value, const char* file = __builtin_FILE(),
                                 int line = __builtin_LINE()) {
  return static_cast<unsigned>(::gpulearn_emu::warp_collective(
      ::gpulearn_emu::WarpOp::kMatchAny, mask, ::gpulearn_emu::to_bits(value), 0, 32, file, line));
}
inline unsigned __activemask() { return ::gpulearn_emu::active_mask(); }

// ---- Atomics: blocks run one at a time on the host, yet use real atomics so that the code
// stays correct if blocks are ever run in parallel. ------------------------------------------------
#define GPULEARN_EMU_ATOMIC_INT(name, builtin)                                               \
  template <typename T, typename U,                                                          \
            typename = std::enable_if_t<std::is_integral_v<T> && std::is_convertible_v<U, T>>> \
  inline ::gpulearn_emu::AtomicOld<T> name(T* address, U val) {                              \
    return {builtin(address, static_cast<T>(val), __ATOMIC_RELAXED)};                        \
  }
GPULEARN_EMU_ATOMIC_INT(atomicAdd, __atomic_fetch_add)
GPULEARN_EMU_ATOMIC_INT(atomicSub, __atomic_fetch_sub)
GPULEARN_EMU_ATOMIC_INT(atomicAnd, __atomic_fetch_and)
GPULEARN_EMU_ATOMIC_INT(atomicOr, __atomic_fetch_or)
GPULEARN_EMU_ATOMIC_INT(atomicXor, __atomic_fetch_xor)
GPULEARN_EMU_ATOMIC_INT(atomicExch, __atomic_exchange_n)
#undef GPULEARN_EMU_ATOMIC_INT

namespace gpulearn_emu {
template <typename T, typename F>
inline T atomic_update(T* address, F f) {
  T old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(address, &old, f(old), false, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}
template <typename T, typename F>
inline T atomic_update_float(T* address, F f) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  auto* a = reinterpret_cast<Bits*>(address);
  Bits old = __atomic_load_n(a, __ATOMIC_RELAXED);
  for (;;) {
    T o;
    std::memcpy(&o, &old, sizeof(T));
    const T n = f(o);
    Bits nb;
    std::memcpy(&nb, &n, sizeof(T));
    if (__atomic_compare_exchange_n(a, &old, nb, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      return o;
    }
  }
}
}  // namespace gpulearn_emu

template <typename T, typename U, typename = std::enable_if_t<std::is_integral_v<T>>>
inline ::gpulearn_emu::AtomicOld<T> atomicMin(T* address, U val) {
  const T v = static_cast<T>(val);
  return {::gpulearn_emu::atomic_update(address, [v](T o) { return v < o ? v : o; })};
}
template <typename T, typename U, typename = std::enable_if_t<std::is_integral_v<T>>>
inline ::gpulearn_emu::AtomicOld<T> atomicMax(T* address, U val) {
  const T v = static_cast<T>(val);
  return {::gpulearn_emu::atomic_update(address, [v](T o) { return v > o ? v : o; })};
}
template <typename T, typename U, typename V>
inline ::gpulearn_emu::AtomicOld<T> atomicCAS(T* address, U compare, V val) {
  T expected = static_cast<T>(compare);
  __atomic_compare_exchange_n(address, &expected, static_cast<T>(val), false, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
  return {expected};
}
// Floating-point sums depend on the order of the additions: always order-dependent.
inline float atomicAdd(float* address, float val) {
  ::gpulearn_emu::note_order_dependent();
  return ::gpulearn_emu::atomic_update_float(address, [val](float o) { return o + val; });
}
inline double atomicAdd(double* address, double val) {
  ::gpulearn_emu::note_order_dependent();
  return ::gpulearn_emu::atomic_update_float(address, [val](double o) { return o + val; });
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- Integer intrinsics ---------------------------------------------------------------------------
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) {
  return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x));
}
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline int __float_as_int(float f) { return ::gpulearn_emu::from_bits<int>(::gpulearn_emu::to_bits(f)); }
inline float __int_as_float(int i) { return ::gpulearn_emu::from_bits<float>(::gpulearn_emu::to_bits(i)); }
inline unsigned __float_as_uint(float f) {
  return ::gpulearn_emu::from_bits<unsigned>(::gpulearn_emu::to_bits(f));
}
inline float __uint_as_float(unsigned i) {
  return ::gpulearn_emu::from_bits<float>(::gpulearn_emu::to_bits(i));
}
inline long long __double_as_longlong(double d) {
  return ::gpulearn_emu::from_bits<long long>(::gpulearn_emu::to_bits(d));
}
inline double __longlong_as_double(long long i) {
  return ::gpulearn_emu::from_bits<double>(::gpulearn_emu::to_bits(i));
}
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

// ---- Device maths: the C library's functions serve (sqrt, exp, fmaf, ...); CUDA's fast-math
// intrinsics map to the exact ones (the emulator proves logic, not the last ulp of __expf). ----
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
using std::isfinite;
using std::isinf;
using std::isnan;
// CUDA's min/max for mixed arithmetic types in device code.
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
