// Limited-memory quasi-Newton minimisation on the host, in double: L-BFGS for a smooth f, and
// OWL-QN (Andrew and Gao, 2007) for f(x) + sum_j l1_j |x_j|. The drivers of the models fitted
// by it (logistic regression) pass a callback that evaluates f and its gradient on the
// backend; everything here is O(history x parameters) per iteration.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gpulearn::linear_model::detail {

struct QuasiNewtonOptions {
  /// The most iterations (accepted steps).
  int64_t max_iter = 100;
  /// Stop once every component of the (pseudo-)gradient is at most this in magnitude
  /// (scipy's L-BFGS-B gtol, as scikit-learn passes tol).
  double gtol = 1e-4;
  /// Stop once a step reduces the objective by at most this relative amount (scipy's ftol; the
  /// 64 eps scikit-learn passes).
  double ftol = 64 * 2.220446049250313e-16;
  /// Curvature pairs kept (scipy's maxcor).
  int history = 10;
  /// The most objective evaluations in one line search (scikit-learn's maxls).
  int max_line_search = 50;
  /// How the (pseudo-)gradient is held to gtol: 0, its largest component (scipy's L-BFGS-B);
  /// 1 or 2, its 1- or 2-norm relative to that at the start (LIBLINEAR's rules for L1- and
  /// L2-regularised logistic regression).
  int gradient_norm = 0;
};

struct QuasiNewtonResult {
  int64_t n_iter = 0;
  /// The objective (with its L1 term) at the returned point.
  double objective = 0;
  /// True when a tolerance was met; false when max_iter ran out or the line search failed.
  bool converged = false;
  /// Why it stopped, in words (for warnings).
  std::string message;
};

/// f(x, grad): returns f(x) and writes its gradient into grad (same size as x).
using SmoothObjective = std::function<double(const std::vector<double>&, std::vector<double>&)>;

/// Minimises f(x) + sum_j l1[j] |x_j| from x (updated in place). l1 empty or all zero: plain
/// L-BFGS.
QuasiNewtonResult quasi_newton(const SmoothObjective& f, std::vector<double>& x,
                               const std::vector<double>& l1, const QuasiNewtonOptions& options);

}  // namespace gpulearn::linear_model::detail
