// forest_traverse: every row of X through every tree of a compact forest, one thread per row
// walking the trees in order (one pass over the row for the whole forest), summing the leaves'
// values in double in tree order (registers for up to kMaxRegisterWidth values, else the row's
// own output slots) and recording the leaves reached.
//
// The forest's node records (forest::Node: threshold, feature, children; one cached load per
// step of a walk) and its values (read only at the leaves) are uploaded on each call: there is
// no device copy kept between calls yet (the out-of-bag pass calls once per 65536 rows). A host X
// is streamed in row chunks; the outputs come back to the host chunk by chunk.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "ensemble/forest_rules.hpp"
#include "ensemble/primitives_cuda.cuh"

namespace gpulearn::detail {

namespace {

// Leaf-value widths summed in registers; wider rows sum in their output slots.
constexpr int kMaxRegisterWidth = 4;

// kWidth > 0: the value width, summed in registers; 0: `width` values summed in mean's slots.
template <typename T, int kWidth>
__global__ void __launch_bounds__(kBlockThreads)
    traverse_kernel(const T* __restrict__ x, int64_t ld, int64_t rows,
                    const forest::Node<T>* __restrict__ nodes, const int64_t* __restrict__ offsets,
                    int64_t n_trees, const double* __restrict__ value, int64_t width,
                    double* __restrict__ mean, int64_t* __restrict__ leaves) {
  const double trees = static_cast<double>(n_trees);
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows;
       r += int64_t{gridDim.x} * blockDim.x) {
    const T* xr = x + r * ld;
    double* out = mean != nullptr ? mean + r * width : nullptr;
    double acc[kWidth > 0 ? kWidth : 1];
#pragma unroll
    for (int c = 0; c < (kWidth > 0 ? kWidth : 1); ++c) acc[c] = 0.0;
    if (kWidth == 0 && out != nullptr) {
      for (int64_t c = 0; c < width; ++c) out[c] = 0.0;
    }
    for (int64_t t = 0; t < n_trees; ++t) {
      const int64_t base = offsets[t];
      const forest::Node<T>* tree = nodes + base;
      int32_t node = 0;
      forest::Node<T> nd = tree[0];
      while (nd.feature >= 0) {
        node = xr[nd.feature] <= nd.threshold ? nd.left : nd.right;
        nd = tree[node];
      }
      if (leaves != nullptr) leaves[r * n_trees + t] = node;
      if (out != nullptr) {
        const double* v = value + (base + node) * width;
        if constexpr (kWidth > 0) {
#pragma unroll
          for (int c = 0; c < kWidth; ++c) acc[c] += v[c];
        } else {
          for (int64_t c = 0; c < width; ++c) out[c] += v[c];
        }
      }
    }
    if (out != nullptr) {
      if constexpr (kWidth > 0) {
#pragma unroll
        for (int c = 0; c < kWidth; ++c) out[c] = acc[c] / trees;
      } else {
        for (int64_t c = 0; c < width; ++c) out[c] = out[c] / trees;
      }
    }
  }
}

template <typename T, int kWidth>
void launch_traverse(cudaStream_t stream, const T* x, int64_t ld, int64_t rows,
                     const forest::Node<T>* nodes, const int64_t* offsets, int64_t n_trees,
                     const double* value, int64_t width, double* mean, int64_t* leaves) {
  GPULEARN_LAUNCH(grid_for(rows), kBlockThreads, 0, stream, traverse_kernel<T, kWidth>)
  (x, ld, rows, nodes, offsets, n_trees, value, width, mean, leaves);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
void forest_traverse_impl(CudaBackend& be, MatrixView<const T> X, const forest::Layout<T>& f,
                          double* mean, int64_t* leaves) {
  const int64_t n = X.rows, n_trees = f.n_trees, width = f.width;
  if (n == 0 || (mean == nullptr && leaves == nullptr)) return;
  GPULEARN_ASSERT(n_trees >= 1);
  GPULEARN_ASSERT(mean == nullptr || width >= 1);
  const int64_t n_nodes = f.tree_offsets[n_trees];
  GPULEARN_ASSERT(n_nodes >= n_trees);
  const bool with_mean = mean != nullptr, with_leaves = leaves != nullptr;
  const int64_t n_values = with_mean ? checked_mul(n_nodes, width) : 0;
  cudaStream_t stream = be.stream();

  // The forest, uploaded once.
  DeviceBuffer<forest::Node<T>> nodes(n_nodes);
  DeviceBuffer<int64_t> offsets(n_trees + 1);
  DeviceBuffer<double> value(n_values);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(nodes.data(), f.nodes,
                                    checked_bytes(n_nodes, sizeof(forest::Node<T>)),
                                    cudaMemcpyHostToDevice, stream));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(offsets.data(), f.tree_offsets,
                                    checked_bytes(n_trees + 1, sizeof(int64_t)),
                                    cudaMemcpyHostToDevice, stream));
  if (with_mean) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(value.data(), f.value,
                                      checked_bytes(n_values, sizeof(double)),
                                      cudaMemcpyHostToDevice, stream));
  }

  int64_t per_row = staging_bytes_per_row<T>({X});
  if (with_mean) per_row = checked_add(per_row, checked_mul(width, int64_t{sizeof(double)}));
  if (with_leaves) per_row = checked_add(per_row, checked_mul(n_trees, int64_t{sizeof(int64_t)}));
  // Row chunks bound the device copies of the outputs (and the staging of a host X).
  const int64_t chunk = be.chunk_rows(n, per_row);
  struct Scratch {
    double* mean;
    int64_t* leaves;
    T* staging;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.mean = c.take<double>(with_mean ? checked_mul(chunk, width) : 0);
    s.leaves = c.take<int64_t>(with_leaves ? checked_mul(chunk, n_trees) : 0);
    s.staging = c.take<T>(RowChunks<T>::staging_elems(X, chunk));
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  double* mean_d = with_mean ? s.mean : nullptr;
  int64_t* leaves_d = with_leaves ? s.leaves : nullptr;

  const RowChunks<T> reader(X, s.staging, stream);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    const DeviceRows<const T> x = reader.load(begin, rows);
    auto run = [&](auto width_tag) {
      constexpr int kWidth = decltype(width_tag)::value;
      launch_traverse<T, kWidth>(stream, x.data, x.ld, rows, nodes.data(), offsets.data(), n_trees,
                                 value.data(), width, mean_d, leaves_d);
    };
    if (!with_mean || width > kMaxRegisterWidth) {
      run(std::integral_constant<int, 0>{});
    } else if (width == 1) {
      run(std::integral_constant<int, 1>{});
    } else if (width == 2) {
      run(std::integral_constant<int, 2>{});
    } else if (width == 3) {
      run(std::integral_constant<int, 3>{});
    } else {
      run(std::integral_constant<int, 4>{});
    }
    if (with_mean) {
      GPULEARN_CUDA_TRY(cudaMemcpyAsync(mean + begin * width, mean_d,
                                        checked_bytes(rows * width, sizeof(double)),
                                        cudaMemcpyDeviceToHost, stream));
    }
    if (with_leaves) {
      GPULEARN_CUDA_TRY(cudaMemcpyAsync(leaves + begin * n_trees, leaves_d,
                                        checked_bytes(rows * n_trees, sizeof(int64_t)),
                                        cudaMemcpyDeviceToHost, stream));
    }
  }
  be.sync_stream();
}

}  // namespace

template <typename T>
void forest_traverse_cuda(CudaBackend& be, MatrixView<const T> X, const forest::Layout<T>& forest,
                          double* mean, int64_t* leaves) {
  DeviceGuard guard(be.ordinal());
  forest_traverse_impl(be, X, forest, mean, leaves);
}
#define GPULEARN_INSTANTIATE_FOREST_TRAVERSE(T)                                        \
  template void forest_traverse_cuda<T>(CudaBackend & be, MatrixView<const T> X,       \
                                        const forest::Layout<T>& forest, double* mean, \
                                        int64_t* leaves);
GPULEARN_INSTANTIATE_FOREST_TRAVERSE(float)
GPULEARN_INSTANTIATE_FOREST_TRAVERSE(double)
#undef GPULEARN_INSTANTIATE_FOREST_TRAVERSE

}  // namespace gpulearn::detail
