// The random-forest primitives (src/ensemble/random_forest.cpp and forest_binning.cpp drive
// them; the rules both backends follow are in forest_rules.hpp), implemented by
// src/ensemble/{forest_cpu,grow_cpu}.cpp and cuda/ensemble/{forest_bin,grow_trees,
// forest_traverse}.cu. The conventions of src/core/backend.hpp hold.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "forest_rules.hpp"

namespace gpulearn::detail {

template <typename T>
class EnsemblePrimitives {
 public:
  virtual ~EnsemblePrimitives() = default;

  /// Bins X (any space the backend accepts): codes (native_space(), n x d uint8, contiguous)
  /// gets for X_ij the number of feature j's edges below it, edges (host, ascending, compared
  /// in double) being edges[offsets[j] .. offsets[j + 1]), at most 255 per feature. bin_min and
  /// bin_max (host, d x 256, set by the caller to +inf / -inf) are lowered / raised to the
  /// smallest / largest X_ij of each feature's bins.
  virtual void forest_bin(MatrixView<const T> X, const double* edges, const int64_t* offsets,
                          uint8_t* codes, T* bin_min, T* bin_max) = 0;
  /// Traverses every tree of the forest for each row of X (any space the backend accepts):
  /// mean (host, n x width, or null) = the leaf values averaged over the trees, summed in
  /// double in tree order; leaves (host, n x n_trees, or null) = the tree-local leaf index
  /// reached.
  virtual void forest_traverse(MatrixView<const T> X, const forest::Layout<T>& forest, double* mean,
                               int64_t* leaves) = 0;
  /// Grows n_trees trees on the binned training set by the rules of forest_rules.hpp, into
  /// trees (resized to n_trees). For tree t: counts (host, n_trees x n) holds each row's
  /// bootstrap multiplicity (0: not in the tree's sample), class_mult (host, n_trees x
  /// n_classes, or null: all 1) the per-class weight multipliers, keys[t] the root's key
  /// (forest::tree_key). A node at depth < max_depth (or any, unlimited) with statistics that
  /// pass leaf_before_search visits features in the order permuted_feature(node key, 0, 1, ...):
  /// the first max_features positions, then, while every feature visited so far is constant in
  /// the node (scan_feature's occupied < 2), the next ones until one is not. The best candidate
  /// by `better` over the visited positions splits the node when split_accepted; rows with
  /// code <= bin_lo go to the left child, whose key is child_key(key, false).
  virtual void grow_trees(const forest::TrainingSet& data, const forest::GrowSpec& spec,
                          int64_t n_trees, const int32_t* counts, const double* class_mult,
                          const uint64_t* keys, std::vector<forest::GrownTree>& trees) = 0;
  /// (The binned codes are the same for either element type: both objects grow the same way.)
};

}  // namespace gpulearn::detail
