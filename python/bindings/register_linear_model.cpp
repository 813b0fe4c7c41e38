// gpulearn._core, linear models: LinearRegression, Ridge, ElasticNet/Lasso, LogisticRegression.
// Records: {coef, intercept, rank, singular_values, solver} (LinearModel), plus {n_iter,
// dual_gap, gap_tol, converged} (ElasticNetModel); LogisticModel's fields. Prediction takes a
// record with coef (n_outputs x n_features) and intercept (n_outputs).
//
// LogisticRegression's driver also runs over data given by Python (gpulearn.dask): a subclass
// of _core.LogisticData implements its passes (check, loss_grad), each a map over row blocks
// that calls logistic_block_check / logistic_block_loss_grad (the single-machine data's passes
// on one block) where the block lives, and a sum in block order; logistic_fit_data runs the
// driver over it.
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

// LogisticData implemented in Python. The driver runs with the GIL released (compute()), so each
// call back takes it; an exception raised in Python leaves the driver as error_already_set and
// reaches the caller as the original Python exception.
class PyLogisticData final : public LogisticData {
 public:
  int64_t n_samples() const override {
    py::gil_scoped_acquire gil;
    PYBIND11_OVERRIDE_PURE(int64_t, LogisticData, n_samples, );
  }
  int64_t n_features() const override {
    py::gil_scoped_acquire gil;
    PYBIND11_OVERRIDE_PURE(int64_t, LogisticData, n_features, );
  }
  LogisticDataStats check(int64_t n_classes) override {
    py::gil_scoped_acquire gil;
    PYBIND11_OVERRIDE_PURE(LogisticDataStats, LogisticData, check, n_classes);
  }
  // Python sees coef as an (m, n_features + 1) float64 array and returns (loss, grad).
  double loss_grad(int64_t m, const std::vector<double>& coef, std::vector<double>& grad) override {
    py::gil_scoped_acquire gil;
    const py::function f = py::get_override(static_cast<const LogisticData*>(this), "loss_grad");
    if (!f) py::pybind11_fail("LogisticData.loss_grad is not implemented");
    const py::ssize_t p = len(coef.size()) / m;
    const py::tuple r = f(to_numpy(coef, {m, p}));
    GPULEARN_EXPECTS(r.size() == 2, "LogisticData.loss_grad must return (loss, grad)");
    const auto g = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(r[1]);
    GPULEARN_EXPECTS(g && g.size() == len(grad.size()), "LogisticData.loss_grad: grad must hold ",
                     m, " x ", p, " values");
    std::copy(g.data(), g.data() + g.size(), grad.begin());
    return r[0].cast<double>();
  }
};

void bind_logistic_data(py::module_& m) {
  py::class_<LogisticDataStats>(m, "LogisticDataStats", "linear_model::LogisticDataStats")
      .def(py::init([](double weight_sum, int64_t n_positive) {
             return LogisticDataStats{weight_sum, n_positive};
           }),
           py::arg("weight_sum"), py::arg("n_positive"))
      .def_readwrite("weight_sum", &LogisticDataStats::weight_sum)
      .def_readwrite("n_positive", &LogisticDataStats::n_positive);
  py::class_<LogisticData, PyLogisticData>(m, "LogisticData", "linear_model::LogisticData")
      .def(py::init<>());
  // The single-machine data's passes over one block of rows (run on the worker holding it).
  m.def(
      "logistic_block_check",
      [](Context& ctx, const ArrayRef& X, const Labels& labels, const py::object& w,
         int64_t n_classes) {
        const int32_t* lab = labels_of(labels, X.rows);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return compute([&] {
            return logistic_local_data<T>(ctx, X.view<const T>(),
                                          VectorView<const int32_t>(lab, X.rows), weights_of<T>(w))
                ->check(n_classes);
          });
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("labels"), py::arg("sample_weight"),
      py::arg("n_classes"));
  m.def(
      "logistic_block_loss_grad",
      [](Context& ctx, const ArrayRef& X, const Labels& labels, const py::object& w,
         const py::array_t<double, py::array::c_style | py::array::forcecast>& coef) {
        const int32_t* lab = labels_of(labels, X.rows);
        GPULEARN_EXPECTS(coef.ndim() == 2 && coef.shape(1) == X.cols + 1,
                         "coef must be (n_outputs, n_features + 1)");
        const int64_t m = coef.shape(0);
        const std::vector<double> c(coef.data(), coef.data() + coef.size());
        std::vector<double> grad(c.size());
        const double loss = by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return compute([&] {
            return logistic_local_data<T>(ctx, X.view<const T>(),
                                          VectorView<const int32_t>(lab, X.rows), weights_of<T>(w))
                ->loss_grad(m, c, grad);
          });
        });
        return py::make_tuple(loss, move_to_numpy(std::move(grad), {m, X.cols + 1}));
      },
      py::arg("ctx"), py::arg("X"), py::arg("labels"), py::arg("sample_weight"), py::arg("coef"));
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
  bind_logistic_data(m);
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
  m.def(
      "logistic_fit_data",
      [](Context& ctx, const LogisticRegressionParams& p, LogisticData& data, int64_t n_classes,
         const std::string& dtype, const py::object& coef_init) {
        const std::vector<double> start = doubles_of(coef_init);
        auto fit = [&](auto zero) {
          using T = decltype(zero);
          return logistic_record(
              compute([&] { return logistic_regression_fit<T>(ctx, p, data, n_classes, start); }));
        };
        if (dtype == "float32") return fit(0.0f);
        GPULEARN_EXPECTS(dtype == "float64", "dtype must be 'float32' or 'float64', got '", dtype,
                         "'");
        return fit(0.0);
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"), py::arg("n_classes"), py::arg("dtype"),
      py::arg("coef_init"));
}

}  // namespace gpulearn::bindings
