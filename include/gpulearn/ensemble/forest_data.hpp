// The passes a random-forest fit makes over its data, as an interface (ForestData): the forest
// driver (src/ensemble/random_forest.cpp) is written over it, not over a matrix, so one driver
// fits one matrix (LocalForestData, what random_forest_*_fit(ctx, params, X, ...) builds) and
// data split across processes (gpulearn.dask's forests implement the interface in Python, one
// call per block, each block a LocalForestData over its rows).
//
// A fit is: check the data and measure its ranges; bin every feature on edges from a row sample;
// quantise each row's statistics; then, per batch of trees, draw each tree's bootstrap sample and
// grow the trees. Growing is where the data decides how much it does itself:
// - a node with at most subtree_rows() rows is grown whole by grow_subtrees (LocalForestData:
//   every tree from its root, by the backend's grow_trees, as before this interface existed);
// - a larger node is split by the driver from histograms of its rows (histograms, summed over
//   the data's parts), and the data moves the node's rows to its children (split).
// Statistics are int64 fixed point (src/ensemble/forest_rules.hpp), so histograms summed over
// blocks in any order are exact, and a node's randomness depends only on its path from the
// root: the trees are the single-machine trees, bit for bit, however the rows are split.
//
// Every row index crossing the interface is global (0 .. n_rows() - 1); nodes are named by
// (tree within the current batch, node id in the driver's numbering of that tree).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/ensemble/random_forest.hpp"

namespace gpulearn::ensemble {

/// Everything needed to grow trees, in plain values (copied to a device or across processes as
/// is); the driver fills it from RandomForestParams and the data's ranges. The meaning of each
/// rule is in src/ensemble/forest_rules.hpp.
struct GrowSpec {
  Criterion criterion = Criterion::kGini;
  int32_t n_classes = 0;   // classifier: C >= 1; regressor: 0
  int32_t n_outputs = 1;   // regressor: k; classifier: 1
  int32_t n_channels = 0;  // C + 1, or 2 k + 2
  int32_t n_features = 0;
  int32_t max_features = 0;  // features visited per node, 1..n_features
  int64_t max_depth = -1;    // negative: unlimited (the root has depth 0)
  int64_t min_samples_split = 2;
  int64_t min_samples_leaf = 1;
  int64_t min_weight_leaf = 0;  // in weight quanta
  double min_impurity_decrease = 0;
  // The real value of one quantum of weight, of w y and of w y^2 (powers of two).
  double w_unit = 1, y_unit = 1, y2_unit = 1;
};

/// One node of a grown tree.
struct GrownNode {
  int32_t left = -1, right = -1;  // indices in the tree's node list; -1 at a leaf
  int32_t feature = -1;           // split feature; -1 at a leaf
  int32_t bin_lo = -1, bin_hi = -1;
  int32_t depth = 0;
  double improvement = 0;  // split_improvement of the split
};

/// A grown tree: nodes[0] is the root; children may be listed in any order. stats holds each
/// node's n_channels sums (node-major).
struct GrownTree {
  std::vector<GrownNode> nodes;
  std::vector<int64_t> stats;
};

/// What the input check measures (weights are 1 without sample_weight).
struct ForestDataRange {
  double max_weight = 1;
  double weight_sum = 0;
};

/// A node whose subtree grow_subtrees grows whole: node `node` of batch tree `tree`, at `depth`,
/// with its key (forest_rules.hpp's tree_key / child_key) and its tree's root weight in quanta
/// (0 for a root: the node's own weight).
struct SubtreeRequest {
  int32_t tree = 0;
  int32_t node = 0;
  int32_t depth = 0;
  int64_t root_weight = 0;
  uint64_t key = 0;
};

/// A histogram histograms computes: feature `feature` over the rows of node `node` of batch tree
/// `tree`.
struct HistogramRequest {
  int32_t tree = 0;
  int32_t node = 0;
  int32_t feature = 0;
};

/// A split split applies: the rows of node `node` of batch tree `tree` whose code of `feature`
/// is <= bin_lo move to node `left`, the others to node `right`.
struct NodeSplit {
  int32_t tree = 0;
  int32_t node = 0;
  int32_t feature = 0;
  int32_t bin_lo = 0;
  int32_t left = 0;
  int32_t right = 0;
};

/// The in-bag rows of some nodes (one tree each), gathered from where they are to grow the
/// nodes' subtrees elsewhere (grow_gathered): rows of all the nodes, in any order.
struct NodeRows {
  int64_t n_features = 0;
  int64_t row_width = 0;        // quantised values per row (forest_rules.hpp's row_width)
  std::vector<int32_t> node;    // per row: its node's index in the request list
  std::vector<int32_t> counts;  // per row: its bootstrap multiplicity in the node's tree (>= 1)
  std::vector<int32_t> labels;  // per row: its class (classifier), else empty
  std::vector<uint8_t> codes;   // rows x n_features bin codes
  std::vector<int64_t> row_q;   // rows x row_width

  int64_t rows() const { return static_cast<int64_t>(node.size()); }
};

template <typename T>
class ForestData {
 public:
  virtual ~ForestData() = default;

  virtual int64_t n_rows() = 0;
  virtual int64_t n_features() = 0;
  /// Checks that X is finite and the weights finite and non-negative (InvalidArgument in
  /// scikit-learn's words otherwise); returns the largest weight and the weights' sum.
  virtual ForestDataRange check() = 0;
  /// Regressor: checks that Y (n x n_outputs) is finite (InvalidArgument otherwise); out[0] =
  /// max_ij |w_i (y_ij - mean_j)|, out[1] = max_ij w_i (y_ij - mean_j)^2 (mean: n_outputs values).
  virtual void target_ranges(const double* mean, double* out) = 0;
  /// Regressor: sums (1 + n_outputs) = [sum_i round(w_i 2^w_exp), sum_i round(w_i y_ij 2^y_exp)
  /// for each output j], in int64: exact, so the mean the targets are centred on is the same
  /// however the rows are split.
  virtual void target_sums(int w_exp, int y_exp, int64_t* sums) = 0;
  /// Rows idx (m of them, ascending) of X as doubles into out (m x d, host).
  virtual void sample_rows(const int64_t* idx, int64_t m, double* out) = 0;
  /// Bins X and keeps the codes: a value's code is the number of its feature's edges below it,
  /// feature j's edges (host, ascending) being edges[offsets[j] .. offsets[j + 1]) (at most 255
  /// each). bin_min and bin_max (host, d x 256, set by the caller to +inf / -inf) are lowered /
  /// raised to the smallest / largest value of each feature's bins.
  virtual void bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) = 0;
  /// Keeps each row's quantised statistics for spec (its weight in spec.w_unit quanta; for a
  /// regressor also w (y - mean) and w (y - mean)^2 in y_unit and y2_unit quanta; mean: n_outputs
  /// values, null for a classifier).
  virtual void quantise(const GrowSpec& spec, const double* mean) = 0;

  // ---- a batch of trees
  /// Draws the bootstrap samples of n_trees trees (keys[t]: forest_rules.hpp's tree_key):
  /// n_draws rows with replacement, each a pure function of (key, draw, n_rows()), or every row
  /// once without bootstrap; rows of weight 0 are out of every tree. class_draws (n_trees x
  /// n_classes, or null) receives per class the number of draws of its rows (balanced_subsample).
  virtual void draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws, bool bootstrap,
                    double* class_draws) = 0;
  /// stats (n_trees x n_channels) = each drawn tree's root statistics, weights multiplied by the
  /// class multipliers mult (n_trees x n_classes, or null: all 1); every in-bag row is in its
  /// tree's node 0.
  virtual void root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) = 0;
  /// The rows of a node at most this many are grown whole by grow_subtrees (a data set grows
  /// any node it holds every row of; a part of one, only what it is sent).
  virtual int64_t subtree_rows() = 0;
  /// trees[i] = the subtree grown from node requests[i] by the rules of forest_rules.hpp (depths
  /// counted from the node; spec.max_depth is the whole tree's), nodes[0] being the node itself.
  virtual void grow_subtrees(const GrowSpec& spec, const double* mult,
                             const SubtreeRequest* requests, int64_t count,
                             std::vector<GrownTree>& trees) = 0;
  /// hist = the histograms of the requests, concatenated, each n_bins(feature) x n_channels
  /// (bin-major) over the in-bag rows of its node, weights multiplied by mult (as root_stats).
  virtual void histograms(const GrowSpec& spec, const double* mult,
                          const HistogramRequest* requests, int64_t count, int64_t* hist) = 0;
  /// Moves the rows of the split nodes to their children.
  virtual void split(const NodeSplit* splits, int64_t count) = 0;
  /// The first n_trees trees of the last draw were grown: their in-bag rows are remembered for
  /// out_of_bag (only called when the fit computes it).
  virtual void keep_in_bag(int64_t n_trees) = 0;
  /// After the fit: value (n x forest.value_width) and count (n), host = each row's leaf values
  /// averaged over the trees it was out of bag for (0 where none), and that number of trees.
  virtual void out_of_bag(const ForestView& forest, double* value, int64_t* count) = 0;
};

/// ForestData over rows [offset, offset + X.rows) of a data set of n_total rows (offset 0 and
/// n_total X.rows: the whole data set), in host memory or, for a CUDA context, in device memory.
/// Targets: labels (X.rows, host, int32 in [0, n_classes), checked by check()) for a classifier,
/// or Y (X.rows x k, host; labels null, n_classes 0) for a regressor; sample_weight (X.rows) may be empty. The binned codes and per-row
/// state are owned here, in the backend's memory; the whole-tree growth is the backend's
/// grow_trees, while node-wise passes (histograms, split, node_rows) run on the host.
template <typename T>
class LocalForestData final : public ForestData<T> {
 public:
  LocalForestData(Context& ctx, MatrixView<const T> X, const int32_t* labels, int64_t n_classes,
                  MatrixView<const double> Y, VectorView<const T> sample_weight, int64_t offset,
                  int64_t n_total);
  ~LocalForestData() override;
  LocalForestData(const LocalForestData&) = delete;
  LocalForestData& operator=(const LocalForestData&) = delete;

  int64_t n_rows() override;
  int64_t n_features() override;
  ForestDataRange check() override;
  void target_ranges(const double* mean, double* out) override;
  void target_sums(int w_exp, int y_exp, int64_t* sums) override;
  void sample_rows(const int64_t* idx, int64_t m, double* out) override;
  void bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) override;
  void quantise(const GrowSpec& spec, const double* mean) override;
  void draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws, bool bootstrap,
            double* class_draws) override;
  void root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) override;
  /// Whole data set: every node; part of one: 0 (its nodes are gathered with node_rows).
  int64_t subtree_rows() override;
  /// Whole data set only.
  void grow_subtrees(const GrowSpec& spec, const double* mult, const SubtreeRequest* requests,
                     int64_t count, std::vector<GrownTree>& trees) override;
  void histograms(const GrowSpec& spec, const double* mult, const HistogramRequest* requests,
                  int64_t count, int64_t* hist) override;
  void split(const NodeSplit* splits, int64_t count) override;
  void keep_in_bag(int64_t n_trees) override;
  /// Rows [offset, offset + X.rows) of value and count (global arrays).
  void out_of_bag(const ForestView& forest, double* value, int64_t* count) override;

  /// The in-bag rows this part holds of the requested nodes (for grow_gathered).
  NodeRows node_rows(const SubtreeRequest* requests, int64_t count);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The key of tree t of a forest fitted with seed (forest_rules.hpp's tree_key): its bootstrap
/// draws are ForestData::draw's with this key, so a part of a data set can redraw the in-bag
/// rows of any tree after the fit (gpulearn.dask's out-of-bag pass).
uint64_t forest_tree_key(uint64_t seed, int64_t tree);

/// trees[i] = the subtree of requests[i] grown from its rows in `rows` (gathered from every
/// part of the data set), on the CPU with n_threads threads. n_bins (spec.n_features): each
/// feature's bin count, as bin's edges give it (edges + 1).
void grow_gathered(const GrowSpec& spec, const double* mult, const int32_t* n_bins,
                   const SubtreeRequest* requests, int64_t count, const NodeRows& rows,
                   int n_threads, std::vector<GrownTree>& trees);

/// Fits a forest over `data` (the driver every random_forest_*_fit runs): labels in
/// [0, n_classes) for a classifier (n_classes >= 1), n_outputs targets for a regressor
/// (n_classes 0). Exceptions thrown by data propagate unchanged.
template <typename T>
RandomForest random_forest_fit(const RandomForestParams& params, ForestData<T>& data,
                               int64_t n_classes, int64_t n_outputs, int n_threads);

}  // namespace gpulearn::ensemble
