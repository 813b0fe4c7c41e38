// The emulator's kernel execution (emulator/src/launch.cpp, include/gpulearn_emu/device.hpp):
// launch-configuration errors with CUDA's codes, 1-, 2- and 3-D indexing, dynamic and static
// shared memory (per block, poisoned), __syncthreads and its misuse, the warp intrinsics under
// independent thread scheduling and their misuse, the two-order race check (true races found,
// barriers and atomics not flagged), and the integer intrinsics and device maths. Kernels are
// written as cuda/ writes them and launched through GPULEARN_LAUNCH. Faults are sticky; each test
// that raises one clears it with the runtime's test hook, so the tests run in any order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

// The static shared memory of the kernels below (thread-locals of this executable) is poisoned
// before every block, as for the CUDA plugin (CMakeLists.txt defines this for gpulearn_cuda).
// The emulator poisons the executable's whole thread-local block: this test binary must hold no
// thread-locals other than __shared__ variables (GoogleTest, linked statically, has none).
#define GPULEARN_EMU_POISON_STATIC_SHARED 1
#include <cuda_runtime.h>

#include "device_array.hpp"
#include "gpulearn_emu/stats.hpp"

// As cuda/core/launch.cuh defines them under GPULEARN_CUDA_EMULATION.
#define GPULEARN_LAUNCH(grid, block, shared, stream, ...) \
  ::gpulearn_emu::Launch(__VA_ARGS__, #__VA_ARGS__, grid, block, shared, stream, __FILE__, __LINE__)
#define GPULEARN_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::gpulearn_emu::dynamic_shared())

// Clears the device's sticky error and queues (the runtime's hook for tests).
extern "C" void gpulearn_emu_reset_device_for_tests();
extern "C" gpulearn_emu::Stats gpulearn_emu_stats();

namespace {

// ---- Helpers ------------------------------------------------------------------------------------

using gpulearn_emu_test::DeviceArray;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// The emulator's account of the device's sticky fault.
std::string fault_message(cudaError_t e) { return cudaGetErrorString(e); }

class EmuLaunch : public ::testing::Test {
 protected:
  void SetUp() override { gpulearn_emu_reset_device_for_tests(); }
  void TearDown() override { gpulearn_emu_reset_device_for_tests(); }

  /// Synchronises after a launch expected to fault: the code, and the message it leaves.
  static std::string expect_fault(cudaError_t code) {
    EXPECT_EQ(cudaDeviceSynchronize(), code);
    return fault_message(code);
  }
};

/// The child re-executes the test binary, so environment variables read once by the runtime
/// take effect there.
void use_threadsafe_death_tests() {
#ifdef GTEST_FLAG_SET
  GTEST_FLAG_SET(death_test_style, "threadsafe");
#else
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
#endif
}

// ---- Kernels ------------------------------------------------------------------------------------

__global__ void set_flag_kernel(int* flag) {
  if (threadIdx.x + threadIdx.y + threadIdx.z + blockIdx.x + blockIdx.y + blockIdx.z == 0) {
    *flag = 1;
  }
}

__global__ void grid_extent_kernel(unsigned* out) {
  atomicMax(&out[0], blockIdx.x);
  atomicMax(&out[1], blockIdx.y);
  atomicMax(&out[2], blockIdx.z);
  atomicAdd(&out[3], 1u);
}

// Launch bounds in the forms cuda/ writes them: a literal with a minimum of blocks per SM, an
// expression of a template parameter (so evaluated per instantiation), and the bound on the
// line before the kernel's name. Each counts the threads that ran.
__global__ void __launch_bounds__(128, 2) bounded_128_kernel(int* count) { atomicAdd(count, 1); }

template <int kThreads>
__global__ void __launch_bounds__(kThreads * 2) bounded_twice_kernel(int* count) {
  atomicAdd(count, 1);
}

constexpr int kWrappedBound = 64;
__global__ void __launch_bounds__(kWrappedBound)
    bounded_wrapped_kernel(int* count, /* a comment: ( ) { */ int unused) {
  (void)unused;
  atomicAdd(count, 1);
}

// Each thread counts its visit at its global linear index and records the geometry it sees.
__global__ void index_kernel(int* visits, unsigned* dims, int* bad, int64_t n) {
  if (threadIdx.x >= blockDim.x || threadIdx.y >= blockDim.y || threadIdx.z >= blockDim.z ||
      blockIdx.x >= gridDim.x || blockIdx.y >= gridDim.y || blockIdx.z >= gridDim.z) {
    atomicAdd(bad, 1);
    return;
  }
  const int64_t per_block = int64_t{blockDim.x} * blockDim.y * blockDim.z;
  const int64_t block = (int64_t{blockIdx.z} * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int64_t thread =
      (int64_t{threadIdx.z} * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const int64_t id = block * per_block + thread;
  if (id >= n) {
    atomicAdd(bad, 1);
    return;
  }
  atomicAdd(&visits[id], 1);
  unsigned* d = dims + id * 6;
  d[0] = blockDim.x;
  d[1] = blockDim.y;
  d[2] = blockDim.z;
  d[3] = gridDim.x;
  d[4] = gridDim.y;
  d[5] = gridDim.z;
}

// Fills `bytes` of dynamic shared memory, then each thread copies out bytes other threads wrote.
template <int kTag>
__global__ void dynamic_shared_kernel(unsigned char* out, unsigned bytes) {
  GPULEARN_DYNAMIC_SHARED(unsigned char, s);
  for (unsigned i = threadIdx.x; i < bytes; i += blockDim.x)
    s[i] = static_cast<unsigned char>(i * 7 + kTag);
  __syncthreads();
  for (unsigned i = threadIdx.x; i < bytes; i += blockDim.x) out[i] = s[(i + 1) % bytes];
}

// Per block: what each thread reads before anyone writes (poison), then a neighbour's value.
__global__ void static_shared_kernel(int* first_read, float* first_read_float, int* neighbour) {
  __shared__ int s[64];
  __shared__ float f[64];
  const unsigned t = threadIdx.x, i = blockIdx.x * 64 + t;
  first_read[i] = s[t];
  first_read_float[i] = f[t];
  __syncthreads();
  s[t] = static_cast<int>(blockIdx.x * 1000 + t);
  f[t] = 1.0f;
  __syncthreads();
  neighbour[i] = s[(t + 1) % 64];
}

__global__ void dynamic_shared_poison_kernel(int* first_read, int* neighbour) {
  GPULEARN_DYNAMIC_SHARED(int, s);
  const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  first_read[i] = s[t];
  __syncthreads();
  s[t] = static_cast<int>(blockIdx.x * 1000 + t);
  __syncthreads();
  neighbour[i] = s[(t + 1) % blockDim.x];
}

// A tree reduction over a (possibly 2-D) block through shared memory.
__global__ void tree_sum_kernel(const int* in, int* out) {
  __shared__ int s[1024];
  const unsigned t = threadIdx.x + threadIdx.y * blockDim.x;
  const unsigned n = blockDim.x * blockDim.y;
  s[t] = in[blockIdx.x * n + t];
  __syncthreads();
  for (unsigned stride = n / 2; stride > 0; stride /= 2) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

__global__ void branch_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void split_barrier_kernel(int* out) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
    out[threadIdx.x] = 1;
  } else {
    __syncthreads();
    out[threadIdx.x] = 2;
  }
}

// Odd threads go round once more than even ones: they wait at a barrier the others left.
__global__ void uneven_loop_barrier_kernel(int* out) {
  for (unsigned i = 0; i <= threadIdx.x % 2; ++i) __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void shuffle_kernel(int* out, double* out_double) {
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int v = 1000 * warp + lane;
  const unsigned full = 0xffffffffu;
  int* o = out + threadIdx.x * 7;
  o[0] = __shfl_sync(full, v, (lane + 3) % 32);
  o[1] = __shfl_sync(full, v, 10, 8);
  o[2] = __shfl_up_sync(full, v, 3, 16);
  o[3] = __shfl_down_sync(full, v, 5, 16);
  o[4] = __shfl_xor_sync(full, v, 9);
  o[5] = __shfl_xor_sync(full, v, 16, 16);
  o[6] = __shfl_down_sync(full, v, 1);
  out_double[threadIdx.x] = __shfl_sync(full, 1e10 + 0.5 * v, 31 - lane);
}

// The half-mask votes come last: each half's lanes meet only their own half.
__global__ void vote_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const unsigned full = 0xffffffffu;
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  unsigned* o = out + threadIdx.x * 8;
  o[0] = __ballot_sync(full, lane % 3 == 0);
  o[1] = static_cast<unsigned>(__all_sync(full, 1));
  o[2] = __match_any_sync(full, lane % 4);
  // 64-bit values that differ only in their upper word.
  o[3] = __match_any_sync(full, static_cast<unsigned long long>(lane / 8) << 40);
  o[4] = __activemask();
  o[5] = __ballot_sync(half, lane % 2);
  o[6] = static_cast<unsigned>(__any_sync(half, lane == 20 + warp));
  o[7] = static_cast<unsigned>(__all_sync(half, lane != 3));
}

// A block of 40 threads: warp 1 has lanes 0..7 only.
__global__ void partial_warp_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  const unsigned active = __activemask();
  unsigned* o = out + threadIdx.x * 3;
  o[0] = active;
  o[1] = __ballot_sync(active, lane & 1u);
  int v = static_cast<int>(threadIdx.x);
  for (int m = 4; m > 0; m /= 2) v += __shfl_xor_sync(active, v, m, 8);
  o[2] = static_cast<unsigned>(v);
}

// Lanes are numbered x first: in a 16 x 4 block a warp holds two rows.
__global__ void warp_layout_kernel(unsigned* out) {
  const unsigned t = threadIdx.x + threadIdx.y * blockDim.x;
  out[t] = __ballot_sync(0xffffffffu, threadIdx.y % 2 == 1);
}

// Independent thread scheduling: the two halves of a warp reduce apart, in divergent branches.
__global__ void divergent_halves_kernel(int* out) {
  const unsigned lane = threadIdx.x % 32;
  int v = static_cast<int>(lane) + 1;
  if (lane < 16) {
    for (int m = 8; m > 0; m /= 2) v += __shfl_xor_sync(0x0000ffffu, v, m);
  } else {
    for (int m = 8; m > 0; m /= 2) v = max(v, __shfl_xor_sync(0xffff0000u, v, m));
  }
  out[threadIdx.x] = v;
}

// The halves reduce under their own masks, then all 32 lanes meet in one full-mask shuffle:
// legal under independent thread scheduling (the lanes named in each mask meet).
__global__ void halves_then_whole_warp_kernel(int* out) {
  const unsigned lane = threadIdx.x % 32;
  int v = static_cast<int>(lane) + 1;
  if (lane < 16) {
    for (int m = 8; m > 0; m /= 2) v += __shfl_xor_sync(0x0000ffffu, v, m);
  } else {
    for (int m = 8; m > 0; m /= 2) v = max(v, __shfl_xor_sync(0xffff0000u, v, m));
  }
  out[threadIdx.x] = __shfl_sync(0xffffffffu, v, 31 - static_cast<int>(lane));
}

// Every block writes one location: a race between blocks, whatever the threads' order.
__global__ void block_writes_one_location_kernel(int* out) {
  if (threadIdx.x == 0) *out = static_cast<int>(blockIdx.x);
}

// A warp exchanges values through shared memory; __syncwarp (at two call sites, which sm_70+
// allows) orders the writes before the reads.
template <bool kSync>
__global__ void warp_exchange_kernel(int* out) {
  __shared__ int s[32];
  const unsigned lane = threadIdx.x;
  s[lane] = static_cast<int>(lane * lane + 1);
  if (kSync) {
    if (lane % 2 == 1) {
      __syncwarp();
    } else {
      __syncwarp();
    }
  }
  out[lane] = s[31 - lane];
}

__global__ void exited_lane_kernel(int* out) {
  const unsigned lane = threadIdx.x % 32;
  if (lane == 5) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(lane), 0);
}

// Lane 0 has exited before any lane reaches the shuffle that names it.
__global__ void early_exit_kernel(int* out) {
  const unsigned lane = threadIdx.x % 32;
  if (lane == 0) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(lane), 1);
}

__global__ void lane_outside_mask_kernel(unsigned* out) {
  out[threadIdx.x] = __ballot_sync(0xfffffffeu, 1);  // lane 0 calls it without its own bit
}

__global__ void bad_width_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0, 12);
}

__global__ void full_mask_in_partial_warp_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0);
}

__global__ void disagreeing_masks_kernel(int* out) {
  const unsigned lane = threadIdx.x % 32;
  if (lane < 2) out[lane] = __shfl_sync(lane == 0 ? 0x3u : 0x7u, static_cast<int>(lane), 0);
}

// Lane 0 waits in a shuffle for lane 1, which waits at __syncthreads for lane 0.
__global__ void missing_lane_kernel(int* out) {
  if (threadIdx.x == 0) out[0] = __shfl_sync(0x3u, 7, 1);
  __syncthreads();
  out[threadIdx.x + 1] = 1;
}

template <bool kBarrier>
__global__ void neighbour_read_kernel(int* out) {
  __shared__ int s[64];
  const unsigned t = threadIdx.x;
  s[t] = static_cast<int>(3 * t + 1);
  if (kBarrier) __syncthreads();
  out[t] = s[(t + 1) % 64];
}

__global__ void one_location_kernel(int* out) { *out = static_cast<int>(threadIdx.x); }

// The same race, through a pointer the kernel gets inside a struct.
struct IntSpan {
  int* data;
  int n;
};
__global__ void one_location_through_struct_kernel(IntSpan span) {
  span.data[span.n - 1] = static_cast<int>(threadIdx.x);
}

__global__ void integer_atomics_kernel(int* i32, unsigned long long* u64, long long* i64,
                                       unsigned* bits) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  const int r = static_cast<int>(t * 37 % 1001) - 500;
  atomicAdd(&i32[0], static_cast<int>(t % 7) - 3);
  atomicSub(&i32[1], 2);
  atomicMin(&i32[2], r);
  atomicMax(&i32[3], r);
  atomicAdd(&u64[0], static_cast<unsigned long long>(t) << 33);
  atomicMax(&u64[1], static_cast<unsigned long long>(t) << 40);
  atomicMin(&u64[2], (static_cast<unsigned long long>(t) + 5) << 40);
  atomicMin(&i64[0], static_cast<long long>(r) * (1LL << 40));
  atomicMax(&i64[1], static_cast<long long>(r) * (1LL << 40));
  atomicOr(&bits[0], 1u << (t % 32));
  atomicAnd(&bits[1], ~(1u << (t % 31)));
  atomicXor(&bits[2], t);
}

__global__ void float_atomics_kernel(float* f32, double* f64) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(f32, 0.5f * static_cast<float>(t % 4));
  atomicAdd(f64, 0.25 * t);
}

__device__ void atomic_max_float(float* address, float value) {
  int* a = reinterpret_cast<int*>(address);
  int old = *a, assumed;
  do {
    assumed = old;
    old = atomicCAS(a, assumed, __float_as_int(fmaxf(value, __int_as_float(assumed))));
  } while (assumed != old);
}

__global__ void cas_kernel(int* owner, int* winners, float* max_value) {
  const int id = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x) + 1;
  if (atomicCAS(owner, 0, id) == 0) atomicAdd(winners, 1);
  atomic_max_float(max_value, static_cast<float>((id * 7919) % 1013) * 0.5f);
}

// Stream compaction with slots claimed by atomicAdd: the order of the output depends on the
// threads' order, its contents do not.
__global__ void compact_kernel(const int* in, int n, int* out, int* count) {
  const int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (t < n && in[t] % 3 == 0) {
    const int slot = atomicAdd(count, 1);
    out[slot] = in[t];
  }
}

constexpr int kIntOps = 9;

__global__ void integer_intrinsics_kernel(const unsigned long long* in, int n, long long* out) {
  const int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (t >= n) return;
  const unsigned long long x = in[t];
  const auto lo = static_cast<unsigned>(x), hi = static_cast<unsigned>(x >> 32);
  long long* o = out + t * kIntOps;
  o[0] = __popc(lo);
  o[1] = __popcll(x);
  o[2] = __ffs(static_cast<int>(lo));
  o[3] = __ffsll(static_cast<long long>(x));
  o[4] = __clz(static_cast<int>(lo));
  o[5] = __clzll(static_cast<long long>(x));
  o[6] = __brev(lo);
  o[7] = __umulhi(lo, hi);
  o[8] = static_cast<long long>(__umul64hi(x, ~x));
}

constexpr int kMathOps = 12;

__global__ void maths_kernel(const float* in, int n, float* out) {
  const int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (t >= n) return;
  const float x = in[t];
  float* o = out + t * kMathOps;
  o[0] = sqrtf(fabsf(x));
  o[1] = expf(x);
  o[2] = __expf(x);
  o[3] = logf(fabsf(x) + 1.0f);
  o[4] = __logf(fabsf(x) + 1.0f);
  o[5] = rsqrtf(fabsf(x) + 0.5f);
  o[6] = __fdividef(x, 3.0f);
  o[7] = __saturatef(x);
  o[8] = fmaf(x, 2.0f, 1.0f);
  o[9] = static_cast<float>(min(static_cast<int>(t), x));  // mixed types: the common type
  o[10] = static_cast<float>(max(x, 0.25));
  o[11] = __uint_as_float(__float_as_uint(x) ^ 0x80000000u);  // the sign bit flipped
}

// ---- Launch configuration
// ------------------------------------------------------------------------

TEST_F(EmuLaunch, BadConfigurationsAreInvalidConfigurationAndRunNothing) {
  DeviceArray<int> flag(std::vector<int>{0});
  struct Case {
    dim3 grid, block;
    const char* what;
  };
  const Case cases[] = {
      {dim3(1), dim3(1025), "1025 threads"},
      {dim3(1), dim3(32, 33), "32 x 33 threads"},
      {dim3(1), dim3(2, 2, 257), "2 x 2 x 257 threads"},
      {dim3(1), dim3(1, 1, 65), "block z 65 (the limit is 64)"},
      {dim3(1), dim3(2048, 1, 1), "block x 2048"},
      {dim3(0), dim3(32), "grid x 0"},
      {dim3(1, 0, 1), dim3(32), "grid y 0"},
      {dim3(1, 1, 0), dim3(32), "grid z 0"},
      {dim3(1), dim3(0), "block x 0"},
      {dim3(1), dim3(32, 0), "block y 0"},
      {dim3(1), dim3(32, 1, 0), "block z 0"},
      {dim3(1, 65536, 1), dim3(1), "grid y 65536"},
      {dim3(1, 1, 65536), dim3(1), "grid z 65536"},
      {dim3(2147483648u, 1, 1), dim3(1), "grid x 2^31"},
  };
  for (const Case& c : cases) {
    GPULEARN_LAUNCH(c.grid, c.block, 0, 0, set_flag_kernel)(flag.get());
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration) << c.what;
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration)
        << c.what << ": peek cleared it";
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << c.what;
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << c.what << ": cudaGetLastError did not clear it";
  }
  // Not sticky, and nothing was queued.
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(flag.download()[0], 0);
  // The limits themselves are legal, and a good launch after the bad ones runs.
  GPULEARN_LAUNCH(1, dim3(1024), 0, 0, set_flag_kernel)(flag.get());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  GPULEARN_LAUNCH(1, dim3(16, 1, 64), 0, 0, set_flag_kernel)(flag.get());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(flag.download()[0], 1);
}

TEST_F(EmuLaunch, TheLargestGridsAreAccepted) {
  DeviceArray<unsigned> extent(std::vector<unsigned>{0, 0, 0, 0});
  // Accepted at launch; the queued grid is then dropped unrun (2^61 blocks).
  GPULEARN_LAUNCH(dim3(2147483647u, 65535, 65535), dim3(1), 0, 0, grid_extent_kernel)(extent.get());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  gpulearn_emu_reset_device_for_tests();
  // A grid at the y limit runs every block once.
  GPULEARN_LAUNCH(dim3(1, 65535, 1), dim3(1), 0, 0, grid_extent_kernel)(extent.get());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(extent.download(), (std::vector<unsigned>{0, 65534, 0, 65535}));
}

TEST_F(EmuLaunch, LaunchesBeyondTheKernelsLaunchBoundsAreRefusedAndRunNothing) {
  DeviceArray<int> count(std::vector<int>{0});
  struct Case {
    const char* kernel;
    int bound;
    std::function<void(dim3)> launch;
  };
  const Case cases[] = {
      {"__launch_bounds__(128, 2)", 128,
       [&](dim3 b) { GPULEARN_LAUNCH(2, b, 0, 0, bounded_128_kernel)
                     (count.get()); }},
      {"__launch_bounds__(kThreads * 2), kThreads = 48", 96,
       [&](dim3 b) { GPULEARN_LAUNCH(2, b, 0, 0, bounded_twice_kernel<48>)
                     (count.get()); }},
      {"__launch_bounds__(kThreads * 2), kThreads = 256", 512,
       [&](dim3 b) { GPULEARN_LAUNCH(2, b, 0, 0, bounded_twice_kernel<256>)
                     (count.get()); }},
      {"__launch_bounds__(kWrappedBound) on its own line", 64,
       [&](dim3 b) { GPULEARN_LAUNCH(2, b, 0, 0, bounded_wrapped_kernel)
                     (count.get(), 0); }},
  };
  for (const Case& c : cases) {
    // Over the bound, in one dimension or as a product of three: refused as the hardware does
    // (too many resources requested), not sticky, nothing queued.
    for (const dim3 over : {dim3(c.bound + 1), dim3(c.bound / 2, 2, 2)}) {
      GPULEARN_LAUNCH(1, over, 0, 0, set_flag_kernel)(count.get());  // unbounded: accepted
      EXPECT_EQ(cudaGetLastError(), cudaSuccess) << c.kernel;
      c.launch(over);
      EXPECT_EQ(cudaPeekAtLastError(), cudaErrorLaunchOutOfResources) << c.kernel;
      EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchOutOfResources) << c.kernel;
      EXPECT_EQ(cudaGetLastError(), cudaSuccess) << c.kernel << ": not cleared";
    }
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << c.kernel;
    count.fill(0);
    // At the bound: runs every thread.
    c.launch(dim3(c.bound));
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << c.kernel;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << c.kernel;
    EXPECT_EQ(count.download()[0], 2 * c.bound) << c.kernel;
  }
  // The runtime reports the bound as the kernel's maxThreadsPerBlock, as the hardware's does.
  cudaFuncAttributes attr{};
  ASSERT_EQ(cudaFuncGetAttributes(&attr, bounded_128_kernel), cudaSuccess);
  EXPECT_EQ(attr.maxThreadsPerBlock, 128);
  ASSERT_EQ(cudaFuncGetAttributes(&attr, bounded_twice_kernel<48>), cudaSuccess);
  EXPECT_EQ(attr.maxThreadsPerBlock, 96);
  ASSERT_EQ(cudaFuncGetAttributes(&attr, bounded_wrapped_kernel), cudaSuccess);
  EXPECT_EQ(attr.maxThreadsPerBlock, 64);
  ASSERT_EQ(cudaFuncGetAttributes(&attr, set_flag_kernel), cudaSuccess);
  EXPECT_EQ(attr.maxThreadsPerBlock, 1024);
}

TEST_F(EmuLaunch, DynamicSharedMemoryOver48KiBNeedsTheOptIn) {
  constexpr unsigned kDefault = 48 * 1024;
  DeviceArray<unsigned char> out(kDefault + 1);
  cudaFuncAttributes attr{};
  ASSERT_EQ(cudaFuncGetAttributes(&attr, dynamic_shared_kernel<0>), cudaSuccess);
  EXPECT_EQ(attr.maxDynamicSharedSizeBytes, static_cast<int>(kDefault));

  GPULEARN_LAUNCH(1, 256, kDefault + 1, 0, dynamic_shared_kernel<0>)(out.get(), kDefault + 1);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);

  GPULEARN_LAUNCH(1, 256, kDefault, 0, dynamic_shared_kernel<0>)(out.get(), kDefault);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<unsigned char> got = out.download();
  for (unsigned i = 0; i < kDefault; ++i) {
    ASSERT_EQ(got[i], static_cast<unsigned char>(((i + 1) % kDefault) * 7)) << i;
  }
  EXPECT_EQ(got[kDefault], 0xFF) << "a byte past the shared memory was written";
}

TEST_F(EmuLaunch, TheOptInRaisesTheLimitUpTo227KiB) {
  constexpr unsigned kOptIn = 100 * 1024, kMax = 227 * 1024;
  // Above the hardware's 227 KiB: refused, and the default limit stays.
  EXPECT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, kMax + 1),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, kOptIn),
            cudaSuccess);
  cudaFuncAttributes attr{};
  ASSERT_EQ(cudaFuncGetAttributes(&attr, dynamic_shared_kernel<1>), cudaSuccess);
  EXPECT_EQ(attr.maxDynamicSharedSizeBytes, static_cast<int>(kOptIn));
  // The attribute belongs to that kernel only.
  ASSERT_EQ(cudaFuncGetAttributes(&attr, dynamic_shared_kernel<0>), cudaSuccess);
  EXPECT_EQ(attr.maxDynamicSharedSizeBytes, 48 * 1024);

  DeviceArray<unsigned char> out(kMax);
  GPULEARN_LAUNCH(1, 128, kOptIn + 1, 0, dynamic_shared_kernel<1>)(out.get(), kOptIn + 1);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "above the opted-in size";
  GPULEARN_LAUNCH(1, 128, kOptIn, 0, dynamic_shared_kernel<1>)(out.get(), kOptIn);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<unsigned char> got = out.download();
  for (unsigned i = 0; i < kOptIn; ++i) {
    ASSERT_EQ(got[i], static_cast<unsigned char>(((i + 1) % kOptIn) * 7 + 1)) << i;
  }

  ASSERT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, kMax),
            cudaSuccess);
  GPULEARN_LAUNCH(1, 128, kMax, 0, dynamic_shared_kernel<1>)(out.get(), kMax);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  got = out.download();
  EXPECT_EQ(got[kMax - 1], static_cast<unsigned char>(1));  // s[0] = 0 * 7 + 1
  EXPECT_EQ(got[0], static_cast<unsigned char>(8));
}

// ---- Indexing
// -------------------------------------------------------------------------------------

TEST_F(EmuLaunch, EveryThreadOfOneTwoAndThreeDimensionalGridsRunsOnce) {
  struct Case {
    dim3 grid, block;
  };
  const Case cases[] = {
      {dim3(7), dim3(37)},   {dim3(3, 4), dim3(8, 5)},        {dim3(2, 3, 2), dim3(4, 3, 5)},
      {dim3(1), dim3(1024)}, {dim3(2, 1, 3), dim3(1, 2, 64)}, {dim3(5, 1, 1), dim3(1, 33, 1)},
  };
  for (const Case& c : cases) {
    const int64_t n = int64_t{c.grid.x} * c.grid.y * c.grid.z * c.block.x * c.block.y * c.block.z;
    DeviceArray<int> visits(std::vector<int>(static_cast<size_t>(n), 0));
    DeviceArray<unsigned> dims(static_cast<size_t>(n) * 6);
    DeviceArray<int> bad(std::vector<int>{0});
    GPULEARN_LAUNCH(c.grid, c.block, 0, 0, index_kernel)(visits.get(), dims.get(), bad.get(), n);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const std::string what = "grid (" + std::to_string(c.grid.x) + "," + std::to_string(c.grid.y) +
                             "," + std::to_string(c.grid.z) + ") block (" +
                             std::to_string(c.block.x) + "," + std::to_string(c.block.y) + "," +
                             std::to_string(c.block.z) + ")";
    EXPECT_EQ(bad.download()[0], 0) << what;
    const std::vector<int> v = visits.download();
    EXPECT_EQ(std::count(v.begin(), v.end(), 1), n) << what;
    const std::vector<unsigned> d = dims.download();
    const unsigned want[6] = {c.block.x, c.block.y, c.block.z, c.grid.x, c.grid.y, c.grid.z};
    for (int64_t i = 0; i < n; ++i) {
      for (int k = 0; k < 6; ++k) ASSERT_EQ(d[static_cast<size_t>(i * 6 + k)], want[k]) << what;
    }
  }
}

// ---- Shared memory
// ---------------------------------------------------------------------------------

TEST_F(EmuLaunch, StaticSharedMemoryIsPerBlockAndPoisonedAtBlockStart) {
  constexpr int kBlocks = 3;
  DeviceArray<int> first(kBlocks * 64), neighbour(kBlocks * 64);
  DeviceArray<float> first_float(kBlocks * 64);
  GPULEARN_LAUNCH(kBlocks, 64, 0, 0, static_shared_kernel)
  (first.get(), first_float.get(), neighbour.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> f = first.download(), nb = neighbour.download();
  const std::vector<float> ff = first_float.download();
  for (int b = 0; b < kBlocks; ++b) {
    for (int t = 0; t < 64; ++t) {
      const int i = b * 64 + t;
      // Not the previous block's (or the previous launch's) values: poison, -1 and NaN.
      EXPECT_EQ(f[i], -1) << "block " << b << " thread " << t;
      EXPECT_TRUE(std::isnan(ff[i])) << "block " << b << " thread " << t;
      EXPECT_EQ(nb[i], b * 1000 + (t + 1) % 64) << "block " << b << " thread " << t;
    }
  }
}

TEST_F(EmuLaunch, DynamicSharedMemoryIsPerBlockAndPoisonedAtBlockStart) {
  constexpr int kBlocks = 4, kThreads = 96;
  DeviceArray<int> first(kBlocks * kThreads), neighbour(kBlocks * kThreads);
  GPULEARN_LAUNCH(kBlocks, kThreads, kThreads * sizeof(int), 0, dynamic_shared_poison_kernel)
  (first.get(), neighbour.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> f = first.download(), nb = neighbour.download();
  for (int b = 0; b < kBlocks; ++b) {
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(f[b * kThreads + t], -1) << "block " << b << " thread " << t;
      EXPECT_EQ(nb[b * kThreads + t], b * 1000 + (t + 1) % kThreads) << "block " << b;
    }
  }
}

// ---- __syncthreads
// -----------------------------------------------------------------------------------

TEST_F(EmuLaunch, ABlockReductionThroughSharedMemoryIsRight) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> dist(-1000, 1000);
  for (const dim3 block : {dim3(256), dim3(16, 16), dim3(32, 32), dim3(2)}) {
    const unsigned n = block.x * block.y, blocks = 5;
    std::vector<int> in(n * blocks);
    for (int& x : in) x = dist(rng);
    DeviceArray<int> d_in(in), d_out(blocks);
    GPULEARN_LAUNCH(blocks, block, 0, 0, tree_sum_kernel)(d_in.get(), d_out.get());
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const std::vector<int> out = d_out.download();
    for (unsigned b = 0; b < blocks; ++b) {
      EXPECT_EQ(out[b], std::accumulate(in.begin() + b * n, in.begin() + (b + 1) * n, 0))
          << "block " << b << " of " << block.x << " x " << block.y;
    }
  }
}

TEST_F(EmuLaunch, ABarrierInABranchIsAStickyFaultNamingTheKernel) {
  DeviceArray<int> out(64), later(std::vector<int>{0});
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  GPULEARN_LAUNCH(1, 64, 0, stream, branch_barrier_kernel)(out.get());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess) << "the launch itself is valid";
  // Queued behind the faulting kernel: never runs.
  GPULEARN_LAUNCH(1, 1, 0, stream, set_flag_kernel)(later.get());
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaErrorLaunchFailure);
  const std::string message = fault_message(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "branch_barrier_kernel")) << message;
  EXPECT_TRUE(contains(message, "test_emu_launch.cpp")) << message;
  EXPECT_TRUE(contains(message, "barrier")) << message;
  EXPECT_TRUE(contains(message, "48 of 64 threads exited")) << message;

  // Sticky: every later call returns the error, and reading it does not clear it.
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorLaunchFailure);
  EXPECT_EQ(p, nullptr);
  int host = 5;
  EXPECT_EQ(cudaMemcpy(&host, later.get(), sizeof(int), cudaMemcpyDeviceToHost),
            cudaErrorLaunchFailure);
  EXPECT_EQ(host, 5);
  GPULEARN_LAUNCH(1, 1, 0, 0, set_flag_kernel)(later.get());
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);

  // The emulator's test hook clears the fault (the emulator has no cudaDeviceReset).
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(later.download()[0], 0) << "work queued after the fault ran";
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(EmuLaunch, ThreadsAtDifferentBarriersOrExitingWhileOthersWaitFaultInsteadOfHanging) {
  DeviceArray<int> out(64);
  GPULEARN_LAUNCH(1, 64, 0, 0, split_barrier_kernel)(out.get());
  std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "split_barrier_kernel")) << message;
  EXPECT_TRUE(contains(message, "threads wait at different __syncthreads")) << message;
  gpulearn_emu_reset_device_for_tests();

  GPULEARN_LAUNCH(1, 64, 0, 0, uneven_loop_barrier_kernel)(out.get());
  message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "uneven_loop_barrier_kernel")) << message;
  EXPECT_TRUE(contains(message, "32 of 64 threads exited without reaching the __syncthreads"))
      << message;
}

// ---- Warp intrinsics
// ---------------------------------------------------------------------------------

TEST_F(EmuLaunch, ShufflesFollowCudasLaneAndWidthRules) {
  DeviceArray<int> out(64 * 7);
  DeviceArray<double> out_double(64);
  GPULEARN_LAUNCH(1, 64, 0, 0, shuffle_kernel)(out.get(), out_double.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> o = out.download();
  const std::vector<double> od = out_double.download();
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32, w = 1000 * (t / 32);
    const int* r = &o[t * 7];
    EXPECT_EQ(r[0], w + (lane + 3) % 32) << t;
    EXPECT_EQ(r[1], w + lane / 8 * 8 + 2) << t;  // source lane 10 modulo the width 8
    EXPECT_EQ(r[2], w + (lane % 16 >= 3 ? lane - 3 : lane)) << t;
    EXPECT_EQ(r[3], w + (lane % 16 + 5 < 16 ? lane + 5 : lane)) << t;
    EXPECT_EQ(r[4], w + (lane ^ 9)) << t;
    // Width 16, lane mask 16: a later group is out of reach (own value), an earlier one is not.
    EXPECT_EQ(r[5], w + (lane < 16 ? lane : lane - 16)) << t;
    EXPECT_EQ(r[6], w + (lane < 31 ? lane + 1 : lane)) << t;
    EXPECT_EQ(od[t], 1e10 + 0.5 * (w + 31 - lane)) << t;
  }
}

TEST_F(EmuLaunch, VotesAndMatchesSeeOnlyTheLanesOfTheirMask) {
  DeviceArray<unsigned> out(64 * 8);
  GPULEARN_LAUNCH(1, 64, 0, 0, vote_kernel)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<unsigned> o = out.download();
  unsigned every_third = 0;
  for (int l = 0; l < 32; l += 3) every_third |= 1u << l;
  for (int t = 0; t < 64; ++t) {
    const unsigned lane = t % 32;
    const unsigned* r = &o[t * 8];
    EXPECT_EQ(r[0], every_third) << t;
    EXPECT_EQ(r[1], 1u) << t;
    EXPECT_EQ(r[2], 0x11111111u << (lane % 4)) << t;
    EXPECT_EQ(r[3], 0xffu << (8 * (lane / 8))) << t;
    EXPECT_EQ(r[4], 0xffffffffu) << t;
    EXPECT_EQ(r[5], lane < 16 ? 0x0000aaaau : 0xaaaa0000u) << t;
    EXPECT_EQ(r[6], lane < 16 ? 0u : 1u) << t;
    EXPECT_EQ(r[7], lane < 16 ? 0u : 1u) << t;
  }
}

TEST_F(EmuLaunch, PartialWarpsHaveOnlyTheirLanes) {
  DeviceArray<unsigned> out(40 * 3);
  GPULEARN_LAUNCH(1, 40, 0, 0, partial_warp_kernel)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<unsigned> o = out.download();
  for (unsigned t = 0; t < 40; ++t) {
    const unsigned* r = &o[t * 3];
    const unsigned active = t < 32 ? 0xffffffffu : 0xffu;
    EXPECT_EQ(r[0], active) << t;
    EXPECT_EQ(r[1], 0xaaaaaaaau & active) << t;
    const unsigned seg = t / 8 * 8;
    EXPECT_EQ(r[2], 8 * seg + 28) << t;  // seg + (seg + 1) + ... + (seg + 7)
  }

  // A full mask in the 8-lane warp names lanes that do not exist: a fault, not a hang.
  DeviceArray<int> ints(40);
  GPULEARN_LAUNCH(1, 40, 0, 0, full_mask_in_partial_warp_kernel)(ints.get());
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "full_mask_in_partial_warp_kernel")) << message;
  EXPECT_TRUE(contains(message, "lane 8 named in the mask does not exist")) << message;
}

TEST_F(EmuLaunch, LanesAreNumberedAlongXFirst) {
  DeviceArray<unsigned> out(64);
  GPULEARN_LAUNCH(1, dim3(16, 4), 0, 0, warp_layout_kernel)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (unsigned v : out.download()) EXPECT_EQ(v, 0xffff0000u);
}

TEST_F(EmuLaunch, DivergentHalvesOfAWarpReduceIndependently) {
  DeviceArray<int> out(32);
  GPULEARN_LAUNCH(1, 32, 0, 0, divergent_halves_kernel)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> o = out.download();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(o[t], t < 16 ? 136 : 32) << t;  // 1 + ... + 16, max 32
}

TEST_F(EmuLaunch, HalfWarpCollectivesThenAFullWarpOneMeet) {
  DeviceArray<int> out(32);
  GPULEARN_LAUNCH(1, 32, 0, 0, halves_then_whole_warp_kernel)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> o = out.download();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(o[t], 31 - t < 16 ? 136 : 32) << t;
}

TEST_F(EmuLaunch, ARaceBetweenBlocksIsFound) {
  DeviceArray<int> out(1);
  GPULEARN_LAUNCH(8, 32, 0, 0, block_writes_one_location_kernel)(out.get());
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "block_writes_one_location_kernel")) << message;
  EXPECT_TRUE(contains(message, "data race")) << message;
}

TEST_F(EmuLaunch, SyncwarpOrdersSharedMemoryWithinAWarp) {
  DeviceArray<int> out(32);
  GPULEARN_LAUNCH(1, 32, 0, 0, warp_exchange_kernel<true>)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> o = out.download();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(o[t], (31 - t) * (31 - t) + 1) << t;

  // Without it the reads race with the writes.
  GPULEARN_LAUNCH(1, 32, 0, 0, warp_exchange_kernel<false>)(out.get());
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "warp_exchange_kernel<false>")) << message;
  EXPECT_TRUE(contains(message, "data race")) << message;
}

TEST_F(EmuLaunch, ALaneNamedInAMaskThatHasExitedIsAFaultNamingTheLane) {
  DeviceArray<int> out(32);
  GPULEARN_LAUNCH(1, 32, 0, 0, exited_lane_kernel)(out.get());
  std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "exited_lane_kernel")) << message;
  EXPECT_TRUE(contains(message, "lane 5")) << message;
  EXPECT_TRUE(contains(message, "exited")) << message;
  EXPECT_TRUE(contains(message, "__shfl_sync")) << message;
  gpulearn_emu_reset_device_for_tests();

  GPULEARN_LAUNCH(1, 32, 0, 0, early_exit_kernel)(out.get());
  message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "early_exit_kernel")) << message;
  EXPECT_TRUE(contains(message, "lane 0 named in the mask has exited")) << message;
}

TEST_F(EmuLaunch, MisusedWarpIntrinsicsAreFaults) {
  DeviceArray<unsigned> u(32);
  GPULEARN_LAUNCH(1, 32, 0, 0, lane_outside_mask_kernel)(u.get());
  std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "lane_outside_mask_kernel")) << message;
  EXPECT_TRUE(contains(message, "the calling lane is not in its mask")) << message;
  EXPECT_TRUE(contains(message, "__ballot_sync(mask 0xfffffffe)")) << message;
  gpulearn_emu_reset_device_for_tests();

  DeviceArray<int> out(33);
  GPULEARN_LAUNCH(1, 32, 0, 0, bad_width_kernel)(out.get());
  message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "width 12 is not a power of 2")) << message;
  gpulearn_emu_reset_device_for_tests();

  GPULEARN_LAUNCH(1, 32, 0, 0, disagreeing_masks_kernel)(out.get());
  message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "disagreeing_masks_kernel")) << message;
  EXPECT_TRUE(contains(message, "mask 0x00000003")) << message;
  gpulearn_emu_reset_device_for_tests();

  GPULEARN_LAUNCH(1, 32, 0, 0, missing_lane_kernel)(out.get());
  message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "missing_lane_kernel")) << message;
  EXPECT_TRUE(contains(message, "deadlock")) << message;
  EXPECT_TRUE(contains(message, "lane 0")) << message;
}

// ---- The race check
// ----------------------------------------------------------------------------------

TEST_F(EmuLaunch, AMissingBarrierIsADataRaceAndTheBarrierFixesIt) {
  DeviceArray<int> out(64);
  GPULEARN_LAUNCH(1, 64, 0, 0, neighbour_read_kernel<true>)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int> o = out.download();
  for (int t = 0; t < 64; ++t) EXPECT_EQ(o[t], 3 * ((t + 1) % 64) + 1) << t;

  GPULEARN_LAUNCH(1, 64, 0, 0, neighbour_read_kernel<false>)(out.get());
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "neighbour_read_kernel<false>")) << message;
  EXPECT_TRUE(contains(message, "data race")) << message;
}

TEST_F(EmuLaunch, ThreadsWritingOneLocationAreADataRace) {
  DeviceArray<int> out(1);
  GPULEARN_LAUNCH(1, 32, 0, 0, one_location_kernel)(out.get());
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "one_location_kernel")) << message;
  EXPECT_TRUE(contains(message, "data race")) << message;
}

// A kernel reaches only the allocations its arguments point into, directly or through a pointer
// inside a struct: its race check copies those, not the rest of device memory, and still finds
// a race through the struct's pointer.
TEST_F(EmuLaunch, TheRaceCheckCopiesWhatTheKernelCanReach) {
  DeviceArray<char> unrelated(size_t{8} << 20);
  DeviceArray<int> out(64);
  gpulearn_emu::Stats before = gpulearn_emu_stats();
  GPULEARN_LAUNCH(1, 64, 0, 0, neighbour_read_kernel<true>)(out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  gpulearn_emu::Stats after = gpulearn_emu_stats();
  EXPECT_EQ(after.race_checked, before.race_checked + 1);
  EXPECT_EQ(after.snapshot_bytes - before.snapshot_bytes, 64 * sizeof(int));

  before = gpulearn_emu_stats();
  GPULEARN_LAUNCH(1, 32, 0, 0, one_location_through_struct_kernel)(IntSpan{out.get(), 64});
  const std::string message = expect_fault(cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(message, "one_location_through_struct_kernel")) << message;
  EXPECT_TRUE(contains(message, "data race")) << message;
  after = gpulearn_emu_stats();
  EXPECT_EQ(after.snapshot_bytes - before.snapshot_bytes, 64 * sizeof(int));
}

TEST_F(EmuLaunch, IntegerAtomicsGiveExactTotalsAndAreComparedWithoutAFalseRace) {
  constexpr unsigned kBlocks = 4, kThreads = 256, n = kBlocks * kThreads;
  DeviceArray<int> i32(
      std::vector<int>{10, 0, std::numeric_limits<int>::max(), std::numeric_limits<int>::min()});
  DeviceArray<unsigned long long> u64(std::vector<unsigned long long>{7, 0, ~0ull});
  DeviceArray<long long> i64(std::vector<long long>{std::numeric_limits<long long>::max(),
                                                    std::numeric_limits<long long>::min()});
  DeviceArray<unsigned> bits(std::vector<unsigned>{0, 0xffffffffu, 0});
  const gpulearn_emu::Stats before = gpulearn_emu_stats();
  GPULEARN_LAUNCH(kBlocks, kThreads, 0, 0, integer_atomics_kernel)
  (i32.get(), u64.get(), i64.get(), bits.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const gpulearn_emu::Stats after = gpulearn_emu_stats();
  // Compared under both thread orders (atomics whose result is unused are order-independent).
  EXPECT_EQ(after.race_checked, before.race_checked + 1);
  EXPECT_EQ(after.race_order_dependent, before.race_order_dependent);

  long long add = 10, rmin = INT64_MAX, rmax = INT64_MIN;
  unsigned long long usum = 7, umax = 0, umin = ~0ull;
  unsigned ors = 0, ands = 0xffffffffu, xors = 0;
  for (unsigned t = 0; t < n; ++t) {
    const long long r = static_cast<long long>(t * 37 % 1001) - 500;
    add += static_cast<long long>(t % 7) - 3;
    rmin = std::min(rmin, r);
    rmax = std::max(rmax, r);
    usum += static_cast<unsigned long long>(t) << 33;
    umax = std::max(umax, static_cast<unsigned long long>(t) << 40);
    umin = std::min(umin, (static_cast<unsigned long long>(t) + 5) << 40);
    ors |= 1u << (t % 32);
    ands &= ~(1u << (t % 31));
    xors ^= t;
  }
  const std::vector<int> gi = i32.download();
  EXPECT_EQ(gi[0], add);
  EXPECT_EQ(gi[1], -2 * static_cast<int>(n));
  EXPECT_EQ(gi[2], rmin);
  EXPECT_EQ(gi[3], rmax);
  const std::vector<unsigned long long> gu = u64.download();
  EXPECT_EQ(gu[0], usum);
  EXPECT_EQ(gu[1], umax);
  EXPECT_EQ(gu[2], umin);
  const std::vector<long long> gl = i64.download();
  EXPECT_EQ(gl[0], rmin * (1LL << 40));
  EXPECT_EQ(gl[1], rmax * (1LL << 40));
  const std::vector<unsigned> gb = bits.download();
  EXPECT_EQ(gb[0], ors);
  EXPECT_EQ(gb[1], ands);
  EXPECT_EQ(gb[2], xors);
}

TEST_F(EmuLaunch, FloatingPointAtomicAddsGiveTheTotal) {
  DeviceArray<float> f32(std::vector<float>{0.0f});
  DeviceArray<double> f64(std::vector<double>{1.0});
  GPULEARN_LAUNCH(4, 256, 0, 0, float_atomics_kernel)(f32.get(), f64.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(f32.download()[0], 0.5f * (0 + 1 + 2 + 3) * 256);  // exact in float
  EXPECT_EQ(f64.download()[0], 1.0 + 0.25 * (1023.0 * 1024.0 / 2));
}

TEST_F(EmuLaunch, AtomicsWhoseResultIsReadAreOrderDependentNotARace) {
  DeviceArray<int> owner(std::vector<int>{0}), winners(std::vector<int>{0});
  DeviceArray<float> max_value(std::vector<float>{-1.0f});
  GPULEARN_LAUNCH(4, 256, 0, 0, cas_kernel)(owner.get(), winners.get(), max_value.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(winners.download()[0], 1);
  const int who = owner.download()[0];
  EXPECT_GE(who, 1);
  EXPECT_LE(who, 1024);
  float want = -1.0f;
  for (int id = 1; id <= 1024; ++id)
    want = std::max(want, static_cast<float>((id * 7919) % 1013) * 0.5f);
  EXPECT_EQ(max_value.download()[0], want);

  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), -300);
  DeviceArray<int> d_in(in), out(1000), count(std::vector<int>{0});
  GPULEARN_LAUNCH(4, 256, 0, 0, compact_kernel)(d_in.get(), 1000, out.get(), count.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<int> want_kept;
  for (int x : in) {
    if (x % 3 == 0) want_kept.push_back(x);
  }
  const int kept = count.download()[0];
  ASSERT_EQ(kept, static_cast<int>(want_kept.size()));
  std::vector<int> got = out.download();
  got.resize(static_cast<size_t>(kept));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want_kept);
}

/// In a child process: with GPULEARN_EMU_RACECHECK=0 (read at the first launch) a racy grid
/// runs once, threads in ascending order, and does not fault.
[[noreturn]] void racy_launch_without_the_check() {
  setenv("GPULEARN_EMU_RACECHECK", "0", 1);
  DeviceArray<int> out(1);
  GPULEARN_LAUNCH(1, 32, 0, 0, one_location_kernel)(out.get());
  const cudaError_t e = cudaDeviceSynchronize();
  const int v = out.download()[0];
  std::fprintf(stderr, "sync %d value %d\n", static_cast<int>(e), v);
  std::exit(e == cudaSuccess && v == 31 ? 0 : 1);
}

TEST(EmuLaunchDeathTest, TheRaceCheckCanBeTurnedOff) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(racy_launch_without_the_check(), ::testing::ExitedWithCode(0), "sync 0 value 31");
}

// ---- Integer intrinsics and maths
// ----------------------------------------------------------------

int ref_popc(unsigned long long x, int bits) {
  int n = 0;
  for (int i = 0; i < bits; ++i) n += static_cast<int>((x >> i) & 1u);
  return n;
}
int ref_ffs(unsigned long long x, int bits) {
  for (int i = 0; i < bits; ++i) {
    if ((x >> i) & 1u) return i + 1;
  }
  return 0;
}
int ref_clz(unsigned long long x, int bits) {
  for (int i = bits - 1; i >= 0; --i) {
    if ((x >> i) & 1u) return bits - 1 - i;
  }
  return bits;
}
unsigned ref_brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// The high 64 bits of a 128-bit product, from 32-bit limbs.
unsigned long long ref_mul64hi(unsigned long long a, unsigned long long b) {
  const unsigned long long a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
  const unsigned long long p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const unsigned long long mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

TEST_F(EmuLaunch, IntegerIntrinsicsMatchHostReferences) {
  std::vector<unsigned long long> in = {0,
                                        1,
                                        2,
                                        0x80000000ull,
                                        0xffffffffull,
                                        0x100000000ull,
                                        0x8000000000000000ull,
                                        ~0ull,
                                        0x00f0000000000010ull,
                                        0x123456789abcdef0ull};
  std::mt19937_64 rng(77);
  for (int i = 0; i < 54; ++i) in.push_back(rng() >> (i % 64));
  const int n = static_cast<int>(in.size());
  DeviceArray<unsigned long long> d_in(in);
  DeviceArray<long long> out(in.size() * kIntOps);
  GPULEARN_LAUNCH(1, 64, 0, 0, integer_intrinsics_kernel)(d_in.get(), n, out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<long long> o = out.download();
  for (int t = 0; t < n; ++t) {
    const unsigned long long x = in[t];
    const auto lo = static_cast<unsigned>(x), hi = static_cast<unsigned>(x >> 32);
    const long long* r = &o[t * kIntOps];
    SCOPED_TRACE(::testing::Message() << "x = 0x" << std::hex << x);
    EXPECT_EQ(r[0], ref_popc(lo, 32));
    EXPECT_EQ(r[1], ref_popc(x, 64));
    EXPECT_EQ(r[2], ref_ffs(lo, 32));
    EXPECT_EQ(r[3], ref_ffs(x, 64));
    EXPECT_EQ(r[4], ref_clz(lo, 32));
    EXPECT_EQ(r[5], ref_clz(x, 64));
    EXPECT_EQ(r[6], static_cast<long long>(ref_brev(lo)));
    EXPECT_EQ(r[7], static_cast<long long>((static_cast<unsigned long long>(lo) * hi) >> 32));
    EXPECT_EQ(static_cast<unsigned long long>(r[8]), ref_mul64hi(x, ~x));
  }
}

TEST_F(EmuLaunch, DeviceMathsMatchesTheHostLibrary) {
  const std::vector<float> in = {-3.5f, -1.0f, -0.25f, 0.0f, 0.125f, 0.5f, 1.0f, 2.75f, 10.0f};
  const int n = static_cast<int>(in.size());
  DeviceArray<float> d_in(in), out(in.size() * kMathOps);
  GPULEARN_LAUNCH(1, 32, 0, 0, maths_kernel)(d_in.get(), n, out.get());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> o = out.download();
  for (int t = 0; t < n; ++t) {
    const double x = in[t];
    const float* r = &o[t * kMathOps];
    SCOPED_TRACE(::testing::Message() << "x = " << x);
    const auto near = [](double got, double want) {
      EXPECT_NEAR(got, want, 2e-6 * std::max(1.0, std::fabs(want)));
    };
    near(r[0], std::sqrt(std::fabs(x)));
    near(r[1], std::exp(x));
    near(r[2], std::exp(x));
    near(r[3], std::log(std::fabs(x) + 1));
    near(r[4], std::log(std::fabs(x) + 1));
    near(r[5], 1 / std::sqrt(std::fabs(x) + 0.5));
    near(r[6], x / 3);
    near(r[7], std::min(1.0, std::max(0.0, x)));
    near(r[8], 2 * x + 1);
    near(r[9], std::min(static_cast<double>(t), x));
    near(r[10], std::max(x, 0.25));
    EXPECT_EQ(r[11], -static_cast<float>(x));
  }
}

}  // namespace
