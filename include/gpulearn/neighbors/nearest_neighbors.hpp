// Exact nearest neighbours by brute force (NearestNeighbors, KNeighborsClassifier,
// KNeighborsRegressor): every query is compared with every indexed row, as scikit-learn's
// algorithm="brute".
//
// The index (n x d) and the queries (m x d) may live in host memory, or in device memory for a
// CUDA context (a CUDA context copies host data to the device once per call). Results follow
// the queries: kneighbors writes its m x k outputs in the queries' memory space; radius results
// come back in host memory.
//
// How (the backend primitives knn and radius_search, src/neighbors/ and cuda/neighbors/):
// distances of the Euclidean family, cosine and inner product by a GEMM (|q|^2 - 2 q.x + |x|^2),
// the others by a direct kernel, over tiles of queries and of the index, so that neither the
// m x n distance matrix nor the index need fit in memory at once; a top-k selection per query
// merged across the index tiles. The selected pairs' distances are then recomputed directly
// (accumulated in double) and the neighbours ordered by (distance, index): ties go to the
// smaller index, and rounding in the GEMM never leaves a negative distance or a wrong order
// among the returned neighbours.
//
// Throws InvalidArgument for bad shapes or parameters (k outside [1, n], or [1, n - 1] when
// excluding self), NaN/inf, data whose distances overflow, data in device memory on a CPU
// context; OutOfMemory and DeviceError from the CUDA backend.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::neighbors {

enum class Metric {
  kMinkowski,    // (sum_l |q_l - x_l|^p)^(1/p); p = 1, 2, infinity are the three below
  kEuclidean,    // sqrt(sum_l (q_l - x_l)^2)
  kSqEuclidean,  // sum_l (q_l - x_l)^2
  kManhattan,    // sum_l |q_l - x_l|
  kChebyshev,    // max_l |q_l - x_l|
  kCosine,       // 1 - q.x / (|q| |x|), clipped to [0, 2]; 1 when either vector is zero (as
                 // scikit-learn's cosine_distances)
  kInnerProduct  // q.x, a similarity: neighbours are the largest inner products, returned in
                 // decreasing order (cuML's and FAISS's convention); not for radius queries
};

struct NeighborsParams {
  Metric metric = Metric::kMinkowski;
  /// Minkowski's power: p > 0 (below 1 it is not a metric, but brute force does not mind);
  /// infinity gives Chebyshev. Read for kMinkowski only.
  double p = 2;
};

/// The k nearest indexed rows of each query: distances (m x k) and indices (m x k, int64),
/// nearest first, in the queries' memory space. exclude_self: the queries are the index itself
/// (same rows), and row i is not a neighbour of itself (scikit-learn's kneighbors(X=None)); a
/// duplicate of row i still is.
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, MatrixView<const T> index,
                MatrixView<const T> queries, int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices);

/// Radius neighbours: for query i, the indexed rows at distance <= radius are
/// indices[offsets[i] .. offsets[i + 1]), with their distances; ascending index, or ordered by
/// (distance, index) when sort_results.
template <typename T>
struct RadiusNeighbors {
  std::vector<int64_t> offsets;  // m + 1
  std::vector<int64_t> indices;
  std::vector<T> distances;
};

template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params,
                                    MatrixView<const T> index, MatrixView<const T> queries,
                                    double radius, bool exclude_self, bool sort_results);

/// Sparse (CSR) data: the index, the queries, or both may be a CsrView (host memory, or the
/// context's device memory; docs/sparse.md). Results and semantics are the dense functions'
/// (the same neighbours, the same exact distances). A sparse index takes the metrics
/// kEuclidean, kSqEuclidean, kManhattan, kCosine, kInnerProduct and kMinkowski with p = 1 or 2;
/// a dense index with sparse queries takes every metric. How: the queries in tiles made dense
/// (t x d, t within 8 MiB); for a sparse index, each tile's products with the index
/// (n x t, within 64 MiB: X Q^T for the GEMM family, an L1 pass for Manhattan; on the CPU,
/// sparse queries meet only the index entries in their own columns, through the index
/// transposed, O(nnz) once per call) then the top-k selection and the exact pass of the dense
/// search; for a dense index, each tile is searched as dense queries. Memory
/// O(nnz + n t + d t + output); X is never made dense. exclude_self
/// (CSR to CSR only): queries must be the index view itself. Throws as the dense functions, and
/// InvalidArgument for another metric with a sparse index or a malformed host CSR; on CUDA,
/// Unsupported until the CUDA sparse primitives exist.
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index, CsrView<T> queries,
                int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices);
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                MatrixView<const T> queries, int64_t k, MatrixView<T> distances,
                MatrixView<int64_t> indices);
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, MatrixView<const T> index,
                CsrView<T> queries, int64_t k, MatrixView<T> distances,
                MatrixView<int64_t> indices);
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                                    CsrView<T> queries, double radius, bool exclude_self,
                                    bool sort_results);
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                                    MatrixView<const T> queries, double radius,
                                    bool sort_results);
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params,
                                    MatrixView<const T> index, CsrView<T> queries, double radius,
                                    bool sort_results);

}  // namespace gpulearn::neighbors
