// Principal component analysis (PCA), as scikit-learn's PCA.
//
// Fits the principal axes of X (n x d) centred on its mean, on the device of the Context. X may
// live in host memory, or in device memory for a CUDA context (a CUDA context streams host data
// in row chunks). Written once for every backend (src/decomposition/pca.cpp); the solvers:
// - kCovarianceEigh: the d x d covariance from centred row chunks (SYRK; the mean is exact, so no
//   X^T X - n m m^T cancellation), then a symmetric eigensolver. One pass over X.
// - kFull: the exact SVD of the centred X, as the SVD of the R factor of a chunked QR. The most
//   accurate; sklearn's "arpack" maps here (an exact solver; its n_components rules kept).
// - kRandomized: Halko et al.'s randomized SVD with power iterations, run on the feature side:
//   each iteration is one pass over X computing Xc^T (Xc Z) for a d x l basis Z, orthonormalised
//   on the host. From the same start matrix it spans the same subspace as scikit-learn's
//   randomized_svd, so with scikit-learn's random draw (see PcaParams::random_start) the results
//   agree to rounding.
// - kAuto picks as scikit-learn >= 1.5 does (covariance_eigh for d <= 1000 and n >= 10 d; full
//   for max(n, d) <= 500 or "mle"; randomized for 1 <= n_components < 0.8 min(n, d); else full).
// Component signs follow scikit-learn's svd_flip(u_based_decision=False): the largest |entry| of
// each component is positive. X is scaled by an exact power of two first, so extreme magnitudes
// neither overflow nor underflow. float32 input is reduced in float32 per chunk; the randomized
// products are summed over chunks in double.
//
// Throws InvalidArgument for bad shapes or parameters (scikit-learn's messages where it has
// them), NaN/inf, fewer than 2 samples, data in device memory on a CPU context; DeviceError and
// OutOfMemory from the CUDA backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"

namespace gpulearn::decomposition {

enum class PcaSolver { kAuto, kFull, kCovarianceEigh, kRandomized, kArpack };

/// scikit-learn's n_components: None (all), an int, a float in (0, 1) or "mle".
struct NComponents {
  enum class Kind { kAll, kCount, kVarianceFraction, kMle };
  Kind kind = Kind::kAll;
  int64_t count = 0;    // kCount: the number of components, 0 <= count <= min(n, d)
  double fraction = 0;  // kVarianceFraction: keep the fewest components explaining more than this

  static NComponents all() { return {}; }
  static NComponents of(int64_t k) { return {Kind::kCount, k, 0}; }
  static NComponents variance_fraction(double f) { return {Kind::kVarianceFraction, 0, f}; }
  static NComponents mle() { return {Kind::kMle, 0, 0}; }
};

struct PcaParams {
  NComponents n_components;
  /// Whether transform divides the projections by sqrt(explained_variance) (unit variance).
  bool whiten = false;
  PcaSolver svd_solver = PcaSolver::kAuto;
  /// ARPACK's tolerance; accepted for compatibility (arpack maps to the exact solver).
  double tol = 0.0;
  /// Power iterations of the randomized solver; -1: 7 when n_components < 0.1 min(n, d), else 4.
  int iterated_power = -1;
  /// Extra random vectors of the randomized solver (l = n_components + n_oversamples).
  int64_t n_oversamples = 10;
  /// Seed of gpulearn's own Gaussian draw of the randomized start, used when random_start is
  /// empty.
  uint64_t random_state = 0;
  /// The randomized solver's start matrix, row-major: d x l for n >= d, n x l for n < d (the
  /// sides scikit-learn's randomized_svd draws on). Empty: drawn from random_state.
  std::vector<double> random_start;
};

/// A fitted PCA, in host memory. k = n_components.
template <typename T>
struct PcaModel {
  int64_t n_features = 0;
  int64_t n_samples = 0;
  int64_t n_components = 0;
  std::vector<T> components;                // k x d, row-major, orthonormal rows
  std::vector<T> explained_variance;        // k, descending
  std::vector<T> explained_variance_ratio;  // k
  std::vector<T> singular_values;           // k
  std::vector<T> mean;                      // d
  double noise_variance = 0;                // mean variance of the dropped components
  bool whiten = false;
  /// The solver that ran: "full", "covariance_eigh", "randomized" or "arpack" (run as "full").
  std::string solver;
  /// k x d, or empty: where the randomized solver's U S (scikit-learn's fit_transform of the
  /// training data) is not the projection on components (n >= d), (X - mean) times this
  /// matrix's transpose is U S; pca_transform with these rows as components gives
  /// fit_transform's result. Not part of the fitted model (transform never reads it).
  std::vector<T> fit_transform_components;
};

/// The solver pca_fit runs for n x d data: params.svd_solver, or scikit-learn's choice for kAuto.
PcaSolver pca_resolve_solver(const PcaParams& params, int64_t n, int64_t d);

template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, MatrixView<const T> X);

/// The same fit over X's reductions (spectral_data.hpp): the driver the MatrixView overload runs
/// on LocalSpectralData(ctx, X), and a distributed fit on its blocks. ctx runs only the d x d
/// algebra (a CPU context for a distributed fit); the passes run wherever X's implementation
/// runs them.
template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, SpectralData<T>& X);

/// The same fit on a CSR X (gpulearn/core/sparse.hpp) over SparseSpectralData, centring
/// implicitly and never densifying X: scikit-learn's sparse rules (svd_solver "arpack" or
/// "covariance_eigh"; "auto" runs "arpack"; "full" and "randomized" throw InvalidArgument).
/// "arpack" iterates on the implicitly centred products (started from the d x d Gram matrix's
/// eigenvectors for d <= 2048, else from a Gaussian draw).
/// Throws Unsupported where the backend has no sparse primitives.
template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, CsrView<T> X);

/// out (n x k) = (X - mean) components^T, divided by sqrt(explained_variance) when whitening
/// (clipped below at machine epsilon, as scikit-learn). out must live where X lives.
template <typename T>
void pca_transform(Context& ctx, const PcaModel<T>& model, MatrixView<const T> X,
                   MatrixView<T> out);

/// The same projection of a CSR X: X components^T by the sparse product, then the mean's
/// projection subtracted from each row (X is never centred). out in host memory or the
/// backend's native memory.
template <typename T>
void pca_transform(Context& ctx, const PcaModel<T>& model, CsrView<T> X, MatrixView<T> out);

/// out (n x d) = Z components + mean (Z scaled back by sqrt(explained_variance) when whitening).
template <typename T>
void pca_inverse_transform(Context& ctx, const PcaModel<T>& model, MatrixView<const T> Z,
                           MatrixView<T> out);

/// The model's covariance, d x d row-major: components^T diag(explained_variance -
/// noise_variance) components + noise_variance I (scikit-learn's get_covariance).
template <typename T>
std::vector<T> pca_covariance(Context& ctx, const PcaModel<T>& model);

/// The inverse of pca_covariance, by the matrix inversion lemma (scikit-learn's get_precision).
/// Throws InvalidArgument when the covariance is singular (noise_variance 0 with fewer
/// components than features, or a zero explained variance).
template <typename T>
std::vector<T> pca_precision(Context& ctx, const PcaModel<T>& model);

/// out (n, host memory) = each row's log-likelihood under the probabilistic PCA model
/// (scikit-learn's score_samples): -(|L^T (x - mean)|^2 + d log 2 pi - log det P) / 2 with P the
/// precision and L its Cholesky factor.
template <typename T>
void pca_score_samples(Context& ctx, const PcaModel<T>& model, MatrixView<const T> X,
                       VectorView<T> out);

}  // namespace gpulearn::decomposition
