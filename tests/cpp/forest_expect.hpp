// What two fits of the same forest must share, array by array (tests of the CUDA backend and
// of fits over blocks against the single-machine CPU fit).
#pragma once

#include <gtest/gtest.h>

#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::ensemble::test_forest {

inline void expect_same_forest(const RandomForest& a, const RandomForest& b) {
  EXPECT_EQ(a.tree_offsets, b.tree_offsets);
  EXPECT_EQ(a.children_left, b.children_left);
  EXPECT_EQ(a.children_right, b.children_right);
  EXPECT_EQ(a.feature, b.feature);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.impurity, b.impurity);
  EXPECT_EQ(a.n_node_samples, b.n_node_samples);
  EXPECT_EQ(a.weighted_n_node_samples, b.weighted_n_node_samples);
  EXPECT_EQ(a.max_depth, b.max_depth);
  EXPECT_EQ(a.feature_importances, b.feature_importances);
  EXPECT_EQ(a.oob_value, b.oob_value);
  EXPECT_EQ(a.oob_count, b.oob_count);
}

}  // namespace gpulearn::ensemble::test_forest
