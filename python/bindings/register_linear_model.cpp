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
//
// The least-squares and elastic-net drivers also run over data given by its reductions
// (gpulearn/linear_model/linear_data.hpp), for gpulearn.dask: LinearDataFloat32/Float64 are the
// LinearData interface, subclassed in Python (each method a map over the blocks and a combine;
// python/gpulearn/dask/_linear_model.py), and linear_block_* are the reductions of one block,
// run on the worker holding it by the same local implementation the single-machine fits use.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_data.hpp"
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
  if (!m.n_iter.empty()) d["n_iter"] = to_numpy(m.n_iter, {len(m.n_iter.size())});
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
      .def_readwrite("positive", &RidgeParams::positive)
      .def_readwrite("tol", &RidgeParams::tol)
      .def_readwrite("max_iter", &RidgeParams::max_iter);
  def_enum(ridge, "solver", &RidgeParams::solver,
           {{RidgeSolver::kAuto, "auto"},
            {RidgeSolver::kCholesky, "cholesky"},
            {RidgeSolver::kSvd, "svd"},
            {RidgeSolver::kSparseCg, "sparse_cg"},
            {RidgeSolver::kLsqr, "lsqr"}},
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

// ---- LinearData across the binding

// n values of T from a Python sequence or array (the means and scales Python passes back).
template <typename T>
std::vector<T> values_of(const py::handle& obj, int64_t n, const char* what) {
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  GPULEARN_EXPECTS(a && a.size() == n, what, " must hold ", n, " numbers");
  return std::vector<T>(a.data(), a.data() + n);
}

// Copies a (rows x cols) array returned from Python into out; rows <= max_rows when max_rows
// >= 0 (an R factor's rows), else exactly rows. Returns the rows.
template <typename T>
int64_t copy_result(const py::handle& obj, int64_t rows, int64_t cols, T* out, const char* what,
                    bool at_most = false) {
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  GPULEARN_EXPECTS(a, what, " is not a numeric array");
  const int64_t r = a.ndim() == 2 ? a.shape(0) : (cols == 1 && a.ndim() == 1 ? a.shape(0) : -1);
  const int64_t c = a.ndim() == 2 ? a.shape(1) : 1;
  GPULEARN_EXPECTS(r >= 0 && c == cols && (at_most ? r <= rows : r == rows), what,
                   " has the wrong shape: expected (", rows, ", ", cols, ")");
  if (r * c > 0) std::memcpy(out, a.data(), sizeof(T) * r * c);
  return r;
}

template <typename T>
py::array_t<T> vector_array(const T* v, int64_t n) {
  return to_numpy(std::vector<T>(v, v + n), {static_cast<py::ssize_t>(n)});
}

// LinearData implemented in Python: the driver calls these from the thread compute() released
// the GIL on, so each call takes the GIL back; a Python exception leaves the driver as itself.
template <typename T>
class PyLinearData : public LinearData<T> {
 public:
  PyLinearData(int64_t n, int64_t d, int64_t k, bool weighted)
      : n_(n), d_(d), k_(k), weighted_(weighted) {}
  int64_t n_samples() const override { return n_; }
  int64_t n_features() const override { return d_; }
  int64_t n_targets() const override { return k_; }
  bool weighted() const override { return weighted_; }

  DataMagnitudes<T> magnitudes() override {
    py::gil_scoped_acquire gil;
    const auto r = values_of<T>(call("magnitudes"), 3, "magnitudes()");
    return DataMagnitudes<T>{r[0], r[1], r[2]};
  }
  double weighted_means(T* x_mean, T* y_mean) override {
    py::gil_scoped_acquire gil;
    const py::tuple r = call("weighted_means");
    GPULEARN_EXPECTS(r.size() == 3, "weighted_means() must return (x_mean, y_mean, w_sum)");
    copy_result<T>(r[0], d_, 1, x_mean, "x_mean");
    copy_result<T>(r[1], k_, 1, y_mean, "y_mean");
    return r[2].cast<double>();
  }
  void centered_gram(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,
                     T* xty) override {
    py::gil_scoped_acquire gil;
    const py::tuple r =
        call("centered_gram", vector_array(x_mean, d_), vector_array(y_mean, k_), x_scale, y_scale);
    GPULEARN_EXPECTS(r.size() == 2, "centered_gram() must return (gram, xty)");
    copy_result<T>(r[0], d_, d_, gram, "gram");
    copy_result<T>(r[1], d_, k_, xty, "xty");
  }
  void target_gram(const T* y_mean, T y_scale, T* yty) override {
    py::gil_scoped_acquire gil;
    copy_result<T>(call("target_gram", vector_array(y_mean, k_), y_scale), k_, k_, yty, "yty");
  }
  int64_t centered_r_factor(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* r_factor,
                            T* qty) override {
    py::gil_scoped_acquire gil;
    const py::tuple r = call("centered_r_factor", vector_array(x_mean, d_),
                             vector_array(y_mean, k_), x_scale, y_scale);
    GPULEARN_EXPECTS(r.size() == 2, "centered_r_factor() must return (r_factor, qty)");
    const int64_t r_max = std::min(n_, d_);
    const int64_t rows = copy_result<T>(r[0], r_max, d_, r_factor, "r_factor", true);
    GPULEARN_EXPECTS(copy_result<T>(r[1], r_max, k_, qty, "qty", true) == rows,
                     "r_factor and qty have different numbers of rows");
    return rows;
  }

 private:
  // The Python override of a pure virtual method (the interface has no default for it).
  template <typename... Args>
  py::object call(const char* name, Args&&... args) const {
    const py::function f = py::get_override(static_cast<const LinearData<T>*>(this), name);
    if (!f) {
      throw py::type_error(std::string("a LinearData subclass must implement ") + name + "()");
    }
    return f(std::forward<Args>(args)...);
  }
  int64_t n_, d_, k_;
  bool weighted_;
};

template <typename T>
void bind_linear_data(py::module_& m, const char* name) {
  py::class_<LinearData<T>, PyLinearData<T>>(
      m, name,
      "A linear model's training data given by its reductions (C++ LinearData): subclass it, "
      "call this __init__(n_samples, n_features, n_targets, weighted), and implement "
      "magnitudes(), weighted_means(), centered_gram(x_mean, y_mean, x_scale, y_scale), "
      "target_gram(y_mean, y_scale) and centered_r_factor(x_mean, y_mean, x_scale, y_scale).")
      .def(py::init<int64_t, int64_t, int64_t, bool>(), py::arg("n_samples"), py::arg("n_features"),
           py::arg("n_targets"), py::arg("weighted"))
      .def_property_readonly("n_samples", &LinearData<T>::n_samples)
      .def_property_readonly("n_features", &LinearData<T>::n_features)
      .def_property_readonly("n_targets", &LinearData<T>::n_targets)
      .def_property_readonly("weighted", &LinearData<T>::weighted);
}

// One block's reductions: the local implementation over the block's arrays, on ctx.
template <typename T>
std::unique_ptr<LinearData<T>> block_data(Context& ctx, const ArrayRef& X, const ArrayRef& Y,
                                          const py::object& w) {
  return local_linear_data<T>(ctx, X.view<const T>(), Y.view<const T>(), weights_of<T>(w));
}

void bind_block_reductions(py::module_& m) {
  m.def(
      "linear_block_magnitudes",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w) {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          const auto data = block_data<T>(ctx, X, Y, w);
          const DataMagnitudes<T> mag = compute([&] { return data->magnitudes(); });
          return py::make_tuple(static_cast<double>(mag.x), static_cast<double>(mag.y),
                                static_cast<double>(mag.w));
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
      "(max |X|, max |Y|, max w) of one block, checked as a fit checks them.");
  m.def(
      "linear_block_means",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w) {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          const auto data = block_data<T>(ctx, X, Y, w);
          std::vector<T> xm(X.cols), ym(Y.cols);
          const double w_sum = compute([&] { return data->weighted_means(xm.data(), ym.data()); });
          return py::make_tuple(to_numpy(xm, {len(xm.size())}), to_numpy(ym, {len(ym.size())}),
                                w_sum);
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
      "(x_mean, y_mean, w_sum) of one block: weighted means in X's dtype, the weight sum in "
      "double.");
  m.def(
      "linear_block_gram",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
         const py::object& x_mean, const py::object& y_mean, double x_scale, double y_scale) {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          const auto data = block_data<T>(ctx, X, Y, w);
          const std::vector<T> xm = values_of<T>(x_mean, X.cols, "x_mean");
          const std::vector<T> ym = values_of<T>(y_mean, Y.cols, "y_mean");
          std::vector<T> G(checked_mul(X.cols, X.cols)), B(checked_mul(X.cols, Y.cols));
          compute([&] {
            data->centered_gram(xm.data(), ym.data(), static_cast<T>(x_scale),
                                static_cast<T>(y_scale), G.data(), B.data());
          });
          return py::make_tuple(move_to_numpy(std::move(G), {X.cols, X.cols}),
                                move_to_numpy(std::move(B), {X.cols, Y.cols}));
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("x_mean"),
      py::arg("y_mean"), py::arg("x_scale"), py::arg("y_scale"),
      "(Xc^T W Xc, Xc^T W Yc) of one block, centred and scaled as given.");
  m.def(
      "linear_block_target_gram",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
         const py::object& y_mean, double y_scale) {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          const auto data = block_data<T>(ctx, X, Y, w);
          const std::vector<T> ym = values_of<T>(y_mean, Y.cols, "y_mean");
          std::vector<T> YY(checked_mul(Y.cols, Y.cols));
          compute([&] { data->target_gram(ym.data(), static_cast<T>(y_scale), YY.data()); });
          return move_to_numpy(std::move(YY), {Y.cols, Y.cols});
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("y_mean"),
      py::arg("y_scale"), "Yc^T W Yc of one block.");
  m.def(
      "linear_block_r_factor",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
         const py::object& x_mean, const py::object& y_mean, double x_scale, double y_scale) {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          const auto data = block_data<T>(ctx, X, Y, w);
          const std::vector<T> xm = values_of<T>(x_mean, X.cols, "x_mean");
          const std::vector<T> ym = values_of<T>(y_mean, Y.cols, "y_mean");
          const int64_t r_max = std::min(X.rows, X.cols);
          std::vector<T> R(checked_mul(r_max, X.cols)), Z(checked_mul(r_max, Y.cols));
          const int64_t r = compute([&] {
            return data->centered_r_factor(xm.data(), ym.data(), static_cast<T>(x_scale),
                                           static_cast<T>(y_scale), R.data(), Z.data());
          });
          R.resize(r * X.cols);
          Z.resize(r * Y.cols);
          return py::make_tuple(move_to_numpy(std::move(R), {r, X.cols}),
                                move_to_numpy(std::move(Z), {r, Y.cols}));
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("x_mean"),
      py::arg("y_mean"), py::arg("x_scale"), py::arg("y_scale"),
      "(R, Q^T W^1/2 Yc) of a QR of one block's W^1/2 Xc: R is min(rows, d) x d. On stacked "
      "blocks' factors (zero means, scales 1, no weights) it is their tall-skinny QR.");
}

// The drivers over a Python LinearData, one overload per element type.
template <typename T>
void bind_data_fits(py::module_& m) {
  m.def(
      "linear_regression_fit",
      [](Context& ctx, const LinearRegressionParams& p, LinearData<T>& data) {
        return linear_record(compute([&] { return linear_regression_fit<T>(ctx, p, data); }));
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"));
  m.def(
      "ridge_fit",
      [](Context& ctx, const RidgeParams& p, LinearData<T>& data) {
        return linear_record(compute([&] { return ridge_fit<T>(ctx, p, data); }));
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"));
  m.def(
      "elastic_net_fit",
      [](Context& ctx, const ElasticNetParams& p, LinearData<T>& data,
         const py::object& coef_init) {
        const std::vector<double> start = doubles_of(coef_init);
        return elastic_net_record(compute([&] { return elastic_net_fit<T>(ctx, p, data, start); }));
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"), py::arg("coef_init"));
}

// The single-machine fits and prediction for a sparse X (CsrRef; gpulearn/_sparse.py): the same
// drivers over sparse_linear_data (linear_data.hpp). Overloads of the dense entry points: pybind11
// tries those first, and an ArrayRef argument never converts from a CsrRef.
void bind_sparse_fits(py::module_& m) {
  m.def(
      "linear_regression_fit",
      [](Context& ctx, const LinearRegressionParams& p, const CsrRef& X, const ArrayRef& Y,
         const py::object& w) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return linear_record(compute([&] {
            return sparse_linear_regression_fit<T>(ctx, p, X.view<T>(), Y.view<const T>(),
                                                   weights_of<T>(w));
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"));
  m.def(
      "ridge_fit",
      [](Context& ctx, const RidgeParams& p, const CsrRef& X, const ArrayRef& Y,
         const py::object& w) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return linear_record(compute([&] {
            return sparse_ridge_fit<T>(ctx, p, X.view<T>(), Y.view<const T>(), weights_of<T>(w));
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"));
  m.def(
      "elastic_net_fit",
      [](Context& ctx, const ElasticNetParams& p, const CsrRef& X, const ArrayRef& Y,
         const py::object& w, const py::object& coef_init) {
        const std::vector<double> start = doubles_of(coef_init);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return elastic_net_record(compute([&] {
            const auto data = sparse_linear_data<T>(ctx, X.view<T>(), Y.view<const T>(),
                                                    weights_of<T>(w));
            return elastic_net_fit<T>(ctx, p, *data, start);
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
      py::arg("coef_init"));
  m.def(
      "linear_predict",
      [](Context& ctx, const py::dict& record, const CsrRef& X, const ArrayRef& out) {
        by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const LinearModel<T> model = linear_model_of<T>(record);
          compute([&] { linear_predict<T>(ctx, model, X.view<T>(), out.view<T>()); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"));
}

}  // namespace

void register_linear_model(py::module_& m) {
  bind_params(m);
  bind_logistic_data(m);
  bind_linear_data<float>(m, "LinearDataFloat32");
  bind_linear_data<double>(m, "LinearDataFloat64");
  bind_block_reductions(m);
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
  bind_data_fits<float>(m);
  bind_data_fits<double>(m);
  bind_sparse_fits(m);
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
  // Sparse X (a CsrRef): the same driver over logistic_sparse_data, and its decision function.
  m.def(
      "logistic_fit_sparse",
      [](Context& ctx, const LogisticRegressionParams& p, const CsrRef& X, const Labels& labels,
         int64_t n_classes, const py::object& w, const py::object& coef_init) {
        const int32_t* lab = labels_of(labels, X.rows);
        const std::vector<double> start = doubles_of(coef_init);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return logistic_record(compute([&] {
            const auto data = logistic_sparse_data<T>(
                ctx, X.view<T>(), VectorView<const int32_t>(lab, X.rows), weights_of<T>(w));
            return logistic_regression_fit<T>(ctx, p, *data, n_classes, start);
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("labels"), py::arg("n_classes"),
      py::arg("sample_weight"), py::arg("coef_init"));
  m.def(
      "logistic_decision_function_sparse",
      [](Context& ctx, const py::dict& record, const CsrRef& X, const ArrayRef& out) {
        by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const LinearModel<T> linear = linear_model_of<T>(record);
          LogisticModel<T> model;
          model.n_features = linear.n_features;
          model.n_outputs = linear.n_targets;
          model.n_classes = linear.n_targets == 1 ? 2 : linear.n_targets;
          model.coef = linear.coef;
          model.intercept = linear.intercept;
          compute([&] { logistic_decision_function<T>(ctx, model, X.view<T>(), out.view<T>()); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"));
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
