// Tree assembly: one grown tree (the backend's grow_trees output) into scikit-learn's node
// arrays, thresholds between occupied bins, values, impurities and importances, with
// best-first pruning to max_leaf_nodes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <vector>

#include "forest_fit.hpp"

namespace gpulearn::ensemble::forest_fit {

template <typename T>
void append_tree(const Assembly<T>& in, const fr::GrownTree& g, RandomForest& f,
                 std::vector<double>& importances_sum, int64_t& trees_with_splits) {
  const fr::GrowSpec& s = in.spec;
  const int64_t ch = s.n_channels;
  const size_t count = g.nodes.size();
  auto stats = [&](int32_t i) { return g.stats.data() + static_cast<int64_t>(i) * ch; };

  // Preorder of the full grown tree: the order-independent rank used to break ties.
  std::vector<int64_t> rank(count, 0);
  {
    std::vector<int32_t> stack{0};
    int64_t r = 0;
    while (!stack.empty()) {
      const int32_t i = stack.back();
      stack.pop_back();
      rank[i] = r++;
      if (g.nodes[i].left >= 0) {
        stack.push_back(g.nodes[i].right);
        stack.push_back(g.nodes[i].left);
      }
    }
  }
  // Which splits are kept: all of them, or best first up to max_leaf_nodes leaves.
  std::vector<char> keep(count, 0);
  if (in.p.max_leaf_nodes > 0) {
    auto lower = [&](int32_t a, int32_t b) {
      if (g.nodes[a].improvement != g.nodes[b].improvement) {
        return g.nodes[a].improvement < g.nodes[b].improvement;
      }
      return rank[a] > rank[b];
    };
    std::priority_queue<int32_t, std::vector<int32_t>, decltype(lower)> frontier(lower);
    if (g.nodes[0].left >= 0) frontier.push(0);
    int64_t leaves = 1;
    while (!frontier.empty() && leaves < in.p.max_leaf_nodes) {
      const int32_t i = frontier.top();
      frontier.pop();
      keep[i] = 1;
      ++leaves;
      for (int32_t c : {g.nodes[i].left, g.nodes[i].right}) {
        if (g.nodes[c].left >= 0) frontier.push(c);
      }
    }
  } else {
    for (size_t i = 0; i < count; ++i) keep[i] = g.nodes[i].left >= 0;
  }

  // Emit the kept tree in preorder, left first.
  const int64_t base = static_cast<int64_t>(f.feature.size());
  const double w_unit = s.w_unit;
  std::vector<double> imp(in.d, 0.0);
  int64_t depth = 0;
  struct Item {
    int32_t node;
    int64_t parent;  // tree-local index of the parent, -1 at the root
    bool right;
  };
  std::vector<Item> stack{{0, -1, false}};
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    const fr::GrownNode& gn = g.nodes[it.node];
    const int64_t local = static_cast<int64_t>(f.feature.size()) - base;
    if (it.parent >= 0) {
      (it.right ? f.children_right : f.children_left)[base + it.parent] = local;
    }
    const int64_t* st = stats(it.node);
    const int64_t wq = fr::weight_of(s, st);
    const double wn = static_cast<double>(wq) * w_unit;
    depth = std::max<int64_t>(depth, gn.depth);
    f.children_left.push_back(-1);
    f.children_right.push_back(-1);
    f.impurity.push_back(fr::impurity(s, st));
    f.n_node_samples.push_back(st[ch - 1]);
    f.weighted_n_node_samples.push_back(wn);
    for (int64_t c = 0; c < f.value_width; ++c) {
      f.value.push_back(s.n_classes > 0
                            ? static_cast<double>(st[c]) / static_cast<double>(wq)
                            : static_cast<double>(st[1 + c]) * s.y_unit / wn + in.y_mean[c]);
    }
    if (keep[it.node]) {
      const int32_t j = gn.feature;
      const double a = in.bin_max[int64_t{j} * fr::kMaxBins + gn.bin_lo];
      const double b = in.bin_min[int64_t{j} * fr::kMaxBins + gn.bin_hi];
      // Midway between the node's neighbouring values, as scikit-learn; never at b itself.
      double threshold = a / 2 + b / 2;
      if (threshold == b || std::isinf(threshold)) threshold = a;
      f.feature.push_back(j);
      f.threshold.push_back(threshold);
      const int64_t* sl = stats(gn.left);
      const int64_t* sr = stats(gn.right);
      imp[j] += wn * fr::impurity(s, st) -
                static_cast<double>(fr::weight_of(s, sl)) * w_unit * fr::impurity(s, sl) -
                static_cast<double>(fr::weight_of(s, sr)) * w_unit * fr::impurity(s, sr);
      stack.push_back({gn.right, local, true});
      stack.push_back({gn.left, local, false});
    } else {
      f.feature.push_back(-2);
      f.threshold.push_back(-2.0);
    }
  }
  f.tree_offsets.push_back(static_cast<int64_t>(f.feature.size()));
  f.max_depth.push_back(depth);
  if (f.feature.size() - base > 1) {
    // scikit-learn's compute_feature_importances: divided by the root's weight, normalised.
    double sum = 0;
    const double root = f.weighted_n_node_samples[base];
    for (double& v : imp) sum += (v /= root);
    if (sum > 0) {
      for (int64_t j = 0; j < in.d; ++j) importances_sum[j] += imp[j] / sum;
    }
    ++trees_with_splits;
  }
}

template void append_tree<float>(const Assembly<float>&, const fr::GrownTree&, RandomForest&,
                                 std::vector<double>&, int64_t&);
template void append_tree<double>(const Assembly<double>&, const fr::GrownTree&, RandomForest&,
                                  std::vector<double>&, int64_t&);

}  // namespace gpulearn::ensemble::forest_fit
