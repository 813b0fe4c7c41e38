// The random-forest primitives of the CUDA backend (forest_bin, grow_trees, forest_traverse)
// against the CPU backend's on the same inputs, through the Backend interface, and the public
// fit and predict on a CUDA context against a CPU one. Skipped, with the reason, where no CUDA
// device is usable.
//
// Everything here is exact: codes and per-bin extremes are comparisons and minima; trees are
// grown from int64 sums with the shared rules of forest_rules.hpp (compiled without FMA on both
// sides), so both backends must grow the same trees: the same nodes (identified by their path
// from the root; the order of a tree's node list may differ), splits and statistics, and the
// same improvements to the bit, except with the entropy criterion, whose log may differ in
// its last bit between CUDA and the C library (improvements compared to 1e-12 there). The
// traversal sums leaf values in tree order on both: means and leaves identical.
//
// Growth is compared under three tunings of the CUDA path (GPULEARN_CUDA_FOREST_LOCAL_ROWS and
// GPULEARN_CUDA_FOREST_HIST_SLOTS, see cuda/ensemble/grow_trees.cu): the default (nodes of
// these sizes searched by one block each), small nodes (histograms built by row slices in
// global memory, histogram subtraction), and small nodes with few histogram slots (slots in
// chunks, no subtraction). Every input is drawn from a seeded std::mt19937_64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/backend.hpp"
#include "ensemble/forest_rules.hpp"
#include "ensemble/primitives.hpp"
#include "forest_expect.hpp"
#include "forest_shapes.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/ensemble/random_forest.hpp"
#include "native_array.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

namespace fr = forest;
using test_util::NativeArray;
using test_util::ScopedEnv;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;

class ForestCuda : public test_util::CpuAndCudaBackends {};

// ---- forest_bin ----

// Per feature: sorted distinct edges, some drawn from the data (so that values equal to an
// edge occur), none for a few features, up to 255.
struct Edges {
  std::vector<double> edges;
  std::vector<int64_t> offsets{0};
};

template <typename T>
Edges make_edges(const std::vector<T>& X, int64_t n, int64_t d, int64_t ld, std::mt19937_64& rng) {
  Edges e;
  for (int64_t j = 0; j < d; ++j) {
    const int64_t want = j % 4 == 0 ? 0 : (j % 4 == 1 ? 255 : static_cast<int64_t>(rng() % 40) + 1);
    std::vector<double> col;
    for (int64_t i = 0; i < n; ++i) col.push_back(static_cast<double>(X[i * ld + j]));
    std::vector<double> cand;
    for (int64_t k = 0; k < want; ++k) {
      const double v = col[rng() % col.size()];
      cand.push_back(k % 2 == 0 ? v : v + 1e-3);
    }
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    cand.resize(std::min<size_t>(cand.size(), 255));
    e.edges.insert(e.edges.end(), cand.begin(), cand.end());
    e.offsets.push_back(static_cast<int64_t>(e.edges.size()));
  }
  return e;
}

template <typename T>
void check_bin(Backend& cpu, Backend& cuda, int64_t n, int64_t d, int64_t pad, bool on_device,
               uint64_t seed) {
  SCOPED_TRACE("n " + std::to_string(n) + ", d " + std::to_string(d) + ", pad " +
               std::to_string(pad) + (on_device ? ", device X" : ", host X") +
               (std::is_same_v<T, float> ? ", float" : ", double"));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  const int64_t ld = d + pad;
  std::vector<T> X(static_cast<size_t>(n * ld), std::numeric_limits<T>::quiet_NaN());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      // Some features of few distinct values; no zeros (the sign of a zero extreme is
      // order-dependent on the CPU).
      const double v = j % 3 == 2 ? static_cast<double>(rng() % 7) + 0.5 : g(rng) * 10;
      X[i * ld + j] = static_cast<T>(v == 0 ? 1.0 : v);
    }
  }
  const Edges e = make_edges(X, n, d, ld, rng);
  const int64_t slots = d * fr::kMaxBins;
  std::vector<T> min_cpu(slots, std::numeric_limits<T>::infinity()), max_cpu(slots, -min_cpu[0]);
  std::vector<T> min_cuda = min_cpu, max_cuda = max_cpu;
  std::vector<uint8_t> codes_cpu(static_cast<size_t>(n * d));
  cpu.template primitives<detail::EnsemblePrimitives<T>>().forest_bin(
      MatrixView<const T>(X.data(), n, d, ld), e.edges.data(), e.offsets.data(), codes_cpu.data(),
      min_cpu.data(), max_cpu.data());

  NativeArray<uint8_t> codes_cuda(cuda, std::vector<uint8_t>(static_cast<size_t>(n * d), 0xAB));
  if (on_device) {
    NativeArray<T> Xd(cuda, X);
    cuda.template primitives<detail::EnsemblePrimitives<T>>().forest_bin(
        MatrixView<const T>(Xd.data(), n, d, ld, kDevice), e.edges.data(), e.offsets.data(),
        codes_cuda.data(), min_cuda.data(), max_cuda.data());
  } else {
    cuda.template primitives<detail::EnsemblePrimitives<T>>().forest_bin(
        MatrixView<const T>(X.data(), n, d, ld, kHost), e.edges.data(), e.offsets.data(),
        codes_cuda.data(), min_cuda.data(), max_cuda.data());
  }
  EXPECT_EQ(codes_cuda.read(), codes_cpu);
  for (int64_t k = 0; k < slots; ++k) {
    ASSERT_EQ(min_cuda[k], min_cpu[k]) << "bin_min of feature " << k / 256 << ", bin " << k % 256;
    ASSERT_EQ(max_cuda[k], max_cpu[k]) << "bin_max of feature " << k / 256 << ", bin " << k % 256;
  }
}

TEST_F(ForestCuda, BinMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  for (bool on_device : {false, true}) {
    check_bin<float>(cpu(), cuda(), 3000, 9, 0, on_device, 11);
    check_bin<double>(cpu(), cuda(), 3000, 9, 0, on_device, 12);
    check_bin<float>(cpu(), cuda(), 1234, 13, 3, on_device, 13);
    check_bin<double>(cpu(), cuda(), 1234, 13, 5, on_device, 14);
  }
  // A host X in many row chunks.
  ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "100");
  check_bin<float>(cpu(), cuda(), 1000, 7, 2, false, 15);
  check_bin<double>(cpu(), cuda(), 1000, 7, 0, false, 16);
}

// ---- grow_trees ----

struct GrowCase {
  std::string name;
  int32_t n_classes = 2;  // 0: regressor
  int32_t n_outputs = 1;
  fr::Crit criterion = fr::Crit::kGini;
  int64_t n = 3000, d = 8;
  int64_t n_constant = 0;    // features constant in every node (the last ones)
  int32_t max_features = 0;  // 0: d
  int64_t max_depth = -1;
  int64_t min_samples_split = 2, min_samples_leaf = 1, min_weight_leaf = 0;
  double min_impurity_decrease = 0;
  int max_bins = 256;  // bins per feature drawn in [2, max_bins]
  bool class_mult = false;
  int64_t n_trees = 3;
  bool empty_tree = false;  // one tree with no in-bag row
};

// A training set in host memory and its copy in the CUDA backend's device memory.
struct GrowProblem {
  fr::GrowSpec spec;
  int64_t n = 0, d = 0;
  std::vector<uint8_t> codes;
  std::vector<int32_t> n_bins, labels, counts;
  std::vector<int64_t> row_q;
  std::vector<double> mult;
  std::vector<uint64_t> keys;

  fr::TrainingSet host() const {
    fr::TrainingSet t;
    t.codes = codes.data();
    t.n = n;
    t.d = d;
    t.n_bins = n_bins.data();
    t.labels = labels.empty() ? nullptr : labels.data();
    t.row_q = row_q.data();
    return t;
  }
};

GrowProblem make_problem(const GrowCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  GrowProblem p;
  p.n = c.n;
  p.d = c.d;
  fr::GrowSpec& s = p.spec;
  s.criterion = c.criterion;
  s.n_classes = c.n_classes;
  s.n_outputs = c.n_classes > 0 ? 1 : c.n_outputs;
  s.n_channels = c.n_classes > 0 ? c.n_classes + 1 : 2 * c.n_outputs + 2;
  s.n_features = static_cast<int32_t>(c.d);
  s.max_features = c.max_features > 0 ? c.max_features : static_cast<int32_t>(c.d);
  s.max_depth = c.max_depth;
  s.min_samples_split = c.min_samples_split;
  s.min_samples_leaf = c.min_samples_leaf;
  s.min_weight_leaf = c.min_weight_leaf;
  s.min_impurity_decrease = c.min_impurity_decrease;
  s.w_unit = std::ldexp(1.0, -12);
  s.y_unit = std::ldexp(1.0, -20);
  s.y2_unit = std::ldexp(1.0, -24);

  // Codes: varying features with random bin counts, then constant ones (a single bin, or
  // several bins of which every row uses the same).
  const int64_t n = c.n, d = c.d, varying = d - c.n_constant;
  p.n_bins.resize(d);
  for (int64_t j = 0; j < d; ++j) {
    p.n_bins[j] = j < varying ? 2 + static_cast<int32_t>(rng() % (c.max_bins - 1))
                              : (j % 2 == 0 ? 1 : 1 + static_cast<int32_t>(rng() % 200));
  }
  std::vector<int32_t> constant_code(d);
  for (int64_t j = varying; j < d; ++j)
    constant_code[j] = static_cast<int32_t>(rng() % p.n_bins[j]);
  p.codes.resize(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      p.codes[i * d + j] =
          static_cast<uint8_t>(j < varying ? rng() % p.n_bins[j] : constant_code[j]);
    }
  }
  // Targets from a rule on the first features' codes, with noise.
  auto signal = [&](int64_t i) {
    double v = 0;
    for (int64_t j = 0; j < std::min<int64_t>(varying, 3); ++j) {
      v += (static_cast<double>(p.codes[i * d + j]) / p.n_bins[j] - 0.5) * (j + 1);
    }
    return v + 0.3 * std::normal_distribution<double>()(rng);
  };
  const int64_t rw = fr::row_width(s);
  p.row_q.resize(n * rw);
  if (c.n_classes > 0) {
    p.labels.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = signal(i);
      const auto cls = static_cast<int64_t>(std::floor((v + 1.5) / 3.0 * c.n_classes));
      p.labels[i] = static_cast<int32_t>(std::clamp<int64_t>(cls, 0, c.n_classes - 1));
      if (rng() % 10 == 0) p.labels[i] = static_cast<int32_t>(rng() % c.n_classes);
      p.row_q[i] = rng() % 20 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 8192);
    }
  } else {
    const int64_t k = c.n_outputs;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t qw = rng() % 20 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 8192);
      int64_t* q = &p.row_q[i * rw];
      q[0] = qw;
      for (int64_t j = 0; j < k; ++j) {
        const auto y = static_cast<int64_t>(std::llround(signal(i) * 300 * (j + 1)));
        q[1 + j] = qw * y;
        q[1 + k + j] = qw * y * y;
      }
    }
  }
  // Bootstrap counts (zeros included), per-tree class multipliers, keys.
  std::discrete_distribution<int> draws({37, 37, 18, 6, 2});
  p.counts.resize(c.n_trees * n);
  for (int32_t& v : p.counts) v = draws(rng);
  if (c.empty_tree) std::fill(p.counts.begin(), p.counts.begin() + n, 0);
  if (c.class_mult) {
    std::uniform_real_distribution<double> u(0.5, 2.0);
    p.mult.resize(c.n_trees * c.n_classes);
    for (double& v : p.mult) v = u(rng);
  }
  for (int64_t t = 0; t < c.n_trees; ++t) p.keys.push_back(fr::tree_key(seed, t));
  return p;
}

// A node as seen from the root: what both backends must agree on.
struct NodeSig {
  int32_t feature, bin_lo, bin_hi, depth;
  double improvement;
  std::vector<int64_t> stats;
};

// The tree's nodes by path from the root ("" the root, then 'L' / 'R' per step). Fails (and
// returns what it found) when a node is unreachable or reached twice, or a child is invalid.
std::map<std::string, NodeSig> by_path(const fr::GrownTree& t, int ch) {
  std::map<std::string, NodeSig> out;
  const auto n_nodes = static_cast<int64_t>(t.nodes.size());
  EXPECT_GE(n_nodes, 1);
  EXPECT_EQ(static_cast<int64_t>(t.stats.size()), n_nodes * ch);
  if (n_nodes == 0) return out;
  std::vector<std::pair<int32_t, std::string>> stack{{0, ""}};
  std::vector<char> seen(n_nodes, 0);
  while (!stack.empty()) {
    const auto [id, path] = stack.back();
    stack.pop_back();
    if (id < 0 || id >= n_nodes || seen[id]) {
      ADD_FAILURE() << "node " << id << " at path " << path << " is invalid or reached twice";
      continue;
    }
    seen[id] = 1;
    const fr::GrownNode& nd = t.nodes[id];
    NodeSig s{nd.feature,
              nd.bin_lo,
              nd.bin_hi,
              nd.depth,
              nd.improvement,
              std::vector<int64_t>(t.stats.begin() + int64_t{id} * ch,
                                   t.stats.begin() + int64_t{id + 1} * ch)};
    EXPECT_EQ(nd.depth, static_cast<int32_t>(path.size())) << "at path " << path;
    out.emplace(path, std::move(s));
    if (nd.left >= 0 || nd.right >= 0) {
      stack.push_back({nd.left, path + "L"});
      stack.push_back({nd.right, path + "R"});
    }
  }
  EXPECT_EQ(static_cast<int64_t>(std::count(seen.begin(), seen.end(), 1)), n_nodes)
      << "unreachable nodes";
  return out;
}

void expect_same_tree(const fr::GrownTree& cpu, const fr::GrownTree& cuda, int ch, bool entropy) {
  const auto a = by_path(cpu, ch), b = by_path(cuda, ch);
  EXPECT_EQ(a.size(), b.size());
  int reported = 0;
  for (const auto& [path, s] : a) {
    const auto it = b.find(path);
    if (it == b.end()) {
      ADD_FAILURE() << "CUDA lacks the node at path '" << path << "'";
      if (++reported > 10) return;
      continue;
    }
    const NodeSig& o = it->second;
    const bool same_split = s.feature == o.feature && s.bin_lo == o.bin_lo &&
                            s.bin_hi == o.bin_hi && s.depth == o.depth && s.stats == o.stats;
    const bool same_improvement = entropy ? std::abs(s.improvement - o.improvement) <=
                                                1e-12 * std::max(1.0, std::abs(s.improvement))
                                          : s.improvement == o.improvement;
    if (!same_split || !same_improvement) {
      ADD_FAILURE() << "node at path '" << path << "': CPU feature " << s.feature << " bins ("
                    << s.bin_lo << ", " << s.bin_hi << ") improvement " << s.improvement
                    << ", CUDA feature " << o.feature << " bins (" << o.bin_lo << ", " << o.bin_hi
                    << ") improvement " << o.improvement
                    << (s.stats == o.stats ? "" : "; statistics differ");
      if (++reported > 10) return;
    }
  }
}

void check_grow(Backend& cpu, Backend& cuda, const GrowCase& c, uint64_t seed) {
  const GrowProblem p = make_problem(c, seed);
  const int ch = p.spec.n_channels;
  std::vector<fr::GrownTree> want;
  cpu.primitives<detail::EnsemblePrimitives<double>>().grow_trees(
      p.host(), p.spec, c.n_trees, p.counts.data(), p.mult.empty() ? nullptr : p.mult.data(),
      p.keys.data(), want);

  NativeArray<uint8_t> codes(cuda, p.codes);
  NativeArray<int64_t> row_q(cuda, p.row_q);
  NativeArray<int32_t> labels(cuda, p.labels.empty() ? std::vector<int32_t>{0} : p.labels);
  fr::TrainingSet dev = p.host();
  dev.codes = codes.data();
  dev.row_q = row_q.data();
  dev.labels = p.labels.empty() ? nullptr : labels.data();

  struct Tuning {
    const char* local_rows;
    const char* slots;
  };
  for (const Tuning& tune : {Tuning{"", ""}, Tuning{"64", ""}, Tuning{"64", "3"}}) {
    SCOPED_TRACE(c.name + ", local rows '" + tune.local_rows + "', slots '" + tune.slots + "'");
    ScopedEnv e1("GPULEARN_CUDA_FOREST_LOCAL_ROWS", tune.local_rows);
    ScopedEnv e2("GPULEARN_CUDA_FOREST_HIST_SLOTS", tune.slots);
    std::vector<fr::GrownTree> got;
    cuda.primitives<detail::EnsemblePrimitives<double>>().grow_trees(
        dev, p.spec, c.n_trees, p.counts.data(), p.mult.empty() ? nullptr : p.mult.data(),
        p.keys.data(), got);
    ASSERT_EQ(got.size(), want.size());
    for (size_t t = 0; t < want.size(); ++t) {
      SCOPED_TRACE("tree " + std::to_string(t));
      expect_same_tree(want[t], got[t], ch, c.criterion == fr::Crit::kEntropy);
    }
  }
  // The trees are not trivial (the comparison would prove little otherwise).
  int64_t nodes = 0;
  for (const fr::GrownTree& t : want) nodes += static_cast<int64_t>(t.nodes.size());
  EXPECT_GT(nodes, 3 * c.n_trees) << c.name;
}

TEST_F(ForestCuda, GrowClassifierMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  std::vector<GrowCase> cases;
  {
    GrowCase c;  // every feature at every node: histogram subtraction on CUDA
    c.name = "2 classes, gini, all features, unlimited depth";
    c.n = 4000;
    c.empty_tree = true;
    c.n_trees = 3;
    cases.push_back(c);
  }
  {
    GrowCase c;
    c.name = "5 classes, entropy, 3 of 20 features, 12 constant, depth 7, min leaf 3, weights";
    c.n_classes = 5;
    c.criterion = fr::Crit::kEntropy;
    c.d = 20;
    c.n_constant = 12;
    c.max_features = 3;
    c.max_depth = 7;
    c.min_samples_leaf = 3;
    c.class_mult = true;
    c.n_trees = 4;
    cases.push_back(c);
  }
  {
    GrowCase c;  // most draws hit constant features: the rule of drawing on
    c.name = "2 classes, gini, 2 of 30 features, 27 constant, unlimited depth";
    c.d = 30;
    c.n_constant = 27;
    c.max_features = 2;
    c.n = 2500;
    cases.push_back(c);
  }
  {
    GrowCase c;
    c.name = "5 classes, gini, 5 of 10 features, depth 4, split 20, weight leaf, decrease";
    c.n_classes = 5;
    c.d = 10;
    c.max_features = 5;
    c.max_depth = 4;
    c.min_samples_split = 20;
    c.min_weight_leaf = 4 << 12;
    c.min_impurity_decrease = 1e-3;
    c.class_mult = true;
    cases.push_back(c);
  }
  {
    GrowCase c;  // few bins: many equal candidates, decided by position and bin order
    c.name = "2 classes, gini, 3 bins at most, 4 of 6 features, min leaf 2";
    c.d = 6;
    c.max_features = 4;
    c.max_bins = 3;
    c.min_samples_leaf = 2;
    cases.push_back(c);
  }
  {
    GrowCase c;  // histograms too large for shared memory
    c.name = "150 classes, gini, 3 of 9 features, depth 6";
    c.n_classes = 150;
    c.d = 9;
    c.max_features = 3;
    c.max_depth = 6;
    c.n = 2000;
    c.n_trees = 2;
    cases.push_back(c);
  }
  uint64_t seed = 100;
  for (const GrowCase& c : cases) check_grow(cpu(), cuda(), c, ++seed);
}

// A node's histogram entry (bins x channels x 8 bytes) between the 48 KiB every kernel may use
// and the 227 KiB per block an H200 allows after the cudaFuncSetAttribute opt-in: the build and
// search kernels must opt in. 30 classes and up to 256 bins: up to 31 x 256 x 8 = 62 KiB. Small:
// the one case that isolates the opt-in.
TEST_F(ForestCuda, GrowWithSharedHistogramsPast48KiBMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  GrowCase c;
  c.name = "30 classes, gini, 3 of 5 features, depth 3";
  c.n_classes = 30;
  c.d = 5;
  c.max_features = 3;
  c.max_depth = 3;
  c.n = 600;
  c.n_trees = 1;
  const uint64_t seed = 7;
  const GrowProblem p = make_problem(c, seed);
  const int64_t entry_bytes =
      int64_t{p.spec.n_channels} * *std::max_element(p.n_bins.begin(), p.n_bins.end()) * 8;
  ASSERT_GT(entry_bytes, 48 * 1024);
  ASSERT_LE(entry_bytes, 227 * 1024);
  check_grow(cpu(), cuda(), c, seed);
}

TEST_F(ForestCuda, GrowRegressorMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  std::vector<GrowCase> cases;
  {
    GrowCase c;
    c.name = "1 output, squared error, all features, unlimited depth, min leaf 2";
    c.n_classes = 0;
    c.criterion = fr::Crit::kSquaredError;
    c.d = 6;
    c.min_samples_leaf = 2;
    c.n = 4000;
    cases.push_back(c);
  }
  {
    GrowCase c;
    c.name = "3 outputs, friedman mse, 4 of 12 features, 5 constant, depth 8, min leaf 5";
    c.n_classes = 0;
    c.n_outputs = 3;
    c.criterion = fr::Crit::kFriedmanMse;
    c.d = 12;
    c.n_constant = 5;
    c.max_features = 4;
    c.max_depth = 8;
    c.min_samples_leaf = 5;
    cases.push_back(c);
  }
  {
    GrowCase c;
    c.name = "3 outputs, squared error, 1 of 5 features, unlimited depth";
    c.n_classes = 0;
    c.n_outputs = 3;
    c.criterion = fr::Crit::kSquaredError;
    c.d = 5;
    c.max_features = 1;
    c.n = 1500;
    cases.push_back(c);
  }
  uint64_t seed = 200;
  for (const GrowCase& c : cases) check_grow(cpu(), cuda(), c, ++seed);
}

// ---- forest_traverse ----

// A random forest in the compact layout: each tree grown at random to depth <= 10.
template <typename T>
struct LayoutData {
  int64_t n_trees = 0, width = 0;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> feature, left, right;
  std::vector<T> threshold;
  std::vector<double> value;
  std::vector<fr::Node<T>> nodes;  // the arrays above as records, filled by make_layout

  fr::Layout<T> view() const {
    fr::Layout<T> l;
    l.n_trees = n_trees;
    l.width = width;
    l.tree_offsets = offsets.data();
    l.nodes = nodes.data();
    l.value = value.data();
    return l;
  }
};

template <typename T>
LayoutData<T> make_layout(int64_t n_trees, int64_t width, int64_t d, std::mt19937_64& rng) {
  LayoutData<T> f;
  f.n_trees = n_trees;
  f.width = width;
  std::normal_distribution<double> g;
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t t = 0; t < n_trees; ++t) {
    const auto base = static_cast<int64_t>(f.feature.size());
    // Breadth first: node k's children are appended when it is expanded.
    std::vector<int32_t> depth{0};
    for (size_t k = 0; k < depth.size(); ++k) {
      const bool split = depth[k] < 10 && (depth[k] < 2 || u(rng) < 0.7);
      f.feature.push_back(split ? static_cast<int32_t>(rng() % d) : -1);
      f.threshold.push_back(static_cast<T>(g(rng)));
      if (split) {
        f.left.push_back(static_cast<int32_t>(depth.size()));
        f.right.push_back(static_cast<int32_t>(depth.size() + 1));
        depth.push_back(depth[k] + 1);
        depth.push_back(depth[k] + 1);
      } else {
        f.left.push_back(-1);
        f.right.push_back(-1);
      }
      for (int64_t c = 0; c < width; ++c) f.value.push_back(u(rng));
    }
    f.offsets.push_back(base + static_cast<int64_t>(depth.size()));
  }
  for (size_t i = 0; i < f.feature.size(); ++i) {
    f.nodes.push_back({f.threshold[i], f.feature[i], f.left[i], f.right[i]});
  }
  return f;
}

template <typename T>
void check_traverse(Backend& cpu, Backend& cuda, int64_t n, int64_t d, int64_t pad, int64_t width,
                    bool on_device, uint64_t seed) {
  SCOPED_TRACE("n " + std::to_string(n) + ", width " + std::to_string(width) +
               (on_device ? ", device X" : ", host X") +
               (std::is_same_v<T, float> ? ", float" : ", double"));
  std::mt19937_64 rng(seed);
  const int64_t n_trees = 9;
  const LayoutData<T> f = make_layout<T>(n_trees, width, d, rng);
  const int64_t ld = d + pad;
  std::normal_distribution<double> g;
  std::vector<T> X(static_cast<size_t>(n * ld), std::numeric_limits<T>::quiet_NaN());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) X[i * ld + j] = static_cast<T>(g(rng));
  }
  // Rows exactly at thresholds go left on both.
  for (int64_t i = 0; i < n; i += 7) X[i * ld + f.feature[0]] = f.threshold[0];

  std::vector<double> mean_cpu(n * width), mean_cuda(n * width, -1.0);
  std::vector<int64_t> leaves_cpu(n * n_trees), leaves_cuda(n * n_trees, -1);
  cpu.template primitives<detail::EnsemblePrimitives<T>>().forest_traverse(
      MatrixView<const T>(X.data(), n, d, ld), f.view(), mean_cpu.data(), leaves_cpu.data());
  auto run = [&](double* mean, int64_t* leaves) {
    if (on_device) {
      NativeArray<T> Xd(cuda, X);
      cuda.template primitives<detail::EnsemblePrimitives<T>>().forest_traverse(
          MatrixView<const T>(Xd.data(), n, d, ld, kDevice), f.view(), mean, leaves);
    } else {
      cuda.template primitives<detail::EnsemblePrimitives<T>>().forest_traverse(
          MatrixView<const T>(X.data(), n, d, ld, kHost), f.view(), mean, leaves);
    }
  };
  run(mean_cuda.data(), leaves_cuda.data());
  EXPECT_EQ(mean_cuda, mean_cpu);
  EXPECT_EQ(leaves_cuda, leaves_cpu);
  // Either output alone.
  std::vector<double> mean_only(n * width, -1.0);
  std::vector<int64_t> leaves_only(n * n_trees, -1);
  run(mean_only.data(), nullptr);
  run(nullptr, leaves_only.data());
  EXPECT_EQ(mean_only, mean_cpu);
  EXPECT_EQ(leaves_only, leaves_cpu);
}

TEST_F(ForestCuda, TraverseMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 300;
  for (bool on_device : {false, true}) {
    for (int64_t width : {1, 3, 7}) {
      check_traverse<float>(cpu(), cuda(), 2000, 6, 2, width, on_device, ++seed);
      check_traverse<double>(cpu(), cuda(), 2000, 6, 0, width, on_device, ++seed);
    }
  }
  ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "150");
  check_traverse<double>(cpu(), cuda(), 1000, 4, 1, 2, false, ++seed);
}

}  // namespace
}  // namespace gpulearn::detail

// ---- the public API: a CUDA context fits and predicts the forest a CPU context does ----

namespace gpulearn::ensemble {
namespace {

using test_forest::expect_same_forest;

TEST(RandomForestCuda, FitAndPredictMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  std::mt19937_64 rng(400);
  std::normal_distribution<float> g;
  const int64_t n = 5000, d = 7, n_classes = 3;
  std::vector<float> X(n * d), Y(n);
  std::vector<int32_t> labels(n);
  std::vector<float> w(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) X[i * d + j] = g(rng);
    const float s = X[i * d] + 0.5f * X[i * d + 1] * X[i * d + 2] + 0.3f * g(rng);
    labels[i] = s < -0.5f ? 0 : (s < 0.5f ? 1 : 2);
    Y[i] = std::sin(X[i * d]) + X[i * d + 3] + 0.1f * g(rng);
    w[i] = 0.5f + static_cast<float>(rng() % 4);
  }
  const MatrixView<const float> Xv(X.data(), n, d);
  const VectorView<const float> wv(w.data(), n);
  Context cpu(Device::cpu()), gpu(Device::cuda(0));

  RandomForestParams p;
  p.n_estimators = 12;
  p.max_features = 3;
  p.max_depth = 12;
  p.seed = 7;
  p.balanced_subsample = true;
  const RandomForest a = random_forest_classifier_fit(cpu, p, Xv, labels.data(), n_classes, wv);
  const RandomForest b = random_forest_classifier_fit(gpu, p, Xv, labels.data(), n_classes, wv);
  expect_same_forest(a, b);
  std::vector<double> pa(n * n_classes), pb(n * n_classes);
  random_forest_predict(cpu, a.view(), Xv, pa.data());
  random_forest_predict(gpu, a.view(), Xv, pb.data());
  EXPECT_EQ(pa, pb);

  RandomForestParams r;
  r.n_estimators = 6;
  r.criterion = Criterion::kSquaredError;
  r.min_samples_leaf = 3;
  r.seed = 8;
  const std::vector<double> Yd(Y.begin(), Y.end());  // targets are float64 for any X
  const MatrixView<const double> Yv(Yd.data(), n, 1);
  const RandomForest c = random_forest_regressor_fit(cpu, r, Xv, Yv, VectorView<const float>());
  const RandomForest e = random_forest_regressor_fit(gpu, r, Xv, Yv, VectorView<const float>());
  expect_same_forest(c, e);
  std::vector<int64_t> la(n * c.n_trees()), lb(n * c.n_trees());
  random_forest_apply(cpu, c.view(), Xv, la.data());
  random_forest_apply(gpu, c.view(), Xv, lb.data());
  EXPECT_EQ(la, lb);
}

// scikit-learn-shaped trees (best-first numbering, a 3000-deep chain) on CUDA: the leaves the
// CPU test expects, and the CPU's means.
TEST(RandomForestCuda, TraversesSklearnShapedTrees) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  const test_shapes::ShapesForest shapes;
  const std::vector<double> X = test_shapes::ShapesForest::rows();
  const int64_t n = static_cast<int64_t>(X.size()) / 2;
  const std::vector<float> Xf(X.begin(), X.end());
  const MatrixView<const double> Xv(X.data(), n, 2);
  std::vector<int64_t> leaves(n * 2), leaves_f(n * 2);
  random_forest_apply<double>(gpu, shapes.view(), Xv, leaves.data());
  random_forest_apply<float>(gpu, shapes.view(), MatrixView<const float>(Xf.data(), n, 2),
                             leaves_f.data());
  EXPECT_EQ(leaves, test_shapes::ShapesForest::leaves(X));
  EXPECT_EQ(leaves_f, leaves);
  std::vector<double> a(n * 2), b(n * 2);
  random_forest_predict<double>(cpu, shapes.view(), Xv, a.data());
  random_forest_predict<double>(gpu, shapes.view(), Xv, b.data());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace gpulearn::ensemble
