// The emulator's cuBLAS: GEMM and SYRK over the host's Fortran BLAS, with cuBLAS's documented
// semantics (see emulator/include/cublas_api.h):
// - column-major; the arguments cuBLAS rejects return CUBLAS_STATUS_INVALID_VALUE at call time;
// - the work is queued on the handle's stream and runs when the host synchronises;
// - pointer mode HOST reads alpha and beta at call time, DEVICE when the work runs;
// - with CUBLAS_TF32_TENSOR_OP_MATH, float inputs are rounded to TF32 before the product, and
//   with the deprecated CUBLAS_TENSOR_OP_MATH (documented as CUBLAS_COMPUTE_32F_FAST_16F for
//   float GEMMs) to half precision; products and sums stay in float;
// - a matrix outside device (or pinned) memory faults with cudaErrorIllegalAddress when the
//   work runs, as the GPU's kernel would.
// The _64 entry points take 64-bit sizes, but the Fortran BLAS takes 32-bit ones: a size or
// leading dimension above INT_MAX returns CUBLAS_STATUS_NOT_SUPPORTED (an emulator limit; the
// real library accepts it).
#include <cublas_v2.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "linalg_common.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
};

namespace {

using gpulearn_emu::linalg::device_matrix;
using gpulearn_emu::linalg::device_vector;
using gpulearn_emu::linalg::Fortran;
using gpulearn_emu::linalg::max1;

gpulearn_emu::linalg::Handles<cublasContext>& handles() {
  static auto* h = new gpulearn_emu::linalg::Handles<cublasContext>();  // never destroyed
  return *h;
}

bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}
bool valid_fill(cublasFillMode_t uplo) {
  return uplo == CUBLAS_FILL_MODE_LOWER || uplo == CUBLAS_FILL_MODE_UPPER;
}
bool fits_int(int64_t v) { return v <= INT32_MAX; }
char op_char(cublasOperation_t op) { return op == CUBLAS_OP_N ? 'N' : 'T'; }  // real: C is T

// ---- Tensor-core input rounding ---------------------------------------------------------------
enum class Rounding { kNone, kTf32, kHalf };

Rounding rounding_for(cublasMath_t mode) {
  switch (static_cast<int>(mode) & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION) {
    case CUBLAS_TF32_TENSOR_OP_MATH:
      return Rounding::kTf32;
    case CUBLAS_TENSOR_OP_MATH:
      return Rounding::kHalf;
    default:
      return Rounding::kNone;
  }
}

/// x with its mantissa rounded to 10 explicit bits, to nearest even (infinities and NaN kept).
float round_mantissa_10(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;
  u += 0x0fffu + ((u >> 13) & 1u);  // may carry into the exponent, up to infinity: correct
  u &= ~0x1fffu;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

/// x rounded to IEEE half precision (to nearest even) and back: 10 mantissa bits, overflow to
/// infinity above 65504, subnormal spacing 2^-24 below 2^-14.
float round_half(float x) {
  if (!std::isfinite(x)) return x;
  const float a = std::fabs(x);
  if (a >= 65520.0f) return std::copysign(std::numeric_limits<float>::infinity(), x);
  if (a < 6.103515625e-05f) {  // 2^-14: half's subnormals, a multiple of 2^-24
    return std::copysign(std::nearbyint(a * 16777216.0f) / 16777216.0f, x);
  }
  return round_mantissa_10(x);
}

template <typename T>
T round_input(T x, Rounding r) {
  if constexpr (std::is_same_v<T, float>) {
    if (r == Rounding::kTf32) return round_mantissa_10(x);
    if (r == Rounding::kHalf) return round_half(x);
  }
  return x;
}

/// A dense (ld = rows) copy of the rows x cols matrix at p, each element rounded.
template <typename T>
std::vector<T> rounded_copy(const T* p, int64_t rows, int64_t cols, int64_t ld, Rounding r) {
  std::vector<T> out(static_cast<size_t>(rows * cols));
  for (int64_t j = 0; j < cols; ++j) {
    for (int64_t i = 0; i < rows; ++i) out[j * rows + i] = round_input(p[j * ld + i], r);
  }
  return out;
}

/// The scalars of a call: their values in pointer mode HOST (read at call time), their device
/// addresses in pointer mode DEVICE (read when the work runs).
template <typename T>
struct Scalars {
  bool on_device;
  T alpha, beta;
  const T* alpha_p;
  const T* beta_p;

  /// Reads device-mode scalars from inside queued work; false after a fault.
  bool resolve(const char* routine) {
    if (!on_device) return true;
    if (!device_vector(routine, "alpha", alpha_p, 1, sizeof(T)) ||
        !device_vector(routine, "beta", beta_p, 1, sizeof(T))) {
      return false;
    }
    alpha = *alpha_p;
    beta = *beta_p;
    return true;
  }
};

/// The scalars as the handle's pointer mode says; INVALID_VALUE for a null one, and for a
/// device address given in HOST mode (on hardware the host read would crash).
template <typename T>
cublasStatus_t read_scalars(const cublasContext* h, const char* routine, const T* alpha,
                            const T* beta, Scalars<T>* s) {
  if (alpha == nullptr || beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  s->on_device = h->pointer_mode == CUBLAS_POINTER_MODE_DEVICE;
  s->alpha_p = alpha;
  s->beta_p = beta;
  if (s->on_device) return CUBLAS_STATUS_SUCCESS;
  if (gpulearn_emu::is_device_range(alpha, sizeof(T)) ||
      gpulearn_emu::is_device_range(beta, sizeof(T))) {
    std::fprintf(stderr,
                 "gpulearn CUDA emulator: %s: alpha or beta is a device pointer but the handle's "
                 "pointer mode is CUBLAS_POINTER_MODE_HOST (a crash on hardware)\n",
                 routine);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  s->alpha = *alpha;
  s->beta = *beta;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t queue(const cublasContext* h, std::function<void()> work, const char* routine) {
  return gpulearn_emu::enqueue(h->stream, std::move(work), routine) == cudaSuccess
             ? CUBLAS_STATUS_SUCCESS
             : CUBLAS_STATUS_EXECUTION_FAILED;
}

template <typename T>
cublasStatus_t gemm(const char* routine, cublasHandle_t h, cublasOperation_t ta,
                    cublasOperation_t tb, int64_t m, int64_t n, int64_t k, const T* alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, const T* beta, T* C,
                    int64_t ldc) {
  if (!handles().live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  // op(A) is m x k, stored (ta == N) as m x k or else as k x m; likewise op(B), k x n.
  const int64_t rows_a = ta == CUBLAS_OP_N ? m : k, cols_a = ta == CUBLAS_OP_N ? k : m;
  const int64_t rows_b = tb == CUBLAS_OP_N ? k : n, cols_b = tb == CUBLAS_OP_N ? n : k;
  if (lda < max1(rows_a) || ldb < max1(rows_b) || ldc < max1(m)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  Scalars<T> s{};
  if (const cublasStatus_t st = read_scalars(h, routine, alpha, beta, &s);
      st != CUBLAS_STATUS_SUCCESS) {
    return st;
  }
  if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldb) ||
      !fits_int(ldc)) {
    return CUBLAS_STATUS_NOT_SUPPORTED;  // the Fortran BLAS's 32-bit sizes (see the top)
  }
  // cuBLAS's quick returns: nothing to compute, nothing launched.
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  if (!s.on_device && (k == 0 || s.alpha == T(0)) && s.beta == T(1)) return CUBLAS_STATUS_SUCCESS;
  const Rounding r = std::is_same_v<T, float> ? rounding_for(h->math_mode) : Rounding::kNone;
  auto work = [=]() mutable {
    if (!s.resolve(routine)) return;
    if (k > 0 && (!device_matrix(routine, "A", A, rows_a, cols_a, lda, sizeof(T)) ||
                  !device_matrix(routine, "B", B, rows_b, cols_b, ldb, sizeof(T)))) {
      return;
    }
    if (!device_matrix(routine, "C", C, m, n, ldc, sizeof(T))) return;
    const T* a = A;
    const T* b = B;
    int64_t la = lda, lb = ldb;
    std::vector<T> ar, br;
    if (r != Rounding::kNone && k > 0 && s.alpha != T(0)) {
      ar = rounded_copy(A, rows_a, cols_a, lda, r);
      br = rounded_copy(B, rows_b, cols_b, ldb, r);
      a = ar.data();
      b = br.data();
      la = max1(rows_a);
      lb = max1(rows_b);
    }
    const char ca = op_char(ta), cb = op_char(tb);
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int lai = static_cast<int>(la), lbi = static_cast<int>(lb), lci = static_cast<int>(ldc);
    Fortran<T>::gemm(&ca, &cb, &mi, &ni, &ki, &s.alpha, a, &lai, b, &lbi, &s.beta, C, &lci, 1, 1);
  };
  return queue(h, std::move(work), routine);
}

template <typename T>
cublasStatus_t syrk(const char* routine, cublasHandle_t h, cublasFillMode_t uplo,
                    cublasOperation_t trans, int64_t n, int64_t k, const T* alpha, const T* A,
                    int64_t lda, const T* beta, T* C, int64_t ldc) {
  if (!handles().live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_fill(uplo) || !valid_op(trans) || n < 0 || k < 0) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  // op(A) is n x k, stored (trans == N) as n x k or else as k x n.
  const int64_t rows_a = trans == CUBLAS_OP_N ? n : k, cols_a = trans == CUBLAS_OP_N ? k : n;
  if (lda < max1(rows_a) || ldc < max1(n)) return CUBLAS_STATUS_INVALID_VALUE;
  Scalars<T> s{};
  if (const cublasStatus_t st = read_scalars(h, routine, alpha, beta, &s);
      st != CUBLAS_STATUS_SUCCESS) {
    return st;
  }
  if (!fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldc)) {
    return CUBLAS_STATUS_NOT_SUPPORTED;  // the Fortran BLAS's 32-bit sizes (see the top)
  }
  if (n == 0) return CUBLAS_STATUS_SUCCESS;
  if (!s.on_device && (k == 0 || s.alpha == T(0)) && s.beta == T(1)) return CUBLAS_STATUS_SUCCESS;
  const Rounding r = std::is_same_v<T, float> ? rounding_for(h->math_mode) : Rounding::kNone;
  auto work = [=]() mutable {
    if (!s.resolve(routine)) return;
    if (k > 0 && !device_matrix(routine, "A", A, rows_a, cols_a, lda, sizeof(T))) return;
    // The uplo triangle spans the same bytes as the whole of C.
    if (!device_matrix(routine, "C", C, n, n, ldc, sizeof(T))) return;
    const T* a = A;
    int64_t la = lda;
    std::vector<T> ar;
    if (r != Rounding::kNone && k > 0 && s.alpha != T(0)) {
      ar = rounded_copy(A, rows_a, cols_a, lda, r);
      a = ar.data();
      la = max1(rows_a);
    }
    const char cu = uplo == CUBLAS_FILL_MODE_LOWER ? 'L' : 'U', ct = op_char(trans);
    const int ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int lai = static_cast<int>(la), lci = static_cast<int>(ldc);
    Fortran<T>::syrk(&cu, &ct, &ni, &ki, &s.alpha, a, &lai, &s.beta, C, &lci, 1, 1);
  };
  return queue(h, std::move(work), routine);
}

}  // namespace

// ---- Helpers ----------------------------------------------------------------------------------
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  auto* h = new cublasContext();
  handles().add(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!handles().remove(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  // cuBLAS documents that releasing its resources implicitly calls cudaDeviceSynchronize().
  // Queued work holds copies of the handle's state, not the handle.
  (void)cudaDeviceSynchronize();
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int* version) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = CUBLAS_VERSION;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetPointerMode(cublasHandle_t handle, cublasPointerMode_t* mode) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int base = static_cast<int>(mode) & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH &&
      base != CUBLAS_PEDANTIC_MATH && base != CUBLAS_TF32_TENSOR_OP_MATH) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (!handles().live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported (in the emulator: a size above "
             "INT_MAX, which its 32-bit Fortran BLAS cannot take)";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "error detected trying to check the license";
  }
  return "unknown error";
}

// ---- Level 3 ----------------------------------------------------------------------------------
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return gemm<float>("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C,
                     ldc);
}
cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const double* alpha,
                           const double* A, int lda, const double* B, int ldb, const double* beta,
                           double* C, int ldc) {
  return gemm<double>("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta,
                      C, ldc);
}
cublasStatus_t cublasSgemm_64(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                              const float* alpha, const float* A, int64_t lda, const float* B,
                              int64_t ldb, const float* beta, float* C, int64_t ldc) {
  return gemm<float>("cublasSgemm_64", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta,
                     C, ldc);
}
cublasStatus_t cublasDgemm_64(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                              const double* alpha, const double* A, int64_t lda, const double* B,
                              int64_t ldb, const double* beta, double* C, int64_t ldc) {
  return gemm<double>("cublasDgemm_64", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb,
                      beta, C, ldc);
}

cublasStatus_t cublasSsyrk(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,
                           int n, int k, const float* alpha, const float* A, int lda,
                           const float* beta, float* C, int ldc) {
  return syrk<float>("cublasSsyrk", handle, uplo, trans, n, k, alpha, A, lda, beta, C, ldc);
}
cublasStatus_t cublasDsyrk(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,
                           int n, int k, const double* alpha, const double* A, int lda,
                           const double* beta, double* C, int ldc) {
  return syrk<double>("cublasDsyrk", handle, uplo, trans, n, k, alpha, A, lda, beta, C, ldc);
}
cublasStatus_t cublasSsyrk_64(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,
                              int64_t n, int64_t k, const float* alpha, const float* A, int64_t lda,
                              const float* beta, float* C, int64_t ldc) {
  return syrk<float>("cublasSsyrk_64", handle, uplo, trans, n, k, alpha, A, lda, beta, C, ldc);
}
cublasStatus_t cublasDsyrk_64(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,
                              int64_t n, int64_t k, const double* alpha, const double* A,
                              int64_t lda, const double* beta, double* C, int64_t ldc) {
  return syrk<double>("cublasDsyrk_64", handle, uplo, trans, n, k, alpha, A, lda, beta, C, ldc);
}
