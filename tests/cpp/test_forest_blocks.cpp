// The forest driver over ForestData: a test implementation that splits one matrix into row
// blocks (each pass one LocalForestData per block, the results combined as gpulearn.dask's
// forests combine them across workers: sums, minima and maxima; nodes of at most `subtree_rows`
// rows gathered from every block and grown by grow_gathered, larger ones split by the driver
// from summed histograms) fits exactly the single-machine forest: the same node arrays, bit for
// bit, for every parameter that shapes a tree, and the same out-of-bag values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "forest_expect.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/ensemble/forest_data.hpp"
#include "gpulearn/ensemble/random_forest.hpp"
#include "test_util.hpp"

namespace gpulearn::ensemble {
namespace {

template <typename T>
class BlockedForestData final : public ForestData<T> {
 public:
  BlockedForestData(Context& ctx, MatrixView<const T> X, const int32_t* labels, int64_t n_classes,
                    MatrixView<const double> Y, VectorView<const T> w,
                    const std::vector<int64_t>& bounds, int64_t subtree_rows)
      : n_(X.rows), d_(X.cols), subtree_rows_(subtree_rows) {
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      const int64_t r0 = bounds[b], rows = bounds[b + 1] - bounds[b];
      if (rows == 0) continue;
      parts_.push_back(std::make_unique<LocalForestData<T>>(
          ctx, X.block_rows(r0, rows), labels == nullptr ? nullptr : labels + r0, n_classes,
          labels == nullptr ? Y.block_rows(r0, rows) : MatrixView<const double>(),
          w.empty() ? w : VectorView<const T>(w.data + r0, rows, 1, w.space), r0, n_));
      starts_.push_back(r0);
    }
  }

  int64_t n_rows() override { return n_; }
  int64_t n_features() override { return d_; }
  ForestDataRange check() override {
    ForestDataRange r{0, 0};
    for (auto& p : parts_) {
      const ForestDataRange pr = p->check();
      r.max_weight = std::max(r.max_weight, pr.max_weight);
      r.weight_sum += pr.weight_sum;
    }
    return r;
  }
  void target_ranges(const double* mean, double* out) override {
    out[0] = out[1] = 0;
    for (auto& p : parts_) {
      double r[2];
      p->target_ranges(mean, r);
      out[0] = std::max(out[0], r[0]);
      out[1] = std::max(out[1], r[1]);
    }
  }
  void target_sums(int w_exp, int y_exp, int64_t* sums) override {
    std::vector<int64_t> part(outputs_ + 1);
    std::fill(sums, sums + outputs_ + 1, int64_t{0});
    for (auto& p : parts_) {
      std::fill(part.begin(), part.end(), 0);
      p->target_sums(w_exp, y_exp, part.data());
      for (int64_t j = 0; j <= outputs_; ++j) sums[j] += part[j];
    }
  }
  void sample_rows(const int64_t* idx, int64_t m, double* out) override {
    int64_t k = 0;
    for (size_t b = 0; b < parts_.size(); ++b) {
      const int64_t end = b + 1 < parts_.size() ? starts_[b + 1] : n_;
      int64_t k1 = k;
      while (k1 < m && idx[k1] < end) ++k1;
      if (k1 > k) parts_[b]->sample_rows(idx + k, k1 - k, out + k * d_);
      k = k1;
    }
    ASSERT_EQ(k, m);
  }
  void bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) override {
    n_bins_.resize(d_);
    for (int64_t j = 0; j < d_; ++j) n_bins_[j] = static_cast<int32_t>(offsets[j + 1] - offsets[j]) + 1;
    for (auto& p : parts_) {
      std::vector<T> lo(d_ * 256, std::numeric_limits<T>::infinity());
      std::vector<T> hi(d_ * 256, -std::numeric_limits<T>::infinity());
      p->bin(edges, offsets, lo.data(), hi.data());
      for (size_t i = 0; i < lo.size(); ++i) {
        bin_min[i] = std::min(bin_min[i], lo[i]);
        bin_max[i] = std::max(bin_max[i], hi[i]);
      }
    }
  }
  void quantise(const GrowSpec& spec, const double* mean) override {
    for (auto& p : parts_) p->quantise(spec, mean);
  }
  void draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws, bool bootstrap,
            double* class_draws) override {
    std::vector<double> part;
    const int64_t size = class_draws == nullptr ? 0 : n_trees * classes_;
    if (class_draws != nullptr) std::fill(class_draws, class_draws + size, 0.0);
    for (auto& p : parts_) {
      part.assign(size, 0.0);
      p->draw(keys, n_trees, n_draws, bootstrap, class_draws == nullptr ? nullptr : part.data());
      for (int64_t i = 0; i < size; ++i) class_draws[i] += part[i];
    }
    batch_ = n_trees;
  }
  void root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) override {
    const int64_t size = batch_ * spec.n_channels;
    std::fill(stats, stats + size, int64_t{0});
    std::vector<int64_t> part(size);
    for (auto& p : parts_) {
      p->root_stats(spec, mult, part.data());
      for (int64_t i = 0; i < size; ++i) stats[i] += part[i];
    }
  }
  int64_t subtree_rows() override { return subtree_rows_; }
  void grow_subtrees(const GrowSpec& spec, const double* mult, const SubtreeRequest* requests,
                     int64_t count, std::vector<GrownTree>& trees) override {
    ++subtree_calls_;
    NodeRows all;
    for (auto& p : parts_) {
      NodeRows r = p->node_rows(requests, count);
      all.n_features = r.n_features;
      all.row_width = r.row_width;
      all.node.insert(all.node.end(), r.node.begin(), r.node.end());
      all.counts.insert(all.counts.end(), r.counts.begin(), r.counts.end());
      all.labels.insert(all.labels.end(), r.labels.begin(), r.labels.end());
      all.codes.insert(all.codes.end(), r.codes.begin(), r.codes.end());
      all.row_q.insert(all.row_q.end(), r.row_q.begin(), r.row_q.end());
    }
    grow_gathered(spec, mult, n_bins_.data(), requests, count, all, 2, trees);
  }
  void histograms(const GrowSpec& spec, const double* mult, const HistogramRequest* requests,
                  int64_t count, int64_t* hist) override {
    ++histogram_calls_;
    int64_t size = 0;
    for (int64_t r = 0; r < count; ++r) size += int64_t{n_bins_[requests[r].feature]} * spec.n_channels;
    std::fill(hist, hist + size, int64_t{0});
    std::vector<int64_t> part(size);
    for (auto& p : parts_) {
      p->histograms(spec, mult, requests, count, part.data());
      for (int64_t i = 0; i < size; ++i) hist[i] += part[i];
    }
  }
  void split(const NodeSplit* splits, int64_t count) override {
    for (auto& p : parts_) p->split(splits, count);
  }
  void keep_in_bag(int64_t n_trees) override {
    for (auto& p : parts_) p->keep_in_bag(n_trees);
  }
  void out_of_bag(const ForestView& forest, double* value, int64_t* count) override {
    for (auto& p : parts_) p->out_of_bag(forest, value, count);
  }

  void set_shape(int64_t n_classes, int64_t n_outputs) {
    classes_ = n_classes;
    outputs_ = n_outputs;
  }
  int64_t histogram_calls_ = 0, subtree_calls_ = 0;

 private:
  int64_t n_, d_, subtree_rows_;
  int64_t classes_ = 0, outputs_ = 0, batch_ = 0;
  std::vector<std::unique_ptr<LocalForestData<T>>> parts_;
  std::vector<int64_t> starts_;
  std::vector<int32_t> n_bins_;
};

struct Data {
  int64_t n = 0, d = 0, k = 1;
  std::vector<double> X, Y, w;
  std::vector<int32_t> labels;
};

// Continuous and discrete features, a constant one (so nodes draw past max_features), labels
// of 3 classes and k smooth targets.
Data make_data(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Data D;
  D.n = n;
  D.d = 6;
  D.k = k;
  D.X.resize(n * D.d);
  D.labels.resize(n);
  D.Y.resize(n * k);
  D.w.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    double* x = &D.X[i * D.d];
    x[0] = static_cast<float>(g(rng));
    x[1] = static_cast<float>(g(rng));
    x[2] = std::floor(3 * g(rng));  // a few distinct values
    x[3] = 1.5;                     // constant
    x[4] = static_cast<float>(g(rng));
    x[5] = static_cast<double>(i % 7);
    const double s = x[0] + 0.5 * x[1] * x[2] - 0.3 * x[5] + 0.3 * g(rng);
    D.labels[i] = s < -0.7 ? 0 : (s < 0.7 ? 1 : 2);
    for (int64_t j = 0; j < k; ++j) D.Y[i * k + j] = std::sin(x[0] + j) + x[1] * x[4] + 0.1 * g(rng);
    D.w[i] = i % 11 == 0 ? 0.0 : 0.5 + (i % 5);
  }
  return D;
}

using test_forest::expect_same_forest;

struct Case {
  std::string name;
  bool classifier;
  int64_t outputs;
  bool weighted;
  RandomForestParams params;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto cls = RandomForestParams::classifier();
  cls.n_estimators = 4;
  cls.seed = 7;
  cls.max_features = 2;
  out.push_back({"gini", true, 1, false, cls});
  auto c = cls;
  c.criterion = Criterion::kEntropy;
  c.oob = true;
  out.push_back({"entropy_oob", true, 1, true, c});
  c = cls;
  c.balanced_subsample = true;
  c.min_weight_fraction_leaf = 0.01;
  out.push_back({"balanced_subsample_min_weight", true, 1, true, c});
  c = cls;
  c.max_leaf_nodes = 9;
  c.max_depth = 6;
  c.min_samples_leaf = 3;
  c.n_bins = 16;
  out.push_back({"max_leaf_nodes_depth_bins", true, 1, false, c});
  c = cls;
  c.max_features = 1;
  c.bootstrap = false;
  c.min_impurity_decrease = 1e-3;
  out.push_back({"one_feature_no_bootstrap", true, 1, true, c});
  auto reg = RandomForestParams::regressor();
  reg.n_estimators = 3;
  reg.seed = 11;
  out.push_back({"squared_error", false, 1, true, reg});
  auto r = reg;
  r.criterion = Criterion::kFriedmanMse;
  r.max_samples = 150;
  r.oob = true;
  out.push_back({"friedman_max_samples_oob", false, 1, false, r});
  r = reg;
  r.max_features = 0.5;
  r.min_samples_split = 8;
  out.push_back({"multi_output", false, 3, true, r});
  return out;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BlockedForest : public ::testing::TestWithParam<Case> {};

TEST_P(BlockedForest, FitsTheSingleMachineForest) {
  const Case& c = GetParam();
  const Data D = make_data(400, c.outputs, 5);
  Context ctx(Device::cpu());
  ctx.set_n_threads(2);
  const MatrixView<const double> X(D.X.data(), D.n, D.d);
  const MatrixView<const double> Y(D.Y.data(), D.n, D.k);
  const VectorView<const double> w =
      c.weighted ? VectorView<const double>(D.w.data(), D.n) : VectorView<const double>();
  const RandomForest single =
      c.classifier ? random_forest_classifier_fit<double>(ctx, c.params, X, D.labels.data(), 3, w)
                   : random_forest_regressor_fit<double>(ctx, c.params, X, Y, w);
  // Uneven blocks, one of a single row; every node split here (0), the small ones gathered
  // (40), every tree gathered (all rows).
  for (int64_t limit : {int64_t{0}, int64_t{40}, D.n}) {
    SCOPED_TRACE("subtree_rows " + std::to_string(limit));
    BlockedForestData<double> data(ctx, X, c.classifier ? D.labels.data() : nullptr,
                                   c.classifier ? 3 : 0, Y, w, {0, 1, 137, 260, D.n}, limit);
    data.set_shape(c.classifier ? 3 : 0, c.classifier ? 0 : D.k);
    const RandomForest blocked =
        random_forest_fit<double>(c.params, data, c.classifier ? 3 : 0, c.classifier ? 1 : D.k, 2);
    expect_same_forest(single, blocked);
    if (limit == 0) {
      EXPECT_GT(data.histogram_calls_, 0);
      EXPECT_EQ(data.subtree_calls_, 0);
    }
    if (limit == 40) EXPECT_GT(data.subtree_calls_, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Params, BlockedForest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(BlockedForest, Float32BlocksFitTheSingleMachineForest) {
  const Data D = make_data(300, 1, 9);
  std::vector<float> Xf(D.X.begin(), D.X.end());
  Context ctx(Device::cpu());
  auto p = RandomForestParams::classifier();
  p.n_estimators = 3;
  p.seed = 3;
  const MatrixView<const float> X(Xf.data(), D.n, D.d);
  const RandomForest single =
      random_forest_classifier_fit<float>(ctx, p, X, D.labels.data(), 3, {});
  BlockedForestData<float> data(ctx, X, D.labels.data(), 3, {}, {}, {0, 150, 151, D.n}, 25);
  data.set_shape(3, 0);
  expect_same_forest(single, random_forest_fit<float>(p, data, 3, 1, 1));
}

TEST(BlockedForest, ABlockWithNaNFailsAsOneMachine) {
  Data D = make_data(50, 1, 2);
  D.X[30 * D.d + 1] = std::nan("");
  Context ctx(Device::cpu());
  const MatrixView<const double> X(D.X.data(), D.n, D.d);
  BlockedForestData<double> data(ctx, X, D.labels.data(), 3, {}, {}, {0, 20, D.n}, 10);
  data.set_shape(3, 0);
  try {
    random_forest_fit<double>(RandomForestParams::classifier(), data, 3, 1, 1);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Input X contains NaN"), std::string::npos) << e.what();
  }
}

// Blocks on a CUDA context (their codes binned on the device, their node-wise passes on the
// host) fit the CPU's single-machine forest.
TEST(BlockedForestCuda, BlocksOnADeviceFitTheCpuForest) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  const Data D = make_data(200, 1, 4);
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  auto p = RandomForestParams::classifier();
  p.n_estimators = 2;
  p.seed = 5;
  const MatrixView<const double> X(D.X.data(), D.n, D.d);
  const RandomForest single =
      random_forest_classifier_fit<double>(cpu, p, X, D.labels.data(), 3, {});
  BlockedForestData<double> data(gpu, X, D.labels.data(), 3, {}, {}, {0, 90, D.n}, 30);
  data.set_shape(3, 0);
  expect_same_forest(single, random_forest_fit<double>(p, data, 3, 1, 1));
}

}  // namespace
}  // namespace gpulearn::ensemble
