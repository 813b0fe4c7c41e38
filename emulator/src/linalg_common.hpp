// What the emulator's cuBLAS (cublas.cpp) and cuSOLVER (cusolver.cpp) share: the Fortran BLAS
// and LAPACK entry points they compute with, typed by element, and the check that a matrix a
// routine is about to touch lies in memory the device can access.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_set>

#include "gpulearn_emu/internal.hpp"

// ---- Fortran BLAS and LAPACK (Debian's reference libblas / liblapack) --------------------------
// 32-bit INTEGER arguments by reference; each CHARACTER argument adds a hidden length (size_t)
// at the end, in order. Every argument is validated before a call: the reference XERBLA stops
// the process on an illegal one.
extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const float* alpha, const float* A, const int* lda, const float* B, const int* ldb,
            const float* beta, float* C, const int* ldc, size_t, size_t);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const double* alpha, const double* A, const int* lda, const double* B, const int* ldb,
            const double* beta, double* C, const int* ldc, size_t, size_t);
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
            const float* A, const int* lda, const float* beta, float* C, const int* ldc, size_t,
            size_t);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
            const double* A, const int* lda, const double* beta, double* C, const int* ldc, size_t,
            size_t);
void spotrf_(const char* uplo, const int* n, float* A, const int* lda, int* info, size_t);
void dpotrf_(const char* uplo, const int* n, double* A, const int* lda, int* info, size_t);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* A, const int* lda,
             float* B, const int* ldb, int* info, size_t);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* A, const int* lda,
             double* B, const int* ldb, int* info, size_t);
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* A, const int* lda, float* W,
             float* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t,
             size_t);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* A, const int* lda, double* W,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t,
             size_t);
void sgeqrf_(const int* m, const int* n, float* A, const int* lda, float* tau, float* work,
             const int* lwork, int* info);
void dgeqrf_(const int* m, const int* n, double* A, const int* lda, double* tau, double* work,
             const int* lwork, int* info);
void sormqr_(const char* side, const char* trans, const int* m, const int* n, const int* k,
             const float* A, const int* lda, const float* tau, float* C, const int* ldc,
             float* work, const int* lwork, int* info, size_t, size_t);
void dormqr_(const char* side, const char* trans, const int* m, const int* n, const int* k,
             const double* A, const int* lda, const double* tau, double* C, const int* ldc,
             double* work, const int* lwork, int* info, size_t, size_t);
void sgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, float* A,
             const int* lda, float* S, float* U, const int* ldu, float* VT, const int* ldvt,
             float* work, const int* lwork, int* info, size_t, size_t);
void dgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* A,
             const int* lda, double* S, double* U, const int* ldu, double* VT, const int* ldvt,
             double* work, const int* lwork, int* info, size_t, size_t);
}

namespace gpulearn_emu::linalg {

/// The Fortran routines by element type: Fortran<float>::gemm is sgemm_, and so on.
template <typename T>
struct Fortran;
template <>
struct Fortran<float> {
  static constexpr auto gemm = sgemm_;
  static constexpr auto syrk = ssyrk_;
  static constexpr auto potrf = spotrf_;
  static constexpr auto potrs = spotrs_;
  static constexpr auto syevd = ssyevd_;
  static constexpr auto geqrf = sgeqrf_;
  static constexpr auto ormqr = sormqr_;
  static constexpr auto gesvd = sgesvd_;
};
template <>
struct Fortran<double> {
  static constexpr auto gemm = dgemm_;
  static constexpr auto syrk = dsyrk_;
  static constexpr auto potrf = dpotrf_;
  static constexpr auto potrs = dpotrs_;
  static constexpr auto syevd = dsyevd_;
  static constexpr auto geqrf = dgeqrf_;
  static constexpr auto ormqr = dormqr_;
  static constexpr auto gesvd = dgesvd_;
};

inline int64_t max1(int64_t v) { return v > 1 ? v : 1; }

/// Bytes from the first to one past the last element of a rows x cols column-major matrix with
/// leading dimension ld (0 when it has no element).
inline size_t span_bytes(int64_t rows, int64_t cols, int64_t ld, size_t elem) {
  if (rows <= 0 || cols <= 0) return 0;
  return (static_cast<size_t>(cols - 1) * static_cast<size_t>(ld) + static_cast<size_t>(rows)) *
         elem;
}

inline std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

/// Called from queued work before `routine` touches the rows x cols matrix `what` at p: true
/// when it lies in one device or pinned allocation (memory a kernel may dereference, as
/// cuBLAS's and cuSOLVER's kernels do). Otherwise reports cudaErrorIllegalAddress through
/// fault(), as the GPU would, and returns false: the caller then returns without computing.
inline bool device_matrix(const char* routine, const char* what, const void* p, int64_t rows,
                          int64_t cols, int64_t ld, size_t elem) {
  const size_t bytes = span_bytes(rows, cols, ld, elem);
  if (bytes == 0 || is_kernel_accessible(p, bytes)) return true;
  fault(cudaErrorIllegalAddress,
        std::string(routine) + ": " + what + " (" + hex(p) + ") is not device memory: the " +
            std::to_string(rows) + " x " + std::to_string(cols) +
            " matrix with leading dimension " + std::to_string(ld) + " spans " +
            std::to_string(bytes) +
            " bytes, which do not lie inside one device (or pinned) allocation");
  return false;
}

/// As device_matrix for a vector of n elements (a scalar: n = 1).
inline bool device_vector(const char* routine, const char* what, const void* p, int64_t n,
                          size_t elem) {
  if (n <= 0 || is_kernel_accessible(p, static_cast<size_t>(n) * elem)) return true;
  fault(cudaErrorIllegalAddress, std::string(routine) + ": " + what + " (" + hex(p) +
                                     ") is not device memory: its " + std::to_string(n) +
                                     " element(s) of " + std::to_string(elem) +
                                     " bytes do not lie inside one device (or pinned) allocation");
  return false;
}

/// The live handles of one library: a destroyed or never-created handle is refused with the
/// library's NOT_INITIALIZED instead of being dereferenced.
template <typename Context>
class Handles {
 public:
  void add(Context* h) {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.insert(h);
  }
  bool remove(Context* h) {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_.erase(h) == 1;
  }
  bool live(const Context* h) {
    std::lock_guard<std::mutex> lock(mutex_);
    return h != nullptr && live_.count(const_cast<Context*>(h)) == 1;
  }

 private:
  std::mutex mutex_;
  std::unordered_set<Context*> live_;
};

}  // namespace gpulearn_emu::linalg
