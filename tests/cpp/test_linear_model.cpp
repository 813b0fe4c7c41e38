// LinearRegression and Ridge on the CPU backend against closed-form answers.
//
// Every problem is drawn fresh from a seeded std::mt19937_64 (the seed is written in each test
// and recorded as a test property). References are computed here, independently of gpulearn,
// in long double with Eigen: the normal equations (X'WX + alpha I) coef = X'Wy on the weighted,
// centred data, or a complete orthogonal decomposition for the minimum-norm solution.
// Tolerances: ~1e-10 in double, ~1e-4 in float, relative to (1 + |expected|).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "test_util.hpp"

namespace gpulearn::linear_model {
namespace {

using LD = long double;
using MatL = Eigen::Matrix<LD, Eigen::Dynamic, Eigen::Dynamic>;
using VecL = Eigen::Matrix<LD, Eigen::Dynamic, 1>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- Problems -------------------------------------------------------------------------------

// X (n x d) and Y (n x k) row-major, optional sample weights, and the model that generated Y.
template <typename T>
struct Problem {
  int64_t n = 0, d = 0, k = 0;
  std::vector<T> X, Y, w;
  std::vector<LD> coef, intercept;  // the generating model: k x d and k

  MatrixView<const T> x() const { return MatrixView<const T>(X.data(), n, d); }
  MatrixView<const T> y() const { return MatrixView<const T>(Y.data(), n, k); }
  VectorView<const T> weights() const {
    return w.empty() ? VectorView<const T>() : VectorView<const T>(w.data(), n);
  }
};

// Spec{n, d, k}, refined by the With* methods.
struct Spec {
  int64_t n = 200, d = 5, k = 1;
  double noise = 0.0;      // standard deviation of the Gaussian noise added to Y
  bool weights = false;    // draw sample weights in [0.2, 3)
  bool intercept = true;   // a non-zero intercept in the generating model
  int64_t duplicate = -1;  // when >= 0, the last column of X is a copy of this column

  Spec WithNoise(double sigma) const {
    Spec s = *this;
    s.noise = sigma;
    return s;
  }
  Spec WithWeights(bool on = true) const {
    Spec s = *this;
    s.weights = on;
    return s;
  }
  Spec WithoutIntercept() const {
    Spec s = *this;
    s.intercept = false;
    return s;
  }
  Spec WithDuplicate(int64_t column) const {
    Spec s = *this;
    s.duplicate = column;
    return s;
  }
};

// Columns with non-zero means and unequal scales, so centring and conditioning both matter.
// Y is computed from the T-valued X in long double, then rounded once to T.
template <typename T>
Problem<T> MakeProblem(std::mt19937_64& rng, const Spec& s) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unif(-1.0, 1.0);
  Problem<T> p;
  p.n = s.n;
  p.d = s.d;
  p.k = s.k;
  std::vector<double> offset(s.d), scale(s.d);
  for (int64_t j = 0; j < s.d; ++j) {
    offset[j] = 3.0 * unif(rng);
    scale[j] = 1.25 + 0.5 * unif(rng);
  }
  p.X.resize(s.n * s.d);
  for (int64_t i = 0; i < s.n; ++i) {
    for (int64_t j = 0; j < s.d; ++j) {
      p.X[i * s.d + j] = (j == s.d - 1 && s.duplicate >= 0)
                             ? p.X[i * s.d + s.duplicate]
                             : static_cast<T>(offset[j] + scale[j] * normal(rng));
    }
  }
  p.coef.resize(s.k * s.d);
  p.intercept.assign(s.k, 0.0L);
  for (int64_t t = 0; t < s.k; ++t) {
    for (int64_t j = 0; j < s.d; ++j) p.coef[t * s.d + j] = 2.0 * unif(rng);
    if (s.duplicate >= 0) p.coef[t * s.d + s.d - 1] = p.coef[t * s.d + s.duplicate];
    if (s.intercept) p.intercept[t] = 3.0 * unif(rng);
  }
  if (s.weights) {
    p.w.resize(s.n);
    for (auto& wi : p.w) wi = static_cast<T>(1.6 + 1.4 * unif(rng));
  }
  p.Y.resize(s.n * s.k);
  for (int64_t i = 0; i < s.n; ++i) {
    for (int64_t t = 0; t < s.k; ++t) {
      LD acc = p.intercept[t];
      for (int64_t j = 0; j < s.d; ++j) acc += p.coef[t * s.d + j] * p.X[i * s.d + j];
      if (s.noise > 0) acc += s.noise * normal(rng);
      p.Y[i * s.k + t] = static_cast<T>(acc);
    }
  }
  return p;
}

// The problem restricted to target t.
template <typename T>
Problem<T> OneTarget(const Problem<T>& p, int64_t t) {
  Problem<T> q = p;
  q.k = 1;
  q.Y.resize(p.n);
  for (int64_t i = 0; i < p.n; ++i) q.Y[i] = p.Y[i * p.k + t];
  q.coef.assign(p.coef.begin() + t * p.d, p.coef.begin() + (t + 1) * p.d);
  q.intercept = {p.intercept[t]};
  return q;
}

// The problem without its last column.
template <typename T>
Problem<T> DropLastColumn(const Problem<T>& p) {
  Problem<T> q = p;
  q.d = p.d - 1;
  q.X.clear();
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t j = 0; j < q.d; ++j) q.X.push_back(p.X[i * p.d + j]);
  }
  q.coef.clear();
  return q;
}

// ---- Independent references, in long double --------------------------------------------------

// A = W^1/2 (X - 1 xm^T), B = W^1/2 (Y - 1 ym^T), with the weighted means (zero without an
// intercept).
struct Centred {
  VecL xm, ym;
  MatL A, B;
};

template <typename T>
Centred Centre(const Problem<T>& p, bool fit_intercept) {
  Centred c;
  c.xm = VecL::Zero(p.d);
  c.ym = VecL::Zero(p.k);
  auto weight = [&](int64_t i) { return p.w.empty() ? 1.0L : static_cast<LD>(p.w[i]); };
  if (fit_intercept) {
    LD sw = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      sw += weight(i);
      for (int64_t j = 0; j < p.d; ++j) c.xm[j] += weight(i) * p.X[i * p.d + j];
      for (int64_t t = 0; t < p.k; ++t) c.ym[t] += weight(i) * p.Y[i * p.k + t];
    }
    c.xm /= sw;
    c.ym /= sw;
  }
  c.A.resize(p.n, p.d);
  c.B.resize(p.n, p.k);
  for (int64_t i = 0; i < p.n; ++i) {
    const LD s = std::sqrt(weight(i));
    for (int64_t j = 0; j < p.d; ++j) c.A(i, j) = s * (p.X[i * p.d + j] - c.xm[j]);
    for (int64_t t = 0; t < p.k; ++t) c.B(i, t) = s * (p.Y[i * p.k + t] - c.ym[t]);
  }
  return c;
}

struct Reference {
  std::vector<LD> coef, intercept;  // k x d and k
};

// coef_dk is d x k (one column per target); intercept = ym - coef xm.
Reference Finish(const Centred& c, const MatL& coef_dk) {
  const int64_t d = coef_dk.rows(), k = coef_dk.cols();
  Reference r;
  r.coef.resize(k * d);
  r.intercept.resize(k);
  for (int64_t t = 0; t < k; ++t) {
    LD dot = 0;
    for (int64_t j = 0; j < d; ++j) {
      r.coef[t * d + j] = coef_dk(j, t);
      dot += c.xm[j] * coef_dk(j, t);
    }
    r.intercept[t] = c.ym[t] - dot;
  }
  return r;
}

// Ridge (alpha = 0: ordinary least squares on full-rank X) from the normal equations.
// alpha has 1 or k entries.
template <typename T>
Reference NormalEquations(const Problem<T>& p, const std::vector<double>& alpha,
                          bool fit_intercept = true) {
  const Centred c = Centre(p, fit_intercept);
  const MatL G = c.A.transpose() * c.A;
  const MatL AtB = c.A.transpose() * c.B;
  MatL coef(p.d, p.k);
  for (int64_t t = 0; t < p.k; ++t) {
    const LD a = alpha.size() == 1 ? alpha[0] : alpha[t];
    const MatL Ga = G + a * MatL::Identity(p.d, p.d);
    coef.col(t) = Ga.fullPivLu().solve(AtB.col(t));
  }
  return Finish(c, coef);
}

// The minimum-norm least-squares solution (any rank).
template <typename T>
Reference MinimumNorm(const Problem<T>& p, bool fit_intercept = true) {
  const Centred c = Centre(p, fit_intercept);
  // An explicit rank threshold: the default (eps * size, relative) can take the rounding left
  // in a duplicated column for a direction. The test problems have no spectrum in between.
  Eigen::CompleteOrthogonalDecomposition<MatL> cod(c.A.rows(), c.A.cols());
  cod.setThreshold(1e-12L);
  cod.compute(c.A);
  return Finish(c, cod.solve(c.B));
}

// Singular values of W^1/2 Xc, descending.
template <typename T>
std::vector<LD> SingularValues(const Problem<T>& p, bool fit_intercept = true) {
  const Centred c = Centre(p, fit_intercept);
  Eigen::JacobiSVD<MatL> svd(c.A);
  const VecL s = svd.singularValues();
  return std::vector<LD>(s.data(), s.data() + s.size());
}

// ---- Comparisons ----------------------------------------------------------------------------

// Every |got - want| <= tol * (1 + |want|).
template <typename T, typename U>
::testing::AssertionResult Close(const std::vector<T>& got, const std::vector<U>& want,
                                 double tol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const LD g = got[i], e = want[i];
    if (!(std::abs(g - e) <= tol * (1 + std::abs(e)))) {
      return ::testing::AssertionFailure()
             << "entry " << i << ": got " << static_cast<double>(g) << ", expected "
             << static_cast<double>(e) << " (tolerance " << tol << " relative to 1 + |expected|)";
    }
  }
  return ::testing::AssertionSuccess();
}

// Bit-for-bit equality.
template <typename T>
::testing::AssertionResult SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "size " << a.size() << " != " << b.size();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
      return ::testing::AssertionFailure() << "entry " << i << ": " << a[i] << " vs " << b[i]
                                           << " (difference " << a[i] - b[i] << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

template <typename T>
::testing::AssertionResult SameModel(const LinearModel<T>& a, const LinearModel<T>& b) {
  if (a.solver != b.solver) {
    return ::testing::AssertionFailure() << "solver " << a.solver << " vs " << b.solver;
  }
  if (a.rank != b.rank)
    return ::testing::AssertionFailure() << "rank " << a.rank << " vs " << b.rank;
  if (auto r = SameBits(a.coef, b.coef); !r) return r << " (coef)";
  if (auto r = SameBits(a.intercept, b.intercept); !r) return r << " (intercept)";
  if (auto r = SameBits(a.singular_values, b.singular_values); !r) return r << " (singular values)";
  return ::testing::AssertionSuccess();
}

template <typename T>
bool DescendingNonNegative(const std::vector<T>& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < 0 || (i > 0 && s[i] > s[i - 1])) return false;
  }
  return true;
}

using ::gpulearn::test_util::ThrowsWith;

// ---- Fitting shorthands ---------------------------------------------------------------------

template <typename T>
LinearModel<T> FitOls(Context& ctx, const Problem<T>& p, bool fit_intercept = true) {
  LinearRegressionParams params;
  params.fit_intercept = fit_intercept;
  return linear_regression_fit<T>(ctx, params, p.x(), p.y(), p.weights());
}

template <typename T>
LinearModel<T> FitRidge(Context& ctx, const Problem<T>& p, std::vector<double> alpha,
                        RidgeSolver solver = RidgeSolver::kAuto, bool fit_intercept = true) {
  RidgeParams params;
  params.alpha = std::move(alpha);
  params.solver = solver;
  params.fit_intercept = fit_intercept;
  return ridge_fit<T>(ctx, params, p.x(), p.y(), p.weights());
}

template <typename T>
std::vector<T> Predict(Context& ctx, const LinearModel<T>& m, MatrixView<const T> X) {
  std::vector<T> out(X.rows * m.n_targets);
  linear_predict<T>(ctx, m, X, MatrixView<T>(out.data(), X.rows, m.n_targets));
  return out;
}

// ---- Typed tests: float and double ----------------------------------------------------------

template <typename T>
class LeastSquaresCpuTest : public ::testing::Test {
 protected:
  static constexpr double kTol = std::is_same_v<T, double> ? 1e-10 : 1e-4;

  std::mt19937_64 SeededRng(uint64_t seed) {
    RecordProperty("seed", std::to_string(seed));
    return std::mt19937_64(seed);
  }

  Context ctx_{Device::cpu()};
};

struct TypeNames {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, float> ? "float" : "double";
  }
};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(LeastSquaresCpuTest, FloatingTypes, TypeNames);

TYPED_TEST(LeastSquaresCpuTest, OlsRecoversExactModelOnGramPath) {
  using T = TypeParam;
  auto rng = this->SeededRng(101);
  const auto p = MakeProblem<T>(rng, Spec{500, 6, 2});
  const LinearModel<T> m = FitOls(this->ctx_, p);
  EXPECT_EQ(m.solver, "cholesky");
  EXPECT_EQ(m.n_features, 6);
  EXPECT_EQ(m.n_targets, 2);
  EXPECT_EQ(m.rank, 6);
  EXPECT_TRUE(Close(m.coef, p.coef, this->kTol)) << "coef";
  EXPECT_TRUE(Close(m.intercept, p.intercept, this->kTol)) << "intercept";
}

TYPED_TEST(LeastSquaresCpuTest, OlsRecoversExactModelOnSvdPathWithDuplicatedColumn) {
  using T = TypeParam;
  auto rng = this->SeededRng(102);
  // Column 6 copies column 2 and both carry the same true coefficient: that model is the
  // minimum-norm one, so the rank-revealing path must return it exactly.
  const auto p = MakeProblem<T>(rng, Spec{400, 7, 2}.WithDuplicate(2));
  const LinearModel<T> m = FitOls(this->ctx_, p);
  EXPECT_EQ(m.solver, "svd");
  EXPECT_EQ(m.rank, 6);
  EXPECT_TRUE(Close(m.coef, p.coef, this->kTol)) << "coef";
  EXPECT_TRUE(Close(m.intercept, p.intercept, this->kTol)) << "intercept";
}

TYPED_TEST(LeastSquaresCpuTest, OlsUnderdeterminedGivesMinimumNormInterpolant) {
  using T = TypeParam;
  auto rng = this->SeededRng(103);
  const auto p = MakeProblem<T>(rng, Spec{15, 40, 2});
  for (bool fit_intercept : {true, false}) {
    SCOPED_TRACE(fit_intercept ? "fit_intercept" : "no intercept");
    const LinearModel<T> m = FitOls(this->ctx_, p, fit_intercept);
    EXPECT_EQ(m.solver, "svd");
    // Centring removes one dimension of the row space.
    EXPECT_EQ(m.rank, fit_intercept ? 14 : 15);
    EXPECT_EQ(m.singular_values.size(), 15u);
    const Reference ref = MinimumNorm(p, fit_intercept);
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
    // n < d: the fit interpolates the training targets.
    EXPECT_TRUE(Close(Predict(this->ctx_, m, p.x()), p.Y, 10 * this->kTol)) << "predictions";
  }
}

TYPED_TEST(LeastSquaresCpuTest, OlsWithNoiseMatchesNormalEquations) {
  using T = TypeParam;
  auto rng = this->SeededRng(104);
  for (bool weights : {false, true}) {
    SCOPED_TRACE(weights ? "weighted" : "unweighted");
    const auto p = MakeProblem<T>(rng, Spec{1000, 8, 3}.WithNoise(0.5).WithWeights(weights));
    const LinearModel<T> m = FitOls(this->ctx_, p);
    EXPECT_EQ(m.solver, "cholesky");
    const Reference ref = NormalEquations(p, {0.0});
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
  }
}

TYPED_TEST(LeastSquaresCpuTest, OlsRankDeficientGivesMinimumNormSplit) {
  using T = TypeParam;
  auto rng = this->SeededRng(105);
  const auto p = MakeProblem<T>(rng, Spec{600, 6, 1}.WithNoise(0.3).WithDuplicate(1));
  const LinearModel<T> m = FitOls(this->ctx_, p);
  EXPECT_EQ(m.solver, "svd");
  EXPECT_EQ(m.rank, 5);
  // Independently of any pseudo-inverse: fit without the copy, then share the duplicated
  // column's coefficient equally between the two copies.
  const Reference reduced = NormalEquations(DropLastColumn(p), {0.0});
  std::vector<LD> expected = reduced.coef;
  expected[1] /= 2;
  expected.push_back(expected[1]);
  EXPECT_TRUE(Close(m.coef, expected, this->kTol)) << "coef";
  EXPECT_TRUE(Close(m.intercept, reduced.intercept, this->kTol)) << "intercept";
  EXPECT_NEAR(m.coef[1], m.coef[5], this->kTol * (1 + std::abs(m.coef[1])));
  EXPECT_TRUE(Close(m.coef, MinimumNorm(p).coef, this->kTol)) << "coef vs COD";
}

TYPED_TEST(LeastSquaresCpuTest, SingularValuesAreThoseOfTheWeightedCentredX) {
  using T = TypeParam;
  auto rng = this->SeededRng(106);
  for (int64_t duplicate : {int64_t{-1}, int64_t{3}}) {
    SCOPED_TRACE(duplicate < 0 ? "full rank (eigh)" : "duplicated column (svd)");
    const auto p =
        MakeProblem<T>(rng, Spec{300, 6, 1}.WithNoise(0.1).WithWeights().WithDuplicate(duplicate));
    const LinearModel<T> m = FitOls(this->ctx_, p);
    EXPECT_EQ(m.solver, duplicate < 0 ? "cholesky" : "svd");
    EXPECT_TRUE(DescendingNonNegative(m.singular_values));
    const std::vector<LD> s = SingularValues(p);
    ASSERT_EQ(m.singular_values.size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      EXPECT_NEAR(m.singular_values[i], static_cast<double>(s[i]), this->kTol * s[0]) << i;
    }
  }
}

TYPED_TEST(LeastSquaresCpuTest, RidgeMatchesClosedForm) {
  using T = TypeParam;
  auto rng = this->SeededRng(107);
  for (bool weights : {false, true}) {
    SCOPED_TRACE(weights ? "weighted" : "unweighted");
    const auto p = MakeProblem<T>(rng, Spec{400, 7, 1}.WithNoise(1.0).WithWeights(weights));
    const LinearModel<T> m = FitRidge(this->ctx_, p, {2.5});
    EXPECT_EQ(m.solver, "cholesky");
    EXPECT_EQ(m.rank, -1);
    EXPECT_TRUE(m.singular_values.empty());
    const Reference ref = NormalEquations(p, {2.5});
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
    // Shrinkage is real: the answer differs from ordinary least squares.
    EXPECT_FALSE(Close(m.coef, NormalEquations(p, {0.0}).coef, 1e-3));
    // "cholesky" is what "auto" does.
    EXPECT_TRUE(SameModel(m, FitRidge(this->ctx_, p, {2.5}, RidgeSolver::kCholesky)));
  }
}

TYPED_TEST(LeastSquaresCpuTest, RidgePerTargetAlphas) {
  using T = TypeParam;
  auto rng = this->SeededRng(108);
  const std::vector<double> alpha = {0.01, 3.0, 300.0};
  for (bool weights : {false, true}) {
    SCOPED_TRACE(weights ? "weighted" : "unweighted");
    const auto p = MakeProblem<T>(rng, Spec{300, 5, 3}.WithNoise(0.5).WithWeights(weights));
    const LinearModel<T> m = FitRidge(this->ctx_, p, alpha);
    EXPECT_EQ(m.solver, "eigh");
    const Reference ref = NormalEquations(p, alpha);
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
  }
}

TYPED_TEST(LeastSquaresCpuTest, RidgeSvdSolverMatchesClosedForm) {
  using T = TypeParam;
  auto rng = this->SeededRng(109);
  struct Case {
    Spec spec;
    std::vector<double> alpha;
  };
  const std::vector<Case> cases = {
      {Spec{400, 7, 1}.WithNoise(1.0).WithWeights(), {2.5}},
      {Spec{300, 5, 3}.WithNoise(0.5), {0.01, 3.0, 300.0}},
      // n < d: the R factor has n rows.
      {Spec{10, 25, 2}.WithNoise(0.5), {0.7}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "n=" << c.spec.n << " d=" << c.spec.d << " k=" << c.spec.k);
    const auto p = MakeProblem<T>(rng, c.spec);
    const LinearModel<T> m = FitRidge(this->ctx_, p, c.alpha, RidgeSolver::kSvd);
    EXPECT_EQ(m.solver, "svd");
    const Reference ref = NormalEquations(p, c.alpha);
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
    if (c.spec.n > c.spec.d) {
      const LinearModel<T> gram = FitRidge(this->ctx_, p, c.alpha);
      EXPECT_NE(gram.solver, "svd");
      EXPECT_TRUE(Close(m.coef, gram.coef, this->kTol)) << "svd vs Gram path";
    }
  }
}

TYPED_TEST(LeastSquaresCpuTest, RidgeSvdSolverWithAlphaZeroGivesMinimumNorm) {
  using T = TypeParam;
  // alpha = 0 on a duplicated column: the rank-revealing path must drop the null direction
  // (its singular value is rounding, ~eps * s_max, not exactly zero) like lstsq does.
  for (uint64_t seed = 120; seed < 124; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto rng = this->SeededRng(seed);
    const auto p = MakeProblem<T>(rng, Spec{300, 5, 2}.WithNoise(0.2).WithDuplicate(0));
    const LinearModel<T> m = FitRidge(this->ctx_, p, {0.0}, RidgeSolver::kSvd);
    EXPECT_EQ(m.solver, "svd");
    const Reference ref = MinimumNorm(p);
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";
  }
}

TYPED_TEST(LeastSquaresCpuTest, RidgeAlphaZeroOnRankDeficientXFallsBackToSvd) {
  using T = TypeParam;
  // Several draws: whether a Cholesky of the singular Gram matrix happens to end on a tiny
  // positive pivot depends on rounding, and such a factor must never be taken for a solution.
  for (uint64_t seed = 110; seed < 116; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto rng = this->SeededRng(seed);
    const auto p = MakeProblem<T>(rng, Spec{300, 5, 2}.WithNoise(0.2).WithDuplicate(0));
    const LinearModel<T> m = FitRidge(this->ctx_, p, {0.0});
    EXPECT_EQ(m.solver, "svd");
    const Reference ref = MinimumNorm(p);
    EXPECT_TRUE(Close(m.coef, ref.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(m.intercept, ref.intercept, this->kTol)) << "intercept";

    // Per-target alphas with one zero: that target is singular too.
    const LinearModel<T> mixed = FitRidge(this->ctx_, p, {0.0, 1.0});
    EXPECT_EQ(mixed.solver, "svd");
    const Reference ridge = NormalEquations(p, {1.0});
    std::vector<LD> expected(ref.coef.begin(), ref.coef.begin() + p.d);
    expected.insert(expected.end(), ridge.coef.begin() + p.d, ridge.coef.end());
    EXPECT_TRUE(Close(mixed.coef, expected, this->kTol)) << "coef, alpha {0, 1}";

    // alpha > 0 makes the same system regular: the Gram path in double, and equal shares. Its
    // condition number (~600 before equilibration) is at float's Gram limit (1e3, see
    // kGramRcond), so float may take either path; both must give the ridge solution.
    const LinearModel<T> regular = FitRidge(this->ctx_, p, {1.0});
    if (std::is_same_v<T, double>) EXPECT_EQ(regular.solver, "cholesky");
    EXPECT_TRUE(Close(regular.coef, ridge.coef, this->kTol)) << "coef, alpha 1";
    // cond(G + I) is ~600 here (lambda_min = alpha = 1): float rounding reaches ~cond * eps, so
    // the two shares agree to ~1e-4 relative in float; double keeps the tight tolerance.
    const double share_tol = std::is_same_v<T, float> ? 1e-3 : this->kTol;
    EXPECT_NEAR(regular.coef[0], regular.coef[4], share_tol * (1 + std::abs(regular.coef[0])));
  }
}

TYPED_TEST(LeastSquaresCpuTest, IntegerSampleWeightsEqualRepeatedRows) {
  using T = TypeParam;
  auto rng = this->SeededRng(111);
  auto p = MakeProblem<T>(rng, Spec{150, 4, 2}.WithNoise(0.5));
  // Weights in {0, 1, 2, 3}: a zero weight drops the row.
  std::uniform_int_distribution<int> count(0, 3);
  p.w.resize(p.n);
  for (auto& wi : p.w) wi = static_cast<T>(count(rng));
  p.w[0] = 0;
  p.w[1] = 3;
  Problem<T> rep = p;
  rep.w.clear();
  rep.X.clear();
  rep.Y.clear();
  rep.n = 0;
  for (int64_t i = 0; i < p.n; ++i) {
    for (int r = 0; r < static_cast<int>(p.w[i]); ++r) {
      rep.X.insert(rep.X.end(), p.X.begin() + i * p.d, p.X.begin() + (i + 1) * p.d);
      rep.Y.insert(rep.Y.end(), p.Y.begin() + i * p.k, p.Y.begin() + (i + 1) * p.k);
      ++rep.n;
    }
  }
  ASSERT_GT(rep.n, p.n);

  auto expect_same = [&](const LinearModel<T>& a, const LinearModel<T>& b) {
    EXPECT_EQ(a.solver, b.solver);
    EXPECT_TRUE(Close(a.coef, b.coef, this->kTol)) << "coef";
    EXPECT_TRUE(Close(a.intercept, b.intercept, this->kTol)) << "intercept";
    EXPECT_TRUE(Close(a.singular_values, b.singular_values, this->kTol)) << "singular values";
  };
  {
    SCOPED_TRACE("LinearRegression");
    expect_same(FitOls(this->ctx_, p), FitOls(this->ctx_, rep));
  }
  {
    SCOPED_TRACE("Ridge");
    expect_same(FitRidge(this->ctx_, p, {1.5}), FitRidge(this->ctx_, rep, {1.5}));
  }
  {
    SCOPED_TRACE("Ridge svd");
    expect_same(FitRidge(this->ctx_, p, {1.5}, RidgeSolver::kSvd),
                FitRidge(this->ctx_, rep, {1.5}, RidgeSolver::kSvd));
  }
  {
    SCOPED_TRACE("LinearRegression, no intercept");
    expect_same(FitOls(this->ctx_, p, false), FitOls(this->ctx_, rep, false));
  }
}

TYPED_TEST(LeastSquaresCpuTest, WithoutInterceptFitsThroughTheOrigin) {
  using T = TypeParam;
  auto rng = this->SeededRng(112);
  // Noise-free data through the origin: recovered exactly, intercept exactly zero.
  const auto exact = MakeProblem<T>(rng, Spec{200, 5, 2}.WithoutIntercept());
  for (const LinearModel<T>& m : {FitOls(this->ctx_, exact, false),
                                  FitRidge(this->ctx_, exact, {0.0}, RidgeSolver::kAuto, false)}) {
    SCOPED_TRACE(m.solver);
    EXPECT_TRUE(Close(m.coef, exact.coef, this->kTol)) << "coef";
    EXPECT_EQ(m.intercept, std::vector<T>(2, T(0)));
  }
  // Data with an intercept, fitted without one: no centring in the reference either.
  const auto p = MakeProblem<T>(rng, Spec{300, 5, 1}.WithNoise(0.5).WithWeights());
  const Reference ols = NormalEquations(p, {0.0}, false);
  const Reference ridge = NormalEquations(p, {4.0}, false);
  const LinearModel<T> m_ols = FitOls(this->ctx_, p, false);
  EXPECT_EQ(m_ols.solver, "cholesky");
  EXPECT_TRUE(Close(m_ols.coef, ols.coef, this->kTol)) << "LinearRegression coef";
  EXPECT_EQ(m_ols.intercept, std::vector<T>{0});
  EXPECT_TRUE(Close(m_ols.singular_values, SingularValues(p, false), this->kTol * 100))
      << "singular values of the uncentred X";
  for (RidgeSolver solver : {RidgeSolver::kAuto, RidgeSolver::kSvd}) {
    const LinearModel<T> m = FitRidge(this->ctx_, p, {4.0}, solver, false);
    SCOPED_TRACE(m.solver);
    EXPECT_TRUE(Close(m.coef, ridge.coef, this->kTol)) << "Ridge coef";
    EXPECT_EQ(m.intercept, std::vector<T>{0});
  }
}

TYPED_TEST(LeastSquaresCpuTest, MultiTargetEqualsOneTargetAtATime) {
  using T = TypeParam;
  auto rng = this->SeededRng(113);
  const auto p = MakeProblem<T>(rng, Spec{500, 6, 3}.WithNoise(0.4).WithWeights());
  const std::vector<double> alphas = {0.5, 5.0, 50.0};
  const LinearModel<T> ols = FitOls(this->ctx_, p);
  const LinearModel<T> ridge = FitRidge(this->ctx_, p, {2.0});
  const LinearModel<T> ridge_each = FitRidge(this->ctx_, p, alphas);
  const LinearModel<T> ridge_svd = FitRidge(this->ctx_, p, alphas, RidgeSolver::kSvd);
  auto row = [&](const LinearModel<T>& m, int64_t t) {
    return std::vector<T>(m.coef.begin() + t * p.d, m.coef.begin() + (t + 1) * p.d);
  };
  for (int64_t t = 0; t < p.k; ++t) {
    SCOPED_TRACE(::testing::Message() << "target " << t);
    const Problem<T> one = OneTarget(p, t);
    const LinearModel<T> ols1 = FitOls(this->ctx_, one);
    const LinearModel<T> ridge1 = FitRidge(this->ctx_, one, {2.0});
    const LinearModel<T> each1 = FitRidge(this->ctx_, one, {alphas[t]});
    const LinearModel<T> svd1 = FitRidge(this->ctx_, one, {alphas[t]}, RidgeSolver::kSvd);
    EXPECT_TRUE(Close(row(ols, t), ols1.coef, this->kTol)) << "LinearRegression";
    EXPECT_NEAR(ols.intercept[t], ols1.intercept[0],
                this->kTol * (1 + std::abs(ols1.intercept[0])));
    EXPECT_TRUE(Close(row(ridge, t), ridge1.coef, this->kTol)) << "Ridge";
    EXPECT_TRUE(Close(row(ridge_each, t), each1.coef, this->kTol)) << "Ridge, per-target alpha";
    EXPECT_NEAR(ridge_each.intercept[t], each1.intercept[0],
                this->kTol * (1 + std::abs(each1.intercept[0])));
    EXPECT_TRUE(Close(row(ridge_svd, t), svd1.coef, this->kTol)) << "Ridge svd";
  }
}

TYPED_TEST(LeastSquaresCpuTest, PredictIsXCoefTransposePlusIntercept) {
  using T = TypeParam;
  auto rng = this->SeededRng(114);
  const auto p = MakeProblem<T>(rng, Spec{300, 5, 2}.WithNoise(0.5));
  const LinearModel<T> m = FitRidge(this->ctx_, p, {1.0});
  const auto fresh = MakeProblem<T>(rng, Spec{257, 5, 1});
  const std::vector<T> out = Predict(this->ctx_, m, fresh.x());
  std::vector<LD> expected(fresh.n * 2);
  for (int64_t i = 0; i < fresh.n; ++i) {
    for (int64_t t = 0; t < 2; ++t) {
      LD acc = m.intercept[t];
      for (int64_t j = 0; j < 5; ++j)
        acc += static_cast<LD>(m.coef[t * 5 + j]) * fresh.X[i * 5 + j];
      expected[i * 2 + t] = acc;
    }
  }
  EXPECT_TRUE(Close(out, expected, this->kTol));

  // Into a strided output: the padding is left alone.
  const T sentinel = T(-12345.5);
  std::vector<T> strided(fresh.n * 5, sentinel);
  linear_predict<T>(this->ctx_, m, fresh.x(), MatrixView<T>(strided.data(), fresh.n, 2, 5));
  for (int64_t i = 0; i < fresh.n; ++i) {
    EXPECT_EQ(strided[i * 5 + 0], out[i * 2 + 0]);
    EXPECT_EQ(strided[i * 5 + 1], out[i * 2 + 1]);
    for (int64_t j = 2; j < 5; ++j) ASSERT_EQ(strided[i * 5 + j], sentinel) << i << ", " << j;
  }
  // No rows: nothing to do, no error.
  EXPECT_NO_THROW(linear_predict<T>(this->ctx_, m, MatrixView<const T>(fresh.X.data(), 0, 5),
                                    MatrixView<T>(strided.data(), 0, 2)));
}

TYPED_TEST(LeastSquaresCpuTest, StridedViewsGiveTheSameBits) {
  using T = TypeParam;
  auto rng = this->SeededRng(115);
  for (int64_t duplicate : {int64_t{-1}, int64_t{2}}) {
    SCOPED_TRACE(duplicate < 0 ? "full rank" : "duplicated column");
    const auto p =
        MakeProblem<T>(rng, Spec{5000, 6, 2}.WithNoise(0.5).WithWeights().WithDuplicate(duplicate));
    // Padding holds NaN: reading it would make the fit throw.
    const int64_t ldx = p.d + 3, ldy = p.k + 1, sw = 3;
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::vector<T> X(p.n * ldx, nan), Y(p.n * ldy, nan), w(p.n * sw, nan);
    for (int64_t i = 0; i < p.n; ++i) {
      std::copy_n(p.X.begin() + i * p.d, p.d, X.begin() + i * ldx);
      std::copy_n(p.Y.begin() + i * p.k, p.k, Y.begin() + i * ldy);
      w[i * sw] = p.w[i];
    }
    const MatrixView<const T> xs(X.data(), p.n, p.d, ldx), ys(Y.data(), p.n, p.k, ldy);
    const VectorView<const T> ws(w.data(), p.n, sw);
    LinearRegressionParams ols;
    EXPECT_TRUE(
        SameModel(linear_regression_fit<T>(this->ctx_, ols, xs, ys, ws), FitOls(this->ctx_, p)))
        << "LinearRegression";
    for (RidgeSolver solver : {RidgeSolver::kAuto, RidgeSolver::kSvd}) {
      for (std::vector<double> alpha : {std::vector<double>{1.0}, std::vector<double>{1.0, 9.0}}) {
        RidgeParams rp;
        rp.alpha = alpha;
        rp.solver = solver;
        const LinearModel<T> m = ridge_fit<T>(this->ctx_, rp, xs, ys, ws);
        EXPECT_TRUE(SameModel(m, FitRidge(this->ctx_, p, alpha, solver))) << "Ridge " << m.solver;
      }
    }
    const LinearModel<T> m = FitOls(this->ctx_, p);
    EXPECT_TRUE(SameBits(Predict(this->ctx_, m, xs), Predict(this->ctx_, m, p.x()))) << "predict";
  }
}

TYPED_TEST(LeastSquaresCpuTest, ThreadCountDoesNotChangeBits) {
  using T = TypeParam;
  auto rng = this->SeededRng(116);
  // Enough rows for several row partitions.
  const auto p = MakeProblem<T>(rng, Spec{20000, 9, 2}.WithNoise(0.5).WithWeights());
  const auto q =
      MakeProblem<T>(rng, Spec{20000, 9, 2}.WithNoise(0.5).WithWeights().WithDuplicate(4));
  auto fit_all = [&](Context& ctx) {
    std::vector<LinearModel<T>> models = {FitOls(ctx, p), FitOls(ctx, q), FitRidge(ctx, p, {3.0}),
                                          FitRidge(ctx, p, {3.0, 0.1}),
                                          FitRidge(ctx, p, {3.0}, RidgeSolver::kSvd)};
    return models;
  };
  Context& ctx = this->ctx_;
  ctx.set_n_threads(1);
  const auto one = fit_all(ctx);
  const std::vector<T> pred_one = Predict(ctx, one[0], p.x());
  EXPECT_EQ(one[0].solver, "cholesky");
  EXPECT_EQ(one[1].solver, "svd");
  EXPECT_EQ(one[2].solver, "cholesky");
  EXPECT_EQ(one[3].solver, "eigh");
  EXPECT_EQ(one[4].solver, "svd");
  for (int threads : {2, 3, 0}) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    ctx.set_n_threads(threads);
    const auto many = fit_all(ctx);
    for (size_t i = 0; i < one.size(); ++i)
      EXPECT_TRUE(SameModel(one[i], many[i])) << "model " << i;
    EXPECT_TRUE(SameBits(pred_one, Predict(ctx, one[0], p.x()))) << "predict";
  }
}

TYPED_TEST(LeastSquaresCpuTest, InputsAreNeverWritten) {
  using T = TypeParam;
  auto rng = this->SeededRng(117);
  const auto p = MakeProblem<T>(rng, Spec{3000, 5, 2}.WithNoise(0.5).WithWeights());
  const Problem<T> copy = p;
  FitOls(this->ctx_, p);
  FitRidge(this->ctx_, p, {1.0});
  FitRidge(this->ctx_, p, {1.0, 2.0});
  const LinearModel<T> m = FitRidge(this->ctx_, p, {1.0}, RidgeSolver::kSvd);
  Predict(this->ctx_, m, p.x());
  EXPECT_TRUE(SameBits(p.X, copy.X));
  EXPECT_TRUE(SameBits(p.Y, copy.Y));
  EXPECT_TRUE(SameBits(p.w, copy.w));
}

TYPED_TEST(LeastSquaresCpuTest, LargeNSanity) {
  using T = TypeParam;
  auto rng = this->SeededRng(118);
  const auto p = MakeProblem<T>(rng, Spec{300000, 8, 1}.WithNoise(0.1));
  const LinearModel<T> ols = FitOls(this->ctx_, p);
  EXPECT_EQ(ols.solver, "cholesky");
  const Reference ref = NormalEquations(p, {0.0});
  EXPECT_TRUE(Close(ols.coef, ref.coef, this->kTol)) << "LinearRegression coef";
  EXPECT_TRUE(Close(ols.intercept, ref.intercept, this->kTol)) << "LinearRegression intercept";
  const LinearModel<T> ridge = FitRidge(this->ctx_, p, {10.0}, RidgeSolver::kSvd);
  const Reference ridge_ref = NormalEquations(p, {10.0});
  EXPECT_TRUE(Close(ridge.coef, ridge_ref.coef, this->kTol)) << "Ridge svd coef";
  EXPECT_TRUE(Close(ridge.intercept, ridge_ref.intercept, this->kTol)) << "Ridge svd intercept";
}

// ---- Bad input ------------------------------------------------------------------------------

class LeastSquaresBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecordProperty("seed", "119");
    std::mt19937_64 rng(119);
    p_ = MakeProblem<double>(rng, Spec{20, 3, 1}.WithNoise(0.5).WithWeights());
  }

  // Both estimators on (X, Y, w) must throw E mentioning every needle.
  template <typename E = InvalidArgument>
  void ExpectBothThrow(MatrixView<const double> X, MatrixView<const double> Y,
                       VectorView<const double> w, const std::vector<std::string>& needles) {
    EXPECT_TRUE(ThrowsWith<E>([&] { linear_regression_fit<double>(ctx_, {}, X, Y, w); }, needles))
        << "LinearRegression";
    EXPECT_TRUE(ThrowsWith<E>([&] { ridge_fit<double>(ctx_, {}, X, Y, w); }, needles)) << "Ridge";
  }

  Context ctx_{Device::cpu()};
  Problem<double> p_;
};

TEST_F(LeastSquaresBadInputTest, ZeroRows) {
  ExpectBothThrow(MatrixView<const double>(p_.X.data(), 0, 3),
                  MatrixView<const double>(p_.Y.data(), 0, 1), {}, {"0 sample(s)"});
}

TEST_F(LeastSquaresBadInputTest, ZeroColumns) {
  ExpectBothThrow(MatrixView<const double>(p_.X.data(), 20, 0), p_.y(), {}, {"0 feature(s)"});
}

TEST_F(LeastSquaresBadInputTest, NoTargetColumn) {
  ExpectBothThrow(p_.x(), MatrixView<const double>(p_.Y.data(), 20, 0), {}, {"no target"});
}

TEST_F(LeastSquaresBadInputTest, TargetRowCountMismatch) {
  ExpectBothThrow(p_.x(), MatrixView<const double>(p_.Y.data(), 19, 1), {},
                  {"X has 20 samples but y has 19"});
}

TEST_F(LeastSquaresBadInputTest, NonFiniteX) {
  // Large enough for several partitions of the finiteness check; first, middle and last entry.
  std::mt19937_64 rng(120);
  RecordProperty("seed", "120");
  const auto big = MakeProblem<double>(rng, Spec{20000, 4, 1});
  for (double bad : {kNaN, kInf, -kInf}) {
    for (int64_t at : {int64_t{0}, big.n * big.d / 2 + 1, big.n * big.d - 1}) {
      SCOPED_TRACE(::testing::Message() << bad << " at " << at);
      std::vector<double> X = big.X;
      X[at] = bad;
      ExpectBothThrow(MatrixView<const double>(X.data(), big.n, big.d), big.y(), {},
                      {"Input X contains NaN or infinity"});
    }
  }
}

TEST_F(LeastSquaresBadInputTest, NonFiniteY) {
  for (double bad : {kNaN, kInf}) {
    std::vector<double> Y = p_.Y;
    Y[19] = bad;
    ExpectBothThrow(p_.x(), MatrixView<const double>(Y.data(), 20, 1), {},
                    {"Input y contains NaN or infinity"});
  }
}

TEST_F(LeastSquaresBadInputTest, NonFiniteOrNegativeWeights) {
  std::vector<double> w = p_.w;
  w[7] = kNaN;
  ExpectBothThrow(p_.x(), p_.y(), VectorView<const double>(w.data(), 20),
                  {"sample_weight contains NaN or infinity"});
  w[7] = -0.5;
  ExpectBothThrow(p_.x(), p_.y(), VectorView<const double>(w.data(), 20),
                  {"Negative values", "sample_weight"});
}

TEST_F(LeastSquaresBadInputTest, AllZeroWeights) {
  const std::vector<double> w(20, 0.0);
  const VectorView<const double> wv(w.data(), 20);
  ExpectBothThrow(p_.x(), p_.y(), wv, {"sample_weight sums to zero"});
  LinearRegressionParams no_intercept;
  no_intercept.fit_intercept = false;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { linear_regression_fit<double>(ctx_, no_intercept, p_.x(), p_.y(), wv); },
      {"sums to zero"}))
      << "without intercept";
}

TEST_F(LeastSquaresBadInputTest, WeightsOfWrongLength) {
  ExpectBothThrow(p_.x(), p_.y(), VectorView<const double>(p_.w.data(), 19),
                  {"sample_weight has 19 entries but X has 20 samples"});
}

TEST_F(LeastSquaresBadInputTest, BadAlpha) {
  for (double alpha : {-1.0, kNaN, kInf}) {
    SCOPED_TRACE(::testing::Message() << "alpha " << alpha);
    RidgeParams params;
    params.alpha = {alpha};
    EXPECT_TRUE(ThrowsWith<InvalidArgument>(
        [&] { ridge_fit<double>(ctx_, params, p_.x(), p_.y(), p_.weights()); },
        {"alpha must be a finite number >= 0"}));
  }
  RidgeParams negative_second;
  negative_second.alpha = {1.0, -2.0};
  std::vector<double> Y2(40, 1.5);
  for (int64_t i = 0; i < 20; ++i) Y2[2 * i + 1] = p_.Y[i];
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        ridge_fit<double>(ctx_, negative_second, p_.x(),
                          MatrixView<const double>(Y2.data(), 20, 2));
      },
      {"alpha", "-2"}));
}

TEST_F(LeastSquaresBadInputTest, AlphaOfWrongLength) {
  std::vector<double> Y2(40);
  for (int64_t i = 0; i < 40; ++i) Y2[i] = p_.Y[i / 2] + i;
  const MatrixView<const double> y2(Y2.data(), 20, 2);
  RidgeParams params;
  params.alpha = {1.0, 2.0, 3.0};
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { ridge_fit<double>(ctx_, params, p_.x(), y2); },
                                          {"number of penalties", "3 != 2"}));
  params.alpha = {};
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { ridge_fit<double>(ctx_, params, p_.x(), y2); },
                                          {"number of penalties", "0 != 2"}));
}

TEST_F(LeastSquaresBadInputTest, BadTol) {
  LinearRegressionParams params;
  for (double tol : {-1e-3, kNaN, kInf}) {
    params.tol = tol;
    EXPECT_TRUE(ThrowsWith<InvalidArgument>(
        [&] { linear_regression_fit<double>(ctx_, params, p_.x(), p_.y()); }, {"tol"}))
        << tol;
  }
}

TEST_F(LeastSquaresBadInputTest, PositiveIsUnsupported) {
  LinearRegressionParams ols;
  ols.positive = true;
  EXPECT_TRUE(ThrowsWith<Unsupported>(
      [&] { linear_regression_fit<double>(ctx_, ols, p_.x(), p_.y()); }, {"positive"}));
  RidgeParams ridge;
  ridge.positive = true;
  EXPECT_TRUE(ThrowsWith<Unsupported>([&] { ridge_fit<double>(ctx_, ridge, p_.x(), p_.y()); },
                                      {"positive"}));
}

TEST_F(LeastSquaresBadInputTest, DeviceMemoryOnCpuContext) {
  // Labelled device memory is never read by a CPU context, so host memory stands in for it.
  const MatrixView<const double> xd(p_.X.data(), 20, 3, 3, MemorySpace::kDevice);
  const MatrixView<const double> yd(p_.Y.data(), 20, 1, 1, MemorySpace::kDevice);
  ExpectBothThrow(xd, yd, {}, {"device memory", "cpu backend cannot read"});
  ExpectBothThrow(p_.x(), yd, {}, {"all be in host memory or all in device memory"});
  const LinearModel<double> m = FitOls(ctx_, p_);
  std::vector<double> out(20);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        linear_predict<double>(ctx_, m, xd,
                               MatrixView<double>(out.data(), 20, 1, 1, MemorySpace::kDevice));
      },
      {"cpu backend cannot read"}));
}

TEST_F(LeastSquaresBadInputTest, PredictWithWrongFeatureCount) {
  const LinearModel<double> m = FitRidge(ctx_, p_, {1.0});
  std::vector<double> X4(20 * 4, 0.25), out(20);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        linear_predict<double>(ctx_, m, MatrixView<const double>(X4.data(), 20, 4),
                               MatrixView<double>(out.data(), 20, 1));
      },
      {"X has 4 features, but the model is expecting 3 features as input."}));
}

TEST_F(LeastSquaresBadInputTest, PredictIntoWrongOutputShapeOrNonFiniteX) {
  const LinearModel<double> m = FitOls(ctx_, p_);
  std::vector<double> out(40);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { linear_predict<double>(ctx_, m, p_.x(), MatrixView<double>(out.data(), 20, 2)); },
      {"output has shape (20, 2), expected (20, 1)"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { linear_predict<double>(ctx_, m, p_.x(), MatrixView<double>(out.data(), 19, 1)); },
      {"output has shape"}));
  std::vector<double> X = p_.X;
  X[5] = kNaN;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        linear_predict<double>(ctx_, m, MatrixView<const double>(X.data(), 20, 3),
                               MatrixView<double>(out.data(), 20, 1));
      },
      {"Input X contains NaN or infinity"}));
}

TEST_F(LeastSquaresBadInputTest, PredictUnfittedThrowsNotFitted) {
  const LinearModel<double> m;
  std::vector<double> out(20);
  EXPECT_TRUE(ThrowsWith<NotFitted>(
      [&] { linear_predict<double>(ctx_, m, p_.x(), MatrixView<double>(out.data(), 20, 1)); },
      {"not fitted"}));
  const LinearModel<float> mf;
  std::vector<float> xf(6, 1.0f), of(2);
  EXPECT_THROW(linear_predict<float>(ctx_, mf, MatrixView<const float>(xf.data(), 2, 3),
                                     MatrixView<float>(of.data(), 2, 1)),
               NotFitted);
}

TEST_F(LeastSquaresBadInputTest, FloatInputsAreCheckedToo) {
  std::mt19937_64 rng(121);
  RecordProperty("seed", "121");
  auto p = MakeProblem<float>(rng, Spec{50, 3, 1}.WithWeights());
  std::vector<float> X = p.X;
  X[100] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        linear_regression_fit<float>(ctx_, {}, MatrixView<const float>(X.data(), 50, 3), p.y());
      },
      {"Input X contains NaN or infinity"}));
  p.w[3] = -1.0f;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { ridge_fit<float>(ctx_, {}, p.x(), p.y(), p.weights()); }, {"Negative values"}));
}

}  // namespace
}  // namespace gpulearn::linear_model
