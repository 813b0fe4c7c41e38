// Row chunks of a matrix view, resident on the device: the one way every pass over X, Y or the
// sample weights reads its input. A device view is read in place (its row stride kept); a host
// view (ordinary pageable memory) is copied chunk by chunk into a staging buffer, so host data
// larger than device memory works. Copies are queued on the backend's stream, so the staging
// buffer is only overwritten after the kernels reading the previous chunk have run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "core/cuda_check.cuh"
#include "core/device_buffer.cuh"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn::detail {

// Above this row pitch cudaMemcpy2DAsync may reject the copy (the driver's pitch limit);
// such rows are copied one by one.
constexpr size_t kMaxCopyPitch = size_t{1} << 30;

/// A row-major block of rows in device memory: row i starts at data + i * ld.
template <typename T>
struct DeviceRows {
  T* data = nullptr;
  int64_t ld = 0;
};

/// Copies rows x cols elements between row-major blocks with the given strides (elements).
template <typename T>
void copy_rows_async(T* dst, int64_t dst_ld, const T* src, int64_t src_ld, int64_t rows,
                     int64_t cols, cudaMemcpyKind kind, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  const size_t width = checked_bytes(cols, sizeof(T));
  if (dst_ld == cols && src_ld == cols) {
    GPULEARN_CUDA_TRY(
        cudaMemcpyAsync(dst, src, checked_bytes(checked_mul(rows, cols), sizeof(T)), kind, stream));
    return;
  }
  const size_t dpitch = checked_bytes(dst_ld, sizeof(T)), spitch = checked_bytes(src_ld, sizeof(T));
  if (dpitch <= kMaxCopyPitch && spitch <= kMaxCopyPitch) {
    GPULEARN_CUDA_TRY(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, static_cast<size_t>(rows),
                                        kind, stream));
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(dst + i * dst_ld, src + i * src_ld, width, kind, stream));
  }
}

/// Throws InvalidArgument unless p (from a view marked as device memory) points into memory the
/// current device can read in place: its own device or managed memory, or pinned host memory.
/// A wrong label must not reach a kernel, where it would be an illegal address that poisons
/// the whole CUDA context.
inline void check_device_pointer(const void* p, const char* what) {
  cudaPointerAttributes attr{};
  GPULEARN_CUDA_TRY(cudaPointerGetAttributes(&attr, p));
  int current = 0;
  GPULEARN_CUDA_TRY(cudaGetDevice(&current));
  if (attr.type == cudaMemoryTypeDevice && attr.device != current) {
    GPULEARN_FAIL(InvalidArgument, what, " is in the memory of cuda:", attr.device,
                  " but this context computes on cuda:", current,
                  "; copy the data there or use a context for cuda:", attr.device);
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged &&
      attr.type != cudaMemoryTypeHost) {
    GPULEARN_FAIL(InvalidArgument, what, " is marked as device memory but is ordinary host ",
                  "memory, which cuda:", current, " cannot read in place");
  }
}

/// Device-resident row chunks of one input view (which may be empty: then load() gives null).
template <typename T>
class RowChunks {
 public:
  /// Staging elements the view needs for chunks of up to max_rows rows (none in device memory).
  static int64_t staging_elems(MatrixView<const T> src, int64_t max_rows) {
    return src.space == MemorySpace::kHost && !src.empty() ? checked_mul(max_rows, src.cols) : 0;
  }

  /// staging: device memory of staging_elems(src, max_rows) elements (unused for device views).
  RowChunks(MatrixView<const T> src, T* staging, cudaStream_t stream)
      : src_(src), staging_(staging), stream_(stream) {
    if (src.space == MemorySpace::kDevice && !src.empty())
      check_device_pointer(src.data, "an input");
  }

  /// Rows [begin, begin + count) in device memory; for a host view, queues their copy into the
  /// staging buffer (contiguous, ld = cols) first.
  DeviceRows<const T> load(int64_t begin, int64_t count) const {
    if (src_.empty()) return {};
    GPULEARN_ASSERT(begin >= 0 && count >= 0 && begin + count <= src_.rows);
    if (src_.space == MemorySpace::kDevice) return {src_.data + begin * src_.ld, src_.ld};
    copy_rows_async(staging_, src_.cols, src_.data + begin * src_.ld, src_.ld, count, src_.cols,
                    cudaMemcpyHostToDevice, stream_);
    return {staging_, src_.cols};
  }

 private:
  MatrixView<const T> src_;
  T* staging_;
  cudaStream_t stream_;
};

/// Staging bytes one row of all these views needs (host views only), for chunk sizing.
template <typename T>
int64_t staging_bytes_per_row(std::initializer_list<MatrixView<const T>> views) {
  int64_t bytes = 0;
  for (const MatrixView<const T>& v : views) {
    bytes = checked_add(bytes, checked_mul(RowChunks<T>::staging_elems(v, 1), int64_t{sizeof(T)}));
  }
  return bytes;
}

/// The sample weights as an n x 1 matrix view (empty when w is).
template <typename T>
MatrixView<const T> weight_column(VectorView<const T> w) {
  return w.empty() ? MatrixView<const T>() : w.as_column();
}

/// The inputs of one pass over a fit's data (X, Y and the weight column W, any of them empty):
/// their staging buffers, carved from a workspace, and the device-resident row chunks they give.
template <typename T>
struct FitInputs {
  MatrixView<const T> X, Y, W;
  T* stage_x = nullptr;
  T* stage_y = nullptr;
  T* stage_w = nullptr;

  /// Takes staging for chunks of up to max_rows rows (nothing for device views). Called once to
  /// size the workspace and once to carve it, like every Carver user.
  void carve(Carver& c, int64_t max_rows) {
    stage_x = c.take<T>(RowChunks<T>::staging_elems(X, max_rows));
    stage_y = c.take<T>(RowChunks<T>::staging_elems(Y, max_rows));
    stage_w = c.take<T>(RowChunks<T>::staging_elems(W, max_rows));
  }
  RowChunks<T> x(cudaStream_t stream) const { return RowChunks<T>(X, stage_x, stream); }
  RowChunks<T> y(cudaStream_t stream) const { return RowChunks<T>(Y, stage_y, stream); }
  RowChunks<T> w(cudaStream_t stream) const { return RowChunks<T>(W, stage_w, stream); }
};

}  // namespace gpulearn::detail
