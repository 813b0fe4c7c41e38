// gpulearn._core, ensembles: RandomForestClassifier and RandomForestRegressor. A fitted forest
// crosses as its record, a dict of RandomForest's fields (NumPy arrays, moved out without a
// copy); the estimators keep it and hand it back for prediction (random_forest_prepare), viewed
// in place.
//
// The driver over a data interface (include/gpulearn/ensemble/forest_data.hpp), for
// gpulearn.dask: ForestDataFloat32/64 are the interface, to subclass in Python (a trampoline
// calls the Python methods, with the GIL, from the driver; a Python exception raised there leaves
// random_forest_fit_data as itself); forest_block(ctx, X, labels, n_classes, Y, w, offset,
// n_total) is the local implementation over one block of rows (ForestBlockFloat32/64), whose
// methods the workers call, and grow_gathered grows subtrees from rows gathered from the blocks.
// Both speak the same Python signatures (T: the feature dtype; t: the trees of the last draw; C:
// classes; k: outputs; ch: channels):
//   n_rows(), n_features(), subtree_rows() -> int
//   check() -> (max_weight, weight_sum)
//   target_ranges(mean (k,) float64) -> (2,) float64
//   target_sums(w_exp, y_exp) -> (1 + k,) int64
//   sample_rows(idx (m,) int64, ascending) -> (m, d) float64
//   bin(edges float64, offsets (d + 1,) int64) -> (bin_min (d, 256) T, bin_max (d, 256) T),
//       from +inf / -inf (the caller takes the elementwise min / max)
//   quantise(spec GrowSpec, mean (k,) float64 | None)
//   draw(keys (t,) uint64, n_draws, bootstrap, want_class_draws) -> (t, C) float64 | None
//   root_stats(spec, mult (t, C) float64 | None) -> (t, ch) int64
//   grow_subtrees(spec, mult | None, requests (c, 5) int64) -> [grown tree] * c
//   histograms(spec, mult | None, requests (c, 3) int64) -> (sum of n_bins(f) ch,) int64
//   split(splits (c, 6) int64)
//   keep_in_bag(n_trees)
//   out_of_bag(forest: a record's node arrays) -> (value (n, width) float64, count (n,) int64)
// and the block alone: node_rows(requests (c, 5) int64) -> rows dict (below).
// Requests cross as int64 rows: subtree [tree, node, depth, root_weight, key (uint64 bits)],
// histogram [tree, node, feature], split [tree, node, feature, bin_lo, left, right]. A grown tree
// is a tuple (nodes (m, 6) int32 [left, right, feature, bin_lo, bin_hi, depth], improvement (m,)
// float64, stats (m, ch) int64); gathered rows a dict {n_features, row_width, node (r,) int32,
// counts (r,) int32, labels (r,) int32 (empty for a regressor), codes (r, d) uint8, row_q
// (r, row_width) int64}. GrowSpec pickles (it travels to the workers).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common.hpp"
#include "gpulearn/ensemble/forest_data.hpp"
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

// ---- the data interface across the binding (gpulearn.dask's forests)

template <typename U>
using Array = py::array_t<U, py::array::c_style | py::array::forcecast>;

// Per feature, the caller's bin_min / bin_max hold this many entries (forest_data.hpp's bin).
constexpr int64_t kBinSlots = 256;

template <typename U>
py::array_t<U> array_copy(const U* data, std::vector<py::ssize_t> shape) {
  py::array_t<U> a(shape);
  py::ssize_t size = 1;
  for (const auto s : shape) size *= s;
  if (size > 0) std::copy(data, data + size, a.mutable_data());
  return a;
}

// `obj` as an array of exactly `size` U, copied into out (a Python implementation's result).
template <typename U>
void copy_result(const py::handle& obj, U* out, int64_t size, const char* what) {
  const auto a = Array<U>::ensure(obj);
  GPULEARN_EXPECTS(a && a.size() == size, "ForestData.", what, " returned ",
                   a ? std::to_string(a.size()) : std::string("no array"), " values, expected ",
                   size);
  std::copy(a.data(), a.data() + size, out);
}

int32_t narrow32(int64_t v, const char* what) {
  GPULEARN_EXPECTS(
      v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(), what,
      " ", v, " does not fit in 32 bits");
  return static_cast<int32_t>(v);
}

// Request lists as (count, width) int64 arrays (an empty array of any shape: none).
const int64_t* request_rows(const Array<int64_t>& a, int64_t width, const char* what,
                            int64_t* count) {
  GPULEARN_EXPECTS(a && (a.size() == 0 || (a.ndim() == 2 && a.shape(1) == width)), what,
                   " must be a (count, ", width, ") int64 array");
  *count = a.size() / width;
  return a.data();
}

std::vector<SubtreeRequest> subtree_requests(const py::object& obj) {
  const auto a = Array<int64_t>::ensure(obj);
  int64_t count = 0;
  const int64_t* p = request_rows(a, 5, "subtree requests", &count);
  std::vector<SubtreeRequest> out(count);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t* r = p + 5 * i;
    out[i].tree = narrow32(r[0], "tree");
    out[i].node = narrow32(r[1], "node");
    out[i].depth = narrow32(r[2], "depth");
    out[i].root_weight = r[3];
    std::memcpy(&out[i].key, &r[4], sizeof(uint64_t));  // the key's bits
  }
  return out;
}

py::array_t<int64_t> subtree_array(const SubtreeRequest* requests, int64_t count) {
  py::array_t<int64_t> a({static_cast<py::ssize_t>(count), py::ssize_t{5}});
  int64_t* p = a.mutable_data();
  for (int64_t i = 0; i < count; ++i) {
    const SubtreeRequest& q = requests[i];
    int64_t* r = p + 5 * i;
    r[0] = q.tree;
    r[1] = q.node;
    r[2] = q.depth;
    r[3] = q.root_weight;
    std::memcpy(&r[4], &q.key, sizeof(uint64_t));
  }
  return a;
}

std::vector<HistogramRequest> histogram_requests(const py::object& obj) {
  const auto a = Array<int64_t>::ensure(obj);
  int64_t count = 0;
  const int64_t* p = request_rows(a, 3, "histogram requests", &count);
  std::vector<HistogramRequest> out(count);
  for (int64_t i = 0; i < count; ++i) {
    out[i].tree = narrow32(p[3 * i], "tree");
    out[i].node = narrow32(p[3 * i + 1], "node");
    out[i].feature = narrow32(p[3 * i + 2], "feature");
  }
  return out;
}

py::array_t<int64_t> histogram_array(const HistogramRequest* requests, int64_t count) {
  py::array_t<int64_t> a({static_cast<py::ssize_t>(count), py::ssize_t{3}});
  int64_t* p = a.mutable_data();
  for (int64_t i = 0; i < count; ++i) {
    p[3 * i] = requests[i].tree;
    p[3 * i + 1] = requests[i].node;
    p[3 * i + 2] = requests[i].feature;
  }
  return a;
}

std::vector<NodeSplit> node_splits(const py::object& obj) {
  const auto a = Array<int64_t>::ensure(obj);
  int64_t count = 0;
  const int64_t* p = request_rows(a, 6, "splits", &count);
  std::vector<NodeSplit> out(count);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t* r = p + 6 * i;
    out[i] = NodeSplit{narrow32(r[0], "tree"),   narrow32(r[1], "node"), narrow32(r[2], "feature"),
                       narrow32(r[3], "bin_lo"), narrow32(r[4], "left"), narrow32(r[5], "right")};
  }
  return out;
}

py::array_t<int64_t> split_array(const NodeSplit* splits, int64_t count) {
  py::array_t<int64_t> a({static_cast<py::ssize_t>(count), py::ssize_t{6}});
  int64_t* p = a.mutable_data();
  for (int64_t i = 0; i < count; ++i) {
    const NodeSplit& s = splits[i];
    int64_t* r = p + 6 * i;
    r[0] = s.tree;
    r[1] = s.node;
    r[2] = s.feature;
    r[3] = s.bin_lo;
    r[4] = s.left;
    r[5] = s.right;
  }
  return a;
}

// A grown tree as (nodes (m, 6) int32, improvement (m,) float64, stats (m, ch) int64).
py::tuple grown_tuple(GrownTree&& g) {
  const auto m = static_cast<py::ssize_t>(g.nodes.size());
  std::vector<int32_t> nodes(6 * g.nodes.size());
  std::vector<double> improvement(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GrownNode& nd = g.nodes[i];
    int32_t* r = &nodes[6 * i];
    r[0] = nd.left;
    r[1] = nd.right;
    r[2] = nd.feature;
    r[3] = nd.bin_lo;
    r[4] = nd.bin_hi;
    r[5] = nd.depth;
    improvement[i] = nd.improvement;
  }
  const auto ch = static_cast<py::ssize_t>(m > 0 ? g.stats.size() / g.nodes.size() : 0);
  return py::make_tuple(move_to_numpy(std::move(nodes), {m, py::ssize_t{6}}),
                        move_to_numpy(std::move(improvement), {m}),
                        move_to_numpy(std::move(g.stats), {m, ch}));
}

py::list grown_list(std::vector<GrownTree>&& trees) {
  py::list out;
  for (GrownTree& g : trees) out.append(grown_tuple(std::move(g)));
  return out;
}

GrownTree grown_of(const py::handle& obj, int64_t ch, const char* what) {
  const py::tuple t = py::tuple(py::reinterpret_borrow<py::object>(obj));
  GPULEARN_EXPECTS(t.size() == 3, "ForestData.", what,
                   " must return trees as (nodes, improvement, stats)");
  const auto nodes = Array<int32_t>::ensure(t[0]);
  const auto improvement = Array<double>::ensure(t[1]);
  const auto stats = Array<int64_t>::ensure(t[2]);
  GPULEARN_EXPECTS(nodes && improvement && stats && nodes.size() % 6 == 0, "ForestData.", what,
                   " returned a malformed tree");
  const int64_t m = nodes.size() / 6;
  GPULEARN_EXPECTS(m >= 1 && improvement.size() == m && stats.size() == m * ch, "ForestData.", what,
                   " returned a tree of ", m, " nodes with ", improvement.size(),
                   " improvements and ", stats.size(), " statistics (", ch, " per node)");
  GrownTree g;
  g.nodes.resize(m);
  const int32_t* p = nodes.data();
  for (int64_t i = 0; i < m; ++i) {
    GrownNode& nd = g.nodes[i];
    nd.left = p[6 * i];
    nd.right = p[6 * i + 1];
    nd.feature = p[6 * i + 2];
    nd.bin_lo = p[6 * i + 3];
    nd.bin_hi = p[6 * i + 4];
    nd.depth = p[6 * i + 5];
    nd.improvement = improvement.data()[i];
  }
  g.stats.assign(stats.data(), stats.data() + stats.size());
  return g;
}

// Gathered node rows as a dict of NumPy arrays, and back.
py::dict rows_dict(NodeRows&& r) {
  const auto n = static_cast<py::ssize_t>(r.rows());
  const auto d = static_cast<py::ssize_t>(r.n_features);
  const auto rw = static_cast<py::ssize_t>(r.row_width);
  const auto n_labels = static_cast<py::ssize_t>(r.labels.size());
  py::dict out;
  out["n_features"] = r.n_features;
  out["row_width"] = r.row_width;
  out["node"] = move_to_numpy(std::move(r.node), {n});
  out["counts"] = move_to_numpy(std::move(r.counts), {n});
  out["labels"] = move_to_numpy(std::move(r.labels), {n_labels});
  out["codes"] = move_to_numpy(std::move(r.codes), {n, d});
  out["row_q"] = move_to_numpy(std::move(r.row_q), {n, rw});
  return out;
}

template <typename U>
void assign_entry(std::vector<U>& out, const py::dict& d, const char* key) {
  GPULEARN_EXPECTS(d.contains(key), "the gathered node rows have no '", key, "'");
  const auto a = Array<U>::ensure(d[key]);
  GPULEARN_EXPECTS(a, "the gathered node rows' '", key, "' is not an array of numbers");
  out.assign(a.data(), a.data() + a.size());
}

NodeRows rows_of(const py::dict& d) {
  NodeRows r;
  GPULEARN_EXPECTS(d.contains("n_features") && d.contains("row_width"),
                   "the gathered node rows need n_features and row_width");
  r.n_features = d["n_features"].cast<int64_t>();
  r.row_width = d["row_width"].cast<int64_t>();
  assign_entry(r.node, d, "node");
  assign_entry(r.counts, d, "counts");
  assign_entry(r.labels, d, "labels");
  assign_entry(r.codes, d, "codes");
  assign_entry(r.row_q, d, "row_q");
  return r;
}

// A fitted forest's node arrays (the record's names) from a view, for a Python out_of_bag.
py::dict forest_dict(const ForestView& f) {
  const int64_t first = f.tree_offsets[0], nodes = f.tree_offsets[f.n_trees] - first;
  std::vector<int64_t> offsets(f.n_trees + 1);
  for (int64_t t = 0; t <= f.n_trees; ++t) offsets[t] = f.tree_offsets[t] - first;
  const auto n = static_cast<py::ssize_t>(nodes);
  py::dict d;
  d["tree_offsets"] = move_to_numpy(std::move(offsets), {static_cast<py::ssize_t>(f.n_trees + 1)});
  d["children_left"] = array_copy(f.children_left + first, {n});
  d["children_right"] = array_copy(f.children_right + first, {n});
  d["feature"] = array_copy(f.feature + first, {n});
  d["threshold"] = array_copy(f.threshold + first, {n});
  d["value"] =
      array_copy(f.value + first * f.value_width, {n, static_cast<py::ssize_t>(f.value_width)});
  return d;
}

// GrowSpec as a tuple (pickling: it travels to the workers with the passes that take it).
py::tuple spec_state(const GrowSpec& s) {
  return py::make_tuple(static_cast<int>(s.criterion), s.n_classes, s.n_outputs, s.n_channels,
                        s.n_features, s.max_features, s.max_depth, s.min_samples_split,
                        s.min_samples_leaf, s.min_weight_leaf, s.min_impurity_decrease, s.w_unit,
                        s.y_unit, s.y2_unit);
}

GrowSpec spec_of_state(const py::tuple& t) {
  GPULEARN_EXPECTS(t.size() == 14, "a GrowSpec's state has 14 fields, got ", t.size());
  const int criterion = t[0].cast<int>();
  GPULEARN_EXPECTS(criterion >= static_cast<int>(Criterion::kGini) &&
                       criterion <= static_cast<int>(Criterion::kFriedmanMse),
                   "unknown criterion ", criterion, " in a GrowSpec's state");
  GrowSpec s;
  s.criterion = static_cast<Criterion>(criterion);
  s.n_classes = t[1].cast<int32_t>();
  s.n_outputs = t[2].cast<int32_t>();
  s.n_channels = t[3].cast<int32_t>();
  s.n_features = t[4].cast<int32_t>();
  s.max_features = t[5].cast<int32_t>();
  s.max_depth = t[6].cast<int64_t>();
  s.min_samples_split = t[7].cast<int64_t>();
  s.min_samples_leaf = t[8].cast<int64_t>();
  s.min_weight_leaf = t[9].cast<int64_t>();
  s.min_impurity_decrease = t[10].cast<double>();
  s.w_unit = t[11].cast<double>();
  s.y_unit = t[12].cast<double>();
  s.y2_unit = t[13].cast<double>();
  return s;
}

void bind_grow_spec(py::module_& m) {
  py::class_<GrowSpec> cls(m, "GrowSpec",
                           "ensemble::GrowSpec: everything needed to grow trees (picklable)");
  cls.def(py::init<>())
      .def_readwrite("n_classes", &GrowSpec::n_classes)
      .def_readwrite("n_outputs", &GrowSpec::n_outputs)
      .def_readwrite("n_channels", &GrowSpec::n_channels)
      .def_readwrite("n_features", &GrowSpec::n_features)
      .def_readwrite("max_features", &GrowSpec::max_features)
      .def_readwrite("max_depth", &GrowSpec::max_depth)
      .def_readwrite("min_samples_split", &GrowSpec::min_samples_split)
      .def_readwrite("min_samples_leaf", &GrowSpec::min_samples_leaf)
      .def_readwrite("min_weight_leaf", &GrowSpec::min_weight_leaf)
      .def_readwrite("min_impurity_decrease", &GrowSpec::min_impurity_decrease)
      .def_readwrite("w_unit", &GrowSpec::w_unit)
      .def_readwrite("y_unit", &GrowSpec::y_unit)
      .def_readwrite("y2_unit", &GrowSpec::y2_unit);
  def_enum(cls, "criterion", &GrowSpec::criterion,
           {{Criterion::kGini, "gini"},
            {Criterion::kEntropy, "entropy"},
            {Criterion::kSquaredError, "squared_error"},
            {Criterion::kFriedmanMse, "friedman_mse"}},
           [](const std::string& s) {
             GPULEARN_FAIL(InvalidArgument, "unknown GrowSpec criterion '", s, "'");
           });
  cls.def(py::pickle(&spec_state, &spec_of_state))
      .def("__eq__",
           [](const GrowSpec& a, const GrowSpec& b) { return spec_state(a).equal(spec_state(b)); })
      .def("__repr__",
           [](const GrowSpec& s) { return "GrowSpec" + std::string(py::repr(spec_state(s))); });
}

// Calls the Python methods of a ForestData subclass (the driver runs with the GIL released).
template <typename T>
class PyForestData : public ForestData<T> {
 public:
  using Base = ForestData<T>;

  // The fit's shapes, which size the arrays crossing (random_forest_fit_data sets them).
  void set_shape(int64_t n_classes, int64_t n_outputs) {
    n_classes_ = n_classes;
    n_outputs_ = n_outputs;
  }

  int64_t n_rows() override { PYBIND11_OVERRIDE_PURE(int64_t, Base, n_rows, ); }
  int64_t n_features() override { PYBIND11_OVERRIDE_PURE(int64_t, Base, n_features, ); }
  int64_t subtree_rows() override { PYBIND11_OVERRIDE_PURE(int64_t, Base, subtree_rows, ); }
  void keep_in_bag(int64_t n_trees) override {
    PYBIND11_OVERRIDE_PURE(void, Base, keep_in_bag, n_trees);
  }

  // The methods exchanging arrays convert them here (PYBIND11_OVERRIDE_PURE cannot: pointers).
  ForestDataRange check() override {
    py::gil_scoped_acquire gil;
    const py::tuple r(method("check")());
    ForestDataRange out;
    out.max_weight = r[0].cast<double>();
    out.weight_sum = r[1].cast<double>();
    return out;
  }
  void target_ranges(const double* mean, double* out) override {
    py::gil_scoped_acquire gil;
    copy_result(method("target_ranges")(array_copy(mean, {n_outputs_})), out, 2, "target_ranges");
  }
  void target_sums(int w_exp, int y_exp, int64_t* sums) override {
    py::gil_scoped_acquire gil;
    copy_result(method("target_sums")(w_exp, y_exp), sums, 1 + n_outputs_, "target_sums");
  }
  void sample_rows(const int64_t* idx, int64_t m, double* out) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    copy_result(method("sample_rows")(array_copy(idx, {static_cast<py::ssize_t>(m)})), out, m * d,
                "sample_rows");
  }
  void bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    n_bins_.resize(d);
    for (int64_t j = 0; j < d; ++j) {
      n_bins_[j] = static_cast<int32_t>(offsets[j + 1] - offsets[j] + 1);
    }
    const py::tuple r(method("bin")(array_copy(edges, {static_cast<py::ssize_t>(offsets[d])}),
                                    array_copy(offsets, {static_cast<py::ssize_t>(d + 1)})));
    const int64_t size = d * kBinSlots;
    std::vector<T> lo(size), hi(size);
    copy_result(r[0], lo.data(), size, "bin");
    copy_result(r[1], hi.data(), size, "bin");
    for (int64_t i = 0; i < size; ++i) {
      bin_min[i] = std::min(bin_min[i], lo[i]);
      bin_max[i] = std::max(bin_max[i], hi[i]);
    }
  }
  void quantise(const GrowSpec& spec, const double* mean) override {
    py::gil_scoped_acquire gil;
    method("quantise")(copied(spec), mean == nullptr ? py::object(py::none())
                                                     : py::object(array_copy(mean, {n_outputs_})));
  }
  void draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws, bool bootstrap,
            double* class_draws) override {
    py::gil_scoped_acquire gil;
    n_trees_ = n_trees;
    const py::object r = method("draw")(array_copy(keys, {static_cast<py::ssize_t>(n_trees)}),
                                        n_draws, bootstrap, class_draws != nullptr);
    if (class_draws != nullptr) copy_result(r, class_draws, n_trees * n_classes_, "draw");
  }
  void root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) override {
    py::gil_scoped_acquire gil;
    copy_result(method("root_stats")(copied(spec), mult_array(mult)), stats,
                n_trees_ * spec.n_channels, "root_stats");
  }
  void grow_subtrees(const GrowSpec& spec, const double* mult, const SubtreeRequest* requests,
                     int64_t count, std::vector<GrownTree>& trees) override {
    py::gil_scoped_acquire gil;
    const py::object r =
        method("grow_subtrees")(copied(spec), mult_array(mult), subtree_array(requests, count));
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(r);
    GPULEARN_EXPECTS(py::isinstance<py::sequence>(r) && static_cast<int64_t>(seq.size()) == count,
                     "ForestData.grow_subtrees must return one tree per request (", count, ")");
    trees.clear();
    for (const auto& g : seq) trees.push_back(grown_of(g, spec.n_channels, "grow_subtrees"));
  }
  void histograms(const GrowSpec& spec, const double* mult, const HistogramRequest* requests,
                  int64_t count, int64_t* hist) override {
    py::gil_scoped_acquire gil;
    int64_t total = 0;
    for (int64_t r = 0; r < count; ++r) {
      const int32_t f = requests[r].feature;
      GPULEARN_EXPECTS(f >= 0 && f < static_cast<int32_t>(n_bins_.size()),
                       "histogram request for feature ", f, " before bin()");
      total += int64_t{n_bins_[f]} * spec.n_channels;
    }
    copy_result(
        method("histograms")(copied(spec), mult_array(mult), histogram_array(requests, count)),
        hist, total, "histograms");
  }
  void split(const NodeSplit* splits, int64_t count) override {
    py::gil_scoped_acquire gil;
    method("split")(split_array(splits, count));
  }
  void out_of_bag(const ForestView& forest, double* value, int64_t* count) override {
    py::gil_scoped_acquire gil;
    const int64_t n = this->n_rows();
    const py::tuple r(method("out_of_bag")(forest_dict(forest)));
    copy_result(r[0], value, n * forest.value_width, "out_of_bag");
    copy_result(r[1], count, n, "out_of_bag");
  }

 private:
  static py::object copied(const GrowSpec& spec) {
    return py::cast(spec, py::return_value_policy::copy);
  }
  py::object mult_array(const double* mult) const {
    if (mult == nullptr) return py::none();
    return array_copy(mult,
                      {static_cast<py::ssize_t>(n_trees_), static_cast<py::ssize_t>(n_classes_)});
  }
  py::function method(const char* name) {
    py::function f = py::get_override(static_cast<const Base*>(this), name);
    if (!f) {
      throw py::type_error(std::string("ForestData subclass does not implement ") + name + "()");
    }
    return f;
  }

  int64_t n_classes_ = 0, n_outputs_ = 1, n_trees_ = 0;
  std::vector<int32_t> n_bins_;
};

// LocalForestData over one block of rows, owning copies of its targets and weights (the
// LocalForestData views them), and the shapes its Python methods size their results by.
template <typename T>
class ForestBlock final : public ForestData<T> {
 public:
  ForestBlock(Context& ctx, const ArrayRef& X, std::vector<int32_t> labels, int64_t n_classes,
              std::vector<double> Y, int64_t n_outputs, std::vector<T> w, int64_t offset,
              int64_t n_total)
      : labels_(std::move(labels)),
        Y_(std::move(Y)),
        w_(std::move(w)),
        rows_(X.rows),
        offset_(offset),
        n_classes_(n_classes),
        n_outputs_(n_outputs) {
    labels_.reserve(1);  // a classifier's labels are never null, even for no rows
    data_ = std::make_unique<LocalForestData<T>>(
        ctx, X.view<const T>(), n_classes > 0 ? labels_.data() : nullptr, n_classes,
        n_classes > 0 ? MatrixView<const double>()
                      : MatrixView<const double>(Y_.data(), X.rows, n_outputs, n_outputs),
        w_.empty() ? VectorView<const T>() : VectorView<const T>(w_.data(), X.rows), offset,
        n_total);
  }

  int64_t n_rows() override { return data_->n_rows(); }
  int64_t n_features() override { return data_->n_features(); }
  ForestDataRange check() override { return data_->check(); }
  void target_ranges(const double* mean, double* out) override { data_->target_ranges(mean, out); }
  void target_sums(int w_exp, int y_exp, int64_t* sums) override {
    data_->target_sums(w_exp, y_exp, sums);
  }
  void sample_rows(const int64_t* idx, int64_t m, double* out) override {
    data_->sample_rows(idx, m, out);
  }
  void bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) override {
    const int64_t d = data_->n_features();
    data_->bin(edges, offsets, bin_min, bin_max);
    n_bins_.resize(d);
    for (int64_t j = 0; j < d; ++j) {
      n_bins_[j] = static_cast<int32_t>(offsets[j + 1] - offsets[j] + 1);
    }
  }
  void quantise(const GrowSpec& spec, const double* mean) override { data_->quantise(spec, mean); }
  void draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws, bool bootstrap,
            double* class_draws) override {
    data_->draw(keys, n_trees, n_draws, bootstrap, class_draws);
    batch_ = n_trees;
  }
  void root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) override {
    data_->root_stats(spec, mult, stats);
  }
  int64_t subtree_rows() override { return data_->subtree_rows(); }
  void grow_subtrees(const GrowSpec& spec, const double* mult, const SubtreeRequest* requests,
                     int64_t count, std::vector<GrownTree>& trees) override {
    data_->grow_subtrees(spec, mult, requests, count, trees);
  }
  void histograms(const GrowSpec& spec, const double* mult, const HistogramRequest* requests,
                  int64_t count, int64_t* hist) override {
    data_->histograms(spec, mult, requests, count, hist);
  }
  void split(const NodeSplit* splits, int64_t count) override { data_->split(splits, count); }
  void keep_in_bag(int64_t n_trees) override { data_->keep_in_bag(n_trees); }
  void out_of_bag(const ForestView& forest, double* value, int64_t* count) override {
    data_->out_of_bag(forest, value, count);
  }
  NodeRows node_rows(const SubtreeRequest* requests, int64_t count) {
    return data_->node_rows(requests, count);
  }

  int64_t rows() const { return rows_; }
  int64_t offset() const { return offset_; }
  int64_t n_classes() const { return n_classes_; }
  int64_t n_outputs() const { return n_outputs_; }
  int64_t batch() const { return batch_; }
  const std::vector<int32_t>& n_bins() const { return n_bins_; }

 private:
  std::vector<int32_t> labels_;
  std::vector<double> Y_;
  std::vector<T> w_;
  int64_t rows_, offset_, n_classes_, n_outputs_;
  int64_t batch_ = 0;
  std::vector<int32_t> n_bins_;
  std::unique_ptr<LocalForestData<T>> data_;
};

// The class multipliers of a call (None: all 1), checked against the block's last draw.
struct Mult {
  Array<double> array;
  const double* data = nullptr;
};

Mult mult_of(const py::object& obj, int64_t n_trees, int64_t n_classes) {
  Mult m;
  if (obj.is_none()) return m;
  m.array = Array<double>::ensure(obj);
  GPULEARN_EXPECTS(m.array && m.array.size() == n_trees * n_classes && n_classes > 0,
                   "the class multipliers must be a (", n_trees, ", ", n_classes,
                   ") array of numbers");
  m.data = m.array.data();
  return m;
}

// The Python methods of a ForestBlock (the signatures at the top).
template <typename T>
void def_block_methods(py::class_<ForestBlock<T>, ForestData<T>>& cls) {
  using B = ForestBlock<T>;
  cls.def("n_rows", [](B& b) { return b.n_rows(); })
      .def("n_features", [](B& b) { return b.n_features(); })
      .def("subtree_rows", [](B& b) { return b.subtree_rows(); })
      .def_property_readonly("offset", &B::offset)
      .def_property_readonly("rows", &B::rows)
      .def("check",
           [](B& b) {
             const ForestDataRange r = compute([&] { return b.check(); });
             return py::make_tuple(r.max_weight, r.weight_sum);
           })
      .def("target_ranges",
           [](B& b, const Array<double>& mean) {
             GPULEARN_EXPECTS(b.n_classes() == 0 && mean.size() == b.n_outputs(),
                              "target_ranges takes the mean of each of the ", b.n_outputs(),
                              " outputs (regressor)");
             std::vector<double> out(2);
             compute([&] { b.target_ranges(mean.data(), out.data()); });
             return move_to_numpy(std::move(out), {2});
           })
      .def("target_sums",
           [](B& b, int w_exp, int y_exp) {
             GPULEARN_EXPECTS(b.n_classes() == 0, "target_sums is a regressor's pass");
             const auto k = static_cast<py::ssize_t>(1 + b.n_outputs());
             std::vector<int64_t> sums(k);
             compute([&] { b.target_sums(w_exp, y_exp, sums.data()); });
             return move_to_numpy(std::move(sums), {k});
           })
      .def("sample_rows",
           [](B& b, const Array<int64_t>& idx) {
             const auto m = static_cast<py::ssize_t>(idx.size());
             const auto d = static_cast<py::ssize_t>(b.n_features());
             std::vector<double> out(static_cast<size_t>(m * d));
             compute([&] { b.sample_rows(idx.data(), m, out.data()); });
             return move_to_numpy(std::move(out), {m, d});
           })
      .def("bin",
           [](B& b, const Array<double>& edges, const Array<int64_t>& offsets) {
             const int64_t d = b.n_features();
             GPULEARN_EXPECTS(offsets.size() == d + 1, "bin takes n_features + 1 offsets");
             const int64_t* off = offsets.data();
             GPULEARN_EXPECTS(off[0] == 0 && off[d] <= edges.size(),
                              "the bin offsets do not match the ", edges.size(), " edges");
             for (int64_t j = 0; j < d; ++j) {
               GPULEARN_EXPECTS(off[j + 1] >= off[j], "the bin offsets must be ascending");
             }
             std::vector<T> lo(d * kBinSlots, std::numeric_limits<T>::infinity());
             std::vector<T> hi(d * kBinSlots, -std::numeric_limits<T>::infinity());
             compute([&] { b.bin(edges.data(), off, lo.data(), hi.data()); });
             const auto dd = static_cast<py::ssize_t>(d);
             return py::make_tuple(move_to_numpy(std::move(lo), {dd, py::ssize_t{kBinSlots}}),
                                   move_to_numpy(std::move(hi), {dd, py::ssize_t{kBinSlots}}));
           })
      .def("quantise",
           [](B& b, const GrowSpec& spec, const py::object& mean) {
             const std::vector<double> mu = doubles_of(mean);
             GPULEARN_EXPECTS(b.n_classes() > 0 || static_cast<int64_t>(mu.size()) == b.n_outputs(),
                              "quantise takes the mean of each of the ", b.n_outputs(),
                              " outputs (regressor)");
             compute([&] { b.quantise(spec, mu.empty() ? nullptr : mu.data()); });
           })
      .def("draw",
           [](B& b, const Array<uint64_t>& keys, int64_t n_draws, bool bootstrap,
              bool want_class_draws) -> py::object {
             const int64_t t = keys.size(), c = b.n_classes();
             GPULEARN_EXPECTS(!want_class_draws || c > 0, "class draws are a classifier's");
             std::vector<double> class_draws(want_class_draws ? t * c : 0);
             compute([&] {
               b.draw(keys.data(), t, n_draws, bootstrap,
                      want_class_draws ? class_draws.data() : nullptr);
             });
             if (!want_class_draws) return py::none();
             return move_to_numpy(std::move(class_draws),
                                  {static_cast<py::ssize_t>(t), static_cast<py::ssize_t>(c)});
           })
      .def("root_stats",
           [](B& b, const GrowSpec& spec, const py::object& mult) {
             const Mult mu = mult_of(mult, b.batch(), b.n_classes());
             const auto t = static_cast<py::ssize_t>(b.batch());
             const auto ch = static_cast<py::ssize_t>(spec.n_channels);
             std::vector<int64_t> stats(static_cast<size_t>(t * ch));
             compute([&] { b.root_stats(spec, mu.data, stats.data()); });
             return move_to_numpy(std::move(stats), {t, ch});
           })
      .def("grow_subtrees",
           [](B& b, const GrowSpec& spec, const py::object& mult, const py::object& requests) {
             const Mult mu = mult_of(mult, b.batch(), b.n_classes());
             const std::vector<SubtreeRequest> req = subtree_requests(requests);
             std::vector<GrownTree> trees;
             compute([&] {
               b.grow_subtrees(spec, mu.data, req.data(), static_cast<int64_t>(req.size()), trees);
             });
             return grown_list(std::move(trees));
           })
      .def("histograms",
           [](B& b, const GrowSpec& spec, const py::object& mult, const py::object& requests) {
             const Mult mu = mult_of(mult, b.batch(), b.n_classes());
             const std::vector<HistogramRequest> req = histogram_requests(requests);
             const std::vector<int32_t>& n_bins = b.n_bins();
             int64_t total = 0;
             for (const HistogramRequest& r : req) {
               GPULEARN_EXPECTS(r.feature >= 0 && r.feature < static_cast<int32_t>(n_bins.size()),
                                "histogram request for feature ", r.feature,
                                " out of range (or before bin())");
               total += int64_t{n_bins[r.feature]} * spec.n_channels;
             }
             std::vector<int64_t> hist(total);
             compute([&] {
               b.histograms(spec, mu.data, req.data(), static_cast<int64_t>(req.size()),
                            hist.data());
             });
             return move_to_numpy(std::move(hist), {static_cast<py::ssize_t>(total)});
           })
      .def("split",
           [](B& b, const py::object& splits) {
             const std::vector<NodeSplit> s = node_splits(splits);
             compute([&] { b.split(s.data(), static_cast<int64_t>(s.size())); });
           })
      .def("keep_in_bag", [](B& b, int64_t n_trees) { compute([&] { b.keep_in_bag(n_trees); }); })
      .def("out_of_bag",
           [](B& b, const py::dict& record) {
             const ForestArrays arrays = forest_arrays(record, b.n_features());
             const int64_t width = arrays.view.value_width, n = b.n_rows();
             // The block writes its rows of the data set's arrays.
             std::vector<double> value(static_cast<size_t>(checked_mul(n, width)), 0.0);
             std::vector<int64_t> count(n, 0);
             compute([&] { b.out_of_bag(arrays.view, value.data(), count.data()); });
             const int64_t a = b.offset(), rows = b.rows();
             std::vector<double> mine(value.begin() + a * width,
                                      value.begin() + (a + rows) * width);
             std::vector<int64_t> counts(count.begin() + a, count.begin() + a + rows);
             return py::make_tuple(
                 move_to_numpy(std::move(mine),
                               {static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(width)}),
                 move_to_numpy(std::move(counts), {static_cast<py::ssize_t>(rows)}));
           })
      .def("node_rows", [](B& b, const py::object& requests) {
        const std::vector<SubtreeRequest> req = subtree_requests(requests);
        NodeRows rows =
            compute([&] { return b.node_rows(req.data(), static_cast<int64_t>(req.size())); });
        return rows_dict(std::move(rows));
      });
}

template <typename T>
void bind_forest_data(py::module_& m, const char* interface, const char* block) {
  py::class_<ForestData<T>, PyForestData<T>>(
      m, interface, "a random forest's passes over its data (subclass in Python)")
      .def(py::init<>());
  py::class_<ForestBlock<T>, ForestData<T>> cls(
      m, block, "a random forest's passes over one block of rows (LocalForestData)");
  def_block_methods(cls);
  m.def(
      "random_forest_fit_data",
      [](const RandomForestParams& p, ForestData<T>& data, int64_t n_classes, int64_t n_outputs,
         int n_threads) {
        if (auto* py_data = dynamic_cast<PyForestData<T>*>(&data)) {
          py_data->set_shape(n_classes, n_outputs);
        }
        return forest_record(compute(
            [&] { return random_forest_fit<T>(p, data, n_classes, n_outputs, n_threads); }));
      },
      py::arg("params"), py::arg("data"), py::arg("n_classes"), py::arg("n_outputs"),
      py::arg("n_threads") = 0);
}

void bind_forest_blocks(py::module_& m) {
  bind_grow_spec(m);
  bind_forest_data<float>(m, "ForestDataFloat32", "ForestBlockFloat32");
  bind_forest_data<double>(m, "ForestDataFloat64", "ForestBlockFloat64");
  // One block of rows [offset, offset + rows) of a data set of n_total rows: labels (int32, a
  // classifier's, with n_classes) or Y ((rows, k) float64, a regressor's), sample weights (rows,
  // or None) copied in; X (ArrayRef, host or the context's device) viewed: keep it alive while
  // the block is used.
  m.def(
      "forest_block",
      [](Context& ctx, const ArrayRef& X, const py::object& labels, int64_t n_classes,
         const py::object& Y, const py::object& w, int64_t offset, int64_t n_total) -> py::object {
        GPULEARN_EXPECTS(labels.is_none() != Y.is_none(),
                         "forest_block takes labels (classifier) or Y (regressor)");
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          std::vector<int32_t> lab;
          std::vector<double> y;
          int64_t k = 1;
          if (!labels.is_none()) {
            GPULEARN_EXPECTS(n_classes >= 1, "n_classes must be at least 1, got ", n_classes);
            const Labels l = Labels::ensure(labels);
            const int32_t* lp = labels_of(l, X.rows);
            lab.assign(lp, lp + X.rows);
          } else {
            const auto ya = Array<double>::ensure(Y);
            GPULEARN_EXPECTS(ya && ya.ndim() == 2 && ya.shape(0) == X.rows && ya.shape(1) >= 1,
                             "Y must be a (", X.rows, ", n_outputs) array of numbers");
            k = ya.shape(1);
            y.assign(ya.data(), ya.data() + ya.size());
            n_classes = 0;
          }
          std::vector<T> wv;
          if (!w.is_none()) {
            const auto wa = Array<T>::ensure(w);
            GPULEARN_EXPECTS(wa && wa.ndim() == 1 && wa.shape(0) == X.rows,
                             "sample_weight must be an array of ", X.rows, " numbers");
            wv.assign(wa.data(), wa.data() + wa.size());
          }
          return py::cast(std::make_unique<ForestBlock<T>>(
              ctx, X, std::move(lab), n_classes, std::move(y), k, std::move(wv), offset, n_total));
        });
      },
      py::keep_alive<0, 1>(), py::arg("ctx"), py::arg("X"), py::arg("labels"), py::arg("n_classes"),
      py::arg("Y"), py::arg("sample_weight"), py::arg("offset"), py::arg("n_total"));
  m.def(
      "forest_tree_keys",
      [](uint64_t seed, int64_t n_trees) {
        GPULEARN_EXPECTS(n_trees >= 0, "n_trees must be >= 0, got ", n_trees);
        py::array_t<uint64_t> keys(static_cast<py::ssize_t>(n_trees));
        for (int64_t t = 0; t < n_trees; ++t) keys.mutable_data()[t] = forest_tree_key(seed, t);
        return keys;
      },
      py::arg("seed"), py::arg("n_trees"),
      "The keys of trees 0 .. n_trees - 1 of a forest fitted with seed (what draw() takes).");
  m.def(
      "grow_gathered",
      [](const GrowSpec& spec, const py::object& mult, const py::object& n_bins,
         const py::object& requests, const py::dict& rows, int n_threads) {
        const auto nb = Array<int32_t>::ensure(n_bins);
        GPULEARN_EXPECTS(nb && nb.size() == spec.n_features,
                         "n_bins must hold one count per "
                         "feature (",
                         spec.n_features, ")");
        for (int64_t j = 0; j < nb.size(); ++j) {
          GPULEARN_EXPECTS(nb.data()[j] >= 1 && nb.data()[j] <= kBinSlots, "feature ", j, " has ",
                           nb.data()[j], " bins; 1 to ", kBinSlots, " are supported");
        }
        const std::vector<SubtreeRequest> req = subtree_requests(requests);
        Mult mu;
        if (!mult.is_none()) {
          GPULEARN_EXPECTS(spec.n_classes > 0, "class multipliers are a classifier's");
          mu.array = Array<double>::ensure(mult);
          GPULEARN_EXPECTS(mu.array && mu.array.size() % spec.n_classes == 0,
                           "the class multipliers must be a (n_trees, n_classes) array");
          const int64_t n_trees = mu.array.size() / spec.n_classes;
          for (const SubtreeRequest& q : req) {
            GPULEARN_EXPECTS(q.tree >= 0 && q.tree < n_trees, "request for tree ", q.tree,
                             " beyond the ", n_trees, " trees' class multipliers");
          }
          mu.data = mu.array.data();
        }
        const NodeRows gathered = rows_of(rows);
        std::vector<GrownTree> trees;
        compute([&] {
          grow_gathered(spec, mu.data, nb.data(), req.data(), static_cast<int64_t>(req.size()),
                        gathered, n_threads, trees);
        });
        return grown_list(std::move(trees));
      },
      py::arg("spec"), py::arg("mult"), py::arg("n_bins"), py::arg("requests"), py::arg("rows"),
      py::arg("n_threads") = 0);
}

}  // namespace

void register_ensemble(py::module_& m) {
  bind_params(m);
  bind_forest_blocks(m);
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
