// The sparse primitives: the passes over a CSR matrix (gpulearn/core/sparse.hpp) that the
// families' sparse data classes are written over (the linear models' Gram systems, logistic
// losses, the decompositions' products, k-means' distances, the neighbours' tiles). Implemented
// by src/sparse/sparse_cpu.cpp and cuda/sparse/. The conventions of src/core/backend.hpp hold;
// in addition:
// - X, sample weights w and n-row operands live in the backend's native memory (host for the
//   CPU, device for CUDA): a data class on a CUDA context copies a host X there once, not per
//   pass. B, the results marked host, and idx are host memory. Memory stays O(nnz + output): no
//   primitive makes a dense copy of X.
// - Every reduction over rows is summed in double, over a split of the rows fixed by the shape
//   (never by the thread count), in a fixed order: the same bits with any number of threads.
// - X's structure and values were checked by the caller (indices in range, distinct within a
//   row; values finite where the primitive needs it: only max_abs reads non-finite values).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "../core/backend.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::detail {

template <typename T>
class SparsePrimitives {
 public:
  virtual ~SparsePrimitives() = default;

  /// The largest |X_ij| over the stored entries (0 when none), or +infinity when any stored
  /// value is NaN or +-inf.
  virtual T max_abs(CsrView<T> X) = 0;

  /// sums (host, X.cols doubles) = sum_i w_i X_i: the weighted column sums (w empty: all 1).
  virtual void column_sums(CsrView<T> X, VectorView<const T> w, double* sums) = 0;

  /// sq (X.rows values, the backend's native memory): sq_i = sum_j X_ij^2, summed in double and
  /// rounded to T.
  virtual void row_norms_sq(CsrView<T> X, T* sq) = 0;

  /// gram (host, d x d, both triangles, double) = X^T W X, d = X.cols. O(d^2) memory: the
  /// caller keeps d small enough (the families' data classes choose).
  virtual void gram(CsrView<T> X, VectorView<const T> w, double* gram) = 0;

  /// out (n x l, the backend's native memory, row-major with stride out.ld) = X B for B (host,
  /// d x l, row-major), each entry summed in double and rounded to T.
  virtual void multiply(CsrView<T> X, const T* B, int64_t l, MatrixView<T> out) = 0;

  /// out (host, d x l, double) = X^T W A for A (n x l, row-major with stride A.ld, in the
  /// backend's native memory) and w (n, or empty: all 1).
  virtual void multiply_t(CsrView<T> X, MatrixView<const T> A, VectorView<const T> w,
                          double* out) = 0;

  /// out (host, t x d, row-major) = the rows idx[0..t) of X, dense (idx host, each in [0, n)).
  virtual void gather_rows(CsrView<T> X, const int64_t* idx, int64_t t, T* out) = 0;
};

/// a^T (cols x rows, row-major) of a host matrix a (rows x cols, row-major): a model's k x d
/// coefficients in the d x k layout the products take. Blocked over columns so that reads and
/// writes both stay in cache, and not zero-filled first: these run on every predict call.
template <typename T>
std::unique_ptr<T[]> transposed(const T* a, int64_t rows, int64_t cols) {
  std::unique_ptr<T[]> out(new T[static_cast<size_t>(checked_mul(rows, cols))]);
  constexpr int64_t kBlock = 16;
  for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
    const int64_t c1 = std::min(cols, c0 + kBlock);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = c0; c < c1; ++c) out[c * rows + r] = a[r * cols + c];
    }
  }
  return out;
}

}  // namespace gpulearn::detail
