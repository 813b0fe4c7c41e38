// Pieces shared by the k-means kernels (kmeans_assign.cu, kmeans_init.cu): the checks that the
// per-sample arrays are in device memory, the squared-distance formula both distance primitives
// use, and iota.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "core/cuda_check.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn::detail {

/// Throws InvalidArgument unless a k-means array is in device memory this device can read: the
/// driver keeps them in the backend's native space, and a host pointer must never reach a kernel.
template <typename T>
void require_device(MatrixView<T> v, const char* what) {
  if (v.empty()) return;
  GPULEARN_EXPECTS(v.space == MemorySpace::kDevice, "the CUDA backend's k-means primitives take ",
                   what, " in device memory (its native space), got ", to_string(v.space),
                   " memory");
  check_device_pointer(v.data, what);
}
template <typename T>
void require_device(VectorView<T> v, const char* what) {
  if (!v.empty()) require_device(v.as_column(), what);
}
/// As require_device for a raw per-sample array of the driver (labels, squared distances).
inline void require_device_pointer(const void* p, int64_t n, const char* what) {
  if (p != nullptr && n > 0) check_device_pointer(p, what);
}

/// The squared distance from the GEMM's product g = (x - s).c and the squared norms
/// xn = |x - s|^2, cn = |c|^2: (xn - 2 g) + cn, clamped at 0 (rounding can make it negative).
template <typename T>
__device__ __forceinline__ T expanded_sq_distance(T xn, T g, T cn) {
  const T v = (xn - T(2) * g) + cn;
  return v < T(0) ? T(0) : v;
}

/// Calls f(IndexT{}) with the narrowest index type that holds [0, n): 32-bit indices halve the
/// memory and the passes of sorts over per-sample arrays.
template <typename F>
auto with_index_type(int64_t n, F&& f) {
  if (n <= INT32_MAX) return f(int32_t{});
  return f(int64_t{});
}

/// out[i] = i for i < n.
template <typename IndexT>
__global__ void iota_kernel(IndexT* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = static_cast<IndexT>(i);
  }
}

}  // namespace gpulearn::detail
