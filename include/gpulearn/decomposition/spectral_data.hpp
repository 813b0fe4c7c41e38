// The data a decomposition fit reads, as the passes the drivers make over it.
//
// pca_fit and truncated_svd_fit are written over these reductions, not over X itself: every
// pass either returns a result whose size does not grow with the number of rows (a maximum,
// means, a d x d Gram matrix, an R factor, d x l products) or, for the randomized solver's start
// on wide data, reads a host matrix with one row per row of X. LocalSpectralData runs them on
// one MatrixView through the Context's backend (what the MatrixView overloads of the fits use);
// a distributed implementation (gpulearn.dask) runs them on blocks of rows where the blocks live
// and combines the partial results, so a distributed fit is the single-machine driver with its
// reductions done across workers.
//
// Every reduction works on Xc = (X - 1 mean^T) * scale, where mean (host, d values) may be null
// (no centring) and scale is a power of two the driver chose (exact). Outputs are host memory,
// row-major.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::decomposition {

template <typename T>
class SpectralData {
 public:
  virtual ~SpectralData() = default;

  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;

  /// The largest |X_ij|, or +infinity when any entry is NaN or +-inf (0 for an empty X). Throws
  /// InvalidArgument when X is in memory the computing backend cannot read.
  virtual T max_abs() = 0;

  /// mean (d) = the column means of X, summed in double.
  virtual void column_means(T* mean) = 0;

  /// gram (d x d, both triangles) = Xc^T Xc.
  virtual void centered_gram(const T* mean, T scale, T* gram) = 0;

  /// The R factor of a QR decomposition of Xc: r x d upper trapezoidal (zeros below the
  /// diagonal written), r = min(rows, cols), row signs not normalised. Returns r.
  virtual int64_t centered_r_factor(const T* mean, T scale, T* r_factor) = 0;

  /// out (d x l, double) = Xc^T (Xc Z) for Z (d x l, host) when Z is not null, else Xc^T Y for Y
  /// (rows x l, host); summed in double over row chunks. Returns ||Xc||_F^2 (double).
  virtual double centered_products(const T* mean, T scale, int64_t l, const T* Z, const T* Y,
                                   double* out) = 0;

  /// Whether X is stored sparse, so that an R factor (min(n, d) x d, dense) or a d x d Gram
  /// matrix for large d would cost far more than X itself: the drivers then reach the exact
  /// spectrum by iterating centered_products, from the Gram matrix's eigenvectors only for
  /// moderate d (spectral.hpp). Dense data (the default) keeps the dense choices.
  virtual bool sparse() const { return false; }
};

/// X in one MatrixView, reduced by ctx's backend (X in host memory, or device memory for a CUDA
/// context). Holds references: ctx and X must outlive it.
template <typename T>
class LocalSpectralData final : public SpectralData<T> {
 public:
  LocalSpectralData(Context& ctx, MatrixView<const T> X) : ctx_(ctx), X_(X) {}

  int64_t rows() const override { return X_.rows; }
  int64_t cols() const override { return X_.cols; }
  T max_abs() override;
  void column_means(T* mean) override;
  void centered_gram(const T* mean, T scale, T* gram) override;
  int64_t centered_r_factor(const T* mean, T scale, T* r_factor) override;
  double centered_products(const T* mean, T scale, int64_t l, const T* Z, const T* Y,
                           double* out) override;

 private:
  Context& ctx_;
  MatrixView<const T> X_;
};

/// X as a CSR matrix (gpulearn/core/sparse.hpp), reduced by ctx's backend's sparse primitives
/// (src/sparse/primitives.hpp) without ever densifying it: memory O(nnz + n l + d l), plus d x d
/// for centered_gram, which the drivers call only for moderate d. Centring is implicit:
/// Xc Z = X Z - 1 (mean^T Z) and Xc^T A = X^T A - mean (1^T A), with the n x l products kept in
/// the backend's native memory. X may be in host memory (copied once to the device for a CUDA
/// context) or already in device memory. centered_r_factor is refused (it would be dense);
/// sparse() is true so that the drivers never ask for it. Holds references: ctx and X's arrays
/// must outlive it.
template <typename T>
class SparseSpectralData final : public SpectralData<T> {
 public:
  SparseSpectralData(Context& ctx, CsrView<T> X);
  ~SparseSpectralData() override;

  int64_t rows() const override { return X_.rows; }
  int64_t cols() const override { return X_.cols; }
  T max_abs() override;
  void column_means(T* mean) override;
  void centered_gram(const T* mean, T scale, T* gram) override;
  int64_t centered_r_factor(const T* mean, T scale, T* r_factor) override;
  double centered_products(const T* mean, T scale, int64_t l, const T* Z, const T* Y,
                           double* out) override;
  bool sparse() const override { return true; }

 private:
  struct State;  // the native copy of X, cached column sums and squares, scratch
  const std::vector<double>& column_sums();
  double sum_of_squares();

  Context& ctx_;
  CsrView<T> X_;  // where the backend computes
  std::unique_ptr<State> state_;
};

}  // namespace gpulearn::decomposition
