// Hand-made forests in shapes gpulearn's own growth never produces but scikit-learn's trees
// have (converted by RandomForest*.from_sklearn): children numbered best-first rather than in
// preorder (max_leaf_nodes), and a chain far deeper than any stack a walk might have kept.
// Shared by the CPU and CUDA traversal tests.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::ensemble::test_shapes {

// Tree 0, numbered best-first: the root (x0 <= 0.5) has children 1 (x1 <= 0.25, leaves 5, 6)
// and 2 (x1 <= 0.75, leaves 3, 4); node 2 was expanded first, so its children come first.
// Tree 1: a chain of kChain splits x0 <= k + 0.5, each with a leaf on the left (node 2k + 1)
// and the next split on the right (node 2k + 2); node 2 kChain is the last leaf.
// Every node's value is (its tree-local index, 1).
struct ShapesForest {
  static constexpr int64_t kChain = 3000;
  RandomForest forest;

  ShapesForest() {
    RandomForest& f = forest;
    f.n_features = 2;
    f.value_width = 2;
    f.children_left = {1, 5, 3, -1, -1, -1, -1};
    f.children_right = {2, 6, 4, -1, -1, -1, -1};
    f.feature = {0, 1, 1, -2, -2, -2, -2};
    f.threshold = {0.5, 0.25, 0.75, -2, -2, -2, -2};
    const int64_t tree0 = static_cast<int64_t>(f.children_left.size());
    for (int64_t k = 0; k < kChain; ++k) {
      f.children_left.insert(f.children_left.end(), {2 * k + 1, -1});
      f.children_right.insert(f.children_right.end(), {2 * k + 2, -1});
      f.feature.insert(f.feature.end(), {0, -2});
      f.threshold.insert(f.threshold.end(), {static_cast<double>(k) + 0.5, -2.0});
    }
    f.children_left.push_back(-1);
    f.children_right.push_back(-1);
    f.feature.push_back(-2);
    f.threshold.push_back(-2.0);
    f.tree_offsets = {0, tree0, static_cast<int64_t>(f.children_left.size())};
    for (int64_t t = 0; t < 2; ++t) {
      for (int64_t i = 0; i < f.tree_offsets[t + 1] - f.tree_offsets[t]; ++i) {
        f.value.insert(f.value.end(), {static_cast<double>(i), 1.0});
      }
    }
  }

  ForestView view() const { return forest.view(); }

  // Rows (x0, x1) and the leaves they reach in trees 0 and 1.
  static std::vector<double> rows() {
    std::vector<double> X;
    for (double x0 : {0.1, 0.5, 0.9, 7.3, 2999.4, 2999.6, 5000.0}) {
      for (double x1 : {0.2, 0.25, 0.5, 0.8}) X.insert(X.end(), {x0, x1});
    }
    return X;
  }
  static std::vector<int64_t> leaves(const std::vector<double>& X) {
    std::vector<int64_t> out;
    for (size_t r = 0; r < X.size() / 2; ++r) {
      const double x0 = X[2 * r], x1 = X[2 * r + 1];
      out.push_back(x0 <= 0.5 ? (x1 <= 0.25 ? 5 : 6) : (x1 <= 0.75 ? 3 : 4));
      int64_t k = 0;
      while (k < kChain && !(x0 <= static_cast<double>(k) + 0.5)) ++k;
      out.push_back(k < kChain ? 2 * k + 1 : 2 * kChain);
    }
    return out;
  }
};

}  // namespace gpulearn::ensemble::test_shapes
