// Norms of shifted rows, the first pass of every GEMM-expanded distance: k-means' squared norms
// |x_i - s|^2 (kmeans_assign.cu) and the neighbours' row factors, |x_i - s|^2 or, for cosine,
// 1/|x_i - s| (distance_tile.cu).
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "core/cuda_check.cuh"
#include "core/lanes.cuh"
#include "core/launch.cuh"

namespace gpulearn::detail {

enum class RowNorm { kSquared, kInverse };

/// For each row i of x (rows x d, stride ld): out[i] = |x_i - s|^2 (kSquared) or 1/|x_i - s|
/// (kInverse; 0 for a zero row), summed in double by a group of kLanes lanes per row from
/// x_i - s rounded to T, as the GEMM that follows reads it (shift null: s = 0). Where xs is not
/// null, x_i - s is also written to xs (rows x d, contiguous).
template <typename T, int kLanes>
__global__ void __launch_bounds__(kBlockThreads)
    shifted_row_norms_kernel(const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift, T* xs,
                             RowNorm kind, T* out) {
  const int lane = threadIdx.x % kLanes;
  const int64_t groups = int64_t{gridDim.x} * (blockDim.x / kLanes);
  const int64_t group = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / kLanes;
  // i0 is the first row of this warp: the loop runs while the warp has a row left, so that every
  // lane reaches the shuffles.
  const int64_t warp_first = group - static_cast<int64_t>((threadIdx.x % 32) / kLanes);
  for (int64_t i = group, i0 = warp_first; i0 < rows; i += groups, i0 += groups) {
    double acc = 0.0;
    if (i < rows) {
      const T* xi = x + i * ld;
      for (int64_t j = lane; j < d; j += kLanes) {
        const T v = shift == nullptr ? xi[j] : xi[j] - shift[j];
        if (xs != nullptr) xs[i * d + j] = v;
        acc += static_cast<double>(v) * static_cast<double>(v);
      }
    }
    acc = group_reduce<kLanes>(acc, SumOp{});
    if (lane == 0 && i < rows) {
      if (kind == RowNorm::kInverse) {
        out[i] = acc > 0.0 ? static_cast<T>(1.0 / std::sqrt(acc)) : T(0);
      } else {
        out[i] = static_cast<T>(acc);
      }
    }
  }
}

/// Queues shifted_row_norms_kernel over rows x d at x (stride ld), with the group width the
/// row length calls for.
template <typename T>
void shifted_row_norms_async(const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift, T* xs,
                             RowNorm kind, T* out, cudaStream_t stream) {
  if (rows <= 0) return;
  with_lanes(d, [&](auto lanes) {
    constexpr int kLanes = decltype(lanes)::value;
    const auto blocks = grid_for(checked_mul(rows, kLanes));
    GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, shifted_row_norms_kernel<T, kLanes>)
    (x, ld, rows, d, shift, xs, kind, out);
    GPULEARN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace gpulearn::detail
