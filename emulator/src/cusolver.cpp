// The emulator's dense cuSOLVER: potrf/potrs, syevd, geqrf/ormqr and gesvd over the host's
// reference LAPACK, with cuSOLVER's documented semantics (see emulator/include/cusolverDn.h):
// - column-major; the arguments cuSOLVER rejects return CUSOLVER_STATUS_INVALID_VALUE at call
//   time, validated as LAPACK validates them (plus cuSOLVER's own limits: gesvd needs m >= n);
//   a call with an lwork below what its *_bufferSize query returns is rejected the same way;
// - the work is queued on the handle's stream; when the host synchronises it computes, writes
//   devInfo (0, or LAPACK's positive info: a non-positive-definite leading minor, a
//   non-converged eigenvalue or singular value) and poisons the caller's work array: the
//   emulator computes in host scratch of its own, so the work array holds garbage afterwards;
// - a matrix, vector, work array or devInfo outside device (or pinned) memory faults with
//   cudaErrorIllegalAddress when the work runs, as the GPU's kernel would.
#include <cusolverDn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "linalg_common.hpp"

struct cusolverDnContext {
  cudaStream_t stream = nullptr;
};

namespace {

using gpulearn_emu::linalg::device_matrix;
using gpulearn_emu::linalg::device_vector;
using gpulearn_emu::linalg::Fortran;
using gpulearn_emu::linalg::max1;

gpulearn_emu::linalg::Handles<cusolverDnContext>& handles() {
  static auto* h = new gpulearn_emu::linalg::Handles<cusolverDnContext>();  // never destroyed
  return *h;
}

constexpr cusolverStatus_t kInvalid = CUSOLVER_STATUS_INVALID_VALUE;

char fill_char(cublasFillMode_t uplo) { return uplo == CUBLAS_FILL_MODE_LOWER ? 'L' : 'U'; }
bool valid_fill(cublasFillMode_t uplo) {
  return uplo == CUBLAS_FILL_MODE_LOWER || uplo == CUBLAS_FILL_MODE_UPPER;
}

/// LAPACK's workspace answer (work[0] of a query) as an element count: at least 1, rounded up;
/// a float answer above 2^24 may have been rounded down, so it gets one float ulp more.
template <typename T>
int lwork_from(T answer) {
  double v = std::ceil(static_cast<double>(answer));
  if (std::is_same_v<T, float> && v > 16777216.0) v = std::ceil(v * (1.0 + 1.0 / 8388608.0));
  return static_cast<int>(std::clamp(v, 1.0, static_cast<double>(INT_MAX)));
}

cusolverStatus_t queue(const cusolverDnContext* h, std::function<void()> work,
                       const char* routine) {
  return gpulearn_emu::enqueue(h->stream, std::move(work), routine) == cudaSuccess
             ? CUSOLVER_STATUS_SUCCESS
             : CUSOLVER_STATUS_EXECUTION_FAILED;
}

/// Inside queued work: the caller's work array and devInfo are device memory; false after a
/// fault.
template <typename T>
bool device_work(const char* routine, const T* work, int lwork, const int* dev_info) {
  return device_vector(routine, "work", work, lwork, sizeof(T)) &&
         device_vector(routine, "devInfo", dev_info, 1, sizeof(int));
}

/// Inside queued work, after the computation: the work array holds garbage, devInfo the result.
template <typename T>
void finish(T* work, int lwork, int* dev_info, int info) {
  gpulearn_emu::poison(work, static_cast<size_t>(std::max(lwork, 0)) * sizeof(T));
  *dev_info = info;
}

// ---- potrf / potrs ----------------------------------------------------------------------------
bool potrf_args_ok(cublasFillMode_t uplo, int n, int lda) {
  return valid_fill(uplo) && n >= 0 && lda >= max1(n);
}

/// LAPACK's potrf needs no workspace; the emulator asks for one column (n elements), at least
/// 1, so that a caller that sizes the array from the query is exercised like on hardware.
int potrf_lwork(int n) { return std::max(n, 1); }

template <typename T>
cusolverStatus_t potrf_buffer_size(cusolverDnHandle_t h, cublasFillMode_t uplo, int n, int lda,
                                   int* lwork) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!potrf_args_ok(uplo, n, lda) || lwork == nullptr) return kInvalid;
  *lwork = potrf_lwork(n);
  return CUSOLVER_STATUS_SUCCESS;
}

template <typename T>
cusolverStatus_t potrf(const char* routine, cusolverDnHandle_t h, cublasFillMode_t uplo, int n,
                       T* A, int lda, T* work, int lwork, int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!potrf_args_ok(uplo, n, lda) || dev_info == nullptr) return kInvalid;
  if (lwork < potrf_lwork(n)) return kInvalid;
  return queue(
      h,
      [=]() {
        if (!device_work(routine, work, lwork, dev_info) ||
            !device_matrix(routine, "A", A, n, n, lda, sizeof(T))) {
          return;
        }
        int info = 0;
        const char u = fill_char(uplo);
        if (n > 0) Fortran<T>::potrf(&u, &n, A, &lda, &info, 1);
        finish(work, lwork, dev_info, info);
      },
      routine);
}

template <typename T>
cusolverStatus_t potrs(const char* routine, cusolverDnHandle_t h, cublasFillMode_t uplo, int n,
                       int nrhs, const T* A, int lda, T* B, int ldb, int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!valid_fill(uplo) || n < 0 || nrhs < 0 || lda < max1(n) || ldb < max1(n) ||
      dev_info == nullptr) {
    return kInvalid;
  }
  return queue(
      h,
      [=]() {
        if (!device_vector(routine, "devInfo", dev_info, 1, sizeof(int)) ||
            !device_matrix(routine, "A", A, n, n, lda, sizeof(T)) ||
            !device_matrix(routine, "B", B, n, nrhs, ldb, sizeof(T))) {
          return;
        }
        int info = 0;
        const char u = fill_char(uplo);
        if (n > 0 && nrhs > 0) Fortran<T>::potrs(&u, &n, &nrhs, A, &lda, B, &ldb, &info, 1);
        *dev_info = info;
      },
      routine);
}

// ---- syevd ------------------------------------------------------------------------------------
bool syevd_args_ok(cusolverEigMode_t jobz, cublasFillMode_t uplo, int n, int lda) {
  return (jobz == CUSOLVER_EIG_MODE_NOVECTOR || jobz == CUSOLVER_EIG_MODE_VECTOR) &&
         valid_fill(uplo) && n >= 0 && lda >= max1(n);
}

/// LAPACK's optimal (work, iwork) sizes for syevd with these (validated) arguments.
template <typename T>
std::pair<int, int> syevd_query(cusolverEigMode_t jobz, cublasFillMode_t uplo, int n, int lda) {
  const char jz = jobz == CUSOLVER_EIG_MODE_VECTOR ? 'V' : 'N', u = fill_char(uplo);
  T dummy = 0, w = 0, work = 0;
  int iwork = 0, info = 0;
  const int query = -1;
  Fortran<T>::syevd(&jz, &u, &n, &dummy, &lda, &w, &work, &query, &iwork, &query, &info, 1, 1);
  return {lwork_from(work), std::max(iwork, 1)};
}

template <typename T>
cusolverStatus_t syevd_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                   cublasFillMode_t uplo, int n, int lda, int* lwork) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!syevd_args_ok(jobz, uplo, n, lda) || lwork == nullptr) return kInvalid;
  *lwork = syevd_query<T>(jobz, uplo, n, lda).first;
  return CUSOLVER_STATUS_SUCCESS;
}

template <typename T>
cusolverStatus_t syevd(const char* routine, cusolverDnHandle_t h, cusolverEigMode_t jobz,
                       cublasFillMode_t uplo, int n, T* A, int lda, T* W, T* work, int lwork,
                       int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!syevd_args_ok(jobz, uplo, n, lda) || dev_info == nullptr) return kInvalid;
  const auto [host_lwork, host_liwork] = syevd_query<T>(jobz, uplo, n, lda);
  if (lwork < host_lwork) return kInvalid;
  return queue(
      h,
      [=, hl = host_lwork, hli = host_liwork]() {
        if (!device_work(routine, work, lwork, dev_info) ||
            !device_matrix(routine, "A", A, n, n, lda, sizeof(T)) ||
            !device_vector(routine, "W", W, n, sizeof(T))) {
          return;
        }
        int info = 0;
        if (n > 0) {
          std::vector<T> scratch(static_cast<size_t>(hl));
          std::vector<int> iscratch(static_cast<size_t>(hli));
          const char jz = jobz == CUSOLVER_EIG_MODE_VECTOR ? 'V' : 'N', u = fill_char(uplo);
          Fortran<T>::syevd(&jz, &u, &n, A, &lda, W, scratch.data(), &hl, iscratch.data(), &hli,
                            &info, 1, 1);
        }
        finish(work, lwork, dev_info, info);
      },
      routine);
}

// ---- geqrf / ormqr ----------------------------------------------------------------------------
bool geqrf_args_ok(int m, int n, int lda) { return m >= 0 && n >= 0 && lda >= max1(m); }

template <typename T>
int geqrf_query(int m, int n, int lda) {
  T dummy = 0, work = 0;
  int info = 0;
  const int query = -1;
  Fortran<T>::geqrf(&m, &n, &dummy, &lda, &dummy, &work, &query, &info);
  return lwork_from(work);
}

template <typename T>
cusolverStatus_t geqrf_buffer_size(cusolverDnHandle_t h, int m, int n, int lda, int* lwork) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!geqrf_args_ok(m, n, lda) || lwork == nullptr) return kInvalid;
  *lwork = geqrf_query<T>(m, n, lda);
  return CUSOLVER_STATUS_SUCCESS;
}

template <typename T>
cusolverStatus_t geqrf(const char* routine, cusolverDnHandle_t h, int m, int n, T* A, int lda,
                       T* tau, T* work, int lwork, int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!geqrf_args_ok(m, n, lda) || dev_info == nullptr) return kInvalid;
  const int host_lwork = geqrf_query<T>(m, n, lda);
  if (lwork < host_lwork) return kInvalid;
  return queue(
      h,
      [=]() {
        if (!device_work(routine, work, lwork, dev_info) ||
            !device_matrix(routine, "A", A, m, n, lda, sizeof(T)) ||
            !device_vector(routine, "tau", tau, std::min(m, n), sizeof(T))) {
          return;
        }
        int info = 0;
        if (m > 0 && n > 0) {
          std::vector<T> scratch(static_cast<size_t>(host_lwork));
          Fortran<T>::geqrf(&m, &n, A, &lda, tau, scratch.data(), &host_lwork, &info);
        }
        finish(work, lwork, dev_info, info);
      },
      routine);
}

/// LAPACK's ormqr accepts N and T for real types (not C), as cuSOLVER documents N and T.
bool ormqr_args_ok(cublasSideMode_t side, cublasOperation_t trans, int m, int n, int k, int lda,
                   int ldc) {
  if (side != CUBLAS_SIDE_LEFT && side != CUBLAS_SIDE_RIGHT) return false;
  if (trans != CUBLAS_OP_N && trans != CUBLAS_OP_T) return false;
  const int nq = side == CUBLAS_SIDE_LEFT ? m : n;  // the order of Q
  return m >= 0 && n >= 0 && k >= 0 && k <= nq && lda >= max1(nq) && ldc >= max1(m);
}

template <typename T>
int ormqr_query(cublasSideMode_t side, cublasOperation_t trans, int m, int n, int k, int lda,
                int ldc) {
  const char s = side == CUBLAS_SIDE_LEFT ? 'L' : 'R', t = trans == CUBLAS_OP_N ? 'N' : 'T';
  T dummy = 0, work = 0;
  int info = 0;
  const int query = -1;
  Fortran<T>::ormqr(&s, &t, &m, &n, &k, &dummy, &lda, &dummy, &dummy, &ldc, &work, &query, &info, 1,
                    1);
  return lwork_from(work);
}

template <typename T>
cusolverStatus_t ormqr_buffer_size(cusolverDnHandle_t h, cublasSideMode_t side,
                                   cublasOperation_t trans, int m, int n, int k, int lda, int ldc,
                                   int* lwork) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!ormqr_args_ok(side, trans, m, n, k, lda, ldc) || lwork == nullptr) return kInvalid;
  *lwork = ormqr_query<T>(side, trans, m, n, k, lda, ldc);
  return CUSOLVER_STATUS_SUCCESS;
}

template <typename T>
cusolverStatus_t ormqr(const char* routine, cusolverDnHandle_t h, cublasSideMode_t side,
                       cublasOperation_t trans, int m, int n, int k, const T* A, int lda,
                       const T* tau, T* C, int ldc, T* work, int lwork, int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!ormqr_args_ok(side, trans, m, n, k, lda, ldc) || dev_info == nullptr) return kInvalid;
  const int host_lwork = ormqr_query<T>(side, trans, m, n, k, lda, ldc);
  if (lwork < host_lwork) return kInvalid;
  const int nq = side == CUBLAS_SIDE_LEFT ? m : n;
  return queue(
      h,
      [=]() {
        if (!device_work(routine, work, lwork, dev_info) ||
            !device_matrix(routine, "A", A, nq, k, lda, sizeof(T)) ||
            !device_vector(routine, "tau", tau, k, sizeof(T)) ||
            !device_matrix(routine, "C", C, m, n, ldc, sizeof(T))) {
          return;
        }
        int info = 0;
        if (m > 0 && n > 0 && k > 0) {
          std::vector<T> scratch(static_cast<size_t>(host_lwork));
          const char s = side == CUBLAS_SIDE_LEFT ? 'L' : 'R', t = trans == CUBLAS_OP_N ? 'N' : 'T';
          Fortran<T>::ormqr(&s, &t, &m, &n, &k, A, &lda, tau, C, &ldc, scratch.data(), &host_lwork,
                            &info, 1, 1);
        }
        finish(work, lwork, dev_info, info);
      },
      routine);
}

// ---- gesvd ------------------------------------------------------------------------------------
/// The job letter upper-cased ('A', 'S', 'O', 'N'), or 0 when it is none of them.
char svd_job(signed char c) {
  const char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : static_cast<char>(c);
  return (u == 'A' || u == 'S' || u == 'O' || u == 'N') ? u : 0;
}

template <typename T>
int gesvd_query(char ju, char jv, int m, int n, int lda, int ldu, int ldvt) {
  T dummy = 0, work = 0;
  int info = 0;
  const int query = -1;
  Fortran<T>::gesvd(&ju, &jv, &m, &n, &dummy, &lda, &dummy, &dummy, &ldu, &dummy, &ldvt, &work,
                    &query, &info, 1, 1);
  return lwork_from(work);
}

/// gesvd_bufferSize has no job arguments: the largest of LAPACK's answers over every job pair,
/// with the smallest valid leading dimensions.
template <typename T>
int gesvd_lwork(int m, int n) {
  int best = 1;
  for (const char ju : {'A', 'S', 'O', 'N'}) {
    for (const char jv : {'A', 'S', 'O', 'N'}) {
      if (ju == 'O' && jv == 'O') continue;
      best = std::max(best, gesvd_query<T>(ju, jv, m, n, max1(m), max1(m), max1(n)));
    }
  }
  return best;
}

template <typename T>
cusolverStatus_t gesvd_buffer_size(cusolverDnHandle_t h, int m, int n, int* lwork) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || lwork == nullptr) return kInvalid;
  *lwork = gesvd_lwork<T>(m, n);
  return CUSOLVER_STATUS_SUCCESS;
}

template <typename T>
cusolverStatus_t gesvd(const char* routine, cusolverDnHandle_t h, signed char jobu,
                       signed char jobvt, int m, int n, T* A, int lda, T* S, T* U, int ldu, T* VT,
                       int ldvt, T* work, int lwork, T* rwork, int* dev_info) {
  if (!handles().live(h)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  const char ju = svd_job(jobu), jv = svd_job(jobvt);
  if (ju == 0 || jv == 0 || (ju == 'O' && jv == 'O')) return kInvalid;
  // cuSOLVER's gesvd supports m >= n only.
  if (n < 0 || m < n || lda < max1(m) || dev_info == nullptr) return kInvalid;
  const int p = std::min(m, n);
  if (ldu < 1 || ((ju == 'A' || ju == 'S') && ldu < m)) return kInvalid;
  if (ldvt < 1 || (jv == 'A' && ldvt < n) || (jv == 'S' && ldvt < p)) return kInvalid;
  if (lwork < gesvd_lwork<T>(m, n)) return kInvalid;
  const int host_lwork = gesvd_query<T>(ju, jv, m, n, lda, ldu, ldvt);
  // The columns of U and rows of VT that the jobs write ('O' writes into A, 'N' nothing).
  const int u_cols = ju == 'A' ? m : (ju == 'S' ? p : 0);
  const int vt_rows = jv == 'A' ? n : (jv == 'S' ? p : 0);
  return queue(
      h,
      [=]() {
        if (!device_work(routine, work, lwork, dev_info) ||
            !device_matrix(routine, "A", A, m, n, lda, sizeof(T)) ||
            !device_vector(routine, "S", S, p, sizeof(T)) ||
            !device_matrix(routine, "U", U, m, u_cols, ldu, sizeof(T)) ||
            !device_matrix(routine, "VT", VT, vt_rows, n, ldvt, sizeof(T))) {
          return;
        }
        int info = 0;
        if (p > 0) {
          std::vector<T> scratch(static_cast<size_t>(host_lwork));
          // LAPACK never references U or VT for jobs O and N, but wants a valid address.
          T none = 0;
          Fortran<T>::gesvd(&ju, &jv, &m, &n, A, &lda, S, u_cols > 0 ? U : &none, &ldu,
                            vt_rows > 0 ? VT : &none, &ldvt, scratch.data(), &host_lwork, &info, 1,
                            1);
          // Not converged: LAPACK leaves the bidiagonal's unconverged superdiagonal in
          // work[1..p-1], which cuSOLVER reports in rwork.
          if (info > 0 && rwork != nullptr && p > 1) {
            if (!device_vector(routine, "rwork", rwork, p - 1, sizeof(T))) return;
            std::copy(scratch.begin() + 1, scratch.begin() + p, rwork);
          }
        }
        finish(work, lwork, dev_info, info);
      },
      routine);
}

}  // namespace

// ---- Handles ----------------------------------------------------------------------------------
cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle) {
  if (handle == nullptr) return kInvalid;
  auto* h = new cusolverDnContext();
  handles().add(h);
  *handle = h;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle) {
  // Queued work holds copies of what it needs, never the handle.
  if (!handles().remove(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle, cudaStream_t stream) {
  if (!handles().live(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnGetStream(cusolverDnHandle_t handle, cudaStream_t* stream) {
  if (!handles().live(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return kInvalid;
  *stream = handle->stream;
  return CUSOLVER_STATUS_SUCCESS;
}

// ---- Entry points -----------------------------------------------------------------------------
cusolverStatus_t cusolverDnSpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                             int n, float*, int lda, int* lwork) {
  return potrf_buffer_size<float>(handle, uplo, n, lda, lwork);
}
cusolverStatus_t cusolverDnDpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                             int n, double*, int lda, int* lwork) {
  return potrf_buffer_size<double>(handle, uplo, n, lda, lwork);
}
cusolverStatus_t cusolverDnSpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, float* A,
                                  int lda, float* work, int lwork, int* devInfo) {
  return potrf<float>("cusolverDnSpotrf", handle, uplo, n, A, lda, work, lwork, devInfo);
}
cusolverStatus_t cusolverDnDpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n,
                                  double* A, int lda, double* work, int lwork, int* devInfo) {
  return potrf<double>("cusolverDnDpotrf", handle, uplo, n, A, lda, work, lwork, devInfo);
}
cusolverStatus_t cusolverDnSpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, int nrhs,
                                  const float* A, int lda, float* B, int ldb, int* devInfo) {
  return potrs<float>("cusolverDnSpotrs", handle, uplo, n, nrhs, A, lda, B, ldb, devInfo);
}
cusolverStatus_t cusolverDnDpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, int nrhs,
                                  const double* A, int lda, double* B, int ldb, int* devInfo) {
  return potrs<double>("cusolverDnDpotrs", handle, uplo, n, nrhs, A, lda, B, ldb, devInfo);
}

cusolverStatus_t cusolverDnSsyevd_bufferSize(cusolverDnHandle_t handle, cusolverEigMode_t jobz,
                                             cublasFillMode_t uplo, int n, const float*, int lda,
                                             const float*, int* lwork) {
  return syevd_buffer_size<float>(handle, jobz, uplo, n, lda, lwork);
}
cusolverStatus_t cusolverDnDsyevd_bufferSize(cusolverDnHandle_t handle, cusolverEigMode_t jobz,
                                             cublasFillMode_t uplo, int n, const double*, int lda,
                                             const double*, int* lwork) {
  return syevd_buffer_size<double>(handle, jobz, uplo, n, lda, lwork);
}
cusolverStatus_t cusolverDnSsyevd(cusolverDnHandle_t handle, cusolverEigMode_t jobz,
                                  cublasFillMode_t uplo, int n, float* A, int lda, float* W,
                                  float* work, int lwork, int* devInfo) {
  return syevd<float>("cusolverDnSsyevd", handle, jobz, uplo, n, A, lda, W, work, lwork, devInfo);
}
cusolverStatus_t cusolverDnDsyevd(cusolverDnHandle_t handle, cusolverEigMode_t jobz,
                                  cublasFillMode_t uplo, int n, double* A, int lda, double* W,
                                  double* work, int lwork, int* devInfo) {
  return syevd<double>("cusolverDnDsyevd", handle, jobz, uplo, n, A, lda, W, work, lwork, devInfo);
}

cusolverStatus_t cusolverDnSgeqrf_bufferSize(cusolverDnHandle_t handle, int m, int n, float*,
                                             int lda, int* lwork) {
  return geqrf_buffer_size<float>(handle, m, n, lda, lwork);
}
cusolverStatus_t cusolverDnDgeqrf_bufferSize(cusolverDnHandle_t handle, int m, int n, double*,
                                             int lda, int* lwork) {
  return geqrf_buffer_size<double>(handle, m, n, lda, lwork);
}
cusolverStatus_t cusolverDnSgeqrf(cusolverDnHandle_t handle, int m, int n, float* A, int lda,
                                  float* TAU, float* work, int lwork, int* devInfo) {
  return geqrf<float>("cusolverDnSgeqrf", handle, m, n, A, lda, TAU, work, lwork, devInfo);
}
cusolverStatus_t cusolverDnDgeqrf(cusolverDnHandle_t handle, int m, int n, double* A, int lda,
                                  double* TAU, double* work, int lwork, int* devInfo) {
  return geqrf<double>("cusolverDnDgeqrf", handle, m, n, A, lda, TAU, work, lwork, devInfo);
}

cusolverStatus_t cusolverDnSormqr_bufferSize(cusolverDnHandle_t handle, cublasSideMode_t side,
                                             cublasOperation_t trans, int m, int n, int k,
                                             const float*, int lda, const float*, const float*,
                                             int ldc, int* lwork) {
  return ormqr_buffer_size<float>(handle, side, trans, m, n, k, lda, ldc, lwork);
}
cusolverStatus_t cusolverDnDormqr_bufferSize(cusolverDnHandle_t handle, cublasSideMode_t side,
                                             cublasOperation_t trans, int m, int n, int k,
                                             const double*, int lda, const double*, const double*,
                                             int ldc, int* lwork) {
  return ormqr_buffer_size<double>(handle, side, trans, m, n, k, lda, ldc, lwork);
}
cusolverStatus_t cusolverDnSormqr(cusolverDnHandle_t handle, cublasSideMode_t side,
                                  cublasOperation_t trans, int m, int n, int k, const float* A,
                                  int lda, const float* tau, float* C, int ldc, float* work,
                                  int lwork, int* devInfo) {
  return ormqr<float>("cusolverDnSormqr", handle, side, trans, m, n, k, A, lda, tau, C, ldc, work,
                      lwork, devInfo);
}
cusolverStatus_t cusolverDnDormqr(cusolverDnHandle_t handle, cublasSideMode_t side,
                                  cublasOperation_t trans, int m, int n, int k, const double* A,
                                  int lda, const double* tau, double* C, int ldc, double* work,
                                  int lwork, int* devInfo) {
  return ormqr<double>("cusolverDnDormqr", handle, side, trans, m, n, k, A, lda, tau, C, ldc, work,
                       lwork, devInfo);
}

cusolverStatus_t cusolverDnSgesvd_bufferSize(cusolverDnHandle_t handle, int m, int n, int* lwork) {
  return gesvd_buffer_size<float>(handle, m, n, lwork);
}
cusolverStatus_t cusolverDnDgesvd_bufferSize(cusolverDnHandle_t handle, int m, int n, int* lwork) {
  return gesvd_buffer_size<double>(handle, m, n, lwork);
}
cusolverStatus_t cusolverDnSgesvd(cusolverDnHandle_t handle, signed char jobu, signed char jobvt,
                                  int m, int n, float* A, int lda, float* S, float* U, int ldu,
                                  float* VT, int ldvt, float* work, int lwork, float* rwork,
                                  int* devInfo) {
  return gesvd<float>("cusolverDnSgesvd", handle, jobu, jobvt, m, n, A, lda, S, U, ldu, VT, ldvt,
                      work, lwork, rwork, devInfo);
}
cusolverStatus_t cusolverDnDgesvd(cusolverDnHandle_t handle, signed char jobu, signed char jobvt,
                                  int m, int n, double* A, int lda, double* S, double* U, int ldu,
                                  double* VT, int ldvt, double* work, int lwork, double* rwork,
                                  int* devInfo) {
  return gesvd<double>("cusolverDnDgesvd", handle, jobu, jobvt, m, n, A, lda, S, U, ldu, VT, ldvt,
                       work, lwork, rwork, devInfo);
}
