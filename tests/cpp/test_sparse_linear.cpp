// The linear models over a sparse X (sparse_linear_data, linear_data.hpp) against the same
// drivers over the dense form of X (local_linear_data): the reductions (centred Gram system,
// R factor over several row chunks), the fits (LinearRegression, Ridge, the elastic net, Ridge's
// conjugate gradients) and prediction. Random CSR matrices with empty rows and columns,
// unsorted indices and explicit zeros.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/sparse.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"
#include "gpulearn/linear_model/linear_data.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace gpulearn::linear_model {
namespace {

struct Problem {
  int64_t n, d, k;
  std::vector<double> values, dense, Y, w;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr;

  Problem(int64_t n_, int64_t d_, int64_t k_, double density, uint64_t seed)
      : n(n_), d(d_), k(k_), dense(n_ * d_, 0.0), Y(n_ * k_), w(n_) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> g;
    indptr.push_back(0);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int32_t> cols;
      if (i % 11 != 4) {  // empty rows
        for (int32_t j = 0; j < d; ++j) {
          if (j != 1 && u(rng) < density) cols.push_back(j);  // column 1 empty
        }
      }
      std::shuffle(cols.begin(), cols.end(), rng);
      for (int32_t j : cols) {
        const double v = u(rng) < 0.05 ? 0.0 : g(rng) + 1.0;  // explicit zeros
        values.push_back(v);
        indices.push_back(j);
        dense[i * d + j] = v;
      }
      indptr.push_back(static_cast<int64_t>(values.size()));
      for (int64_t t = 0; t < k; ++t) Y[i * k + t] = g(rng) + 0.3 * t;
      w[i] = 0.5 + u(rng);
    }
    // y depends on X so that the fits have something to find.
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        for (int64_t t = 0; t < k; ++t) Y[i * k + t] += dense[i * d + j] * std::sin(1.0 + j + t);
      }
    }
  }
  CsrView<double> csr() const {
    return CsrView<double>(values.data(), indices.data(), indptr.data(), n, d);
  }
  MatrixView<const double> X() const { return MatrixView<const double>(dense.data(), n, d, d); }
  MatrixView<const double> y() const { return MatrixView<const double>(Y.data(), n, k, k); }
  VectorView<const double> weights() const { return VectorView<const double>(w.data(), n); }
};

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double rtol) {
  ASSERT_EQ(a.size(), b.size());
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], rtol * scale) << "entry " << i;
}

TEST(SparseLinearData, CentredGramSystemEqualsTheDenseOne) {
  Context ctx{Device::cpu()};
  const Problem p(500, 9, 2, 0.3, 1);
  auto sp = sparse_linear_data(ctx, p.csr(), p.y(), p.weights());
  auto de = local_linear_data(ctx, p.X(), p.y(), p.weights());
  sp->magnitudes();
  std::vector<double> xm(9), ym(2), xm2(9), ym2(2);
  EXPECT_NEAR(sp->weighted_means(xm.data(), ym.data()), de->weighted_means(xm2.data(), ym2.data()),
              1e-12 * 500);
  expect_close(xm, xm2, 1e-14);
  std::vector<double> G(81), B(18), G2(81), B2(18);
  sp->centered_gram(xm.data(), ym.data(), 0.5, 2.0, G.data(), B.data());
  de->centered_gram(xm.data(), ym.data(), 0.5, 2.0, G2.data(), B2.data());
  expect_close(G, G2, 1e-12);
  expect_close(B, B2, 1e-12);
}

TEST(SparseLinearData, RFactorOverSeveralRowChunksReproducesTheGramMatrix) {
  // d = 300: chunks of 2^21 / 300 = 6990 rows, so 15000 rows make three.
  Context ctx{Device::cpu()};
  const Problem p(15000, 300, 1, 0.02, 2);
  auto sp = sparse_linear_data(ctx, p.csr(), p.y(), p.weights());
  sp->magnitudes();
  std::vector<double> xm(300), ym(1);
  sp->weighted_means(xm.data(), ym.data());
  std::vector<double> R(300 * 300), Z(300), G(300 * 300), B(300);
  ASSERT_EQ(sp->centered_r_factor(xm.data(), ym.data(), 1.0, 1.0, R.data(), Z.data()), 300);
  sp->centered_gram(xm.data(), ym.data(), 1.0, 1.0, G.data(), B.data());
  std::vector<double> RtR(300 * 300, 0.0), RtZ(300, 0.0);
  for (int64_t r = 0; r < 300; ++r) {
    for (int64_t i = 0; i < 300; ++i) {
      if (i < r) EXPECT_EQ(R[r * 300 + i], 0.0);  // upper trapezoidal, zeros written
      RtZ[i] += R[r * 300 + i] * Z[r];
      for (int64_t j = 0; j < 300; ++j) RtR[i * 300 + j] += R[r * 300 + i] * R[r * 300 + j];
    }
  }
  expect_close(RtR, G, 1e-11);
  expect_close(RtZ, B, 1e-11);
}

TEST(SparseLinearData, FitsEqualTheDenseFits) {
  Context ctx{Device::cpu()};
  const Problem p(400, 12, 2, 0.25, 3);
  auto sp = sparse_linear_data(ctx, p.csr(), p.y(), p.weights());
  auto de = local_linear_data(ctx, p.X(), p.y(), p.weights());
  // Column 1 is empty: LinearRegression takes the rank-revealing path (the R factor).
  const auto a = linear_regression_fit(ctx, LinearRegressionParams{}, *sp);
  const auto b = linear_regression_fit(ctx, LinearRegressionParams{}, *de);
  EXPECT_EQ(a.rank, 11);
  EXPECT_EQ(a.solver, b.solver);
  expect_close(a.coef, b.coef, 1e-10);
  expect_close(a.intercept, b.intercept, 1e-10);
  RidgeParams rp;
  rp.alpha = {0.5, 3.0};
  const auto r1 = sparse_ridge_fit(ctx, rp, p.csr(), p.y(), p.weights());
  const auto r2 = ridge_fit(ctx, rp, *de);
  expect_close(r1.coef, r2.coef, 1e-10);
  rp.solver = RidgeSolver::kSparseCg;
  rp.tol = 1e-13;
  const auto r3 = sparse_ridge_fit(ctx, rp, p.csr(), p.y(), p.weights());
  EXPECT_EQ(r3.solver, "sparse_cg");
  ASSERT_EQ(r3.n_iter.size(), 2u);
  expect_close(r3.coef, r2.coef, 1e-9);
  expect_close(r3.intercept, r2.intercept, 1e-9);
  ElasticNetParams ep;
  ep.alpha = 0.01;
  ep.tol = 1e-12;
  ep.max_iter = 5000;
  const auto e1 = elastic_net_fit(ctx, ep, *sp, {});
  const auto e2 = elastic_net_fit(ctx, ep, *de, {});
  EXPECT_EQ(e1.solver, "sparse");
  EXPECT_EQ(e1.n_iter, e2.n_iter);
  expect_close(e1.coef, e2.coef, 1e-10);
  // Prediction from the stored entries only.
  std::vector<double> out1(400 * 2), out2(400 * 2);
  linear_predict(ctx, b, p.csr(), MatrixView<double>(out1.data(), 400, 2, 2));
  linear_predict(ctx, b, p.X(), MatrixView<double>(out2.data(), 400, 2, 2));
  expect_close(out1, out2, 1e-13);
}

TEST(SparseLinearData, RefusesNonFiniteValuesAndTooManyFeaturesForTheGramMatrix) {
  Context ctx{Device::cpu()};
  Problem p(50, 5, 1, 0.5, 4);
  p.values[3] = std::nan("");
  auto sp = sparse_linear_data(ctx, p.csr(), p.y());
  EXPECT_THROW(linear_regression_fit(ctx, LinearRegressionParams{}, *sp), InvalidArgument);
  const Problem wide(20, kSparseMaxGramFeatures + 1, 1, 0.001, 5);
  auto w = sparse_linear_data(ctx, wide.csr(), wide.y());
  EXPECT_THROW(linear_regression_fit(ctx, LinearRegressionParams{}, *w), InvalidArgument);
}

// Prediction reads X's finiteness from the product (no separate pass): a NaN or infinite stored
// value must still be refused where its column's coefficient is 0 (0 * inf is NaN, NaN * 0 is
// NaN), also in a row of many finite entries and for several targets; a finite X whose product
// overflows is no error (scikit-learn returns inf too).
TEST(SparseLinearPredict, NonFiniteValuesAreRefusedAndOverflowIsNot) {
  Context ctx{Device::cpu()};
  for (const int64_t k : {1, 3}) {
    LinearModel<double> m;
    m.n_features = 6;
    m.n_targets = k;
    m.coef.assign(6 * k, 1.0);
    for (int64_t t = 0; t < k; ++t) m.coef[t * 6 + 2] = 0.0;  // column 2 ignored by the model
    m.intercept.assign(k, 0.5);
    const double inf = std::numeric_limits<double>::infinity();
    for (const double bad : {std::nan(""), inf, -inf}) {
      std::vector<double> values = {1, 2, bad, 4, 5};
      const std::vector<int32_t> indices = {0, 1, 2, 3, 4};
      const std::vector<int64_t> indptr = {0, 0, 5, 5};
      const CsrView<double> X(values.data(), indices.data(), indptr.data(), 3, 6);
      std::vector<double> out(3 * k);
      EXPECT_THROW(linear_predict(ctx, m, X, MatrixView<double>(out.data(), 3, k, k)),
                   InvalidArgument)
          << bad << " with k " << k;
      values[2] = 3;  // the same matrix, finite: predicted
      linear_predict(ctx, m, X, MatrixView<double>(out.data(), 3, k, k));
      EXPECT_EQ(out[k], 1 + 2 + 4 + 5 + 0.5);
    }
    std::vector<double> values = {1e300, 1e300};
    const std::vector<int32_t> indices = {0, 1};
    const std::vector<int64_t> indptr = {0, 2};
    m.coef.assign(6 * k, 1e10);
    std::vector<double> out(k);
    linear_predict(ctx, m, CsrView<double>(values.data(), indices.data(), indptr.data(), 1, 6),
                   MatrixView<double>(out.data(), 1, k, k));
    EXPECT_EQ(out[0], inf);
  }
}

}  // namespace
}  // namespace gpulearn::linear_model
