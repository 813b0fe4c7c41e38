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
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"

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

}  // namespace gpulearn::linear_model
