// The seeding primitives of k-means++ and k-means||: potentials of candidate centers
// (min_potentials), the running closest distances (min_update), draws proportional to weights
// (weighted_draws), independent draws (independent_draws) and the largest entries (largest).
// Every per-sample array is in device memory; small results go to the host.
//
// Determinism: sums in double over fixed partitions combined in a fixed order (no floating-point
// atomics, no decoupled look-back scan), stable radix sorts, and a hash instead of a generator
// for the independent draws, so that a seed gives the same centers on every run.
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>
#include <vector>

#include "cluster/kmeans_common.cuh"
#include "cluster/primitives_cuda.cuh"
#include "core/cuda_backend.cuh"
#include "core/lanes.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

namespace {

// ---- min_potentials ---------------------------------------------------------------------------

// Row slabs of the two-level potential sums: at least kRowsPerSlab rows each, at most
// kMaxSlabs slabs, and slabs x t partials within kMaxPartialBytes. A function of n and t only.
constexpr int64_t kRowsPerSlab = 4096;
constexpr int64_t kMaxSlabs = 1024;
constexpr int64_t kMaxPartialBytes = int64_t{64} << 20;

template <typename T>
__device__ __forceinline__ T min_of(T a, T b) {
  return b < a ? b : a;  // std::min's rule: a unless b is smaller
}

// partial[slab * t + j] = sum over the slab's rows i of w_i min(cur_i, D_ij), in double. Threads
// (tx, ty): column tx of a tile of columns, rows ty, ty + blockDim.y, ... of the slab (grid y)
// summed in order, then the blockDim.y sums of a column in order of ty.
template <typename T>
__global__ void __launch_bounds__(kBlockThreads)
    min_potentials_kernel(const T* cur, int64_t cur_stride, const T* D, int64_t ld, int64_t n,
                          int64_t t, const T* w, int64_t w_stride, double* partial) {
  __shared__ double red[kBlockThreads];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int bx = blockDim.x, by = blockDim.y;
  const int64_t row_step = int64_t{gridDim.y} * by;
  for (int64_t j0 = blockIdx.x * int64_t{bx}; j0 < t; j0 += int64_t{gridDim.x} * bx) {
    const int64_t j = j0 + tx;
    double acc = 0.0;
    if (j < t) {
      for (int64_t i = blockIdx.y * int64_t{by} + ty; i < n; i += row_step) {
        const double v = static_cast<double>(min_of(cur[i * cur_stride], D[i * ld + j]));
        acc += w == nullptr ? v : static_cast<double>(w[i * w_stride]) * v;
      }
    }
    red[ty * bx + tx] = acc;
    __syncthreads();
    if (ty == 0 && j < t) {
      double s = 0.0;
      for (int r = 0; r < by; ++r) s += red[r * bx + tx];
      partial[blockIdx.y * t + j] = s;
    }
    __syncthreads();  // red is refilled by the next column tile
  }
}

template <typename T>
void min_potentials_impl(CudaBackend& be, VectorView<const T> cur, MatrixView<const T> D,
                         VectorView<const T> w, double* pot) {
  const int64_t n = D.rows, t = D.cols;
  if (t == 0) return;
  std::fill_n(pot, t, 0.0);
  if (n == 0) return;
  GPULEARN_ASSERT(cur.size == n && (w.empty() || w.size == n));
  require_device(cur, "the closest distances");
  require_device(D, "the candidate distances");
  require_device(w, "the sample weights");

  const int64_t slab_cap =
      std::clamp<int64_t>(kMaxPartialBytes / checked_mul(t, int64_t{sizeof(double)}), 1, kMaxSlabs);
  const int64_t slabs = std::clamp<int64_t>(ceil_div(n, kRowsPerSlab), 1, slab_cap);
  struct Scratch {
    double *partial, *pot;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.partial = c.take<double>(checked_mul(slabs, t));
    s.pot = c.take<double>(t);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  cudaStream_t stream = be.stream();
  const int bx = lanes_for(t), by = kBlockThreads / bx;
  const dim3 grid(static_cast<unsigned>(std::clamp<int64_t>(ceil_div(t, bx), 1, kMaxBlocks)),
                  static_cast<unsigned>(slabs));
  GPULEARN_LAUNCH(grid, dim3(bx, by), 0, stream, min_potentials_kernel<T>)
  (cur.data, cur.stride, D.data, D.ld, n, t, w.empty() ? nullptr : w.data, w.stride, s.partial);
  GPULEARN_CUDA_CHECK_LAUNCH();
  sum_partial_rows_async(static_cast<const double*>(s.partial), slabs, t, s.pot, stream);
  download_async(pot, static_cast<const double*>(s.pot), t, stream);
  be.sync_stream();
}

// ---- min_update -------------------------------------------------------------------------------

template <typename T>
__global__ void min_update_kernel(T* cur, int64_t stride, const T* D, int64_t ld, int64_t n,
                                  int64_t c) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    T& x = cur[i * stride];
    x = min_of(x, D[i * ld + c]);
  }
}

template <typename T>
void min_update_impl(CudaBackend& be, VectorView<T> cur, MatrixView<const T> D, int64_t c) {
  const int64_t n = cur.size;
  if (n == 0) return;
  GPULEARN_ASSERT(D.rows == n && c >= 0 && c < D.cols);
  require_device(cur, "the closest distances");
  require_device(D, "the candidate distances");
  cudaStream_t stream = be.stream();
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, min_update_kernel<T>)
  (cur.data, cur.stride, D.data, D.ld, n, c);
  GPULEARN_CUDA_CHECK_LAUNCH();
  be.sync_stream();
}

// ---- weighted_draws ---------------------------------------------------------------------------
//
// The running sum of v_i = w_i p_i in double, in a fixed order: each tile of kScanTile entries
// gets a local inclusive sum (each thread's kScanItems consecutive entries in order, the
// threads' totals chained in order by one thread), then one thread chains the tiles' totals
// (chain_tiles_kernel).
// Entry i's running sum is tile_prefix[tile] + local[i]. Every chaining step is "previous +
// total" with the very value the next entry starts from, so the sums never decrease (rounding
// is monotonic), and the binary search below finds exactly the first entry reaching a target.

constexpr int kScanItems = 8;
constexpr int64_t kScanTile = int64_t{kBlockThreads} * kScanItems;

template <typename T>
__device__ __forceinline__ double draw_weight(const T* p, int64_t ps, const T* w, int64_t ws,
                                              int64_t i) {
  const double wi = w == nullptr ? 1.0 : static_cast<double>(w[i * ws]);
  return p == nullptr ? wi : wi * static_cast<double>(p[i * ps]);
}

template <typename T>
__global__ void __launch_bounds__(kBlockThreads)
    local_scan_kernel(const T* p, int64_t ps, const T* w, int64_t ws, int64_t n, double* local,
                      double* tile_total) {
  __shared__ double prefix[kBlockThreads];
  const int64_t base = blockIdx.x * kScanTile + threadIdx.x * int64_t{kScanItems};
  double run[kScanItems];
  double acc = 0.0;
#pragma unroll
  for (int q = 0; q < kScanItems; ++q) {
    if (base + q < n) acc += draw_weight(p, ps, w, ws, base + q);
    run[q] = acc;
  }
  prefix[threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {  // exclusive prefixes of the threads' totals, in order
    double s = 0.0;
    for (int r = 0; r < kBlockThreads; ++r) {
      const double total = prefix[r];
      prefix[r] = s;
      s += total;
    }
  }
  __syncthreads();
  const double before = prefix[threadIdx.x];
#pragma unroll
  for (int q = 0; q < kScanItems; ++q) {
    if (base + q < n) local[base + q] = before + run[q];
  }
  if (threadIdx.x == kBlockThreads - 1) tile_total[blockIdx.x] = before + run[kScanItems - 1];
}

// tile_total[b] becomes the sum of the tiles before b, added one by one in order by thread 0;
// the block stages the totals through shared memory in batches, so that the sequential chain
// reads shared memory rather than waiting on global loads. Launch with one block.
__global__ void __launch_bounds__(kBlockThreads)
    chain_tiles_kernel(double* tile_total, int64_t tiles) {
  __shared__ double batch[kBlockThreads];
  double s = 0.0;                                          // thread 0's running sum
  for (int64_t b0 = 0; b0 < tiles; b0 += kBlockThreads) {  // block-uniform
    const int64_t b = b0 + threadIdx.x;
    batch[threadIdx.x] = b < tiles ? tile_total[b] : 0.0;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int r = 0; r < kBlockThreads; ++r) {
        const double total = batch[r];
        batch[r] = s;
        s += total;
      }
    }
    __syncthreads();
    if (b < tiles) tile_total[b] = batch[threadIdx.x];
    __syncthreads();  // the batch is refilled next
  }
}

__device__ __forceinline__ double running_sum(const double* local, const double* tile_prefix,
                                              int64_t i) {
  return tile_prefix[i / kScanTile] + local[i];
}

// idx[s] = the first i whose running sum reaches u[s] * total (numpy.searchsorted, side
// 'left'), clipped to n - 1.
__global__ void search_draws_kernel(const double* local, const double* tile_prefix, int64_t n,
                                    const double* u, int64_t t, int64_t* idx) {
  for (int64_t s = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; s < t;
       s += int64_t{gridDim.x} * blockDim.x) {
    const double target = u[s] * running_sum(local, tile_prefix, n - 1);
    int64_t lo = 0, hi = n;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (running_sum(local, tile_prefix, mid) < target) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    idx[s] = lo < n ? lo : n - 1;
  }
}

template <typename T>
int64_t sample_count(VectorView<const T> p, VectorView<const T> w) {
  GPULEARN_ASSERT(p.empty() || w.empty() || p.size == w.size);
  return p.empty() ? w.size : p.size;
}

template <typename T>
void weighted_draws_impl(CudaBackend& be, VectorView<const T> p, VectorView<const T> w,
                         const double* u, int64_t t, int64_t* idx) {
  if (t <= 0) return;
  const int64_t n = sample_count(p, w);
  GPULEARN_ASSERT(n > 0);
  require_device(p, "the draw probabilities");
  require_device(w, "the sample weights");
  const int64_t tiles = ceil_div(n, kScanTile);
  struct Scratch {
    double *local, *tile_total, *u;
    int64_t* idx;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.local = c.take<double>(n);
    s.tile_total = c.take<double>(tiles);
    s.u = c.take<double>(t);
    s.idx = c.take<int64_t>(t);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  cudaStream_t stream = be.stream();
  upload_async(s.u, u, t, stream);
  GPULEARN_LAUNCH(static_cast<unsigned>(tiles), kBlockThreads, 0, stream, local_scan_kernel<T>)
  (p.empty() ? nullptr : p.data, p.stride, w.empty() ? nullptr : w.data, w.stride, n, s.local,
   s.tile_total);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(1, kBlockThreads, 0, stream, chain_tiles_kernel)(s.tile_total, tiles);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(grid_for(t), kBlockThreads, 0, stream, search_draws_kernel)
  (s.local, s.tile_total, n, s.u, t, s.idx);
  GPULEARN_CUDA_CHECK_LAUNCH();
  download_async(idx, static_cast<const int64_t*>(s.idx), t, stream);
  be.sync_stream();
}

// ---- independent_draws ------------------------------------------------------------------------

// Whether row i is drawn: hash_uniform(seed, i) < scale w_i p_i, the product in double.
template <typename T>
struct IndependentDraw {
  const T* p;  // null: p_i = 1
  int64_t ps;
  const T* w;  // null: w_i = 1
  int64_t ws;
  double scale;
  uint64_t seed;

  __device__ bool operator()(const int64_t& i) const {
    double bound = scale;
    if (w != nullptr) bound *= static_cast<double>(w[i * ws]);
    if (p != nullptr) bound *= static_cast<double>(p[i * ps]);
    return hash_uniform(seed, i) < bound;
  }
};

template <typename T>
__global__ void count_draws_kernel(IndependentDraw<T> drawn, int64_t n, unsigned long long* count) {
  unsigned long long c = 0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    c += drawn(i) ? 1u : 0u;
  }
  c = block_reduce(c, SumOp{}, 0ull);
  if (threadIdx.x == 0 && c != 0) atomicAdd(count, c);  // integers: exact in any order
}

template <typename T>
std::vector<int64_t> independent_draws_impl(CudaBackend& be, VectorView<const T> p,
                                            VectorView<const T> w, double scale, uint64_t seed) {
  const int64_t n = sample_count(p, w);
  if (n == 0) return {};
  require_device(p, "the draw probabilities");
  require_device(w, "the sample weights");
  cudaStream_t stream = be.stream();
  const IndependentDraw<T> drawn{
      p.empty() ? nullptr : p.data, p.stride, w.empty() ? nullptr : w.data, w.stride, scale, seed};

  // First the count, so that the output takes what is drawn rather than n entries.
  unsigned long long count = 0;
  {
    auto* counter =
        be.carve_chunk_workspace([](Carver& c) { return c.take<unsigned long long>(1); });
    GPULEARN_CUDA_TRY(cudaMemsetAsync(counter, 0, sizeof(unsigned long long), stream));
    GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, count_draws_kernel<T>)
    (drawn, n, counter);
    GPULEARN_CUDA_CHECK_LAUNCH();
    download_async(&count, static_cast<const unsigned long long*>(counter), 1, stream);
    be.sync_stream();
  }
  std::vector<int64_t> result(static_cast<size_t>(count));
  if (count == 0) return result;

  const thrust::counting_iterator<int64_t> rows(0);
  size_t select_bytes = 0;
  GPULEARN_CUDA_TRY(cub::DeviceSelect::If(nullptr, select_bytes, rows,
                                          static_cast<int64_t*>(nullptr),
                                          static_cast<int64_t*>(nullptr), n, drawn, stream));
  struct Scratch {
    int64_t *out, *selected;
    void* tmp;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.out = c.take<int64_t>(static_cast<int64_t>(count));
    s.selected = c.take<int64_t>(1);
    s.tmp = c.take<std::byte>(static_cast<int64_t>(select_bytes));
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  // Selection keeps the input order: ascending rows.
  GPULEARN_CUDA_TRY(
      cub::DeviceSelect::If(s.tmp, select_bytes, rows, s.out, s.selected, n, drawn, stream));
  int64_t selected = 0;
  download_async(&selected, static_cast<const int64_t*>(s.selected), 1, stream);
  download_async(result.data(), static_cast<const int64_t*>(s.out), static_cast<int64_t>(count),
                 stream);
  be.sync_stream();
  GPULEARN_ASSERT(selected == static_cast<int64_t>(count));
  return result;
}

// ---- largest ----------------------------------------------------------------------------------

template <typename T>
__global__ void gather_kernel(const T* src, int64_t stride, int64_t n, T* dst) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    dst[i] = src[i * stride];
  }
}

// A stable descending radix sort of (p_i, i): the largest first, equal values in ascending index
// order (the radix sort treats -0 and +0 as equal, as a comparison does).
template <typename T, typename IndexT>
void largest_sorted(CudaBackend& be, VectorView<const T> p, int64_t m, int64_t* idx) {
  const int64_t n = p.size;
  cudaStream_t stream = be.stream();
  size_t sort_bytes = 0;
  GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(
      nullptr, sort_bytes, static_cast<const T*>(nullptr), static_cast<T*>(nullptr),
      static_cast<const IndexT*>(nullptr), static_cast<IndexT*>(nullptr), static_cast<IndexT>(n), 0,
      static_cast<int>(sizeof(T) * 8), stream));
  struct Scratch {
    T *keys_in, *keys_out;
    IndexT *rows_in, *rows_out;
    void* tmp;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.keys_in = c.take<T>(n);
    s.keys_out = c.take<T>(n);
    s.rows_in = c.take<IndexT>(n);
    s.rows_out = c.take<IndexT>(n);
    s.tmp = c.take<std::byte>(static_cast<int64_t>(sort_bytes));
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, gather_kernel<T>)
  (p.data, p.stride, n, s.keys_in);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, iota_kernel<IndexT>)(s.rows_in, n);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(
      s.tmp, sort_bytes, static_cast<const T*>(s.keys_in), s.keys_out,
      static_cast<const IndexT*>(s.rows_in), s.rows_out, static_cast<IndexT>(n), 0,
      static_cast<int>(sizeof(T) * 8), stream));
  std::vector<IndexT> top(static_cast<size_t>(m));
  download_async(top.data(), static_cast<const IndexT*>(s.rows_out), m, stream);
  be.sync_stream();
  std::copy(top.begin(), top.end(), idx);
}

template <typename T>
void largest_impl(CudaBackend& be, VectorView<const T> p, int64_t m, int64_t* idx) {
  if (m <= 0) return;
  GPULEARN_ASSERT(m <= p.size);
  require_device(p, "the values");
  with_index_type(p.size, [&](auto index) { largest_sorted<T, decltype(index)>(be, p, m, idx); });
}

}  // namespace

template <typename T>
void min_potentials_cuda(CudaBackend& be, VectorView<const T> cur, MatrixView<const T> D,
                         VectorView<const T> w, double* pot) {
  DeviceGuard guard(be.ordinal());
  min_potentials_impl(be, cur, D, w, pot);
}

template <typename T>
void min_update_cuda(CudaBackend& be, VectorView<T> cur, MatrixView<const T> D, int64_t c) {
  DeviceGuard guard(be.ordinal());
  min_update_impl(be, cur, D, c);
}

template <typename T>
void weighted_draws_cuda(CudaBackend& be, VectorView<const T> p, VectorView<const T> w,
                         const double* u, int64_t t, int64_t* idx) {
  DeviceGuard guard(be.ordinal());
  weighted_draws_impl(be, p, w, u, t, idx);
}

template <typename T>
std::vector<int64_t> independent_draws_cuda(CudaBackend& be, VectorView<const T> p,
                                            VectorView<const T> w, double scale, uint64_t seed) {
  DeviceGuard guard(be.ordinal());
  return independent_draws_impl(be, p, w, scale, seed);
}

template <typename T>
void largest_cuda(CudaBackend& be, VectorView<const T> p, int64_t m, int64_t* idx) {
  DeviceGuard guard(be.ordinal());
  largest_impl(be, p, m, idx);
}
#define GPULEARN_INSTANTIATE_KMEANS_INIT(T)                                                        \
  template void min_potentials_cuda<T>(CudaBackend & be, VectorView<const T> cur,                  \
                                       MatrixView<const T> D, VectorView<const T> w, double* pot); \
  template void min_update_cuda<T>(CudaBackend & be, VectorView<T> cur, MatrixView<const T> D,     \
                                   int64_t c);                                                     \
  template void weighted_draws_cuda<T>(CudaBackend & be, VectorView<const T> p,                    \
                                       VectorView<const T> w, const double* u, int64_t t,          \
                                       int64_t* idx);                                              \
  template std::vector<int64_t> independent_draws_cuda<T>(CudaBackend & be, VectorView<const T> p, \
                                                          VectorView<const T> w, double scale,     \
                                                          uint64_t seed);                          \
  template void largest_cuda<T>(CudaBackend & be, VectorView<const T> p, int64_t m, int64_t * idx);
GPULEARN_INSTANTIATE_KMEANS_INIT(float)
GPULEARN_INSTANTIATE_KMEANS_INIT(double)
#undef GPULEARN_INSTANTIATE_KMEANS_INIT

}  // namespace gpulearn::detail
