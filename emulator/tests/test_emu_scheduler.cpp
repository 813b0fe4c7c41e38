// The block scheduler's fast paths (emulator/src/launch.cpp) keep CUDA's semantics and the
// checks: threads that never wait run back to back on one worker fiber, threads that wait keep
// theirs, and the race check copies memory once and compares changed ranges. These tests mix
// threads that wait with threads that do not, and check that the race check still finds races
// anywhere in an allocation while a read-modify-write kernel still runs exactly once.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "gpulearn_emu/stats.hpp"

#define GPULEARN_LAUNCH(grid, block, shared, stream, ...) \
  ::gpulearn_emu::Launch(__VA_ARGS__, #__VA_ARGS__, grid, block, shared, stream, __FILE__, __LINE__)
#define GPULEARN_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::gpulearn_emu::dynamic_shared())

extern "C" void gpulearn_emu_reset_device_for_tests();
extern "C" gpulearn_emu::Stats gpulearn_emu_stats();

namespace {

template <typename T>
T* device_copy(const std::vector<T>& host) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
            cudaSuccess);
  return static_cast<T*>(p);
}

template <typename T>
std::vector<T> host_copy(const T* p, size_t n) {
  std::vector<T> host(n);
  EXPECT_EQ(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

// ---- Kernels ------------------------------------------------------------------------------------

// Every thread adds one: each element must end up incremented once, although the race check
// runs the grid twice.
__global__ void increment(int* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1;
}

// Odd threads exit at once; the even lanes of each warp exchange values through shared memory
// across a __syncwarp with the even-lane mask.
__global__ void evens_exchange(int* out) {
  GPULEARN_DYNAMIC_SHARED(int, s);
  const unsigned t = threadIdx.x;
  if (t % 2 == 1) {
    out[t] = -static_cast<int>(t);
    return;
  }
  s[t] = static_cast<int>(t) * 10;
  __syncwarp(0x55555555u);
  const unsigned partner = (t / 32) * 32 + ((t % 32) + 2) % 32;
  out[t] = s[partner];
}

// Like evens_exchange without the __syncwarp: a race in shared memory that the check must see.
__global__ void evens_exchange_unsynced(int* out) {
  GPULEARN_DYNAMIC_SHARED(int, s);
  const unsigned t = threadIdx.x;
  if (t % 2 == 1) {
    out[t] = -static_cast<int>(t);
    return;
  }
  s[t] = static_cast<int>(t) * 10;
  const unsigned partner = (t / 32) * 32 + ((t % 32) + 2) % 32;
  out[t] = s[partner];
}

// Threads of a block all write one element of a large allocation: a race that only shows far
// from either end of the allocation.
__global__ void one_location(int* x, int at) { x[at] = static_cast<int>(threadIdx.x); }

// Two allocations, the first untouched by the race; the second gets the race near its end.
__global__ void two_arrays(int* a, int* b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) a[i] = 2 * i;
  b[n - 1] = static_cast<int>(threadIdx.x);
}

// A barrier that half the threads skip after the other half started waiting on workers.
__global__ void barrier_in_branch(int* out) {
  if (threadIdx.x < blockDim.x / 2) __syncthreads();
  out[threadIdx.x] = 1;
}

// Warp sum by shuffles in a block where the threads of the last warp exit early.
__global__ void warp_sums(const int* in, int* out) {
  const unsigned t = threadIdx.x;
  if (t >= 64) return;  // warps 2 and up exit without a collective
  int v = in[t];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  if (t % 32 == 0) out[t / 32] = v;
}

class EmuScheduler : public ::testing::Test {
 protected:
  void TearDown() override { gpulearn_emu_reset_device_for_tests(); }
};

TEST_F(EmuScheduler, AReadModifyWriteKernelRunsOnceDespiteTheRaceCheck) {
  std::vector<int> host(3000);
  for (int i = 0; i < 3000; ++i) host[static_cast<size_t>(i)] = i;
  int* x = device_copy(host);
  for (int round = 0; round < 3; ++round) {
    GPULEARN_LAUNCH(12, 256, 0, 0, increment)(x, 3000);
  }
  const std::vector<int> got = host_copy(x, 3000);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], i + 3) << i;
  EXPECT_EQ(cudaFree(x), cudaSuccess);
}

TEST_F(EmuScheduler, ThreadsThatExitAndThreadsThatWaitMixInOneBlock) {
  int* out = device_copy(std::vector<int>(256, 0));
  GPULEARN_LAUNCH(1, 256, 256 * sizeof(int), 0, evens_exchange)(out);
  const std::vector<int> got = host_copy(out, 256);
  for (unsigned t = 0; t < 256; ++t) {
    const int want = t % 2 == 1 ? -static_cast<int>(t)
                                : static_cast<int>(((t / 32) * 32 + ((t % 32) + 2) % 32) * 10);
    ASSERT_EQ(got[t], want) << t;
  }
  EXPECT_EQ(cudaFree(out), cudaSuccess);
}

TEST_F(EmuScheduler, AMissingSyncwarpAmongExitingThreadsIsADataRace) {
  int* out = device_copy(std::vector<int>(256, 0));
  GPULEARN_LAUNCH(1, 256, 256 * sizeof(int), 0, evens_exchange_unsynced)(out);
  const cudaError_t e = cudaDeviceSynchronize();
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("data race"), std::string::npos)
      << cudaGetErrorString(e);
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaFree(out), cudaSuccess);
}

TEST_F(EmuScheduler, ARaceInTheMiddleOfALargeAllocationIsFoundAndLocated) {
  int* x = device_copy(std::vector<int>(100000, 7));
  GPULEARN_LAUNCH(1, 64, 0, 0, one_location)(x, 54321);
  const cudaError_t e = cudaDeviceSynchronize();
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  const std::string msg = cudaGetErrorString(e);
  EXPECT_NE(msg.find("data race: byte " + std::to_string(54321 * 4) + " of the 400000-byte"),
            std::string::npos)
      << msg;
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaFree(x), cudaSuccess);
}

TEST_F(EmuScheduler, TheRaceIsFoundInTheAllocationThatHasIt) {
  int* a = device_copy(std::vector<int>(1000, 0));
  int* b = device_copy(std::vector<int>(1000, 0));
  GPULEARN_LAUNCH(4, 256, 0, 0, two_arrays)(a, b, 1000);
  const cudaError_t e = cudaDeviceSynchronize();
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  const std::string msg = cudaGetErrorString(e);
  EXPECT_NE(msg.find("byte 3996 of the 4000-byte"), std::string::npos) << msg;
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaFree(a), cudaSuccess);
  EXPECT_EQ(cudaFree(b), cudaSuccess);
}

TEST_F(EmuScheduler, ABarrierSkippedByHalfTheThreadsIsAFault) {
  int* out = device_copy(std::vector<int>(128, 0));
  GPULEARN_LAUNCH(3, 128, 0, 0, barrier_in_branch)(out);
  const cudaError_t e = cudaDeviceSynchronize();
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("exited without reaching the __syncthreads"),
            std::string::npos)
      << cudaGetErrorString(e);
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaFree(out), cudaSuccess);
}

TEST_F(EmuScheduler, ShufflesWorkWhileOtherWarpsExitAndAcrossManyBlocks) {
  std::vector<int> in(256);
  for (int i = 0; i < 256; ++i) in[static_cast<size_t>(i)] = i;
  int* d_in = device_copy(in);
  int* out = device_copy(std::vector<int>(2, 0));
  // Many blocks: workers are reused from block to block and from one launch to the next.
  for (int round = 0; round < 2; ++round) {
    GPULEARN_LAUNCH(50, 256, 0, 0, warp_sums)(d_in, out);
  }
  const std::vector<int> got = host_copy(out, 2);
  EXPECT_EQ(got[0], 31 * 32 / 2);
  EXPECT_EQ(got[1], (32 + 63) * 32 / 2);
  EXPECT_EQ(cudaFree(d_in), cudaSuccess);
  EXPECT_EQ(cudaFree(out), cudaSuccess);
}

}  // namespace
