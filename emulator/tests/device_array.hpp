// DeviceArray<T>: a cudaMalloc'd array of n elements of T for the emulator's own tests, with
// synchronous uploads and downloads. Include after <cuda_runtime.h> (some tests define
// GPULEARN_EMU_POISON_STATIC_SHARED before it).
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace gpulearn_emu_test {

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)), cudaSuccess);
    p_ = static_cast<T*>(p);
  }
  DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }  // NOLINT
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { (void)cudaFree(p_); }

  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), n_);
    if (n_ == 0) return;
    ASSERT_EQ(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  void fill(T value) { upload(std::vector<T>(n_, value)); }
  /// A synchronous copy on the legacy default stream: it waits for that stream and every
  /// blocking stream, not for non-blocking ones (where the tests must synchronise first).
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_ != 0) {
      EXPECT_EQ(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return host;
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace gpulearn_emu_test
