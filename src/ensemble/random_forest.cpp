// The random-forest driver, written once for every backend and over its data's passes
// (ForestData: one matrix, or blocks across processes): checks, binning (forest_binning.cpp),
// the fixed-point statistics, bootstrap draws and class weights per tree, then growth: the data
// grows whole trees (or subtrees) itself, and larger nodes of split data are split here level by
// level from summed histograms; forest_assembly.cpp turns the trees into scikit-learn's node
// arrays, and this file sums importances and out-of-bag predictions.
#include "gpulearn/ensemble/random_forest.hpp"

#include "gpulearn/ensemble/forest_data.hpp"

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
using forest_fit::append_tree;
using forest_fit::Assembly;
using forest_fit::quantum_exponent;

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

// A node the driver searches: node `node` of batch tree `tree`.
struct OpenNode {
  int32_t tree, node, depth;
  uint64_t key;
};

// The search of one node over its features' histograms, in permutation order (the CPU grower's
// TreeGrower::split, position by position).
struct NodeSearch {
  fr::Candidate best;
  int32_t best_pos = -1, best_feature = -1;
  std::vector<int64_t> best_left;
  bool any_varying = false;
  int32_t next_pos = 0;  // the next permutation position to visit
};

// Grows the batch's trees [0, take) over `data`: nodes of at most data.subtree_rows() rows are
// grown whole by the data; larger ones are split here, level by level, from the histograms of
// their visited features, by the rules of forest_rules.hpp that every grower follows.
template <typename T>
void grow_batch(ForestData<T>& data, const fr::GrowSpec& s, const double* mult,
                const uint64_t* keys, int64_t take, const std::vector<int64_t>& roots,
                const std::vector<int32_t>& n_bins, std::vector<fr::GrownTree>& grown) {
  const int ch = s.n_channels;
  const int64_t limit = data.subtree_rows();
  if (roots.empty()) {  // the data grows whole trees
    std::vector<SubtreeRequest> req(take);
    for (int64_t b = 0; b < take; ++b) {
      req[b].tree = static_cast<int32_t>(b);
      req[b].key = keys[b];
    }
    data.grow_subtrees(s, mult, req.data(), take, grown);
    GPULEARN_EXPECTS(static_cast<int64_t>(grown.size()) == take, "the data grew ", grown.size(),
                     " trees for ", take);
    return;
  }
  grown.assign(take, fr::GrownTree{});
  std::vector<int64_t> root_weight(take);
  std::vector<OpenNode> open;
  for (int64_t b = 0; b < take; ++b) {
    grown[b].nodes.emplace_back();
    grown[b].stats.assign(&roots[b * ch], &roots[(b + 1) * ch]);
    root_weight[b] = fr::weight_of(s, grown[b].stats.data());
    open.push_back({static_cast<int32_t>(b), 0, 0, keys[b]});
  }
  auto stats = [&](const OpenNode& o) { return &grown[o.tree].stats[int64_t{o.node} * ch]; };
  std::vector<int64_t> scratch(2 * ch), left(ch);
  while (!open.empty()) {
    // Leaves by the statistics alone; small nodes grown whole by the data; the rest searched.
    std::vector<SubtreeRequest> small;
    std::vector<OpenNode> large;
    for (const OpenNode& o : open) {
      const int64_t* st = stats(o);
      if (fr::leaf_before_search(s, o.depth, st)) continue;
      if (st[ch - 1] <= limit) {
        small.push_back({o.tree, o.node, o.depth, root_weight[o.tree], o.key});
      } else {
        large.push_back(o);
      }
    }
    if (!small.empty()) {
      std::vector<fr::GrownTree> sub;
      data.grow_subtrees(s, mult, small.data(), static_cast<int64_t>(small.size()), sub);
      GPULEARN_EXPECTS(sub.size() == small.size(), "the data grew ", sub.size(), " subtrees for ",
                       small.size());
      for (size_t k = 0; k < small.size(); ++k) {
        // The subtree's root is the node itself; its other nodes are appended, renumbered.
        fr::GrownTree& tree = grown[small[k].tree];
        const fr::GrownTree& g = sub[k];
        GPULEARN_EXPECTS(!g.nodes.empty() && g.stats.size() == g.nodes.size() * ch,
                         "a grown subtree is malformed");
        const int32_t base = static_cast<int32_t>(tree.nodes.size()) - 1;
        auto renumber = [&](int32_t i) { return i <= 0 ? i : i + base; };
        for (size_t i = 0; i < g.nodes.size(); ++i) {
          fr::GrownNode nd = g.nodes[i];
          nd.left = renumber(nd.left);
          nd.right = renumber(nd.right);
          nd.depth += small[k].depth;
          if (i == 0) {
            tree.nodes[small[k].node] = nd;
          } else {
            tree.nodes.push_back(nd);
            tree.stats.insert(tree.stats.end(), &g.stats[i * ch], &g.stats[(i + 1) * ch]);
          }
        }
      }
    }
    if (large.empty()) break;

    // The visited features' histograms: the first max_features positions of each node's
    // permutation, then, while every feature visited is constant in the node, more.
    std::vector<NodeSearch> search(large.size());
    std::vector<size_t> active(large.size());
    for (size_t k = 0; k < large.size(); ++k) active[k] = k;
    bool first = true;
    while (!active.empty()) {
      std::vector<HistogramRequest> req;
      std::vector<std::pair<int32_t, int32_t>> span(active.size());  // positions [a, b)
      for (size_t a = 0; a < active.size(); ++a) {
        NodeSearch& ns = search[active[a]];
        const OpenNode& o = large[active[a]];
        const int32_t lo = ns.next_pos;
        const int32_t hi =
            first ? s.max_features
                  : std::min<int32_t>(s.n_features, lo + std::max<int32_t>(s.max_features, 8));
        span[a] = {lo, hi};
        for (int32_t j = lo; j < hi; ++j) {
          req.push_back({o.tree, o.node, fr::permuted_feature(o.key, j, s.n_features)});
        }
      }
      int64_t total = 0;
      for (const HistogramRequest& r : req) total += int64_t{n_bins[r.feature]} * ch;
      std::vector<int64_t> hist(total);
      data.histograms(s, mult, req.data(), static_cast<int64_t>(req.size()), hist.data());
      int64_t at = 0;
      size_t r = 0;
      std::vector<size_t> again;
      for (size_t a = 0; a < active.size(); ++a) {
        NodeSearch& ns = search[active[a]];
        const int64_t* total_st = stats(large[active[a]]);
        for (int32_t j = span[a].first; j < span[a].second; ++j, ++r) {
          const int32_t f = req[r].feature;
          const int64_t* h = &hist[at];
          at += int64_t{n_bins[f]} * ch;
          // Past the first max_features positions, a node stops at its first varying feature.
          if (!first && ns.any_varying) continue;
          int occupied = 0;
          const fr::Candidate c =
              fr::scan_feature(s, h, n_bins[f], total_st, left.data(), scratch.data(), &occupied);
          if (occupied >= 2) ns.any_varying = true;
          if (fr::better(c, j, ns.best, ns.best_pos)) {
            ns.best = c;
            ns.best_pos = j;
            ns.best_feature = f;
            ns.best_left = left;
          }
        }
        ns.next_pos = span[a].second;
        if (!ns.any_varying && ns.next_pos < s.n_features) again.push_back(active[a]);
      }
      active = std::move(again);
      first = false;
    }

    // Splits: the best candidate when its improvement is accepted.
    std::vector<NodeSplit> splits;
    std::vector<OpenNode> next;
    std::vector<int64_t> right(ch);
    for (size_t k = 0; k < large.size(); ++k) {
      const NodeSearch& ns = search[k];
      const OpenNode& o = large[k];
      if (ns.best.bin_lo < 0) continue;
      fr::GrownTree& tree = grown[o.tree];
      const std::vector<int64_t> total_st(stats(o), stats(o) + ch);
      for (int c = 0; c < ch; ++c) right[c] = total_st[c] - ns.best_left[c];
      const double improvement = fr::split_improvement(s, total_st.data(), ns.best_left.data(),
                                                       right.data(), root_weight[o.tree]);
      if (!fr::split_accepted(s, improvement)) continue;
      const int32_t l = static_cast<int32_t>(tree.nodes.size()), rr = l + 1;
      for (int32_t child : {l, rr}) {
        tree.nodes.emplace_back();
        tree.nodes.back().depth = o.depth + 1;
        (void)child;
      }
      tree.stats.insert(tree.stats.end(), ns.best_left.begin(), ns.best_left.end());
      tree.stats.insert(tree.stats.end(), right.begin(), right.end());
      fr::GrownNode& nd = tree.nodes[o.node];
      nd.left = l;
      nd.right = rr;
      nd.feature = ns.best_feature;
      nd.bin_lo = ns.best.bin_lo;
      nd.bin_hi = ns.best.bin_hi;
      nd.improvement = improvement;
      splits.push_back({o.tree, o.node, ns.best_feature, ns.best.bin_lo, l, rr});
      next.push_back({o.tree, l, o.depth + 1, fr::child_key(o.key, false)});
      next.push_back({o.tree, rr, o.depth + 1, fr::child_key(o.key, true)});
    }
    if (!splits.empty()) data.split(splits.data(), static_cast<int64_t>(splits.size()));
    open = std::move(next);
  }
}

}  // namespace

template <typename T>
RandomForest random_forest_fit(const RandomForestParams& p, ForestData<T>& data,
                               int64_t n_classes, int64_t n_outputs, int n_threads) {
  const int64_t n = data.n_rows(), d = data.n_features();
  GPULEARN_EXPECTS(n >= 1, "Found array with 0 sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  // Node ids are int32 and a tree has at most 2 n - 1 nodes.
  GPULEARN_EXPECTS(n <= (int64_t{1} << 30), "at most 2^30 samples are supported, got ", n);
  // Feature ids are int32 in the trees.
  GPULEARN_EXPECTS(d <= INT32_MAX, "at most 2^31 - 1 features are supported, got ", d);
  check_params(p);
  const int64_t max_features = p.max_features.resolve(d);
  const bool classifier = n_classes > 0;
  if (classifier) {
    GPULEARN_EXPECTS(p.criterion == Criterion::kGini || p.criterion == Criterion::kEntropy,
                     "a classifier's criterion must be gini or entropy");
  } else {
    GPULEARN_EXPECTS(n_outputs >= 1, "a regressor needs at least one output, got ", n_outputs);
    GPULEARN_EXPECTS(
        p.criterion == Criterion::kSquaredError || p.criterion == Criterion::kFriedmanMse,
        "a regressor's criterion must be squared_error or friedman_mse");
  }
  const ForestDataRange range = data.check();
  GPULEARN_EXPECTS(range.weight_sum > 0,
                   "Sample weights must contain at least one non-zero number.");
  const int64_t n_draws = p.bootstrap ? (p.max_samples < 0 ? n : p.max_samples) : n;

  fr::GrowSpec s;
  s.criterion = p.criterion;
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
  s.w_unit = std::ldexp(1.0, -quantum_exponent(range.max_weight, n_draws));
  std::vector<double> y_mean;
  if (classifier) {
    s.n_classes = static_cast<int32_t>(n_classes);
    s.n_outputs = 1;
    s.n_channels = s.n_classes + 1;
  } else {
    const int64_t k = n_outputs;
    s.n_classes = 0;
    s.n_outputs = static_cast<int32_t>(k);
    s.n_channels = static_cast<int32_t>(2 * k + 2);
    // The weighted mean the targets are centred on, from exact fixed-point sums: the same
    // however the rows are split.
    double r[2];
    y_mean.assign(k, 0.0);
    data.target_ranges(y_mean.data(), r);
    const int w_exp = quantum_exponent(range.max_weight, n), y_exp = quantum_exponent(r[0], n);
    std::vector<int64_t> sums(1 + k);
    data.target_sums(w_exp, y_exp, sums.data());
    const double w_sum = std::ldexp(static_cast<double>(sums[0]), -w_exp);
    for (int64_t j = 0; j < k; ++j) {
      y_mean[j] = w_sum > 0 ? std::ldexp(static_cast<double>(sums[1 + j]), -y_exp) / w_sum : 0;
    }
    data.target_ranges(y_mean.data(), r);
    s.y_unit = std::ldexp(1.0, -quantum_exponent(r[0], n_draws));
    s.y2_unit = std::ldexp(1.0, -quantum_exponent(r[1], n_draws));
  }

  // Bins: edges from a sample of rows, then every row coded; each bin's extreme values kept
  // for the thresholds.
  const std::vector<int64_t> idx = forest_fit::bin_sample_index(n);
  const int64_t m = static_cast<int64_t>(idx.size());
  std::vector<double> sample(checked_mul(m, d));
  data.sample_rows(idx.data(), m, sample.data());
  const forest_fit::BinEdges edges = forest_fit::quantile_edges(sample, m, d, p.n_bins, n_threads);
  sample = {};
  std::vector<T> bin_min(d * fr::kMaxBins, std::numeric_limits<T>::infinity());
  std::vector<T> bin_max(d * fr::kMaxBins, -std::numeric_limits<T>::infinity());
  data.bin(edges.edges.data(), edges.offsets.data(), bin_min.data(), bin_max.data());
  data.quantise(s, classifier ? nullptr : y_mean.data());

  RandomForest f;
  f.n_features = d;
  f.max_features = max_features;
  f.n_classes = classifier ? n_classes : 0;
  f.n_outputs = classifier ? 1 : n_outputs;
  f.value_width = classifier ? n_classes : n_outputs;
  std::vector<double> importances_sum(d, 0.0);
  int64_t trees_with_splits = 0;
  const Assembly<T> assembly{p, s, d, bin_min, bin_max, y_mean};
  const int ch = s.n_channels;
  const bool level_wise = data.subtree_rows() < n;

  // Trees in batches whose bootstrap counts take at most ~256 MiB; a batch shares one
  // min_weight_leaf (it depends on the tree's total weight when that varies between trees).
  const int64_t batch_max =
      std::max<int64_t>(1, std::min<int64_t>(p.n_estimators, (int64_t{64} << 20) / n));
  for (int64_t t0 = 0; t0 < p.n_estimators;) {
    const int64_t want = std::min(batch_max, p.n_estimators - t0);
    std::vector<uint64_t> keys(want);
    for (int64_t b = 0; b < want; ++b) keys[b] = fr::tree_key(p.seed, t0 + b);
    const bool balanced = classifier && p.balanced_subsample;
    std::vector<double> mult;
    if (balanced) mult.assign(want * n_classes, 0.0);
    data.draw(keys.data(), want, n_draws, p.bootstrap, balanced ? mult.data() : nullptr);
    if (balanced) {
      // scikit-learn's compute_sample_weight("balanced", y, indices=draws), from the per-class
      // draw counts.
      for (int64_t b = 0; b < want; ++b) {
        double* per_class = &mult[b * n_classes];
        int64_t present = 0;
        for (int64_t c = 0; c < n_classes; ++c) present += per_class[c] > 0;
        for (int64_t c = 0; c < n_classes; ++c) {
          const double v = per_class[c];
          per_class[c] = v > 0 ? static_cast<double>(n_draws) / (present * v) : 0.0;
        }
      }
    }
    const double* mult_ptr = mult.empty() ? nullptr : mult.data();
    std::vector<int64_t> roots;
    std::vector<int64_t> min_weight(want, 0);
    if (level_wise || p.min_weight_fraction_leaf > 0) {
      roots.resize(want * ch);
      data.root_stats(s, mult_ptr, roots.data());
      if (p.min_weight_fraction_leaf > 0) {
        for (int64_t b = 0; b < want; ++b) {
          const double root = static_cast<double>(fr::weight_of(s, &roots[b * ch]));
          min_weight[b] = static_cast<int64_t>(std::ceil(p.min_weight_fraction_leaf * root));
        }
      }
    }
    // The leading trees of the batch with the first tree's min_weight_leaf.
    int64_t take = 1;
    while (take < want && min_weight[take] == min_weight[0]) ++take;
    s.min_weight_leaf = min_weight[0];
    if (!level_wise) roots.clear();
    std::vector<fr::GrownTree> grown;
    grow_batch(data, s, mult_ptr, keys.data(), take, roots, edges.n_bins, grown);
    for (int64_t b = 0; b < take; ++b) append_tree(assembly, grown[b], f, importances_sum,
                                                   trees_with_splits);
    if (p.oob) data.keep_in_bag(take);
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
  if (p.oob) {
    f.oob_value.assign(checked_mul(n, f.value_width), 0.0);
    f.oob_count.assign(n, 0);
    data.out_of_bag(f.view(), f.oob_value.data(), f.oob_count.data());
  }
  return f;
}

namespace {

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
  GPULEARN_EXPECTS(n_classes >= 1, "n_classes must be at least 1, got ", n_classes);
  LocalForestData<T> data(ctx, X, labels, n_classes, MatrixView<const double>(), sample_weight, 0,
                          X.rows);
  return random_forest_fit<T>(params, data, n_classes, 1, ctx.n_threads());
}

template <typename T>
RandomForest random_forest_regressor_fit(Context& ctx, const RandomForestParams& params,
                                         MatrixView<const T> X, MatrixView<const double> Y,
                                         VectorView<const T> sample_weight) {
  LocalForestData<T> data(ctx, X, nullptr, 0, Y, sample_weight, 0, X.rows);
  return random_forest_fit<T>(params, data, 0, Y.cols, ctx.n_threads());
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
  template RandomForest random_forest_fit<T>(const RandomForestParams&, ForestData<T>&, int64_t, \
                                             int64_t, int);                                  \
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
