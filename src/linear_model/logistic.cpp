// The logistic-regression driver, written once for every backend and for data in one place or
// spread over workers: it sees its data only through LogisticData (a checking pass, then one
// loss-and-gradient pass per objective evaluation), adds scikit-learn's penalty terms on the
// host (the objective normalised by C sum_i w_i) and runs the quasi-Newton solver over the
// parameters (quasi_newton.cpp). LocalLogisticData is the single-machine data: each pass one
// LinearModelPrimitives call over X.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "../core/native.hpp"
#include "centring.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"
#include "logistic_checks.hpp"
#include "primitives.hpp"
#include "quasi_newton.hpp"

namespace gpulearn::linear_model {

namespace {

using detail::Backend;
using gpulearn::detail::NativeMatrix;
using gpulearn::detail::Scratch;

void check_params(const LogisticRegressionParams& p) {
  GPULEARN_EXPECTS(p.C > 0, "C must be > 0 (+infinity for no penalty), got ", p.C);
  GPULEARN_EXPECTS(p.l1_ratio >= 0 && p.l1_ratio <= 1, "l1_ratio must be in [0, 1], got ",
                   p.l1_ratio);
  GPULEARN_EXPECTS(p.max_iter >= 0, "max_iter must be >= 0, got ", p.max_iter);
  GPULEARN_EXPECTS(std::isfinite(p.tol) && p.tol >= 0, "tol must be a finite number >= 0, got ",
                   p.tol);
  GPULEARN_EXPECTS(std::isfinite(p.intercept_scaling) && p.intercept_scaling >= 0,
                   "intercept_scaling must be a finite number >= 0, got ", p.intercept_scaling);
}

// LogisticData over one X: the checks and the loss pass on ctx's backend, the data made native
// once (on the first loss_grad, so a check that fails copies nothing).
template <typename T>
class LocalLogisticData final : public LogisticData {
 public:
  LocalLogisticData(Context& ctx, MatrixView<const T> X, VectorView<const int32_t> labels,
                    VectorView<const T> w)
      : be_(ctx.backend()), X_(X), labels_(labels), w_(w) {}

  int64_t n_samples() const override { return X_.rows; }
  int64_t n_features() const override { return X_.cols; }

  LogisticDataStats check(int64_t n_classes) override {
    check_shapes();
    LogisticDataStats stats = detail::checked_labels(labels_, n_classes);
    gpulearn::detail::checked_input(be_, X_);
    stats.weight_sum = detail::checked_weight_sum(be_, w_, X_.rows);
    return stats;
  }

  double loss_grad(int64_t m, const std::vector<double>& coef, std::vector<double>& grad) override {
    check_shapes();
    const int64_t size = m * (X_.cols + 1);
    GPULEARN_EXPECTS(m >= 1 && static_cast<int64_t>(coef.size()) == size &&
                         static_cast<int64_t>(grad.size()) == size,
                     "loss_grad: coef and grad must hold ", m, " x ", X_.cols + 1, " values");
    make_native();
    return be_.primitives<gpulearn::detail::LinearModelPrimitives<T>>().logistic_loss_grad(
        native_->X.view, native_->yw.labels.data, native_->yw.w, m, coef.data(), grad.data());
  }

 private:
  void check_shapes() const {
    const int64_t n = X_.rows;
    GPULEARN_EXPECTS(labels_.size == n, "X has ", n, " samples but y has ", labels_.size);
    GPULEARN_EXPECTS(labels_.space == MemorySpace::kHost, "labels must be in host memory");
    GPULEARN_EXPECTS(w_.empty() || w_.size == n, "sample_weight has ", w_.size,
                     " entries but X has ", n, " samples");
    GPULEARN_EXPECTS(w_.empty() || w_.space == X_.space,
                     "X and sample_weight must both be in host memory or both in device memory");
  }

  // The primitive takes X, the labels and contiguous weights in native memory.
  struct Native {
    NativeMatrix<T> X;
    detail::NativeLabelsWeights<T> yw;
  };

  void make_native() {
    if (native_) return;
    native_ = std::make_unique<Native>(
        Native{NativeMatrix<T>(be_, X_), detail::NativeLabelsWeights<T>(be_, labels_, w_)});
  }

  Backend& be_;
  MatrixView<const T> X_;
  VectorView<const int32_t> labels_;
  VectorView<const T> w_;
  std::unique_ptr<Native> native_;
};

}  // namespace

template <typename T>
std::unique_ptr<LogisticData> logistic_local_data(Context& ctx, MatrixView<const T> X,
                                                  VectorView<const int32_t> labels,
                                                  VectorView<const T> sample_weight) {
  return std::make_unique<LocalLogisticData<T>>(ctx, X, labels, sample_weight);
}

template <typename T>
LogisticModel<T> logistic_regression_fit(Context& /*ctx*/, const LogisticRegressionParams& params,
                                         LogisticData& data, int64_t n_classes,
                                         const std::vector<double>& coef_init) {
  check_params(params);
  const int64_t n = data.n_samples(), d = data.n_features();
  GPULEARN_EXPECTS(n >= 1, "Found array with 0 sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(n_classes >= 2, "This solver needs samples of at least 2 classes in the data",
                   ", but the data contains only ", n_classes);
  const LogisticDataStats stats = data.check(n_classes);
  GPULEARN_EXPECTS(stats.weight_sum > 0, "sample_weight sums to zero: at least one sample needs a ",
                   "positive weight");
  const int64_t m = n_classes == 2 ? 1 : n_classes, p = d + 1;
  GPULEARN_EXPECTS(coef_init.empty() || static_cast<int64_t>(coef_init.size()) == m * p,
                   "coef_init has ", coef_init.size(), " entries, expected ", m, " x ", p);
  for (double v : coef_init)
    GPULEARN_EXPECTS(std::isfinite(v), "coef_init holds a non-finite value");

  // Penalty weights per parameter: 1 on coefficients; on intercepts 0, or liblinear's
  // (b / intercept_scaling)^2 / 2 and |b| / intercept_scaling.
  const double lambda = std::isinf(params.C) ? 0.0 : 1.0 / (params.C * stats.weight_sum);
  const double is = params.intercept_scaling;
  std::vector<double> l2(m * p), l1(m * p);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < p; ++j) {
      const bool icpt = j == d;
      const double l2w = icpt ? (is > 0 && params.fit_intercept ? 1.0 / (is * is) : 0.0) : 1.0;
      const double l1w = icpt ? (is > 0 && params.fit_intercept ? 1.0 / is : 0.0) : 1.0;
      l2[t * p + j] = lambda * (1 - params.l1_ratio) * l2w;
      l1[t * p + j] = lambda * params.l1_ratio * l1w;
    }
  }
  const double inv_sum = 1.0 / stats.weight_sum;
  auto objective = [&](const std::vector<double>& x, std::vector<double>& g) {
    double f = inv_sum * data.loss_grad(m, x, g);
    for (int64_t i = 0; i < m * p; ++i) {
      g[i] = inv_sum * g[i] + l2[i] * x[i];
      f += 0.5 * l2[i] * x[i] * x[i];
    }
    if (!params.fit_intercept) {
      for (int64_t t = 0; t < m; ++t) g[t * p + d] = 0;
    }
    return f;
  };

  std::vector<double> x(m * p, 0.0);
  if (!coef_init.empty()) x = coef_init;
  if (!params.fit_intercept) {
    for (int64_t t = 0; t < m; ++t) x[t * p + d] = 0;
  }
  detail::QuasiNewtonOptions opt;
  opt.max_iter = params.max_iter;
  opt.gtol = params.tol;
  if (is > 0) {
    // liblinear's problem also takes LIBLINEAR's stopping rule: the 1-norm of the
    // pseudo-gradient within tol of its start (L1), or the 2-norm within tol * max(min(#pos,
    // #neg), 1) / n of its start (L2, TRON's rule).
    opt.gradient_norm = params.l1_ratio > 0 ? 1 : 2;
    if (opt.gradient_norm == 2) {
      const int64_t pos = stats.n_positive;
      opt.gtol *= static_cast<double>(std::max<int64_t>(std::min(pos, n - pos), 1)) / n;
    }
  }
  const detail::QuasiNewtonResult r = detail::quasi_newton(objective, x, l1, opt);

  LogisticModel<T> model;
  model.n_features = d;
  model.n_classes = n_classes;
  model.n_outputs = m;
  model.coef.resize(m * d);
  model.intercept.resize(m);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < d; ++j) model.coef[t * d + j] = static_cast<T>(x[t * p + j]);
    model.intercept[t] = static_cast<T>(x[t * p + d]);
  }
  model.n_iter = r.n_iter;
  model.objective = r.objective;
  model.converged = r.converged;
  model.message = r.message;
  model.solver = params.l1_ratio > 0 && lambda > 0 ? "owlqn" : "lbfgs";
  return model;
}

template <typename T>
LogisticModel<T> logistic_regression_fit(Context& ctx, const LogisticRegressionParams& params,
                                         MatrixView<const T> X, const std::vector<int32_t>& labels,
                                         int64_t n_classes, VectorView<const T> w,
                                         const std::vector<double>& coef_init) {
  LocalLogisticData<T> data(
      ctx, X, VectorView<const int32_t>(labels.data(), static_cast<int64_t>(labels.size())), w);
  return logistic_regression_fit<T>(ctx, params, data, n_classes, coef_init);
}

template <typename T>
void logistic_decision_function(Context& ctx, const LogisticModel<T>& model, MatrixView<const T> X,
                                MatrixView<T> out) {
  if (model.coef.empty() || model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this logistic regression is not fitted yet: call fit first");
  }
  gpulearn::detail::checked_affine(ctx.backend(), X, model.n_features, model.n_outputs,
                                   model.coef.data(), model.intercept.data(), out, "the model");
}

#define GPULEARN_INSTANTIATE(T)                                                                    \
  template std::unique_ptr<LogisticData> logistic_local_data<T>(                                   \
      Context&, MatrixView<const T>, VectorView<const int32_t>, VectorView<const T>);              \
  template LogisticModel<T> logistic_regression_fit<T>(Context&, const LogisticRegressionParams&,  \
                                                       LogisticData&, int64_t,                     \
                                                       const std::vector<double>&);                \
  template LogisticModel<T> logistic_regression_fit<T>(                                            \
      Context&, const LogisticRegressionParams&, MatrixView<const T>, const std::vector<int32_t>&, \
      int64_t, VectorView<const T>, const std::vector<double>&);                                   \
  template void logistic_decision_function<T>(Context&, const LogisticModel<T>&,                   \
                                              MatrixView<const T>, MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::linear_model
