// ElasticNet/Lasso and LogisticRegression on the CPU backend, against optimality conditions
// computed here, independently of gpulearn, in long double.
//
// Both problems are convex: a point is optimal exactly when zero is in the subdifferential of
// the objective there. The checks evaluate that (the gradient of the smooth part plus the L1
// subgradient) from the fitted coefficients, on data drawn from a seeded std::mt19937_64.
// Tolerances: the solvers stop at scikit-learn's tolerances, so each test sets tol small and
// asserts the stationarity residual below a bound stated beside it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"

namespace gpulearn::linear_model {
namespace {

using LD = long double;

template <typename T>
struct Data {
  int64_t n = 0, d = 0;
  std::vector<T> X, y, w;
  std::vector<int32_t> labels;
  MatrixView<const T> x() const { return MatrixView<const T>(X.data(), n, d); }
  MatrixView<const T> Y() const { return MatrixView<const T>(y.data(), n, 1); }
  VectorView<const T> weights() const {
    return w.empty() ? VectorView<const T>() : VectorView<const T>(w.data(), n);
  }
};

// X ~ N(3, 1) (far enough from the origin that centring matters), y a sparse linear model plus
// noise; labels from a softmax over a random linear model.
template <typename T>
Data<T> make_data(int64_t n, int64_t d, uint64_t seed, bool weights, int64_t classes = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  std::uniform_real_distribution<double> U(0.2, 3.0);
  Data<T> D;
  D.n = n;
  D.d = d;
  D.X.resize(n * d);
  for (auto& v : D.X) v = static_cast<T>(3.0 + N(rng));
  std::vector<double> beta(d), B(std::max<int64_t>(classes, 1) * d);
  for (int64_t j = 0; j < d; ++j) beta[j] = j % 3 == 0 ? N(rng) : 0.0;
  for (auto& v : B) v = 0.7 * N(rng);
  D.y.resize(n);
  D.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 1.5 + 0.3 * N(rng);
    for (int64_t j = 0; j < d; ++j) s += beta[j] * (D.X[i * d + j] - 3.0);
    D.y[i] = static_cast<T>(s);
    if (classes >= 2) {
      std::vector<double> z(classes);
      double top = -1e300;
      for (int64_t t = 0; t < classes; ++t) {
        z[t] = 0;
        for (int64_t j = 0; j < d; ++j) z[t] += B[t * d + j] * (D.X[i * d + j] - 3.0);
        top = std::max(top, z[t]);
      }
      double sum = 0;
      for (double& v : z) sum += (v = std::exp(v - top));
      double u = std::uniform_real_distribution<double>(0, sum)(rng);
      int32_t c = 0;
      while (c + 1 < classes && u > z[c]) u -= z[c++];
      D.labels[i] = c;
    }
  }
  if (weights) {
    D.w.resize(n);
    for (auto& v : D.w) v = static_cast<T>(U(rng));
  }
  return D;
}

template <typename T>
LD weight(const Data<T>& D, int64_t i) {
  return D.w.empty() ? 1.0L : static_cast<LD>(D.w[i]);
}

// The largest violation of the elastic net's optimality conditions, relative to alpha:
// with g_j = (1/S) sum_i w_i xc_ij r_i - alpha (1 - rho) coef_j, an optimal coef has
// g_j = alpha rho sign(coef_j) where coef_j != 0 and |g_j| <= alpha rho where it is 0; and the
// intercept makes the weighted residuals sum to zero.
template <typename T>
LD enet_kkt(const Data<T>& D, const ElasticNetModel<T>& m, double alpha, double rho) {
  const int64_t n = D.n, d = D.d;
  LD S = 0;
  for (int64_t i = 0; i < n; ++i) S += weight(D, i);
  std::vector<LD> r(n);
  LD rsum = 0;
  for (int64_t i = 0; i < n; ++i) {
    LD p = m.intercept[0];
    for (int64_t j = 0; j < d; ++j) p += static_cast<LD>(m.coef[j]) * D.X[i * d + j];
    r[i] = static_cast<LD>(D.y[i]) - p;
    rsum += weight(D, i) * r[i];
  }
  LD worst = std::abs(rsum / S) / alpha;
  for (int64_t j = 0; j < d; ++j) {
    LD g = 0;
    for (int64_t i = 0; i < n; ++i) g += weight(D, i) * static_cast<LD>(D.X[i * d + j]) * r[i];
    g = g / S - alpha * (1 - rho) * static_cast<LD>(m.coef[j]);
    const LD c = m.coef[j];
    const LD v = c != 0 ? std::abs(g - alpha * rho * (c > 0 ? 1 : -1))
                        : std::max<LD>(0, std::abs(g) - alpha * rho);
    worst = std::max(worst, v / alpha);
  }
  return worst;
}

class ElasticNetCpuTest : public ::testing::Test {
 protected:
  Context ctx_{Device::cpu()};
};

TEST_F(ElasticNetCpuTest, GramPathIsOptimalForEveryMix) {
  const auto D = make_data<double>(400, 12, 11, /*weights=*/true);
  for (double rho : {0.0, 0.3, 1.0}) {
    ElasticNetParams p;
    p.alpha = 0.05;
    p.l1_ratio = rho;
    p.tol = 1e-12;
    p.max_iter = 100000;
    const auto m = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), D.weights());
    EXPECT_EQ(m.solver, "gram");
    EXPECT_TRUE(m.converged[0]);
    EXPECT_LT(enet_kkt(D, m, p.alpha, rho), 1e-6) << "l1_ratio " << rho;
    if (rho == 1.0) {  // the lasso at this alpha leaves some coefficients at exactly zero
      EXPECT_GT(std::count(m.coef.begin(), m.coef.end(), 0.0), 0);
    }
  }
}

TEST_F(ElasticNetCpuTest, DataPathMatchesGramPath) {
  const auto D = make_data<double>(150, 20, 12, /*weights=*/true);
  ElasticNetParams p;
  p.alpha = 0.02;
  p.l1_ratio = 0.7;
  p.tol = 1e-13;
  p.max_iter = 100000;
  p.path = CdPath::kGram;
  const auto g = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), D.weights());
  p.path = CdPath::kData;
  const auto a = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), D.weights());
  EXPECT_EQ(a.solver, "data");
  for (int64_t j = 0; j < D.d; ++j) EXPECT_NEAR(a.coef[j], g.coef[j], 1e-9);
  EXPECT_NEAR(a.intercept[0], g.intercept[0], 1e-9);
  EXPECT_LT(enet_kkt(D, a, p.alpha, p.l1_ratio), 1e-6);
}

TEST_F(ElasticNetCpuTest, WideDataTakesTheDataPath) {
  const auto D = make_data<double>(30, 80, 13, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = 0.1;
  p.l1_ratio = 1.0;
  p.tol = 1e-12;
  p.max_iter = 100000;
  const auto m = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  EXPECT_EQ(m.solver, "data");
  EXPECT_LT(enet_kkt(D, m, p.alpha, 1.0), 1e-6);
}

TEST_F(ElasticNetCpuTest, LargeAlphaZeroesEveryCoefficient) {
  const auto D = make_data<double>(200, 6, 14, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = 1e3;
  p.l1_ratio = 1.0;
  const auto m = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  double mean = 0;
  for (double v : D.y) mean += v / D.n;
  for (double c : m.coef) EXPECT_EQ(c, 0.0);
  EXPECT_NEAR(m.intercept[0], mean, 1e-12);
}

TEST_F(ElasticNetCpuTest, RidgeLimitEqualsRidge) {
  // l1_ratio = 0: 1/(2S) sum w r^2 + alpha/2 ||coef||^2 is Ridge with penalty alpha S.
  const auto D = make_data<double>(300, 8, 15, /*weights=*/true);
  ElasticNetParams p;
  p.alpha = 0.3;
  p.l1_ratio = 0.0;
  p.tol = 1e-14;
  p.max_iter = 100000;
  const auto m = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), D.weights());
  double S = 0;
  for (double v : D.w) S += v;
  RidgeParams rp;
  rp.alpha = {p.alpha * S};
  const auto r = ridge_fit<double>(ctx_, rp, D.x(), D.Y(), D.weights());
  for (int64_t j = 0; j < D.d; ++j) EXPECT_NEAR(m.coef[j], r.coef[j], 1e-8);
}

TEST_F(ElasticNetCpuTest, FloatInputIsOptimalToFloatPrecision) {
  const auto D = make_data<float>(500, 10, 16, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = 0.05;
  p.l1_ratio = 0.5;
  p.tol = 1e-10;
  p.max_iter = 100000;
  const auto m = elastic_net_fit<float>(ctx_, p, D.x(), D.Y());
  // The Gram matrix is formed in float (relative error ~1e-6 of its entries, times |X| ~ 3).
  EXPECT_LT(enet_kkt(D, m, p.alpha, 0.5), 1e-2);
}

TEST_F(ElasticNetCpuTest, RandomSelectionIsReproducibleAndReachesTheSameOptimum) {
  const auto D = make_data<double>(300, 15, 17, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = 0.03;
  p.tol = 1e-12;
  p.max_iter = 100000;
  p.selection = CdSelection::kRandom;
  p.seeds = {12345};
  const auto a = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  const auto b = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  p.seeds = {777};
  const auto c = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  EXPECT_EQ(a.coef, b.coef);
  EXPECT_EQ(a.n_iter, b.n_iter);
  for (int64_t j = 0; j < D.d; ++j) EXPECT_NEAR(a.coef[j], c.coef[j], 1e-8);
}

TEST_F(ElasticNetCpuTest, WarmStartFromTheSolutionStopsAtOnce) {
  const auto D = make_data<double>(300, 10, 18, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = 0.05;
  const auto a = elastic_net_fit<double>(ctx_, p, D.x(), D.Y());
  const std::vector<double> init(a.coef.begin(), a.coef.end());
  const auto b = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), {}, init);
  EXPECT_LE(b.n_iter[0], 1);
  for (int64_t j = 0; j < D.d; ++j) EXPECT_NEAR(a.coef[j], b.coef[j], 1e-6);
}

TEST_F(ElasticNetCpuTest, StridedWeightsEqualContiguousOnBothPaths) {
  const auto D = make_data<double>(120, 30, 20, /*weights=*/true);
  std::vector<double> strided(2 * D.n, -7.0);  // the gaps hold values that must not be read
  for (int64_t i = 0; i < D.n; ++i) strided[2 * i] = D.w[i];
  const VectorView<const double> ws(strided.data(), D.n, 2);
  for (CdPath path : {CdPath::kGram, CdPath::kData}) {
    ElasticNetParams p;
    p.alpha = 0.05;
    p.path = path;
    const auto a = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), D.weights());
    const auto b = elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), ws);
    EXPECT_EQ(a.coef, b.coef);
    EXPECT_EQ(a.intercept, b.intercept);
  }
}

TEST_F(ElasticNetCpuTest, RejectsBadInput) {
  auto D = make_data<double>(50, 4, 19, /*weights=*/false);
  ElasticNetParams p;
  p.alpha = -1;
  EXPECT_THROW(elastic_net_fit<double>(ctx_, p, D.x(), D.Y()), InvalidArgument);
  p.alpha = 1;
  p.l1_ratio = 1.5;
  EXPECT_THROW(elastic_net_fit<double>(ctx_, p, D.x(), D.Y()), InvalidArgument);
  p.l1_ratio = 0.5;
  EXPECT_THROW(elastic_net_fit<double>(ctx_, p, D.x(), D.Y(), {}, std::vector<double>(3, 0.0)),
               InvalidArgument);
  D.X[7] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(elastic_net_fit<double>(ctx_, p, D.x(), D.Y()), InvalidArgument);
}

// ---- LogisticRegression ----------------------------------------------------------------------

// The largest entry of the objective's (sub)gradient residual at the fitted model, for
// 1/S sum_i w_i loss_i + lambda ((1 - rho)/2 ||W||^2 + rho ||W||_1), lambda = 1 / (C S).
template <typename T>
LD logistic_kkt(const Data<T>& D, const LogisticModel<T>& m, double C, double rho) {
  const int64_t n = D.n, d = D.d, K = m.n_outputs;
  LD S = 0;
  for (int64_t i = 0; i < n; ++i) S += weight(D, i);
  const LD lambda = std::isinf(C) ? 0 : 1 / (C * S);
  std::vector<LD> G(K * (d + 1), 0);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<LD> z(K);
    for (int64_t t = 0; t < K; ++t) {
      z[t] = m.intercept[t];
      for (int64_t j = 0; j < d; ++j) z[t] += static_cast<LD>(m.coef[t * d + j]) * D.X[i * d + j];
    }
    std::vector<LD> res(K);
    if (K == 1) {
      res[0] = 1 / (1 + std::exp(-z[0])) - D.labels[i];
    } else {
      const LD top = *std::max_element(z.begin(), z.end());
      LD sum = 0;
      for (LD v : z) sum += std::exp(v - top);
      for (int64_t t = 0; t < K; ++t) res[t] = std::exp(z[t] - top) / sum - (t == D.labels[i]);
    }
    for (int64_t t = 0; t < K; ++t) {
      for (int64_t j = 0; j < d; ++j) G[t * (d + 1) + j] += weight(D, i) * res[t] * D.X[i * d + j];
      G[t * (d + 1) + d] += weight(D, i) * res[t];
    }
  }
  LD worst = 0;
  for (int64_t t = 0; t < K; ++t) {
    for (int64_t j = 0; j <= d; ++j) {
      LD g = G[t * (d + 1) + j] / S;
      if (j == d) {
        worst = std::max(worst, std::abs(g));
        continue;
      }
      const LD c = m.coef[t * d + j];
      g += lambda * (1 - rho) * c;
      const LD l1 = lambda * rho;
      worst = std::max(
          worst, c != 0 ? std::abs(g + l1 * (c > 0 ? 1 : -1)) : std::max<LD>(0, std::abs(g) - l1));
    }
  }
  return worst;
}

// The solver stops at the first of: gradient <= tol (1e-9 below), or a step that lowers the
// objective (~0.5) by a relative 64 eps or less, which happens once the (pseudo-)gradient is
// ~1e-8 to 1e-6 (measured: up to 8.5e-8 with L2, 1.1e-6 with an L1 part, where OWL-QN's steps
// shrink near the kinks). 1e-5 is 10x above that and 10x below the stationarity scikit-learn's
// default tol asks for.
constexpr double kLogisticKkt = 1e-5;

class LogisticCpuTest : public ::testing::Test {
 protected:
  Context ctx_{Device::cpu()};
};

TEST_F(LogisticCpuTest, StationaryForEveryPenaltyAndClassCount) {
  for (int64_t K : {2, 3, 5}) {
    const auto D = make_data<double>(600, 7, 20 + K, /*weights=*/true, K);
    for (double rho : {0.0, 0.5, 1.0}) {
      LogisticRegressionParams p;
      p.C = 0.5;
      p.l1_ratio = rho;
      p.tol = 1e-9;
      p.max_iter = 5000;
      const auto m = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, K, D.weights());
      EXPECT_TRUE(m.converged) << m.message;
      EXPECT_EQ(m.n_outputs, K == 2 ? 1 : K);
      EXPECT_EQ(m.solver, rho > 0 ? "owlqn" : "lbfgs");
      EXPECT_LT(logistic_kkt(D, m, p.C, rho), kLogisticKkt)
          << "classes " << K << " l1_ratio " << rho;
    }
  }
}

TEST_F(LogisticCpuTest, UnpenalisedAndWithoutInterceptAreStationary) {
  const auto D = make_data<double>(500, 5, 30, /*weights=*/false, 3);
  LogisticRegressionParams p;
  p.C = std::numeric_limits<double>::infinity();
  p.tol = 1e-9;
  p.max_iter = 5000;
  auto m = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 3);
  EXPECT_LT(logistic_kkt(D, m, p.C, 0.0), kLogisticKkt);
  p.C = 1.0;
  p.fit_intercept = false;
  m = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 3);
  for (double b : m.intercept) EXPECT_EQ(b, 0.0);
}

TEST_F(LogisticCpuTest, IntegerWeightsEqualRepeatedRows) {
  auto D = make_data<double>(200, 4, 31, /*weights=*/false, 2);
  std::vector<double> w(D.n);
  Data<double> R;
  R.d = D.d;
  for (int64_t i = 0; i < D.n; ++i) {
    w[i] = 1 + i % 3;
    for (int r = 0; r < w[i]; ++r) {
      R.X.insert(R.X.end(), D.X.begin() + i * D.d, D.X.begin() + (i + 1) * D.d);
      R.labels.push_back(D.labels[i]);
    }
  }
  R.n = static_cast<int64_t>(R.labels.size());
  LogisticRegressionParams p;
  p.tol = 1e-10;
  p.max_iter = 5000;
  const auto a = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 2,
                                                 VectorView<const double>(w.data(), D.n));
  const auto b = logistic_regression_fit<double>(ctx_, p, R.x(), R.labels, 2);
  for (int64_t j = 0; j < D.d; ++j) EXPECT_NEAR(a.coef[j], b.coef[j], 1e-7);
  EXPECT_NEAR(a.intercept[0], b.intercept[0], 1e-7);
}

// LogisticData over row blocks, each the single-machine data of its rows, the passes summed in
// block order: what gpulearn.dask does across workers, here in one process.
class BlockLogisticData final : public LogisticData {
 public:
  BlockLogisticData(Context& ctx, const Data<double>& D, const std::vector<int64_t>& bounds)
      : n_(D.n), d_(D.d) {
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      const int64_t begin = bounds[b], rows = bounds[b + 1] - begin;
      blocks_.push_back(logistic_local_data<double>(
          ctx, D.x().block_rows(begin, rows),
          VectorView<const int32_t>(D.labels.data() + begin, rows),
          D.w.empty() ? VectorView<const double>()
                      : VectorView<const double>(D.w.data() + begin, rows)));
    }
  }
  int64_t n_samples() const override { return n_; }
  int64_t n_features() const override { return d_; }
  LogisticDataStats check(int64_t n_classes) override {
    LogisticDataStats total;
    for (auto& b : blocks_) {
      const LogisticDataStats s = b->check(n_classes);
      total.weight_sum += s.weight_sum;
      total.n_positive += s.n_positive;
    }
    return total;
  }
  double loss_grad(int64_t m, const std::vector<double>& coef, std::vector<double>& grad) override {
    ++passes;
    double loss = 0;
    std::fill(grad.begin(), grad.end(), 0.0);
    std::vector<double> g(grad.size());
    for (auto& b : blocks_) {
      loss += b->loss_grad(m, coef, g);
      for (size_t i = 0; i < g.size(); ++i) grad[i] += g[i];
    }
    return loss;
  }
  int64_t passes = 0;

 private:
  int64_t n_, d_;
  std::vector<std::unique_ptr<LogisticData>> blocks_;
};

TEST_F(LogisticCpuTest, DriverOverRowBlocksMatchesOneMatrix) {
  // Blocks of uneven sizes, one of a single row: the loss and gradient differ from the one-matrix
  // pass by summation order only (~1e-16). On centred X (a well-conditioned problem) the solver
  // then takes the same steps to the end (measured: within 3e-14, coefficients of order 0.5).
  // On X ~ N(3, 1) the problem is ill-conditioned and the solver creeps (hundreds of steps): the
  // rounding changes its path and where it stops, so both fits are only as close as their
  // stopping rule makes them (measured 1.7e-9 with L2, 6.7e-6 and 233 vs 248 steps with OWL-QN):
  // there they must reach the same objective and both be stationary.
  for (bool centred : {true, false}) {
    for (int64_t K : {2, 3}) {
      auto D = make_data<double>(300, 5, 40 + K, /*weights=*/true, K);
      if (centred) {
        for (auto& v : D.X) v -= 3.0;
      }
      for (double rho : {0.0, 0.5}) {
        LogisticRegressionParams p;
        p.C = 0.5;
        p.l1_ratio = rho;
        p.tol = 1e-8;
        p.max_iter = 1000;
        const auto one = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, K, D.weights());
        BlockLogisticData blocks(ctx_, D, {0, 37, 38, 158, 300});
        const auto split = logistic_regression_fit<double>(ctx_, p, blocks, K);
        EXPECT_GT(blocks.passes, 0);
        const std::string what = std::string(centred ? "centred" : "off-centre") + " classes " +
                                 std::to_string(K) + " l1_ratio " + std::to_string(rho);
        double scale = 0, diff = 0;
        for (size_t j = 0; j < one.coef.size(); ++j) {
          scale = std::max(scale, std::abs(one.coef[j]));
          diff = std::max(diff, std::abs(one.coef[j] - split.coef[j]));
        }
        for (size_t t = 0; t < one.intercept.size(); ++t) {
          diff = std::max(diff, std::abs(one.intercept[t] - split.intercept[t]));
        }
        if (centred) {
          EXPECT_EQ(split.n_iter, one.n_iter) << what;
          EXPECT_LE(diff, 1e-10 * scale) << what;
        } else {
          EXPECT_NEAR(split.objective, one.objective, 1e-12 * std::abs(one.objective)) << what;
          EXPECT_LT(logistic_kkt(D, split, p.C, rho), kLogisticKkt) << what;
        }
      }
    }
  }
  // A bad block fails the fit with the single-machine message.
  auto D = make_data<double>(50, 3, 45, /*weights=*/false, 2);
  D.X[40 * 3 + 1] = std::numeric_limits<double>::quiet_NaN();
  BlockLogisticData blocks(ctx_, D, {0, 30, 50});
  EXPECT_THROW(logistic_regression_fit<double>(ctx_, LogisticRegressionParams{}, blocks, 2),
               InvalidArgument);
}

TEST_F(LogisticCpuTest, FloatInputIsNearlyStationary) {
  const auto D = make_data<float>(800, 6, 32, /*weights=*/false, 3);
  LogisticRegressionParams p;
  p.tol = 1e-5;
  p.max_iter = 1000;
  const auto m = logistic_regression_fit<float>(ctx_, p, D.x(), D.labels, 3);
  // Losses and residuals are formed in float: the gradient is exact to ~1e-6.
  EXPECT_LT(logistic_kkt(D, m, p.C, 0.0), 1e-4);
}

TEST_F(LogisticCpuTest, MaxIterIsHonouredAndReported) {
  const auto D = make_data<double>(300, 6, 33, /*weights=*/false, 2);
  LogisticRegressionParams p;
  p.max_iter = 2;
  p.tol = 1e-12;
  const auto m = logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 2);
  EXPECT_EQ(m.n_iter, 2);
  EXPECT_FALSE(m.converged);
}

TEST_F(LogisticCpuTest, RejectsBadInput) {
  auto D = make_data<double>(60, 3, 34, /*weights=*/false, 2);
  LogisticRegressionParams p;
  EXPECT_THROW(logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 1), InvalidArgument);
  auto bad = D.labels;
  bad[3] = 2;
  EXPECT_THROW(logistic_regression_fit<double>(ctx_, p, D.x(), bad, 2), InvalidArgument);
  p.C = 0;
  EXPECT_THROW(logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 2), InvalidArgument);
  p.C = 1;
  D.X[5] = std::numeric_limits<double>::infinity();
  EXPECT_THROW(logistic_regression_fit<double>(ctx_, p, D.x(), D.labels, 2), InvalidArgument);
}

}  // namespace
}  // namespace gpulearn::linear_model
