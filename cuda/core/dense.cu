// Small dense factorisations (d x d, independent of n_samples) with cuSOLVER. The caller's
// arrays are row-major on the host; cuSOLVER is column-major. A row-major array read as
// column-major is the transpose, so symmetric inputs upload as they are and only the outputs
// (or a general matrix) need care.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/blas_lapack.cuh"
#include "core/cuda_backend.cuh"
#include "core/solver_util.cuh"

namespace gpulearn::detail {

namespace {

template <typename T>
void upload(CudaBackend& be, T* dst, const T* src, int64_t count) {
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(dst, src, checked_bytes(count, sizeof(T)),
                                    cudaMemcpyHostToDevice, be.stream()));
}

template <typename T>
void download(CudaBackend& be, T* dst, const T* src, int64_t count) {
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(dst, src, checked_bytes(count, sizeof(T)),
                                    cudaMemcpyDeviceToHost, be.stream()));
}

template <typename T>
void symmetric_eigh_impl(CudaBackend& be, int64_t n, T* a, T* w, bool vectors) {
  if (n == 0) return;
  const int ni = to_int(n, "n");
  to_int(checked_mul(n, n), "n * n");
  DeviceBuffer<T> A(n * n), W(n);
  DeviceBuffer<int> info(1);
  upload(be, A.data(), a, n * n);  // symmetric: row-major and column-major agree
  const auto jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  const auto uplo = CUBLAS_FILL_MODE_LOWER;
  int lwork = 0;
  GPULEARN_CUSOLVER_TRY(
      Solver<T>::syevd_buffer_size(be.cusolver(), jobz, uplo, ni, A.data(), ni, W.data(), &lwork));
  T* work = solver_work<T>(be, lwork);
  GPULEARN_CUSOLVER_TRY(Solver<T>::syevd(be.cusolver(), jobz, uplo, ni, A.data(), ni, W.data(),
                                         work, lwork, info.data()));
  if (read_info(be, info.data(), "syevd") > 0) {
    GPULEARN_FAIL(Error, "symmetric eigendecomposition did not converge (n = ", n, ")");
  }
  // Column j of the column-major result is eigenvector j; the caller wants a[i*n + j] = entry i
  // of eigenvector j, i.e. the same matrix row-major: download, then transpose in place.
  download(be, w, W.data(), n);  // ascending, as syevd returns them
  if (vectors) download(be, a, A.data(), n * n);
  be.sync_stream();
  if (!vectors) return;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) std::swap(a[i * n + j], a[j * n + i]);
  }
}

template <typename T>
bool cholesky_solve_impl(CudaBackend& be, int64_t n, T* a, int64_t k, T* b) {
  if (n == 0) return true;
  const int ni = to_int(n, "n");
  to_int(checked_mul(n, n), "n * n");
  DeviceBuffer<T> A(n * n);
  DeviceBuffer<int> info(1);
  upload(be, A.data(), a, n * n);  // symmetric: no transpose
  const auto uplo = CUBLAS_FILL_MODE_LOWER;
  int lwork = 0;
  GPULEARN_CUSOLVER_TRY(
      Solver<T>::potrf_buffer_size(be.cusolver(), uplo, ni, A.data(), ni, &lwork));
  T* work = solver_work<T>(be, lwork);
  GPULEARN_CUSOLVER_TRY(
      Solver<T>::potrf(be.cusolver(), uplo, ni, A.data(), ni, work, lwork, info.data()));
  if (read_info(be, info.data(), "potrf") > 0) return false;  // a leading minor is not PD
  // The contract: a becomes the row-major factor L (lower triangle), which the driver reads to
  // estimate the condition number. potrf left L in the column-major lower triangle, i.e. the
  // row-major upper one: transpose on the way back.
  std::vector<T> factor(checked_mul(n, n));
  download(be, factor.data(), A.data(), n * n);
  be.sync_stream();
  transpose_host(factor.data(), n, n, n, a);
  // A zero or non-finite pivot is a failure too, as on the CPU backend (potrf only reports a
  // non-positive one).
  for (int64_t i = 0; i < n; ++i) {
    if (!(a[i * n + i] > T(0)) || !std::isfinite(a[i * n + i])) return false;
  }
  if (k == 0) return true;
  // b is row-major n x k; potrs wants column-major n x k.
  const int ki = to_int(k, "number of right-hand sides");
  to_int(checked_mul(n, k), "n * k");
  std::vector<T> bt(checked_mul(n, k));
  transpose_host(b, n, k, k, bt.data());
  DeviceBuffer<T> B(n * k);
  upload(be, B.data(), bt.data(), n * k);
  GPULEARN_CUSOLVER_TRY(
      Solver<T>::potrs(be.cusolver(), uplo, ni, ki, A.data(), ni, B.data(), ni, info.data()));
  download(be, bt.data(), B.data(), n * k);
  read_info(be, info.data(), "potrs");  // synchronises, so bt is complete
  transpose_host(bt.data(), k, n, n, b);
  for (int64_t i = 0; i < n * k; ++i) {
    if (!std::isfinite(b[i])) return false;
  }
  return true;
}

// gesvd needs rows >= cols (column-major). The row-major m x n array a, read as column-major,
// is a^T (n x m):
// - m <= n: factor a^T = U' S V'^T directly (n >= m). Then a = V' S U'^T: u = V', vt = U'^T.
//   V' row-major is exactly VT' (= V'^T) column-major, and U'^T row-major is exactly U'
//   column-major, so both download without a transpose.
// - m > n: transpose a on the host into column-major a (m x n), factor a = U S VT, and
//   transpose U (m x n) and VT (n x n) back to row-major.
template <typename T>
void svd_impl(CudaBackend& be, int64_t m, int64_t n, const T* a, T* u, T* s, T* vt) {
  const int64_t p = std::min(m, n);
  if (p == 0) return;
  const bool wide = m <= n;
  const int64_t rows = wide ? n : m, cols = wide ? m : n;  // of the column-major problem
  const int ri = to_int(rows, "rows"), ci = to_int(cols, "columns");
  to_int(checked_mul(rows, cols), "rows * columns");
  DeviceBuffer<T> A(rows * cols), S(cols), U(rows * cols), VT(cols * cols), rwork(cols);
  DeviceBuffer<int> info(1);
  std::vector<T> host;
  if (wide) {
    upload(be, A.data(), a, rows * cols);
  } else {
    host.resize(rows * cols);
    transpose_host(a, m, n, n, host.data());
    upload(be, A.data(), host.data(), rows * cols);
  }
  int lwork = 0;
  GPULEARN_CUSOLVER_TRY(Solver<T>::gesvd_buffer_size(be.cusolver(), ri, ci, &lwork));
  T* work = solver_work<T>(be, lwork);
  // 'S': the thin factors, U rows x cols and VT cols x cols.
  GPULEARN_CUSOLVER_TRY(Solver<T>::gesvd(be.cusolver(), 'S', 'S', ri, ci, A.data(), ri, S.data(),
                                         U.data(), ri, VT.data(), ci, work, lwork, rwork.data(),
                                         info.data()));
  if (read_info(be, info.data(), "gesvd") > 0) {
    GPULEARN_FAIL(Error, "SVD did not converge (", m, " x ", n, ")");
  }
  download(be, s, S.data(), p);  // descending
  if (wide) {
    download(be, u, VT.data(), m * m);
    download(be, vt, U.data(), m * n);
    be.sync_stream();
    return;
  }
  std::vector<T> hu(m * n), hvt(n * n);
  download(be, hu.data(), U.data(), m * n);
  download(be, hvt.data(), VT.data(), n * n);
  be.sync_stream();
  transpose_host(hu.data(), n, m, m, u);    // column-major m x n -> row-major m x n
  transpose_host(hvt.data(), n, n, n, vt);  // column-major n x n -> row-major n x n
}

}  // namespace

#define GPULEARN_CUDA_DENSE(T)                                                 \
  void CudaBackend::symmetric_eigh(int64_t n, T* a, T* w, bool vectors) {      \
    DeviceGuard guard(device_);                                                \
    symmetric_eigh_impl(*this, n, a, w, vectors);                              \
  }                                                                            \
  bool CudaBackend::cholesky_solve(int64_t n, T* a, int64_t k, T* b) {         \
    DeviceGuard guard(device_);                                                \
    return cholesky_solve_impl(*this, n, a, k, b);                             \
  }                                                                            \
  void CudaBackend::svd(int64_t m, int64_t n, const T* a, T* u, T* s, T* vt) { \
    DeviceGuard guard(device_);                                                \
    svd_impl(*this, m, n, a, u, s, vt);                                        \
  }
GPULEARN_CUDA_DENSE(float)
GPULEARN_CUDA_DENSE(double)
#undef GPULEARN_CUDA_DENSE

}  // namespace gpulearn::detail
