// Input checks on host or device data, one pass over row chunks each: the largest magnitude
// (+infinity as soon as any entry is NaN or +-inf, so that it doubles as the finiteness check)
// and the minimum. Each block reduces its entries and merges the result into its own slot of a
// partial array; the host reduces the slots.
#include <cstdint>
#include <limits>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

namespace {

// The kernels read entry (i, j) of a rows x cols block at x[i * ld + j * inc].
struct Shape {
  int64_t rows, cols, ld, inc;
};

// |x|, with NaN mapped to +infinity: the maximum of these is +infinity exactly when some entry
// is not finite, and is max |x| otherwise.
struct AbsOrInf {
  template <typename T>
  __device__ T operator()(T x) const {
    const T a = x < T(0) ? -x : x;
    return a == a ? a : std::numeric_limits<T>::infinity();
  }
};
struct Identity {
  template <typename T>
  __device__ T operator()(T x) const {
    return x;
  }
};
struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return b > a ? b : a;
  }
};

// partial[block] = reduce(partial[block], reduce over the block's entries of map(x)). The same
// grid geometry indexes the same slots on every chunk, and chunks run in stream order, so no
// two writers ever race.
template <typename T, typename Map, typename Reduce>
__global__ void reduce_kernel(const T* x, Shape sh, Map map, Reduce reduce, T identity,
                              T* partial) {
  T acc = identity;
  for (int64_t i = blockIdx.y; i < sh.rows; i += gridDim.y) {
    const T* row = x + i * sh.ld;
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < sh.cols;
         j += int64_t{gridDim.x} * blockDim.x) {
      acc = reduce(acc, map(row[j * sh.inc]));
    }
  }
  acc = block_reduce(acc, reduce, identity);
  if (threadIdx.x == 0) {
    const int64_t b = blockIdx.y * int64_t{gridDim.x} + blockIdx.x;
    partial[b] = reduce(partial[b], acc);
  }
}

// The threads run along the columns, so a contiguous block becomes one long row, and a strided
// column (a weight vector with a stride) one row with an element stride: either way the column
// tiling fills the GPU however few columns the block has.
Shape flatten(int64_t rows, int64_t cols, int64_t ld) {
  if (ld == cols) return {1, rows * cols, rows * cols, 1};
  if (cols == 1) return {1, rows, rows * ld, ld};
  return {rows, cols, ld, 1};
}

// reduce over all entries of X of map(X_ij), or identity for an empty X.
template <typename T, typename Map, typename Reduce, typename HostReduce>
T reduce_matrix(CudaBackend& be, MatrixView<const T> X, Map map, Reduce reduce,
                HostReduce host_reduce, T identity) {
  if (X.empty()) return identity;
  // A device view is read in place in one pass; a host view is staged in row chunks.
  const int64_t chunk = X.space == MemorySpace::kDevice
                            ? X.rows
                            : be.chunk_rows(X.rows, checked_mul(X.cols, int64_t{sizeof(T)}));
  struct Scratch {
    T* partial;
    T* staging;
  };
  auto layout = [&](Carver& c) {
    Scratch r;
    r.partial = c.take<T>(kMaxBlocks);
    r.staging = c.take<T>(RowChunks<T>::staging_elems(X, chunk));
    return r;
  };
  const Scratch scratch = be.carve_chunk_workspace(layout);

  cudaStream_t s = be.stream();
  fill_async(scratch.partial, kMaxBlocks, identity, s);
  RowChunks<T> reader(X, scratch.staging, s);
  for (int64_t begin = 0; begin < X.rows; begin += chunk) {
    const int64_t count = std::min(chunk, X.rows - begin);
    const DeviceRows<const T> rows = reader.load(begin, count);
    const Shape sh = flatten(count, X.cols, rows.ld);
    GPULEARN_LAUNCH(elementwise_grid(sh.rows, sh.cols), kBlockThreads, 0, s, reduce_kernel<T, Map, Reduce>)
    (rows.data, sh, map, reduce, identity, scratch.partial);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  std::vector<T> host(kMaxBlocks);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(host.data(), scratch.partial, sizeof(T) * kMaxBlocks,
                                    cudaMemcpyDeviceToHost, s));
  be.sync_stream();
  T acc = identity;
  for (T v : host) acc = host_reduce(acc, v);
  return acc;
}

template <typename T>
T max_abs_impl(CudaBackend& be, MatrixView<const T> X) {
  return reduce_matrix(
      be, X, AbsOrInf{}, MaxOp{}, [](T a, T b) { return b > a ? b : a; }, T(0));
}

template <typename T>
T min_value_impl(CudaBackend& be, MatrixView<const T> X) {
  return reduce_matrix(
      be, X, Identity{}, MinOp{}, [](T a, T b) { return b < a ? b : a; },
      std::numeric_limits<T>::infinity());
}

}  // namespace

float CudaBackend::max_abs(MatrixView<const float> X) {
  DeviceGuard guard(device_);
  return max_abs_impl(*this, X);
}
double CudaBackend::max_abs(MatrixView<const double> X) {
  DeviceGuard guard(device_);
  return max_abs_impl(*this, X);
}
float CudaBackend::min_value(MatrixView<const float> X) {
  DeviceGuard guard(device_);
  return min_value_impl(*this, X);
}
double CudaBackend::min_value(MatrixView<const double> X) {
  DeviceGuard guard(device_);
  return min_value_impl(*this, X);
}

}  // namespace gpulearn::detail
