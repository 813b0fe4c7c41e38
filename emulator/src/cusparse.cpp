// The emulator's cuSPARSE: the generic API's CSR and dense-matrix descriptors and SpMM, with
// cuSPARSE's documented semantics and the emulator's checks (emulator/include/cusparse.h).
// Computed on the host when the stream's work runs: each output sums its terms in the compute
// type, in the order of A's stored entries (row by row for op(A) = A; for op(A) = A^T, rows of A
// in ascending order, which is one of the orders a GPU may use).
#include <cusparse.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "linalg_common.hpp"

struct cusparseContext {
  cudaStream_t stream = nullptr;
};

struct cusparseSpMatDescr {
  int64_t rows = 0, cols = 0, nnz = 0;
  const void* offsets = nullptr;
  const void* indices = nullptr;
  const void* values = nullptr;
  cusparseIndexType_t offset_type = CUSPARSE_INDEX_32I, index_type = CUSPARSE_INDEX_32I;
  cusparseIndexBase_t base = CUSPARSE_INDEX_BASE_ZERO;
  cudaDataType value_type = CUDA_R_32F;
};

struct cusparseDnMatDescr {
  int64_t rows = 0, cols = 0, ld = 0;
  const void* values = nullptr;
  cudaDataType value_type = CUDA_R_32F;
  cusparseOrder_t order = CUSPARSE_ORDER_COL;
};

namespace {

using gpulearn_emu::linalg::device_vector;
using gpulearn_emu::linalg::hex;

gpulearn_emu::linalg::Handles<cusparseContext>& handles() {
  static auto* h = new gpulearn_emu::linalg::Handles<cusparseContext>();  // never destroyed
  return *h;
}

bool valid_index_type(cusparseIndexType_t t) {
  return t == CUSPARSE_INDEX_32I || t == CUSPARSE_INDEX_64I;
}
bool valid_value_type(cudaDataType t) { return t == CUDA_R_32F || t == CUDA_R_64F; }
size_t index_bytes(cusparseIndexType_t t) { return t == CUSPARSE_INDEX_64I ? 8 : 4; }
size_t value_bytes(cudaDataType t) { return t == CUDA_R_64F ? 8 : 4; }

cusparseStatus_t make_csr(cusparseSpMatDescr** out, int64_t rows, int64_t cols, int64_t nnz,
                          const void* offsets, const void* indices, const void* values,
                          cusparseIndexType_t offset_type, cusparseIndexType_t index_type,
                          cusparseIndexBase_t base, cudaDataType value_type) {
  if (out == nullptr || rows < 0 || cols < 0 || nnz < 0) return CUSPARSE_STATUS_INVALID_VALUE;
  if (!valid_index_type(offset_type) || !valid_index_type(index_type) ||
      (base != CUSPARSE_INDEX_BASE_ZERO && base != CUSPARSE_INDEX_BASE_ONE) ||
      !valid_value_type(value_type)) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  // cuSPARSE: the offsets are needed for rows > 0; indices and values when nnz > 0.
  if ((rows > 0 && offsets == nullptr) || (nnz > 0 && (indices == nullptr || values == nullptr))) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  // 32-bit indices cannot address more entries or columns than INT32_MAX.
  if ((offset_type == CUSPARSE_INDEX_32I && nnz > INT32_MAX) ||
      (index_type == CUSPARSE_INDEX_32I && cols > INT32_MAX)) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  auto* d = new cusparseSpMatDescr();
  d->rows = rows;
  d->cols = cols;
  d->nnz = nnz;
  d->offsets = offsets;
  d->indices = indices;
  d->values = values;
  d->offset_type = offset_type;
  d->index_type = index_type;
  d->base = base;
  d->value_type = value_type;
  *out = d;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t make_dn(cusparseDnMatDescr** out, int64_t rows, int64_t cols, int64_t ld,
                         const void* values, cudaDataType value_type, cusparseOrder_t order) {
  if (out == nullptr || rows < 0 || cols < 0 || !valid_value_type(value_type)) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  if (order != CUSPARSE_ORDER_ROW && order != CUSPARSE_ORDER_COL) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  // The leading dimension: at least the rows (column-major) or the columns (row-major).
  const int64_t lead = order == CUSPARSE_ORDER_COL ? rows : cols;
  if (ld < (lead > 1 ? lead : 1)) return CUSPARSE_STATUS_INVALID_VALUE;
  if (values == nullptr && rows > 0 && cols > 0) return CUSPARSE_STATUS_INVALID_VALUE;
  auto* d = new cusparseDnMatDescr();
  d->rows = rows;
  d->cols = cols;
  d->ld = ld;
  d->values = values;
  d->value_type = value_type;
  d->order = order;
  *out = d;
  return CUSPARSE_STATUS_SUCCESS;
}

// The element (i, j) of a dense descriptor's storage.
int64_t dn_offset(const cusparseDnMatDescr& m, int64_t i, int64_t j) {
  return m.order == CUSPARSE_ORDER_ROW ? i * m.ld + j : j * m.ld + i;
}
// Bytes from the first to one past the last element (0 when empty).
size_t dn_span(const cusparseDnMatDescr& m) {
  if (m.rows == 0 || m.cols == 0) return 0;
  return static_cast<size_t>(dn_offset(m, m.rows - 1, m.cols - 1) + 1) * value_bytes(m.value_type);
}

int64_t read_index(const void* p, cusparseIndexType_t t, int64_t k) {
  return t == CUSPARSE_INDEX_64I ? static_cast<const int64_t*>(p)[k]
                                 : static_cast<int64_t>(static_cast<const int32_t*>(p)[k]);
}

constexpr size_t kSpMMBufferBytes = 256;

// The checks and the argument validation shared by the query and the computation.
cusparseStatus_t check_spmm(cusparseHandle_t handle, cusparseOperation_t opA,
                            cusparseOperation_t opB, const void* alpha,
                            cusparseConstSpMatDescr_t A, cusparseConstDnMatDescr_t B,
                            const void* beta, cusparseDnMatDescr_t C, cudaDataType compute,
                            cusparseSpMMAlg_t alg) {
  if (!handles().live(handle)) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (A == nullptr || B == nullptr || C == nullptr || alpha == nullptr || beta == nullptr) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  if (opA != CUSPARSE_OPERATION_NON_TRANSPOSE && opA != CUSPARSE_OPERATION_TRANSPOSE &&
      opA != CUSPARSE_OPERATION_CONJUGATE_TRANSPOSE) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  if (opB != CUSPARSE_OPERATION_NON_TRANSPOSE) return CUSPARSE_STATUS_NOT_SUPPORTED;
  if (alg != CUSPARSE_SPMM_ALG_DEFAULT && alg != CUSPARSE_SPMM_CSR_ALG1 &&
      alg != CUSPARSE_SPMM_CSR_ALG2 && alg != CUSPARSE_SPMM_CSR_ALG3) {
    return CUSPARSE_STATUS_NOT_SUPPORTED;
  }
  // Uniform precision: every type the compute type.
  if (A->value_type != compute || B->value_type != compute || C->value_type != compute) {
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  // op(A) is m x k, B k x n, C m x n.
  const bool t = opA != CUSPARSE_OPERATION_NON_TRANSPOSE;
  const int64_t m = t ? A->cols : A->rows, k = t ? A->rows : A->cols;
  if (B->rows != k || C->rows != m || C->cols != B->cols) return CUSPARSE_STATUS_INVALID_VALUE;
  return CUSPARSE_STATUS_SUCCESS;
}

template <typename T>
void run_spmm(bool transpose, T alpha, T beta, const cusparseSpMatDescr& A,
              const cusparseDnMatDescr& B, const cusparseDnMatDescr& C, void* buffer,
              size_t buffer_bytes) {
  const char* routine = "cusparseSpMM";
  const int64_t n = C.cols;
  // The arrays: device (or pinned) memory, as cuSPARSE's kernels dereference them.
  if (!device_vector(routine, "csrRowOffsets", A.offsets, A.rows > 0 ? A.rows + 1 : 0,
                     index_bytes(A.offset_type))) {
    return;
  }
  if (!device_vector(routine, "csrColInd", A.indices, A.nnz, index_bytes(A.index_type)) ||
      !device_vector(routine, "csrValues", A.values, A.nnz, value_bytes(A.value_type)) ||
      !device_vector(routine, "externalBuffer", buffer, static_cast<int64_t>(buffer_bytes), 1)) {
    return;
  }
  const size_t b_span = dn_span(B), c_span = dn_span(C);
  if ((b_span > 0 && !gpulearn_emu::is_kernel_accessible(B.values, b_span)) ||
      (c_span > 0 && !gpulearn_emu::is_kernel_accessible(C.values, c_span))) {
    gpulearn_emu::fault(cudaErrorIllegalAddress,
                        std::string(routine) + ": the dense matrix " +
                            (b_span > 0 && !gpulearn_emu::is_kernel_accessible(B.values, b_span)
                                 ? "B (" + hex(B.values)
                                 : "C (" + hex(C.values)) +
                            ") does not lie inside one device (or pinned) allocation");
    return;
  }
  // The structure cuSPARSE assumes (a kernel would read out of bounds otherwise).
  const int64_t base = A.base == CUSPARSE_INDEX_BASE_ONE ? 1 : 0;
  auto structure_fault = [&](const std::string& what) {
    gpulearn_emu::fault(cudaErrorIllegalAddress, std::string(routine) + ": " + what);
  };
  if (A.rows > 0) {
    const int64_t first = read_index(A.offsets, A.offset_type, 0);
    const int64_t last = read_index(A.offsets, A.offset_type, A.rows);
    if (first != base) {
      structure_fault("csrRowOffsets[0] is " + std::to_string(first) + ", not the index base " +
                      std::to_string(base) + " (rebase a block of rows before describing it)");
      return;
    }
    if (last - base != A.nnz) {
      structure_fault("csrRowOffsets[rows] - base is " + std::to_string(last - base) +
                      ", not nnz = " + std::to_string(A.nnz));
      return;
    }
    for (int64_t i = 0; i < A.rows; ++i) {
      if (read_index(A.offsets, A.offset_type, i + 1) < read_index(A.offsets, A.offset_type, i)) {
        structure_fault("csrRowOffsets decreases at row " + std::to_string(i));
        return;
      }
    }
  } else if (A.nnz != 0) {
    structure_fault("a matrix of no rows with nnz = " + std::to_string(A.nnz));
    return;
  }
  for (int64_t q = 0; q < A.nnz; ++q) {
    const int64_t j = read_index(A.indices, A.index_type, q) - base;
    if (j < 0 || j >= A.cols) {
      structure_fault("csrColInd[" + std::to_string(q) + "] = " + std::to_string(j + base) +
                      " is out of range for " + std::to_string(A.cols) + " columns");
      return;
    }
  }
  const T* vals = static_cast<const T*>(A.values);
  const T* b = static_cast<const T*>(B.values);
  T* c = static_cast<T*>(const_cast<void*>(C.values));
  const int64_t m = C.rows;
  // The sums, in T, in entry order; then C = alpha sums + beta C (C unread when beta is 0).
  std::vector<T> acc(static_cast<size_t>(m * n), T(0));
  for (int64_t i = 0; i < A.rows; ++i) {
    const int64_t r0 = read_index(A.offsets, A.offset_type, i) - base;
    const int64_t r1 = read_index(A.offsets, A.offset_type, i + 1) - base;
    for (int64_t q = r0; q < r1; ++q) {
      const int64_t j = read_index(A.indices, A.index_type, q) - base;
      const T v = vals[q];
      // op(A) = A: row i of C gains v B[j, :]; op(A) = A^T: row j of C gains v B[i, :].
      const int64_t out_row = transpose ? j : i, in_row = transpose ? i : j;
      for (int64_t x = 0; x < n; ++x) {
        acc[out_row * n + x] += v * b[dn_offset(B, in_row, x)];
      }
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t x = 0; x < n; ++x) {
      T& dst = c[dn_offset(C, i, x)];
      dst = beta == T(0) ? alpha * acc[i * n + x] : alpha * acc[i * n + x] + beta * dst;
    }
  }
  gpulearn_emu::poison(buffer, buffer_bytes);
}

}  // namespace

// ---- Management -------------------------------------------------------------------------------
cusparseStatus_t cusparseCreate(cusparseHandle_t* handle) {
  if (handle == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  auto* h = new cusparseContext();
  handles().add(h);
  *handle = h;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseDestroy(cusparseHandle_t handle) {
  if (!handles().remove(handle)) return CUSPARSE_STATUS_NOT_INITIALIZED;
  (void)cudaDeviceSynchronize();  // queued work holds copies of the descriptors, not the handle
  delete handle;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseGetVersion(cusparseHandle_t handle, int* version) {
  if (!handles().live(handle)) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (version == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  *version = CUSPARSE_VERSION;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseSetStream(cusparseHandle_t handle, cudaStream_t stream) {
  if (!handles().live(handle)) return CUSPARSE_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseGetStream(cusparseHandle_t handle, cudaStream_t* stream) {
  if (!handles().live(handle)) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUSPARSE_STATUS_SUCCESS;
}

const char* cusparseGetErrorName(cusparseStatus_t status) {
  switch (status) {
    case CUSPARSE_STATUS_SUCCESS:
      return "CUSPARSE_STATUS_SUCCESS";
    case CUSPARSE_STATUS_NOT_INITIALIZED:
      return "CUSPARSE_STATUS_NOT_INITIALIZED";
    case CUSPARSE_STATUS_ALLOC_FAILED:
      return "CUSPARSE_STATUS_ALLOC_FAILED";
    case CUSPARSE_STATUS_INVALID_VALUE:
      return "CUSPARSE_STATUS_INVALID_VALUE";
    case CUSPARSE_STATUS_ARCH_MISMATCH:
      return "CUSPARSE_STATUS_ARCH_MISMATCH";
    case CUSPARSE_STATUS_MAPPING_ERROR:
      return "CUSPARSE_STATUS_MAPPING_ERROR";
    case CUSPARSE_STATUS_EXECUTION_FAILED:
      return "CUSPARSE_STATUS_EXECUTION_FAILED";
    case CUSPARSE_STATUS_INTERNAL_ERROR:
      return "CUSPARSE_STATUS_INTERNAL_ERROR";
    case CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSPARSE_STATUS_ZERO_PIVOT:
      return "CUSPARSE_STATUS_ZERO_PIVOT";
    case CUSPARSE_STATUS_NOT_SUPPORTED:
      return "CUSPARSE_STATUS_NOT_SUPPORTED";
    case CUSPARSE_STATUS_INSUFFICIENT_RESOURCES:
      return "CUSPARSE_STATUS_INSUFFICIENT_RESOURCES";
  }
  return "CUSPARSE_STATUS_UNKNOWN";
}

const char* cusparseGetErrorString(cusparseStatus_t status) {
  switch (status) {
    case CUSPARSE_STATUS_SUCCESS:
      return "success";
    case CUSPARSE_STATUS_NOT_INITIALIZED:
      return "initialization error";
    case CUSPARSE_STATUS_ALLOC_FAILED:
      return "out of memory";
    case CUSPARSE_STATUS_INVALID_VALUE:
      return "invalid value";
    case CUSPARSE_STATUS_ARCH_MISMATCH:
      return "architecture mismatch";
    case CUSPARSE_STATUS_MAPPING_ERROR:
      return "mapping error";
    case CUSPARSE_STATUS_EXECUTION_FAILED:
      return "execution failed";
    case CUSPARSE_STATUS_INTERNAL_ERROR:
      return "internal error";
    case CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "matrix type not supported";
    case CUSPARSE_STATUS_ZERO_PIVOT:
      return "zero pivot";
    case CUSPARSE_STATUS_NOT_SUPPORTED:
      return "operation not supported (in the emulator: an operation on B, or an algorithm, "
             "outside its subset)";
    case CUSPARSE_STATUS_INSUFFICIENT_RESOURCES:
      return "insufficient resources";
  }
  return "unknown error";
}

// ---- Descriptors ------------------------------------------------------------------------------
cusparseStatus_t cusparseCreateCsr(cusparseSpMatDescr_t* spMatDescr, int64_t rows, int64_t cols,
                                   int64_t nnz, void* csrRowOffsets, void* csrColInd,
                                   void* csrValues, cusparseIndexType_t csrRowOffsetsType,
                                   cusparseIndexType_t csrColIndType, cusparseIndexBase_t idxBase,
                                   cudaDataType valueType) {
  return make_csr(spMatDescr, rows, cols, nnz, csrRowOffsets, csrColInd, csrValues,
                  csrRowOffsetsType, csrColIndType, idxBase, valueType);
}

cusparseStatus_t cusparseCreateConstCsr(cusparseConstSpMatDescr_t* spMatDescr, int64_t rows,
                                        int64_t cols, int64_t nnz, const void* csrRowOffsets,
                                        const void* csrColInd, const void* csrValues,
                                        cusparseIndexType_t csrRowOffsetsType,
                                        cusparseIndexType_t csrColIndType,
                                        cusparseIndexBase_t idxBase, cudaDataType valueType) {
  if (spMatDescr == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  cusparseSpMatDescr* d = nullptr;
  const cusparseStatus_t s = make_csr(&d, rows, cols, nnz, csrRowOffsets, csrColInd, csrValues,
                                      csrRowOffsetsType, csrColIndType, idxBase, valueType);
  if (s == CUSPARSE_STATUS_SUCCESS) *spMatDescr = d;
  return s;
}

cusparseStatus_t cusparseDestroySpMat(cusparseConstSpMatDescr_t spMatDescr) {
  delete spMatDescr;  // null: nothing (cuSPARSE accepts it)
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseCreateDnMat(cusparseDnMatDescr_t* dnMatDescr, int64_t rows, int64_t cols,
                                     int64_t ld, void* values, cudaDataType valueType,
                                     cusparseOrder_t order) {
  return make_dn(dnMatDescr, rows, cols, ld, values, valueType, order);
}

cusparseStatus_t cusparseCreateConstDnMat(cusparseConstDnMatDescr_t* dnMatDescr, int64_t rows,
                                          int64_t cols, int64_t ld, const void* values,
                                          cudaDataType valueType, cusparseOrder_t order) {
  if (dnMatDescr == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  cusparseDnMatDescr* d = nullptr;
  const cusparseStatus_t s = make_dn(&d, rows, cols, ld, values, valueType, order);
  if (s == CUSPARSE_STATUS_SUCCESS) *dnMatDescr = d;
  return s;
}

cusparseStatus_t cusparseDestroyDnMat(cusparseConstDnMatDescr_t dnMatDescr) {
  delete dnMatDescr;
  return CUSPARSE_STATUS_SUCCESS;
}

// ---- SpMM -------------------------------------------------------------------------------------
cusparseStatus_t cusparseSpMM_bufferSize(cusparseHandle_t handle, cusparseOperation_t opA,
                                         cusparseOperation_t opB, const void* alpha,
                                         cusparseConstSpMatDescr_t matA,
                                         cusparseConstDnMatDescr_t matB, const void* beta,
                                         cusparseDnMatDescr_t matC, cudaDataType computeType,
                                         cusparseSpMMAlg_t alg, size_t* bufferSize) {
  if (bufferSize == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  const cusparseStatus_t s =
      check_spmm(handle, opA, opB, alpha, matA, matB, beta, matC, computeType, alg);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  *bufferSize = kSpMMBufferBytes;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseSpMM(cusparseHandle_t handle, cusparseOperation_t opA,
                              cusparseOperation_t opB, const void* alpha,
                              cusparseConstSpMatDescr_t matA, cusparseConstDnMatDescr_t matB,
                              const void* beta, cusparseDnMatDescr_t matC, cudaDataType computeType,
                              cusparseSpMMAlg_t alg, void* externalBuffer) {
  const cusparseStatus_t s =
      check_spmm(handle, opA, opB, alpha, matA, matB, beta, matC, computeType, alg);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  if (externalBuffer == nullptr) return CUSPARSE_STATUS_INVALID_VALUE;
  if (gpulearn_emu::is_device_range(alpha, 1) || gpulearn_emu::is_device_range(beta, 1)) {
    std::fprintf(stderr,
                 "gpulearn CUDA emulator: cusparseSpMM: alpha or beta is a device pointer but "
                 "the handle's pointer mode is CUSPARSE_POINTER_MODE_HOST (a crash on hardware)\n");
    return CUSPARSE_STATUS_INVALID_VALUE;
  }
  // Host-mode scalars, read now; the descriptors copied, as the work runs later.
  const bool transpose = opA != CUSPARSE_OPERATION_NON_TRANSPOSE;
  const cusparseSpMatDescr A = *matA;
  const cusparseDnMatDescr B = *matB, C = *matC;
  std::function<void()> work;
  if (computeType == CUDA_R_64F) {
    const double a = *static_cast<const double*>(alpha), b = *static_cast<const double*>(beta);
    work = [=] { run_spmm<double>(transpose, a, b, A, B, C, externalBuffer, kSpMMBufferBytes); };
  } else {
    const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
    work = [=] { run_spmm<float>(transpose, a, b, A, B, C, externalBuffer, kSpMMBufferBytes); };
  }
  return gpulearn_emu::enqueue(handle->stream, std::move(work), "cusparseSpMM") == cudaSuccess
             ? CUSPARSE_STATUS_SUCCESS
             : CUSPARSE_STATUS_EXECUTION_FAILED;
}
