// Stand-in for CUDA's cusolverDn.h when cuda/ is compiled for the CUDA emulator: the dense
// cuSOLVER routines gpulearn calls, with cuSOLVER's documented semantics, over the host's
// reference LAPACK (emulator/src/cusolver.cpp).
//
// As in cuSOLVER: matrices are column-major; work arrays and devInfo are device memory;
// arguments cuSOLVER rejects (n < 0, a leading dimension below the rows, gesvd with m < n, ...)
// return CUSOLVER_STATUS_INVALID_VALUE at call time; the computation is queued on the handle's
// stream and writes devInfo (0, or LAPACK's positive info) when the host synchronises.
// Emulator choices where cuSOLVER documents nothing precise:
// - the *_bufferSize queries return LAPACK's optimal workspace (at least 1 element), and a call
//   given a smaller lwork than the query returns for the same arguments is rejected with
//   CUSOLVER_STATUS_INVALID_VALUE at call time;
// - the routines compute in host scratch of their own and leave the caller's work array
//   poisoned (NaN), so that code reading it after the call sees garbage.
#pragma once

#include "cublas_api.h"  // cublasFillMode_t, cublasSideMode_t, cublasOperation_t
#include "cusolver_common.h"
#include "gpulearn_emu/runtime_api.hpp"

struct cusolverDnContext;
typedef struct cusolverDnContext* cusolverDnHandle_t;

GPULEARN_EMU_API cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle,
                                                      cudaStream_t stream);
GPULEARN_EMU_API cusolverStatus_t cusolverDnGetStream(cusolverDnHandle_t handle,
                                                      cudaStream_t* stream);

// ---- Cholesky: A = L L^T (uplo lower) or U^T U (upper); potrs solves with the factor ----------
GPULEARN_EMU_API cusolverStatus_t cusolverDnSpotrf_bufferSize(cusolverDnHandle_t handle,
                                                              cublasFillMode_t uplo, int n,
                                                              float* A, int lda, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDpotrf_bufferSize(cusolverDnHandle_t handle,
                                                              cublasFillMode_t uplo, int n,
                                                              double* A, int lda, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                                   int n, float* A, int lda, float* work, int lwork,
                                                   int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                                   int n, double* A, int lda, double* work,
                                                   int lwork, int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                                   int n, int nrhs, const float* A, int lda,
                                                   float* B, int ldb, int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                                   int n, int nrhs, const double* A, int lda,
                                                   double* B, int ldb, int* devInfo);

// ---- Symmetric eigenproblem: W ascending, eigenvectors into A's columns with VECTOR ----------
GPULEARN_EMU_API cusolverStatus_t cusolverDnSsyevd_bufferSize(cusolverDnHandle_t handle,
                                                              cusolverEigMode_t jobz,
                                                              cublasFillMode_t uplo, int n,
                                                              const float* A, int lda,
                                                              const float* W, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDsyevd_bufferSize(cusolverDnHandle_t handle,
                                                              cusolverEigMode_t jobz,
                                                              cublasFillMode_t uplo, int n,
                                                              const double* A, int lda,
                                                              const double* W, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSsyevd(cusolverDnHandle_t handle,
                                                   cusolverEigMode_t jobz, cublasFillMode_t uplo,
                                                   int n, float* A, int lda, float* W, float* work,
                                                   int lwork, int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDsyevd(cusolverDnHandle_t handle,
                                                   cusolverEigMode_t jobz, cublasFillMode_t uplo,
                                                   int n, double* A, int lda, double* W,
                                                   double* work, int lwork, int* devInfo);

// ---- QR: A = Q R (Householder reflectors below R, scalars in tau); ormqr applies op(Q) -------
GPULEARN_EMU_API cusolverStatus_t cusolverDnSgeqrf_bufferSize(cusolverDnHandle_t handle, int m,
                                                              int n, float* A, int lda, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDgeqrf_bufferSize(cusolverDnHandle_t handle, int m,
                                                              int n, double* A, int lda,
                                                              int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSgeqrf(cusolverDnHandle_t handle, int m, int n,
                                                   float* A, int lda, float* TAU, float* work,
                                                   int lwork, int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDgeqrf(cusolverDnHandle_t handle, int m, int n,
                                                   double* A, int lda, double* TAU, double* work,
                                                   int lwork, int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSormqr_bufferSize(
    cusolverDnHandle_t handle, cublasSideMode_t side, cublasOperation_t trans, int m, int n, int k,
    const float* A, int lda, const float* tau, const float* C, int ldc, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDormqr_bufferSize(
    cusolverDnHandle_t handle, cublasSideMode_t side, cublasOperation_t trans, int m, int n, int k,
    const double* A, int lda, const double* tau, const double* C, int ldc, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnSormqr(cusolverDnHandle_t handle, cublasSideMode_t side,
                                                   cublasOperation_t trans, int m, int n, int k,
                                                   const float* A, int lda, const float* tau,
                                                   float* C, int ldc, float* work, int lwork,
                                                   int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDormqr(cusolverDnHandle_t handle, cublasSideMode_t side,
                                                   cublasOperation_t trans, int m, int n, int k,
                                                   const double* A, int lda, const double* tau,
                                                   double* C, int ldc, double* work, int lwork,
                                                   int* devInfo);

// ---- SVD: A = U S VT, S descending; cuSOLVER supports m >= n only ----------------------------
GPULEARN_EMU_API cusolverStatus_t cusolverDnSgesvd_bufferSize(cusolverDnHandle_t handle, int m,
                                                              int n, int* lwork);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDgesvd_bufferSize(cusolverDnHandle_t handle, int m,
                                                              int n, int* lwork);
/// rwork (may be null): when devInfo > 0, its first min(m, n) - 1 entries receive the
/// unconverged superdiagonal of the bidiagonal form, as LAPACK documents; otherwise untouched.
GPULEARN_EMU_API cusolverStatus_t cusolverDnSgesvd(cusolverDnHandle_t handle, signed char jobu,
                                                   signed char jobvt, int m, int n, float* A,
                                                   int lda, float* S, float* U, int ldu, float* VT,
                                                   int ldvt, float* work, int lwork, float* rwork,
                                                   int* devInfo);
GPULEARN_EMU_API cusolverStatus_t cusolverDnDgesvd(cusolverDnHandle_t handle, signed char jobu,
                                                   signed char jobvt, int m, int n, double* A,
                                                   int lda, double* S, double* U, int ldu,
                                                   double* VT, int ldvt, double* work, int lwork,
                                                   double* rwork, int* devInfo);
