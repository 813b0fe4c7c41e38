// The R factor of a QR decomposition of A = W^1/2 Xc, and Q^T W^1/2 Yc (Xc, Yc centred and
// scaled as for the Gram pass, see centred_chunk.cuh), folded in one row chunk at a time, all
// on the device:
//
//   M = [R; Xc_chunk] (column-major, leading dimension ldm)   N = [Z; Yc_chunk] (same rows)
//   geqrf(M) -> M = Q R';  ormqr: N <- Q^T N;  R <- upper triangle of M's top min(rows, d)
//   rows, Z <- N's top rows.
//
// Since R'^T R' = R^T R + Xc^T Xc and R'^T Z' = R^T Z + Xc^T Yc, the final (R, Z) reduce the
// least-squares problem on all of X exactly as one big QR would. R stays in place in M's top
// rows (its Householder vectors below the diagonal are zeroed) and the next chunk is written
// below it, so nothing is copied between folds.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include "core/blas_lapack.cuh"
#include "core/centred_chunk.cuh"
#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "core/solver_util.cuh"

namespace gpulearn::detail {

namespace {

// Zeroes the strictly lower part of the top r rows of the column-major r x d block (ld ldm):
// geqrf leaves Householder vectors there, which are not part of R.
template <typename T>
__global__ void zero_below_diagonal_kernel(T* m, int64_t ldm, int64_t r, int64_t d) {
  for (int64_t j = blockIdx.y; j < d; j += gridDim.y) {  // column
    for (int64_t i = j + 1 + blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < r;
         i += int64_t{gridDim.x} * blockDim.x) {
      m[j * ldm + i] = T(0);
    }
  }
}

// Keeps the first non-zero devInfo of a sequence of cuSOLVER calls, without a host round trip
// per call.
__global__ void keep_first_info_kernel(int* first, const int* info) {
  if (*first == 0) *first = *info;
}

void keep_first_info_async(int* first, const int* info, cudaStream_t stream) {
  GPULEARN_LAUNCH(1, 1, 0, stream, keep_first_info_kernel)(first, info);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
int64_t centered_r_factor_impl(CudaBackend& be, MatrixView<const T> X, MatrixView<const T> Y,
                               VectorView<const T> w, const T* x_mean, const T* y_mean, T x_scale,
                               T y_scale, T* r_factor, T* qty) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  const int64_t r_max = std::min(n, d);
  if (r_max == 0) return 0;
  cudaStream_t stream = be.stream();
  cusolverDnHandle_t solver = be.cusolver();
  const MatrixView<const T> W = weight_column(w);
  DeviceBuffer<T> means(checked_add(d, k));
  DeviceBuffer<int> info(3);  // geqrf's, ormqr's, and the first non-zero of them

  // Per row of chunk: its rows of M and N, plus the staging copies of host data.
  int64_t per_row = checked_mul(checked_add(d, k), int64_t{sizeof(T)});
  per_row = checked_add(per_row, staging_bytes_per_row<T>({X, Y, W}));
  // At least min(n, d) rows per chunk: each fold re-factors R (up to d rows), so smaller chunks
  // would spend most of the time on R.
  int64_t chunk = be.chunk_rows(n, per_row, std::min(n, d));
  // cuSOLVER's dense routines take 32-bit sizes: M and N (ldm rows) must stay addressable.
  const int64_t max_ld = INT_MAX / std::max(d, k);
  if (max_ld <= r_max) {
    GPULEARN_FAIL(Unsupported, "problem too large for the CUDA QR solver: ", d, " features and ", k,
                  " targets exceed cuSOLVER's 32-bit sizes; use the CPU or the Gram solver");
  }
  chunk = std::min(chunk, max_ld - r_max);
  const int64_t ldm = r_max + chunk;
  const int ldm_i = to_int(ldm, "rows of the stacked QR block");
  const int d_i = to_int(d, "features"), k_i = to_int(k, "targets");

  struct Scratch {
    T *m, *z, *tau;
    FitInputs<T> in;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.m = c.take<T>(checked_mul(ldm, d));
    s.z = c.take<T>(checked_mul(ldm, k));
    s.tau = c.take<T>(std::min(ldm, d));
    s.in = FitInputs<T>{X, Y, W};
    s.in.carve(c, chunk);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  upload_means_async(means.data(), x_mean, d, y_mean, k, stream);
  GPULEARN_CUDA_TRY(cudaMemsetAsync(info.data(), 0, 3 * sizeof(int), stream));

  const RowChunks<T> xr = s.in.x(stream), yr = s.in.y(stream), wr = s.in.w(stream);
  int64_t r = 0;  // rows of R so far: min(rows seen, d)
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    const DeviceRows<const T> wc = wr.load(begin, m);
    // The chunk goes below R (rows r .. r + m of M) and below Z.
    centre_scale_async<T, true>(xr.load(begin, m), m, d, means.data(), x_scale, wc,
                                CentredDst<T>{s.m, ldm, r}, stream);
    centre_scale_async<T, true>(yr.load(begin, m), m, k, means.data() + d, y_scale, wc,
                                CentredDst<T>{s.z, ldm, r}, stream);
    const int rows = static_cast<int>(r + m);  // <= ldm, checked above
    const int reflectors = std::min(rows, d_i);

    int lwork_qr = 0, lwork_apply = 0;
    GPULEARN_CUSOLVER_TRY(Solver<T>::geqrf_buffer_size(solver, rows, d_i, s.m, ldm_i, &lwork_qr));
    // With no targets (an X-only pass) there is nothing to apply Q^T to.
    if (k > 0) {
      GPULEARN_CUSOLVER_TRY(Solver<T>::ormqr_buffer_size(solver, CUBLAS_SIDE_LEFT, CUBLAS_OP_T,
                                                         rows, k_i, reflectors, s.m, ldm_i, s.tau,
                                                         s.z, ldm_i, &lwork_apply));
    }
    const int lwork = std::max(lwork_qr, lwork_apply);
    T* work = solver_work<T>(be, lwork);
    GPULEARN_CUSOLVER_TRY(
        Solver<T>::geqrf(solver, rows, d_i, s.m, ldm_i, s.tau, work, lwork, info.data()));
    keep_first_info_async(info.data() + 2, info.data(), stream);
    if (k > 0) {
      GPULEARN_CUSOLVER_TRY(Solver<T>::ormqr(solver, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, rows, k_i,
                                             reflectors, s.m, ldm_i, s.tau, s.z, ldm_i, work, lwork,
                                             info.data() + 1));
      keep_first_info_async(info.data() + 2, info.data() + 1, stream);
    }
    r = reflectors;
    // After ormqr (which reads the Householder vectors), so queued after it on the stream.
    const dim3 grid(static_cast<unsigned>(std::clamp<int64_t>(ceil_div(r, kBlockThreads), 1, 64)),
                    static_cast<unsigned>(std::clamp<int64_t>(d, 1, kMaxGridY)));
    GPULEARN_LAUNCH(grid, kBlockThreads, 0, stream, zero_below_diagonal_kernel<T>)(s.m, ldm, r, d);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  GPULEARN_ASSERT(r == r_max);
  read_info(be, info.data() + 2, "geqrf/ormqr");

  // Top r rows of M and N, column-major with leading dimension ldm, to the caller's row-major
  // r x d and r x k: copy the r x d (r x k) column-major blocks out contiguously, transpose on
  // the host.
  std::vector<T> rc(checked_mul(r, d)), zc(checked_mul(r, k));
  copy_rows_async(rc.data(), r, s.m, ldm, d, r, cudaMemcpyDeviceToHost, stream);
  copy_rows_async(zc.data(), r, s.z, ldm, k, r, cudaMemcpyDeviceToHost, stream);
  be.sync_stream();
  transpose_host(rc.data(), d, r, r, r_factor);
  transpose_host(zc.data(), k, r, r, qty);
  return r;
}

}  // namespace

#define GPULEARN_CUDA_R_FACTOR(T)                                                                 \
  int64_t CudaBackend::centered_r_factor(MatrixView<const T> X, MatrixView<const T> Y,            \
                                         VectorView<const T> w, const T* x_mean, const T* y_mean, \
                                         T x_scale, T y_scale, T* r_factor, T* qty) {             \
    DeviceGuard guard(device_);                                                                   \
    return centered_r_factor_impl(*this, X, Y, w, x_mean, y_mean, x_scale, y_scale, r_factor,     \
                                  qty);                                                           \
  }
GPULEARN_CUDA_R_FACTOR(float)
GPULEARN_CUDA_R_FACTOR(double)
#undef GPULEARN_CUDA_R_FACTOR

}  // namespace gpulearn::detail
