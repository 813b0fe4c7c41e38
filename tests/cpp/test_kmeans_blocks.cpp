// The k-means driver over KMeansData: a test implementation that splits one matrix into row
// blocks (each pass one LocalKMeansData per block, the blocks' per-row state kept here, the
// results combined in block order, as gpulearn.dask.KMeans does across workers) fits what the
// single-machine kmeans_fit fits: the same initial centers, iterations and labels, centers to
// 1e-12 relative (double).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/cluster/kmeans_data.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn::cluster {
namespace {

template <typename T>
class BlockedKMeansData final : public KMeansData<T> {
 public:
  BlockedKMeansData(Context& ctx, MatrixView<const T> X, VectorView<const T> w,
                    const std::vector<int64_t>& bounds)
      : ctx_(ctx), X_(X), w_(w) {
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      if (bounds[b + 1] > bounds[b]) blocks_.push_back(Block{bounds[b], bounds[b + 1] - bounds[b]});
    }
  }

  int64_t n_rows() override { return X_.rows; }
  int64_t n_features() override { return X_.cols; }
  bool has_weights() override { return !w_.empty(); }
  KMeansDataRange check() override {
    KMeansDataRange r{0, 0};
    for (Block& b : blocks_) {
      const KMeansDataRange br = local(b)->check();
      r.max_abs_x = std::max(r.max_abs_x, br.max_abs_x);
      r.max_weight = std::max(r.max_weight, br.max_weight);
    }
    return r;
  }
  void reset_labels() override {
    for (Block& b : blocks_) b.labels.assign(b.rows, -1);
  }
  KMeansPassStats assign(const T* shift, const T* centers, int64_t k, bool weighted, bool keep,
                         double* sums, double* weights) override {
    const int64_t d = X_.cols;
    KMeansPassStats total;
    if (sums != nullptr) std::fill(sums, sums + k * d, 0.0);
    if (weights != nullptr) std::fill(weights, weights + k, 0.0);
    std::vector<double> bs(sums != nullptr ? k * d : 0), bw(weights != nullptr ? k : 0);
    for (Block& b : blocks_) {
      if (keep) b.dist.resize(b.rows);
      const KMeansPassStats s =
          local(b)->assign(shift, centers, k, weighted, keep, sums != nullptr ? bs.data() : nullptr,
                           weights != nullptr ? bw.data() : nullptr);
      total.inertia += s.inertia;
      total.changed += s.changed;
      for (size_t e = 0; e < bs.size(); ++e) sums[e] += bs[e];
      for (size_t e = 0; e < bw.size(); ++e) weights[e] += bw[e];
    }
    return total;
  }
  void keep_labels() override {
    for (Block& b : blocks_) b.best = b.labels;
  }
  void init_potentials(const T* shift, const T* center) override {
    for (Block& b : blocks_) {
      b.pot.resize(b.rows);
      local(b)->init_potentials(shift, center);
    }
  }
  void candidate_potentials(const T* shift, const T* cands, int64_t t, double* out) override {
    std::fill(out, out + t, 0.0);
    std::vector<double> part(t);
    for (Block& b : blocks_) {
      b.cand.resize(b.rows * t);
      b.n_cand = t;
      local(b)->candidate_potentials(shift, cands, t, part.data());
      for (int64_t c = 0; c < t; ++c) out[c] += part[c];
    }
  }
  void take_candidate(int64_t c) override {
    for (Block& b : blocks_) local(b)->take_candidate(c);
  }
  double total(bool by) override {
    double s = 0;
    for (Block& b : blocks_) s += local(b)->total(by);
    return s;
  }
  void lower_potentials(const T* shift, const T* cands, int64_t m) override {
    for (Block& b : blocks_) {
      b.dist.resize(b.rows);
      local(b)->lower_potentials(shift, cands, m);
    }
  }
  void release_potentials() override {
    for (Block& b : blocks_) {
      b.pot.clear();
      b.cand.clear();
    }
  }
  // searchsorted over the global cumulative sum: the blocks' totals choose the block, which
  // searches its own running sum for the remainder.
  void weighted_draws(bool by, const double* u, int64_t t, int64_t* idx) override {
    std::vector<double> totals, cum;
    for (Block& b : blocks_) {
      totals.push_back(local(b)->total(by));
      cum.push_back((cum.empty() ? 0.0 : cum.back()) + totals.back());
    }
    for (int64_t s = 0; s < t; ++s) {
      const double target = u[s] * cum.back();
      size_t b = std::lower_bound(cum.begin(), cum.end(), target) - cum.begin();
      b = std::min(b, cum.size() - 1);
      const double rest = target - (b > 0 ? cum[b - 1] : 0.0);
      const double local_u = totals[b] > 0 ? rest / totals[b] : 0.0;
      local(blocks_[b])->weighted_draws(by, &local_u, 1, &idx[s]);
    }
  }
  std::vector<int64_t> independent_draws(double scale, uint64_t seed) override {
    std::vector<int64_t> all;
    for (Block& b : blocks_) {
      const std::vector<int64_t> part = local(b)->independent_draws(scale, seed);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  void largest_distances(int64_t m, int64_t* idx, T* values) override {
    std::vector<std::pair<T, int64_t>> all;
    for (Block& b : blocks_) {
      const int64_t mb = std::min(m, b.rows);
      std::vector<int64_t> bi(mb);
      std::vector<T> bv(mb);
      local(b)->largest_distances(mb, bi.data(), bv.data());
      for (int64_t j = 0; j < mb; ++j) all.emplace_back(bv[j], bi[j]);
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int64_t j = 0; j < m; ++j) {
      idx[j] = all[j].second;
      if (values != nullptr) values[j] = all[j].first;
    }
  }
  void rows(const int64_t* idx, int64_t t, T* out, int32_t* labels, double* weights) override {
    for (int64_t j = 0; j < t; ++j) {
      Block& b = *std::find_if(blocks_.begin(), blocks_.end(), [&](const Block& b) {
        return idx[j] >= b.begin && idx[j] < b.begin + b.rows;
      });
      local(b)->rows(&idx[j], 1, out + j * X_.cols, labels != nullptr ? &labels[j] : nullptr,
                     weights != nullptr ? &weights[j] : nullptr);
    }
  }

  std::vector<int32_t> labels() const {
    std::vector<int32_t> all;
    for (const Block& b : blocks_) all.insert(all.end(), b.best.begin(), b.best.end());
    return all;
  }

 private:
  struct Block {
    int64_t begin = 0, rows = 0;
    std::vector<int32_t> labels, best;
    std::vector<T> dist, pot, cand;
    int64_t n_cand = 0;
  };

  // The single-machine implementation over one block, its state kept in the block.
  std::unique_ptr<LocalKMeansData<T>> local(Block& b) {
    KMeansRowState<T> st;
    st.labels = b.labels.empty() ? nullptr : b.labels.data();
    st.distances = b.dist.empty() ? nullptr : b.dist.data();
    st.potentials = b.pot.empty() ? nullptr : b.pot.data();
    st.candidates = b.cand.empty() ? nullptr : b.cand.data();
    st.n_candidates = b.n_cand;
    const MatrixView<const T> X(X_.row(b.begin), b.rows, X_.cols, X_.ld);
    const VectorView<const T> w =
        w_.empty() ? VectorView<const T>()
                   : VectorView<const T>(w_.data + b.begin * w_.stride, b.rows, w_.stride);
    return std::make_unique<LocalKMeansData<T>>(ctx_, X, w, b.begin, st);
  }

  Context& ctx_;
  MatrixView<const T> X_;
  VectorView<const T> w_;
  std::vector<Block> blocks_;
};

struct Case {
  KMeansInit init;
  bool weighted;
  bool far_center;  // an initial center far from every row: relocation of an empty cluster
};

class BlockedFit : public ::testing::TestWithParam<Case> {};

TEST_P(BlockedFit, EqualsTheSingleMachineFit) {
  const Case c = GetParam();
  const int64_t n = 300, d = 4, k = 5;
  std::mt19937_64 rng(20240607);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.2, 3.0);
  std::vector<double> x(n * d), w(n), truth(k * d);
  for (double& v : truth) v = 6 * normal(rng);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t l = 0; l < d; ++l) x[i * d + l] = 40 + truth[(i % k) * d + l] + normal(rng);
  }
  for (double& v : w) v = uniform(rng);
  std::vector<double> init(x.begin(), x.begin() + k * d);
  if (c.far_center) {
    for (int64_t l = 0; l < d; ++l) init[(k - 1) * d + l] += 1e3;
  }
  KMeansParams p;
  p.n_clusters = k;
  p.init = c.init;
  p.n_init = c.init == KMeansInit::kRandom ? 3 : 1;
  p.seed = 7;
  const MatrixView<const double> X(x.data(), n, d);
  const VectorView<const double> W =
      c.weighted ? VectorView<const double>(w.data(), n) : VectorView<const double>();

  Context ctx(Device::parse("cpu"));
  std::vector<int32_t> labels(n);
  const KMeansModel<double> single = kmeans_fit<double>(ctx, p, X, W, init.data(), labels.data());
  // Uneven blocks: one of one row, an empty one, and many more.
  BlockedKMeansData<double> blocked(ctx, X, W, {0, 37, 38, 38, 120, 121, 200, 260, 300});
  const KMeansModel<double> split = kmeans_fit<double>(p, blocked, init.data());

  EXPECT_EQ(split.n_iter, single.n_iter);
  EXPECT_NEAR(split.inertia, single.inertia, 1e-12 * single.inertia);
  double scale = 0;
  for (double v : single.centers) scale = std::max(scale, std::abs(v));
  ASSERT_EQ(split.centers.size(), single.centers.size());
  for (size_t e = 0; e < single.centers.size(); ++e) {
    EXPECT_NEAR(split.centers[e], single.centers[e], 1e-12 * scale) << e;
  }
  EXPECT_EQ(blocked.labels(), labels);
}

INSTANTIATE_TEST_SUITE_P(Inits, BlockedFit,
                         ::testing::Values(Case{KMeansInit::kKMeansPlusPlus, false, false},
                                           Case{KMeansInit::kKMeansPlusPlus, true, false},
                                           Case{KMeansInit::kRandom, true, false},
                                           Case{KMeansInit::kParallel, true, false},
                                           Case{KMeansInit::kArray, false, false},
                                           Case{KMeansInit::kArray, true, true}));

}  // namespace
}  // namespace gpulearn::cluster
