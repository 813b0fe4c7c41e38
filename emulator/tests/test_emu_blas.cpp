// The emulator's cuBLAS and cuSOLVER (emulator/src/cublas.cpp, cusolver.cpp): column-major
// results against naive loops in double, cuBLAS's argument checks and quick returns, pointer and
// math modes, stream order (nothing runs before the host synchronises), workspace queries and
// devInfo, and the fault a host pointer causes. All memory the routines see is cudaMalloc'd and
// read back with cudaMemcpy, as on a GPU.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "device_array.hpp"

// Clears the device's sticky error and queues (the runtime's hook for tests).
extern "C" void gpulearn_emu_reset_device_for_tests();

namespace {

using gpulearn_emu_test::DeviceArray;

/// Deterministic values in [-1, 1).
template <typename T>
std::vector<T> values(size_t n, uint32_t seed) {
  std::vector<T> v(n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<T>(static_cast<double>(s >> 8) / 8388608.0 - 1.0);
  }
  return v;
}

constexpr double kPad = 777.0;  // entries between the rows and the leading dimension

class EmuBlas : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cublasCreate(&blas_), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cublasSetStream(blas_, stream_), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cusolverDnCreate(&solver_), CUSOLVER_STATUS_SUCCESS);
    ASSERT_EQ(cusolverDnSetStream(solver_, stream_), CUSOLVER_STATUS_SUCCESS);
  }
  void TearDown() override {
    EXPECT_EQ(cusolverDnDestroy(solver_), CUSOLVER_STATUS_SUCCESS);
    EXPECT_EQ(cublasDestroy(blas_), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
  }
  void sync() { ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess); }

  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
};

// ---- GEMM -------------------------------------------------------------------------------------

cublasStatus_t gemm64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                      int64_t n, int64_t k, const double* alpha, const double* A, int64_t lda,
                      const double* B, int64_t ldb, const double* beta, double* C, int64_t ldc) {
  return cublasDgemm_64(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
cublasStatus_t gemm64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                      int64_t n, int64_t k, const float* alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, const float* beta, float* C, int64_t ldc) {
  return cublasSgemm_64(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t gemm32(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                      int k, const double* alpha, const double* A, int lda, const double* B,
                      int ldb, const double* beta, double* C, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
cublasStatus_t gemm32(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                      int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                      const float* beta, float* C, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/// C = alpha op(A) op(B) + beta C through cublas?gemm_64 (and the 32-bit form when `narrow`),
/// against a triple loop in double; entries between m and ldc must stay untouched.
template <typename T>
void check_gemm(cublasHandle_t h, cudaStream_t stream, cublasOperation_t ta, cublasOperation_t tb,
                bool narrow) {
  const int64_t m = 5, n = 4, k = 3;
  const int64_t rows_a = ta == CUBLAS_OP_N ? m : k, cols_a = ta == CUBLAS_OP_N ? k : m;
  const int64_t rows_b = tb == CUBLAS_OP_N ? k : n, cols_b = tb == CUBLAS_OP_N ? n : k;
  const int64_t lda = rows_a + 2, ldb = rows_b + 3, ldc = m + 1;
  const std::vector<T> a = values<T>(lda * cols_a, 1), b = values<T>(ldb * cols_b, 2);
  std::vector<T> c = values<T>(ldc * n, 3);
  for (int64_t j = 0; j < n; ++j) c[j * ldc + m] = static_cast<T>(kPad);
  const T alpha = static_cast<T>(1.5), beta = static_cast<T>(-0.5);
  DeviceArray<T> A(a), B(b), C(c);
  const cublasStatus_t st =
      narrow ? gemm32(h, ta, tb, m, n, k, &alpha, A.get(), lda, B.get(), ldb, &beta, C.get(), ldc)
             : gemm64(h, ta, tb, m, n, k, &alpha, A.get(), lda, B.get(), ldb, &beta, C.get(), ldc);
  ASSERT_EQ(st, CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  const std::vector<T> got = C.download();
  const double tol = std::is_same_v<T, double> ? 1e-14 : 2e-6;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      double ref = 0;
      for (int64_t l = 0; l < k; ++l) {
        const double x = ta == CUBLAS_OP_N ? a[l * lda + i] : a[i * lda + l];
        const double y = tb == CUBLAS_OP_N ? b[j * ldb + l] : b[l * ldb + j];
        ref += x * y;
      }
      ref = double(alpha) * ref + double(beta) * double(c[j * ldc + i]);
      EXPECT_NEAR(got[j * ldc + i], ref, tol)
          << "i=" << i << " j=" << j << " ta=" << ta << " tb=" << tb;
    }
    EXPECT_EQ(got[j * ldc + m], static_cast<T>(kPad)) << "padding of column " << j;
  }
}

TEST_F(EmuBlas, GemmAllTransposesMatchNaiveLoopWithLeadingDimensions) {
  for (const auto ta : {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C}) {
    for (const auto tb : {CUBLAS_OP_N, CUBLAS_OP_T}) {
      check_gemm<double>(blas_, stream_, ta, tb, false);
      check_gemm<double>(blas_, stream_, ta, tb, true);
      check_gemm<float>(blas_, stream_, ta, tb, false);
      check_gemm<float>(blas_, stream_, ta, tb, true);
    }
  }
}

TEST_F(EmuBlas, GemmWithKZeroScalesCAndBetaZeroIgnoresC) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  DeviceArray<double> C(std::vector<double>{1, 2, 3, 4});
  DeviceArray<double> A(1), B(1);
  const double alpha = 1, two = 2, zero = 0;
  // k = 0: C = beta C (A and B are not read).
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &alpha, A.get(), 2, B.get(), 1,
                           &two, C.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(C.download(), (std::vector<double>{2, 4, 6, 8}));
  // beta = 0: C need not hold numbers.
  C.upload({nan, nan, nan, nan});
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &alpha, A.get(), 2, B.get(), 1,
                           &zero, C.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(C.download(), (std::vector<double>{0, 0, 0, 0}));
  // m = 0: nothing happens, even to a C of poison.
  C.upload({nan, 1, 2, 3});
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 0, 2, 1, &alpha, A.get(), 1, B.get(), 1,
                           &zero, C.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  sync();
  const std::vector<double> got = C.download();
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_EQ(got[1], 1);
}

// ---- SYRK -------------------------------------------------------------------------------------

TEST_F(EmuBlas, SyrkUpdatesOnlyItsTriangle) {
  const int64_t n = 4, k = 3;
  for (const auto uplo : {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
    for (const auto trans : {CUBLAS_OP_N, CUBLAS_OP_T}) {
      const int64_t rows_a = trans == CUBLAS_OP_N ? n : k, cols_a = trans == CUBLAS_OP_N ? k : n;
      const int64_t lda = rows_a + 1, ldc = n + 2;
      const std::vector<double> a = values<double>(lda * cols_a, 7);
      std::vector<double> c = values<double>(ldc * n, 8);
      DeviceArray<double> A(a), C(c);
      const double alpha = 2, beta = 0.25;
      ASSERT_EQ(cublasDsyrk_64(blas_, uplo, trans, n, k, &alpha, A.get(), lda, &beta, C.get(), ldc),
                CUBLAS_STATUS_SUCCESS);
      sync();
      const std::vector<double> got = C.download();
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < ldc; ++i) {
          const bool in_triangle = i < n && (uplo == CUBLAS_FILL_MODE_LOWER ? i >= j : i <= j);
          if (!in_triangle) {
            EXPECT_EQ(got[j * ldc + i], c[j * ldc + i]) << "outside the triangle";
            continue;
          }
          double ref = 0;
          for (int64_t l = 0; l < k; ++l) {
            const double x = trans == CUBLAS_OP_N ? a[l * lda + i] : a[i * lda + l];
            const double y = trans == CUBLAS_OP_N ? a[l * lda + j] : a[j * lda + l];
            ref += x * y;
          }
          EXPECT_NEAR(got[j * ldc + i], alpha * ref + beta * c[j * ldc + i], 1e-14);
        }
      }
    }
  }
  // The 32-bit float form too.
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // 2 x 3, lda 2
  DeviceArray<float> A(a), C(std::vector<float>(4, 0));
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasSsyrk(blas_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, 2, 3, &one, A.get(), 2, &zero,
                        C.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  sync();
  const std::vector<float> got = C.download();
  EXPECT_EQ(got[0], 1 + 9 + 25);
  EXPECT_EQ(got[1], 2 + 12 + 30);
  EXPECT_EQ(got[2], 0);  // the upper triangle is not touched
  EXPECT_EQ(got[3], 4 + 16 + 36);
}

// ---- Pointer mode, stream order -----------------------------------------------------------------

TEST_F(EmuBlas, PointerModeHostReadsScalarsAtCallTimeAndDeviceWhenTheWorkRuns) {
  DeviceArray<double> A(std::vector<double>{3}), B(std::vector<double>{5}), C(1);
  cublasPointerMode_t mode;
  ASSERT_EQ(cublasGetPointerMode(blas_, &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, CUBLAS_POINTER_MODE_HOST);

  double alpha = 2, beta = 0;
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, A.get(), 1, B.get(), 1,
                           &beta, C.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  alpha = 100;  // too late: host-mode scalars were read at the call
  sync();
  EXPECT_EQ(C.download()[0], 30);

  ASSERT_EQ(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGetPointerMode(blas_, &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, CUBLAS_POINTER_MODE_DEVICE);
  DeviceArray<double> scalars(std::vector<double>{2, 0});
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, scalars.get(), A.get(), 1,
                           B.get(), 1, scalars.get() + 1, C.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  // Device-mode scalars are read when the work runs, so a write made before it runs (here a
  // synchronous copy on the legacy stream, which does not wait for the handle's non-blocking
  // stream) is what it sees. On hardware this would be a race; the emulator runs the work at
  // the synchronisation, deterministically.
  scalars.upload({4, 1});
  sync();
  EXPECT_EQ(C.download()[0], 4 * 15 + 30);

  // A device address in host mode would be a host read of device memory: refused.
  ASSERT_EQ(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_HOST), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, scalars.get(), A.get(), 1,
                           B.get(), 1, scalars.get() + 1, C.get(), 1),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetPointerMode(blas_, static_cast<cublasPointerMode_t>(2)),
            CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(EmuBlas, WorkRunsOnlyWhenTheHostSynchronises) {
  DeviceArray<double> A(std::vector<double>{1, 2, 3, 4}), C(std::vector<double>{-1, -1, -1, -1});
  const double one = 1, zero = 0;
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_T, 2, 2, 2, &one, A.get(), 2, A.get(), 2,
                           &zero, C.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  // The synchronous copy does not wait for the handle's non-blocking stream: C is still old.
  EXPECT_EQ(C.download(), (std::vector<double>{-1, -1, -1, -1}));
  sync();
  EXPECT_EQ(C.download(), (std::vector<double>{10, 14, 14, 20}));  // A A^T

  // cuSOLVER likewise: devInfo is written when the work runs.
  DeviceArray<double> S(std::vector<double>{4}), work(1);
  DeviceArray<int> info(std::vector<int>{-7});
  ASSERT_EQ(
      cusolverDnDpotrf(solver_, CUBLAS_FILL_MODE_LOWER, 1, S.get(), 1, work.get(), 1, info.get()),
      CUSOLVER_STATUS_SUCCESS);
  EXPECT_EQ(info.download()[0], -7);
  EXPECT_EQ(S.download()[0], 4);
  sync();
  EXPECT_EQ(info.download()[0], 0);
  EXPECT_EQ(S.download()[0], 2);
}

// ---- Math mode ----------------------------------------------------------------------------------

TEST_F(EmuBlas, Tf32MathRoundsFloatInputsAndDefaultDoesNot) {
  // 1 + 2^-12 is below TF32's half ulp at 1 (2^-11): it rounds to 1. 1 + 3 * 2^-11 is a tie
  // between 1 + 2^-10 (odd) and 1 + 2^-9 (even): to even.
  const float small = 1.0f + std::ldexp(1.0f, -12), tie = 1.0f + 3 * std::ldexp(1.0f, -11);
  DeviceArray<float> A(std::vector<float>{small, tie}), B(std::vector<float>{1}), C(2);
  const float one = 1, zero = 0;
  auto product = [&](cublasMath_t mode) {
    EXPECT_EQ(cublasSetMathMode(blas_, mode), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasSgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &one, A.get(), 2, B.get(), 1,
                             &zero, C.get(), 2),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    return C.download();
  };
  EXPECT_EQ(product(CUBLAS_DEFAULT_MATH), (std::vector<float>{small, tie}));
  EXPECT_EQ(product(CUBLAS_PEDANTIC_MATH), (std::vector<float>{small, tie}));
  EXPECT_EQ(product(CUBLAS_TF32_TENSOR_OP_MATH),
            (std::vector<float>{1.0f, 1.0f + std::ldexp(1.0f, -9)}));
  const auto flagged = static_cast<cublasMath_t>(CUBLAS_TF32_TENSOR_OP_MATH |
                                                 CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  EXPECT_EQ(product(flagged), (std::vector<float>{1.0f, 1.0f + std::ldexp(1.0f, -9)}));
  cublasMath_t mode;
  ASSERT_EQ(cublasGetMathMode(blas_, &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, flagged);

  // The deprecated TENSOR_OP_MATH computes float GEMMs with half inputs: same mantissa, and
  // half's range (70000 overflows to infinity).
  A.upload({small, 70000.0f});
  const std::vector<float> half = product(CUBLAS_TENSOR_OP_MATH);
  EXPECT_EQ(half[0], 1.0f);
  EXPECT_TRUE(std::isinf(half[1]));

  // SYRK rounds as well; doubles never.
  ASSERT_EQ(cublasSetMathMode(blas_, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  A.upload({small, 0});
  ASSERT_EQ(cublasSsyrk_64(blas_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, 1, 1, &one, A.get(), 1,
                           &zero, C.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(C.download()[0], 1.0f);
  const double dsmall = 1.0 + std::ldexp(1.0, -12), done = 1, dzero = 0;
  DeviceArray<double> D(std::vector<double>{dsmall}), E(1);
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &done, D.get(), 1, D.get(), 1,
                           &dzero, E.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(E.download()[0], dsmall * dsmall);

  EXPECT_EQ(cublasSetMathMode(blas_, static_cast<cublasMath_t>(5)), CUBLAS_STATUS_INVALID_VALUE);
}

// ---- Argument checks ----------------------------------------------------------------------------

TEST_F(EmuBlas, ArgumentsCublasRejectsReturnItsStatusAtCallTime) {
  DeviceArray<double> A(64), B(64), C(64);
  const double one = 1;
  auto gemm = [&](cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                  int64_t lda, int64_t ldb, int64_t ldc) {
    return cublasDgemm_64(blas_, ta, tb, m, n, k, &one, A.get(), lda, B.get(), ldb, &one, C.get(),
                          ldc);
  };
  const auto N = CUBLAS_OP_N, T = CUBLAS_OP_T;
  EXPECT_EQ(gemm(N, N, 4, 3, 2, 4, 2, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(N, N, 4, 3, 2, 3, 2, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  EXPECT_EQ(gemm(T, N, 4, 3, 2, 2, 2, 4), CUBLAS_STATUS_SUCCESS);        // A stored k x m
  EXPECT_EQ(gemm(T, N, 4, 3, 2, 1, 2, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  EXPECT_EQ(gemm(N, N, 4, 3, 2, 4, 1, 4), CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
  EXPECT_EQ(gemm(N, T, 4, 3, 2, 4, 2, 4), CUBLAS_STATUS_INVALID_VALUE);  // ldb < n
  EXPECT_EQ(gemm(N, N, 4, 3, 2, 4, 2, 3), CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  EXPECT_EQ(gemm(N, N, 0, 3, 2, 0, 2, 1), CUBLAS_STATUS_INVALID_VALUE);  // lda < max(1, m)
  EXPECT_EQ(gemm(N, N, -1, 3, 2, 4, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(N, N, 4, -1, 2, 4, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(N, N, 4, 3, -1, 4, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(static_cast<cublasOperation_t>(3), N, 4, 3, 2, 4, 2, 4),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemm_64(blas_, N, N, 1, 1, 1, nullptr, A.get(), 1, B.get(), 1, &one, C.get(), 1),
            CUBLAS_STATUS_INVALID_VALUE);
  // Valid for cuBLAS, beyond the emulator's 32-bit Fortran BLAS.
  EXPECT_EQ(gemm(N, N, 1, 1, 1, int64_t{INT_MAX} + 1, 1, 1), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasDgemm(nullptr, N, N, 1, 1, 1, &one, A.get(), 1, B.get(), 1, &one, C.get(), 1),
            CUBLAS_STATUS_NOT_INITIALIZED);

  auto syrk = [&](cublasFillMode_t uplo, cublasOperation_t t, int64_t n, int64_t k, int64_t lda,
                  int64_t ldc) {
    return cublasDsyrk_64(blas_, uplo, t, n, k, &one, A.get(), lda, &one, C.get(), ldc);
  };
  const auto L = CUBLAS_FILL_MODE_LOWER;
  EXPECT_EQ(syrk(L, N, 4, 2, 4, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(syrk(L, N, 4, 2, 3, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < n
  EXPECT_EQ(syrk(L, T, 4, 2, 2, 4), CUBLAS_STATUS_SUCCESS);        // A stored k x n
  EXPECT_EQ(syrk(L, T, 4, 2, 1, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  EXPECT_EQ(syrk(L, N, 4, 2, 4, 3), CUBLAS_STATUS_INVALID_VALUE);  // ldc < n
  EXPECT_EQ(syrk(L, N, 0, 2, 0, 0), CUBLAS_STATUS_INVALID_VALUE);  // lda, ldc < max(1, n)
  EXPECT_EQ(syrk(CUBLAS_FILL_MODE_FULL, N, 4, 2, 4, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(syrk(L, N, -1, 2, 4, 4), CUBLAS_STATUS_INVALID_VALUE);
  sync();

  // A destroyed handle is not initialised.
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetStream(h, stream_), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cublasGetStream(blas_, &s), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(s, stream_);

  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED), "CUBLAS_STATUS_NOT_SUPPORTED");
  EXPECT_STREQ(cublasGetStatusString(CUBLAS_STATUS_SUCCESS), "success");
  EXPECT_EQ(int{CUBLAS_STATUS_EXECUTION_FAILED}, 13);
  EXPECT_EQ(int{CUSOLVER_STATUS_INVALID_WORKSPACE}, 31);
}

// ---- cuSOLVER -----------------------------------------------------------------------------------

/// A symmetric positive-definite n x n matrix (column-major, leading dimension ld, padding kPad).
std::vector<double> spd(int n, int ld) {
  const std::vector<double> g = values<double>(n * n, 11);
  std::vector<double> a(ld * n, kPad);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      double s = i == j ? n : 0;
      for (int l = 0; l < n; ++l) s += g[l * n + i] * g[l * n + j];
      a[j * ld + i] = s;
    }
  }
  return a;
}

TEST_F(EmuBlas, PotrfThenPotrsSolves) {
  const int n = 4, lda = 6, nrhs = 2, ldb = 5;
  for (const auto uplo : {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
    const std::vector<double> a = spd(n, lda);
    std::vector<double> b = values<double>(ldb * nrhs, 12);
    DeviceArray<double> A(a), B(b);
    DeviceArray<int> info(std::vector<int>{-1});
    int lwork = 0;
    ASSERT_EQ(cusolverDnDpotrf_bufferSize(solver_, uplo, n, A.get(), lda, &lwork),
              CUSOLVER_STATUS_SUCCESS);
    ASSERT_GE(lwork, 1);
    DeviceArray<double> work(lwork);
    EXPECT_EQ(cusolverDnDpotrf(solver_, uplo, n, A.get(), lda, work.get(), lwork - 1, info.get()),
              CUSOLVER_STATUS_INVALID_VALUE);
    ASSERT_EQ(cusolverDnDpotrf(solver_, uplo, n, A.get(), lda, work.get(), lwork, info.get()),
              CUSOLVER_STATUS_SUCCESS);
    sync();
    EXPECT_EQ(info.download()[0], 0);
    // The work array holds garbage after the call.
    for (const double w : work.download()) EXPECT_TRUE(std::isnan(w));
    ASSERT_EQ(cusolverDnDpotrs(solver_, uplo, n, nrhs, A.get(), lda, B.get(), ldb, info.get()),
              CUSOLVER_STATUS_SUCCESS);
    sync();
    EXPECT_EQ(info.download()[0], 0);
    const std::vector<double> x = B.download();
    for (int r = 0; r < nrhs; ++r) {
      for (int i = 0; i < n; ++i) {
        double ax = 0;
        for (int j = 0; j < n; ++j) ax += a[j * lda + i] * x[r * ldb + j];
        EXPECT_NEAR(ax, b[r * ldb + i], 1e-12) << "uplo=" << uplo;
      }
      EXPECT_EQ(x[r * ldb + n], b[r * ldb + n]);  // padding untouched
    }
  }
  // Float, 1 x 1.
  DeviceArray<float> A(std::vector<float>{9}), B(std::vector<float>{6}), work(1);
  DeviceArray<int> info(1);
  ASSERT_EQ(
      cusolverDnSpotrf(solver_, CUBLAS_FILL_MODE_LOWER, 1, A.get(), 1, work.get(), 1, info.get()),
      CUSOLVER_STATUS_SUCCESS);
  ASSERT_EQ(
      cusolverDnSpotrs(solver_, CUBLAS_FILL_MODE_LOWER, 1, 1, A.get(), 1, B.get(), 1, info.get()),
      CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(A.download()[0], 3.0f);
  EXPECT_FLOAT_EQ(B.download()[0], 6.0f / 9.0f);
}

TEST_F(EmuBlas, PotrfOfANonPositiveDefiniteMatrixReportsTheMinorInDevInfo) {
  // The leading 2 x 2 minor [[1, 2], [2, 1]] has determinant -3.
  DeviceArray<double> A(std::vector<double>{1, 2, 0, 2, 1, 0, 0, 0, 1}), work(3);
  DeviceArray<int> info(1);
  ASSERT_EQ(
      cusolverDnDpotrf(solver_, CUBLAS_FILL_MODE_LOWER, 3, A.get(), 3, work.get(), 3, info.get()),
      CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(info.download()[0], 2);
}

TEST_F(EmuBlas, SyevdFindsAKnownSpectrumAscending) {
  // A = H diag(4, 1, 3, 2) H with the Householder reflection H = I - 2 v v^T / (v^T v).
  const int n = 4, lda = 5;
  const double d[n] = {4, 1, 3, 2}, v[n] = {1, -2, 0.5, 3};
  double vv = 0;
  for (const double x : v) vv += x * x;
  auto h = [&](int i, int j) { return (i == j ? 1.0 : 0.0) - 2 * v[i] * v[j] / vv; };
  std::vector<double> a(lda * n, kPad);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int l = 0; l < n; ++l) s += h(i, l) * d[l] * h(l, j);
      a[j * lda + i] = s;
    }
  }
  for (const auto jobz : {CUSOLVER_EIG_MODE_VECTOR, CUSOLVER_EIG_MODE_NOVECTOR}) {
    DeviceArray<double> A(a), W(n);
    DeviceArray<int> info(1);
    int lwork = 0;
    ASSERT_EQ(cusolverDnDsyevd_bufferSize(solver_, jobz, CUBLAS_FILL_MODE_UPPER, n, A.get(), lda,
                                          W.get(), &lwork),
              CUSOLVER_STATUS_SUCCESS);
    DeviceArray<double> work(lwork);
    EXPECT_EQ(cusolverDnDsyevd(solver_, jobz, CUBLAS_FILL_MODE_UPPER, n, A.get(), lda, W.get(),
                               work.get(), lwork - 1, info.get()),
              CUSOLVER_STATUS_INVALID_VALUE);
    ASSERT_EQ(cusolverDnDsyevd(solver_, jobz, CUBLAS_FILL_MODE_UPPER, n, A.get(), lda, W.get(),
                               work.get(), lwork, info.get()),
              CUSOLVER_STATUS_SUCCESS);
    sync();
    EXPECT_EQ(info.download()[0], 0);
    const std::vector<double> w = W.download();
    for (int i = 0; i < n; ++i) EXPECT_NEAR(w[i], i + 1, 1e-13);
    if (jobz == CUSOLVER_EIG_MODE_NOVECTOR) continue;
    const std::vector<double> q = A.download();
    for (int j = 0; j < n; ++j) {  // A q_j = w_j q_j, |q_j| = 1
      double norm = 0;
      for (int i = 0; i < n; ++i) {
        double aq = 0;
        for (int l = 0; l < n; ++l) aq += a[l * lda + i] * q[j * lda + l];
        EXPECT_NEAR(aq, w[j] * q[j * lda + i], 1e-12);
        norm += q[j * lda + i] * q[j * lda + i];
      }
      EXPECT_NEAR(norm, 1, 1e-13);
    }
  }
  // Float, and its query.
  DeviceArray<float> A(std::vector<float>{2, 1, 1, 2}), W(2);
  DeviceArray<int> info(1);
  int lwork = 0;
  ASSERT_EQ(cusolverDnSsyevd_bufferSize(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER,
                                        2, A.get(), 2, W.get(), &lwork),
            CUSOLVER_STATUS_SUCCESS);
  DeviceArray<float> work(lwork);
  ASSERT_EQ(cusolverDnSsyevd(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, 2, A.get(),
                             2, W.get(), work.get(), lwork, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_NEAR(W.download()[0], 1.0f, 1e-6);
  EXPECT_NEAR(W.download()[1], 3.0f, 1e-6);
}

TEST_F(EmuBlas, GeqrfThenOrmqrGivesQTransposeAEqualsR) {
  const int m = 7, n = 4, lda = 9, ldc = 8;
  const std::vector<double> a = values<double>(lda * n, 21);
  std::vector<double> c(ldc * n, kPad);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) c[j * ldc + i] = a[j * lda + i];
  }
  DeviceArray<double> A(a), C(c), tau(n);
  DeviceArray<int> info(std::vector<int>{-1});
  int lwork_qr = 0, lwork_apply = 0;
  ASSERT_EQ(cusolverDnDgeqrf_bufferSize(solver_, m, n, A.get(), lda, &lwork_qr),
            CUSOLVER_STATUS_SUCCESS);
  ASSERT_EQ(cusolverDnDormqr_bufferSize(solver_, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, m, n, n, A.get(),
                                        lda, tau.get(), C.get(), ldc, &lwork_apply),
            CUSOLVER_STATUS_SUCCESS);
  ASSERT_GE(lwork_qr, 1);
  ASSERT_GE(lwork_apply, 1);
  const int lwork = std::max(lwork_qr, lwork_apply);
  DeviceArray<double> work(lwork);
  EXPECT_EQ(cusolverDnDgeqrf(solver_, m, n, A.get(), lda, tau.get(), work.get(), lwork_qr - 1,
                             info.get()),
            CUSOLVER_STATUS_INVALID_VALUE);
  ASSERT_EQ(cusolverDnDgeqrf(solver_, m, n, A.get(), lda, tau.get(), work.get(), lwork, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  EXPECT_EQ(cusolverDnDormqr(solver_, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, m, n, n, A.get(), lda,
                             tau.get(), C.get(), ldc, work.get(), lwork_apply - 1, info.get()),
            CUSOLVER_STATUS_INVALID_VALUE);
  ASSERT_EQ(cusolverDnDormqr(solver_, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, m, n, n, A.get(), lda,
                             tau.get(), C.get(), ldc, work.get(), lwork, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(info.download()[0], 0);
  const std::vector<double> qr = A.download(), qta = C.download();
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      const double r = i <= j ? qr[j * lda + i] : 0.0;  // R: the upper triangle of geqrf's A
      EXPECT_NEAR(qta[j * ldc + i], r, 1e-13) << i << "," << j;
    }
    EXPECT_EQ(qta[j * ldc + m], kPad);
  }
  // ormqr's own checks: k above the order of Q, OP_C (real ormqr takes N or T).
  int lw = 0;
  EXPECT_EQ(cusolverDnDormqr_bufferSize(solver_, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, m, n, m + 1,
                                        A.get(), lda, tau.get(), C.get(), ldc, &lw),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDormqr_bufferSize(solver_, CUBLAS_SIDE_LEFT, CUBLAS_OP_C, m, n, n, A.get(),
                                        lda, tau.get(), C.get(), ldc, &lw),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgeqrf_bufferSize(solver_, m, n, A.get(), m - 1, &lw),
            CUSOLVER_STATUS_INVALID_VALUE);

  // Float: a 2 x 1 column (3, 4) has R = -5 or 5.
  DeviceArray<float> fa(std::vector<float>{3, 4}), ftau(1);
  ASSERT_EQ(cusolverDnSgeqrf_bufferSize(solver_, 2, 1, fa.get(), 2, &lw), CUSOLVER_STATUS_SUCCESS);
  DeviceArray<float> fwork(lw);
  ASSERT_EQ(cusolverDnSgeqrf(solver_, 2, 1, fa.get(), 2, ftau.get(), fwork.get(), lw, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_NEAR(std::fabs(fa.download()[0]), 5.0f, 1e-6);
}

TEST_F(EmuBlas, GesvdReconstructsAAndRejectsWhatCusolverRejects) {
  const int m = 6, n = 4, lda = 7, ldu = 8, ldvt = 5;
  const std::vector<double> a = values<double>(lda * n, 31);
  int lwork = 0;
  ASSERT_EQ(cusolverDnDgesvd_bufferSize(solver_, m, n, &lwork), CUSOLVER_STATUS_SUCCESS);
  ASSERT_GE(lwork, 1);
  for (const char job : {'S', 'A'}) {
    const int ucols = job == 'A' ? m : n;
    DeviceArray<double> A(a), S(n), U(ldu * ucols), VT(ldvt * n), work(lwork), rwork(n);
    DeviceArray<int> info(1);
    EXPECT_EQ(cusolverDnDgesvd(solver_, job, job, m, n, A.get(), lda, S.get(), U.get(), ldu,
                               VT.get(), ldvt, work.get(), lwork - 1, rwork.get(), info.get()),
              CUSOLVER_STATUS_INVALID_VALUE);
    ASSERT_EQ(cusolverDnDgesvd(solver_, job, job, m, n, A.get(), lda, S.get(), U.get(), ldu,
                               VT.get(), ldvt, work.get(), lwork, rwork.get(), info.get()),
              CUSOLVER_STATUS_SUCCESS);
    sync();
    EXPECT_EQ(info.download()[0], 0);
    const std::vector<double> s = S.download(), u = U.download(), vt = VT.download();
    for (int i = 1; i < n; ++i) EXPECT_GE(s[i - 1], s[i]);
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        double r = 0;
        for (int l = 0; l < n; ++l) r += u[l * ldu + i] * s[l] * vt[j * ldvt + l];
        EXPECT_NEAR(r, a[j * lda + i], 1e-13) << job;
      }
    }
  }
  DeviceArray<double> A(a), S(n), U(ldu * m), VT(ldvt * n), work(lwork);
  DeviceArray<int> info(1);
  auto call = [&](signed char ju, signed char jv, int mm, int nn, int la, int lu, int lv) {
    return cusolverDnDgesvd(solver_, ju, jv, mm, nn, A.get(), la, S.get(), U.get(), lu, VT.get(),
                            lv, work.get(), lwork, nullptr, info.get());
  };
  EXPECT_EQ(call('N', 'N', n, m, lda, ldu, ldvt), CUSOLVER_STATUS_INVALID_VALUE);  // m < n
  EXPECT_EQ(call('X', 'N', m, n, lda, ldu, ldvt), CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(call('N', 'X', m, n, lda, ldu, ldvt), CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(call('O', 'O', m, n, lda, ldu, ldvt), CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(call('S', 'S', m, n, m - 1, ldu, ldvt), CUSOLVER_STATUS_INVALID_VALUE);  // lda
  EXPECT_EQ(call('S', 'S', m, n, lda, m - 1, ldvt), CUSOLVER_STATUS_INVALID_VALUE);  // ldu
  EXPECT_EQ(call('A', 'A', m, n, lda, ldu, n - 1), CUSOLVER_STATUS_INVALID_VALUE);   // ldvt
  EXPECT_EQ(call('N', 'N', m, n, lda, 1, 1), CUSOLVER_STATUS_SUCCESS);               // values only
  sync();
  const std::vector<double> s = S.download();
  for (int i = 1; i < n; ++i) EXPECT_GE(s[i - 1], s[i]);

  // Float, thin.
  DeviceArray<float> fa(std::vector<float>{3, 0, 0, 4}), fs(2), fu(4), fvt(4);
  ASSERT_EQ(cusolverDnSgesvd_bufferSize(solver_, 2, 2, &lwork), CUSOLVER_STATUS_SUCCESS);
  DeviceArray<float> fwork(lwork);
  ASSERT_EQ(cusolverDnSgesvd(solver_, 'S', 'S', 2, 2, fa.get(), 2, fs.get(), fu.get(), 2, fvt.get(),
                             2, fwork.get(), lwork, nullptr, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(fs.download(), (std::vector<float>{4, 3}));
}

TEST_F(EmuBlas, SolverArgumentsCusolverRejectsReturnInvalidValue) {
  DeviceArray<double> A(16), work(16);
  DeviceArray<int> info(1);
  int lwork = 0;
  const auto L = CUBLAS_FILL_MODE_LOWER;
  EXPECT_EQ(cusolverDnDpotrf_bufferSize(solver_, L, -1, A.get(), 1, &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDpotrf_bufferSize(solver_, L, 4, A.get(), 3, &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDpotrf_bufferSize(solver_, CUBLAS_FILL_MODE_FULL, 4, A.get(), 4, &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDpotrf(solver_, L, 4, A.get(), 3, work.get(), 16, info.get()),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDpotrs(solver_, L, 4, 1, A.get(), 4, work.get(), 3, info.get()),
            CUSOLVER_STATUS_INVALID_VALUE);  // ldb < n
  EXPECT_EQ(cusolverDnDpotrs(solver_, L, 4, -1, A.get(), 4, work.get(), 4, info.get()),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDsyevd_bufferSize(solver_, static_cast<cusolverEigMode_t>(2), L, 4, A.get(),
                                        4, work.get(), &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDsyevd_bufferSize(solver_, CUSOLVER_EIG_MODE_VECTOR, L, 4, A.get(), 2,
                                        work.get(), &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgeqrf_bufferSize(solver_, -1, 2, A.get(), 1, &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgesvd_bufferSize(solver_, 2, -1, &lwork), CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDpotrf_bufferSize(nullptr, L, 4, A.get(), 4, &lwork),
            CUSOLVER_STATUS_NOT_INITIALIZED);
  // n = 0: valid, devInfo 0.
  ASSERT_EQ(cusolverDnDpotrf_bufferSize(solver_, L, 0, A.get(), 1, &lwork),
            CUSOLVER_STATUS_SUCCESS);
  EXPECT_GE(lwork, 1);
  ASSERT_EQ(cusolverDnDpotrf(solver_, L, 0, A.get(), 1, work.get(), lwork, info.get()),
            CUSOLVER_STATUS_SUCCESS);
  sync();
  EXPECT_EQ(info.download()[0], 0);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cusolverDnGetStream(solver_, &s), CUSOLVER_STATUS_SUCCESS);
  EXPECT_EQ(s, stream_);
}

// ---- Faults: LAST in this file. A fault is sticky on the device (every later CUDA call returns
// it, as on hardware), so this test clears it with the runtime's test hook when it is done. ----

TEST_F(EmuBlas, ZzHostPointerFaultsAtTheNextSynchronisation) {
  std::vector<double> host_a(4, 1.0);  // pageable host memory: a GPU kernel cannot read it
  DeviceArray<double> B(std::vector<double>{1, 1}), C(2);
  const double one = 1, zero = 0;
  // Accepted at call time (cuBLAS cannot tell); the fault comes when the work runs.
  ASSERT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 2, &one, host_a.data(), 2,
                           B.get(), 2, &zero, C.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorIllegalAddress);
  const std::string message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_NE(message.find("cublasDgemm_64"), std::string::npos) << message;
  EXPECT_NE(message.find("A ("), std::string::npos) << message;
  // Sticky: later calls fail too, and the libraries cannot queue work.
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorIllegalAddress);
  EXPECT_EQ(cublasDgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 2, &one, B.get(), 2, B.get(), 2,
                           &zero, C.get(), 2),
            CUBLAS_STATUS_EXECUTION_FAILED);
  gpulearn_emu_reset_device_for_tests();

  // A devInfo in host memory faults the same way.
  DeviceArray<double> A(std::vector<double>{4}), work(1);
  int host_info = -5;
  ASSERT_EQ(
      cusolverDnDpotrf(solver_, CUBLAS_FILL_MODE_LOWER, 1, A.get(), 1, work.get(), 1, &host_info),
      CUSOLVER_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorIllegalAddress);
  EXPECT_EQ(host_info, -5);
  const std::string solver_message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_NE(solver_message.find("cusolverDnDpotrf: devInfo"), std::string::npos) << solver_message;
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
}

}  // namespace
