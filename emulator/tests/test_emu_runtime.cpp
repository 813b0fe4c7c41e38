// The emulator's runtime (emulator/src/runtime.cpp): allocations and their poison, capacity and
// out-of-memory, pointer attributes, copies and fills of every kind with their range checks and
// CUDA's rules for when a call returns, streams as in-order queues that run only when the host
// synchronises (so a host read of pinned memory before the sync sees stale data), legacy
// default-stream ordering (the legacy and blocking streams interleave in queue order), events,
// device properties and devices, the per-thread last error, and sticky faults (a kernel given
// pageable host memory). Environment variables the runtime reads once
// (GPULEARN_EMULATED_DEVICES, GPULEARN_EMULATED_MEMORY_BYTES) are tested in child processes
// (death tests that re-execute the binary).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

// As in test_emu_launch.cpp: one definition for every kernel launch of this binary.
#define GPULEARN_EMU_POISON_STATIC_SHARED 1
#include <cuda_runtime.h>

#include "device_array.hpp"

// As cuda/core/launch.cuh defines it under GPULEARN_CUDA_EMULATION.
#define GPULEARN_LAUNCH(grid, block, shared, stream, ...) \
  ::gpulearn_emu::Launch(__VA_ARGS__, #__VA_ARGS__, grid, block, shared, stream, __FILE__, __LINE__)

// Clears the device's sticky error and queues (the runtime's hook for tests).
extern "C" void gpulearn_emu_reset_device_for_tests();

namespace {

// ---- Helpers ------------------------------------------------------------------------------------

using gpulearn_emu_test::DeviceArray;

/// cudaMallocHost'd memory.
template <typename T>
class PinnedArray {
 public:
  explicit PinnedArray(size_t n, T value = T{}) : n_(n) {
    void* p = nullptr;
    EXPECT_EQ(cudaMallocHost(&p, n * sizeof(T)), cudaSuccess);
    p_ = static_cast<T*>(p);
    std::fill(p_, p_ + n_, value);
  }
  PinnedArray(const PinnedArray&) = delete;
  PinnedArray& operator=(const PinnedArray&) = delete;
  ~PinnedArray() { (void)cudaFreeHost(p_); }
  T* get() const { return p_; }
  T& operator[](size_t i) const { return p_[i]; }
  std::vector<T> values() const { return std::vector<T>(p_, p_ + n_); }

 private:
  T* p_ = nullptr;
  size_t n_;
};

class Stream {
 public:
  explicit Stream(unsigned flags) { EXPECT_EQ(cudaStreamCreateWithFlags(&s_, flags), cudaSuccess); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { (void)cudaStreamDestroy(s_); }
  operator cudaStream_t() const { return s_; }  // NOLINT: used as the handle

 private:
  cudaStream_t s_ = nullptr;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool all_bytes(const void* p, size_t bytes, unsigned char value) {
  const auto* b = static_cast<const unsigned char*>(p);
  return std::all_of(b, b + bytes, [value](unsigned char x) { return x == value; });
}

std::vector<int> iota_vector(size_t n, int first) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

class EmuRuntime : public ::testing::Test {
 protected:
  void SetUp() override { gpulearn_emu_reset_device_for_tests(); }
  void TearDown() override { gpulearn_emu_reset_device_for_tests(); }
};

/// The child re-executes the test binary: the runtime there starts afresh and reads the
/// environment variables the child sets before its first CUDA call.
void use_threadsafe_death_tests() {
#ifdef GTEST_FLAG_SET
  GTEST_FLAG_SET(death_test_style, "threadsafe");
#else
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
#endif
}

// In a child process: a failed check prints itself and exits with 1.
#define CHILD_CHECK(cond)                                                           \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

// ---- Kernels ------------------------------------------------------------------------------------

__global__ void write_kernel(int* p, int n, int first) {
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n;
       i += static_cast<int>(gridDim.x * blockDim.x)) {
    p[i] = first + i;
  }
}

__global__ void scale_add_kernel(int* p, int n, int mul, int add) {
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n;
       i += static_cast<int>(gridDim.x * blockDim.x)) {
    p[i] = p[i] * mul + add;
  }
}

__global__ void copy_plus_one_kernel(const int* src, int* dst, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) dst[i] = src[i] + 1;
}

__global__ void deref_kernel(const int* in, int* out) { out[0] = in[0]; }

__global__ void distance_kernel(const int* begin, const int* end, long long* out) {
  out[0] = end - begin;
}

// ---- Allocations
// ---------------------------------------------------------------------------------

TEST_F(EmuRuntime, NewDeviceMemoryIsAlignedAndPoisoned) {
  for (size_t bytes : {size_t{1}, size_t{1000}, size_t{4096}, size_t{100003}}) {
    void* p = nullptr;
    ASSERT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u) << bytes;
    std::vector<unsigned char> host(bytes, 0);
    ASSERT_EQ(cudaMemcpy(host.data(), p, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_TRUE(all_bytes(host.data(), bytes, 0xFF)) << bytes;
    // Written, freed and allocated again: poisoned again, whatever memory comes back.
    ASSERT_EQ(cudaMemset(p, 0, bytes), cudaSuccess);
    ASSERT_EQ(cudaFree(p), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(host.data(), p, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_TRUE(all_bytes(host.data(), bytes, 0xFF)) << bytes;
    ASSERT_EQ(cudaFree(p), cudaSuccess);
  }
}

TEST_F(EmuRuntime, FreeChecksItsPointer) {
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(nullptr), cudaSuccess);
  void* d = nullptr;
  void* h = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 64), cudaSuccess);
  ASSERT_EQ(cudaMallocHost(&h, 64), cudaSuccess);
  EXPECT_EQ(cudaFree(static_cast<char*>(d) + 16), cudaErrorInvalidValue)
      << "not an allocation's start";
  EXPECT_EQ(cudaFree(h), cudaErrorInvalidValue) << "pinned memory through cudaFree";
  EXPECT_EQ(cudaFreeHost(d), cudaErrorInvalidValue) << "device memory through cudaFreeHost";
  int on_stack = 0;
  EXPECT_EQ(cudaFree(&on_stack), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not sticky";
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaErrorInvalidValue) << "a double free";
  EXPECT_EQ(cudaFreeHost(h), cudaSuccess);
  EXPECT_EQ(cudaMalloc(nullptr, 16), cudaErrorInvalidValue);
  (void)cudaGetLastError();
}

TEST_F(EmuRuntime, MemGetInfoCountsDeviceAllocationsAndTooLargeOnesFail) {
  size_t free0 = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  cudaDeviceProp prop{};
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT_EQ(total, prop.totalGlobalMem);
  if (std::getenv("GPULEARN_EMULATED_MEMORY_BYTES") == nullptr) {
    EXPECT_EQ(total, size_t{141} * 1000 * 1000 * 1000) << "an H200's 141 GB";
  }
  EXPECT_LE(free0, total);

  constexpr size_t kBytes = size_t{1} << 20;
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, kBytes), cudaSuccess);
  size_t free1 = 0;
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  EXPECT_EQ(free1, free0 - kBytes);
  // Pinned host memory is not device memory.
  void* h = nullptr;
  ASSERT_EQ(cudaMallocHost(&h, kBytes), cudaSuccess);
  size_t free2 = 0;
  ASSERT_EQ(cudaMemGetInfo(&free2, &total), cudaSuccess);
  EXPECT_EQ(free2, free1);

  // More than is free: out of memory, a null pointer, and not sticky.
  void* big = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(cudaMalloc(&big, free2 + 1), cudaErrorMemoryAllocation);
  EXPECT_EQ(big, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&big, size_t{200} * 1000 * 1000 * 1000), cudaErrorMemoryAllocation);
  (void)cudaGetLastError();

  ASSERT_EQ(cudaFree(d), cudaSuccess);
  ASSERT_EQ(cudaFreeHost(h), cudaSuccess);
  size_t free3 = 0;
  ASSERT_EQ(cudaMemGetInfo(&free3, &total), cudaSuccess);
  EXPECT_EQ(free3, free0);
}

[[noreturn]] void small_device_child() {
  setenv("GPULEARN_EMULATED_MEMORY_BYTES", "1048576", 1);
  size_t free_bytes = 0, total = 0;
  CHILD_CHECK(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess);
  CHILD_CHECK(total == 1048576 && free_bytes == 1048576);
  cudaDeviceProp prop{};
  CHILD_CHECK(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  CHILD_CHECK(prop.totalGlobalMem == 1048576);
  void* a = nullptr;
  void* b = nullptr;
  CHILD_CHECK(cudaMalloc(&a, 600000) == cudaSuccess);
  CHILD_CHECK(cudaMalloc(&b, 600000) == cudaErrorMemoryAllocation && b == nullptr);
  CHILD_CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHILD_CHECK(cudaMalloc(&b, 448576) == cudaSuccess);  // exactly what is left
  CHILD_CHECK(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess && free_bytes == 0);
  CHILD_CHECK(cudaFree(a) == cudaSuccess);
  CHILD_CHECK(cudaMalloc(&a, 600000) == cudaSuccess);
  std::fprintf(stderr, "small device ok\n");
  std::exit(0);
}

TEST(EmuRuntimeDeathTest, EmulatedMemoryBytesSetsTheCapacity) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(small_device_child(), ::testing::ExitedWithCode(0), "small device ok");
}

TEST_F(EmuRuntime, PointerAttributesTellDevicePinnedAndPageableApart) {
  DeviceArray<int> d(100);
  PinnedArray<int> h(100);
  std::vector<int> pageable(100);
  cudaPointerAttributes a{};

  ASSERT_EQ(cudaPointerGetAttributes(&a, d.get()), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeDevice);
  EXPECT_EQ(a.device, 0);
  EXPECT_EQ(a.devicePointer, d.get());
  EXPECT_EQ(a.hostPointer, nullptr);
  ASSERT_EQ(cudaPointerGetAttributes(&a, d.get() + 99), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeDevice) << "the last element";
  EXPECT_EQ(a.devicePointer, d.get() + 99);

  ASSERT_EQ(cudaPointerGetAttributes(&a, d.get() + 100), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeUnregistered) << "one past the end is outside the allocation";

  ASSERT_EQ(cudaPointerGetAttributes(&a, h.get() + 3), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeHost);
  EXPECT_EQ(a.hostPointer, h.get() + 3);
  EXPECT_EQ(a.devicePointer, h.get() + 3) << "unified addressing";

  for (const void* p :
       {static_cast<const void*>(pageable.data()), static_cast<const void*>(&pageable)}) {
    ASSERT_EQ(cudaPointerGetAttributes(&a, p), cudaSuccess);
    EXPECT_EQ(a.type, cudaMemoryTypeUnregistered);
    EXPECT_EQ(a.devicePointer, nullptr);
  }

  void* freed = nullptr;
  ASSERT_EQ(cudaMalloc(&freed, 64), cudaSuccess);
  ASSERT_EQ(cudaFree(freed), cudaSuccess);
  ASSERT_EQ(cudaPointerGetAttributes(&a, freed), cudaSuccess);
  EXPECT_NE(a.type, cudaMemoryTypeDevice) << "freed memory";
  EXPECT_EQ(cudaPointerGetAttributes(nullptr, d.get()), cudaErrorInvalidValue);
  (void)cudaGetLastError();
}

// ---- Copies and fills
// ----------------------------------------------------------------------------

TEST_F(EmuRuntime, MemcpyMovesDataBetweenEverySpace) {
  constexpr size_t n = 1000;
  const std::vector<int> src = iota_vector(n, -17);
  DeviceArray<int> d1(n), d2(n);
  PinnedArray<int> pinned(n, 0);
  std::vector<int> back(n, 0), host(n, 0);

  ASSERT_EQ(cudaMemcpy(d1.get(), src.data(), n * sizeof(int), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d2.get(), d1.get(), n * sizeof(int), cudaMemcpyDeviceToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(pinned.get(), d2.get(), n * sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(pinned.values(), src) << "device to pinned";
  pinned[0] = 123456;
  ASSERT_EQ(cudaMemcpy(d1.get(), pinned.get(), n * sizeof(int), cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(back.data(), d1.get(), n * sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(back[0], 123456) << "pinned to device";
  EXPECT_TRUE(std::equal(back.begin() + 1, back.end(), src.begin() + 1));
  ASSERT_EQ(cudaMemcpy(host.data(), src.data(), n * sizeof(int), cudaMemcpyHostToHost),
            cudaSuccess);
  EXPECT_EQ(host, src) << "host to host";

  // cudaMemcpyDefault: the direction from the pointers (unified addressing).
  std::vector<int> other = iota_vector(n, 5000);
  ASSERT_EQ(cudaMemcpy(d2.get(), other.data(), n * sizeof(int), cudaMemcpyDefault), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d1.get(), d2.get(), n * sizeof(int), cudaMemcpyDefault), cudaSuccess);
  std::fill(back.begin(), back.end(), 0);
  ASSERT_EQ(cudaMemcpy(back.data(), d1.get(), n * sizeof(int), cudaMemcpyDefault), cudaSuccess);
  EXPECT_EQ(back, other);
  std::fill(host.begin(), host.end(), 0);
  ASSERT_EQ(cudaMemcpy(host.data(), other.data(), n * sizeof(int), cudaMemcpyDefault), cudaSuccess);
  EXPECT_EQ(host, other);

  EXPECT_EQ(cudaMemcpy(host.data(), d1.get(), 0, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(host.data(), d1.get(), 4, static_cast<cudaMemcpyKind>(7)),
            cudaErrorInvalidMemcpyDirection);
  (void)cudaGetLastError();
}

TEST_F(EmuRuntime, CopiesAndFillsThatLeaveTheirAllocationAreInvalidAndWriteNothing) {
  constexpr size_t n = 256;
  const std::vector<int> src = iota_vector(n, 1);
  DeviceArray<int> d(src), e(n);
  std::vector<int> host(n + 8, 0);
  const size_t all = n * sizeof(int);

  EXPECT_EQ(cudaMemcpy(d.get() + 200, host.data(), 100 * sizeof(int), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not sticky";
  EXPECT_EQ(cudaMemcpy(host.data(), d.get() + 1, all, cudaMemcpyDeviceToHost),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(e.get(), d.get() + 1, all, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(e.get() + 1, d.get(), all, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(e.get() + 1, d.get(), all, cudaMemcpyDeviceToDevice, 0),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset(d.get(), 0, all + 1), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemsetAsync(d.get() + 255, 0, 8, 0), cudaErrorInvalidValue);
  // A 2-D copy whose last row runs past the end: 4 rows of 64 bytes at a 256-byte pitch span
  // 832 bytes of the 1024-byte allocation when they start at 0, 1028 when they start at 196.
  EXPECT_EQ(cudaMemcpy2D(d.get(), 256, host.data(), 64, 64, 4, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d.get(), src.data(), all, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy2D(d.get() + 49, 256, host.data(), 64, 64, 4, cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset2DAsync(d.get() + 49, 256, 0, 64, 4, 0), cudaErrorInvalidValue);
  (void)cudaGetLastError();

  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(d.download(), src) << "a rejected copy or fill wrote something";
  const std::vector<int> untouched = e.download();
  EXPECT_TRUE(all_bytes(untouched.data(), all, 0xFF));
  // Memset works on device memory only.
  EXPECT_EQ(cudaMemset(host.data(), 0, 16), cudaErrorInvalidValue);
  (void)cudaGetLastError();
}

TEST_F(EmuRuntime, TwoDimensionalCopiesHonourThePitches) {
  constexpr size_t rows = 5, cols = 7, hpitch = 9, dpitch = 16, opitch = 11;  // in floats
  std::vector<float> host(rows * hpitch, -1.0f);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) host[r * hpitch + c] = static_cast<float>(r * 100 + c);
  }
  DeviceArray<float> d(rows * dpitch), e(rows * 8);
  ASSERT_EQ(cudaMemcpy2D(d.get(), dpitch * sizeof(float), host.data(), hpitch * sizeof(float),
                         cols * sizeof(float), rows, cudaMemcpyHostToDevice),
            cudaSuccess);
  const std::vector<float> whole = d.download();
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < dpitch; ++c) {
      const float got = whole[r * dpitch + c];
      if (c < cols) {
        EXPECT_EQ(got, static_cast<float>(r * 100 + c)) << r << "," << c;
      } else {
        EXPECT_TRUE(all_bytes(&got, sizeof got, 0xFF)) << "padding written at " << r << "," << c;
      }
    }
  }

  std::vector<float> out(rows * opitch, -7.0f);
  ASSERT_EQ(cudaMemcpy2D(out.data(), opitch * sizeof(float), d.get(), dpitch * sizeof(float),
                         cols * sizeof(float), rows, cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < opitch; ++c) {
      EXPECT_EQ(out[r * opitch + c], c < cols ? static_cast<float>(r * 100 + c) : -7.0f)
          << r << "," << c;
    }
  }

  // Device to device on a stream, then device to pinned: nothing before the sync.
  Stream stream(cudaStreamNonBlocking);
  PinnedArray<float> pinned(rows * cols, 0.5f);
  ASSERT_EQ(cudaMemcpy2DAsync(e.get(), 8 * sizeof(float), d.get(), dpitch * sizeof(float),
                              cols * sizeof(float), rows, cudaMemcpyDeviceToDevice, stream),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy2DAsync(pinned.get(), cols * sizeof(float), e.get(), 8 * sizeof(float),
                              cols * sizeof(float), rows, cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  EXPECT_EQ(pinned[0], 0.5f) << "the queued copies ran before the stream was synchronised";
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      EXPECT_EQ(pinned[r * cols + c], static_cast<float>(r * 100 + c)) << r << "," << c;
    }
  }

  EXPECT_EQ(
      cudaMemcpy2D(out.data(), 4, d.get(), dpitch * sizeof(float), 8, 2, cudaMemcpyDeviceToHost),
      cudaErrorInvalidPitchValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidPitchValue);
}

TEST_F(EmuRuntime, MemsetFillsBytesOnItsStream) {
  DeviceArray<unsigned char> d(64);
  ASSERT_EQ(cudaMemset(d.get() + 10, 0x1234, 20), cudaSuccess);  // the low byte only
  std::vector<unsigned char> got = d.download();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(got[i], i >= 10 && i < 30 ? 0x34 : 0xFF) << i;

  Stream stream(cudaStreamNonBlocking);
  PinnedArray<unsigned char> pinned(64, 0);
  ASSERT_EQ(cudaMemsetAsync(d.get(), 0xAB, 5, stream), cudaSuccess);
  ASSERT_EQ(cudaMemset2DAsync(d.get() + 32, 8, 0xCD, 3, 4, stream), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(pinned.get(), d.get(), 64, cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  EXPECT_EQ(pinned[0], 0) << "ran before the stream was synchronised";
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (int i = 0; i < 64; ++i) {
    unsigned char want = got[i];
    if (i < 5) want = 0xAB;
    if (i >= 32 && (i - 32) % 8 < 3) want = 0xCD;
    EXPECT_EQ(pinned[i], want) << i;
  }
}

// ---- Streams
// -------------------------------------------------------------------------------------

TEST_F(EmuRuntime, PinnedMemoryWrittenByQueuedWorkIsStaleUntilTheStreamIsSynchronised) {
  constexpr int n = 300;
  Stream stream(cudaStreamNonBlocking);
  DeviceArray<int> d(n);
  PinnedArray<int> by_copy(n, 0), by_kernel(n, 0);
  GPULEARN_LAUNCH(2, 128, 0, stream, write_kernel)(d.get(), n, 1);
  ASSERT_EQ(
      cudaMemcpyAsync(by_copy.get(), d.get(), n * sizeof(int), cudaMemcpyDeviceToHost, stream),
      cudaSuccess);
  // A kernel may write pinned host memory directly.
  GPULEARN_LAUNCH(2, 128, 0, stream, write_kernel)(by_kernel.get(), n, 1000);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(by_copy.values(), std::vector<int>(n, 0));
  EXPECT_EQ(by_kernel.values(), std::vector<int>(n, 0));
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(by_copy.values(), iota_vector(n, 1));
  EXPECT_EQ(by_kernel.values(), iota_vector(n, 1000));
}

TEST_F(EmuRuntime, APageableSourceIsStagedAtTheCallAPinnedOneReadWhenTheCopyRuns) {
  constexpr int n = 64;
  Stream stream(cudaStreamNonBlocking);
  DeviceArray<int> a(n), b(n);
  std::vector<int> pageable(n, 1);
  PinnedArray<int> pinned(n, 1);
  ASSERT_EQ(
      cudaMemcpyAsync(a.get(), pageable.data(), n * sizeof(int), cudaMemcpyHostToDevice, stream),
      cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b.get(), pinned.get(), n * sizeof(int), cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  std::fill(pageable.begin(), pageable.end(), 2);
  std::fill(pinned.get(), pinned.get() + n, 2);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(a.download(), std::vector<int>(n, 1));
  EXPECT_EQ(b.download(), std::vector<int>(n, 2));
}

TEST_F(EmuRuntime, ACopyToPageableMemoryReturnsWhenItIsDone) {
  constexpr int n = 100;
  Stream stream(cudaStreamNonBlocking);
  DeviceArray<int> d(n);
  std::vector<int> host(n, 0);
  GPULEARN_LAUNCH(1, 64, 0, stream, write_kernel)(d.get(), n, 40);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), d.get(), n * sizeof(int), cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  EXPECT_EQ(host, iota_vector(n, 40)) << "with the stream's earlier kernel done";
}

TEST_F(EmuRuntime, AStreamRunsItsWorkInOrder) {
  constexpr int n = 50;
  Stream stream(cudaStreamNonBlocking);
  DeviceArray<int> d(n);
  PinnedArray<int> out(n, 0);
  GPULEARN_LAUNCH(1, 32, 0, stream, write_kernel)(d.get(), n, 0);
  GPULEARN_LAUNCH(1, 32, 0, stream, scale_add_kernel)(d.get(), n, 2, 3);
  GPULEARN_LAUNCH(1, 32, 0, stream, scale_add_kernel)(d.get(), n, 10, 0);
  ASSERT_EQ(cudaMemsetAsync(d.get(), 0, sizeof(int), stream), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, stream, scale_add_kernel)(d.get(), n, 1, 1);
  ASSERT_EQ(cudaMemcpyAsync(out.get(), d.get(), n * sizeof(int), cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  // A polling loop terminates (the emulator makes progress when queried).
  int polls = 0;
  cudaError_t q;
  while ((q = cudaStreamQuery(stream)) == cudaErrorNotReady && polls < 1000) ++polls;
  EXPECT_EQ(q, cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(out[0], 1);
  for (int i = 1; i < n; ++i) EXPECT_EQ(out[i], (i * 2 + 3) * 10 + 1) << i;
}

TEST_F(EmuRuntime, TheLegacyDefaultStreamWaitsForBlockingStreamsNotNonBlockingOnes) {
  constexpr int n = 16;
  DeviceArray<int> d(n);
  Stream non_blocking(cudaStreamNonBlocking), blocking(cudaStreamDefault);

  GPULEARN_LAUNCH(1, 32, 0, non_blocking, write_kernel)(d.get(), n, 42);
  std::vector<int> got = d.download();  // cudaMemcpy on the legacy default stream
  EXPECT_EQ(got, std::vector<int>(n, -1)) << "waited for the non-blocking stream's kernel";
  ASSERT_EQ(cudaStreamSynchronize(non_blocking), cudaSuccess);
  EXPECT_EQ(d.download(), iota_vector(n, 42));

  GPULEARN_LAUNCH(1, 32, 0, blocking, write_kernel)(d.get(), n, 7);
  EXPECT_EQ(d.download(), iota_vector(n, 7)) << "did not wait for the blocking stream's kernel";

  // A blocking stream's work waits for the legacy stream's earlier work.
  PinnedArray<int> out(n, 0);
  GPULEARN_LAUNCH(1, 32, 0, 0, write_kernel)(d.get(), n, 100);
  GPULEARN_LAUNCH(1, 32, 0, blocking, scale_add_kernel)(d.get(), n, 1, 1);
  ASSERT_EQ(cudaMemcpyAsync(out.get(), d.get(), n * sizeof(int), cudaMemcpyDeviceToHost, blocking),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(blocking), cudaSuccess);
  EXPECT_EQ(out.values(), iota_vector(n, 101));
}

// The legacy default stream and the blocking streams wait for each other's earlier work, item
// by item: whichever of them the host synchronises with, the work runs in the order it was
// queued across them.
TEST_F(EmuRuntime, LegacyAndBlockingStreamsInterleaveInQueueOrder) {
  constexpr int n = 16;
  DeviceArray<int> d(n);
  Stream blocking(cudaStreamDefault);
  std::vector<int> want(n);
  for (int i = 0; i < n; ++i) want[i] = (100 + i) * 2 + 5;

  // Synchronised through the legacy stream (cudaMemcpy).
  GPULEARN_LAUNCH(1, 32, 0, 0, write_kernel)(d.get(), n, 100);
  GPULEARN_LAUNCH(1, 32, 0, blocking, scale_add_kernel)(d.get(), n, 2, 0);
  GPULEARN_LAUNCH(1, 32, 0, 0, scale_add_kernel)(d.get(), n, 1, 5);
  EXPECT_EQ(d.download(), want) << "legacy, blocking, legacy";

  // Synchronised through the blocking stream.
  PinnedArray<int> out(n, 0);
  GPULEARN_LAUNCH(1, 32, 0, blocking, write_kernel)(d.get(), n, 100);
  GPULEARN_LAUNCH(1, 32, 0, 0, scale_add_kernel)(d.get(), n, 2, 0);
  GPULEARN_LAUNCH(1, 32, 0, blocking, scale_add_kernel)(d.get(), n, 1, 5);
  ASSERT_EQ(cudaMemcpyAsync(out.get(), d.get(), n * sizeof(int), cudaMemcpyDeviceToHost, blocking),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(blocking), cudaSuccess);
  EXPECT_EQ(out.values(), want) << "blocking, legacy, blocking";

  // Synchronised through the device.
  GPULEARN_LAUNCH(1, 32, 0, 0, write_kernel)(out.get(), n, 100);
  GPULEARN_LAUNCH(1, 32, 0, blocking, scale_add_kernel)(out.get(), n, 2, 0);
  GPULEARN_LAUNCH(1, 32, 0, 0, scale_add_kernel)(out.get(), n, 1, 5);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.values(), want) << "legacy, blocking, legacy, then cudaDeviceSynchronize";
}

TEST_F(EmuRuntime, EventsMarkAPointInAStream) {
  constexpr int n = 40;
  Stream stream(cudaStreamNonBlocking);
  PinnedArray<int> first(n, 0), second(n, 0);
  cudaEvent_t event, never;
  ASSERT_EQ(cudaEventCreate(&event), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&never, cudaEventDisableTiming), cudaSuccess);
  EXPECT_EQ(cudaEventSynchronize(never), cudaSuccess) << "an event never recorded";
  EXPECT_EQ(cudaEventQuery(never), cudaSuccess);

  GPULEARN_LAUNCH(1, 64, 0, stream, write_kernel)(first.get(), n, 1);
  ASSERT_EQ(cudaEventRecord(event, stream), cudaSuccess);
  GPULEARN_LAUNCH(1, 64, 0, stream, write_kernel)(second.get(), n, 2);
  EXPECT_EQ(first[0], 0);
  ASSERT_EQ(cudaEventSynchronize(event), cudaSuccess);
  EXPECT_EQ(first.values(), iota_vector(n, 1)) << "the work before the event";
  EXPECT_EQ(second[0], 0) << "the work after the event ran too";
  EXPECT_EQ(cudaEventQuery(event), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(second.values(), iota_vector(n, 2));
  float ms = -1.0f;
  EXPECT_EQ(cudaEventElapsedTime(&ms, event, event), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  EXPECT_EQ(cudaEventDestroy(event), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(never), cudaSuccess);
}

TEST_F(EmuRuntime, StreamWaitEventOrdersWorkAcrossStreams) {
  constexpr int n = 32;
  Stream producer(cudaStreamNonBlocking), consumer(cudaStreamNonBlocking);
  PinnedArray<int> made(n, 0);
  DeviceArray<int> d(n);
  PinnedArray<int> used(n, 0);
  cudaEvent_t ready;
  ASSERT_EQ(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, producer, write_kernel)(d.get(), n, 10);
  ASSERT_EQ(cudaEventRecord(ready, producer), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, producer, write_kernel)(made.get(), n, 0);  // after the event
  ASSERT_EQ(cudaStreamWaitEvent(consumer, ready, 0), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, consumer, copy_plus_one_kernel)(d.get(), used.get(), n);
  ASSERT_EQ(cudaStreamSynchronize(consumer), cudaSuccess);
  EXPECT_EQ(used.values(), iota_vector(n, 11)) << "the consumer did not wait for the producer";
  EXPECT_EQ(made[1], 0) << "the producer's work after the event ran too";
  ASSERT_EQ(cudaStreamSynchronize(producer), cudaSuccess);
  EXPECT_EQ(made.values(), iota_vector(n, 0));
  EXPECT_EQ(cudaEventDestroy(ready), cudaSuccess);
}

TEST_F(EmuRuntime, DeviceSynchronizeAndFreeWaitForEveryStream) {
  constexpr int n = 20;
  Stream non_blocking(cudaStreamNonBlocking), blocking(cudaStreamDefault);
  PinnedArray<int> a(n, 0), b(n, 0), c(n, 0);
  GPULEARN_LAUNCH(1, 32, 0, 0, write_kernel)(a.get(), n, 1);
  GPULEARN_LAUNCH(1, 32, 0, blocking, write_kernel)(b.get(), n, 2);
  GPULEARN_LAUNCH(1, 32, 0, non_blocking, write_kernel)(c.get(), n, 3);
  EXPECT_EQ(a[0] + b[0] + c[0], 0);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(a.values(), iota_vector(n, 1));
  EXPECT_EQ(b.values(), iota_vector(n, 2));
  EXPECT_EQ(c.values(), iota_vector(n, 3));

  // cudaFree synchronises the device, whatever stream the work is on.
  void* scratch = nullptr;
  ASSERT_EQ(cudaMalloc(&scratch, 16), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, non_blocking, write_kernel)(c.get(), n, 30);
  EXPECT_EQ(c[0], 3);
  ASSERT_EQ(cudaFree(scratch), cudaSuccess);
  EXPECT_EQ(c.values(), iota_vector(n, 30));
}

TEST_F(EmuRuntime, DestroyingAStreamLetsItsQueuedWorkComplete) {
  constexpr int n = 8;
  PinnedArray<int> out(n, 0);
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  GPULEARN_LAUNCH(1, 32, 0, stream, write_kernel)(out.get(), n, 5);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.values(), iota_vector(n, 5));
}

// ---- Devices and properties
// ----------------------------------------------------------------------

TEST_F(EmuRuntime, TheDeviceIsAnEmulatedH200) {
  cudaDeviceProp p{};
  ASSERT_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
  EXPECT_TRUE(contains(p.name, "emulated")) << p.name;
  EXPECT_EQ(p.multiProcessorCount, 132);
  EXPECT_EQ(p.major, 9);
  EXPECT_EQ(p.minor, 0);
  EXPECT_EQ(p.warpSize, 32);
  EXPECT_EQ(p.maxThreadsPerBlock, 1024);
  EXPECT_EQ(p.maxThreadsDim[0], 1024);
  EXPECT_EQ(p.maxThreadsDim[2], 64);
  EXPECT_EQ(p.maxGridSize[0], 2147483647);
  EXPECT_EQ(p.maxGridSize[1], 65535);
  EXPECT_EQ(p.maxGridSize[2], 65535);
  EXPECT_EQ(p.sharedMemPerBlock, size_t{48} * 1024);
  EXPECT_EQ(p.sharedMemPerBlockOptin, size_t{227} * 1024);
  EXPECT_EQ(p.unifiedAddressing, 1);
  const struct {
    cudaDeviceAttr attr;
    int want;
  } attrs[] = {
      {cudaDevAttrMultiProcessorCount, 132},
      {cudaDevAttrComputeCapabilityMajor, 9},
      {cudaDevAttrComputeCapabilityMinor, 0},
      {cudaDevAttrWarpSize, 32},
      {cudaDevAttrMaxThreadsPerBlock, 1024},
      {cudaDevAttrMaxGridDimY, 65535},
      {cudaDevAttrMaxSharedMemoryPerBlock, 48 * 1024},
      {cudaDevAttrMaxSharedMemoryPerBlockOptin, 227 * 1024},
  };
  for (const auto& a : attrs) {
    int v = -1;
    ASSERT_EQ(cudaDeviceGetAttribute(&v, a.attr, 0), cudaSuccess) << a.attr;
    EXPECT_EQ(v, a.want) << a.attr;
  }
  int version = 0;
  EXPECT_EQ(cudaRuntimeGetVersion(&version), cudaSuccess);
  EXPECT_GE(version, 12000);
}

TEST_F(EmuRuntime, OneDeviceByDefault) {
  if (std::getenv("GPULEARN_EMULATED_DEVICES") != nullptr) {
    GTEST_SKIP() << "GPULEARN_EMULATED_DEVICES is set for this process";
  }
  int count = 0, device = -1;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, 1);
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(device, 0);
  EXPECT_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(device, 0) << "a refused cudaSetDevice changed the device";
  cudaDeviceProp p{};
  EXPECT_EQ(cudaGetDeviceProperties(&p, 1), cudaErrorInvalidDevice);
  int v = 0;
  EXPECT_EQ(cudaDeviceGetAttribute(&v, cudaDevAttrWarpSize, 1), cudaErrorInvalidDevice);
  (void)cudaGetLastError();
}

[[noreturn]] void three_devices_child() {
  setenv("GPULEARN_EMULATED_DEVICES", "3", 1);
  int count = 0, device = -1;
  CHILD_CHECK(cudaGetDeviceCount(&count) == cudaSuccess && count == 3);
  CHILD_CHECK(cudaSetDevice(2) == cudaSuccess);
  CHILD_CHECK(cudaGetDevice(&device) == cudaSuccess && device == 2);
  CHILD_CHECK(cudaSetDevice(3) == cudaErrorInvalidDevice);
  CHILD_CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  // Allocations belong to the current device, and count against it alone.
  size_t free0 = 0, free2 = 0, total = 0;
  void* p = nullptr;
  CHILD_CHECK(cudaMalloc(&p, 4096) == cudaSuccess);
  cudaPointerAttributes a{};
  CHILD_CHECK(cudaPointerGetAttributes(&a, p) == cudaSuccess);
  CHILD_CHECK(a.type == cudaMemoryTypeDevice && a.device == 2);
  CHILD_CHECK(cudaMemGetInfo(&free2, &total) == cudaSuccess && free2 == total - 4096);
  CHILD_CHECK(cudaSetDevice(0) == cudaSuccess);
  CHILD_CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess && free0 == total);
  // The current device belongs to the host thread.
  CHILD_CHECK(cudaSetDevice(1) == cudaSuccess);
  int in_thread = -1;
  std::thread([&in_thread] { (void)cudaGetDevice(&in_thread); }).join();
  CHILD_CHECK(in_thread == 0);
  // A fault is sticky on its device only.
  int pageable = 3;
  DeviceArray<int> out(1);  // on device 1
  GPULEARN_LAUNCH(1, 1, 0, 0, deref_kernel)(&pageable, out.get());
  CHILD_CHECK(cudaDeviceSynchronize() == cudaErrorIllegalAddress);
  CHILD_CHECK(cudaMalloc(&p, 16) == cudaErrorIllegalAddress);
  CHILD_CHECK(cudaSetDevice(0) == cudaSuccess);
  (void)cudaGetLastError();
  CHILD_CHECK(cudaMalloc(&p, 16) == cudaSuccess);
  CHILD_CHECK(cudaDeviceSynchronize() == cudaSuccess);
  CHILD_CHECK(cudaGetLastError() == cudaSuccess);
  std::fprintf(stderr, "three devices ok\n");
  std::exit(0);
}

[[noreturn]] void no_devices_child() {
  setenv("GPULEARN_EMULATED_DEVICES", "0", 1);
  int count = -1;
  CHILD_CHECK(cudaGetDeviceCount(&count) == cudaErrorNoDevice && count == 0);
  void* p = nullptr;
  CHILD_CHECK(cudaMalloc(&p, 16) == cudaErrorNoDevice);
  std::fprintf(stderr, "no devices ok\n");
  std::exit(0);
}

TEST(EmuRuntimeDeathTest, EmulatedDevicesSetsTheDeviceCount) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(three_devices_child(), ::testing::ExitedWithCode(0), "three devices ok");
  EXPECT_EXIT(no_devices_child(), ::testing::ExitedWithCode(0), "no devices ok");
}

// ---- Errors
// ----------------------------------------------------------------------------------------

TEST_F(EmuRuntime, ErrorNamesAndStringsAreCudas) {
  EXPECT_STREQ(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorInvalidValue), "invalid argument");
  EXPECT_STREQ(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorMemoryAllocation), "out of memory");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorInvalidConfiguration), "invalid configuration argument");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorIllegalAddress),
               "an illegal memory access was encountered");
  EXPECT_STREQ(cudaGetErrorString(cudaSuccess), "no error");
}

TEST_F(EmuRuntime, TheLastErrorBelongsToTheHostThread) {
  void* p = nullptr;
  cudaError_t in_thread = cudaSuccess;
  std::thread([&] {
    (void)cudaMalloc(&p, size_t{1} << 62);
    in_thread = cudaPeekAtLastError();  // left set in that thread
  }).join();
  EXPECT_EQ(in_thread, cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess) << "another thread's error";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "another thread's error";

  EXPECT_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);  // set here, seen only here
  std::thread([&] { in_thread = cudaGetLastError(); }).join();
  EXPECT_EQ(in_thread, cudaSuccess) << "this thread's error seen in another";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
}

TEST_F(EmuRuntime, AKernelGivenPageableHostMemoryFaultsAndTheFaultIsSticky) {
  Stream stream(cudaStreamNonBlocking);
  std::vector<int> pageable(4, 9);
  DeviceArray<int> out(1);
  PinnedArray<int> later(4, 0);
  GPULEARN_LAUNCH(1, 1, 0, stream, deref_kernel)(pageable.data(), out.get());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess)
      << "the launch is accepted; the fault comes when it runs";
  GPULEARN_LAUNCH(1, 32, 0, stream, write_kernel)(later.get(), 4, 1);  // behind the fault
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaErrorIllegalAddress);
  const std::string message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_TRUE(contains(message, "deref_kernel")) << message;
  EXPECT_TRUE(contains(message, "test_emu_runtime.cpp")) << message;
  EXPECT_TRUE(contains(message, "pointer argument 1")) << message;
  EXPECT_TRUE(contains(message, "neither device memory nor pinned host memory")) << message;

  // Every call on the device now returns the error; cudaGetLastError does not clear it.
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorIllegalAddress);
  int host = 0;
  EXPECT_EQ(cudaMemcpy(&host, out.get(), sizeof(int), cudaMemcpyDeviceToHost),
            cudaErrorIllegalAddress);
  EXPECT_EQ(cudaMemset(out.get(), 0, sizeof(int)), cudaErrorIllegalAddress);
  cudaStream_t s2 = nullptr;
  EXPECT_EQ(cudaStreamCreate(&s2), cudaErrorIllegalAddress);
  size_t free_bytes = 0, total = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total), cudaErrorIllegalAddress);
  GPULEARN_LAUNCH(1, 1, 0, 0, write_kernel)(out.get(), 1, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(later.values(), std::vector<int>(4, 0)) << "work queued behind the fault ran";

  // The emulator has no cudaDeviceReset: its test hook clears the fault.
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(later.values(), std::vector<int>(4, 0));
  ASSERT_EQ(cudaMalloc(&p, 16), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
}

TEST_F(EmuRuntime, KernelPointerArgumentsMayBeDevicePinnedNullOrOnePastTheEnd) {
  DeviceArray<int> d(std::vector<int>{5, 6, 7});
  PinnedArray<int> pinned(1, 8);
  DeviceArray<int> out(1);
  DeviceArray<long long> distance(1);
  GPULEARN_LAUNCH(1, 1, 0, 0, deref_kernel)(pinned.get(), out.get());
  GPULEARN_LAUNCH(1, 1, 0, 0, distance_kernel)(d.get(), d.get() + 3, distance.get());
  GPULEARN_LAUNCH(1, 1, 0, 0, write_kernel)(nullptr, 0, 0);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.download()[0], 8);
  EXPECT_EQ(distance.download()[0], 3);

  // Freed device memory is no longer a kernel's to use.
  void* freed = nullptr;
  ASSERT_EQ(cudaMalloc(&freed, 16), cudaSuccess);
  ASSERT_EQ(cudaFree(freed), cudaSuccess);
  GPULEARN_LAUNCH(1, 1, 0, 0, deref_kernel)(out.get(), static_cast<int*>(freed));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  const std::string message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_TRUE(contains(message, "deref_kernel")) << message;
  EXPECT_TRUE(contains(message, "pointer argument 2")) << message;
}

}  // namespace
