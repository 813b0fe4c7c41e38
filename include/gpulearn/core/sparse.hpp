// A non-owning view of a sparse matrix in compressed sparse row (CSR) form, in host or device
// memory: what every sparse path of gpulearn reads (scipy.sparse CSR, CSC and COO inputs arrive
// here as CSR; docs/sparse.md).
//
// Row i's stored entries are values[p] in column indices[p] for p in [indptr[i], indptr[i + 1]).
// indptr holds absolute offsets into values and indices, so a block of rows is the same arrays
// with indptr advanced (block_rows) and indptr[0] need not be 0. Column indices are int32: a
// matrix with 2^31 or more columns is refused where the view is made, never wrapped. Offsets
// are int64, so nnz past 2^31 works. Within a row the indices are distinct; they need not be
// sorted. Views never own memory, and the entries are never written through one.
#pragma once

#include <cstdint>
#include <limits>

#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn {

template <typename T>
struct CsrView {
  const T* values = nullptr;
  const int32_t* indices = nullptr;
  const int64_t* indptr = nullptr;  // rows + 1 offsets
  int64_t rows = 0;
  int64_t cols = 0;
  MemorySpace space = MemorySpace::kHost;

  CsrView() = default;
  /// Checks the shape and the pointers, not the contents (indptr is read only by the backend
  /// that computes; a host view's structure is checked by check_csr_structure).
  CsrView(const T* v, const int32_t* idx, const int64_t* ptr, int64_t r, int64_t c,
          MemorySpace s = MemorySpace::kHost)
      : values(v), indices(idx), indptr(ptr), rows(r), cols(c), space(s) {
    GPULEARN_EXPECTS(rows >= 0 && cols >= 0, "sparse matrix shape must be non-negative, got (",
                     rows, ", ", cols, ")");
    GPULEARN_EXPECTS(cols <= std::numeric_limits<int32_t>::max(), "a sparse matrix with ", cols,
                     " columns has column indices past int32; gpulearn's sparse input takes at "
                     "most 2147483647 columns");
    GPULEARN_EXPECTS(indptr != nullptr || rows == 0, "sparse matrix indptr is null for ", rows,
                     " rows");
  }

  bool empty() const { return rows == 0 || cols == 0; }
  /// Rows [begin, begin + count) as a view of the same arrays.
  CsrView block_rows(int64_t begin, int64_t count) const {
    GPULEARN_ASSERT(begin >= 0 && count >= 0 && begin + count <= rows);
    CsrView v = *this;
    v.indptr = indptr + begin;
    v.rows = count;
    return v;
  }
};

/// Checks a host CSR view's structure: indptr non-decreasing from indptr[0] >= 0, ending at most
/// at `stored` (the length of the values and indices arrays; -1: not known), every column index
/// in [0, cols). Throws InvalidArgument naming the first violation. Returns the number of stored
/// entries, indptr[rows] - indptr[0].
template <typename T>
int64_t check_csr_structure(const CsrView<T>& X, int64_t stored = -1) {
  GPULEARN_EXPECTS(X.space == MemorySpace::kHost, "check_csr_structure reads host memory");
  if (X.rows == 0) return 0;
  // Branch-free passes first (they vectorise: this check runs on every call with sparse input,
  // predict's included); the element-wise loops below only name the first violation.
  bool decreasing = X.indptr[0] < 0;
  for (int64_t i = 0; i < X.rows; ++i) decreasing |= X.indptr[i + 1] < X.indptr[i];
  if (decreasing) {
    GPULEARN_EXPECTS(X.indptr[0] >= 0, "sparse matrix indptr starts at ", X.indptr[0]);
    for (int64_t i = 0; i < X.rows; ++i) {
      GPULEARN_EXPECTS(X.indptr[i + 1] >= X.indptr[i], "sparse matrix indptr decreases at row ",
                       i);
    }
  }
  GPULEARN_EXPECTS(stored < 0 || X.indptr[X.rows] <= stored, "sparse matrix offsets run to ",
                   X.indptr[X.rows], ", past its ", stored, " stored entries");
  const int32_t* idx = X.indices;
  const int64_t begin = X.indptr[0], end = X.indptr[X.rows];
  // Unsigned: a negative index compares as larger than any column count.
  const uint32_t cols = static_cast<uint32_t>(X.cols);
  uint32_t out_of_range = 0;
  for (int64_t p = begin; p < end; ++p) out_of_range |= static_cast<uint32_t>(idx[p]) >= cols;
  if (out_of_range != 0) {
    for (int64_t p = begin; p < end; ++p) {
      GPULEARN_EXPECTS(idx[p] >= 0 && idx[p] < X.cols, "sparse matrix column index ", idx[p],
                       " is out of range for ", X.cols, " columns");
    }
  }
  return end - begin;
}

}  // namespace gpulearn
