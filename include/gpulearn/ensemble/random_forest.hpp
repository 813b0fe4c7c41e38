// Random forests (RandomForestClassifier, RandomForestRegressor): bagged histogram trees, as
// scikit-learn's forests of CART trees, with splits chosen among quantile bin edges.
//
// Fit (written once for every backend, src/ensemble/random_forest.cpp):
// - Each feature is binned once per fit into at most n_bins quantile bins (edges from a sample
//   of at most 200000 rows; with no more distinct values than bins, one bin per value), and X is
//   stored as uint8 codes. Splits are "code <= b"; the threshold reported and used on raw data
//   lies midway between the largest training value of the node's bin b and the smallest of its
//   next occupied bin, as scikit-learn places it between consecutive values. With n_bins at
//   least the number of distinct values of every feature, a tree chooses among scikit-learn's
//   exact candidate splits.
// - Weighted statistics (class weights, targets, squared targets) are summed in 64-bit fixed
//   point, so every backend and every thread order sums to the same bits, and a fixed seed
//   gives the same forest on the CPU and on CUDA (entropy excepted at exact ties: CUDA's log
//   and the C library's may differ in the last bit).
// - Bootstrap draws, per-node feature sampling (scikit-learn's rule: max_features features,
//   more while all of them are constant in the node) and tie-breaking use a counter-based
//   generator keyed by seed, tree and node path, independent of growth order.
// - Trees grow to purity or to the bounds given, with no hidden depth cap; max_leaf_nodes
//   keeps, best first, the splits of largest impurity improvement, as scikit-learn.
//
// X (n x d) and sample_weight (n or empty) may live in host memory, or in device memory for a
// CUDA context. Targets: labels (n, int32 in [0, n_classes)) for a classifier, Y (n x k, host)
// for a regressor.
//
// Throws InvalidArgument for bad shapes or parameters, NaN/inf in X or Y, negative weights or
// weights summing to 0; OutOfMemory and DeviceError from the CUDA backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn::ensemble {

enum class Criterion {
  kGini,          // classifier: Gini impurity
  kEntropy,       // classifier: Shannon entropy in bits (scikit-learn's "entropy"/"log_loss")
  kSquaredError,  // regressor: mean squared error, averaged over outputs
  kFriedmanMse,   // regressor: squared error with Friedman's improvement score
};

/// max_features in scikit-learn's forms: None (every feature), "sqrt", "log2", an int (a count)
/// or a float (a fraction of the features). An int converts to a count and a floating-point
/// value to a fraction, as in Python: p.max_features = 3, p.max_features = 0.5,
/// p.max_features = "sqrt", p.max_features = MaxFeatures::all().
class MaxFeatures {
 public:
  enum class Kind { kAll, kSqrt, kLog2, kCount, kFraction };

  /// None: every feature.
  MaxFeatures() = default;
  template <typename I,
            std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  MaxFeatures(I count) : kind_(Kind::kCount), count_(static_cast<int64_t>(count)) {}
  template <typename F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
  MaxFeatures(F fraction) : kind_(Kind::kFraction), fraction_(static_cast<double>(fraction)) {}
  /// "sqrt" or "log2"; throws InvalidArgument for any other name.
  MaxFeatures(const char* name);
  MaxFeatures(const std::string& name) : MaxFeatures(name.c_str()) {}

  static MaxFeatures all() { return MaxFeatures(); }
  static MaxFeatures sqrt() { return MaxFeatures("sqrt"); }
  static MaxFeatures log2() { return MaxFeatures("log2"); }

  Kind kind() const { return kind_; }
  int64_t count() const { return count_; }       // Kind::kCount
  double fraction() const { return fraction_; }  // Kind::kFraction

  /// The features a node visits out of n_features >= 1, by scikit-learn's rule:
  /// max(1, int(sqrt(d))), max(1, int(log2(d))), d, the count, or max(1, int(fraction * d));
  /// a count above d visits all d (scikit-learn accepts it and its splitter stops at d).
  /// Throws InvalidArgument, in scikit-learn's words, for a count below 1 or a fraction outside
  /// (0, 1].
  int64_t resolve(int64_t n_features) const;

  bool operator==(const MaxFeatures& o) const {
    return kind_ == o.kind_ && count_ == o.count_ && fraction_ == o.fraction_;
  }

 private:
  Kind kind_ = Kind::kAll;
  int64_t count_ = 0;
  double fraction_ = 0;
};

/// Hyper-parameters, with scikit-learn's names, forms and defaults. The default-constructed
/// struct holds RandomForestClassifier's defaults (criterion "gini", max_features "sqrt");
/// RandomForestParams::regressor() holds RandomForestRegressor's (criterion "squared_error",
/// max_features 1.0). Counts where scikit-learn also takes fractions (min_samples_split,
/// min_samples_leaf, max_samples) are resolved by the caller.
struct RandomForestParams {
  static RandomForestParams classifier() { return RandomForestParams(); }
  static RandomForestParams regressor() {
    RandomForestParams p;
    p.criterion = Criterion::kSquaredError;
    p.max_features = 1.0;
    return p;
  }

  int64_t n_estimators = 100;
  Criterion criterion = Criterion::kGini;
  /// Depth of the deepest node (root: 0); negative: unlimited.
  int64_t max_depth = -1;
  /// A node with fewer in-bag rows is a leaf (scikit-learn uses max(this, 2 min_samples_leaf)).
  int64_t min_samples_split = 2;
  /// Each child keeps at least this many distinct in-bag rows.
  int64_t min_samples_leaf = 1;
  /// Each child keeps at least this fraction of the tree's total sample weight.
  double min_weight_fraction_leaf = 0;
  /// Features drawn per node (see MaxFeatures::resolve).
  MaxFeatures max_features = MaxFeatures::sqrt();
  /// Keep at most this many leaves per tree, best first; negative: unlimited.
  int64_t max_leaf_nodes = -1;
  /// A split must decrease the weighted impurity by at least this (scikit-learn's units).
  double min_impurity_decrease = 0;
  bool bootstrap = true;
  /// Rows drawn with replacement per tree when bootstrapping; negative: n_samples.
  int64_t max_samples = -1;
  /// Classifier: weight each tree's classes by n_drawn / (n_present_classes * n_drawn_of_class)
  /// from its own bootstrap draws (scikit-learn's class_weight="balanced_subsample"); the other
  /// class weights are folded into sample_weight by the caller.
  bool balanced_subsample = false;
  /// Out-of-bag predictions (needs bootstrap).
  bool oob = false;
  uint64_t seed = 0;
  /// Bins per feature, 2..256.
  int n_bins = 256;
};

/// A read-only view of a fitted forest in host memory: the trees' node arrays (scikit-learn's
/// tree_ layout) concatenated; node i of tree t is entry tree_offsets[t] + i. Each tree starts at
/// its root and lists every node's children after it: gpulearn's trees are in depth-first
/// preorder, left child first; scikit-learn's trees in its depth-first or best-first
/// (max_leaf_nodes) order are taken as they are. Trees of any depth; at most 2^31 - 1 nodes per
/// tree and features below 2^31. Built by RandomForest::view() or over arrays a caller keeps (the
/// Python layer keeps NumPy arrays).
struct ForestView {
  int64_t n_trees = 0;
  int64_t n_features = 0;
  /// Values per node: n_classes for a classifier, n_outputs for a regressor.
  int64_t value_width = 0;
  const int64_t* tree_offsets = nullptr;    // n_trees + 1
  const int64_t* children_left = nullptr;   // tree-local index, -1 at a leaf
  const int64_t* children_right = nullptr;  // tree-local index, -1 at a leaf
  const int64_t* feature = nullptr;         // -2 at a leaf
  const double* threshold = nullptr;        // rows with x[feature] <= threshold go left
  /// Classifier: the weighted class fractions of the node's in-bag rows; regressor: the
  /// weighted mean of each output (nodes x value_width).
  const double* value = nullptr;
};

/// A fitted forest (host arrays), trees in the layout ForestView describes.
struct RandomForest {
  int64_t n_features = 0;
  int64_t max_features = 0;  // features visited per node: params.max_features resolved
  int64_t n_classes = 0;  // classifier: number of classes; regressor: 0
  int64_t n_outputs = 0;  // regressor: targets; classifier: 1
  int64_t value_width = 0;
  std::vector<int64_t> tree_offsets{0};
  std::vector<int64_t> children_left, children_right, feature;
  std::vector<double> threshold;
  std::vector<double> value;
  std::vector<double> impurity;
  std::vector<int64_t> n_node_samples;          // distinct in-bag rows
  std::vector<double> weighted_n_node_samples;  // their weight (bootstrap counts included)
  std::vector<int64_t> max_depth;               // per tree
  /// Impurity-based importances, normalised as scikit-learn's (d values summing to 1, or all 0).
  std::vector<double> feature_importances;
  /// With params.oob: per row, the mean value over the trees it was out of bag for (n x
  /// value_width; 0 where it never was), and that number of trees.
  std::vector<double> oob_value;
  std::vector<int64_t> oob_count;

  int64_t n_trees() const { return static_cast<int64_t>(tree_offsets.size()) - 1; }
  ForestView view() const;
};

/// Fits a classifier: labels (n, host, int32 in [0, n_classes)), n_classes >= 1.
template <typename T>
RandomForest random_forest_classifier_fit(Context& ctx, const RandomForestParams& params,
                                          MatrixView<const T> X, const int32_t* labels,
                                          int64_t n_classes, VectorView<const T> sample_weight);

/// Fits a regressor on Y (n x k, host, k >= 1; float64 whatever T is, as scikit-learn keeps y).
template <typename T>
RandomForest random_forest_regressor_fit(Context& ctx, const RandomForestParams& params,
                                         MatrixView<const T> X, MatrixView<const double> Y,
                                         VectorView<const T> sample_weight);

/// mean (host, n x value_width, row-major) = each row's leaf values averaged over the trees:
/// class probabilities for a classifier, predictions for a regressor. The sum over trees is
/// in double, in tree order. X is compared in T against the threshold rounded down to T, which
/// routes every T value as the double threshold would.
template <typename T>
void random_forest_predict(Context& ctx, const ForestView& forest, MatrixView<const T> X,
                           double* mean);

/// leaves (host, n x n_trees, row-major) = the tree-local index of the leaf each row reaches
/// in each tree (scikit-learn's apply).
template <typename T>
void random_forest_apply(Context& ctx, const ForestView& forest, MatrixView<const T> X,
                         int64_t* leaves);

/// A fitted forest prepared for traversal of T features: the forest checked and packed into the
/// node records the backends walk, with its own copy of the values. Predicting from a
/// ForestView redoes this work (a pass over every node, ~14 ms per million nodes on one core)
/// on each call; a caller that predicts repeatedly prepares once. Immutable; copies share it.
template <typename T>
class PreparedForest {
 public:
  /// Throws InvalidArgument for an empty or malformed forest (children before their parent or
  /// outside their tree, features outside [0, n_features)).
  explicit PreparedForest(const ForestView& forest);

  int64_t n_trees() const;
  int64_t n_features() const;
  int64_t value_width() const;

  struct Impl;  // src/ensemble/random_forest.cpp
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

/// As above, over a prepared forest.
template <typename T>
void random_forest_predict(Context& ctx, const PreparedForest<T>& forest, MatrixView<const T> X,
                           double* mean);
template <typename T>
void random_forest_apply(Context& ctx, const PreparedForest<T>& forest, MatrixView<const T> X,
                         int64_t* leaves);

}  // namespace gpulearn::ensemble
