// Stand-in for CUDA's cusparse.h when cuda/ is compiled for the CUDA emulator: the subset of
// cuSPARSE's generic API that gpulearn calls (a handle with its stream; CSR and dense-matrix
// descriptors; SpMM with its buffer-size query), with the real numeric values of the types and
// constants and cuSPARSE's documented semantics (emulator/src/cusparse.cpp):
// - C = alpha op(A) op(B) + beta C for a CSR A (32- or 64-bit offsets and column indices, index
//   base zero or one) and dense B and C (row- or column-major, with their leading dimensions);
//   uniform precision only (A, B, C and the compute type all CUDA_R_32F or all CUDA_R_64F),
//   summed in the compute type, each output in the order of A's stored entries;
// - arguments cuSPARSE rejects (sizes that do not match, a leading dimension below the rows of
//   a column-major or the columns of a row-major matrix, mixed value types, null descriptors)
//   return CUSPARSE_STATUS_INVALID_VALUE at call time; an unknown algorithm or an operation on
//   B other than NON_TRANSPOSE returns CUSPARSE_STATUS_NOT_SUPPORTED (an emulator limit);
// - alpha and beta are host pointers (the default CUSPARSE_POINTER_MODE_HOST, read at call
//   time); with beta == 0, C is not read (it may hold NaN);
// - the computation is queued on the handle's stream and runs when the host synchronises.
// Emulator checks where a GPU would read garbage or fault: every array (offsets, column indices,
// values, B, C, the external buffer) must lie in device (or pinned) memory; csrRowOffsets[0]
// must equal the index base and csrRowOffsets[rows] - base must equal nnz (cuSPARSE assumes
// both: a view of a row block must be rebased before it is described); offsets must not
// decrease and every column index must be in range. A violation faults with
// cudaErrorIllegalAddress, naming the routine and the array. cusparseSpMM_bufferSize returns a
// positive size and cusparseSpMM requires an external buffer of at least that size in device
// memory (which it leaves poisoned), so that a caller skipping the query fails here as it may on
// a GPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpulearn_emu/runtime_api.hpp"

#define CUSPARSE_VER_MAJOR 12
#define CUSPARSE_VER_MINOR 6
#define CUSPARSE_VER_PATCH 3
#define CUSPARSE_VERSION (CUSPARSE_VER_MAJOR * 1000 + CUSPARSE_VER_MINOR * 100 + CUSPARSE_VER_PATCH)

// library_types.h's value types (the two gpulearn computes in).
#ifndef GPULEARN_EMU_CUDA_DATA_TYPE
#define GPULEARN_EMU_CUDA_DATA_TYPE
typedef enum cudaDataType_t {
  CUDA_R_32F = 0,
  CUDA_R_64F = 1,
} cudaDataType;
#endif

struct cusparseContext;
typedef struct cusparseContext* cusparseHandle_t;

struct cusparseSpMatDescr;
typedef struct cusparseSpMatDescr* cusparseSpMatDescr_t;
typedef struct cusparseSpMatDescr const* cusparseConstSpMatDescr_t;
struct cusparseDnMatDescr;
typedef struct cusparseDnMatDescr* cusparseDnMatDescr_t;
typedef struct cusparseDnMatDescr const* cusparseConstDnMatDescr_t;

typedef enum {
  CUSPARSE_STATUS_SUCCESS = 0,
  CUSPARSE_STATUS_NOT_INITIALIZED = 1,
  CUSPARSE_STATUS_ALLOC_FAILED = 2,
  CUSPARSE_STATUS_INVALID_VALUE = 3,
  CUSPARSE_STATUS_ARCH_MISMATCH = 4,
  CUSPARSE_STATUS_MAPPING_ERROR = 5,
  CUSPARSE_STATUS_EXECUTION_FAILED = 6,
  CUSPARSE_STATUS_INTERNAL_ERROR = 7,
  CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED = 8,
  CUSPARSE_STATUS_ZERO_PIVOT = 9,
  CUSPARSE_STATUS_NOT_SUPPORTED = 10,
  CUSPARSE_STATUS_INSUFFICIENT_RESOURCES = 11,
} cusparseStatus_t;

typedef enum {
  CUSPARSE_INDEX_BASE_ZERO = 0,
  CUSPARSE_INDEX_BASE_ONE = 1,
} cusparseIndexBase_t;

typedef enum {
  CUSPARSE_OPERATION_NON_TRANSPOSE = 0,
  CUSPARSE_OPERATION_TRANSPOSE = 1,
  CUSPARSE_OPERATION_CONJUGATE_TRANSPOSE = 2,
} cusparseOperation_t;

typedef enum {
  CUSPARSE_ORDER_COL = 1,
  CUSPARSE_ORDER_ROW = 2,
} cusparseOrder_t;

typedef enum {
  CUSPARSE_INDEX_16U = 1,
  CUSPARSE_INDEX_32I = 2,
  CUSPARSE_INDEX_64I = 3,
} cusparseIndexType_t;

typedef enum {
  CUSPARSE_SPMM_ALG_DEFAULT = 0,
  CUSPARSE_SPMM_COO_ALG1 = 1,
  CUSPARSE_SPMM_COO_ALG2 = 2,
  CUSPARSE_SPMM_COO_ALG3 = 3,
  CUSPARSE_SPMM_COO_ALG4 = 5,
  CUSPARSE_SPMM_CSR_ALG1 = 4,
  CUSPARSE_SPMM_CSR_ALG2 = 6,
  CUSPARSE_SPMM_CSR_ALG3 = 12,
  CUSPARSE_SPMM_BLOCKED_ELL_ALG1 = 13,
  CUSPARSE_SPMM_BSR_ALG1 = 14,
} cusparseSpMMAlg_t;

// ---- Management -------------------------------------------------------------------------------
GPULEARN_EMU_API cusparseStatus_t cusparseCreate(cusparseHandle_t* handle);
/// As in cuSPARSE, waits for the device's queued work (cudaDeviceSynchronize).
GPULEARN_EMU_API cusparseStatus_t cusparseDestroy(cusparseHandle_t handle);
GPULEARN_EMU_API cusparseStatus_t cusparseGetVersion(cusparseHandle_t handle, int* version);
GPULEARN_EMU_API cusparseStatus_t cusparseSetStream(cusparseHandle_t handle, cudaStream_t stream);
GPULEARN_EMU_API cusparseStatus_t cusparseGetStream(cusparseHandle_t handle, cudaStream_t* stream);
GPULEARN_EMU_API const char* cusparseGetErrorName(cusparseStatus_t status);
GPULEARN_EMU_API const char* cusparseGetErrorString(cusparseStatus_t status);

// ---- Descriptors ------------------------------------------------------------------------------
GPULEARN_EMU_API cusparseStatus_t cusparseCreateCsr(cusparseSpMatDescr_t* spMatDescr, int64_t rows,
                                                    int64_t cols, int64_t nnz, void* csrRowOffsets,
                                                    void* csrColInd, void* csrValues,
                                                    cusparseIndexType_t csrRowOffsetsType,
                                                    cusparseIndexType_t csrColIndType,
                                                    cusparseIndexBase_t idxBase,
                                                    cudaDataType valueType);
GPULEARN_EMU_API cusparseStatus_t cusparseCreateConstCsr(
    cusparseConstSpMatDescr_t* spMatDescr, int64_t rows, int64_t cols, int64_t nnz,
    const void* csrRowOffsets, const void* csrColInd, const void* csrValues,
    cusparseIndexType_t csrRowOffsetsType, cusparseIndexType_t csrColIndType,
    cusparseIndexBase_t idxBase, cudaDataType valueType);
GPULEARN_EMU_API cusparseStatus_t cusparseDestroySpMat(cusparseConstSpMatDescr_t spMatDescr);

GPULEARN_EMU_API cusparseStatus_t cusparseCreateDnMat(cusparseDnMatDescr_t* dnMatDescr,
                                                      int64_t rows, int64_t cols, int64_t ld,
                                                      void* values, cudaDataType valueType,
                                                      cusparseOrder_t order);
GPULEARN_EMU_API cusparseStatus_t cusparseCreateConstDnMat(cusparseConstDnMatDescr_t* dnMatDescr,
                                                           int64_t rows, int64_t cols, int64_t ld,
                                                           const void* values,
                                                           cudaDataType valueType,
                                                           cusparseOrder_t order);
GPULEARN_EMU_API cusparseStatus_t cusparseDestroyDnMat(cusparseConstDnMatDescr_t dnMatDescr);

// ---- SpMM: C = alpha op(A) op(B) + beta C -----------------------------------------------------
GPULEARN_EMU_API cusparseStatus_t cusparseSpMM_bufferSize(
    cusparseHandle_t handle, cusparseOperation_t opA, cusparseOperation_t opB, const void* alpha,
    cusparseConstSpMatDescr_t matA, cusparseConstDnMatDescr_t matB, const void* beta,
    cusparseDnMatDescr_t matC, cudaDataType computeType, cusparseSpMMAlg_t alg,
    size_t* bufferSize);
GPULEARN_EMU_API cusparseStatus_t cusparseSpMM(cusparseHandle_t handle, cusparseOperation_t opA,
                                               cusparseOperation_t opB, const void* alpha,
                                               cusparseConstSpMatDescr_t matA,
                                               cusparseConstDnMatDescr_t matB, const void* beta,
                                               cusparseDnMatDescr_t matC, cudaDataType computeType,
                                               cusparseSpMMAlg_t alg, void* externalBuffer);
