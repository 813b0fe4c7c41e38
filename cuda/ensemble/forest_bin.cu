// forest_bin: X's uint8 bin codes (lower bound of X_ij among feature j's edges, compared in
// double) into device memory, and each (feature, bin)'s smallest and largest value.
//
// One thread per entry, over the flattened rows x d block of a row chunk (a host X is staged
// chunk by chunk, a device X read in place with its stride). The binary search reads the edges
// through the cache. The per-bin minima and maxima are exact in any order: each value is mapped
// to an unsigned key whose order is the floating-point order (-0 below +0), merged with integer
// atomicMin/atomicMax, and the atomic is skipped when a plain read shows it cannot win (most
// entries do not move their bin's extremes). The keys come back to the host, where they are
// merged into the caller's bin_min / bin_max.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "ensemble/forest_rules.hpp"
#include "ensemble/primitives_cuda.cuh"

namespace gpulearn::detail {

namespace {

using forest::kMaxBins;

// The unsigned integer as wide as T, and the map between T and keys ordered as T.
template <typename T>
struct OrderedKey {
  using U = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
  static constexpr U kSign = U{1} << (sizeof(T) * 8 - 1);
  // No value maps to these (they are NaN patterns): "no value seen" for the minimum and maximum.
  static constexpr U kNoMin = ~U{0};
  static constexpr U kNoMax = U{0};

  __host__ __device__ static U encode(T x) {
    U u;
    memcpy(&u, &x, sizeof(T));
    return (u & kSign) != 0 ? ~u : (u | kSign);
  }
  __host__ __device__ static T decode(U k) {
    const U u = (k & kSign) != 0 ? (k & ~kSign) : ~k;
    T x;
    memcpy(&x, &u, sizeof(T));
    return x;
  }
};

// Codes and extremes of rows [0, rows) of one chunk (x: stride ld), whose first row is row
// `first` of X; codes is the whole n x d code matrix.
template <typename T>
__global__ void bin_kernel(const T* __restrict__ x, int64_t ld, int64_t rows, int64_t d,
                           int64_t first, const double* __restrict__ edges,
                           const int64_t* __restrict__ offsets, uint8_t* __restrict__ codes,
                           typename OrderedKey<T>::U* kmin, typename OrderedKey<T>::U* kmax) {
  using Key = OrderedKey<T>;
  const int64_t count = rows * d;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < count;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / d, j = e - i * d;
    const T v = x[i * ld + j];
    const double xv = static_cast<double>(v);
    const int64_t lo0 = offsets[j];
    // The number of edges below xv: a lower bound.
    int lo = 0, hi = static_cast<int>(offsets[j + 1] - lo0);
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (edges[lo0 + mid] < xv) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    codes[(first + i) * d + j] = static_cast<uint8_t>(lo);
    const typename Key::U key = Key::encode(v);
    const int64_t slot = j * kMaxBins + lo;
    if (key < kmin[slot]) atomicMin(&kmin[slot], key);
    if (key > kmax[slot]) atomicMax(&kmax[slot], key);
  }
}

template <typename T>
void forest_bin_impl(CudaBackend& be, MatrixView<const T> X, const double* edges,
                     const int64_t* offsets, uint8_t* codes, T* bin_min, T* bin_max) {
  using Key = OrderedKey<T>;
  using U = typename Key::U;
  const int64_t n = X.rows, d = X.cols;
  if (n == 0 || d == 0) return;
  GPULEARN_ASSERT(offsets[0] == 0);
  GPULEARN_ASSERT(edges != nullptr || offsets[d] == 0);
  for (int64_t j = 0; j < d; ++j) {
    GPULEARN_ASSERT(offsets[j + 1] - offsets[j] >= 0 && offsets[j + 1] - offsets[j] < kMaxBins);
  }
  check_device_pointer(codes, "the bin codes");
  checked_mul(n, d);
  const int64_t n_edges = offsets[d];
  const int64_t n_slots = checked_mul(d, int64_t{kMaxBins});
  cudaStream_t stream = be.stream();

  const int64_t chunk =
      X.space == MemorySpace::kDevice ? n : be.chunk_rows(n, checked_mul(d, int64_t{sizeof(T)}));
  struct Scratch {
    double* edges;
    int64_t* offsets;
    U* kmin;
    U* kmax;
    T* staging;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.edges = c.take<double>(n_edges);
    s.offsets = c.take<int64_t>(d + 1);
    s.kmin = c.take<U>(n_slots);
    s.kmax = c.take<U>(n_slots);
    s.staging = c.take<T>(RowChunks<T>::staging_elems(X, chunk));
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  if (n_edges > 0) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(s.edges, edges, checked_bytes(n_edges, sizeof(double)),
                                      cudaMemcpyHostToDevice, stream));
  }
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(s.offsets, offsets, checked_bytes(d + 1, sizeof(int64_t)),
                                    cudaMemcpyHostToDevice, stream));
  fill_async(s.kmin, n_slots, Key::kNoMin, stream);
  fill_async(s.kmax, n_slots, Key::kNoMax, stream);

  const RowChunks<T> reader(X, s.staging, stream);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    const DeviceRows<const T> x = reader.load(begin, rows);
    GPULEARN_LAUNCH(grid_for(rows * d), kBlockThreads, 0, stream, bin_kernel<T>)
    (x.data, x.ld, rows, d, begin, s.edges, s.offsets, codes, s.kmin, s.kmax);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  std::vector<U> kmin(static_cast<size_t>(n_slots)), kmax(static_cast<size_t>(n_slots));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(kmin.data(), s.kmin, checked_bytes(n_slots, sizeof(U)),
                                    cudaMemcpyDeviceToHost, stream));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(kmax.data(), s.kmax, checked_bytes(n_slots, sizeof(U)),
                                    cudaMemcpyDeviceToHost, stream));
  be.sync_stream();
  for (int64_t k = 0; k < n_slots; ++k) {
    if (kmin[k] != Key::kNoMin) {
      const T v = Key::decode(kmin[k]);
      if (v < bin_min[k]) bin_min[k] = v;
    }
    if (kmax[k] != Key::kNoMax) {
      const T v = Key::decode(kmax[k]);
      if (v > bin_max[k]) bin_max[k] = v;
    }
  }
}

}  // namespace

template <typename T>
void forest_bin_cuda(CudaBackend& be, MatrixView<const T> X, const double* edges,
                     const int64_t* offsets, uint8_t* codes, T* bin_min, T* bin_max) {
  DeviceGuard guard(be.ordinal());
  forest_bin_impl(be, X, edges, offsets, codes, bin_min, bin_max);
}
#define GPULEARN_INSTANTIATE_FOREST_BIN(T)                                                       \
  template void forest_bin_cuda<T>(CudaBackend & be, MatrixView<const T> X, const double* edges, \
                                   const int64_t* offsets, uint8_t* codes, T* bin_min,           \
                                   T* bin_max);
GPULEARN_INSTANTIATE_FOREST_BIN(float)
GPULEARN_INSTANTIATE_FOREST_BIN(double)
#undef GPULEARN_INSTANTIATE_FOREST_BIN

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, EnsemblePrimitives, CudaEnsemblePrimitives)

}  // namespace gpulearn::detail
