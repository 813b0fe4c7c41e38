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
};

}  // namespace gpulearn::detail
