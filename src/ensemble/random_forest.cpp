// The random-forest driver, written once for every backend: checks, binning
// (forest_binning.cpp), the fixed-point statistics, bootstrap draws and class weights per tree,
// then the backend grows the trees (grow_trees), forest_assembly.cpp turns them into
// scikit-learn's node arrays, and this file sums importances and out-of-bag predictions.
#include "gpulearn/ensemble/random_forest.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../core/parallel.hpp"
#include "forest_fit.hpp"
#include "forest_rules.hpp"
#include "primitives.hpp"

namespace gpulearn::ensemble {

namespace {

// scikit-learn's parameter-validation message for max_features, the value as Python shows it.
[[noreturn]] void bad_max_features(const std::string& got) {
  GPULEARN_FAIL(InvalidArgument,
                "The 'max_features' parameter must be an int in the range [1, inf), a float in "
                "the range (0.0, 1.0], a str among {'log2', 'sqrt'} or None. Got ",
                got, " instead.");
}

}  // namespace

MaxFeatures::MaxFeatures(const char* name) {
  const std::string s = name == nullptr ? "" : name;
  if (s == "sqrt") {
    kind_ = Kind::kSqrt;
  } else if (s == "log2") {
    kind_ = Kind::kLog2;
  } else {
    bad_max_features("'" + s + "'");
  }
}

int64_t MaxFeatures::resolve(int64_t d) const {
  GPULEARN_EXPECTS(d >= 1, "max_features needs at least one feature, got ", d);
  switch (kind_) {
    case Kind::kAll:
      return d;
    case Kind::kSqrt:
      return std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(static_cast<double>(d))));
    case Kind::kLog2:
      return std::max<int64_t>(1, static_cast<int64_t>(std::log2(static_cast<double>(d))));
    case Kind::kCount:
      if (count_ < 1) bad_max_features(std::to_string(count_));
      return std::min(count_, d);
    case Kind::kFraction:
      if (!(fraction_ > 0 && fraction_ <= 1)) {
        char buf[32];  // the shortest form that reads back, as Python's repr
        std::string got(buf, std::to_chars(buf, buf + sizeof(buf), fraction_).ptr);
        if (got.find_first_of(".en") == std::string::npos) got += ".0";
        bad_max_features(got);
      }
      return std::max<int64_t>(
          1, std::min(d, static_cast<int64_t>(fraction_ * static_cast<double>(d))));
  }
  return d;
}

ForestView RandomForest::view() const {
  ForestView v;
  v.n_trees = n_trees();
  v.n_features = n_features;
  v.value_width = value_width;
  v.tree_offsets = tree_offsets.data();
  v.children_left = children_left.data();
  v.children_right = children_right.data();
  v.feature = feature.data();
  v.threshold = threshold.data();
  v.value = value.data();
  return v;
}

template <typename T>
struct PreparedForest<T>::Impl {
  int64_t n_features = 0;
  std::vector<int64_t> tree_offsets;  // rebased to this forest's own nodes
  std::vector<detail::forest::Node<T>> nodes;
  std::vector<double> value;
  detail::forest::Layout<T> layout;  // over the vectors above
};

template <typename T>
PreparedForest<T>::PreparedForest(const ForestView& v) {
  GPULEARN_EXPECTS(v.n_trees >= 1 && v.tree_offsets != nullptr, "the forest is empty");
  GPULEARN_EXPECTS(v.n_features >= 1, "the forest must have at least one feature");
  GPULEARN_EXPECTS(v.value_width >= 1, "the forest's value width must be at least 1");
  GPULEARN_EXPECTS(v.children_left != nullptr && v.children_right != nullptr &&
                       v.feature != nullptr && v.threshold != nullptr && v.value != nullptr,
                   "the forest's node arrays are missing");
  const int64_t* off = v.tree_offsets;
  const int64_t first = off[0], n_trees = v.n_trees;
  GPULEARN_EXPECTS(first >= 0, "tree_offsets out of range");
  auto impl = std::make_shared<Impl>();
  impl->n_features = v.n_features;
  impl->tree_offsets.resize(n_trees + 1);
  for (int64_t t = 0; t <= n_trees; ++t) impl->tree_offsets[t] = off[t] - first;
  // Every tree lists children after their parent (gpulearn's and scikit-learn's depth-first
  // preorder, scikit-learn's best-first order alike) with features in range, so each walk ends
  // inside its own tree: corrupt arrays are refused, never followed. The packed records hold
  // tree-local children and features in 32 bits: a larger tree or feature index is refused
  // rather than narrowed (and sent to a wrong node, or read as a leaf).
  constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();
  for (int64_t t = 0; t < n_trees; ++t) {
    const int64_t base = off[t], size = off[t + 1] - off[t];
    GPULEARN_EXPECTS(size >= 1, "tree ", t, " of the forest has no node");
    GPULEARN_EXPECTS(size <= kMaxIndex, "tree ", t, " of the forest has ", size,
                     " nodes; at most 2^31 - 1 are supported");
    for (int64_t i = 0; i < size; ++i) {
      const int64_t li = v.children_left[base + i], ri = v.children_right[base + i];
      if (li == -1 && ri == -1) continue;
      GPULEARN_EXPECTS(li > i && li < size && ri > i && ri < size && v.feature[base + i] >= 0 &&
                           v.feature[base + i] < v.n_features && v.feature[base + i] <= kMaxIndex,
                       "node ", i, " of tree ", t, " of the forest is malformed");
    }
  }
  const int64_t n_nodes = impl->tree_offsets[n_trees];
  impl->nodes.resize(n_nodes);
  for (int64_t k = 0; k < n_nodes; ++k) {
    const int64_t i = first + k;
    detail::forest::Node<T>& nd = impl->nodes[k];
    const bool leaf = v.children_left[i] < 0;
    nd.feature = leaf ? -1 : static_cast<int32_t>(v.feature[i]);
    nd.left = static_cast<int32_t>(v.children_left[i]);
    nd.right = static_cast<int32_t>(v.children_right[i]);
    // Rounded down to T: for every T value x, x <= t_T exactly when x <= t.
    T t = static_cast<T>(v.threshold[i]);
    if (static_cast<double>(t) > v.threshold[i]) {
      t = std::nextafter(t, -std::numeric_limits<T>::infinity());
    }
    nd.threshold = leaf ? T(0) : t;
  }
  impl->value.assign(v.value + first * v.value_width,
                     v.value + (first + n_nodes) * v.value_width);
  impl->layout.n_trees = n_trees;
  impl->layout.width = v.value_width;
  impl->layout.tree_offsets = impl->tree_offsets.data();
  impl->layout.nodes = impl->nodes.data();
  impl->layout.value = impl->value.data();
  impl_ = std::move(impl);
}

template <typename T>
int64_t PreparedForest<T>::n_trees() const {
  return impl_->layout.n_trees;
}
template <typename T>
int64_t PreparedForest<T>::n_features() const {
  return impl_->n_features;
}
template <typename T>
int64_t PreparedForest<T>::value_width() const {
  return impl_->layout.width;
}

template class PreparedForest<float>;
template class PreparedForest<double>;

namespace {

namespace fr = detail::forest;
using detail::Backend;
using detail::Scratch;
using forest_fit::append_tree;
using forest_fit::bin_features;
using forest_fit::Binned;
using forest_fit::FitInputs;

// Rows per traversal call of the out-of-bag pass (bounds its leaves buffer).
constexpr int64_t kOobChunkRows = 1 << 16;

// The power-of-two exponent s such that n_terms values of magnitude at most amax, times 2^s,
// sum below 2^60 in int64.
int quantum_exponent(double amax, int64_t n_terms) {
  const double bound = amax * static_cast<double>(std::max<int64_t>(1, n_terms));
  if (!(bound > 0)) return 0;
  return 60 - (std::ilogb(bound) + 1);
}

int64_t quantise(double v, int s) { return std::llround(std::ldexp(v, s)); }

// One tree's sample: each row's bootstrap multiplicity (all ones without bootstrap); the
// out-of-bag rows are those drawn 0 times.
struct TreeSample {
  std::vector<int32_t> drawn;  // n
};

TreeSample draw_sample(uint64_t key, int64_t n, int64_t n_draws, bool bootstrap) {
  TreeSample s;
  if (!bootstrap) {
    s.drawn.assign(n, 1);
    return s;
  }
  s.drawn.assign(n, 0);
  const uint64_t stream = fr::hash2(key, 0xB0075742ULL);
  for (int64_t j = 0; j < n_draws; ++j) {
    ++s.drawn[fr::bounded(fr::hash2(stream, static_cast<uint64_t>(j)), n)];
  }
  return s;
}

// Out-of-bag means: each row's values averaged over the trees that did not draw it.
template <typename T>
void out_of_bag(const FitInputs<T>& in, MatrixView<const T> X,
                const std::vector<std::vector<char>>& in_bag, RandomForest& f) {
  const int64_t n = in.n, width = f.value_width, n_trees = f.n_trees();
  f.oob_value.assign(n * width, 0.0);
  f.oob_count.assign(n, 0);
  const PreparedForest<T> prepared(f.view());
  std::vector<int64_t> leaves;
  for (int64_t r0 = 0; r0 < n; r0 += kOobChunkRows) {
    const int64_t rows = std::min(kOobChunkRows, n - r0);
    leaves.resize(rows * n_trees);
    in.be.template primitives<detail::EnsemblePrimitives<T>>().forest_traverse(
        X.block_rows(r0, rows), prepared.impl().layout, nullptr, leaves.data());
    for (int64_t i = 0; i < rows; ++i) {
      double* out = &f.oob_value[(r0 + i) * width];
      for (int64_t t = 0; t < n_trees; ++t) {
        if (in_bag[t][r0 + i]) continue;
        const double* v = &f.value[(f.tree_offsets[t] + leaves[i * n_trees + t]) * width];
        for (int64_t c = 0; c < width; ++c) out[c] += v[c];
        ++f.oob_count[r0 + i];
      }
      if (f.oob_count[r0 + i] > 0) {
        for (int64_t c = 0; c < width; ++c) out[c] /= static_cast<double>(f.oob_count[r0 + i]);
      }
    }
  }
}

void check_params(const RandomForestParams& p) {
  GPULEARN_EXPECTS(p.n_estimators >= 1, "n_estimators must be at least 1, got ", p.n_estimators);
  GPULEARN_EXPECTS(p.min_samples_split >= 2, "min_samples_split must be at least 2, got ",
                   p.min_samples_split);
  GPULEARN_EXPECTS(p.min_samples_leaf >= 1, "min_samples_leaf must be at least 1, got ",
                   p.min_samples_leaf);
  GPULEARN_EXPECTS(p.min_weight_fraction_leaf >= 0 && p.min_weight_fraction_leaf <= 0.5,
                   "min_weight_fraction_leaf must be in [0, 0.5], got ",
                   p.min_weight_fraction_leaf);
  GPULEARN_EXPECTS(p.max_leaf_nodes < 0 || p.max_leaf_nodes >= 2,
                   "max_leaf_nodes must be at least 2, got ", p.max_leaf_nodes);
  GPULEARN_EXPECTS(p.min_impurity_decrease >= 0, "min_impurity_decrease must be >= 0, got ",
                   p.min_impurity_decrease);
  GPULEARN_EXPECTS(p.n_bins >= 2 && p.n_bins <= fr::kMaxBins, "n_bins must be in [2, ",
                   fr::kMaxBins, "], got ", p.n_bins);
  GPULEARN_EXPECTS(!p.oob || p.bootstrap, "Out of bag estimation only available if bootstrap=True");
  GPULEARN_EXPECTS(p.max_samples < 0 || p.bootstrap,
                   "max_samples cannot be set if bootstrap=False. Either switch to "
                   "bootstrap=True or set max_samples=None.");
  GPULEARN_EXPECTS(p.max_samples != 0, "max_samples must be at least 1");
}

template <typename T>
RandomForest fit(Context& ctx, const RandomForestParams& p, MatrixView<const T> X,
                 const int32_t* labels, int64_t n_classes, MatrixView<const double> Y,
                 VectorView<const T> sample_weight) {
  Backend& be = ctx.backend();
  const int64_t n = X.rows, d = X.cols;
  GPULEARN_EXPECTS(n >= 1, "Found array with 0 sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  // Node ids are int32 and a tree has at most 2 n - 1 nodes.
  GPULEARN_EXPECTS(n <= (int64_t{1} << 30), "at most 2^30 samples are supported, got ", n);
  // Feature ids are int32 in the trees.
  GPULEARN_EXPECTS(d <= INT32_MAX, "at most 2^31 - 1 features are supported, got ", d);
  detail::require_readable(be, X.space, "X");
  GPULEARN_EXPECTS(sample_weight.empty() || sample_weight.size == n, "sample_weight has ",
                   sample_weight.size, " entries but X has ", n, " samples");
  check_params(p);
  const int64_t max_features = p.max_features.resolve(d);
  detail::checked_max_abs(be, X, "X");
  const bool classifier = labels != nullptr;

  FitInputs<T> in{p, be, ctx.n_threads(), n, d, {}, {}, {}, {}, {}, {}, {}, {}, 0};
  // Weights: host doubles, checked.
  in.w.assign(n, 1.0);
  if (!sample_weight.empty()) {
    detail::checked_weights(be, sample_weight);
    const std::vector<T> w = detail::to_host(be, sample_weight);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += (in.w[i] = w[i]);
    GPULEARN_EXPECTS(sum > 0, "Sample weights must contain at least one non-zero number.");
  }
  double w_max = 0;
  for (double v : in.w) w_max = std::max(w_max, v);
  in.n_draws = p.bootstrap ? (p.max_samples < 0 ? n : p.max_samples) : n;

  fr::GrowSpec& s = in.spec;
  s.n_features = static_cast<int32_t>(d);
  s.max_features = static_cast<int32_t>(max_features);
  s.max_depth = p.max_depth;
  if (p.max_leaf_nodes > 0) {  // best first keeps at most max_leaf_nodes - 1 levels
    s.max_depth = s.max_depth < 0 ? p.max_leaf_nodes - 1
                                  : std::min<int64_t>(s.max_depth, p.max_leaf_nodes - 1);
  }
  s.min_samples_leaf = p.min_samples_leaf;
  s.min_samples_split = std::max<int64_t>(p.min_samples_split, 2 * p.min_samples_leaf);
  s.min_impurity_decrease = p.min_impurity_decrease;
  const int w_exp = quantum_exponent(w_max, in.n_draws);
  s.w_unit = std::ldexp(1.0, -w_exp);
  in.qw.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    in.qw[i] = quantise(in.w[i], w_exp);
    if (in.w[i] > 0 && in.qw[i] == 0) in.qw[i] = 1;
  }

  std::vector<int64_t> row_q;
  if (classifier) {
    GPULEARN_EXPECTS(n_classes >= 1, "n_classes must be at least 1, got ", n_classes);
    GPULEARN_EXPECTS(p.criterion == Criterion::kGini || p.criterion == Criterion::kEntropy,
                     "a classifier's criterion must be gini or entropy");
    s.criterion = p.criterion == Criterion::kGini ? fr::Crit::kGini : fr::Crit::kEntropy;
    s.n_classes = static_cast<int32_t>(n_classes);
    s.n_outputs = 1;
    s.n_channels = s.n_classes + 1;
    in.labels.assign(labels, labels + n);
    for (int64_t i = 0; i < n; ++i) {
      GPULEARN_EXPECTS(labels[i] >= 0 && labels[i] < n_classes, "label ", labels[i], " of row ", i,
                       " is outside [0, ", n_classes, ")");
    }
    row_q = in.qw;
  } else {
    GPULEARN_EXPECTS(Y.rows == n && Y.cols >= 1, "y has ", Y.rows, " rows for ", n,
                     " samples (and needs at least one output)");
    GPULEARN_EXPECTS(Y.space == MemorySpace::kHost, "Y must be in host memory");
    GPULEARN_EXPECTS(
        p.criterion == Criterion::kSquaredError || p.criterion == Criterion::kFriedmanMse,
        "a regressor's criterion must be squared_error or friedman_mse");
    s.criterion =
        p.criterion == Criterion::kSquaredError ? fr::Crit::kSquaredError : fr::Crit::kFriedmanMse;
    const int64_t k = Y.cols;
    s.n_classes = 0;
    s.n_outputs = static_cast<int32_t>(k);
    s.n_channels = static_cast<int32_t>(2 * k + 2);
    double w_sum = 0;
    in.y_mean.assign(k, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      w_sum += in.w[i];
      for (int64_t j = 0; j < k; ++j) {
        const double y = Y.row(i)[j];
        GPULEARN_EXPECTS(std::isfinite(y), "Input y contains NaN or infinity.");
        in.y_mean[j] += in.w[i] * y;
      }
    }
    for (double& m : in.y_mean) m /= w_sum;
    double wy_max = 0, wy2_max = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < k; ++j) {
        const double yc = Y.row(i)[j] - in.y_mean[j];
        wy_max = std::max(wy_max, std::abs(in.w[i] * yc));
        wy2_max = std::max(wy2_max, in.w[i] * yc * yc);
      }
    }
    const int y_exp = quantum_exponent(wy_max, in.n_draws);
    const int y2_exp = quantum_exponent(wy2_max, in.n_draws);
    s.y_unit = std::ldexp(1.0, -y_exp);
    s.y2_unit = std::ldexp(1.0, -y2_exp);
    const int rw = fr::row_width(s);
    row_q.resize(checked_mul(n, rw));
    for (int64_t i = 0; i < n; ++i) {
      int64_t* q = &row_q[i * rw];
      q[0] = in.qw[i];
      for (int64_t j = 0; j < k; ++j) {
        const double yc = Y.row(i)[j] - in.y_mean[j];
        q[1 + j] = quantise(in.w[i] * yc, y_exp);
        q[1 + k + j] = quantise(in.w[i] * yc * yc, y2_exp);
      }
    }
  }

  in.binned = bin_features(be, X, p.n_bins, in.n_threads);
  const MemorySpace native = be.native_space();
  in.row_q = Scratch<int64_t>(be, static_cast<int64_t>(row_q.size()));
  be.copy(in.row_q.data, native, row_q.data(), MemorySpace::kHost,
          static_cast<int64_t>(row_q.size() * sizeof(int64_t)));
  if (classifier) {
    in.labels_native = Scratch<int32_t>(be, n);
    be.copy(in.labels_native.data, native, labels, MemorySpace::kHost,
            n * int64_t(sizeof(int32_t)));
  }
  fr::TrainingSet data;
  data.codes = in.binned.codes.data;
  data.n = n;
  data.d = d;
  data.n_bins = in.binned.edges.n_bins.data();
  data.labels = classifier ? in.labels_native.data : nullptr;
  data.row_q = in.row_q.data;

  RandomForest f;
  f.n_features = d;
  f.max_features = max_features;
  f.n_classes = classifier ? n_classes : 0;
  f.n_outputs = classifier ? 1 : Y.cols;
  f.value_width = classifier ? n_classes : Y.cols;
  std::vector<double> importances_sum(d, 0.0);
  int64_t trees_with_splits = 0;
  std::vector<std::vector<char>> in_bag;  // kept for the out-of-bag pass

  // Trees in batches whose bootstrap counts take at most ~256 MiB; a batch shares one
  // min_weight_leaf (it depends on the tree's total weight when that varies between trees).
  const int64_t batch_max =
      std::max<int64_t>(1, std::min<int64_t>(p.n_estimators, (int64_t{64} << 20) / n));
  for (int64_t t0 = 0; t0 < p.n_estimators;) {
    const int64_t want = std::min(batch_max, p.n_estimators - t0);
    std::vector<TreeSample> samples(want);
    std::vector<uint64_t> keys(want);
    for (int64_t b = 0; b < want; ++b) keys[b] = fr::tree_key(p.seed, t0 + b);
    detail::parallel_for(want, in.n_threads, [&](int64_t b) {
      samples[b] = draw_sample(keys[b], n, in.n_draws, p.bootstrap);
    });
    std::vector<int32_t> counts(checked_mul(want, n));
    std::vector<double> mult;
    std::vector<int64_t> min_weight(want, 0);
    for (int64_t b = 0; b < want; ++b) {
      const std::vector<int32_t>& drawn = samples[b].drawn;
      int32_t* c = &counts[b * n];
      for (int64_t i = 0; i < n; ++i) c[i] = in.w[i] > 0 ? drawn[i] : 0;
      const double* m = nullptr;
      if (classifier && p.balanced_subsample) {
        // scikit-learn's compute_sample_weight("balanced", y, indices=draws).
        std::vector<double> per_class(n_classes, 0.0);
        for (int64_t i = 0; i < n; ++i) per_class[in.labels[i]] += drawn[i];
        int64_t present = 0;
        for (double v : per_class) present += v > 0;
        const size_t at = mult.size();
        for (double v : per_class) {
          mult.push_back(v > 0 ? static_cast<double>(in.n_draws) / (present * v) : 0.0);
        }
        m = &mult[at];
      }
      if (p.min_weight_fraction_leaf > 0) {
        int64_t root = 0;
        for (int64_t i = 0; i < n; ++i) {
          root += fr::row_weight(c[i], in.qw[i], m == nullptr ? 1.0 : m[in.labels[i]]);
        }
        min_weight[b] =
            static_cast<int64_t>(std::ceil(p.min_weight_fraction_leaf * static_cast<double>(root)));
      }
    }
    // The leading trees of the batch with the first tree's min_weight_leaf.
    int64_t take = 1;
    while (take < want && min_weight[take] == min_weight[0]) ++take;
    s.min_weight_leaf = min_weight[0];
    std::vector<fr::GrownTree> grown;
    be.primitives<detail::EnsemblePrimitives<T>>().grow_trees(
        data, s, take, counts.data(), mult.empty() ? nullptr : mult.data(), keys.data(), grown);
    for (int64_t b = 0; b < take; ++b) {
      append_tree(in, grown[b], f, importances_sum, trees_with_splits);
      if (p.oob) {
        in_bag.emplace_back(n);
        for (int64_t i = 0; i < n; ++i) in_bag.back()[i] = samples[b].drawn[i] > 0;
      }
    }
    t0 += take;
  }

  f.feature_importances.assign(d, 0.0);
  if (trees_with_splits > 0) {
    double sum = 0;
    for (double v : importances_sum) sum += v / static_cast<double>(trees_with_splits);
    for (int64_t j = 0; j < d; ++j) {
      const double mean = importances_sum[j] / static_cast<double>(trees_with_splits);
      f.feature_importances[j] = sum > 0 ? mean / sum : 0.0;
    }
  }
  if (p.oob) out_of_bag(in, X, in_bag, f);
  return f;
}

template <typename T>
void check_predict(Backend& be, const PreparedForest<T>& forest, MatrixView<const T> X) {
  GPULEARN_EXPECTS(X.cols == forest.n_features(), "X has ", X.cols,
                   " features, but the forest is expecting ", forest.n_features(),
                   " features as input.");
  detail::require_readable(be, X.space, "X");
  if (X.rows > 0) detail::checked_max_abs(be, X, "X");
}

}  // namespace

template <typename T>
RandomForest random_forest_classifier_fit(Context& ctx, const RandomForestParams& params,
                                          MatrixView<const T> X, const int32_t* labels,
                                          int64_t n_classes, VectorView<const T> sample_weight) {
  GPULEARN_EXPECTS(labels != nullptr, "labels are required");
  return fit<T>(ctx, params, X, labels, n_classes, MatrixView<const double>(), sample_weight);
}

template <typename T>
RandomForest random_forest_regressor_fit(Context& ctx, const RandomForestParams& params,
                                         MatrixView<const T> X, MatrixView<const double> Y,
                                         VectorView<const T> sample_weight) {
  return fit<T>(ctx, params, X, nullptr, 0, Y, sample_weight);
}

template <typename T>
void random_forest_predict(Context& ctx, const PreparedForest<T>& forest, MatrixView<const T> X,
                           double* mean) {
  Backend& be = ctx.backend();
  check_predict(be, forest, X);
  if (X.rows > 0)
    be.primitives<detail::EnsemblePrimitives<T>>().forest_traverse(X, forest.impl().layout, mean,
                                                                   nullptr);
}

template <typename T>
void random_forest_apply(Context& ctx, const PreparedForest<T>& forest, MatrixView<const T> X,
                         int64_t* leaves) {
  Backend& be = ctx.backend();
  check_predict(be, forest, X);
  if (X.rows > 0)
    be.primitives<detail::EnsemblePrimitives<T>>().forest_traverse(X, forest.impl().layout, nullptr,
                                                                   leaves);
}

template <typename T>
void random_forest_predict(Context& ctx, const ForestView& forest, MatrixView<const T> X,
                           double* mean) {
  random_forest_predict(ctx, PreparedForest<T>(forest), X, mean);
}

template <typename T>
void random_forest_apply(Context& ctx, const ForestView& forest, MatrixView<const T> X,
                         int64_t* leaves) {
  random_forest_apply(ctx, PreparedForest<T>(forest), X, leaves);
}

#define GPULEARN_INSTANTIATE(T)                                                              \
  template RandomForest random_forest_classifier_fit<T>(Context&, const RandomForestParams&, \
                                                        MatrixView<const T>, const int32_t*, \
                                                        int64_t, VectorView<const T>);       \
  template RandomForest random_forest_regressor_fit<T>(                                      \
      Context&, const RandomForestParams&, MatrixView<const T>, MatrixView<const double>,    \
      VectorView<const T>);                                                                  \
  template void random_forest_predict<T>(Context&, const ForestView&, MatrixView<const T>,   \
                                         double*);                                           \
  template void random_forest_apply<T>(Context&, const ForestView&, MatrixView<const T>,       \
                                       int64_t*);                                            \
  template void random_forest_predict<T>(Context&, const PreparedForest<T>&,                 \
                                         MatrixView<const T>, double*);                      \
  template void random_forest_apply<T>(Context&, const PreparedForest<T>&, MatrixView<const T>, \
                                       int64_t*);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::ensemble
