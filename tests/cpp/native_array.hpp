// A test helper for the backend-level tests: host vectors copied into a backend's native memory.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.hpp"

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

}  // namespace gpulearn::test_util
