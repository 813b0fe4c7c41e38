// Test helpers for the backend-level CUDA tests: host vectors copied into a backend's native
// memory, and a fixture holding the CPU backend and the CUDA backend they are compared on.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/core/device.hpp"

namespace gpulearn::test_util {

// A copy of a host vector in a backend's native memory (the CUDA backend's: device memory).
template <typename U>
class NativeArray {
 public:
  NativeArray(detail::Backend& be, const std::vector<U>& host)
      : be_(&be), size_(static_cast<int64_t>(host.size())), mem_(be.allocate(bytes())) {
    be.copy(mem_.get(), be.native_space(), host.data(), MemorySpace::kHost, bytes());
  }
  U* data() const { return static_cast<U*>(mem_.get()); }
  std::vector<U> read() const {
    std::vector<U> host(static_cast<size_t>(size_));
    be_->copy(host.data(), MemorySpace::kHost, mem_.get(), be_->native_space(), bytes());
    return host;
  }

 private:
  int64_t bytes() const { return size_ * static_cast<int64_t>(sizeof(U)); }
  detail::Backend* be_;
  int64_t size_;
  std::shared_ptr<void> mem_;
};

// The CPU backend (2 threads) and the CUDA backend of device 0, made only where CUDA is usable
// (the tests skip first, with GPULEARN_SKIP_WITHOUT_CUDA).
class CpuAndCudaBackends : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gpulearn::cuda_available()) return;
    cpu_ = detail::make_cpu_backend(2);
    cuda_ = detail::make_cuda_backend(0);
  }
  detail::Backend& cpu() { return *cpu_; }
  detail::Backend& cuda() { return *cuda_; }

 private:
  std::unique_ptr<detail::Backend> cpu_, cuda_;
};

}  // namespace gpulearn::test_util
