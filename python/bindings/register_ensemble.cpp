// gpulearn._core, ensembles: RandomForestClassifier and RandomForestRegressor. A fitted forest
// crosses as its record, a dict of RandomForest's fields (NumPy arrays, moved out without a
// copy); the estimators keep it and hand it back for prediction (random_forest_prepare), viewed
// in place.
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common.hpp"
#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::bindings {
namespace {

using namespace ensemble;

py::dict forest_record(RandomForest&& f) {
  const auto nodes = static_cast<py::ssize_t>(f.children_left.size());
  const auto n_trees = static_cast<py::ssize_t>(f.n_trees());
  const py::ssize_t width = f.value_width;
  const auto n_oob = static_cast<py::ssize_t>(f.oob_count.size());
  py::dict d;
  d["n_features"] = f.n_features;
  d["max_features"] = f.max_features;
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
  ForestView view;
};

template <typename A>
A ensured(const py::dict& record, const char* name) {
  GPULEARN_EXPECTS(record.contains(name), "the forest record has no '", name, "'");
  A a = A::ensure(record[name]);
  GPULEARN_EXPECTS(a, "forest entry '", name, "' is not an array of the expected dtype");
  return a;
}

ForestArrays forest_arrays(const py::dict& record, int64_t n_features) {
  using I64 = py::array_t<int64_t, py::array::c_style>;
  using F64 = py::array_t<double, py::array::c_style>;
  ForestArrays a;
  a.offsets = ensured<I64>(record, "tree_offsets");
  a.left = ensured<I64>(record, "children_left");
  a.right = ensured<I64>(record, "children_right");
  a.feature = ensured<I64>(record, "feature");
  a.threshold = ensured<F64>(record, "threshold");
  a.value = ensured<F64>(record, "value");
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
  std::shared_ptr<PreparedForest<float>> f32;
  std::shared_ptr<PreparedForest<double>> f64;

  template <typename T>
  const PreparedForest<T>& prepared() {
    auto& slot = [this]() -> auto& {
      if constexpr (std::is_same_v<T, float>) {
        return f32;
      } else {
        return f64;
      }
    }
    ();
    if (!slot) slot = std::make_shared<PreparedForest<T>>(arrays.view);
    return *slot;
  }
};

// predict (Out = double: each row's mean over the trees, n x value_width) or apply (Out =
// int64: each row's leaf per tree, n x n_trees), in the feature type of X.
template <typename Out>
py::array_t<Out> forest_walk(Context& ctx, PyForest& forest, const ArrayRef& X) {
  constexpr bool kMean = std::is_same_v<Out, double>;
  const ForestView& v = forest.arrays.view;
  GPULEARN_EXPECTS(X.cols == v.n_features, "X has ", X.cols,
                   " features, but the forest is expecting ", v.n_features, " features as input.");
  py::array_t<Out> out({static_cast<py::ssize_t>(X.rows),
                        static_cast<py::ssize_t>(kMean ? v.value_width : v.n_trees)});
  Out* data = out.mutable_data();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const PreparedForest<T>& prepared = forest.prepared<T>();
    compute([&] {
      if constexpr (kMean) {
        random_forest_predict<T>(ctx, prepared, X.view<const T>(), data);
      } else {
        random_forest_apply<T>(ctx, prepared, X.view<const T>(), data);
      }
    });
  };
  by_dtype(X, run);
  return out;
}

// max_features as Python writes it: None, "sqrt", "log2", an int or a float (MaxFeatures).
MaxFeatures max_features_of(const py::object& v) {
  if (v.is_none()) return MaxFeatures::all();
  if (py::isinstance<py::str>(v)) return MaxFeatures(v.cast<std::string>());
  if (py::isinstance<py::bool_>(v)) {
    GPULEARN_FAIL(InvalidArgument, "max_features must be None, 'sqrt', 'log2', an int or a float");
  }
  if (py::isinstance<py::int_>(v) || py::hasattr(v, "__index__")) {
    return MaxFeatures(v.cast<int64_t>());
  }
  return MaxFeatures(v.cast<double>());
}

py::object max_features_value(const MaxFeatures& m) {
  switch (m.kind()) {
    case MaxFeatures::Kind::kAll:
      return py::none();
    case MaxFeatures::Kind::kSqrt:
      return py::str("sqrt");
    case MaxFeatures::Kind::kLog2:
      return py::str("log2");
    case MaxFeatures::Kind::kCount:
      return py::int_(m.count());
    case MaxFeatures::Kind::kFraction:
      return py::float_(m.fraction());
  }
  return py::none();
}

void bind_params(py::module_& m) {
  using P = RandomForestParams;
  auto cls = params_class<P>(m, "RandomForestParams",
                             "ensemble::RandomForestParams; the default is the classifier's "
                             "(RandomForestParams.regressor() gives the regressor's defaults)");
  cls.def_static("classifier", &P::classifier)
      .def_static("regressor", &P::regressor)
      .def_readwrite("n_estimators", &P::n_estimators)
      .def_readwrite("min_samples_split", &P::min_samples_split)
      .def_readwrite("min_samples_leaf", &P::min_samples_leaf)
      .def_readwrite("min_weight_fraction_leaf", &P::min_weight_fraction_leaf)
      .def_property(
          "max_features", [](const P& p) { return max_features_value(p.max_features); },
          [](P& p, const py::object& v) { p.max_features = max_features_of(v); })
      .def_readwrite("min_impurity_decrease", &P::min_impurity_decrease)
      .def_readwrite("bootstrap", &P::bootstrap)
      .def_readwrite("balanced_subsample", &P::balanced_subsample)
      .def_readwrite("oob", &P::oob)
      .def_readwrite("seed", &P::seed)
      .def_readwrite("n_bins", &P::n_bins);
  def_optional_count(cls, "max_depth", &P::max_depth);
  def_optional_count(cls, "max_leaf_nodes", &P::max_leaf_nodes);
  def_optional_count(cls, "max_samples", &P::max_samples);
  // "log_loss" is scikit-learn's other name of "entropy" (read back as "entropy").
  def_enum(cls, "criterion", &P::criterion,
           {{Criterion::kGini, "gini"},
            {Criterion::kEntropy, "entropy"},
            {Criterion::kEntropy, "log_loss"},
            {Criterion::kSquaredError, "squared_error"},
            {Criterion::kFriedmanMse, "friedman_mse"}},
           [](const std::string& s) {
             GPULEARN_FAIL(Unsupported, "criterion '", s,
                           "' is not implemented in gpulearn's random forests; use 'gini', "
                           "'entropy' or 'log_loss' (classifier), 'squared_error' or "
                           "'friedman_mse' (regressor)");
           });
}

}  // namespace

void register_ensemble(py::module_& m) {
  bind_params(m);
  m.def(
      "random_forest_fit",
      [](Context& ctx, const RandomForestParams& p, const ArrayRef& X, const py::object& labels,
         int64_t n_classes, const py::object& Y, const py::object& w) {
        GPULEARN_EXPECTS(labels.is_none() != Y.is_none(),
                         "random_forest_fit takes labels (classifier) or Y (regressor)");
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const VectorView<const T> wv = weights_of<T>(w);
          RandomForest f;
          if (!labels.is_none()) {
            const Labels lab = Labels::ensure(labels);
            const int32_t* lp = labels_of(lab, X.rows);
            f = compute([&] {
              return random_forest_classifier_fit<T>(ctx, p, X.view<const T>(), lp, n_classes, wv);
            });
          } else {
            const auto y =
                py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(Y);
            GPULEARN_EXPECTS(y && y.ndim() == 2 && y.shape(0) == X.rows, "Y must be a (", X.rows,
                             ", n_outputs) array of numbers");
            const MatrixView<const double> yv(y.data(), y.shape(0), y.shape(1), y.shape(1));
            f = compute(
                [&] { return random_forest_regressor_fit<T>(ctx, p, X.view<const T>(), yv, wv); });
          }
          return forest_record(std::move(f));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("labels"), py::arg("n_classes"),
      py::arg("Y"), py::arg("sample_weight"));
  py::class_<PyForest>(m, "Forest",
                       "A fitted forest's node arrays, prepared for traversal on first use");
  m.def(
      "random_forest_prepare",
      [](const py::dict& record, int64_t n_features) {
        return PyForest{forest_arrays(record, n_features), nullptr, nullptr};
      },
      py::arg("model"), py::arg("n_features"));
  m.def("random_forest_predict", &forest_walk<double>, py::arg("ctx"), py::arg("forest"),
        py::arg("X"));
  m.def("random_forest_apply", &forest_walk<int64_t>, py::arg("ctx"), py::arg("forest"),
        py::arg("X"));
}

}  // namespace gpulearn::bindings
