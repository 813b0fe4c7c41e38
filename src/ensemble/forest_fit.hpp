// The random-forest fit's internal pieces, one file each: the quantile binning of X
// (forest_binning.cpp) and the assembly of a grown tree into scikit-learn's node arrays with
// best-first pruning (forest_assembly.cpp); random_forest.cpp is the driver that uses them.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "../core/native.hpp"
#include "forest_rules.hpp"
#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::ensemble::forest_fit {

namespace fr = gpulearn::detail::forest;
using gpulearn::detail::Backend;
using gpulearn::detail::Scratch;

struct BinEdges {
  std::vector<double> edges;
  std::vector<int64_t> offsets;  // d + 1
  std::vector<int32_t> n_bins;   // d
};

// The binned training set in the backend's memory, with each bin's smallest and largest value.
template <typename T>
struct Binned {
  BinEdges edges;
  Scratch<uint8_t> codes;
  std::vector<T> bin_min, bin_max;  // d x kMaxBins
};

// Bins every feature of X on the backend: edges from quantiles of at most kBinSampleRows rows,
// codes in the backend's memory, and each bin's smallest and largest value.
template <typename T>
Binned<T> bin_features(Backend& be, MatrixView<const T> X, int n_bins, int n_threads);

// What every tree of the fit shares.
template <typename T>
struct FitInputs {
  const RandomForestParams& p;
  Backend& be;
  int n_threads;
  int64_t n, d;
  fr::GrowSpec spec;
  Binned<T> binned;
  std::vector<int32_t> labels;  // host (classifier)
  std::vector<double> w;        // host sample weights
  std::vector<int64_t> qw;      // quantised weights
  std::vector<double> y_mean;   // regressor: the weighted mean the y channels are centred on
  Scratch<int32_t> labels_native;
  Scratch<int64_t> row_q;
  int64_t n_draws = 0;
};

// Node arrays of one grown tree in scikit-learn's layout, appended to the forest
// (forest_assembly.cpp).
template <typename T>
void append_tree(const FitInputs<T>& in, const fr::GrownTree& g, RandomForest& f,
                 std::vector<double>& importances_sum, int64_t& trees_with_splits);

}  // namespace gpulearn::ensemble::forest_fit
