// Logistic regression (scikit-learn's LogisticRegression): binary (one linear output, the
// binomial loss) and multinomial (one output per class, the softmax loss).
//
// Minimises scikit-learn's objective, divided by C sum_i w_i (the same minimiser):
//   1 / sum_i w_i  sum_i w_i loss_i
//     + 1 / (C sum_i w_i) ((1 - l1_ratio) / 2 ||coef||_F^2 + l1_ratio ||coef||_1)
// with the intercepts unpenalised (or, with intercept_scaling > 0, penalised as liblinear does,
// as the coefficient of a constant feature of that value). C = +infinity: no penalty.
//
// Solver (written once, src/linear_model/logistic.cpp): L-BFGS when the penalty is smooth,
// OWL-QN when it has an L1 part, both on the host over the (classes x features) parameters; each
// evaluation of the loss and its gradient is one pass over X on the backend (a GEMM for the
// linear predictions, a fused loss/residual pass, a GEMM for X^T R; cuBLAS and our kernels on a
// CUDA context, where X, the labels and the weights are copied to the device once per fit).
//
// The driver reads its data only through LogisticData: one checking pass, then one loss and
// gradient pass per objective evaluation. logistic_local_data implements it over one X;
// logistic_sparse_data over one sparse (CSR) X, without densifying it;
// gpulearn.dask implements it over row blocks held by Dask workers (each pass the local
// implementation's on every block, summed in block order), so both run the same driver.
// Stops when every component of the (pseudo-)gradient of the objective is at most tol, after
// a step that reduces it by a relative 64 eps or less, or after max_iter steps.
//
// X (n x d) and sample_weight (n, or empty) may live in host memory, or in device memory for a
// CUDA context; labels are host int32 class indices in [0, n_classes).
//
// Throws InvalidArgument for bad shapes, NaN/inf, negative weights, labels out of range, C <= 0,
// l1_ratio outside [0, 1], a coef_init of the wrong shape; DeviceError/OutOfMemory from the CUDA
// backend.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::linear_model {

struct LogisticRegressionParams {
  /// Inverse regularisation strength, > 0; +infinity for no penalty.
  double C = 1.0;
  /// The L1 share of the penalty, in [0, 1].
  double l1_ratio = 0.0;
  /// Whether to fit an intercept per output.
  bool fit_intercept = true;
  /// The most quasi-Newton steps, >= 0.
  int64_t max_iter = 100;
  /// Gradient tolerance, >= 0 (see above).
  double tol = 1e-4;
  /// > 0: liblinear's problem: penalise the intercept as the coefficient of a constant feature
  /// of this value, and stop by LIBLINEAR's rule (the pseudo-gradient's 1-norm (L1) or 2-norm
  /// (L2) relative to its start); 0: the intercept is not penalised (every other scikit-learn
  /// solver).
  double intercept_scaling = 0.0;
};

/// A fitted logistic regression, in host memory. n_outputs is 1 for two classes (the output is
/// the log-odds of class 1) and n_classes otherwise.
template <typename T>
struct LogisticModel {
  int64_t n_features = 0;
  int64_t n_classes = 0;
  int64_t n_outputs = 0;
  std::vector<T> coef;       // n_outputs x n_features, row-major
  std::vector<T> intercept;  // n_outputs (zeros without fit_intercept)
  int64_t n_iter = 0;
  /// The objective above at the solution.
  double objective = 0;
  bool converged = false;
  /// How the solver stopped, in words.
  std::string message;
  /// "lbfgs" or "owlqn".
  std::string solver;
};

/// What the driver learns of its data in the checking pass (LogisticData::check).
struct LogisticDataStats {
  /// sum_i w_i, in double (the number of rows without sample weights).
  double weight_sum = 0;
  /// The rows labelled 1 (LIBLINEAR's L2 stopping rule scales its tolerance by them).
  int64_t n_positive = 0;
};

/// The passes over the training data (X, labels, sample weights) that the driver makes: the
/// reductions a fit is written over. Nothing here depends on X's element type: every result
/// crosses in double, so one interface serves float and double data.
class LogisticData {
 public:
  virtual ~LogisticData() = default;
  virtual int64_t n_samples() const = 0;
  virtual int64_t n_features() const = 0;
  /// Checks the data (labels in [0, n_classes), X finite, sample weights finite and
  /// non-negative; InvalidArgument with scikit-learn's messages otherwise) and returns its
  /// stats. The driver calls it once, before any loss_grad.
  virtual LogisticDataStats check(int64_t n_classes) = 0;
  /// Returns sum_i w_i loss_i at coef and writes its gradient in coef into grad: the loss and
  /// layout of LinearModelPrimitives::logistic_loss_grad (coef and grad: m x (n_features + 1),
  /// row-major, host; m == 1 the binomial loss, else the multinomial). Sums in double, in an
  /// order fixed by the data's layout (never by scheduling), so a fit is reproducible.
  virtual double loss_grad(int64_t m, const std::vector<double>& coef,
                           std::vector<double>& grad) = 0;
};

/// The data of a single-machine fit: X (n x d), labels (n, host int32 class indices) and
/// sample_weight (n, or empty) as logistic_regression_fit takes them; the views and ctx must
/// outlive the object. Each pass runs on ctx's backend; X, labels and weights are made native
/// (copied to the device for a CUDA context) on the first loss_grad, once. Shapes are checked
/// in each pass (InvalidArgument), not at construction.
template <typename T>
std::unique_ptr<LogisticData> logistic_local_data(Context& ctx, MatrixView<const T> X,
                                                  VectorView<const int32_t> labels,
                                                  VectorView<const T> sample_weight = {});

/// The data of a single-machine fit on a sparse X (n x d, CSR; docs/sparse.md), without
/// densifying it: each loss pass is X W^T (SparsePrimitives::multiply), the per-row loss and
/// residual R (LinearModelPrimitives::logistic_loss_residual) and X^T W R
/// (SparsePrimitives::multiply_t). Memory O(nnz + n m + d m) for m outputs. check() checks the
/// stored values (NaN/inf: the dense data's error), the labels and the weights as
/// logistic_local_data does. X may live in host memory, or in device memory for a CUDA context
/// (a host X is copied to the device once); labels and sample_weight as logistic_local_data
/// takes them. The views and ctx must outlive the object. On a CUDA context the passes throw
/// Unsupported until the CUDA sparse kernels exist.
template <typename T>
std::unique_ptr<LogisticData> logistic_sparse_data(Context& ctx, CsrView<T> X,
                                                   VectorView<const int32_t> labels,
                                                   VectorView<const T> sample_weight = {});

/// The driver over any LogisticData: checks params, makes data.check(n_classes), then solves
/// with one data.loss_grad per objective evaluation; the penalty, the solver and the result are
/// host algebra on (n_classes x n_features) parameters. coef_init as below. T is the element
/// type of the returned model.
template <typename T>
LogisticModel<T> logistic_regression_fit(Context& ctx, const LogisticRegressionParams& params,
                                         LogisticData& data, int64_t n_classes,
                                         const std::vector<double>& coef_init = {});

/// Fits a logistic regression. labels (n, host) are class indices in [0, n_classes), n_classes
/// >= 2. coef_init (n_outputs x (n_features + 1), row-major: coefficients then intercept; or
/// empty: zeros) starts the solver (scikit-learn's warm_start).
template <typename T>
LogisticModel<T> logistic_regression_fit(Context& ctx, const LogisticRegressionParams& params,
                                         MatrixView<const T> X, const std::vector<int32_t>& labels,
                                         int64_t n_classes, VectorView<const T> sample_weight = {},
                                         const std::vector<double>& coef_init = {});

/// out (n x n_outputs) = X coef^T + intercept: the decision function. out must live where X
/// lives; returns once out is written.
template <typename T>
void logistic_decision_function(Context& ctx, const LogisticModel<T>& model, MatrixView<const T> X,
                                MatrixView<T> out);

/// The decision function of a sparse X (CSR, n x d): out (n x n_outputs, host memory, or
/// device memory for a CUDA context) = X coef^T + intercept, each entry summed in double and
/// rounded to T. Throws InvalidArgument where X's stored values are not finite or X has
/// another number of features than the model.
template <typename T>
void logistic_decision_function(Context& ctx, const LogisticModel<T>& model, CsrView<T> X,
                                MatrixView<T> out);

}  // namespace gpulearn::linear_model
