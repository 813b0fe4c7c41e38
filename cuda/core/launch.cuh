// Launch geometry and block-level reductions shared by the kernels.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda_check.cuh"

// Kernel launches go through one macro so that the same sources also compile for the CUDA
// emulator (GPULEARN_CUDA_EMULATION, emulator/), where a launch is a call into the emulator's
// runtime. Under nvcc it is exactly the triple-chevron launch. The kernel comes last so that a
// template-id with commas (kernel<T, kLanes>) needs no parentheses.
//   GPULEARN_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...);
#if defined(GPULEARN_CUDA_EMULATION)
#define GPULEARN_LAUNCH(grid, block, shared, stream, ...) \
  ::gpulearn_emu::Launch(__VA_ARGS__, #__VA_ARGS__, grid, block, shared, stream, __FILE__, __LINE__)
#else
#define GPULEARN_LAUNCH(grid, block, shared, stream, ...) \
  __VA_ARGS__<<<grid, block, shared, stream>>>
#endif

// Dynamic shared memory: `extern __shared__` arrays of unknown size have no g++ equivalent.
//   GPULEARN_DYNAMIC_SHARED(unsigned char, shared_raw);   // 16-byte aligned
#if defined(GPULEARN_CUDA_EMULATION)
#define GPULEARN_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::gpulearn_emu::dynamic_shared())
#else
#define GPULEARN_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

namespace gpulearn::detail {

constexpr int kBlockThreads = 256;
// Enough blocks to fill an H200 (132 SMs) several times over; grid-stride loops cover the rest.
constexpr int64_t kMaxBlocks = 4096;
// The hardware limit of gridDim.y and gridDim.z.
constexpr int64_t kMaxGridY = 65535;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Blocks of kBlockThreads for a grid-stride pass over n items, at most max_blocks. A fixed
/// partition of a sum (item i summed by thread i mod (max_blocks * kBlockThreads)) launched this
/// way leaves out only blocks that would hold no item, so its sums do not depend on n.
inline unsigned grid_for(int64_t n, int64_t max_blocks = kMaxBlocks) {
  return static_cast<unsigned>(std::clamp<int64_t>(ceil_div(n, kBlockThreads), 1, max_blocks));
}

/// A 2-D grid for an elementwise pass over a rows x cols matrix with kBlockThreads threads per
/// block along the columns: x tiles the columns, y strides over the rows, at most kMaxBlocks
/// blocks in all (so a per-block partial array of kMaxBlocks entries always suffices).
inline dim3 elementwise_grid(int64_t rows, int64_t cols) {
  const int64_t gx = std::clamp<int64_t>(ceil_div(cols, kBlockThreads), 1, kMaxBlocks);
  const int64_t gy = std::clamp<int64_t>(rows, 1, std::min(kMaxGridY, kMaxBlocks / gx));
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), 1);
}

/// Reduces one value per thread over the block with op (identity: op's neutral element); the
/// result is valid in thread 0. Every thread of the block must call it (it synchronises), with
/// blockDim.x * blockDim.y a multiple of 32 and at most 1024.
template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T warp_results[32];
  const unsigned tid = threadIdx.x + threadIdx.y * blockDim.x;
  const unsigned lane = tid % 32, warp = tid / 32;
  const unsigned n_warps = (blockDim.x * blockDim.y) / 32;
  for (int offset = 16; offset > 0; offset /= 2) {
    v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
  }
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < n_warps ? warp_results[lane] : identity;
    for (int offset = 16; offset > 0; offset /= 2) {
      v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
    }
  }
  // The shared array may be reused by a later call in the same kernel.
  __syncthreads();
  return v;
}

struct MinOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return b < a ? b : a;
  }
};

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

template <typename T>
__global__ void fill_kernel(T* data, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    data[i] = value;
  }
}

/// Sets n elements of device memory to value, queued on stream.
template <typename T>
void fill_async(T* data, int64_t n, T value, cudaStream_t stream) {
  if (n <= 0) return;
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, fill_kernel<T>)(data, n, value);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

/// out[j] = sum over slabs b of partial[b * cols + j], b ascending: the fixed-order second level
/// of a two-level sum. (A template, so that the header can define it in several files.)
template <typename Acc>
__global__ void sum_partial_rows_kernel(const Acc* partial, int64_t slabs, int64_t cols, Acc* out) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < cols;
       j += int64_t{gridDim.x} * blockDim.x) {
    Acc s = 0;
    for (int64_t b = 0; b < slabs; ++b) s += partial[b * cols + j];
    out[j] = s;
  }
}

inline void sum_partial_rows_async(const double* partial, int64_t slabs, int64_t cols, double* out,
                                   cudaStream_t stream) {
  if (cols <= 0) return;
  const auto blocks = grid_for(cols);
  GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, sum_partial_rows_kernel<double>)
  (partial, slabs, cols, out);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

}  // namespace gpulearn::detail
