// Stand-in for CUDA's cublas_api.h when cuda/ is compiled for the CUDA emulator: the cuBLAS
// types and constants (with the real numeric values) and the routines gpulearn calls, with
// cuBLAS's documented semantics, over the host's reference BLAS (emulator/src/cublas.cpp).
//
// As in cuBLAS: matrices are column-major; arguments that cuBLAS rejects return its status at
// call time; the computation is queued on the handle's stream and runs when the host
// synchronises with it; host-mode scalars are read at call time, device-mode scalars when the
// work runs; CUBLAS_TF32_TENSOR_OP_MATH (and the deprecated CUBLAS_TENSOR_OP_MATH, which
// cuBLAS documents as CUBLAS_COMPUTE_32F_FAST_16F for float GEMMs) round float inputs as the
// tensor cores do. A matrix that is not memory the device can access faults when the work runs,
// as a kernel dereferencing it would.
#pragma once

#include <cstdint>

#include "gpulearn_emu/runtime_api.hpp"

#define CUBLAS_VER_MAJOR 13
#define CUBLAS_VER_MINOR 0
#define CUBLAS_VER_PATCH 0
#define CUBLAS_VERSION (CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH)

struct cublasContext;
typedef struct cublasContext* cublasHandle_t;

typedef enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16,
} cublasStatus_t;

typedef enum {
  CUBLAS_OP_N = 0,
  CUBLAS_OP_T = 1,
  CUBLAS_OP_C = 2,  // conjugate transpose: the same as CUBLAS_OP_T for real types
  CUBLAS_OP_HERMITAN = 2,
} cublasOperation_t;

typedef enum {
  CUBLAS_FILL_MODE_LOWER = 0,
  CUBLAS_FILL_MODE_UPPER = 1,
  CUBLAS_FILL_MODE_FULL = 2,
} cublasFillMode_t;

typedef enum {
  CUBLAS_DIAG_NON_UNIT = 0,
  CUBLAS_DIAG_UNIT = 1,
} cublasDiagType_t;

typedef enum {
  CUBLAS_SIDE_LEFT = 0,
  CUBLAS_SIDE_RIGHT = 1,
} cublasSideMode_t;

typedef enum {
  CUBLAS_POINTER_MODE_HOST = 0,
  CUBLAS_POINTER_MODE_DEVICE = 1,
} cublasPointerMode_t;

typedef enum {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,  // deprecated: float GEMMs compute as CUBLAS_COMPUTE_32F_FAST_16F
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
  // A flag, or-ed with one of the above; it concerns reduced-precision outputs only.
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,
} cublasMath_t;

// ---- Helpers ----------------------------------------------------------------------------------
GPULEARN_EMU_API cublasStatus_t cublasCreate(cublasHandle_t* handle);
/// As in cuBLAS, implicitly synchronises the device (cudaDeviceSynchronize).
GPULEARN_EMU_API cublasStatus_t cublasDestroy(cublasHandle_t handle);
GPULEARN_EMU_API cublasStatus_t cublasGetVersion(cublasHandle_t handle, int* version);
GPULEARN_EMU_API cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
GPULEARN_EMU_API cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream);
GPULEARN_EMU_API cublasStatus_t cublasSetPointerMode(cublasHandle_t handle,
                                                     cublasPointerMode_t mode);
GPULEARN_EMU_API cublasStatus_t cublasGetPointerMode(cublasHandle_t handle,
                                                     cublasPointerMode_t* mode);
GPULEARN_EMU_API cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
GPULEARN_EMU_API cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode);
GPULEARN_EMU_API const char* cublasGetStatusName(cublasStatus_t status);
GPULEARN_EMU_API const char* cublasGetStatusString(cublasStatus_t status);

// ---- Level 3 ----------------------------------------------------------------------------------
// C = alpha op(A) op(B) + beta C; op(A) is m x k, op(B) k x n, C m x n.
GPULEARN_EMU_API cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int m, int n, int k,
                                            const float* alpha, const float* A, int lda,
                                            const float* B, int ldb, const float* beta, float* C,
                                            int ldc);
GPULEARN_EMU_API cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int m, int n, int k,
                                            const double* alpha, const double* A, int lda,
                                            const double* B, int ldb, const double* beta, double* C,
                                            int ldc);
GPULEARN_EMU_API cublasStatus_t cublasSgemm_64(cublasHandle_t handle, cublasOperation_t transa,
                                               cublasOperation_t transb, int64_t m, int64_t n,
                                               int64_t k, const float* alpha, const float* A,
                                               int64_t lda, const float* B, int64_t ldb,
                                               const float* beta, float* C, int64_t ldc);
GPULEARN_EMU_API cublasStatus_t cublasDgemm_64(cublasHandle_t handle, cublasOperation_t transa,
                                               cublasOperation_t transb, int64_t m, int64_t n,
                                               int64_t k, const double* alpha, const double* A,
                                               int64_t lda, const double* B, int64_t ldb,
                                               const double* beta, double* C, int64_t ldc);

// C = alpha op(A) op(A)^T + beta C on the uplo triangle of the n x n C; op(A) is n x k.
GPULEARN_EMU_API cublasStatus_t cublasSsyrk(cublasHandle_t handle, cublasFillMode_t uplo,
                                            cublasOperation_t trans, int n, int k,
                                            const float* alpha, const float* A, int lda,
                                            const float* beta, float* C, int ldc);
GPULEARN_EMU_API cublasStatus_t cublasDsyrk(cublasHandle_t handle, cublasFillMode_t uplo,
                                            cublasOperation_t trans, int n, int k,
                                            const double* alpha, const double* A, int lda,
                                            const double* beta, double* C, int ldc);
GPULEARN_EMU_API cublasStatus_t cublasSsyrk_64(cublasHandle_t handle, cublasFillMode_t uplo,
                                               cublasOperation_t trans, int64_t n, int64_t k,
                                               const float* alpha, const float* A, int64_t lda,
                                               const float* beta, float* C, int64_t ldc);
GPULEARN_EMU_API cublasStatus_t cublasDsyrk_64(cublasHandle_t handle, cublasFillMode_t uplo,
                                               cublasOperation_t trans, int64_t n, int64_t k,
                                               const double* alpha, const double* A, int64_t lda,
                                               const double* beta, double* C, int64_t ldc);
