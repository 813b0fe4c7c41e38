// gpulearn._core, linear models: LinearRegression, Ridge, ElasticNet/Lasso, LogisticRegression.
// Records: {coef, intercept, rank, singular_values, solver} (LinearModel), plus {n_iter,
// dual_gap, gap_tol, converged} (ElasticNetModel); LogisticModel's fields. Prediction takes a
// record with coef (n_outputs x n_features) and intercept (n_outputs).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"

namespace gpulearn::bindings {
namespace {

using namespace linear_model;

template <typename T>
py::dict linear_record(const LinearModel<T>& m) {
  py::dict d;
  d["coef"] = to_numpy(m.coef, {m.n_targets, m.n_features});
  d["intercept"] = to_numpy(m.intercept, {m.n_targets});
  d["rank"] = m.rank;
  d["singular_values"] = to_numpy(m.singular_values, {len(m.singular_values.size())});
  d["solver"] = m.solver;
  return d;
}

template <typename T>
LinearModel<T> linear_model_of(const py::dict& record) {
  const auto coef = record_array<T>(record, "coef");
  const auto intercept = record_array<T>(record, "intercept");
  GPULEARN_EXPECTS(coef.ndim() == 2 && intercept.ndim() == 1 && intercept.shape(0) == coef.shape(0),
                   "coef must be (n_targets, n_features) and intercept (n_targets,)");
  LinearModel<T> m;
  m.n_targets = coef.shape(0);
  m.n_features = coef.shape(1);
  m.coef.assign(coef.data(), coef.data() + coef.size());
  m.intercept.assign(intercept.data(), intercept.data() + intercept.size());
  return m;
}

template <typename T>
py::dict elastic_net_record(const ElasticNetModel<T>& m) {
  py::dict d = linear_record(static_cast<const LinearModel<T>&>(m));
  d["n_iter"] = to_numpy(m.n_iter, {len(m.n_iter.size())});
  d["dual_gap"] = to_numpy(m.dual_gap, {len(m.dual_gap.size())});
  d["gap_tol"] = to_numpy(m.gap_tol, {len(m.gap_tol.size())});
  py::array_t<bool> converged(len(m.converged.size()));
  std::copy(m.converged.begin(), m.converged.end(), converged.mutable_data());
  d["converged"] = converged;
  return d;
}

template <typename T>
py::dict logistic_record(const LogisticModel<T>& m) {
  py::dict d;
  d["coef"] = to_numpy(m.coef, {m.n_outputs, m.n_features});
  d["intercept"] = to_numpy(m.intercept, {m.n_outputs});
  d["n_iter"] = m.n_iter;
  d["objective"] = m.objective;
  d["converged"] = m.converged;
  d["message"] = m.message;
  d["solver"] = m.solver;
  return d;
}

void bind_params(py::module_& m) {
  params_class<LinearRegressionParams>(m, "LinearRegressionParams",
                                       "linear_model::LinearRegressionParams")
      .def_readwrite("fit_intercept", &LinearRegressionParams::fit_intercept)
      .def_readwrite("tol", &LinearRegressionParams::tol)
      .def_readwrite("positive", &LinearRegressionParams::positive);

  auto ridge = params_class<RidgeParams>(m, "RidgeParams", "linear_model::RidgeParams");
  ridge.def_readwrite("alpha", &RidgeParams::alpha)
      .def_readwrite("fit_intercept", &RidgeParams::fit_intercept)
      .def_readwrite("positive", &RidgeParams::positive);
  def_enum(ridge, "solver", &RidgeParams::solver,
           {{RidgeSolver::kAuto, "auto"},
            {RidgeSolver::kCholesky, "cholesky"},
            {RidgeSolver::kSvd, "svd"}},
           [](const std::string& s) {
             GPULEARN_FAIL(Unsupported, "Ridge solver '", s,
                           "' is not implemented in gpulearn; use 'auto', 'cholesky' or 'svd'");
           });

  auto enet =
      params_class<ElasticNetParams>(m, "ElasticNetParams", "linear_model::ElasticNetParams");
  enet.def_readwrite("alpha", &ElasticNetParams::alpha)
      .def_readwrite("l1_ratio", &ElasticNetParams::l1_ratio)
      .def_readwrite("fit_intercept", &ElasticNetParams::fit_intercept)
      .def_readwrite("max_iter", &ElasticNetParams::max_iter)
      .def_readwrite("tol", &ElasticNetParams::tol)
      .def_readwrite("positive", &ElasticNetParams::positive)
      .def_readwrite("seeds", &ElasticNetParams::seeds);
  def_enum(enet, "selection", &ElasticNetParams::selection,
           {{CdSelection::kCyclic, "cyclic"}, {CdSelection::kRandom, "random"}},
           [](const std::string& s) {
             GPULEARN_FAIL(InvalidArgument, "selection must be 'cyclic' or 'random', got '", s,
                           "'");
           });
  def_enum(enet, "path", &ElasticNetParams::path,
           {{CdPath::kAuto, "auto"}, {CdPath::kGram, "gram"}, {CdPath::kData, "data"}},
           [](const std::string& s) {
             GPULEARN_FAIL(InvalidArgument, "path must be 'auto', 'gram' or 'data', got '", s, "'");
           });

  params_class<LogisticRegressionParams>(m, "LogisticRegressionParams",
                                         "linear_model::LogisticRegressionParams")
      .def_readwrite("C", &LogisticRegressionParams::C)
      .def_readwrite("l1_ratio", &LogisticRegressionParams::l1_ratio)
      .def_readwrite("fit_intercept", &LogisticRegressionParams::fit_intercept)
      .def_readwrite("max_iter", &LogisticRegressionParams::max_iter)
      .def_readwrite("tol", &LogisticRegressionParams::tol)
      .def_readwrite("intercept_scaling", &LogisticRegressionParams::intercept_scaling);
}

}  // namespace

void register_linear_model(py::module_& m) {
  bind_params(m);
  m.def(
      "linear_regression_fit",
      [](Context& ctx, const LinearRegressionParams& p, const ArrayRef& X, const ArrayRef& Y,
         const py::object& w) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return linear_record(compute([&] {
            return linear_regression_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(),
                                            weights_of<T>(w));
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"));
  m.def(
      "ridge_fit",
      [](Context& ctx, const RidgeParams& p, const ArrayRef& X, const ArrayRef& Y,
         const py::object& w) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return linear_record(compute([&] {
            return ridge_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(), weights_of<T>(w));
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"));
  m.def(
      "linear_predict",
      [](Context& ctx, const py::dict& record, const ArrayRef& X, const ArrayRef& out) {
        by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const LinearModel<T> model = linear_model_of<T>(record);
          compute([&] { linear_predict<T>(ctx, model, X.view<const T>(), out.view<T>()); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"));
  m.def(
      "elastic_net_fit",
      [](Context& ctx, const ElasticNetParams& p, const ArrayRef& X, const ArrayRef& Y,
         const py::object& w, const py::object& coef_init) {
        const std::vector<double> start = doubles_of(coef_init);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return elastic_net_record(compute([&] {
            return elastic_net_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(),
                                      weights_of<T>(w), start);
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
      py::arg("coef_init"));
  m.def(
      "logistic_fit",
      [](Context& ctx, const LogisticRegressionParams& p, const ArrayRef& X, const Labels& labels,
         int64_t n_classes, const py::object& w, const py::object& coef_init) {
        const int32_t* lab = labels_of(labels, X.rows);
        const std::vector<int32_t> label_vector(lab, lab + X.rows);
        const std::vector<double> start = doubles_of(coef_init);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return logistic_record(compute([&] {
            return logistic_regression_fit<T>(ctx, p, X.view<const T>(), label_vector, n_classes,
                                              weights_of<T>(w), start);
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("labels"), py::arg("n_classes"),
      py::arg("sample_weight"), py::arg("coef_init"));
}

}  // namespace gpulearn::bindings
