// The random-forest fit's internal pieces, one file each: the quantile binning rules
// (forest_binning.cpp), the data passes over one matrix or one block of rows (forest_data.cpp,
// LocalForestData) and the assembly of a grown tree into scikit-learn's node arrays with
// best-first pruning (forest_assembly.cpp); random_forest.cpp is the driver that uses them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/backend.hpp"
#include "../core/native.hpp"
#include "forest_rules.hpp"
#include "gpulearn/ensemble/forest_data.hpp"
#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::ensemble::forest_fit {

namespace fr = gpulearn::detail::forest;
using gpulearn::detail::Backend;
using gpulearn::detail::Scratch;

// ---- fixed point

/// The power-of-two exponent s such that n_terms values of magnitude at most amax, times 2^s,
/// sum below 2^60 in int64.
inline int quantum_exponent(double amax, int64_t n_terms) {
  const double bound = amax * static_cast<double>(std::max<int64_t>(1, n_terms));
  if (!(bound > 0)) return 0;
  return 60 - (std::ilogb(bound) + 1);
}

inline int64_t quantise(double v, int s) { return std::llround(std::ldexp(v, s)); }

// ---- binning (forest_binning.cpp)

struct BinEdges {
  std::vector<double> edges;
  std::vector<int64_t> offsets;  // d + 1
  std::vector<int32_t> n_bins;   // d
};

/// The rows bin edges are taken from: at most kBinSampleRows of n, evenly spaced, ascending.
std::vector<int64_t> bin_sample_index(int64_t n);

/// Per feature of the sample (m x d doubles), at most n_bins - 1 ascending edges (scikit-learn's
/// rule: midpoints of distinct values when few, else midpoint quantiles).
BinEdges quantile_edges(const std::vector<double>& sample, int64_t m, int64_t d, int n_bins,
                        int n_threads);

/// Rows idx (ascending) of X as doubles (idx.size() x d), from host or device memory.
template <typename T>
void sample_rows(Backend& be, MatrixView<const T> X, const int64_t* idx, int64_t m, double* out);

// ---- assembly (forest_assembly.cpp)

/// What turning grown trees into node arrays needs.
template <typename T>
struct Assembly {
  const RandomForestParams& p;
  const fr::GrowSpec& spec;
  int64_t d;
  const std::vector<T>& bin_min;  // d x kMaxBins
  const std::vector<T>& bin_max;
  const std::vector<double>& y_mean;  // regressor: the mean the targets were centred on
};

/// Node arrays of one grown tree in scikit-learn's layout, appended to the forest.
template <typename T>
void append_tree(const Assembly<T>& in, const fr::GrownTree& g, RandomForest& f,
                 std::vector<double>& importances_sum, int64_t& trees_with_splits);

}  // namespace gpulearn::ensemble::forest_fit
