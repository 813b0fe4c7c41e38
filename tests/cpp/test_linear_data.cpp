// The least-squares and elastic-net drivers over LinearData split into row blocks: each block's
// reductions made by local_linear_data on its rows, combined as gpulearn.dask combines them
// (max; means by weight sums; Gram matrices summed in double; R factors stacked and factored
// again). The fits equal the single-machine fits up to summation order: this proves in C++
// that the drivers need nothing of the data but its reductions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_data.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace gpulearn::linear_model {
namespace {

// X (n x d), Y (n x k), w (n) split at `bounds`; every reduction is one pass per block.
template <typename T>
class BlockedData final : public LinearData<T> {
 public:
  BlockedData(Context& ctx, int64_t n, int64_t d, int64_t k, const std::vector<T>& X,
              const std::vector<T>& Y, const std::vector<T>& w, std::vector<int64_t> bounds)
      : ctx_(ctx), n_(n), d_(d), k_(k), weighted_(!w.empty()) {
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      const int64_t begin = bounds[b], rows = bounds[b + 1] - begin;
      blocks_.push_back(local_linear_data<T>(
          ctx, MatrixView<const T>(X.data() + begin * d, rows, d),
          MatrixView<const T>(Y.data() + begin * k, rows, k),
          w.empty() ? VectorView<const T>() : VectorView<const T>(w.data() + begin, rows)));
    }
  }
  int64_t n_samples() const override { return n_; }
  int64_t n_features() const override { return d_; }
  int64_t n_targets() const override { return k_; }
  bool weighted() const override { return weighted_; }

  DataMagnitudes<T> magnitudes() override {
    DataMagnitudes<T> m;
    for (auto& b : blocks_) {
      const DataMagnitudes<T> bm = b->magnitudes();
      m.x = std::max(m.x, bm.x);
      m.y = std::max(m.y, bm.y);
      m.w = std::max(m.w, bm.w);
    }
    return m;
  }
  double weighted_means(T* x_mean, T* y_mean) override {
    std::vector<double> sx(d_, 0.0), sy(k_, 0.0);
    std::vector<T> xm(d_), ym(k_);
    double w_sum = 0;
    for (auto& b : blocks_) {
      const double ws = b->weighted_means(xm.data(), ym.data());
      for (int64_t j = 0; j < d_; ++j) sx[j] += ws * xm[j];
      for (int64_t j = 0; j < k_; ++j) sy[j] += ws * ym[j];
      w_sum += ws;
    }
    const double inv = w_sum > 0 ? 1.0 / w_sum : 0.0;
    for (int64_t j = 0; j < d_; ++j) x_mean[j] = static_cast<T>(sx[j] * inv);
    for (int64_t j = 0; j < k_; ++j) y_mean[j] = static_cast<T>(sy[j] * inv);
    return w_sum;
  }
  void centered_gram(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,
                     T* xty) override {
    std::vector<double> G(d_ * d_, 0.0), B(d_ * k_, 0.0);
    std::vector<T> g(d_ * d_), bt(d_ * k_);
    for (auto& b : blocks_) {
      b->centered_gram(x_mean, y_mean, x_scale, y_scale, g.data(), bt.data());
      for (size_t i = 0; i < G.size(); ++i) G[i] += g[i];
      for (size_t i = 0; i < B.size(); ++i) B[i] += bt[i];
    }
    std::copy(G.begin(), G.end(), gram);
    std::copy(B.begin(), B.end(), xty);
  }
  void target_gram(const T* y_mean, T y_scale, T* yty) override {
    std::vector<double> S(k_ * k_, 0.0);
    std::vector<T> s(k_ * k_);
    for (auto& b : blocks_) {
      b->target_gram(y_mean, y_scale, s.data());
      for (size_t i = 0; i < S.size(); ++i) S[i] += s[i];
    }
    std::copy(S.begin(), S.end(), yty);
  }
  int64_t centered_r_factor(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* r_factor,
                            T* qty) override {
    std::vector<T> Rs, Zs;  // the blocks' factors, stacked
    for (auto& b : blocks_) {
      const int64_t r_max = std::min(b->n_samples(), d_);
      std::vector<T> R(r_max * d_), Z(r_max * k_);
      const int64_t r = b->centered_r_factor(x_mean, y_mean, x_scale, y_scale, R.data(), Z.data());
      Rs.insert(Rs.end(), R.begin(), R.begin() + r * d_);
      Zs.insert(Zs.end(), Z.begin(), Z.begin() + r * k_);
    }
    const int64_t rows = static_cast<int64_t>(Rs.size()) / d_;
    const std::vector<T> zx(d_, T(0)), zy(k_, T(0));
    auto stacked = local_linear_data<T>(ctx_, MatrixView<const T>(Rs.data(), rows, d_),
                                        MatrixView<const T>(Zs.data(), rows, k_));
    return stacked->centered_r_factor(zx.data(), zy.data(), T(1), T(1), r_factor, qty);
  }

 private:
  Context& ctx_;
  int64_t n_, d_, k_;
  bool weighted_;
  std::vector<std::unique_ptr<LinearData<T>>> blocks_;
};

struct Problem {
  int64_t n, d, k;
  std::vector<double> X, Y, w;
};

Problem make_problem(int64_t n, int64_t d, int64_t k, uint64_t seed, bool weights,
                     int64_t duplicate = -1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  std::uniform_real_distribution<double> U(0.2, 3.0);
  Problem p{n, d, k, std::vector<double>(n * d), std::vector<double>(n * k), {}};
  for (auto& v : p.X) v = 2.0 + N(rng);
  if (duplicate >= 0) {
    for (int64_t i = 0; i < n; ++i) p.X[i * d + d - 1] = p.X[i * d + duplicate];
  }
  std::vector<double> coef(k * d);
  for (auto& v : coef) v = N(rng);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < k; ++t) {
      double acc = 1.5 + 0.1 * N(rng);
      for (int64_t j = 0; j < d; ++j) acc += coef[t * d + j] * p.X[i * d + j];
      p.Y[i * k + t] = acc;
    }
  }
  if (weights) {
    p.w.resize(n);
    for (auto& v : p.w) v = U(rng);
  }
  return p;
}

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(a[i] - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / std::max(den, 1e-300);
}

class LinearDataTest : public ::testing::Test {
 protected:
  Context ctx_{Device::cpu()};
  // Uneven blocks with one row and more blocks than a cluster has workers.
  static std::vector<int64_t> bounds(int64_t n) { return {0, 37, 38, 158, n}; }
  BlockedData<double> blocked(const Problem& p) {
    return BlockedData<double>(ctx_, p.n, p.d, p.k, p.X, p.Y, p.w, bounds(p.n));
  }
  static MatrixView<const double> x(const Problem& p) {
    return MatrixView<const double>(p.X.data(), p.n, p.d);
  }
  static MatrixView<const double> y(const Problem& p) {
    return MatrixView<const double>(p.Y.data(), p.n, p.k);
  }
  static VectorView<const double> w(const Problem& p) {
    return p.w.empty() ? VectorView<const double>() : VectorView<const double>(p.w.data(), p.n);
  }
};

TEST_F(LinearDataTest, LeastSquaresOverBlocksEqualsTheSingleMachineFit) {
  for (bool weights : {false, true}) {
    const Problem p = make_problem(200, 6, 2, 20240607 + weights, weights);
    auto data = blocked(p);
    const auto single = linear_regression_fit<double>(ctx_, {}, x(p), y(p), w(p));
    const auto split = linear_regression_fit<double>(ctx_, {}, data);
    EXPECT_EQ(split.solver, single.solver);
    EXPECT_EQ(split.solver, "cholesky");
    EXPECT_EQ(split.rank, single.rank);
    EXPECT_LT(rel_diff(split.coef, single.coef), 1e-12);
    EXPECT_LT(rel_diff(split.intercept, single.intercept), 1e-12);
    EXPECT_LT(rel_diff(split.singular_values, single.singular_values), 1e-12);

    RidgeParams rp;
    rp.alpha = {2.0};
    for (RidgeSolver s : {RidgeSolver::kAuto, RidgeSolver::kSvd}) {
      rp.solver = s;
      const auto r1 = ridge_fit<double>(ctx_, rp, x(p), y(p), w(p));
      const auto r2 = ridge_fit<double>(ctx_, rp, data);
      EXPECT_EQ(r2.solver, r1.solver);
      EXPECT_LT(rel_diff(r2.coef, r1.coef), 1e-12);
      EXPECT_LT(rel_diff(r2.intercept, r1.intercept), 1e-12);
    }
  }
}

TEST_F(LinearDataTest, RankDeficientDataTakesTheStackedQrPath) {
  const Problem p = make_problem(200, 6, 1, 20240608, true, /*duplicate=*/2);
  auto data = blocked(p);
  const auto single = linear_regression_fit<double>(ctx_, {}, x(p), y(p), w(p));
  const auto split = linear_regression_fit<double>(ctx_, {}, data);
  EXPECT_EQ(single.solver, "svd");
  EXPECT_EQ(split.solver, "svd");
  EXPECT_EQ(split.rank, 5);
  EXPECT_EQ(single.rank, 5);
  EXPECT_LT(rel_diff(split.coef, single.coef), 1e-10);
  EXPECT_LT(rel_diff(split.intercept, single.intercept), 1e-10);
}

TEST_F(LinearDataTest, ElasticNetOverBlocksDescendsOnTheGramSystem) {
  ElasticNetParams ep;
  ep.alpha = 0.05;
  ep.l1_ratio = 0.7;
  ep.tol = 1e-10;
  // Tall: both on the Gram system. Wide: the single machine descends over the data, the
  // blocks (no centred copy) on the Gram system; the same updates, in another rounding.
  for (int64_t d : {6, 300}) {
    const Problem p = make_problem(200, d, 1, 20240609 + d, true);
    auto data = blocked(p);
    const auto single = elastic_net_fit<double>(ctx_, ep, x(p), y(p), w(p));
    const auto split = elastic_net_fit<double>(ctx_, ep, data);
    EXPECT_EQ(single.solver, d == 6 ? "gram" : "data");
    EXPECT_EQ(split.solver, "gram");
    EXPECT_EQ(split.n_iter, single.n_iter);
    EXPECT_LT(rel_diff(split.coef, single.coef), 1e-8) << "d = " << d;
    EXPECT_LT(rel_diff(split.intercept, single.intercept), 1e-8) << "d = " << d;
  }
  ElasticNetParams forced = ep;
  forced.path = CdPath::kData;
  const Problem p = make_problem(200, 6, 1, 20240610, false);
  auto data = blocked(p);
  EXPECT_THROW(elastic_net_fit<double>(ctx_, forced, data), Unsupported);
}

TEST_F(LinearDataTest, ABlockWithNaNFailsWithTheSingleMachineMessage) {
  Problem p = make_problem(200, 4, 1, 20240611, false);
  p.X[150 * 4 + 2] = std::nan("");
  auto data = blocked(p);
  try {
    linear_regression_fit<double>(ctx_, {}, data);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Input X contains NaN or infinity."), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gpulearn::linear_model
