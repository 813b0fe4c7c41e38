// k-means clustering (KMeans): Lloyd's algorithm with k-means++, random, given or k-means||
// initialisation, as scikit-learn's KMeans.
//
// X (n x d) and sample_weight (n, or empty for unit weights) may live in host memory, or in
// device memory for a CUDA context; a CUDA context copies host data to the device once (k-means
// reads X every iteration). labels (n, int32) must be in the same memory space as X.
//
// Written once for every backend (src/cluster/kmeans.cpp): the data are centred on their mean
// (in every distance, never in a copy) as scikit-learn does for precision; each iteration is one
// pass of the backend's fused assignment (GEMM-expanded distances, argmin, per-cluster sums,
// deterministic); empty clusters take the points farthest from their centers, as in
// scikit-learn. A fixed seed gives the same model twice on the same device.
//
// Throws InvalidArgument for bad shapes or parameters, NaN/inf, negative weights, fewer samples
// than clusters, data in device memory on a CPU context; OutOfMemory and DeviceError from the
// CUDA backend.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::cluster {

enum class KMeansInit {
  kKMeansPlusPlus,  // greedy k-means++ (2 + ln k candidates per center), as scikit-learn
  kRandom,          // n_clusters distinct rows drawn with probability proportional to weight
  kArray,           // the centers given to kmeans_fit
  kParallel,        // k-means|| (Bahmani et al. 2012): a few rounds of independent sampling,
                    // then weighted k-means++ on the sampled candidates; for large k
};

struct KMeansParams {
  int64_t n_clusters = 8;
  KMeansInit init = KMeansInit::kKMeansPlusPlus;
  /// Runs from different initialisations; the one with the lowest inertia is kept.
  int n_init = 1;
  int max_iter = 300;
  /// Convergence when the centers move less than tol times the mean variance of X's features
  /// (scikit-learn's relative tolerance), or when no label changes.
  double tol = 1e-4;
  /// Seed of every random choice (initialisation).
  uint64_t seed = 0;
  /// k-means++ candidates per center; 0: 2 + floor(ln n_clusters), as scikit-learn.
  int n_local_trials = 0;
  /// k-means||: rounds of sampling and the expected number of rows sampled per round, as a
  /// multiple of n_clusters.
  int parallel_rounds = 5;
  double oversampling_factor = 2.0;
};

/// A fitted k-means model, in host memory.
template <typename T>
struct KMeansModel {
  int64_t n_clusters = 0;
  int64_t n_features = 0;
  std::vector<T> centers;  // n_clusters x n_features, row-major
  double inertia = 0;      // sum of the weighted squared distances to the closest center
  int n_iter = 0;          // Lloyd iterations of the best run
  double tol = 0;  // the absolute tolerance used: params.tol times the mean feature variance
};

/// Fits k-means. init_centers (host, n_clusters x n_features) is read for KMeansInit::kArray
/// only; labels (n, int32, X's memory space) receives each row's cluster.
template <typename T>
KMeansModel<T> kmeans_fit(Context& ctx, const KMeansParams& params, MatrixView<const T> X,
                          VectorView<const T> sample_weight, const T* init_centers,
                          int32_t* labels);

/// The closest center of each row into labels (n, int32, X's memory space); returns the
/// weighted inertia (scikit-learn's score is its negative).
template <typename T>
double kmeans_predict(Context& ctx, const KMeansModel<T>& model, MatrixView<const T> X,
                      VectorView<const T> sample_weight, int32_t* labels);

/// out (n x n_clusters, X's memory space) = squared Euclidean distances to the centers
/// (scikit-learn's transform is their square root).
template <typename T>
void kmeans_sq_distances(Context& ctx, const KMeansModel<T>& model, MatrixView<const T> X,
                         MatrixView<T> out);

// ---- Sparse X (CSR, gpulearn/core/sparse.hpp): the same driver over SparseKMeansData
// (kmeans_data.hpp). Distances by |x|^2 - 2 x.c + |c|^2 with the sparse product X C^T, as
// scikit-learn computes them for sparse input (no centring: centring would densify X); X is never
// densified: memory O(nnz + n k_block + k d). X, sample_weight and labels in the same memory
// space; the CUDA backend refuses sparse input (Unsupported) until it has the kernels.

/// Fits k-means on a CSR matrix X (n x d); as the dense kmeans_fit otherwise.
template <typename T>
KMeansModel<T> kmeans_fit(Context& ctx, const KMeansParams& params, CsrView<T> X,
                          VectorView<const T> sample_weight, const T* init_centers,
                          int32_t* labels);

/// The closest center of each row of the CSR matrix X; returns the weighted inertia.
template <typename T>
double kmeans_predict(Context& ctx, const KMeansModel<T>& model, CsrView<T> X,
                      VectorView<const T> sample_weight, int32_t* labels);

/// out (n x n_clusters, X's memory space) = squared distances of the rows of the CSR matrix X
/// to the centers.
template <typename T>
void kmeans_sq_distances(Context& ctx, const KMeansModel<T>& model, CsrView<T> X,
                         MatrixView<T> out);

}  // namespace gpulearn::cluster
