// Products with the centred, scaled data for the decomposition drivers, one row chunk at a time:
// a kernel writes the chunk's Xc = (X - mean) scale (row-major, as the CPU backend rounds it),
// cuBLAS forms the chunk's product in T with beta = 0, and a kernel adds it into a double
// accumulator, so that the rounding in T stays within one chunk (as on the CPU).
//
// Layout: a row-major m x c block with row stride ld is, to cuBLAS, the column-major c x m
// matrix (its transpose). So with Xc seen as Xc^T (d x m), Z (row-major d x l) as Z^T (l x d)
// and Y's rows as Y^T (l x m):
//   T1^T = Z^T Xc^T  -> gemm(N, N) of Z^T (l x d) and Xc^T (d x m): column-major l x m, i.e.
//                       T1 = Xc Z row-major m x l (the Y form uses Y's rows in its place);
//   P^T = T1^T Xc    -> gemm(N, T) of T1^T (l x m) and Xc^T (d x m): column-major l x d, which
//                       read row-major is P = Xc^T T1 (d x l), the layout of `out`.
//
// Determinism: ||Xc||_F^2 is summed in double by a fixed grid, each block into its own slot
// (in stream order across chunks), the slots then in index order; the accumulator is added to
// elementwise. Nothing depends on scheduling, only on the inputs and the chunk size.
#include <algorithm>
#include <cstdint>

#include "core/blas_lapack.cuh"
#include "core/centred_chunk.cuh"
#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "decomposition/primitives_cuda.cuh"

namespace gpulearn::detail {

namespace {

// A fixed grid for the squared norm, whatever the chunk's size, so that the partition of the
// sum (and so its rounding) is the same for every chunk shape.
constexpr int kNormBlocks = 256;

// slots[b] += block b's share of sum_i xc[i]^2, squared and summed in double.
template <typename T>
__global__ void add_sq_norm_kernel(const T* xc, int64_t count, double* slots) {
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const double v = static_cast<double>(xc[i]);
    acc += v * v;
  }
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) slots[blockIdx.x] += acc;
}

// *out = the sum of the slots, by one block (a fixed order).
__global__ void sum_slots_kernel(const double* slots, int64_t count, double* out) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += slots[i];
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) *out = acc;
}

template <typename T>
__global__ void accumulate_kernel(double* acc, const T* p, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    acc[i] += static_cast<double>(p[i]);
  }
}

template <typename T>
double centered_products_impl(CudaBackend& be, MatrixView<const T> X, const T* mean, T scale,
                              int64_t l, const T* Z, const T* Y, double* out) {
  const int64_t n = X.rows, d = X.cols;
  GPULEARN_EXPECTS(l >= 0, "centered_products: l must be non-negative, got ", l);
  GPULEARN_EXPECTS(l == 0 || Z != nullptr || Y != nullptr,
                   "centered_products: Z or Y is needed when l > 0");
  const int64_t dl = checked_mul(d, l);
  if (n == 0) {
    std::fill(out, out + dl, 0.0);
    return 0.0;
  }
  cudaStream_t stream = be.stream();
  const bool z_form = Z != nullptr && l > 0;
  const MatrixView<const T> Yv = !z_form && l > 0
                                     ? MatrixView<const T>(Y, n, l, l, MemorySpace::kHost)
                                     : MatrixView<const T>();
  // The fixed-size buffers first, so that the chunk size sees the memory they take.
  DeviceBuffer<T> means(d), zt(z_form ? dl : 0), P(dl);
  DeviceBuffer<double> acc(dl), slots(kNormBlocks + 1);  // the last slot: the total

  // Per row: the centred copy Xc, T1 = Xc Z (Z form; the Y form multiplies Y's staged rows),
  // and the staging copies of host data.
  int64_t per_row = checked_mul(checked_add(d, z_form ? l : 0), int64_t{sizeof(T)});
  per_row = checked_add(per_row, staging_bytes_per_row<T>({X, Yv}));
  const int64_t chunk = be.chunk_rows(n, per_row);

  struct Scratch {
    T *xc, *t1;
    FitInputs<T> in;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.xc = c.take<T>(checked_mul(chunk, d));
    s.t1 = c.take<T>(z_form ? checked_mul(chunk, l) : 0);
    s.in = FitInputs<T>{X, Yv, MatrixView<const T>()};
    s.in.carve(c, chunk);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  if (mean != nullptr) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(means.data(), mean, checked_bytes(d, sizeof(T)),
                                      cudaMemcpyHostToDevice, stream));
  } else {
    // x - 0 is x exactly, so one kernel serves both cases.
    GPULEARN_CUDA_TRY(cudaMemsetAsync(means.data(), 0, checked_bytes(d, sizeof(T)), stream));
  }
  if (z_form) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(zt.data(), Z, checked_bytes(dl, sizeof(T)),
                                      cudaMemcpyHostToDevice, stream));
  }
  GPULEARN_CUDA_TRY(cudaMemsetAsync(acc.data(), 0, checked_bytes(dl, sizeof(double)), stream));
  GPULEARN_CUDA_TRY(
      cudaMemsetAsync(slots.data(), 0, checked_bytes(kNormBlocks + 1, sizeof(double)), stream));

  const RowChunks<T> xr = s.in.x(stream), yr = s.in.y(stream);
  const auto acc_blocks = grid_for(dl);
  const T one = 1, zero = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    centre_scale_async<T, false>(xr.load(begin, m), m, d, means.data(), scale,
                                 DeviceRows<const T>{}, CentredDst<T>{s.xc, d, 0}, stream);
    // Blocks past the chunk's elements would only add zeros to their slots: launching just
    // those that hold elements keeps each element in the same block (and so the same sums, to
    // the bit), without the idle blocks (a chunk of one row launched 256 blocks).
    const int64_t count = checked_mul(m, d);
    GPULEARN_LAUNCH(grid_for(count, kNormBlocks), kBlockThreads, 0, stream, add_sq_norm_kernel<T>)
    (s.xc, count, slots.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    if (l == 0) continue;  // cuBLAS rejects leading dimensions of 0
    const T* t1 = s.t1;
    int64_t ld_t1 = l;
    if (z_form) {
      GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, l, m, d, &one,
                                        zt.data(), l, s.xc, d, &zero, s.t1, l));
    } else {
      const DeviceRows<const T> yc = yr.load(begin, m);
      t1 = yc.data;
      ld_t1 = yc.ld;
    }
    GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, l, d, m, &one, t1,
                                      ld_t1, s.xc, d, &zero, P.data(), l));
    GPULEARN_LAUNCH(acc_blocks, kBlockThreads, 0, stream, accumulate_kernel<T>)
    (acc.data(), P.data(), dl);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  GPULEARN_LAUNCH(1, kBlockThreads, 0, stream, sum_slots_kernel)
  (slots.data(), kNormBlocks, slots.data() + kNormBlocks);
  GPULEARN_CUDA_CHECK_LAUNCH();
  double sq_norm = 0.0;
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(&sq_norm, slots.data() + kNormBlocks, sizeof(double),
                                    cudaMemcpyDeviceToHost, stream));
  if (dl > 0) {
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(out, acc.data(), checked_bytes(dl, sizeof(double)),
                                      cudaMemcpyDeviceToHost, stream));
  }
  be.sync_stream();
  return sq_norm;
}

}  // namespace

template <typename T>
double centered_products_cuda(CudaBackend& be, MatrixView<const T> X, const T* mean, T scale,
                              int64_t l, const T* Z, const T* Y, double* out) {
  DeviceGuard guard(be.ordinal());
  return centered_products_impl(be, X, mean, scale, l, Z, Y, out);
}
#define GPULEARN_INSTANTIATE_PRODUCTS(T)                                                   \
  template double centered_products_cuda<T>(CudaBackend & be, MatrixView<const T> X,       \
                                            const T* mean, T scale, int64_t l, const T* Z, \
                                            const T* Y, double* out);
GPULEARN_INSTANTIATE_PRODUCTS(float)
GPULEARN_INSTANTIATE_PRODUCTS(double)
#undef GPULEARN_INSTANTIATE_PRODUCTS

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, DecompositionPrimitives, CudaDecompositionPrimitives)

}  // namespace gpulearn::detail
