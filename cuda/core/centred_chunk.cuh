// The centred, scaled, weighted copy of one row chunk that the centred reductions (Gram, R factor,
// the decomposition's products) consume:
// dst = diag(sqrt(w)) (src - 1 mean^T) scale, computed as the CPU backend does:
// ((x - mean) * scale) * sqrt(w), where scale is a power of two (exact).
// The Gram pass wants it row-major (cuBLAS then reads it as its transpose); the QR pass wants
// it column-major below the current R factor, so the kernel can also transpose through a
// shared-memory tile, keeping both the reads and the writes coalesced.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda_check.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threads per tile column: each thread covers kTile / kTileRows rows

__device__ inline float device_sqrt(float x) { return sqrtf(x); }
__device__ inline double device_sqrt(double x) { return sqrt(x); }

/// Where the centred chunk goes: row-major (dst[i * ld + j]) or column-major starting at row
/// row0 (dst[j * ld + row0 + i]).
template <typename T>
struct CentredDst {
  T* data;
  int64_t ld;
  int64_t row0;
};

template <typename T, bool kColMajor>
__global__ void centre_scale_kernel(const T* src, int64_t src_ld, int64_t rows, int64_t cols,
                                    const T* mean, T scale, const T* w, int64_t w_ld,
                                    CentredDst<T> dst) {
  __shared__ T tile[kTile][kTile + 1];  // +1: transposed reads hit distinct banks
  const int tx = threadIdx.x, ty = threadIdx.y;
  // Block-uniform loop bounds: every thread of a block reaches the same barriers.
  for (int64_t r0 = blockIdx.y * int64_t{kTile}; r0 < rows; r0 += int64_t{gridDim.y} * kTile) {
    for (int64_t c0 = blockIdx.x * int64_t{kTile}; c0 < cols; c0 += int64_t{gridDim.x} * kTile) {
      for (int q = 0; q < kTile; q += kTileRows) {
        const int64_t i = r0 + ty + q, j = c0 + tx;
        if (i < rows && j < cols) {
          T v = (src[i * src_ld + j] - mean[j]) * scale;
          if (w != nullptr) v *= device_sqrt(w[i * w_ld]);
          if constexpr (kColMajor) {
            tile[ty + q][tx] = v;
          } else {
            dst.data[i * dst.ld + j] = v;
          }
        }
      }
      if constexpr (kColMajor) {
        __syncthreads();
        for (int q = 0; q < kTile; q += kTileRows) {
          const int64_t j = c0 + ty + q, i = r0 + tx;
          if (i < rows && j < cols) dst.data[j * dst.ld + dst.row0 + i] = tile[tx][ty + q];
        }
        __syncthreads();  // the tile is refilled by the next iteration
      }
    }
  }
}

/// Queues the centred, scaled, sqrt(w)-weighted copy of a rows x cols chunk (w.data null: unit
/// weights).
template <typename T, bool kColMajor>
void centre_scale_async(DeviceRows<const T> src, int64_t rows, int64_t cols, const T* mean, T scale,
                        DeviceRows<const T> w, CentredDst<T> dst, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t gx = std::clamp<int64_t>(ceil_div(cols, kTile), 1, kMaxBlocks);
  const int64_t gy =
      std::clamp<int64_t>(ceil_div(rows, kTile), 1, std::min(kMaxGridY, kMaxBlocks / gx));
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  const dim3 block(kTile, kTileRows);
  GPULEARN_LAUNCH(grid, block, 0, stream, centre_scale_kernel<T, kColMajor>)
  (src.data, src.ld, rows, cols, mean, scale, w.data, w.ld, dst);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

/// Queues the copy of the host means [x_mean (d) | y_mean (k)] into device memory (d + k).
template <typename T>
void upload_means_async(T* dst, const T* x_mean, int64_t d, const T* y_mean, int64_t k,
                        cudaStream_t stream) {
  GPULEARN_CUDA_TRY(
      cudaMemcpyAsync(dst, x_mean, checked_bytes(d, sizeof(T)), cudaMemcpyHostToDevice, stream));
  if (k == 0) return;  // y_mean may then be null (an X-only pass)
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(dst + d, y_mean, checked_bytes(k, sizeof(T)),
                                    cudaMemcpyHostToDevice, stream));
}

}  // namespace gpulearn::detail
