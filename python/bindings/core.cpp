// gpulearn._core: the thin compiled layer under the pure-Python estimators.
//
// Arrays cross this boundary as ArrayRef descriptors built in Python (gpulearn/_arrays.py):
// a raw address with shape, row stride, dtype and memory space. One path serves NumPy arrays,
// CuPy arrays and PyTorch CUDA tensors alike, and computing needs no Python object, so the GIL
// is released around every call into the library.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"
#include "gpulearn/ensemble/random_forest.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"
#include "gpulearn/neighbors/nearest_neighbors.hpp"

namespace py = pybind11;
using namespace gpulearn;

namespace {

// A 2-D array as Python describes it: address, shape, row stride (elements), dtype, space.
struct ArrayRef {
  std::uintptr_t ptr = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;
  std::string dtype;  // "float32" | "float64"
  bool on_device = false;

  template <typename T>
  MatrixView<T> view() const {
    return MatrixView<T>(reinterpret_cast<T*>(ptr), rows, cols, ld,
                         on_device ? MemorySpace::kDevice : MemorySpace::kHost);
  }
  // A column vector (rows x 1, stride ld) as a VectorView.
  template <typename T>
  VectorView<const T> vector() const {
    return VectorView<const T>(reinterpret_cast<const T*>(ptr), rows, ld,
                               on_device ? MemorySpace::kDevice : MemorySpace::kHost);
  }
};

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

template <typename T>
py::dict model_to_dict(const linear_model::LinearModel<T>& m) {
  py::dict d;
  d["coef"] = to_numpy(m.coef, {m.n_targets, m.n_features});
  d["intercept"] = to_numpy(m.intercept, {m.n_targets});
  d["rank"] = m.rank;
  d["singular"] = to_numpy(m.singular_values, {static_cast<py::ssize_t>(m.singular_values.size())});
  d["solver"] = m.solver;
  return d;
}

template <typename T>
linear_model::LinearModel<T> model_from_arrays(py::array_t<T, py::array::c_style> coef,
                                               py::array_t<T, py::array::c_style> intercept) {
  GPULEARN_EXPECTS(coef.ndim() == 2 && intercept.ndim() == 1 && intercept.shape(0) == coef.shape(0),
                   "coef must be (n_targets, n_features) and intercept (n_targets,)");
  linear_model::LinearModel<T> m;
  m.n_targets = coef.shape(0);
  m.n_features = coef.shape(1);
  m.coef.assign(coef.data(), coef.data() + coef.size());
  m.intercept.assign(intercept.data(), intercept.data() + intercept.size());
  return m;
}

template <typename T>
py::dict lr_fit(Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
                bool fit_intercept, double tol, bool positive) {
  linear_model::LinearRegressionParams p;
  p.fit_intercept = fit_intercept;
  p.tol = tol;
  p.positive = positive;
  const VectorView<const T> wv =
      w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
  linear_model::LinearModel<T> m;
  {
    py::gil_scoped_release release;
    m = linear_model::linear_regression_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(), wv);
  }
  return model_to_dict(m);
}

linear_model::RidgeSolver parse_solver(const std::string& s) {
  if (s == "auto") return linear_model::RidgeSolver::kAuto;
  if (s == "cholesky") return linear_model::RidgeSolver::kCholesky;
  if (s == "svd") return linear_model::RidgeSolver::kSvd;
  GPULEARN_FAIL(Unsupported, "Ridge solver '", s, "' is not implemented in gpulearn; use 'auto', ",
                "'cholesky' or 'svd'");
}

template <typename T>
py::dict ridge_fit(Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
                   std::vector<double> alpha, bool fit_intercept, const std::string& solver,
                   bool positive) {
  linear_model::RidgeParams p;
  p.alpha = std::move(alpha);
  p.fit_intercept = fit_intercept;
  p.solver = parse_solver(solver);
  p.positive = positive;
  const VectorView<const T> wv =
      w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
  linear_model::LinearModel<T> m;
  {
    py::gil_scoped_release release;
    m = linear_model::ridge_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(), wv);
  }
  return model_to_dict(m);
}

template <typename T>
void predict(Context& ctx, py::array_t<T, py::array::c_style> coef,
             py::array_t<T, py::array::c_style> intercept, const ArrayRef& X, const ArrayRef& out) {
  const auto m = model_from_arrays<T>(coef, intercept);
  py::gil_scoped_release release;
  linear_model::linear_predict<T>(ctx, m, X.view<const T>(), out.view<T>());
}

linear_model::CdPath parse_cd_path(const std::string& s) {
  if (s == "auto") return linear_model::CdPath::kAuto;
  if (s == "gram") return linear_model::CdPath::kGram;
  if (s == "data") return linear_model::CdPath::kData;
  GPULEARN_FAIL(InvalidArgument, "path must be 'auto', 'gram' or 'data', got '", s, "'");
}

template <typename T>
py::dict elastic_net_fit(Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
                         const linear_model::ElasticNetParams& p,
                         const std::vector<double>& coef_init) {
  const VectorView<const T> wv =
      w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
  linear_model::ElasticNetModel<T> m;
  {
    py::gil_scoped_release release;
    m = linear_model::elastic_net_fit<T>(ctx, p, X.view<const T>(), Y.view<const T>(), wv,
                                         coef_init);
  }
  py::dict d = model_to_dict(static_cast<const linear_model::LinearModel<T>&>(m));
  d["n_iter"] = m.n_iter;
  d["dual_gap"] = m.dual_gap;
  d["gap_tol"] = m.gap_tol;
  d["converged"] = std::vector<bool>(m.converged.begin(), m.converged.end());
  return d;
}

template <typename T>
py::dict logistic_fit(Context& ctx, const ArrayRef& X, const std::vector<int32_t>& labels,
                      int64_t n_classes, const py::object& w,
                      const linear_model::LogisticRegressionParams& p,
                      const std::vector<double>& coef_init) {
  const VectorView<const T> wv =
      w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
  linear_model::LogisticModel<T> m;
  {
    py::gil_scoped_release release;
    m = linear_model::logistic_regression_fit<T>(ctx, p, X.view<const T>(), labels, n_classes, wv,
                                                 coef_init);
  }
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

// The int32 labels an estimator allocated for n rows (a contiguous column).
int32_t* labels_of(const ArrayRef& labels, int64_t n) {
  GPULEARN_EXPECTS(labels.dtype == "int32" && labels.rows == n && labels.cols == 1,
                   "labels must be an int32 array of ", n, " entries");
  return reinterpret_cast<int32_t*>(labels.ptr);
}

cluster::KMeansInit parse_init(const std::string& s) {
  if (s == "k-means++") return cluster::KMeansInit::kKMeansPlusPlus;
  if (s == "random") return cluster::KMeansInit::kRandom;
  if (s == "array") return cluster::KMeansInit::kArray;
  if (s == "k-means||") return cluster::KMeansInit::kParallel;
  GPULEARN_FAIL(InvalidArgument, "init must be 'k-means++', 'random', 'k-means||' or an array, ",
                "got '", s, "'");
}

template <typename T>
cluster::KMeansModel<T> kmeans_model(py::array_t<T, py::array::c_style> centers) {
  GPULEARN_EXPECTS(centers.ndim() == 2, "cluster centers must be (n_clusters, n_features)");
  cluster::KMeansModel<T> m;
  m.n_clusters = centers.shape(0);
  m.n_features = centers.shape(1);
  m.centers.assign(centers.data(), centers.data() + centers.size());
  return m;
}

template <typename T>
py::dict kmeans_fit(Context& ctx, const ArrayRef& X, const py::object& w,
                    const cluster::KMeansParams& p, const py::object& init_centers,
                    const ArrayRef& labels) {
  const VectorView<const T> wv =
      w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
  py::array_t<T, py::array::c_style> init;
  if (p.init == cluster::KMeansInit::kArray) {
    init = py::array_t<T, py::array::c_style>::ensure(init_centers);
    GPULEARN_EXPECTS(
        init && init.ndim() == 2 && init.shape(0) == p.n_clusters && init.shape(1) == X.cols,
        "The shape of the initial centers must be (n_clusters, n_features) = (", p.n_clusters, ", ",
        X.cols, ")");
  }
  int32_t* out = labels_of(labels, X.rows);
  cluster::KMeansModel<T> m;
  {
    py::gil_scoped_release release;
    m = cluster::kmeans_fit<T>(ctx, p, X.view<const T>(), wv, init ? init.data() : nullptr, out);
  }
  py::dict d;
  d["centers"] = to_numpy(m.centers, {m.n_clusters, m.n_features});
  d["inertia"] = m.inertia;
  d["n_iter"] = m.n_iter;
  return d;
}

neighbors::NeighborsParams neighbors_params(const std::string& metric, double p) {
  using neighbors::Metric;
  neighbors::NeighborsParams params;
  params.p = p;
  if (metric == "minkowski") {
    params.metric = Metric::kMinkowski;
  } else if (metric == "euclidean") {
    params.metric = Metric::kEuclidean;
  } else if (metric == "sqeuclidean") {
    params.metric = Metric::kSqEuclidean;
  } else if (metric == "manhattan") {
    params.metric = Metric::kManhattan;
  } else if (metric == "chebyshev") {
    params.metric = Metric::kChebyshev;
  } else if (metric == "cosine") {
    params.metric = Metric::kCosine;
  } else if (metric == "inner_product") {
    params.metric = Metric::kInnerProduct;
  } else {
    GPULEARN_FAIL(Unsupported, "metric '", metric, "' is not implemented in gpulearn");
  }
  return params;
}

// ---- decomposition: models cross as dicts of NumPy arrays (the estimator's attributes).

template <typename T>
std::vector<T> vector_of(const py::dict& d, const char* key) {
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(d[key]);
  GPULEARN_EXPECTS(a, "model entry '", key, "' is not a numeric array");
  return std::vector<T>(a.data(), a.data() + a.size());
}

template <typename T>
decomposition::PcaModel<T> pca_model(const py::dict& d) {
  decomposition::PcaModel<T> m;
  m.components = vector_of<T>(d, "components");
  m.explained_variance = vector_of<T>(d, "explained_variance");
  m.mean = vector_of<T>(d, "mean");
  m.n_features = static_cast<int64_t>(m.mean.size());
  m.n_components = static_cast<int64_t>(m.explained_variance.size());
  GPULEARN_EXPECTS(static_cast<int64_t>(m.components.size()) == m.n_components * m.n_features,
                   "components must be (n_components, n_features)");
  m.noise_variance = d["noise_variance"].cast<double>();
  m.whiten = d["whiten"].cast<bool>();
  return m;
}

template <typename T>
py::dict pca_model_dict(const decomposition::PcaModel<T>& m) {
  py::dict d;
  const py::ssize_t k = m.n_components;
  d["components"] = to_numpy(m.components, {k, m.n_features});
  d["explained_variance"] = to_numpy(m.explained_variance, {k});
  d["explained_variance_ratio"] = to_numpy(m.explained_variance_ratio, {k});
  d["singular_values"] = to_numpy(m.singular_values, {k});
  d["mean"] = to_numpy(m.mean, {m.n_features});
  d["noise_variance"] = m.noise_variance;
  d["n_components"] = m.n_components;
  d["solver"] = m.solver;
  return d;
}

decomposition::PcaSolver parse_pca_solver(const std::string& s) {
  using decomposition::PcaSolver;
  if (s == "auto") return PcaSolver::kAuto;
  if (s == "full") return PcaSolver::kFull;
  if (s == "covariance_eigh") return PcaSolver::kCovarianceEigh;
  if (s == "randomized") return PcaSolver::kRandomized;
  if (s == "arpack") return PcaSolver::kArpack;
  GPULEARN_FAIL(InvalidArgument, "unknown svd_solver '", s, "'");
}

decomposition::NComponents n_components_of(const std::string& kind, int64_t count,
                                           double fraction) {
  using decomposition::NComponents;
  if (kind == "all") return NComponents::all();
  if (kind == "count") return NComponents::of(count);
  if (kind == "fraction") return NComponents::variance_fraction(fraction);
  if (kind == "mle") return NComponents::mle();
  GPULEARN_FAIL(InvalidArgument, "unknown n_components kind '", kind, "'");
}

std::vector<double> start_matrix(const py::object& start) {
  if (start.is_none()) return {};
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(start);
  GPULEARN_EXPECTS(a, "the randomized start must be a float64 array");
  return std::vector<double>(a.data(), a.data() + a.size());
}

template <typename T>
decomposition::TruncatedSvdModel<T> tsvd_model(const py::dict& d) {
  decomposition::TruncatedSvdModel<T> m;
  m.components = vector_of<T>(d, "components");
  m.n_components = d["n_components"].cast<int64_t>();
  m.n_features = d["n_features"].cast<int64_t>();
  GPULEARN_EXPECTS(static_cast<int64_t>(m.components.size()) == m.n_components * m.n_features,
                   "components must be (n_components, n_features)");
  return m;
}

// ---- ensemble: a fitted forest crosses as a dict of NumPy arrays (RandomForest's fields); the
// estimators keep them and hand them back for prediction, viewed in place (no copy).

// A vector handed to NumPy without a copy: the array owns it through a capsule.
template <typename T>
py::array_t<T> move_to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

ensemble::Criterion parse_criterion(const std::string& s) {
  using ensemble::Criterion;
  if (s == "gini") return Criterion::kGini;
  if (s == "entropy" || s == "log_loss") return Criterion::kEntropy;
  if (s == "squared_error") return Criterion::kSquaredError;
  if (s == "friedman_mse") return Criterion::kFriedmanMse;
  GPULEARN_FAIL(Unsupported, "criterion '", s, "' is not implemented in gpulearn's random ",
                "forests; use 'gini', 'entropy' or 'log_loss' (classifier), 'squared_error' or ",
                "'friedman_mse' (regressor)");
}

py::dict forest_to_dict(ensemble::RandomForest&& f) {
  const auto nodes = static_cast<py::ssize_t>(f.children_left.size());
  const auto n_trees = static_cast<py::ssize_t>(f.n_trees());
  const py::ssize_t width = f.value_width;
  const auto n_oob = static_cast<py::ssize_t>(f.oob_count.size());
  py::dict d;
  d["n_features"] = f.n_features;
  d["n_classes"] = f.n_classes;
  d["n_outputs"] = f.n_outputs;
  d["value_width"] = f.value_width;
  d["tree_offsets"] = move_to_numpy(std::move(f.tree_offsets), {n_trees + 1});
  d["children_left"] = move_to_numpy(std::move(f.children_left), {nodes});
  d["children_right"] = move_to_numpy(std::move(f.children_right), {nodes});
  d["feature"] = move_to_numpy(std::move(f.feature), {nodes});
  d["threshold"] = move_to_numpy(std::move(f.threshold), {nodes});
  d["value"] = move_to_numpy(std::move(f.value), {nodes, width});
  d["impurity"] = move_to_numpy(std::move(f.impurity), {nodes});
  d["n_node_samples"] = move_to_numpy(std::move(f.n_node_samples), {nodes});
  d["weighted_n_node_samples"] = move_to_numpy(std::move(f.weighted_n_node_samples), {nodes});
  d["max_depth"] = move_to_numpy(std::move(f.max_depth), {n_trees});
  d["feature_importances"] =
      move_to_numpy(std::move(f.feature_importances), {static_cast<py::ssize_t>(f.n_features)});
  d["oob_value"] = move_to_numpy(std::move(f.oob_value), {n_oob, width});
  d["oob_count"] = move_to_numpy(std::move(f.oob_count), {n_oob});
  return d;
}

// The node arrays of a forest (or of some of its trees: tree_offsets may be a slice of the
// forest's), their dtypes and shapes checked and viewed in place (PreparedForest checks the
// trees); the arrays stay referenced here while the view is used.
struct ForestArrays {
  py::array_t<int64_t, py::array::c_style> offsets, left, right, feature;
  py::array_t<double, py::array::c_style> threshold, value;
  ensemble::ForestView view;
};

template <typename A>
A ensured(const py::object& obj, const char* name) {
  A a = A::ensure(obj);
  GPULEARN_EXPECTS(a, "forest entry '", name, "' is not an array of the expected dtype");
  return a;
}

ForestArrays forest_arrays(const py::object& tree_offsets, const py::object& children_left,
                           const py::object& children_right, const py::object& feature,
                           const py::object& threshold, const py::object& value,
                           int64_t n_features) {
  using I64 = py::array_t<int64_t, py::array::c_style>;
  using F64 = py::array_t<double, py::array::c_style>;
  ForestArrays a;
  a.offsets = ensured<I64>(tree_offsets, "tree_offsets");
  a.left = ensured<I64>(children_left, "children_left");
  a.right = ensured<I64>(children_right, "children_right");
  a.feature = ensured<I64>(feature, "feature");
  a.threshold = ensured<F64>(threshold, "threshold");
  a.value = ensured<F64>(value, "value");
  const int64_t nodes = a.left.size();
  GPULEARN_EXPECTS(a.offsets.ndim() == 1 && a.offsets.size() >= 2,
                   "tree_offsets must hold n_trees + 1 >= 2 entries");
  GPULEARN_EXPECTS(a.right.size() == nodes && a.feature.size() == nodes &&
                       a.threshold.size() == nodes && a.value.ndim() == 2 &&
                       a.value.shape(0) == nodes && a.value.shape(1) >= 1,
                   "the forest's node arrays must share one length and value be (nodes, width)");
  GPULEARN_EXPECTS(n_features >= 1, "the forest must have at least one feature");
  const int64_t n_trees = a.offsets.size() - 1;
  const int64_t* off = a.offsets.data();
  GPULEARN_EXPECTS(off[0] >= 0 && off[n_trees] <= nodes, "tree_offsets out of range");
  a.view.n_trees = n_trees;
  a.view.n_features = n_features;
  a.view.value_width = a.value.shape(1);
  a.view.tree_offsets = off;
  a.view.children_left = a.left.data();
  a.view.children_right = a.right.data();
  a.view.feature = a.feature.data();
  a.view.threshold = a.threshold.data();
  a.view.value = a.value.data();
  return a;
}

// A forest as Python predicts from it: the arrays, and per feature type the PreparedForest
// built on the first predict or apply in that type and reused after.
struct PyForest {
  ForestArrays arrays;
  std::shared_ptr<ensemble::PreparedForest<float>> f32;
  std::shared_ptr<ensemble::PreparedForest<double>> f64;

  template <typename T>
  const ensemble::PreparedForest<T>& prepared() {
    auto& slot = [this]() -> auto& {
      if constexpr (std::is_same_v<T, float>) {
        return f32;
      } else {
        return f64;
      }
    }();
    if (!slot) slot = std::make_shared<ensemble::PreparedForest<T>>(arrays.view);
    return *slot;
  }
};

// Dispatches on the dtype of X: the only two feature types gpulearn computes in.
template <typename F32, typename F64>
auto by_dtype(const ArrayRef& X, F32 f32, F64 f64) {
  if (X.dtype == "float32") return f32();
  if (X.dtype == "float64") return f64();
  GPULEARN_FAIL(InvalidArgument, "unsupported dtype ", X.dtype, ": expected float32 or float64");
}

// predict (Out = double: each row's mean over the trees, n x value_width) or apply (Out =
// int64: each row's leaf per tree, n x n_trees), in the feature type of X.
template <typename Out>
py::array_t<Out> forest_walk(Context& ctx, PyForest& forest, const ArrayRef& X) {
  constexpr bool kMean = std::is_same_v<Out, double>;
  const ensemble::ForestView& v = forest.arrays.view;
  GPULEARN_EXPECTS(X.cols == v.n_features, "X has ", X.cols,
                   " features, but the forest is expecting ", v.n_features,
                   " features as input.");
  py::array_t<Out> out({static_cast<py::ssize_t>(X.rows),
                        static_cast<py::ssize_t>(kMean ? v.value_width : v.n_trees)});
  Out* data = out.mutable_data();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const ensemble::PreparedForest<T>& prepared = forest.prepared<T>();
    py::gil_scoped_release release;
    if constexpr (kMean) {
      ensemble::random_forest_predict<T>(ctx, prepared, X.view<const T>(), data);
    } else {
      ensemble::random_forest_apply<T>(ctx, prepared, X.view<const T>(), data);
    }
  };
  by_dtype(
      X, [&] { run(0.0f); }, [&] { run(0.0); });
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "gpulearn's compiled core (internal; use the estimators in gpulearn.*)";

  // Errors: the C++ hierarchy mapped onto the exceptions scikit-learn users expect.
  static py::exception<DeviceError> device_error(m, "DeviceError", PyExc_RuntimeError);
  static py::exception<NotFitted> not_fitted(m, "NotFittedError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const Unsupported& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const NotFitted& e) {
      PyErr_SetString(not_fitted.ptr(), e.what());
    } catch (const DeviceError& e) {
      PyErr_SetString(device_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<ArrayRef>(m, "ArrayRef")
      .def(py::init([](std::uintptr_t ptr, int64_t rows, int64_t cols, int64_t ld,
                       std::string dtype, bool on_device) {
             return ArrayRef{ptr, rows, cols, ld, std::move(dtype), on_device};
           }),
           py::arg("ptr"), py::arg("rows"), py::arg("cols"), py::arg("ld"), py::arg("dtype"),
           py::arg("on_device"))
      .def_readonly("rows", &ArrayRef::rows)
      .def_readonly("cols", &ArrayRef::cols)
      .def_readonly("dtype", &ArrayRef::dtype)
      .def_readonly("on_device", &ArrayRef::on_device);

  py::class_<Context>(m, "Context")
      .def(py::init([](const std::string& device) { return new Context(Device::parse(device)); }),
           py::arg("device"))
      .def_property_readonly("device", [](const Context& c) { return c.device().to_string(); })
      .def("synchronize", &Context::synchronize, py::call_guard<py::gil_scoped_release>());

  m.def(
      "auto_device", [] { return Device::auto_device().to_string(); },
      "What 'auto' resolves to when neither the data nor the configuration decides: 'cuda:0' "
      "with a real CUDA device, else 'cpu' (Device::auto_device, the one rule).");
  m.def("cuda_available", &cuda_available);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_unavailable_reason", &cuda_unavailable_reason);
  m.def("cuda_emulated", &cuda_emulated);
  m.def("build_info", [] {
    const BuildInfo b = build_info();
    py::dict d;
    d["version"] = b.version;
    d["cuda_built"] = b.cuda_built;
    d["cuda_architectures"] = b.cuda_architectures;
    d["cuda_version"] = b.cuda_version;
    d["compiler"] = b.compiler;
    return d;
  });

  m.def(
      "linear_regression_fit",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
         bool fit_intercept, double tol, bool positive) {
        return by_dtype(
            X, [&] { return lr_fit<float>(ctx, X, Y, w, fit_intercept, tol, positive); },
            [&] { return lr_fit<double>(ctx, X, Y, w, fit_intercept, tol, positive); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
      py::arg("fit_intercept"), py::arg("tol"), py::arg("positive"));
  m.def(
      "ridge_fit",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w,
         std::vector<double> alpha, bool fit_intercept, const std::string& solver, bool positive) {
        return by_dtype(
            X,
            [&] { return ridge_fit<float>(ctx, X, Y, w, alpha, fit_intercept, solver, positive); },
            [&] {
              return ridge_fit<double>(ctx, X, Y, w, alpha, fit_intercept, solver, positive);
            });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("alpha"),
      py::arg("fit_intercept"), py::arg("solver"), py::arg("positive"));
  m.def(
      "linear_predict",
      [](Context& ctx, const py::array& coef, const py::array& intercept, const ArrayRef& X,
         const ArrayRef& out) {
        by_dtype(
            X,
            [&] {
              predict<float>(ctx, py::array_t<float, py::array::c_style>::ensure(coef),
                             py::array_t<float, py::array::c_style>::ensure(intercept), X, out);
            },
            [&] {
              predict<double>(ctx, py::array_t<double, py::array::c_style>::ensure(coef),
                              py::array_t<double, py::array::c_style>::ensure(intercept), X, out);
            });
      },
      py::arg("ctx"), py::arg("coef"), py::arg("intercept"), py::arg("X"), py::arg("out"));

  m.def(
      "elastic_net_fit",
      [](Context& ctx, const ArrayRef& X, const ArrayRef& Y, const py::object& w, double alpha,
         double l1_ratio, bool fit_intercept, int64_t max_iter, double tol, bool positive,
         bool random, std::vector<uint32_t> seeds, const std::string& path,
         const std::vector<double>& coef_init) {
        linear_model::ElasticNetParams p;
        p.alpha = alpha;
        p.l1_ratio = l1_ratio;
        p.fit_intercept = fit_intercept;
        p.max_iter = max_iter;
        p.tol = tol;
        p.positive = positive;
        p.selection =
            random ? linear_model::CdSelection::kRandom : linear_model::CdSelection::kCyclic;
        p.seeds = std::move(seeds);
        p.path = parse_cd_path(path);
        return by_dtype(
            X, [&] { return elastic_net_fit<float>(ctx, X, Y, w, p, coef_init); },
            [&] { return elastic_net_fit<double>(ctx, X, Y, w, p, coef_init); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("alpha"),
      py::arg("l1_ratio"), py::arg("fit_intercept"), py::arg("max_iter"), py::arg("tol"),
      py::arg("positive"), py::arg("random"), py::arg("seeds"), py::arg("path"),
      py::arg("coef_init"));
  m.def(
      "logistic_fit",
      [](Context& ctx, const ArrayRef& X, const std::vector<int32_t>& labels, int64_t n_classes,
         const py::object& w, double C, double l1_ratio, bool fit_intercept, int64_t max_iter,
         double tol, double intercept_scaling, const std::vector<double>& coef_init) {
        linear_model::LogisticRegressionParams p;
        p.C = C;
        p.l1_ratio = l1_ratio;
        p.fit_intercept = fit_intercept;
        p.max_iter = max_iter;
        p.tol = tol;
        p.intercept_scaling = intercept_scaling;
        return by_dtype(
            X, [&] { return logistic_fit<float>(ctx, X, labels, n_classes, w, p, coef_init); },
            [&] { return logistic_fit<double>(ctx, X, labels, n_classes, w, p, coef_init); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("labels"), py::arg("n_classes"),
      py::arg("sample_weight"), py::arg("C"), py::arg("l1_ratio"), py::arg("fit_intercept"),
      py::arg("max_iter"), py::arg("tol"), py::arg("intercept_scaling"), py::arg("coef_init"));

  m.def(
      "kmeans_fit",
      [](Context& ctx, const ArrayRef& X, const py::object& w, int64_t n_clusters,
         const std::string& init, const py::object& init_centers, int n_init, int max_iter,
         double tol, uint64_t seed, const ArrayRef& labels) {
        cluster::KMeansParams p;
        p.n_clusters = n_clusters;
        p.init = parse_init(init);
        p.n_init = n_init;
        p.max_iter = max_iter;
        p.tol = tol;
        p.seed = seed;
        return by_dtype(
            X, [&] { return kmeans_fit<float>(ctx, X, w, p, init_centers, labels); },
            [&] { return kmeans_fit<double>(ctx, X, w, p, init_centers, labels); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("sample_weight"), py::arg("n_clusters"),
      py::arg("init"), py::arg("init_centers"), py::arg("n_init"), py::arg("max_iter"),
      py::arg("tol"), py::arg("seed"), py::arg("labels"));
  m.def(
      "kmeans_predict",
      [](Context& ctx, const py::array& centers, const ArrayRef& X, const py::object& w,
         const ArrayRef& labels) {
        int32_t* out = labels_of(labels, X.rows);
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto model = kmeans_model<T>(py::array_t<T, py::array::c_style>::ensure(centers));
          const VectorView<const T> wv =
              w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
          py::gil_scoped_release release;
          return cluster::kmeans_predict<T>(ctx, model, X.view<const T>(), wv, out);
        };
        return by_dtype(
            X, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("centers"), py::arg("X"), py::arg("sample_weight"),
      py::arg("labels"));
  m.def(
      "kmeans_sq_distances",
      [](Context& ctx, const py::array& centers, const ArrayRef& X, const ArrayRef& out) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto model = kmeans_model<T>(py::array_t<T, py::array::c_style>::ensure(centers));
          py::gil_scoped_release release;
          cluster::kmeans_sq_distances<T>(ctx, model, X.view<const T>(), out.view<T>());
        };
        by_dtype(
            X, [&] { run(0.0f); }, [&] { run(0.0); });
      },
      py::arg("ctx"), py::arg("centers"), py::arg("X"), py::arg("out"));

  m.def(
      "kneighbors",
      [](Context& ctx, const ArrayRef& index, const ArrayRef& queries, bool exclude_self,
         const std::string& metric, double p, int64_t k, const ArrayRef& dist,
         const ArrayRef& idx) {
        GPULEARN_EXPECTS(
            idx.dtype == "int64" && dist.dtype == queries.dtype && index.dtype == queries.dtype,
            "kneighbors: indices must be int64 and every float array one dtype");
        const auto params = neighbors_params(metric, p);
        auto run = [&](auto zero) {
          using T = decltype(zero);
          py::gil_scoped_release release;
          neighbors::kneighbors<T>(ctx, params, index.view<const T>(), queries.view<const T>(), k,
                                   exclude_self, dist.view<T>(), idx.view<int64_t>());
        };
        by_dtype(
            queries, [&] { run(0.0f); }, [&] { run(0.0); });
      },
      py::arg("ctx"), py::arg("index"), py::arg("queries"), py::arg("exclude_self"),
      py::arg("metric"), py::arg("p"), py::arg("k"), py::arg("distances"), py::arg("indices"));
  m.def(
      "radius_neighbors",
      [](Context& ctx, const ArrayRef& index, const ArrayRef& queries, bool exclude_self,
         const std::string& metric, double p, double radius, bool sort_results) {
        GPULEARN_EXPECTS(index.dtype == queries.dtype,
                         "radius_neighbors: the index and the queries must share one dtype");
        const auto params = neighbors_params(metric, p);
        auto run = [&](auto zero) {
          using T = decltype(zero);
          neighbors::RadiusNeighbors<T> r;
          {
            py::gil_scoped_release release;
            r = neighbors::radius_neighbors<T>(ctx, params, index.view<const T>(),
                                               queries.view<const T>(), radius, exclude_self,
                                               sort_results);
          }
          const auto nnz = static_cast<py::ssize_t>(r.indices.size());
          return py::tuple(
              py::make_tuple(to_numpy(r.offsets, {static_cast<py::ssize_t>(r.offsets.size())}),
                             to_numpy(r.indices, {nnz}), to_numpy(r.distances, {nnz})));
        };
        return by_dtype(
            queries, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("index"), py::arg("queries"), py::arg("exclude_self"),
      py::arg("metric"), py::arg("p"), py::arg("radius"), py::arg("sort_results"));

  // ---- decomposition
  m.def(
      "pca_resolve_solver",
      [](int64_t n, int64_t d, const std::string& kind, int64_t count, double fraction,
         const std::string& solver) {
        decomposition::PcaParams p;
        p.n_components = n_components_of(kind, count, fraction);
        p.svd_solver = parse_pca_solver(solver);
        static const char* names[] = {"auto", "full", "covariance_eigh", "randomized", "arpack"};
        return std::string(names[static_cast<int>(decomposition::pca_resolve_solver(p, n, d))]);
      },
      py::arg("n"), py::arg("d"), py::arg("kind"), py::arg("count"), py::arg("fraction"),
      py::arg("solver"));
  m.def(
      "pca_fit",
      [](Context& ctx, const ArrayRef& X, const std::string& kind, int64_t count, double fraction,
         bool whiten, const std::string& solver, double tol, int iterated_power,
         int64_t n_oversamples, uint64_t seed, const py::object& start) {
        decomposition::PcaParams p;
        p.n_components = n_components_of(kind, count, fraction);
        p.whiten = whiten;
        p.svd_solver = parse_pca_solver(solver);
        p.tol = tol;
        p.iterated_power = iterated_power;
        p.n_oversamples = n_oversamples;
        p.random_state = seed;
        p.random_start = start_matrix(start);
        auto run = [&](auto zero) {
          using T = decltype(zero);
          decomposition::PcaModel<T> model;
          {
            py::gil_scoped_release release;
            model = decomposition::pca_fit<T>(ctx, p, X.view<const T>());
          }
          return pca_model_dict(model);
        };
        return by_dtype(
            X, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("kind"), py::arg("count"), py::arg("fraction"),
      py::arg("whiten"), py::arg("solver"), py::arg("tol"), py::arg("iterated_power"),
      py::arg("n_oversamples"), py::arg("seed"), py::arg("start"));
  m.def(
      "pca_transform",
      [](Context& ctx, const py::dict& model, const ArrayRef& X, const ArrayRef& out,
         bool inverse) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto m = pca_model<T>(model);
          py::gil_scoped_release release;
          if (inverse) {
            decomposition::pca_inverse_transform<T>(ctx, m, X.view<const T>(), out.view<T>());
          } else {
            decomposition::pca_transform<T>(ctx, m, X.view<const T>(), out.view<T>());
          }
        };
        by_dtype(
            X, [&] { run(0.0f); }, [&] { run(0.0); });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
  m.def(
      "pca_covariance",
      [](Context& ctx, const py::dict& model, const std::string& dtype, bool precision) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto m = pca_model<T>(model);
          std::vector<T> c;
          {
            py::gil_scoped_release release;
            c = precision ? decomposition::pca_precision<T>(ctx, m)
                          : decomposition::pca_covariance<T>(ctx, m);
          }
          return py::array(to_numpy(c, {m.n_features, m.n_features}));
        };
        if (dtype == "float32") return run(0.0f);
        return run(0.0);
      },
      py::arg("ctx"), py::arg("model"), py::arg("dtype"), py::arg("precision"));
  m.def(
      "pca_score_samples",
      [](Context& ctx, const py::dict& model, const ArrayRef& X) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto m = pca_model<T>(model);
          py::array_t<T> out(X.rows);
          {
            py::gil_scoped_release release;
            decomposition::pca_score_samples<T>(ctx, m, X.view<const T>(),
                                                VectorView<T>(out.mutable_data(), X.rows));
          }
          return py::array(out);
        };
        return by_dtype(
            X, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"));
  m.def(
      "truncated_svd_fit",
      [](Context& ctx, const ArrayRef& X, int64_t n_components, const std::string& algorithm,
         int n_iter, int64_t n_oversamples, uint64_t seed, double tol, const py::object& start) {
        decomposition::TruncatedSvdParams p;
        p.n_components = n_components;
        GPULEARN_EXPECTS(algorithm == "randomized" || algorithm == "arpack", "unknown algorithm '",
                         algorithm, "'");
        p.algorithm = algorithm == "arpack" ? decomposition::TruncatedSvdAlgorithm::kArpack
                                            : decomposition::TruncatedSvdAlgorithm::kRandomized;
        p.n_iter = n_iter;
        p.n_oversamples = n_oversamples;
        p.random_state = seed;
        p.tol = tol;
        p.random_start = start_matrix(start);
        auto run = [&](auto zero) {
          using T = decltype(zero);
          decomposition::TruncatedSvdModel<T> m;
          {
            py::gil_scoped_release release;
            m = decomposition::truncated_svd_fit<T>(ctx, p, X.view<const T>());
          }
          py::dict d;
          const py::ssize_t k = m.n_components;
          d["components"] = to_numpy(m.components, {k, m.n_features});
          d["explained_variance"] = to_numpy(m.explained_variance, {k});
          d["explained_variance_ratio"] = to_numpy(m.explained_variance_ratio, {k});
          d["singular_values"] = to_numpy(m.singular_values, {k});
          return d;
        };
        return by_dtype(
            X, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("n_components"), py::arg("algorithm"),
      py::arg("n_iter"), py::arg("n_oversamples"), py::arg("seed"), py::arg("tol"),
      py::arg("start"));
  m.def(
      "truncated_svd_transform",
      [](Context& ctx, const py::dict& model, const ArrayRef& X, const ArrayRef& out,
         bool inverse) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const auto m = tsvd_model<T>(model);
          py::gil_scoped_release release;
          if (inverse) {
            decomposition::truncated_svd_inverse_transform<T>(ctx, m, X.view<const T>(),
                                                              out.view<T>());
          } else {
            decomposition::truncated_svd_transform<T>(ctx, m, X.view<const T>(), out.view<T>());
          }
        };
        by_dtype(
            X, [&] { run(0.0f); }, [&] { run(0.0); });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));

  // ---- ensemble
  m.def(
      "random_forest_fit",
      [](Context& ctx, const ArrayRef& X, const py::object& labels, int64_t n_classes,
         const py::object& Y, const py::object& w, int64_t n_estimators,
         const std::string& criterion, int64_t max_depth, int64_t min_samples_split,
         int64_t min_samples_leaf, double min_weight_fraction_leaf, int64_t max_features,
         int64_t max_leaf_nodes, double min_impurity_decrease, bool bootstrap, int64_t max_samples,
         bool balanced_subsample, bool oob, uint64_t seed, int n_bins) {
        ensemble::RandomForestParams p;
        p.n_estimators = n_estimators;
        p.criterion = parse_criterion(criterion);
        p.max_depth = max_depth;
        p.min_samples_split = min_samples_split;
        p.min_samples_leaf = min_samples_leaf;
        p.min_weight_fraction_leaf = min_weight_fraction_leaf;
        p.max_features = max_features;
        p.max_leaf_nodes = max_leaf_nodes;
        p.min_impurity_decrease = min_impurity_decrease;
        p.bootstrap = bootstrap;
        p.max_samples = max_samples;
        p.balanced_subsample = balanced_subsample;
        p.oob = oob;
        p.seed = seed;
        p.n_bins = n_bins;
        GPULEARN_EXPECTS(labels.is_none() != Y.is_none(),
                         "random_forest_fit takes labels (classifier) or Y (regressor)");
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const VectorView<const T> wv =
              w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
          ensemble::RandomForest f;
          if (!labels.is_none()) {
            const auto lab = py::array_t<int32_t, py::array::c_style>::ensure(labels);
            GPULEARN_EXPECTS(lab && lab.ndim() == 1 && lab.shape(0) == X.rows,
                             "labels must be an int32 array of ", X.rows, " entries");
            py::gil_scoped_release release;
            f = ensemble::random_forest_classifier_fit<T>(ctx, p, X.view<const T>(), lab.data(),
                                                          n_classes, wv);
          } else {
            const auto y =
                py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(Y);
            GPULEARN_EXPECTS(y && y.ndim() == 2 && y.shape(0) == X.rows, "Y must be a (", X.rows,
                             ", n_outputs) array of numbers");
            const MatrixView<const double> yv(y.data(), y.shape(0), y.shape(1), y.shape(1));
            py::gil_scoped_release release;
            f = ensemble::random_forest_regressor_fit<T>(ctx, p, X.view<const T>(), yv, wv);
          }
          return forest_to_dict(std::move(f));
        };
        return by_dtype(
            X, [&] { return run(0.0f); }, [&] { return run(0.0); });
      },
      py::arg("ctx"), py::arg("X"), py::arg("labels"), py::arg("n_classes"), py::arg("Y"),
      py::arg("sample_weight"), py::arg("n_estimators"), py::arg("criterion"), py::arg("max_depth"),
      py::arg("min_samples_split"), py::arg("min_samples_leaf"),
      py::arg("min_weight_fraction_leaf"), py::arg("max_features"), py::arg("max_leaf_nodes"),
      py::arg("min_impurity_decrease"), py::arg("bootstrap"), py::arg("max_samples"),
      py::arg("balanced_subsample"), py::arg("oob"), py::arg("seed"), py::arg("n_bins"));
  py::class_<PyForest>(m, "Forest",
                       "A fitted forest's node arrays, prepared for traversal on first use");
  m.def(
      "random_forest_prepare",
      [](const py::object& tree_offsets, const py::object& children_left,
         const py::object& children_right, const py::object& feature, const py::object& threshold,
         const py::object& value, int64_t n_features) {
        return PyForest{forest_arrays(tree_offsets, children_left, children_right, feature,
                                      threshold, value, n_features),
                        nullptr, nullptr};
      },
      py::arg("tree_offsets"), py::arg("children_left"), py::arg("children_right"),
      py::arg("feature"), py::arg("threshold"), py::arg("value"), py::arg("n_features"));
  m.def("random_forest_predict", &forest_walk<double>, py::arg("ctx"), py::arg("forest"),
        py::arg("X"));
  m.def("random_forest_apply", &forest_walk<int64_t>, py::arg("ctx"), py::arg("forest"),
        py::arg("X"));
}
