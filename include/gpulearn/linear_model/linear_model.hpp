// Ordinary least squares (LinearRegression) and ridge regression (Ridge).
//
// Both fit  min_{coef, intercept} sum_i w_i ||y_i - coef x_i - intercept||^2 + alpha ||coef||^2
// (alpha = 0 for LinearRegression) for one or several targets, on the device of the Context.
// X (n x d), Y (n x k) and sample_weight (n, or empty for unit weights) may live in host memory,
// or in device memory for a CUDA context; a CUDA context streams host data in row chunks.
//
// Solvers (written once, src/linear_model/least_squares.cpp):
// - Gram path: the centred, weighted Gram matrix Xc^T W Xc accumulated over row chunks (SYRK),
//   then Cholesky, accepted when its relative pivots show a well-conditioned system, or an
//   eigendecomposition (Ridge with one alpha per target, or a Cholesky refused).
// - Rank-revealing path: a chunked QR of W^1/2 Xc, then an SVD of its R factor; gives the
//   minimum-norm least-squares solution for rank-deficient or ill-conditioned X, as
//   scipy.linalg.lstsq does for scikit-learn.
// LinearRegression takes the Gram path for tall X whose spectrum lstsq would keep whole and
// whose Cholesky is accepted; Ridge takes it unless solver is kSvd, X is wide (n <= d), or the
// system is singular (alpha = 0 with rank-deficient X). X and y are scaled by exact powers of
// two first, so extreme magnitudes neither overflow nor underflow.
//
// Throws InvalidArgument for bad shapes, NaN/inf, negative weights or alpha, data in device
// memory on a CPU context; Unsupported for options not implemented; DeviceError/OutOfMemory
// from the CUDA backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/linear_data.hpp"

namespace gpulearn::linear_model {

struct LinearRegressionParams {
  /// Whether to fit an intercept (centre X and y with their weighted means first).
  bool fit_intercept = true;
  /// Singular values of the centred X below tol * (largest) count as zero: scipy.linalg.lstsq's
  /// cond, as in scikit-learn >= 1.9.
  double tol = 1e-6;
  /// Constrain coefficients to be non-negative. Not implemented: true throws Unsupported.
  bool positive = false;
};

enum class RidgeSolver {
  kAuto,      // Gram + Cholesky; the rank-revealing path when the Gram system is singular
  kCholesky,  // as kAuto (scikit-learn's "cholesky")
  kSvd,       // the rank-revealing path: QR of X, then SVD of R (scikit-learn's "svd")
  // Matrix-free conjugate gradients on the centred normal equations, for sparse X only
  // (sparse_ridge_fit); kLsqr runs the same iteration (both converge to the same solution).
  kSparseCg,
  kLsqr,
};

struct RidgeParams {
  /// Regularisation strength: one value for every target, or one per target. Each >= 0.
  std::vector<double> alpha = {1.0};
  /// Whether to fit an intercept.
  bool fit_intercept = true;
  RidgeSolver solver = RidgeSolver::kAuto;
  /// Constrain coefficients to be non-negative. Not implemented: true throws Unsupported.
  bool positive = false;
  /// The iterative solvers' (kSparseCg, kLsqr) relative residual tolerance and iteration
  /// limit (<= 0: 10 x n_features, scipy's cg default). The direct solvers ignore both.
  double tol = 1e-4;
  int64_t max_iter = 0;
};

/// A fitted linear model, in host memory.
template <typename T>
struct LinearModel {
  int64_t n_features = 0;
  int64_t n_targets = 0;
  std::vector<T> coef;       // n_targets x n_features, row-major
  std::vector<T> intercept;  // n_targets (zeros without fit_intercept)
  /// Effective rank of W^1/2 Xc and its singular values, descending (LinearRegression only;
  /// rank -1 and no singular values for Ridge).
  int64_t rank = -1;
  std::vector<T> singular_values;
  /// The path that produced coef: "cholesky", "eigh" (Ridge), "svd" or "sparse_cg".
  std::string solver;
  /// Iterations per target of an iterative solver (empty for the direct ones).
  std::vector<int64_t> n_iter;
};

/// Fits ordinary least squares. Y is n x k (a 1-D y is the n x 1 column view).
template <typename T>
LinearModel<T> linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                     MatrixView<const T> X, MatrixView<const T> Y,
                                     VectorView<const T> sample_weight = {});

/// Fits ridge regression. Y is n x k; params.alpha has 1 or k entries.
template <typename T>
LinearModel<T> ridge_fit(Context& ctx, const RidgeParams& params, MatrixView<const T> X,
                         MatrixView<const T> Y, VectorView<const T> sample_weight = {});

/// The same two fits over data given by its reductions (linear_data.hpp): the drivers the
/// functions above run, over local_linear_data(ctx, X, Y, w). ctx is where the driver's small
/// dense algebra runs (d x d factorisations); the passes over the data run where data makes
/// them. Results equal the overloads above for the same reductions.
template <typename T>
LinearModel<T> linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                     LinearData<T>& data);
template <typename T>
LinearModel<T> ridge_fit(Context& ctx, const RidgeParams& params, LinearData<T>& data);

/// out (n x k) = X coef^T + intercept. out must live in the memory space X lives in; on a CUDA
/// context both may be host or device memory. Returns once out is written (also on a device).
template <typename T>
void linear_predict(Context& ctx, const LinearModel<T>& model, MatrixView<const T> X,
                    MatrixView<T> out);

/// Ridge on a sparse X (CSR, where ctx's backend computes), Y n x k, w n or empty: the
/// direct solvers over sparse_linear_data (linear_data.hpp: the Gram system, at most
/// kSparseMaxGramFeatures features) for kAuto, kCholesky and kSvd when d is within that bound;
/// matrix-free conjugate gradients for kSparseCg and kLsqr, and for kAuto beyond it: each
/// iteration one product X V and one X^T W U (k targets at once), centring implicit, memory
/// O(nnz + (n + d) k). Throws as ridge_fit does.
template <typename T>
LinearModel<T> sparse_ridge_fit(Context& ctx, const RidgeParams& params, CsrView<T> X,
                                MatrixView<const T> Y, VectorView<const T> sample_weight = {});

/// Ordinary least squares on a sparse X: the least-squares driver over sparse_linear_data up to
/// kSparseMaxGramFeatures features; beyond, conjugate gradients on the centred normal
/// equations from zero (the minimum-norm solution, as scikit-learn's LSQR for sparse X), to a
/// normal-equations residual of params.tol (tol <= 0 or >= 1: 1e-6) of its start, at most
/// 10 x n_features iterations; then rank and singular_values are not computed (rank -1, as
/// scikit-learn sets neither for sparse X) and solver is "sparse_cg".
template <typename T>
LinearModel<T> sparse_linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                            CsrView<T> X, MatrixView<const T> Y,
                                            VectorView<const T> sample_weight = {});

/// The same prediction for a sparse X (CSR, where ctx's backend computes; out n x k there):
/// X coef^T + intercept from the stored entries only. Throws as the dense overload does.
template <typename T>
void linear_predict(Context& ctx, const LinearModel<T>& model, CsrView<T> X, MatrixView<T> out);

}  // namespace gpulearn::linear_model
