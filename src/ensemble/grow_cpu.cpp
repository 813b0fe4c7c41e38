// CPU tree growth: trees in parallel (one thread grows one tree at a time), each depth first,
// by the rules of forest_rules.hpp. A node's histogram of its visited features is built densely
// (bins x channels) when it has many rows and from its sorted codes when it has few: the int64
// sums, and so the splits, are the same either way. When every node visits every feature
// (max_features == d), a child's histogram is its parent's minus its smaller sibling's.
#include "grow_cpu.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "forest_rules.hpp"

namespace gpulearn::detail {

namespace {

using forest::Candidate;
using forest::GrownNode;
using forest::GrownTree;
using forest::GrowSpec;
using forest::TrainingSet;

// Below this many rows, a node's histograms come from its sorted codes, not 256 dense bins.
constexpr int64_t kSparseRows = 96;

// An in-bag row of a tree and its weight in quanta (row_weight).
struct Slot {
  int32_t row;
  int32_t count;  // bootstrap multiplicity
  int64_t w;
};

using Hist = std::vector<int64_t>;  // features x kMaxBins x channels

// A node waiting to be searched.
struct Task {
  int32_t id;
  int64_t begin, end;  // its slots
  int32_t depth;
  uint64_t key;
  std::shared_ptr<Hist> hist;  // all features' histogram, when known (subtraction mode)
};

class TreeGrower {
 public:
  // root_weight: the weight (quanta) of the whole tree's root when this grower's root is one of
  // its nodes (split_improvement is relative to it); 0 when its root is the tree's.
  TreeGrower(const TrainingSet& data, const GrowSpec& s, const int32_t* counts, const double* mult,
             uint64_t key, int64_t root_weight)
      : data_(data), s_(s), ch_(s.n_channels), key_(key), given_root_weight_(root_weight) {
    for (int64_t i = 0; i < data.n; ++i) {
      if (counts[i] == 0) continue;
      const double m = mult == nullptr || s.n_classes == 0 ? 1.0 : mult[data.labels[i]];
      const int64_t qw = data.row_q[i * forest::row_width(s)];
      slots_.push_back({static_cast<int32_t>(i), counts[i], forest::row_weight(counts[i], qw, m)});
    }
    tmp_.resize(slots_.size());
    all_features_ = s.max_features >= s.n_features;
  }

  GrownTree grow() {
    GrownTree tree;
    tree_ = &tree;
    const int32_t root = new_node(0);
    std::vector<int64_t> root_stats(ch_, 0);
    for (const Slot& sl : slots_) add_row(root_stats.data(), sl);
    set_stats(root, root_stats.data());
    root_weight_ = given_root_weight_ > 0 ? given_root_weight_
                                          : forest::weight_of(s_, root_stats.data());
    std::vector<Task> stack;
    Task first{root, 0, static_cast<int64_t>(slots_.size()), 0, key_, nullptr};
    if (all_features_ && !small(first)) {
      first.hist = std::make_shared<Hist>(dense_all(first));
    }
    stack.push_back(std::move(first));
    while (!stack.empty()) {
      Task t = std::move(stack.back());
      stack.pop_back();
      split(t, stack);
    }
    return tree;
  }

 private:
  bool small(const Task& t) const { return t.end - t.begin < kSparseRows; }

  int32_t new_node(int32_t depth) {
    tree_->nodes.emplace_back();
    tree_->nodes.back().depth = depth;
    tree_->stats.resize(tree_->stats.size() + ch_, 0);
    return static_cast<int32_t>(tree_->nodes.size() - 1);
  }
  void set_stats(int32_t id, const int64_t* st) {
    std::copy_n(st, ch_, tree_->stats.begin() + static_cast<int64_t>(id) * ch_);
  }
  const int64_t* stats(int32_t id) const {
    return tree_->stats.data() + static_cast<int64_t>(id) * ch_;
  }

  // Adds one row's channels to st.
  void add_row(int64_t* st, const Slot& sl) const {
    if (s_.n_classes > 0) {
      st[data_.labels[sl.row]] += sl.w;
    } else {
      const int64_t* q = data_.row_q + static_cast<int64_t>(sl.row) * forest::row_width(s_);
      st[0] += sl.w;
      for (int c = 1; c < ch_ - 1; ++c) st[c] += static_cast<int64_t>(sl.count) * q[c];
    }
    st[ch_ - 1] += 1;
  }

  uint8_t code(const Slot& sl, int32_t f) const {
    return data_.codes[static_cast<int64_t>(sl.row) * data_.d + f];
  }

  // Dense histograms of the given features over the task's rows (features x kMaxBins x ch).
  Hist dense(const Task& t, const std::vector<int32_t>& features) const {
    const int64_t per_feature = int64_t{forest::kMaxBins} * ch_;
    Hist h(features.size() * per_feature, 0);
    const int nf = static_cast<int>(features.size());
    for (int64_t i = t.begin; i < t.end; ++i) {
      const Slot& sl = slots_[i];
      const uint8_t* row = data_.codes + static_cast<int64_t>(sl.row) * data_.d;
      if (s_.n_classes > 0) {
        const int label = data_.labels[sl.row];
        for (int k = 0; k < nf; ++k) {
          int64_t* b = h.data() + k * per_feature + int64_t{row[features[k]]} * ch_;
          b[label] += sl.w;
          b[ch_ - 1] += 1;
        }
      } else {
        for (int k = 0; k < nf; ++k) {
          add_row(h.data() + k * per_feature + int64_t{row[features[k]]} * ch_, sl);
        }
      }
    }
    return h;
  }
  Hist dense_all(const Task& t) const {
    std::vector<int32_t> all(s_.n_features);
    std::iota(all.begin(), all.end(), 0);
    return dense(t, all);
  }

  // The best split of feature f over the task's rows from their sorted codes: the occupied
  // bins, in order, as a compact histogram, scanned by the same rule.
  Candidate sparse_scan(const Task& t, int32_t f, const int64_t* total, int64_t* left,
                        int* occupied) {
    const int64_t r = t.end - t.begin;
    order_.resize(r);
    for (int64_t i = 0; i < r; ++i) {
      order_[i] =
          (static_cast<uint32_t>(code(slots_[t.begin + i], f)) << 24) | static_cast<uint32_t>(i);
    }
    std::sort(order_.begin(), order_.end());
    compact_.clear();
    bins_.clear();
    int prev = -1;
    for (uint32_t o : order_) {
      const int b = static_cast<int>(o >> 24);
      if (b != prev) {
        compact_.resize(compact_.size() + ch_, 0);
        bins_.push_back(b);
        prev = b;
      }
      add_row(compact_.data() + compact_.size() - ch_, slots_[t.begin + (o & 0xffffff)]);
    }
    Candidate c = forest::scan_feature(s_, compact_.data(), static_cast<int>(bins_.size()), total,
                                       left, scratch_.data(), occupied);
    if (c.bin_lo >= 0) {
      c.bin_lo = bins_[c.bin_lo];
      c.bin_hi = bins_[c.bin_hi];
    }
    return c;
  }

  // Searches the task's node and either leaves it a leaf or splits it, pushing its children.
  void split(Task& t, std::vector<Task>& stack) {
    const int64_t* st = stats(t.id);
    if (forest::leaf_before_search(s_, t.depth, st)) return;
    const std::vector<int64_t> total(st, st + ch_);
    scratch_.resize(2 * ch_);
    std::vector<int64_t> left(ch_), best_left(ch_);
    Candidate best;
    int32_t best_pos = -1, best_feature = -1;
    bool any_varying = false;
    const int32_t d = s_.n_features;
    std::vector<int32_t> features;
    for (int32_t j = 0; j < s_.max_features; ++j) {
      features.push_back(forest::permuted_feature(t.key, j, d));
    }
    Hist own;
    const Hist* h = t.hist.get();
    if (h == nullptr && !small(t)) {
      own = dense(t, features);
      h = &own;
    }
    const int64_t per_feature = int64_t{forest::kMaxBins} * ch_;
    auto consider = [&](int32_t pos, int32_t f, const int64_t* feature_hist) {
      int occupied = 0;
      const Candidate c =
          feature_hist != nullptr
              ? forest::scan_feature(s_, feature_hist, data_.n_bins[f], total.data(), left.data(),
                                     scratch_.data(), &occupied)
              : sparse_scan(t, f, total.data(), left.data(), &occupied);
      if (occupied >= 2) any_varying = true;
      if (forest::better(c, pos, best, best_pos)) {
        best = c;
        best_pos = pos;
        best_feature = f;
        best_left = left;
      }
    };
    for (int32_t j = 0; j < s_.max_features; ++j) {
      const int32_t f = features[j];
      // A full histogram (subtraction mode) is indexed by feature, an own one by position.
      const int64_t* fh = h == nullptr        ? nullptr
                          : h == t.hist.get() ? h->data() + f * per_feature
                                              : h->data() + j * per_feature;
      consider(j, f, fh);
    }
    // scikit-learn's rule: while every feature visited is constant in the node, draw more.
    for (int32_t j = s_.max_features; j < d && !any_varying; ++j) {
      const int32_t f = forest::permuted_feature(t.key, j, d);
      Hist one;
      if (!small(t)) one = dense(t, {f});
      consider(j, f, small(t) ? nullptr : one.data());
    }
    if (best.bin_lo < 0) return;
    std::vector<int64_t> right(ch_);
    for (int c = 0; c < ch_; ++c) right[c] = total[c] - best_left[c];
    const double improvement =
        forest::split_improvement(s_, total.data(), best_left.data(), right.data(), root_weight_);
    if (!forest::split_accepted(s_, improvement)) return;

    // Partition the node's rows: code <= bin_lo first, both sides in their previous order.
    int64_t mid = t.begin;
    {
      int64_t r = 0;
      for (int64_t i = t.begin; i < t.end; ++i) {
        if (code(slots_[i], best_feature) <= best.bin_lo) {
          slots_[mid++] = slots_[i];
        } else {
          tmp_[r++] = slots_[i];
        }
      }
      std::copy_n(tmp_.begin(), r, slots_.begin() + mid);
    }
    const int32_t l = new_node(t.depth + 1), r = new_node(t.depth + 1);
    set_stats(l, best_left.data());
    set_stats(r, right.data());
    GrownNode& node = tree_->nodes[t.id];
    node.left = l;
    node.right = r;
    node.feature = best_feature;
    node.bin_lo = best.bin_lo;
    node.bin_hi = best.bin_hi;
    node.improvement = improvement;

    Task lt{l, t.begin, mid, t.depth + 1, forest::child_key(t.key, false), nullptr};
    Task rt{r, mid, t.end, t.depth + 1, forest::child_key(t.key, true), nullptr};
    if (t.hist != nullptr) {
      const bool l_open = !small(lt) && !forest::leaf_before_search(s_, lt.depth, stats(l));
      const bool r_open = !small(rt) && !forest::leaf_before_search(s_, rt.depth, stats(r));
      if (l_open || r_open) {
        Task& smaller = lt.end - lt.begin <= rt.end - rt.begin ? lt : rt;
        Task& larger = &smaller == &lt ? rt : lt;
        auto built = std::make_shared<Hist>(dense_all(smaller));
        Hist& parent = *t.hist;  // becomes the larger child's, in place
        for (size_t i = 0; i < parent.size(); ++i) parent[i] -= (*built)[i];
        larger.hist = std::move(t.hist);
        smaller.hist = std::move(built);
      }
    }
    stack.push_back(std::move(rt));
    stack.push_back(std::move(lt));
  }

  const TrainingSet& data_;
  const GrowSpec& s_;
  const int ch_;
  const uint64_t key_;
  const int64_t given_root_weight_;
  bool all_features_ = false;
  std::vector<Slot> slots_, tmp_;
  GrownTree* tree_ = nullptr;
  int64_t root_weight_ = 0;
  // Reused buffers of sparse_scan and scan_feature.
  std::vector<uint32_t> order_;
  std::vector<int64_t> compact_, scratch_;
  std::vector<int> bins_;
};

}  // namespace

void grow_trees_cpu(int n_threads, const forest::TrainingSet& data, const forest::GrowSpec& spec,
                    int64_t n_trees, const int32_t* counts, const double* class_mult,
                    const uint64_t* keys, std::vector<forest::GrownTree>& trees,
                    const int64_t* root_weights) {
  trees.assign(n_trees, GrownTree{});
  parallel_for(n_trees, n_threads, [&](int64_t t) {
    const double* mult = class_mult == nullptr ? nullptr : class_mult + t * spec.n_classes;
    TreeGrower grower(data, spec, counts + t * data.n, mult, keys[t],
                      root_weights == nullptr ? 0 : root_weights[t]);
    trees[t] = grower.grow();
  });
}

}  // namespace gpulearn::detail
