// The spectral core shared by PCA and TruncatedSVD (src/decomposition/pca.cpp,
// truncated_svd.cpp): input checks and scaling, the three ways to the leading singular triplets
// of the (optionally centred) data, scikit-learn's sign rule, and the projections. The passes
// over X are SpectralData's reductions (one MatrixView, or blocks across workers); the algebra
// on their small results (d x l, l x l, d x d) runs on `be`, in host memory, kept in double.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"

namespace gpulearn::detail {

using decomposition::SpectralData;

/// Leading singular values and right singular vectors of Xc = X - 1 mean^T (mean optional).
struct Spectrum {
  int64_t p = 0;           // how many
  std::vector<double> s;   // p, descending, >= 0
  std::vector<double> vt;  // p x d, row-major, orthonormal rows, signs per svd_flip
  double total_sq = -1;    // ||Xc||_F^2 when the solver measured it, else -1
  // p x d, row-major, or empty: rows w with Xc w = u s, the randomized SVD's left singular
  // vectors times their values (scikit-learn's fit_transform), where that is not Xc v (tall X:
  // u lies in the sampled range only). Empty: Xc v is u s.
  std::vector<double> us;
};

/// Checks X for a decomposition fit (at least min_samples rows, 1 column, finite, readable by
/// the backend) and returns the exponent e such that 2^e X has its largest |entry| near 1.
template <typename T>
int checked_fit_scale(SpectralData<T>& X, int64_t min_samples);

/// The column means of X (double sums).
template <typename T>
std::vector<T> column_means(SpectralData<T>& X);

/// All min(n, d) singular triplets, exactly: the R factor of a chunked QR of 2^e Xc, then its SVD.
template <typename T>
Spectrum exact_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp);

/// All d eigenpairs of Xc^T Xc (one SYRK pass), as singular triplets: s = sqrt(max(lambda, 0)).
template <typename T>
Spectrum gram_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp);

/// Sparse data's d up to which arpack_spectrum starts its iteration from the d x d Gram
/// matrix's eigenvectors; above it, from a Gaussian draw. The full eigendecomposition is O(d^3)
/// where the iteration's steps are O(nnz l + d l^2) each: at d = 2000 (TF-IDF, 1e4 rows, 5e4
/// entries, k = 10) Eigen's eigensolver took 15-50 s of a 2-core Xeon, and 64 steps from a
/// Gaussian draw reach the same residual.
inline constexpr int64_t kSparseGramStartMaxCols = 256;

/// The k leading singular triplets of Xc by subspace iteration on Xc^T Xc: a block of
/// l = min(min(n, d), max(2k, k + 20)) vectors (start: d x l orthonormal columns, row-major, or
/// null: a fixed Gaussian draw), one centered_products pass per step, a Rayleigh-Ritz step on
/// the block each time, until every one of the k Ritz pairs has a residual |G v - theta v|
/// below tol theta_1 (tol <= 0: 64 machine epsilons of T), or the residual stops decreasing for
/// 50 steps, or 3000 steps. total_sq is set. O(d l) memory.
template <typename T>
Spectrum iterative_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp, int64_t k,
                            double tol, const std::vector<double>* start);

/// The spectrum svd_solver="arpack" reads (its k leading triplets exact): exact_spectrum for
/// dense data; for sparse data (SpectralData::sparse()) iterative_spectrum, started for
/// d <= kSparseGramStartMaxCols from the Gram matrix's leading eigenvectors (a few steps), else from
/// a Gaussian draw. scipy's svds, which scikit-learn's arpack runs, iterates on X^T X too.
template <typename T>
Spectrum arpack_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp, int64_t k,
                         double tol);

/// out (n x k) = X coef^T + 1 intercept^T for CSR X (coef k x d, intercept k, host), without
/// densifying: the sparse product, then each row shifted. Checks X's d features (scikit-learn's
/// message, naming `model`) and that X is finite. out in host memory or the backend's native
/// memory.
template <typename T>
void sparse_affine(Backend& be, CsrView<T> X, int64_t d, int64_t k, const T* coef,
                   const T* intercept, MatrixView<T> out, const char* model);

/// The randomized solver's inputs (see pca.hpp for the start matrix's shape).
struct RandomizedPlan {
  int64_t k = 0;                               // triplets wanted
  int64_t l = 0;                               // k + oversamples
  int n_iter = 0;                              // power iterations
  const std::vector<double>* start = nullptr;  // empty or null: drawn from seed
  uint64_t seed = 0;
};

/// The k leading triplets by Halko et al.'s randomized SVD, spanning the subspace scikit-learn's
/// randomized_svd spans from the same start (see spectral.cpp). total_sq is set.
template <typename T>
Spectrum randomized_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp,
                             const RandomizedPlan& plan);

/// The row count of the randomized start matrix: d for n >= d, else n (scikit-learn transposes
/// wide data).
inline int64_t randomized_start_rows(int64_t n, int64_t d) { return n < d ? n : d; }

/// Makes the largest |entry| of each row of vt positive (scikit-learn's svd_flip with
/// u_based_decision=False; the first of equal magnitudes decides).
void flip_signs(Spectrum& sp, int64_t d);

}  // namespace gpulearn::detail
