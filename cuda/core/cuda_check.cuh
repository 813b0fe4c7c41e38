// Error checking for CUDA runtime, cuBLAS and cuSOLVER calls: every library code that is not
// success becomes a gpulearn exception carrying the call's text, the code, its name and
// description, and the file and line. Allocation failures become OutOfMemory (MemoryError in
// Python) so that callers can tell "too big for this GPU" from a broken device.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <cstdint>

#include "gpulearn/core/error.hpp"

namespace gpulearn::detail {

// Errors from a CUDA emulator build (GPULEARN_CUDA_EMULATION) say so: no real GPU was involved.
#if defined(GPULEARN_CUDA_EMULATION)
constexpr const char* kCudaErrorPrefix = "CUDA error (emulated device): ";
constexpr const char* kCudaOomPrefix = "CUDA out of memory (emulated device): ";
#else
constexpr const char* kCudaErrorPrefix = "CUDA error: ";
constexpr const char* kCudaOomPrefix = "CUDA out of memory: ";
#endif

inline const char* cusolver_status_name(cusolverStatus_t s) {
  // cuSOLVER has no cublasGetStatusName counterpart.
  switch (s) {
    case CUSOLVER_STATUS_SUCCESS:
      return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED:
      return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED:
      return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE:
      return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH:
      return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_MAPPING_ERROR:
      return "CUSOLVER_STATUS_MAPPING_ERROR";
    case CUSOLVER_STATUS_EXECUTION_FAILED:
      return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR:
      return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSOLVER_STATUS_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_ZERO_PIVOT:
      return "CUSOLVER_STATUS_ZERO_PIVOT";
    case CUSOLVER_STATUS_INVALID_LICENSE:
      return "CUSOLVER_STATUS_INVALID_LICENSE";
    case CUSOLVER_STATUS_INVALID_WORKSPACE:
      return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default:
      return "CUSOLVER_STATUS_(unknown)";
  }
}

// Out of line of the macros so that the fast path stays a compare and a branch.
[[noreturn]] inline void throw_cuda_error(cudaError_t code, const char* call, const char* file,
                                          int line, int64_t bytes = -1) {
  // Allocation and launch failures are not sticky: clear the error so that the next call on
  // this thread does not report it again.
  (void)cudaGetLastError();
  if (code == cudaErrorMemoryAllocation) {
    if (bytes >= 0) {
      raise<OutOfMemory>(file, line, kCudaOomPrefix, "could not allocate ", bytes,
                         " bytes of device memory (", call, ")");
    }
    raise<OutOfMemory>(file, line, kCudaOomPrefix, call, " returned ",
                       cudaGetErrorName(code), " (", cudaGetErrorString(code), ")");
  }
  raise<DeviceError>(file, line, kCudaErrorPrefix, call, " returned ", cudaGetErrorName(code), " (",
                     static_cast<int>(code), ": ", cudaGetErrorString(code), ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t code, const char* call, const char* file,
                                            int line) {
  if (code == CUBLAS_STATUS_ALLOC_FAILED) {
    raise<OutOfMemory>(file, line, "cuBLAS out of memory: ", call, " returned ",
                       cublasGetStatusName(code), " (", cublasGetStatusString(code), ")");
  }
  raise<DeviceError>(file, line, "cuBLAS error: ", call, " returned ", cublasGetStatusName(code),
                     " (", static_cast<int>(code), ": ", cublasGetStatusString(code), ")");
}

[[noreturn]] inline void throw_cusolver_error(cusolverStatus_t code, const char* call,
                                              const char* file, int line) {
  if (code == CUSOLVER_STATUS_ALLOC_FAILED) {
    raise<OutOfMemory>(file, line, "cuSOLVER out of memory: ", call, " returned ",
                       cusolver_status_name(code));
  }
  raise<DeviceError>(file, line, "cuSOLVER error: ", call, " returned ", cusolver_status_name(code),
                     " (", static_cast<int>(code), ")");
}

}  // namespace gpulearn::detail

/// Throws DeviceError (OutOfMemory for cudaErrorMemoryAllocation) unless call is cudaSuccess.
#define GPULEARN_CUDA_TRY(call)                                                          \
  do {                                                                                   \
    const cudaError_t gpulearn_status_ = (call);                                         \
    if (gpulearn_status_ != cudaSuccess) {                                               \
      ::gpulearn::detail::throw_cuda_error(gpulearn_status_, #call, __FILE__, __LINE__); \
    }                                                                                    \
  } while (0)

/// As GPULEARN_CUDA_TRY for an allocation of `bytes`, which an OutOfMemory message names.
#define GPULEARN_CUDA_TRY_ALLOC(call, bytes)                                            \
  do {                                                                                  \
    const cudaError_t gpulearn_status_ = (call);                                        \
    if (gpulearn_status_ != cudaSuccess) {                                              \
      ::gpulearn::detail::throw_cuda_error(gpulearn_status_, #call, __FILE__, __LINE__, \
                                           static_cast<int64_t>(bytes));                \
    }                                                                                   \
  } while (0)

/// Checks that the kernel launch just made was accepted (bad configuration, missing image).
#define GPULEARN_CUDA_CHECK_LAUNCH() GPULEARN_CUDA_TRY(cudaGetLastError())

/// Throws DeviceError (OutOfMemory for CUBLAS_STATUS_ALLOC_FAILED) unless call succeeded.
#define GPULEARN_CUBLAS_TRY(call)                                                          \
  do {                                                                                     \
    const cublasStatus_t gpulearn_status_ = (call);                                        \
    if (gpulearn_status_ != CUBLAS_STATUS_SUCCESS) {                                       \
      ::gpulearn::detail::throw_cublas_error(gpulearn_status_, #call, __FILE__, __LINE__); \
    }                                                                                      \
  } while (0)

/// Throws DeviceError (OutOfMemory for CUSOLVER_STATUS_ALLOC_FAILED) unless call succeeded.
#define GPULEARN_CUSOLVER_TRY(call)                                                          \
  do {                                                                                       \
    const cusolverStatus_t gpulearn_status_ = (call);                                        \
    if (gpulearn_status_ != CUSOLVER_STATUS_SUCCESS) {                                       \
      ::gpulearn::detail::throw_cusolver_error(gpulearn_status_, #call, __FILE__, __LINE__); \
    }                                                                                        \
  } while (0)
