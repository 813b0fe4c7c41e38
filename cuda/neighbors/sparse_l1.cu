// sparse_l1: the Manhattan products of a sparse (CSR) index with one tile of dense queries,
// P[i][c] = |x_i - q_c|_1, as |q_c|_1 + the sum over x_i's entries of (|x_ij - q_cj| - |q_cj|),
// in O(nnz) per query rather than O(n d). One thread per output sums in double in the order of
// the row's entries from |q_c|_1, which the host sums over the columns in ascending order: the
// CPU backend's operations in its order, so the same bits, with no atomics. Threads c and c + 1
// of a row read adjacent entries of the tile (stored transposed, d x t), and write adjacent
// entries of P.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "neighbors/primitives_cuda.cuh"
#include "neighbors/search_source.cuh"

namespace gpulearn::detail {

namespace {

template <typename T>
__global__ void sparse_l1_kernel(const T* values, const int32_t* indices, const int64_t* indptr,
                                 int64_t n, const T* Bt, int64_t t, const double* q_l1, T* P,
                                 int64_t ldp) {
  const int64_t total = n * t;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / t, c = e - i * t;
    double acc = q_l1[c];
    for (int64_t p = indptr[i]; p < indptr[i + 1]; ++p) {
      const double v = values[p];
      const double q = Bt[static_cast<int64_t>(indices[p]) * t + c];
      acc += fabs(v - q) - fabs(q);
    }
    P[i * ldp + c] = static_cast<T>(acc > 0 ? acc : 0.0);
  }
}

}  // namespace

template <typename T>
void sparse_l1_cuda(CudaBackend& be, CsrView<T> index, const T* Bt, int64_t t, MatrixView<T> P) {
  DeviceGuard guard(be.ordinal());
  GPULEARN_EXPECTS(index.space == MemorySpace::kDevice,
                   "the CUDA backend's sparse neighbour tiles take the index in device memory (its "
                   "native space), got ",
                   to_string(index.space), " memory");
  const int64_t n = index.rows, d = index.cols;
  if (n == 0 || t == 0) return;
  GPULEARN_ASSERT(P.rows == n && P.cols == t && P.ld >= t);
  require_device_rows(MatrixView<const T>(P), "the tile's products");
  // |q_c|_1 as the CPU backend sums it: over the columns in ascending order.
  std::vector<double> q_l1(t, 0.0);
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t c = 0; c < t; ++c) q_l1[c] += std::abs(static_cast<double>(Bt[j * t + c]));
  }
  cudaStream_t stream = be.stream();
  struct Scratch {
    T* bt;
    double* q_l1;
  };
  const Scratch s = be.carve_chunk_workspace([&](Carver& c) {
    Scratch r;
    r.bt = c.take<T>(checked_mul(d, t));
    r.q_l1 = c.take<double>(t);
    return r;
  });
  upload_async(s.bt, Bt, d * t, stream);
  upload_async(s.q_l1, q_l1.data(), t, stream);
  GPULEARN_LAUNCH(grid_for(checked_mul(n, t)), kBlockThreads, 0, stream, sparse_l1_kernel<T>)
  (index.values, index.indices, index.indptr, n, static_cast<const T*>(s.bt), t,
   static_cast<const double*>(s.q_l1), P.data, P.ld);
  GPULEARN_CUDA_CHECK_LAUNCH();
  be.sync_stream();  // the host arrays uploaded above are the caller's
}
#define GPULEARN_INSTANTIATE_SPARSE_L1(T) \
  template void sparse_l1_cuda<T>(CudaBackend&, CsrView<T>, const T*, int64_t, MatrixView<T>);
GPULEARN_INSTANTIATE_SPARSE_L1(float)
GPULEARN_INSTANTIATE_SPARSE_L1(double)
#undef GPULEARN_INSTANTIATE_SPARSE_L1

}  // namespace gpulearn::detail
