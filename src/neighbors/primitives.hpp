// The nearest-neighbour primitives (src/neighbors/nearest_neighbors.cpp drives them),
// implemented by src/neighbors/brute_force_cpu.cpp and cuda/neighbors/{knn,radius_search}.cu
// (sparse_l1: cuda/neighbors/sparse_l1.cu).
// The conventions of src/core/backend.hpp hold. index (n x d) and queries (m x d) live in
// native_space(), any row stride; the metric is a reduced distance (smaller is closer, see
// rdist.hpp). "Exact" below is exact_rdist: computed directly, in double. With exclude_self the
// queries are the index and query i never matches index row i. shift (host, d values, or null)
// is subtracted from every row in the T distances of kSqEuclidean (the driver passes the
// index's mean: |q - x|^2 is shift-invariant, and without it |q|^2 - 2 q.x + |x|^2 cancels
// away every digit for data far from the origin); the exact pass never needs it.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "gpulearn/core/sparse.hpp"
#include "rdist.hpp"

namespace gpulearn::detail {

/// Throws InvalidArgument unless a sparse index may be searched with this metric (the sparse_*
/// primitives' metrics; both backends check it).
inline void require_sparse_metric(Rdist kind) {
  GPULEARN_EXPECTS(kind == Rdist::kSqEuclidean || kind == Rdist::kManhattan ||
                       kind == Rdist::kCosine || kind == Rdist::kNegInnerProduct,
                   "a sparse index is searched with the euclidean, sqeuclidean, manhattan, "
                   "cosine and inner_product metrics only");
}

template <typename T>
class NeighborsPrimitives {
 public:
  virtual ~NeighborsPrimitives() = default;

  /// The k index rows with the smallest reduced distance to each query (1 <= k <= the rows a
  /// query may match): idx and dist (m x k, row-major, contiguous, native_space()). The k are
  /// selected on distances computed in T (a GEMM for the GEMM family), then their exact reduced
  /// distances are written to dist and each row is ordered by (dist, idx).
  virtual void knn(RdistSpec metric, const T* shift, MatrixView<const T> index,
                   MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist,
                   int64_t* idx) = 0;
  /// Every index row whose exact reduced distance to query i is <= bound, in ascending index:
  /// into host vectors, offsets (m + 1; query i's matches are [offsets[i], offsets[i + 1])),
  /// idx and dist (the exact reduced distances). Candidates are screened on distances in T with
  /// a margin covering their rounding (rdist_screen_bound), so none is missed.
  virtual void radius_search(RdistSpec metric, const T* shift, MatrixView<const T> index,
                             MatrixView<const T> queries, double bound, bool exclude_self,
                             std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                             std::vector<T>& dist) = 0;

  // ---- a sparse (CSR) index, searched one tile of t queries at a time ----------------------
  // The driver (nearest_neighbors.cpp) makes each tile dense on the host, Q (t x d, row-major)
  // and its transpose Bt (d x t), and computes the tile's products P (index.rows x t, row-major,
  // native_space()): P = index Bt (SparsePrimitives::multiply) for the GEMM family, sparse_l1
  // for kManhattan. self_offset >= 0: the tile's query c is index row self_offset + c, which it
  // does not match (kneighbors(X=None)); -1: no exclusion. index_sq: |x|^2 of every index row
  // (native_space(), SparsePrimitives::row_norms_sq). Metrics: kSqEuclidean, kManhattan,
  // kCosine, kNegInnerProduct (others throw InvalidArgument). No shift: it would fill the
  // index's zeros.

  /// P (index.rows x t, native) = |x - q|_1 for every index row x and tile query q (the columns
  /// of Bt, host d x t), as |q|_1 + sum over x's entries (|x_j - q_j| - |q_j|), in double.
  virtual void sparse_l1(CsrView<T> index, const T* Bt, int64_t t, MatrixView<T> P) = 0;

  /// The tile's products from sparse queries (queries: the tile's t rows, CSR, native) with the
  /// index transposed (index_t: d x n, CSR, native), in O(entries the query rows meet) rather
  /// than O(nnz of the index) per query: P (n x t) = index Q^T, or for kManhattan |x - q|_1
  /// (index_l1: |x|_1 of each index row, native), each summed in double in the order of the
  /// query's entries. Returns false where the backend has no such pass (the caller then makes
  /// the tile dense and multiplies).
  virtual bool sparse_query_products(RdistSpec metric, CsrView<T> index_t, const T* index_l1,
                                     CsrView<T> queries, MatrixView<T> P) {
    (void)metric, (void)index_t, (void)index_l1, (void)queries, (void)P;
    return false;
  }

  /// The tile's k nearest index rows, as knn: reduced distances in T from P, index_sq and the
  /// queries' norms select the k; their exact reduced distances (exact_rdist of the dense query
  /// row and the index row made dense) are written to dist and idx (t x k, native), each row
  /// ordered by (dist, idx).
  virtual void sparse_knn_tile(RdistSpec metric, CsrView<T> index, const T* index_sq,
                               const T* Q, int64_t t, MatrixView<const T> P, int64_t self_offset,
                               int64_t k, T* dist, int64_t* idx) = 0;

  /// The tile's radius matches, as radius_search (offsets t + 1, host), screened on the reduced
  /// distances in T from P.
  virtual void sparse_radius_tile(RdistSpec metric, CsrView<T> index, const T* index_sq,
                                  const T* Q, int64_t t, MatrixView<const T> P,
                                  int64_t self_offset, double bound,
                                  std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                                  std::vector<T>& dist) = 0;
};

}  // namespace gpulearn::detail
