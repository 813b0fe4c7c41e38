// Lasso and elastic net (scikit-learn's Lasso and ElasticNet) by coordinate descent.
//
// For each target t, minimises scikit-learn's objective
//   1 / (2 sum_i w_i) sum_i w_i (y_it - coef_t x_i - intercept_t)^2
//     + alpha l1_ratio ||coef_t||_1 + alpha (1 - l1_ratio) / 2 ||coef_t||^2
// (Lasso is l1_ratio = 1), with scikit-learn's coordinate descent: the same soft-thresholding
// update, cyclic or random coordinate order (the random order draws from scikit-learn's own
// generator, so a seed gives scikit-learn's sequence), gap-safe screening, and its stopping rule:
// after a sweep whose largest coefficient change is at most tol times the largest coefficient,
// the duality gap is computed and the fit stops once it is at most tol * sum_i w_i (y_it -
// mean)^2.
//
// Two ways to run it (written once, src/linear_model/coordinate_descent.cpp):
// - Gram (n_samples >= n_features, or forced): the centred, weighted Gram matrix Xc^T W Xc and
//   Xc^T W y are formed once by the backend (SYRK over row chunks: cuBLAS on a CUDA context),
//   then coordinate descent runs on the d x d system on the host, in double: O(d) per update,
//   independent of n_samples.
// - Data (wide X): coordinate descent over a centred double copy of X in host memory (a CUDA
//   context copies X to the host), O(n_samples) per update.
// X (n x d), Y (n x k) and sample_weight (n, or empty) may live in host memory, or in device
// memory for a CUDA context.
//
// Throws InvalidArgument for bad shapes, NaN/inf, negative weights, alpha or l1_ratio out of
// range, a coef_init of the wrong shape; DeviceError/OutOfMemory from the CUDA backend.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace gpulearn::linear_model {

enum class CdSelection {
  kCyclic,  // coordinates in order, every sweep
  kRandom,  // one coordinate drawn at random per step (scikit-learn's rand_r stream)
};

enum class CdPath {
  kAuto,  // Gram when n_samples >= n_features, else data
  kGram,  // always the Gram system (scikit-learn's precompute=True)
  kData,  // always the data
};

struct ElasticNetParams {
  /// Regularisation strength, >= 0.
  double alpha = 1.0;
  /// The L1 share of the penalty, in [0, 1] (1: Lasso).
  double l1_ratio = 0.5;
  /// Whether to fit an intercept (centre X and y with their weighted means first).
  bool fit_intercept = true;
  /// The most sweeps over the coordinates, >= 1.
  int64_t max_iter = 1000;
  /// Stopping tolerance, >= 0 (see above).
  double tol = 1e-4;
  /// Constrain coefficients to be >= 0.
  bool positive = false;
  CdSelection selection = CdSelection::kCyclic;
  /// Per target, the seed of the random order (scikit-learn draws it as
  /// check_random_state(random_state).randint(0, 2**31 - 1)); empty: 1 for every target. Used
  /// only with kRandom.
  std::vector<uint32_t> seeds;
  CdPath path = CdPath::kAuto;
};

/// A fitted elastic net: the linear model, plus per target how the descent ended.
template <typename T>
struct ElasticNetModel : LinearModel<T> {
  /// Sweeps run, per target (0 when the start was already within tolerance).
  std::vector<int64_t> n_iter;
  /// The duality gap reached and the gap it was held to, per target, in units of the objective.
  std::vector<double> dual_gap, gap_tol;
  /// Whether the gap reached its tolerance, per target.
  std::vector<uint8_t> converged;
};

/// Fits an elastic net. Y is n x k; coef_init (k x d row-major, or empty: zeros) starts the
/// descent (scikit-learn's warm_start).
template <typename T>
ElasticNetModel<T> elastic_net_fit(Context& ctx, const ElasticNetParams& params,
                                   MatrixView<const T> X, MatrixView<const T> Y,
                                   VectorView<const T> sample_weight = {},
                                   const std::vector<double>& coef_init = {});

/// The same fit over data given by its reductions (linear_data.hpp), on the Gram system unless
/// the data offers a centred copy (then params.path decides as above); kData on data without
/// one throws Unsupported. The descent itself runs on the host, whatever ctx's device.
template <typename T>
ElasticNetModel<T> elastic_net_fit(Context& ctx, const ElasticNetParams& params,
                                   LinearData<T>& data, const std::vector<double>& coef_init = {});

}  // namespace gpulearn::linear_model
