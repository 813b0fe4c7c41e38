// PCA and TruncatedSVD on the CPU backend, and the CPU centered_products primitive, against
// references computed here, independently of gpulearn, in long double with Eigen.
//
// Data are drawn fresh from a seeded std::mt19937_64 (the seed is in each test): Gaussian rows
// with a distinct, decaying spectrum in a random orthonormal basis, plus an offset, so that
// every component is well defined (gaps >= 5% between consecutive variances).
// Tolerances: eigenvalues and the quantities built from them 1e-10 relative in double (1e-4 in
// float); components 1e-8 in double (an eigenvector's error is eps over the relative gap);
// the randomized solver with l >= min(n, d) spans everything, so it is held to the exact
// tolerances too.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/backend.hpp"
#include "decomposition/primitives.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"
#include "test_util.hpp"

namespace gpulearn::decomposition {
namespace {

using LD = long double;
using MatL = Eigen::Matrix<LD, Eigen::Dynamic, Eigen::Dynamic>;
using test_util::ThrowsWith;

template <typename T>
double tol() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-4;
}
template <typename T>
double vec_tol() {
  return std::is_same_v<T, double> ? 1e-8 : 2e-3;
}

// n x d rows: Gaussian with standard deviations geomspace(4, 0.4) in a random basis, + offset.
template <typename T>
std::vector<T> spectral_data(int64_t n, int64_t d, uint64_t seed, double offset = 3.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  MatL B(d, d);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) B(i, j) = g(rng);
  }
  const MatL Q = Eigen::HouseholderQR<MatL>(B).householderQ();
  std::vector<T> X(n * d);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<LD> z(d);
    for (int64_t j = 0; j < d; ++j) {
      z[j] = g(rng) * 4.0 * std::pow(0.1, static_cast<double>(j) / std::max<int64_t>(1, d - 1));
    }
    for (int64_t c = 0; c < d; ++c) {
      LD v = offset;
      for (int64_t j = 0; j < d; ++j) v += z[j] * Q(c, j);
      X[i * d + c] = static_cast<T>(v);
    }
  }
  return X;
}

// The reference: mean, covariance (ddof 1) and its eigenpairs, descending, in long double.
struct Reference {
  Eigen::Matrix<LD, Eigen::Dynamic, 1> mean, values;  // values: descending
  MatL vectors;                                       // columns, in the order of values
  MatL centred;
};

template <typename T>
Reference reference(const std::vector<T>& X, int64_t n, int64_t d, bool centre = true) {
  Reference r;
  MatL A(n, d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) A(i, j) = X[i * d + j];
  }
  r.mean = centre ? MatL(A.colwise().mean().transpose()) : MatL::Zero(d, 1);
  r.centred = A.rowwise() - r.mean.transpose();
  const MatL C = r.centred.transpose() * r.centred / static_cast<LD>(n - 1);
  Eigen::SelfAdjointEigenSolver<MatL> eig(C);
  r.values = eig.eigenvalues().reverse();
  r.vectors = eig.eigenvectors().rowwise().reverse();
  return r;
}

double rel(LD a, LD b) {
  return static_cast<double>(std::abs(a - b) / std::max<LD>(std::abs(b), 1e-300));
}

// Checks a model's spectrum and components against the reference (the first k).
template <typename T>
void expect_matches(const PcaModel<T>& m, const Reference& r, int64_t k, double t, double vt) {
  const int64_t d = m.n_features;
  ASSERT_EQ(m.n_components, k);
  const LD total = r.values.sum();
  for (int64_t j = 0; j < k; ++j) {
    EXPECT_LT(rel(m.explained_variance[j], r.values[j]), t) << "component " << j;
    EXPECT_LT(rel(m.explained_variance_ratio[j], r.values[j] / total), t) << "component " << j;
    // Same direction; the sign is scikit-learn's: the largest |entry| positive.
    LD dot = 0;
    int64_t arg = 0;
    for (int64_t i = 0; i < d; ++i) {
      dot += m.components[j * d + i] * r.vectors(i, j);
      if (std::abs(m.components[j * d + i]) > std::abs(m.components[j * d + arg])) arg = i;
    }
    EXPECT_LT(1 - std::abs(dot), vt) << "component " << j;
    EXPECT_GT(m.components[j * d + arg], 0) << "component " << j;
  }
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(m.mean[i], r.mean[i], t * (1 + std::abs(r.mean[i])));
}

template <typename T>
class PcaTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PcaTest, Types);

TYPED_TEST(PcaTest, EverySolverMatchesTheReference) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  for (auto [n, d] : {std::pair<int64_t, int64_t>{400, 12}, {30, 45}, {3000, 7}}) {
    const auto X = spectral_data<T>(n, d, 11 + n);
    const Reference r = reference(X, n, d);
    const MatrixView<const T> view(X.data(), n, d);
    const int64_t mn = std::min(n, d);
    // A wide X's centred rank is n - 1: compare the components above the null space.
    const int64_t k = std::min<int64_t>(5, mn - 1);
    for (PcaSolver s : {PcaSolver::kFull, PcaSolver::kCovarianceEigh, PcaSolver::kArpack,
                        PcaSolver::kRandomized, PcaSolver::kAuto}) {
      SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d) + " solver " +
                   std::to_string(static_cast<int>(s)));
      PcaParams p;
      p.svd_solver = s;
      p.n_components = NComponents::of(k);
      p.n_oversamples = mn;  // l >= min(n, d): the randomized subspace is everything
      const PcaModel<T> m = pca_fit<T>(ctx, p, view);
      expect_matches(m, r, k, tol<T>(), vec_tol<T>());
      EXPECT_EQ(m.n_samples, n);
      // noise variance: the mean of the dropped variances over min(n, d) (d for the covariance
      // solver, whose spectrum has d entries).
      const int64_t p_len = s == PcaSolver::kCovarianceEigh ? d : mn;
      LD dropped = 0;
      for (int64_t j = k; j < mn; ++j) dropped += r.values[j];
      EXPECT_LT(rel(m.noise_variance, dropped / (p_len - k)), 1e3 * tol<T>());
    }
  }
}

TYPED_TEST(PcaTest, NComponentsForms) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  const int64_t n = 500, d = 10;
  const auto X = spectral_data<T>(n, d, 21);
  const Reference r = reference(X, n, d);
  const MatrixView<const T> view(X.data(), n, d);
  PcaParams p;
  p.svd_solver = PcaSolver::kFull;
  EXPECT_EQ(pca_fit<T>(ctx, p, view).n_components, d);  // None: min(n, d)
  EXPECT_EQ(pca_fit<T>(ctx, p, view).noise_variance, 0.0);
  // A fraction: the fewest components whose cumulative ratio exceeds it.
  const LD total = r.values.sum();
  for (double f : {0.3, 0.8, 0.99}) {
    p.n_components = NComponents::variance_fraction(f);
    LD cum = 0;
    int64_t want = 0;
    while (cum <= f) cum += r.values[want++] / total;
    EXPECT_EQ(pca_fit<T>(ctx, p, view).n_components, want) << "fraction " << f;
  }
  // "mle" on data of rank 3 plus small noise finds 3.
  std::mt19937_64 rng(22);
  std::normal_distribution<double> g;
  std::vector<T> L(n * d);
  std::vector<double> basis(3 * d);
  for (double& b : basis) b = g(rng);
  for (int64_t i = 0; i < n; ++i) {
    const double a[3] = {5 * g(rng), 4 * g(rng), 3 * g(rng)};
    for (int64_t j = 0; j < d; ++j) {
      L[i * d + j] = static_cast<T>(a[0] * basis[j] + a[1] * basis[d + j] +
                                    a[2] * basis[2 * d + j] + 0.01 * g(rng));
    }
  }
  p.n_components = NComponents::mle();
  EXPECT_EQ(pca_fit<T>(ctx, p, MatrixView<const T>(L.data(), n, d)).n_components, 3);
  p.n_components = NComponents::of(0);
  const PcaModel<T> none = pca_fit<T>(ctx, p, view);
  EXPECT_EQ(none.n_components, 0);
  EXPECT_TRUE(none.components.empty());
}

TYPED_TEST(PcaTest, TransformInverseWhitenAndScore) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  const int64_t n = 300, d = 6, k = 4;
  const auto X = spectral_data<T>(n, d, 31);
  const Reference r = reference(X, n, d);
  const MatrixView<const T> view(X.data(), n, d);
  for (bool whiten : {false, true}) {
    SCOPED_TRACE(whiten ? "whiten" : "plain");
    PcaParams p;
    p.n_components = NComponents::of(k);
    p.whiten = whiten;
    const PcaModel<T> m = pca_fit<T>(ctx, p, view);
    std::vector<T> Z(n * k), back(n * d);
    pca_transform<T>(ctx, m, view, MatrixView<T>(Z.data(), n, k));
    for (int64_t i = 0; i < n; i += 37) {
      for (int64_t j = 0; j < k; ++j) {
        LD want = 0;  // (x - mean) . v_j, over sqrt(variance) when whitening
        for (int64_t c = 0; c < d; ++c) want += r.centred(i, c) * m.components[j * d + c];
        if (whiten) want /= std::sqrt(r.values[j]);
        EXPECT_NEAR(Z[i * k + j], want, 10 * tol<T>() * (1 + std::abs(want)));
      }
    }
    pca_inverse_transform<T>(ctx, m, MatrixView<const T>(Z.data(), n, k),
                             MatrixView<T>(back.data(), n, d));
    for (int64_t i = 0; i < n; i += 37) {
      for (int64_t c = 0; c < d; ++c) {
        LD want = r.mean[c];  // the projection on the first k components, mapped back
        for (int64_t j = 0; j < k; ++j) {
          LD dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += r.centred(i, e) * m.components[j * d + e];
          want += dot * m.components[j * d + c];
        }
        EXPECT_NEAR(back[i * d + c], want, 10 * tol<T>() * (1 + std::abs(want)));
      }
    }
    // The precision inverts the covariance, and score_samples is the Gaussian log-density.
    const std::vector<T> C = pca_covariance<T>(ctx, m), P = pca_precision<T>(ctx, m);
    MatL Cm(d, d), Pm(d, d);
    for (int64_t a = 0; a < d * d; ++a) {
      Cm(a / d, a % d) = C[a];
      Pm(a / d, a % d) = P[a];
    }
    EXPECT_LT(static_cast<double>((Cm * Pm - MatL::Identity(d, d)).norm()), 100 * tol<T>());
    std::vector<T> ll(n);
    pca_score_samples<T>(ctx, m, view, VectorView<T>(ll.data(), n));
    const LD logdet = std::log(Pm.determinant());
    for (int64_t i = 0; i < n; i += 29) {
      const Eigen::Matrix<LD, Eigen::Dynamic, 1> x = r.centred.row(i).transpose();
      const LD want = -0.5L * (x.dot(Pm * x) + d * std::log(2 * 3.14159265358979323846L) - logdet);
      EXPECT_NEAR(ll[i], want, 100 * tol<T>() * (1 + std::abs(want)));
    }
  }
}

TYPED_TEST(PcaTest, FarFromTheOriginKeepsItsDigits) {
  // float32 data at 1e4 with unit-scale spread: X^T X - n m m^T would cancel every digit; the
  // covariance from chunks centred on the exact mean keeps the spectrum.
  using T = TypeParam;
  Context ctx(Device::cpu());
  const int64_t n = 2000, d = 8;
  const auto X = spectral_data<T>(n, d, 41, 1e4);
  const Reference r = reference(X, n, d);  // of the rounded data
  PcaParams p;
  p.svd_solver = PcaSolver::kCovarianceEigh;
  p.n_components = NComponents::of(3);
  const PcaModel<T> m = pca_fit<T>(ctx, p, MatrixView<const T>(X.data(), n, d));
  const double t = std::is_same_v<T, double> ? 1e-9 : 1e-3;
  expect_matches(m, r, 3, t, t);
}

TYPED_TEST(PcaTest, ResultsDoNotDependOnTheThreadCount) {
  using T = TypeParam;
  const int64_t n = 20000, d = 9;
  const auto X = spectral_data<T>(n, d, 51);
  const MatrixView<const T> view(X.data(), n, d);
  for (PcaSolver s : {PcaSolver::kFull, PcaSolver::kCovarianceEigh, PcaSolver::kRandomized}) {
    PcaParams p;
    p.svd_solver = s;
    p.n_components = NComponents::of(3);
    Context one(Device::cpu()), four(Device::cpu());
    one.set_n_threads(1);
    four.set_n_threads(4);
    const PcaModel<T> a = pca_fit<T>(one, p, view), b = pca_fit<T>(four, p, view);
    EXPECT_EQ(a.components, b.components);
    EXPECT_EQ(a.explained_variance, b.explained_variance);
  }
}

TYPED_TEST(PcaTest, BadInput) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  const int64_t n = 20, d = 5;
  auto X = spectral_data<T>(n, d, 61);
  const MatrixView<const T> view(X.data(), n, d);
  PcaParams p;
  auto fit = [&](MatrixView<const T> v) { return pca_fit<T>(ctx, p, v); };
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(MatrixView<const T>(X.data(), 1, d)); },
                                          {"1 sample(s)", "minimum of 2"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(MatrixView<const T>(X.data(), 0, d)); },
                                          {"0 sample(s)"}));
  p.n_components = NComponents::of(6);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { fit(view); }, {"n_components=6 must be between 0 and min(n_samples, n_features)=5"}));
  p.n_components = NComponents::variance_fraction(1.5);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"(0, 1)"}));
  p.n_components = NComponents::mle();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(MatrixView<const T>(X.data(), 4, d)); },
                                          {"'mle' is only supported if n_samples >= n_features"}));
  p.svd_solver = PcaSolver::kRandomized;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"cannot be a string"}));
  p.svd_solver = PcaSolver::kArpack;
  p.n_components = NComponents::of(5);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"strictly less than"}));
  p.svd_solver = PcaSolver::kRandomized;
  p.n_components = NComponents::of(2);
  p.random_start = {1.0, 2.0};
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"start matrix"}));
  p = PcaParams();
  X[7] = std::numeric_limits<T>::quiet_NaN();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"NaN or infinity"}));
  X[7] = std::numeric_limits<T>::infinity();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { fit(view); }, {"NaN or infinity"}));
  X[7] = 1;
  const PcaModel<T> m = fit(view);
  std::vector<T> out(n * d);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        pca_transform<T>(ctx, m, MatrixView<const T>(X.data(), n / 2, d - 1, d),
                         MatrixView<T>(out.data(), n / 2, d));
      },
      {"X has 4 features, but PCA is expecting 5 features"}));
  EXPECT_TRUE(ThrowsWith<NotFitted>(
      [&] { pca_transform<T>(ctx, PcaModel<T>(), view, MatrixView<T>(out.data(), n, d)); },
      {"not fitted"}));
}

template <typename T>
class TruncatedSvdTest : public ::testing::Test {};
TYPED_TEST_SUITE(TruncatedSvdTest, Types);

TYPED_TEST(TruncatedSvdTest, RandomizedAndExactMatchTheReference) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  for (auto [n, d] : {std::pair<int64_t, int64_t>{300, 10}, {12, 40}}) {
    const auto X = spectral_data<T>(n, d, 71 + n, 0.0);
    const Reference r = reference(X, n, d, /*centre=*/false);  // the SVD of X itself
    const Reference centred = reference(X, n, d);
    const int64_t k = 3;
    for (auto a : {TruncatedSvdAlgorithm::kRandomized, TruncatedSvdAlgorithm::kArpack}) {
      SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d));
      TruncatedSvdParams p;
      p.algorithm = a;
      p.n_components = k;
      p.n_oversamples = std::min(n, d);
      const TruncatedSvdModel<T> m =
          truncated_svd_fit<T>(ctx, p, MatrixView<const T>(X.data(), n, d));
      const LD total_var = centred.values.sum() * (n - 1) / n;  // np.var(X, axis=0).sum()
      for (int64_t j = 0; j < k; ++j) {
        EXPECT_LT(rel(static_cast<LD>(m.singular_values[j]) * m.singular_values[j],
                      r.values[j] * (n - 1)),
                  tol<T>());
        // explained variance: the variance (ddof 0) of the projection on component j
        LD s = 0, s2 = 0;
        for (int64_t i = 0; i < n; ++i) {
          LD t = 0;
          for (int64_t c = 0; c < d; ++c)
            t += static_cast<LD>(X[i * d + c]) * m.components[j * d + c];
          s += t;
          s2 += t * t;
        }
        const LD var = s2 / n - (s / n) * (s / n);
        EXPECT_LT(rel(m.explained_variance[j], var), 100 * tol<T>());
        EXPECT_LT(rel(m.explained_variance_ratio[j], var / total_var), 100 * tol<T>());
      }
    }
  }
}

TEST(CenteredProductsCpu, MatchesTheDirectProducts) {
  auto be = detail::make_cpu_backend(2);
  const int64_t n = 1500, d = 7, l = 3, ld = 9;
  std::mt19937_64 rng(81);
  std::normal_distribution<double> g;
  std::vector<double> X(n * ld), Z(d * l), Y(n * l), mean(d);
  for (double& v : X) v = g(rng) + 2;
  for (double& v : Z) v = g(rng);
  for (double& v : Y) v = g(rng);
  for (double& v : mean) v = g(rng);
  const MatrixView<const double> view(X.data(), n, d, ld);
  for (bool centre : {false, true}) {
    for (bool z_form : {false, true}) {
      std::vector<double> out(d * l);
      const double sq = be->primitives<detail::DecompositionPrimitives<double>>().centered_products(
          view, centre ? mean.data() : nullptr, 0.5, l, z_form ? Z.data() : nullptr,
          z_form ? nullptr : Y.data(), out.data());
      MatL Xc(n, d), Zm(d, l), Ym(n, l);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < d; ++j) Xc(i, j) = (X[i * ld + j] - (centre ? mean[j] : 0)) * 0.5L;
        for (int64_t j = 0; j < l; ++j) Ym(i, j) = Y[i * l + j];
      }
      for (int64_t a = 0; a < d * l; ++a) Zm(a / l, a % l) = Z[a];
      const MatL want = z_form ? MatL(Xc.transpose() * (Xc * Zm)) : MatL(Xc.transpose() * Ym);
      const LD scale = want.cwiseAbs().maxCoeff();
      for (int64_t a = 0; a < d * l; ++a) {
        EXPECT_NEAR(out[a], want(a / l, a % l), 1e-12 * scale) << centre << z_form;
      }
      EXPECT_LT(rel(sq, Xc.squaredNorm()), 1e-13);
    }
  }
}

}  // namespace
}  // namespace gpulearn::decomposition
