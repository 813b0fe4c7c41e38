// Small helpers around the cuSOLVER calls: their work arrays, their devInfo codes, and the
// host-side transposes between the callers' row-major arrays and cuSOLVER's column-major ones.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/cuda_backend.cuh"

namespace gpulearn::detail {

/// A cuSOLVER work array of lwork elements of T in the backend's solver workspace. Valid until
/// the next call; queued work that still uses the previous array is waited for by the reserve
/// (cudaFree synchronises) when the workspace grows.
template <typename T>
T* solver_work(CudaBackend& be, int lwork) {
  return static_cast<T*>(
      be.solver_workspace().reserve(checked_bytes(std::max(lwork, 1), sizeof(T)), be.stream()));
}

/// The devInfo a cuSOLVER routine wrote, after waiting for it. A negative value means a wrong
/// argument, i.e. a bug here, and throws.
inline int read_info(CudaBackend& be, const int* dev_info, const char* routine) {
  int info = 0;
  GPULEARN_CUDA_TRY(
      cudaMemcpyAsync(&info, dev_info, sizeof(int), cudaMemcpyDeviceToHost, be.stream()));
  be.sync_stream();
  if (info < 0) {
    GPULEARN_FAIL(DeviceError, "internal error: ", routine, " rejected its argument ", -info);
  }
  return info;
}

/// dst (cols x rows, row stride rows) = the transpose of src (rows x cols, row stride ld):
/// converts between row-major and column-major storage of the same matrix.
template <typename T>
void transpose_host(const T* src, int64_t rows, int64_t cols, int64_t ld, T* dst) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * ld + j];
  }
}

}  // namespace gpulearn::detail
