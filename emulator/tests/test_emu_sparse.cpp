// The emulator's cuSPARSE (emulator/src/cusparse.cpp): SpMM against a naive loop in double for
// op(A) = A and A^T, row- and column-major dense matrices with leading dimensions, 32- and 64-bit
// indices, index base one, alpha and beta (beta = 0 never reads C); the arguments cuSPARSE
// rejects; and the faults the emulator raises where a GPU would read out of bounds (offsets not
// starting at the base, host memory).
#include <cuda_runtime.h>
#include <cusparse.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "device_array.hpp"

extern "C" void gpulearn_emu_reset_device_for_tests();

namespace {

using gpulearn_emu_test::DeviceArray;

// A 4 x 3 CSR matrix with an empty row and unsorted indices:
//   [ 1 0 2 ]
//   [ 0 0 0 ]
//   [ 0 3 0 ]
//   [ 4 5 6 ]
const std::vector<int32_t> kOffsets = {0, 2, 2, 3, 6};
const std::vector<int32_t> kIndices = {2, 0, 1, 2, 0, 1};
const std::vector<double> kValues = {2, 1, 3, 6, 4, 5};
constexpr int64_t kRows = 4, kCols = 3, kNnz = 6;
double dense_a(int64_t i, int64_t j) {
  static const double a[4][3] = {{1, 0, 2}, {0, 0, 0}, {0, 3, 0}, {4, 5, 6}};
  return a[i][j];
}

class EmuSparse : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cusparseCreate(&h_), CUSPARSE_STATUS_SUCCESS);
    ASSERT_EQ(cusparseSetStream(h_, stream_), CUSPARSE_STATUS_SUCCESS);
  }
  void TearDown() override {
    EXPECT_EQ(cusparseDestroy(h_), CUSPARSE_STATUS_SUCCESS);
    EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
  }

  // C = alpha op(A) B + beta C through descriptors, the buffer sized by the query.
  template <typename T>
  cusparseStatus_t spmm(cusparseOperation_t op, cusparseConstSpMatDescr_t A, const T* b,
                        int64_t b_rows, int64_t l, int64_t ldb, T* c, int64_t c_rows, int64_t ldc,
                        cusparseOrder_t order, T alpha, T beta) {
    const cudaDataType t = sizeof(T) == 8 ? CUDA_R_64F : CUDA_R_32F;
    cusparseConstDnMatDescr_t B = nullptr;
    cusparseDnMatDescr_t C = nullptr;
    EXPECT_EQ(cusparseCreateConstDnMat(&B, b_rows, l, ldb, b, t, order), CUSPARSE_STATUS_SUCCESS);
    EXPECT_EQ(cusparseCreateDnMat(&C, c_rows, l, ldc, c, t, order), CUSPARSE_STATUS_SUCCESS);
    size_t bytes = 0;
    cusparseStatus_t s = cusparseSpMM_bufferSize(h_, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                                 A, B, &beta, C, t, CUSPARSE_SPMM_ALG_DEFAULT,
                                                 &bytes);
    if (s == CUSPARSE_STATUS_SUCCESS) {
      EXPECT_GT(bytes, 0u);
      DeviceArray<unsigned char> buffer(bytes);
      s = cusparseSpMM(h_, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, A, B, &beta, C, t,
                       CUSPARSE_SPMM_ALG_DEFAULT, buffer.get());
      EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    }
    EXPECT_EQ(cusparseDestroyDnMat(B), CUSPARSE_STATUS_SUCCESS);
    EXPECT_EQ(cusparseDestroyDnMat(C), CUSPARSE_STATUS_SUCCESS);
    return s;
  }

  cudaStream_t stream_ = nullptr;
  cusparseHandle_t h_ = nullptr;
};

TEST_F(EmuSparse, SpMMMatchesNaiveLoopForBothOperationsAndLayouts) {
  DeviceArray<int32_t> off(kOffsets), ix(kIndices);
  DeviceArray<double> val(kValues);
  cusparseConstSpMatDescr_t A = nullptr;
  ASSERT_EQ(cusparseCreateConstCsr(&A, kRows, kCols, kNnz, off.get(), ix.get(), val.get(),
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_SUCCESS);
  const int64_t l = 2;
  for (cusparseOperation_t op : {CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_TRANSPOSE}) {
    for (cusparseOrder_t order : {CUSPARSE_ORDER_ROW, CUSPARSE_ORDER_COL}) {
      const bool t = op == CUSPARSE_OPERATION_TRANSPOSE, row = order == CUSPARSE_ORDER_ROW;
      const int64_t m = t ? kCols : kRows, k = t ? kRows : kCols;
      const int64_t ldb = (row ? l : k) + 1, ldc = (row ? l : m) + 2;
      auto at = [&](int64_t i, int64_t j, int64_t ld) { return row ? i * ld + j : j * ld + i; };
      std::vector<double> b(static_cast<size_t>(row ? k * ldb : l * ldb), 777.0);
      std::vector<double> c(static_cast<size_t>(row ? m * ldc : l * ldc), 777.0);
      for (int64_t i = 0; i < k; ++i)
        for (int64_t x = 0; x < l; ++x) b[at(i, x, ldb)] = 0.5 * i - x;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t x = 0; x < l; ++x) c[at(i, x, ldc)] = i + 10.0 * x;
      DeviceArray<double> B(b), C(c);
      ASSERT_EQ(spmm<double>(op, A, B.get(), k, l, ldb, C.get(), m, ldc, order, 2.0, -1.0),
                CUSPARSE_STATUS_SUCCESS);
      const std::vector<double> got = C.download();
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t x = 0; x < l; ++x) {
          double s = 0;
          for (int64_t j = 0; j < k; ++j) {
            s += (t ? dense_a(j, i) : dense_a(i, j)) * b[at(j, x, ldb)];
          }
          EXPECT_EQ(got[at(i, x, ldc)], 2.0 * s - c[at(i, x, ldc)])
              << "op " << op << " order " << order << " (" << i << ", " << x << ")";
        }
      }
      // The padding between the rows (or columns) and the leading dimension is never written.
      size_t untouched = 0;
      for (size_t p = 0; p < got.size(); ++p) untouched += got[p] == 777.0;
      EXPECT_EQ(untouched, got.size() - static_cast<size_t>(m * l));
    }
  }
  EXPECT_EQ(cusparseDestroySpMat(A), CUSPARSE_STATUS_SUCCESS);
}

TEST_F(EmuSparse, SpMMWith64BitIndicesBaseOneAndBetaZeroIgnoresC) {
  std::vector<int64_t> off64, ix64;
  for (int32_t v : kOffsets) off64.push_back(v + 1);
  for (int32_t v : kIndices) ix64.push_back(v + 1);
  std::vector<float> valf(kValues.begin(), kValues.end());
  DeviceArray<int64_t> off(off64), ix(ix64);
  DeviceArray<float> val(valf);
  cusparseConstSpMatDescr_t A = nullptr;
  ASSERT_EQ(cusparseCreateConstCsr(&A, kRows, kCols, kNnz, off.get(), ix.get(), val.get(),
                                   CUSPARSE_INDEX_64I, CUSPARSE_INDEX_64I, CUSPARSE_INDEX_BASE_ONE,
                                   CUDA_R_32F),
            CUSPARSE_STATUS_SUCCESS);
  DeviceArray<float> B(std::vector<float>{1, 2, 3}), C(kRows);
  C.fill(std::numeric_limits<float>::quiet_NaN());  // beta = 0: never read
  ASSERT_EQ(spmm<float>(CUSPARSE_OPERATION_NON_TRANSPOSE, A, B.get(), kCols, 1, 1, C.get(), kRows,
                        1, CUSPARSE_ORDER_ROW, 1.0f, 0.0f),
            CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(C.download(), (std::vector<float>{7, 0, 6, 32}));
  EXPECT_EQ(cusparseDestroySpMat(A), CUSPARSE_STATUS_SUCCESS);
}

TEST_F(EmuSparse, ArgumentsCusparseRejectsReturnItsStatusAtCallTime) {
  DeviceArray<int32_t> off(kOffsets), ix(kIndices);
  DeviceArray<double> val(kValues), B(kCols * 2), C(kRows * 2);
  DeviceArray<float> Cf(kRows * 2);
  cusparseConstSpMatDescr_t A = nullptr;
  ASSERT_EQ(cusparseCreateConstCsr(&A, kRows, kCols, kNnz, off.get(), ix.get(), val.get(),
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_SUCCESS);
  // Descriptors: a leading dimension below the row length, a null array, a bad index type.
  cusparseConstDnMatDescr_t bad = nullptr;
  EXPECT_EQ(cusparseCreateConstDnMat(&bad, 3, 2, 1, B.get(), CUDA_R_64F, CUSPARSE_ORDER_ROW),
            CUSPARSE_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusparseCreateConstDnMat(&bad, 3, 2, 2, B.get(), CUDA_R_64F, CUSPARSE_ORDER_COL),
            CUSPARSE_STATUS_INVALID_VALUE);
  cusparseConstSpMatDescr_t bad_sp = nullptr;
  EXPECT_EQ(cusparseCreateConstCsr(&bad_sp, kRows, kCols, kNnz, nullptr, ix.get(), val.get(),
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusparseCreateConstCsr(&bad_sp, kRows, kCols, kNnz, off.get(), ix.get(), val.get(),
                                   CUSPARSE_INDEX_16U, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_INVALID_VALUE);
  // SpMM: B with the wrong number of rows, mixed value types, op(B) = B^T.
  EXPECT_EQ(spmm<double>(CUSPARSE_OPERATION_NON_TRANSPOSE, A, B.get(), kCols - 1, 2, 2, C.get(),
                         kRows, 2, CUSPARSE_ORDER_ROW, 1.0, 0.0),
            CUSPARSE_STATUS_INVALID_VALUE);
  EXPECT_EQ(spmm<float>(CUSPARSE_OPERATION_NON_TRANSPOSE, A, reinterpret_cast<float*>(B.get()),
                        kCols, 2, 2, Cf.get(), kRows, 2, CUSPARSE_ORDER_ROW, 1.0f, 0.0f),
            CUSPARSE_STATUS_INVALID_VALUE);
  cusparseConstDnMatDescr_t Bd = nullptr;
  cusparseDnMatDescr_t Cd = nullptr;
  ASSERT_EQ(cusparseCreateConstDnMat(&Bd, kCols, 2, 2, B.get(), CUDA_R_64F, CUSPARSE_ORDER_ROW),
            CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseCreateDnMat(&Cd, kRows, 2, 2, C.get(), CUDA_R_64F, CUSPARSE_ORDER_ROW),
            CUSPARSE_STATUS_SUCCESS);
  const double one = 1, zero = 0;
  size_t bytes = 0;
  EXPECT_EQ(cusparseSpMM_bufferSize(h_, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                    CUSPARSE_OPERATION_TRANSPOSE, &one, A, Bd, &zero, Cd,
                                    CUDA_R_64F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes),
            CUSPARSE_STATUS_NOT_SUPPORTED);
  // No external buffer.
  EXPECT_EQ(cusparseSpMM(h_, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                         &one, A, Bd, &zero, Cd, CUDA_R_64F, CUSPARSE_SPMM_ALG_DEFAULT, nullptr),
            CUSPARSE_STATUS_INVALID_VALUE);
  // A destroyed handle.
  cusparseHandle_t dead = nullptr;
  ASSERT_EQ(cusparseCreate(&dead), CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseDestroy(dead), CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cusparseSpMM_bufferSize(dead, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                    CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, Bd, &zero, Cd,
                                    CUDA_R_64F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes),
            CUSPARSE_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cusparseDestroyDnMat(Bd), CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cusparseDestroyDnMat(Cd), CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cusparseDestroySpMat(A), CUSPARSE_STATUS_SUCCESS);
}

// ---- Faults: LAST in this file (sticky on the device; cleared by the runtime's test hook). ----

TEST_F(EmuSparse, ZzOffsetsNotAtTheBaseAndHostArraysFault) {
  const double one = 1, zero = 0;
  DeviceArray<double> B(std::vector<double>{1, 1, 1}), C(2), buffer(64);
  // A block of rows 2..4 of the matrix above described with its absolute offsets {2, 3, 6}.
  DeviceArray<int32_t> off(std::vector<int32_t>{2, 3, 6}), ix(kIndices);
  DeviceArray<double> val(kValues);
  cusparseConstSpMatDescr_t A = nullptr;
  cusparseConstDnMatDescr_t Bd = nullptr;
  cusparseDnMatDescr_t Cd = nullptr;
  ASSERT_EQ(cusparseCreateConstCsr(&A, 2, kCols, 4, off.get(), ix.get(), val.get(),
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseCreateConstDnMat(&Bd, kCols, 1, 1, B.get(), CUDA_R_64F, CUSPARSE_ORDER_ROW),
            CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseCreateDnMat(&Cd, 2, 1, 1, C.get(), CUDA_R_64F, CUSPARSE_ORDER_ROW),
            CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseSpMM(h_, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                         &one, A, Bd, &zero, Cd, CUDA_R_64F, CUSPARSE_SPMM_ALG_DEFAULT,
                         buffer.get()),
            CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorIllegalAddress);
  const std::string message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_NE(message.find("csrRowOffsets[0] is 2"), std::string::npos) << message;
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cusparseDestroySpMat(A), CUSPARSE_STATUS_SUCCESS);

  // Values in pageable host memory: accepted at call time, a fault when the work runs.
  DeviceArray<int32_t> off0(std::vector<int32_t>{0, 1, 4});
  std::vector<double> host_values = {3, 6, 4, 5};
  ASSERT_EQ(cusparseCreateConstCsr(&A, 2, kCols, 4, off0.get(), ix.get(), host_values.data(),
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F),
            CUSPARSE_STATUS_SUCCESS);
  ASSERT_EQ(cusparseSpMM(h_, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                         &one, A, Bd, &zero, Cd, CUDA_R_64F, CUSPARSE_SPMM_ALG_DEFAULT,
                         buffer.get()),
            CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorIllegalAddress);
  const std::string host_message = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_NE(host_message.find("cusparseSpMM: csrValues"), std::string::npos) << host_message;
  gpulearn_emu_reset_device_for_tests();
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(cusparseDestroySpMat(A), CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cusparseDestroyDnMat(Bd), CUSPARSE_STATUS_SUCCESS);
  EXPECT_EQ(cusparseDestroyDnMat(Cd), CUSPARSE_STATUS_SUCCESS);
}

}  // namespace
