// The rules of histogram-tree growth, shared word for word by the CPU backend
// (src/ensemble/grow_cpu.cpp), the CUDA backend (cuda/ensemble/) and the driver
// (src/ensemble/random_forest.cpp): what a node's statistics are, how a feature's histogram is
// scanned for its best split, which features a node visits, when a node stays a leaf. Every
// function here is the one definition of its rule, so both backends grow the same trees.
//
// Statistics are int64 fixed point ("quanta"): sums of them are exact in any order, so a
// histogram built by atomics on a GPU equals one built row by row on a CPU, and a sibling's
// histogram is exactly its parent's minus the other child's. Per row and tree, the channels are
//   classifier (n_classes C): channel labels_i gets w_i, channel C counts the row (1);
//   regressor (k outputs):    [w_i, w_i y_i0 .. w_i y_ik-1, w_i y_i0^2 .. w_i y_ik-1^2, 1],
// w_i being the row's bootstrap count times its quantised weight (row_weight), y centred on its
// weighted mean by the driver. The last channel is always the row count.
//
// Files that include this one are compiled without floating-point contraction (no FMA), so the
// double arithmetic below rounds identically on the host and the device.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/host_device.hpp"
#include "gpulearn/ensemble/forest_data.hpp"

namespace gpulearn::detail::forest {

constexpr int kMaxBins = 256;
// scikit-learn's EPSILON in its tree builders (the double machine epsilon).
constexpr double kEpsilon = 2.220446049250313e-16;

// The spec and the grown trees are public (include/gpulearn/ensemble/forest_data.hpp): a fit
// over data split across processes passes them between the driver and the data's parts.
using Crit = ensemble::Criterion;
using ensemble::GrowSpec;
using ensemble::GrownNode;
using ensemble::GrownTree;

GPULEARN_HOST_DEVICE inline int count_channel(const GrowSpec& s) { return s.n_channels - 1; }

/// The total weight (in quanta) of a statistics vector.
GPULEARN_HOST_DEVICE inline int64_t weight_of(const GrowSpec& s, const int64_t* st) {
  if (s.n_classes == 0) return st[0];
  int64_t w = 0;
  for (int c = 0; c < s.n_classes; ++c) w += st[c];
  return w;
}

// ---- counter-based randomness: a pure function of its inputs on every backend ----

/// SplitMix64's finaliser: a bijective 64-bit mix.
GPULEARN_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
GPULEARN_HOST_DEVICE inline uint64_t hash2(uint64_t a, uint64_t b) {
  return mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ULL));
}
/// floor(h * n / 2^64): a draw in [0, n) from a uniform 64-bit h.
GPULEARN_HOST_DEVICE inline uint64_t bounded(uint64_t h, uint64_t n) {
#ifdef __CUDA_ARCH__
  return __umul64hi(h, n);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(h) * n) >> 64);
#endif
}

/// The key of tree t of a forest seeded with seed; a node's children derive theirs from it, so
/// a node's randomness depends on its path from the root, not on the order trees are grown in.
GPULEARN_HOST_DEVICE inline uint64_t tree_key(uint64_t seed, int64_t t) {
  return hash2(seed, static_cast<uint64_t>(t) + 1);
}
GPULEARN_HOST_DEVICE inline uint64_t child_key(uint64_t node_key, bool right) {
  return hash2(node_key, right ? 2 : 1);
}

/// The feature at position j of node `key`'s random permutation of [0, d): a 4-round Feistel
/// network on the smallest even number of bits covering d, walked until it lands in [0, d),
/// then rotated by a uniform draw. O(1) state per position, so a GPU thread computes any
/// position on its own. The rotation makes every position exactly uniform over the features
/// (a Feistel network on a few bits alone favours some: 4% at d = 10); pairs of positions
/// keep the network's mixing.
GPULEARN_HOST_DEVICE inline int32_t permuted_feature(uint64_t key, int32_t j, int32_t d) {
  int bits = 2;
  while ((int64_t(1) << bits) < d) bits += 2;
  const int half = bits / 2;
  const uint64_t mask = (uint64_t(1) << half) - 1;
  uint64_t x = static_cast<uint64_t>(j);
  do {
    uint64_t l = x >> half, r = x & mask;
    for (uint64_t round = 0; round < 4; ++round) {
      const uint64_t f = hash2(key, (round << 32) | r) & mask;
      const uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    x = (l << half) | r;
  } while (x >= static_cast<uint64_t>(d));
  const uint64_t shift = bounded(hash2(key, 0xF0F0F0F0ULL), static_cast<uint64_t>(d));
  return static_cast<int32_t>((x + shift) % static_cast<uint64_t>(d));
}

/// Row weight in quanta for a tree: its bootstrap count times its quantised weight, times the
/// tree's class multiplier (balanced_subsample) rounded back to quanta.
GPULEARN_HOST_DEVICE inline int64_t row_weight(int32_t count, int64_t qw, double mult) {
  const int64_t w = static_cast<int64_t>(count) * qw;
  if (mult == 1.0) return w;
  return llround(static_cast<double>(w) * mult);
}

// ---- impurity ----

/// The node impurity of statistics st, as scikit-learn's criteria define it (entropy in bits;
/// squared error averaged over outputs); 0 for an empty node.
GPULEARN_HOST_DEVICE inline double impurity(const GrowSpec& s, const int64_t* st) {
  const int64_t wq = weight_of(s, st);
  if (wq <= 0) return 0;
  const double w = static_cast<double>(wq);
  if (s.criterion == Crit::kGini) {
    double sq = 0;
    for (int c = 0; c < s.n_classes; ++c) {
      const double p = static_cast<double>(st[c]) / w;
      sq += p * p;
    }
    return 1.0 - sq;
  }
  if (s.criterion == Crit::kEntropy) {
    double h = 0;
    for (int c = 0; c < s.n_classes; ++c) {
      if (st[c] <= 0) continue;
      const double p = static_cast<double>(st[c]) / w;
      h -= p * (log(p) / 0.6931471805599453);
    }
    return h;
  }
  const double wr = w * s.w_unit;
  double total = 0;
  for (int j = 0; j < s.n_outputs; ++j) {
    const double mean = static_cast<double>(st[1 + j]) * s.y_unit / wr;
    total += static_cast<double>(st[1 + s.n_outputs + j]) * s.y2_unit / wr - mean * mean;
  }
  return total / s.n_outputs;
}

/// The score a split is chosen by (larger is better): scikit-learn's proxy improvement, up to
/// terms that are the same for every split of the node. l and r: the children's statistics,
/// both of positive weight.
GPULEARN_HOST_DEVICE inline double split_proxy(const GrowSpec& s, const int64_t* l,
                                               const int64_t* r) {
  const double wl = static_cast<double>(weight_of(s, l));
  const double wr = static_cast<double>(weight_of(s, r));
  switch (s.criterion) {
    case Crit::kGini: {
      double ql = 0, qr = 0;
      for (int c = 0; c < s.n_classes; ++c) {
        const double a = static_cast<double>(l[c]), b = static_cast<double>(r[c]);
        ql += a * a;
        qr += b * b;
      }
      return ql / wl + qr / wr;
    }
    case Crit::kEntropy:
      return -(wl * impurity(s, l) + wr * impurity(s, r));
    case Crit::kSquaredError: {
      double total = 0;
      for (int j = 0; j < s.n_outputs; ++j) {
        const double a = static_cast<double>(l[1 + j]), b = static_cast<double>(r[1 + j]);
        total += a * a / wl + b * b / wr;
      }
      return total;
    }
    case Crit::kFriedmanMse: {
      double sl = 0, sr = 0;
      for (int j = 0; j < s.n_outputs; ++j) {
        sl += static_cast<double>(l[1 + j]);
        sr += static_cast<double>(r[1 + j]);
      }
      const double diff = wr * sl - wl * sr;
      return diff * diff / (wl * wr);
    }
  }
  return 0;
}

/// scikit-learn's impurity_improvement of a split of a node (statistics node = l + r) in a tree
/// of total weight root_weight (quanta): the weighted impurity decrease, compared with
/// min_impurity_decrease and used to rank splits for max_leaf_nodes.
GPULEARN_HOST_DEVICE inline double split_improvement(const GrowSpec& s, const int64_t* node,
                                                     const int64_t* l, const int64_t* r,
                                                     int64_t root_weight) {
  const double w = static_cast<double>(weight_of(s, node));
  const double wl = static_cast<double>(weight_of(s, l));
  const double wr = static_cast<double>(weight_of(s, r));
  if (s.criterion == Crit::kFriedmanMse) {
    double sl = 0, sr = 0;
    for (int j = 0; j < s.n_outputs; ++j) {
      sl += static_cast<double>(l[1 + j]) * s.y_unit;
      sr += static_cast<double>(r[1 + j]) * s.y_unit;
    }
    const double diff = (wr * s.w_unit * sl - wl * s.w_unit * sr) / s.n_outputs;
    return diff * diff / (wl * s.w_unit * wr * s.w_unit * w * s.w_unit);
  }
  return w / static_cast<double>(root_weight) *
         (impurity(s, node) - wr / w * impurity(s, r) - wl / w * impurity(s, l));
}

// ---- the split search ----

/// A feature's best split: rows whose code is <= bin_lo go left; bin_hi is the next bin
/// occupied in the node (the threshold lies between the two). bin_lo < 0: no valid split.
struct Candidate {
  double proxy = -INFINITY;
  int32_t bin_lo = -1;
  int32_t bin_hi = -1;
};

/// Whether candidate a, found at permutation position pa, beats b found at pb: the larger
/// proxy, ties to the earlier position (scikit-learn's strict ">" in visiting order). A
/// reduction with this order gives the sequential scan's answer in any grouping.
GPULEARN_HOST_DEVICE inline bool better(const Candidate& a, int32_t pa, const Candidate& b,
                                        int32_t pb) {
  if (a.bin_lo < 0) return false;
  if (b.bin_lo < 0) return true;
  if (a.proxy != b.proxy) return a.proxy > b.proxy;
  return pa < pb;
}

/// Scans one feature's histogram (nb bins x n_channels, bin-major) of a node with statistics
/// total: the best split between consecutive occupied bins that leaves each child at least
/// min_samples_leaf rows and min_weight_leaf weight, the first of equal proxies. left receives
/// the best split's left statistics; scratch holds 2 n_channels values. *occupied receives the
/// number of occupied bins, capped at 2 (1: the feature is constant in the node).
GPULEARN_HOST_DEVICE inline Candidate scan_feature(const GrowSpec& s, const int64_t* hist, int nb,
                                                   const int64_t* total, int64_t* left,
                                                   int64_t* scratch, int* occupied) {
  const int ch = s.n_channels, cc = count_channel(s);
  int64_t* run = scratch;  // statistics of bins <= the current one
  int64_t* right = scratch + ch;
  for (int c = 0; c < ch; ++c) run[c] = 0;
  const int64_t n_total = total[cc];
  const int64_t w_total = weight_of(s, total);
  Candidate best;
  int prev = -1, seen = 0;
  for (int b = 0; b < nb; ++b) {
    const int64_t* h = hist + static_cast<int64_t>(b) * ch;
    if (h[cc] == 0) continue;
    if (prev >= 0) {
      const int64_t n_left = run[cc];
      const int64_t w_left = weight_of(s, run);
      if (n_left >= s.min_samples_leaf && n_total - n_left >= s.min_samples_leaf &&
          w_left >= s.min_weight_leaf && w_total - w_left >= s.min_weight_leaf && w_left > 0 &&
          w_total - w_left > 0) {
        for (int c = 0; c < ch; ++c) right[c] = total[c] - run[c];
        const double p = split_proxy(s, run, right);
        if (best.bin_lo < 0 || p > best.proxy) {
          best.proxy = p;
          best.bin_lo = prev;
          best.bin_hi = b;
          for (int c = 0; c < ch; ++c) left[c] = run[c];
        }
      }
    }
    for (int c = 0; c < ch; ++c) run[c] += h[c];
    prev = b;
    if (seen < 2) ++seen;
  }
  *occupied = seen;
  return best;
}

/// Whether a node stays a leaf before any split is searched (scikit-learn's tests: depth,
/// min_samples_split, twice min_samples_leaf, twice min_weight_leaf, purity).
GPULEARN_HOST_DEVICE inline bool leaf_before_search(const GrowSpec& s, int64_t depth,
                                                    const int64_t* st) {
  const int64_t n = st[count_channel(s)];
  const int64_t w = weight_of(s, st);
  return (s.max_depth >= 0 && depth >= s.max_depth) || n < s.min_samples_split ||
         n < 2 * s.min_samples_leaf || w < 2 * s.min_weight_leaf || impurity(s, st) <= kEpsilon;
}

/// Whether the node's best split is kept: its improvement reaches min_impurity_decrease.
GPULEARN_HOST_DEVICE inline bool split_accepted(const GrowSpec& s, double improvement) {
  return !(improvement + kEpsilon < s.min_impurity_decrease);
}

// ---- what a backend returns ----

/// The training set a backend grows trees on.
struct TrainingSet {
  const uint8_t* codes = nullptr;  // native memory, n x d codes, row-major, contiguous
  int64_t n = 0, d = 0;
  const int32_t* n_bins = nullptr;  // host, d: codes of feature j are < n_bins[j] (<= 256)
  const int32_t* labels = nullptr;  // native, n classes (classifier), else null
  const int64_t* row_q = nullptr;   // native, n x row_width (see row_width)
};

/// Quantised per-row values: classifier [w]; regressor [w, w y_0.., w y_0^2..].
GPULEARN_HOST_DEVICE inline int row_width(const GrowSpec& s) {
  return s.n_classes > 0 ? 1 : 1 + 2 * s.n_outputs;
}

/// One node of a fitted tree as a traversal reads it: everything a step of a walk needs in one
/// record (one cache line on the CPU, one load on the GPU) instead of one per array. The
/// threshold is in T, rounded down from the double, so x <= threshold routes every T value as
/// the double would; children are tree-local.
template <typename T>
struct alignas(sizeof(T) == 4 ? 16 : 8) Node {
  T threshold;
  int32_t feature;  // -1 at a leaf
  int32_t left, right;
};

/// The compact forest a traversal reads (host arrays, built by the driver from a ForestView):
/// the trees' nodes concatenated, and their values (read only at the leaves) apart.
template <typename T>
struct Layout {
  int64_t n_trees = 0;
  int64_t width = 0;                   // values per node
  const int64_t* tree_offsets = nullptr;  // n_trees + 1
  const Node<T>* nodes = nullptr;
  const double* value = nullptr;  // nodes x width
};

}  // namespace gpulearn::detail::forest
