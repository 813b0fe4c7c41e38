// Owning device memory: a typed RAII buffer, a growable byte workspace, a carver that splits one
// workspace reservation into aligned typed pieces, and the queued copies to and from the host.
//
// Plain cudaMalloc/cudaFree (never managed memory): cudaFree waits for the work queued on the
// device, so a buffer freed while an exception unwinds cannot be reused under a running
// kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/cuda_check.cuh"
#include "gpulearn/core/error.hpp"

namespace gpulearn::detail {

/// `count` elements of `elem` bytes, as a size_t byte count, throwing on overflow.
inline size_t checked_bytes(int64_t count, size_t elem) {
  return static_cast<size_t>(checked_mul(count, static_cast<int64_t>(elem)));
}

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t count) { allocate(count); }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const { return data_; }
  int64_t size() const { return count_; }

  /// Frees the memory (errors ignored: this runs in destructors).
  void reset() noexcept {
    if (data_ != nullptr) (void)cudaFree(data_);
    data_ = nullptr;
    count_ = 0;
  }

  /// Replaces the contents with `count` uninitialised elements (at least one byte is asked
  /// for, so that data() is never null for a requested buffer).
  void allocate(int64_t count) {
    reset();
    const size_t bytes = checked_bytes(count > 0 ? count : 1, sizeof(T));
    void* p = nullptr;
    GPULEARN_CUDA_TRY_ALLOC(cudaMalloc(&p, bytes), bytes);
    data_ = static_cast<T*>(p);
    count_ = count;
  }

 private:
  T* data_ = nullptr;
  int64_t count_ = 0;
};

/// Scratch memory kept between calls and grown on demand. A reserve() may move the memory:
/// pointers from an earlier reserve() are invalid after it.
class Workspace {
 public:
  /// At least `bytes` of device memory. `stream` is the stream that queues work on the current
  /// block: growing waits for it before the block is freed.
  void* reserve(size_t bytes, cudaStream_t stream) {
    if (bytes > capacity_ || buffer_.data() == nullptr) {
      GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream));
      // Free first so the old and the new block never need to coexist.
      buffer_.reset();
      capacity_ = 0;
      buffer_.allocate(static_cast<int64_t>(bytes));
      capacity_ = bytes;
    }
    return buffer_.data();
  }
  size_t capacity() const { return capacity_; }
  void release() noexcept {
    buffer_.reset();
    capacity_ = 0;
  }

 private:
  DeviceBuffer<std::byte> buffer_;
  size_t capacity_ = 0;
};

/// Hands out aligned typed pieces of one block. Run a layout once with a null base to measure
/// it (bytes()), reserve that much, then run it again on the reserved base.
class Carver {
 public:
  explicit Carver(void* base = nullptr) : base_(static_cast<std::byte*>(base)) {}

  template <typename T>
  T* take(int64_t count) {
    // 256 bytes: cuBLAS/cuSOLVER's preferred alignment, and whole cache lines for kernels.
    constexpr size_t kAlign = 256;
    const size_t bytes = checked_bytes(count, sizeof(T));
    const size_t begin = (offset_ + kAlign - 1) / kAlign * kAlign;
    GPULEARN_EXPECTS(begin >= offset_ && begin + bytes >= begin, "workspace size overflow");
    offset_ = begin + bytes;
    return base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + begin);
  }
  size_t bytes() const { return offset_; }

 private:
  std::byte* base_;
  size_t offset_ = 0;
};

/// Queues the copy of count host elements to device memory.
template <typename T>
void upload_async(T* dst, const T* src, int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  GPULEARN_CUDA_TRY(
      cudaMemcpyAsync(dst, src, checked_bytes(count, sizeof(T)), cudaMemcpyHostToDevice, stream));
}

/// Queues the copy of count device elements to host memory.
template <typename T>
void download_async(T* dst, const T* src, int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  GPULEARN_CUDA_TRY(
      cudaMemcpyAsync(dst, src, checked_bytes(count, sizeof(T)), cudaMemcpyDeviceToHost, stream));
}

}  // namespace gpulearn::detail
