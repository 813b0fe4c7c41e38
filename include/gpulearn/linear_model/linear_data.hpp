// A linear model's training data as the least-squares and elastic-net drivers see it: the
// passes they make over it, each a reduction whose result does not grow with n_samples.
//
// The drivers (src/linear_model/least_squares.cpp, coordinate_descent.cpp) are written over this
// interface, not over X: the single-machine fits (linear_regression_fit(ctx, params, X, Y, w)
// and friends) run them over local_linear_data(ctx, X, Y, w), which makes each pass with the
// context's backend; a distributed fit runs the same drivers over data whose passes are made
// block by block where the blocks live and combined (gpulearn.dask, python/gpulearn/dask/
// _linear_model.py): magnitudes by max, means by their weight sums, Gram matrices by sum, R
// factors by a QR of the stacked blocks' factors (tall-skinny QR).
//
// Conventions: X is n x d, Y n x k, w n (or none: every weight 1). Xc = (X - 1 x_mean^T)
// x_scale and Yc = (Y - 1 y_mean^T) y_scale, W = diag(w); the scales are powers of two (exact).
// Every result is written to host memory, row-major, of the sizes given.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::linear_model {

/// The largest magnitudes of a fit's inputs: max |X|, max |Y|, max w (0 without weights).
template <typename T>
struct DataMagnitudes {
  T x = 0, y = 0, w = 0;
};

/// Sparse data centred implicitly, in compressed columns, for the elastic net's descent over
/// the data (coordinate_descent.cpp): with s_ij = sqrt(w_i) x_ij 2^x_exp over X's stored
/// entries, column j of the centred, weighted, scaled X is s_j - mean_j sqrt_w (never formed).
struct SparseCentredColumns {
  int64_t n = 0, d = 0, k = 0;
  std::vector<int64_t> col_ptr;  // d + 1 offsets into rows and values
  std::vector<int64_t> rows;     // row of each entry
  std::vector<double> values;    // s_ij
  std::vector<double> mean;      // mean_j 2^x_exp (zeros without centring), d
  std::vector<double> col_sum;   // sum_i w_i x_ij 2^x_exp = s_j . sqrt_w, d
  std::vector<double> sqrt_w;    // n
  double w_sum = 0;              // sum_i w_i
  std::vector<double> ys;        // column-major n x k: sqrt(w) (Y - y_mean) 2^y_exp
};

template <typename T>
class LinearData {
 public:
  virtual ~LinearData() = default;

  virtual int64_t n_samples() const = 0;
  virtual int64_t n_features() const = 0;
  virtual int64_t n_targets() const = 0;
  /// Whether sample weights were given.
  virtual bool weighted() const = 0;

  /// Checks the data and measures it: throws InvalidArgument (scikit-learn's messages) for
  /// NaN/inf in X or Y, negative or non-finite weights, inconsistent shapes, or data the
  /// computing backend cannot read.
  virtual DataMagnitudes<T> magnitudes() = 0;

  /// x_mean (d) and y_mean (k): the weighted column means; returns sum_i w_i, in double.
  virtual double weighted_means(T* x_mean, T* y_mean) = 0;

  /// gram = Xc^T W Xc (d x d, both triangles), xty = Xc^T W Yc (d x k).
  virtual void centered_gram(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,
                             T* xty) = 0;

  /// yty = Yc^T W Yc (k x k): the targets' own Gram matrix (the elastic net's ||y||^2).
  virtual void target_gram(const T* y_mean, T y_scale, T* yty) = 0;

  /// The R factor (r x d, upper trapezoidal, zeros below the diagonal) of a QR decomposition
  /// of W^1/2 Xc and Q^T W^1/2 Yc (r x k), r = min(n, d); returns r. Row signs are arbitrary.
  virtual int64_t centered_r_factor(const T* x_mean, const T* y_mean, T x_scale, T y_scale,
                                    T* r_factor, T* qty) = 0;

  /// Whether centred_copy is available: data held whole in one process. The elastic net
  /// descends over such a copy on wide data; without it, always on the Gram system (the same
  /// iterates up to rounding).
  virtual bool has_centred_copy() const { return false; }

  /// xs (column-major n x d) = sqrt(w) (X - x_mean) 2^x_exp and ys (column-major n x k) =
  /// sqrt(w) (Y - y_mean) 2^y_exp, in double in host memory, each entry computed in double.
  virtual void centred_copy(const T* /*x_mean*/, const T* /*y_mean*/, int /*x_exp*/, int /*y_exp*/,
                            std::vector<double>& /*xs*/, std::vector<double>& /*ys*/) {
    GPULEARN_FAIL(Unsupported, "this data offers no centred copy of its rows: use its Gram ",
                  "reductions (the elastic net's path 'gram' or 'auto')");
  }

  /// Whether sparse_columns is available: sparse data held in one process. The elastic net
  /// then descends over it (scikit-learn's sparse descent, implicit centring) unless asked
  /// for the Gram path.
  virtual bool has_sparse_columns() const { return false; }

  /// The data as SparseCentredColumns (x_exp, y_exp: the powers of two the driver scales by).
  virtual void sparse_columns(const T* /*x_mean*/, const T* /*y_mean*/, int /*x_exp*/,
                              int /*y_exp*/, SparseCentredColumns& /*out*/) {
    GPULEARN_FAIL(Unsupported, "this data offers no sparse columns");
  }
};

/// The data X (n x d), Y (n x k) and sample weights w (n, or empty) as one block, each pass
/// made by ctx's backend (where the arrays live: host memory, or device memory for a CUDA
/// context). Keeps views only: the arrays must outlive the returned object. Checks nothing
/// until magnitudes() is called.
template <typename T>
std::unique_ptr<LinearData<T>> local_linear_data(Context& ctx, MatrixView<const T> X,
                                                 MatrixView<const T> Y, VectorView<const T> w = {});

/// The most features a sparse X may have for the Gram and R-factor reductions of
/// sparse_linear_data: they are d x d (and the drivers factor them), so d bounds the memory
/// (128 MiB in double at the bound) and the O(d^3) time of a fit, whatever nnz.
inline constexpr int64_t kSparseMaxGramFeatures = 4096;

/// The data X (sparse, n x d, CSR), Y (dense, n x k) and w (n, or empty) as one block: each
/// pass is a sparse primitive of ctx's backend (src/sparse/primitives.hpp), centring implicit
/// (X - mean is never formed), memory O(nnz + d^2). centered_gram and centered_r_factor throw
/// InvalidArgument for d > kSparseMaxGramFeatures; magnitudes() throws InvalidArgument
/// ("Input X contains NaN or infinity.") for non-finite stored values. X, Y and w live where
/// the backend computes (host for the CPU). Keeps views only.
template <typename T>
std::unique_ptr<LinearData<T>> sparse_linear_data(Context& ctx, CsrView<T> X,
                                                  MatrixView<const T> Y,
                                                  VectorView<const T> w = {});

}  // namespace gpulearn::linear_model
