// The k-means primitives (src/cluster/kmeans.cpp drives them), implemented by
// src/cluster/kmeans_cpu.cpp and cuda/cluster/kmeans_{assign,init}.cu. The conventions of
// src/core/backend.hpp hold. X, w and every per-sample array live in the backend's
// native_space(); centers (k x d) and shift (d, may be null: no shift) are host. Distances use
// the expansion |x - s|^2 - 2 (x - s).c + |c|^2 with a GEMM, clamped at 0; the centers are in
// the shifted frame.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "../core/hash_uniform.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::detail {

// Results of one k-means assignment pass.
struct KMeansStepStats {
  double inertia = 0;   // sum_i w_i |x_i - c_label(i)|^2
  int64_t changed = 0;  // labels that differ from the ones passed in
};

template <typename T>
class ClusterPrimitives {
 public:
  virtual ~ClusterPrimitives() = default;

  /// Assigns every row to its nearest center (ties to the lowest index), labels updated in
  /// place (int32, n); when sq_dist is not null it receives each row's squared distance; when
  /// sums is not null, sums (k x d) and weights (k) receive the per-cluster sums of
  /// w_i (x_i - s) and w_i, in double, independent of scheduling. Returns the weighted inertia
  /// and how many labels changed.
  virtual KMeansStepStats kmeans_assign(MatrixView<const T> X, VectorView<const T> w,
                                        const T* shift, const T* centers, int64_t k,
                                        int32_t* labels, T* sq_dist, double* sums,
                                        double* weights) = 0;
  /// out (n x k, native) = squared distances of the rows of X - s to the k centers.
  virtual void sq_distances(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,
                            MatrixView<T> out) = 0;
  /// pot[c] = sum_i w_i min(cur_i, D_ic) for each column c of D (n x t), in double (host).
  virtual void min_potentials(VectorView<const T> cur, MatrixView<const T> D, VectorView<const T> w,
                              double* pot) = 0;
  /// cur_i = min(cur_i, D_ic) for the column c of D.
  virtual void min_update(VectorView<T> cur, MatrixView<const T> D, int64_t c) = 0;
  /// t draws with probability proportional to w_i p_i (p empty: p_i = 1; not both empty):
  /// idx[s] (host) is the first i whose running sum of w_i p_i reaches u[s] * total (u in
  /// [0, 1), host), clipped to n - 1, as numpy.searchsorted over a cumulative sum.
  virtual void weighted_draws(VectorView<const T> p, VectorView<const T> w, const double* u,
                              int64_t t, int64_t* idx) = 0;
  /// Every i with hash_uniform(seed, i) < scale w_i p_i, ascending (k-means||'s independent
  /// sampling; the hash makes both backends draw the same rows).
  virtual std::vector<int64_t> independent_draws(VectorView<const T> p, VectorView<const T> w,
                                                 double scale, uint64_t seed) = 0;
  /// The m indices of the largest p_i, largest first, ties to the lowest index (host idx).
  virtual void largest(VectorView<const T> p, int64_t m, int64_t* idx) = 0;

  // ---- sparse X (SparseKMeansData, src/cluster/kmeans_sparse.cpp): the dot products x_i.c_j
  // come from SparsePrimitives::multiply; these two turn them into distances and assignments.
  /// D (n x k, native) holds x_i.c_j on entry and max(0, x_sq_i - 2 D_ij + c_sq_j) on return,
  /// computed in double and rounded to T; x_sq (n, native), c_sq (k, host, double).
  virtual void dots_to_sq_distances(VectorView<const T> x_sq, const double* c_sq,
                                    MatrixView<T> D) = 0;
  /// Assigns every row of the CSR matrix X (n rows, native) to the column of its smallest
  /// squared distance in D (n x k, native; ties to the lowest index), labels updated in place,
  /// sq_dist (may be null) receiving that distance. sums (k x X.cols, host) and weights (k,
  /// host), each may be null, are *added to*: the per-cluster sums of w_i x_i and of w_i, in
  /// double, each cluster's rows summed in ascending order (independent of scheduling).
  /// Returns the weighted inertia sum_i w_i D_i,label and how many labels changed.
  virtual KMeansStepStats assign_sparse(MatrixView<const T> D, CsrView<T> X, VectorView<const T> w,
                                        int32_t* labels, T* sq_dist, double* sums,
                                        double* weights) = 0;
};

}  // namespace gpulearn::detail
