// The passes k-means makes over its data, as an interface (KMeansData): the k-means driver
// (src/cluster/kmeans.cpp) is written over it, not over a matrix, so one driver fits one matrix
// (LocalKMeansData, what kmeans_fit(ctx, params, X, ...) builds) and data split across
// processes (gpulearn.dask.KMeans implements the interface in Python with one call per block,
// each a LocalKMeansData over the block's rows).
//
// The per-row state of a fit (each row's label, its distance to its center, its k-means++
// potential and its distances to the current candidates) lives inside the data object, beside
// the rows; the driver only sees what the methods return: reductions (sums in double, in a
// fixed order), a few indices, a few rows. Every row index crossing the interface is global
// (0 .. n_rows() - 1). Centers, shifts and candidates are host arrays in the frame shifted by
// `shift` (null: no shift), as the backend primitives take them (src/cluster/primitives.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::cluster {

/// What one assignment pass returns.
struct KMeansPassStats {
  double inertia = 0;   // sum_i w_i |x_i - s - c_label(i)|^2 (w_i = 1 when not weighted)
  int64_t changed = 0;  // labels that differ from the ones held before the pass
};

/// What the input check measures.
struct KMeansDataRange {
  double max_abs_x = 0;   // largest |x_ij|
  double max_weight = 1;  // largest sample weight (1 without weights)
};

template <typename T>
class KMeansData {
 public:
  virtual ~KMeansData() = default;

  virtual int64_t n_rows() = 0;
  virtual int64_t n_features() = 0;
  virtual bool has_weights() = 0;
  /// Checks that X is finite and the weights finite and non-negative (InvalidArgument in
  /// scikit-learn's words otherwise); returns their ranges.
  virtual KMeansDataRange check() = 0;

  // ---- labels
  /// Every label set to -1 (no cluster): the next assignment counts each row as changed.
  virtual void reset_labels() = 0;
  /// Assigns every row to its nearest of the k centers (ties to the lowest index), updating
  /// the labels; with keep_distances, each row's squared distance to it is kept too (for
  /// largest_distances). sums (k x d) and weights (k), when not null, receive the per-cluster
  /// sums of w_i (x_i - s) and of w_i, in double (sums may be null alone).
  virtual KMeansPassStats assign(const T* shift, const T* centers, int64_t k, bool weighted,
                                 bool keep_distances, double* sums, double* weights) = 0;
  /// The current labels become the fit's result (the best run so far).
  virtual void keep_labels() = 0;

  // ---- k-means++ and k-means|| potentials (pot_i: squared distance to the nearest center)
  /// pot_i = |x_i - s - center|^2 for one center (1 x d).
  virtual void init_potentials(const T* shift, const T* center) = 0;
  /// For t candidates (t x d): keeps D_ic = |x_i - s - cand_c|^2 and returns
  /// out[c] = sum_i w_i min(pot_i, D_ic), in double.
  virtual void candidate_potentials(const T* shift, const T* candidates, int64_t t,
                                    double* out) = 0;
  /// pot_i = min(pot_i, D_ic) for the kept candidate distances' column c.
  virtual void take_candidate(int64_t c) = 0;
  /// sum_i w_i pot_i (by_potentials) or sum_i w_i, in double.
  virtual double total(bool by_potentials) = 0;
  /// pot_i = min(pot_i, distance to the nearest of m candidates (m x d)); overwrites the labels
  /// and the kept distances.
  virtual void lower_potentials(const T* shift, const T* candidates, int64_t m) = 0;
  /// The potentials and candidate distances are no longer needed (their memory may go).
  virtual void release_potentials() = 0;

  // ---- draws and rows
  /// t draws with probability proportional to w_i pot_i (by_potentials) or w_i: idx[s] is the
  /// first i whose running sum reaches u[s] times the total (u in [0, 1)), clipped to n - 1, as
  /// numpy.searchsorted over the cumulative sum.
  virtual void weighted_draws(bool by_potentials, const double* u, int64_t t, int64_t* idx) = 0;
  /// Every i with hash_uniform(seed, i) < scale w_i pot_i, ascending (k-means||).
  virtual std::vector<int64_t> independent_draws(double scale, uint64_t seed) = 0;
  /// The m rows with the largest kept distances, largest first, ties to the lowest index;
  /// values (may be null) receives those distances.
  virtual void largest_distances(int64_t m, int64_t* idx, T* values) = 0;
  /// Rows idx (t of them) of X into out (t x d, host, not shifted); labels and weights (may be
  /// null) receive their labels and weights.
  virtual void rows(const int64_t* idx, int64_t t, T* out, int32_t* labels, double* weights) = 0;
};

/// Per-row state that the caller of a LocalKMeansData keeps between calls (a block of a
/// distributed data set keeps it beside the block): arrays in X's memory space, each null
/// where the call does not use it. candidates is rows x n_candidates.
template <typename T>
struct KMeansRowState {
  int32_t* labels = nullptr;
  int32_t* best_labels = nullptr;
  T* distances = nullptr;
  T* potentials = nullptr;
  T* candidates = nullptr;
  int64_t n_candidates = 0;
};

/// KMeansData over one matrix X (n x d) and weights w (n, or empty), in host memory or, for a
/// CUDA context, in device memory (host data is copied to the device once, on the first pass).
/// Every pass is one call of the context's backend primitives.
template <typename T>
class LocalKMeansData final : public KMeansData<T> {
 public:
  /// The whole data set; its per-row state is owned here, in the backend's native memory.
  /// keep_labels copies the labels into labels_out (n, int32, X's memory space; may be null).
  LocalKMeansData(Context& ctx, MatrixView<const T> X, VectorView<const T> w, int32_t* labels_out);
  /// Rows [offset, offset + X.rows) of a larger data set, whose per-row state the caller keeps
  /// (state's arrays, X's memory space). Indices taken and returned are global. State outside
  /// the backend's native memory (host arrays on a CUDA context) is copied in on first use and
  /// back by flush().
  LocalKMeansData(Context& ctx, MatrixView<const T> X, VectorView<const T> w, int64_t offset,
                  const KMeansRowState<T>& state);
  ~LocalKMeansData() override;
  LocalKMeansData(const LocalKMeansData&) = delete;
  LocalKMeansData& operator=(const LocalKMeansData&) = delete;

  /// Copies state written since construction back to the caller's arrays where they are not
  /// the backend's native memory; a no-op otherwise.
  void flush();

  int64_t n_rows() override;
  int64_t n_features() override;
  bool has_weights() override;
  KMeansDataRange check() override;
  void reset_labels() override;
  KMeansPassStats assign(const T* shift, const T* centers, int64_t k, bool weighted,
                         bool keep_distances, double* sums, double* weights) override;
  void keep_labels() override;
  void init_potentials(const T* shift, const T* center) override;
  void candidate_potentials(const T* shift, const T* candidates, int64_t t, double* out) override;
  void take_candidate(int64_t c) override;
  double total(bool by_potentials) override;
  void lower_potentials(const T* shift, const T* candidates, int64_t m) override;
  void release_potentials() override;
  void weighted_draws(bool by_potentials, const double* u, int64_t t, int64_t* idx) override;
  std::vector<int64_t> independent_draws(double scale, uint64_t seed) override;
  void largest_distances(int64_t m, int64_t* idx, T* values) override;
  void rows(const int64_t* idx, int64_t t, T* out, int32_t* labels, double* weights) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// KMeansData over one CSR matrix X (n x d, gpulearn/core/sparse.hpp) and weights w (n, or
/// empty), host memory or, for a CUDA context, device memory (a host X is copied to the device
/// once). X is never densified and never shifted: with s the driver's shift,
/// |x - s - c|^2 = |x|^2 - 2 x.(s + c) + |s + c|^2, each pass one sparse product X (s + C)^T
/// (SparsePrimitives::multiply, by blocks of rows so that the n x k dot products are never held
/// whole) and the cluster primitives' sparse assignment; the per-cluster sums of x_i - s are
/// the sums of the sparse rows less (sum of weights) s. Per-row state (|x_i|^2, labels,
/// distances, potentials, candidate distances) lives in the backend's native memory.
/// keep_labels copies the labels into labels_out (n, int32, X's memory space; may be null).
template <typename T>
class SparseKMeansData final : public KMeansData<T> {
 public:
  SparseKMeansData(Context& ctx, CsrView<T> X, VectorView<const T> w, int32_t* labels_out);
  ~SparseKMeansData() override;
  SparseKMeansData(const SparseKMeansData&) = delete;
  SparseKMeansData& operator=(const SparseKMeansData&) = delete;

  /// out (n x k, X's memory space) = squared distances of the rows to the k centers (host,
  /// k x d, unshifted): transform's pass.
  void sq_distances(const T* centers, int64_t k, MatrixView<T> out);

  /// check() without the magnitude range, for predict: refuses NaN or infinite stored values
  /// (and bad weights). Where X is in host memory the values are read through the row norms
  /// the distances need anyway (a non-finite value makes its row's norm non-finite), with a
  /// pass of their own only where a norm is not finite.
  void check_finite();

  int64_t n_rows() override;
  int64_t n_features() override;
  bool has_weights() override;
  KMeansDataRange check() override;
  void reset_labels() override;
  KMeansPassStats assign(const T* shift, const T* centers, int64_t k, bool weighted,
                         bool keep_distances, double* sums, double* weights) override;
  void keep_labels() override;
  void init_potentials(const T* shift, const T* center) override;
  void candidate_potentials(const T* shift, const T* candidates, int64_t t, double* out) override;
  void take_candidate(int64_t c) override;
  double total(bool by_potentials) override;
  void lower_potentials(const T* shift, const T* candidates, int64_t m) override;
  void release_potentials() override;
  void weighted_draws(bool by_potentials, const double* u, int64_t t, int64_t* idx) override;
  std::vector<int64_t> independent_draws(double scale, uint64_t seed) override;
  void largest_distances(int64_t m, int64_t* idx, T* values) override;
  void rows(const int64_t* idx, int64_t t, T* out, int32_t* labels, double* weights) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Fits k-means over `data` (the driver every kmeans_fit runs): checks, initialisation
/// (init_centers: host, n_clusters x n_features, read for KMeansInit::kArray only), Lloyd's
/// iterations, the best of n_init runs; the best run's labels are kept by data.keep_labels().
/// The driver's own work is O(k d) host algebra; exceptions thrown by data propagate unchanged.
template <typename T>
KMeansModel<T> kmeans_fit(const KMeansParams& params, KMeansData<T>& data, const T* init_centers);

}  // namespace gpulearn::cluster
