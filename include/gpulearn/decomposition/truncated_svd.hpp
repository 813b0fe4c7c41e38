// Truncated SVD (TruncatedSVD, latent semantic analysis), as scikit-learn's TruncatedSVD.
//
// The top n_components right singular vectors of X (n x d), not centred, on the device of the
// Context; X may live in host memory, or in device memory for a CUDA context. Written once
// (src/decomposition/truncated_svd.cpp) over the solvers PCA uses (see pca.hpp):
// - kRandomized: the randomized SVD with n_iter power iterations on the feature side, spanning
//   scikit-learn's subspace from the same start matrix.
// - kArpack: the exact SVD (the R factor of a chunked QR, then its SVD), ARPACK's rules on
//   n_components kept.
// Signs follow svd_flip(u_based_decision=False). explained_variance_ is the variance of each
// projected column (ddof 0) and explained_variance_ratio_ its share of X's total variance, as
// scikit-learn computes them.
//
// Throws InvalidArgument for bad shapes or parameters, NaN/inf, data in device memory on a CPU
// context; DeviceError and OutOfMemory from the CUDA backend.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"

namespace gpulearn::decomposition {

enum class TruncatedSvdAlgorithm { kRandomized, kArpack };

struct TruncatedSvdParams {
  int64_t n_components = 2;
  TruncatedSvdAlgorithm algorithm = TruncatedSvdAlgorithm::kRandomized;
  /// Power iterations of the randomized solver.
  int n_iter = 5;
  /// Extra random vectors of the randomized solver.
  int64_t n_oversamples = 10;
  /// Seed of gpulearn's own Gaussian draw, used when random_start is empty.
  uint64_t random_state = 0;
  /// ARPACK's tolerance; accepted for compatibility (arpack runs an exact SVD).
  double tol = 0.0;
  /// The randomized start matrix, row-major, d x l for n >= d, n x l for n < d; empty: drawn.
  std::vector<double> random_start;
};

/// A fitted TruncatedSVD, in host memory. k = n_components.
template <typename T>
struct TruncatedSvdModel {
  int64_t n_features = 0;
  int64_t n_components = 0;
  std::vector<T> components;                // k x d, row-major
  std::vector<T> explained_variance;        // k
  std::vector<T> explained_variance_ratio;  // k
  std::vector<T> singular_values;           // k, descending
};

template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       MatrixView<const T> X);

/// The same fit over X's reductions (spectral_data.hpp; see pca_fit's overload).
template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       SpectralData<T>& X);

/// The same fit on a CSR X (gpulearn/core/sparse.hpp) over SparseSpectralData: never densified
/// (memory O(nnz + (n + d) l)); "arpack" iterates on the products (started from the d x d Gram
/// matrix's eigenvectors for d <= 2048, else from a Gaussian draw). Throws Unsupported where the backend has no sparse primitives.
template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       CsrView<T> X);

/// out (n x k) = X components^T; out must live where X lives.
template <typename T>
void truncated_svd_transform(Context& ctx, const TruncatedSvdModel<T>& model, MatrixView<const T> X,
                             MatrixView<T> out);

/// The same projection of a CSR X by the sparse product; out in host memory or the backend's
/// native memory.
template <typename T>
void truncated_svd_transform(Context& ctx, const TruncatedSvdModel<T>& model, CsrView<T> X,
                             MatrixView<T> out);

/// out (n x d) = Z components.
template <typename T>
void truncated_svd_inverse_transform(Context& ctx, const TruncatedSvdModel<T>& model,
                                     MatrixView<const T> Z, MatrixView<T> out);

}  // namespace gpulearn::decomposition
