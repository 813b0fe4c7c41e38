// cuBLAS and cuSOLVER by element type: Blas<T>::gemm, Solver<T>::geqrf, ... so that one
// template serves float and double. cuBLAS calls use the 64-bit (_64) interface; the cuSOLVER
// dense routines used here only have 32-bit dimensions, so their callers check with to_int().
#pragma once

#include <cublas_v2.h>
#include <cusolverDn.h>

#include <climits>
#include <cstdint>

#include "gpulearn/core/error.hpp"

namespace gpulearn::detail {

/// v as an int for a 32-bit library interface; Unsupported when it does not fit.
inline int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) {
    GPULEARN_FAIL(Unsupported, "problem too large for the CUDA backend: ", what, " = ", v,
                  " exceeds cuSOLVER's 32-bit limit (", INT_MAX, ")");
  }
  return static_cast<int>(v);
}

template <typename T>
struct Blas;

#define GPULEARN_BLAS(T, P)                                                                   \
  template <>                                                                                 \
  struct Blas<T> {                                                                            \
    static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,  \
                               int64_t m, int64_t n, int64_t k, const T* alpha, const T* A,   \
                               int64_t lda, const T* B, int64_t ldb, const T* beta, T* C,     \
                               int64_t ldc) {                                                 \
      return cublas##P##gemm_64(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);     \
    }                                                                                         \
    static cublasStatus_t syrk(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t t,  \
                               int64_t n, int64_t k, const T* alpha, const T* A, int64_t lda, \
                               const T* beta, T* C, int64_t ldc) {                            \
      return cublas##P##syrk_64(h, uplo, t, n, k, alpha, A, lda, beta, C, ldc);               \
    }                                                                                         \
  };
GPULEARN_BLAS(float, S)
GPULEARN_BLAS(double, D)
#undef GPULEARN_BLAS

template <typename T>
struct Solver;

#define GPULEARN_SOLVER(T, P)                                                                      \
  template <>                                                                                      \
  struct Solver<T> {                                                                               \
    static cusolverStatus_t potrf_buffer_size(cusolverDnHandle_t h, cublasFillMode_t uplo, int n,  \
                                              T* A, int lda, int* lwork) {                         \
      return cusolverDn##P##potrf_bufferSize(h, uplo, n, A, lda, lwork);                           \
    }                                                                                              \
    static cusolverStatus_t potrf(cusolverDnHandle_t h, cublasFillMode_t uplo, int n, T* A,        \
                                  int lda, T* work, int lwork, int* info) {                        \
      return cusolverDn##P##potrf(h, uplo, n, A, lda, work, lwork, info);                          \
    }                                                                                              \
    static cusolverStatus_t potrs(cusolverDnHandle_t h, cublasFillMode_t uplo, int n, int nrhs,    \
                                  const T* A, int lda, T* B, int ldb, int* info) {                 \
      return cusolverDn##P##potrs(h, uplo, n, nrhs, A, lda, B, ldb, info);                         \
    }                                                                                              \
    static cusolverStatus_t syevd_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,        \
                                              cublasFillMode_t uplo, int n, const T* A, int lda,   \
                                              const T* W, int* lwork) {                            \
      return cusolverDn##P##syevd_bufferSize(h, jobz, uplo, n, A, lda, W, lwork);                  \
    }                                                                                              \
    static cusolverStatus_t syevd(cusolverDnHandle_t h, cusolverEigMode_t jobz,                    \
                                  cublasFillMode_t uplo, int n, T* A, int lda, T* W, T* work,      \
                                  int lwork, int* info) {                                          \
      return cusolverDn##P##syevd(h, jobz, uplo, n, A, lda, W, work, lwork, info);                 \
    }                                                                                              \
    static cusolverStatus_t geqrf_buffer_size(cusolverDnHandle_t h, int m, int n, T* A, int lda,   \
                                              int* lwork) {                                        \
      return cusolverDn##P##geqrf_bufferSize(h, m, n, A, lda, lwork);                              \
    }                                                                                              \
    static cusolverStatus_t geqrf(cusolverDnHandle_t h, int m, int n, T* A, int lda, T* tau,       \
                                  T* work, int lwork, int* info) {                                 \
      return cusolverDn##P##geqrf(h, m, n, A, lda, tau, work, lwork, info);                        \
    }                                                                                              \
    static cusolverStatus_t ormqr_buffer_size(cusolverDnHandle_t h, cublasSideMode_t side,         \
                                              cublasOperation_t trans, int m, int n, int k,        \
                                              const T* A, int lda, const T* tau, const T* C,       \
                                              int ldc, int* lwork) {                               \
      return cusolverDn##P##ormqr_bufferSize(h, side, trans, m, n, k, A, lda, tau, C, ldc, lwork); \
    }                                                                                              \
    static cusolverStatus_t ormqr(cusolverDnHandle_t h, cublasSideMode_t side,                     \
                                  cublasOperation_t trans, int m, int n, int k, const T* A,        \
                                  int lda, const T* tau, T* C, int ldc, T* work, int lwork,        \
                                  int* info) {                                                     \
      return cusolverDn##P##ormqr(h, side, trans, m, n, k, A, lda, tau, C, ldc, work, lwork,       \
                                  info);                                                           \
    }                                                                                              \
    static cusolverStatus_t gesvd_buffer_size(cusolverDnHandle_t h, int m, int n, int* lwork) {    \
      return cusolverDn##P##gesvd_bufferSize(h, m, n, lwork);                                      \
    }                                                                                              \
    static cusolverStatus_t gesvd(cusolverDnHandle_t h, signed char jobu, signed char jobvt,       \
                                  int m, int n, T* A, int lda, T* S, T* U, int ldu, T* VT,         \
                                  int ldvt, T* work, int lwork, T* rwork, int* info) {             \
      return cusolverDn##P##gesvd(h, jobu, jobvt, m, n, A, lda, S, U, ldu, VT, ldvt, work, lwork,  \
                                  rwork, info);                                                    \
    }                                                                                              \
  };
GPULEARN_SOLVER(float, S)
GPULEARN_SOLVER(double, D)
#undef GPULEARN_SOLVER

}  // namespace gpulearn::detail
