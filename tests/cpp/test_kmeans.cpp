// k-means on the CPU backend: the primitives against plain loops written here (distances
// computed directly as sum (x - c)^2 in long double), their independence of the thread count,
// and the driver's checks and fixed points. Tolerances: 1e-10 relative in double, 1e-4 in
// float, for quantities computed by the |x|^2 - 2 x.c + |c|^2 expansion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cluster/primitives.hpp"
#include "core/backend.hpp"
#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "test_util.hpp"

namespace gpulearn::cluster {
namespace {

template <typename T>
double Tol() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-10;
}

// n points around k well-separated centers in d dimensions, offset far from the origin (the
// expansion's cancellation is what the shift guards against), row stride ld >= d.
template <typename T>
struct Problem {
  int64_t n, d, k, ld;
  std::vector<T> x, centers, w;

  Problem(int64_t n_, int64_t d_, int64_t k_, uint64_t seed, int64_t pad = 0)
      : n(n_), d(d_), k(k_), ld(d_ + pad) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(0.5, 2.0);
    std::vector<double> truth(k * d);
    for (double& v : truth) v = 20 * normal(rng);
    x.assign(n * ld, T(-999));  // padding that must never be read into a result
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t l = 0; l < d; ++l) x[i * ld + l] = T(100 + truth[(i % k) * d + l] + normal(rng));
    }
    centers.resize(k * d);
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t l = 0; l < d; ++l) centers[j * d + l] = T(truth[j * d + l] + normal(rng));
    }
    w.resize(n);
    for (T& v : w) v = T(uniform(rng));
  }
  MatrixView<const T> X() const { return MatrixView<const T>(x.data(), n, d, ld); }
  VectorView<const T> W() const { return VectorView<const T>(w.data(), n); }
  long double Dist(int64_t i, const T* shift, int64_t j) const {
    long double s = 0;
    for (int64_t l = 0; l < d; ++l) {
      const long double v =
          (long double)x[i * ld + l] - (shift ? shift[l] : 0) - centers[j * d + l];
      s += v * v;
    }
    return s;
  }
};

template <typename T>
class KMeansCpuTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KMeansCpuTest, FloatTypes);

TYPED_TEST(KMeansCpuTest, AssignMatchesPlainLoopsAndIgnoresThreadCount) {
  using T = TypeParam;
  const Problem<T> p(5000, 7, 5, 301, 3);
  std::vector<T> shift(p.d, T(100));
  // Reference: nearest center by direct distance, sums of w (x - s), inertia.
  std::vector<int32_t> ref(p.n);
  std::vector<long double> sums(p.k * p.d, 0), weights(p.k, 0);
  long double inertia = 0;
  for (int64_t i = 0; i < p.n; ++i) {
    int32_t best = 0;
    for (int64_t j = 1; j < p.k; ++j)
      best = p.Dist(i, shift.data(), j) < p.Dist(i, shift.data(), best) ? j : best;
    ref[i] = best;
    inertia += p.w[i] * p.Dist(i, shift.data(), best);
    weights[best] += p.w[i];
    for (int64_t l = 0; l < p.d; ++l)
      sums[best * p.d + l] += p.w[i] * ((long double)p.x[i * p.ld + l] - shift[l]);
  }
  std::vector<double> first_sums;
  for (int threads : {1, 2, 3}) {
    auto be = detail::make_cpu_backend(threads);
    std::vector<int32_t> labels(p.n, -1);
    std::vector<T> dist(p.n);
    std::vector<double> s(p.k * p.d), w(p.k);
    const detail::KMeansStepStats st =
        be->template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
            p.X(), p.W(), shift.data(), p.centers.data(), p.k, labels.data(), dist.data(), s.data(),
            w.data());
    EXPECT_EQ(labels, ref) << threads << " threads";
    EXPECT_EQ(st.changed, p.n);
    EXPECT_NEAR(st.inertia, (double)inertia, Tol<T>() * (double)inertia);
    for (int64_t j = 0; j < p.k; ++j)
      EXPECT_NEAR(w[j], (double)weights[j], 1e-9 * (double)weights[j]);
    for (int64_t e = 0; e < p.k * p.d; ++e)
      EXPECT_NEAR(s[e], (double)sums[e], Tol<T>() * (1 + std::abs((double)sums[e])));
    for (int64_t i = 0; i < p.n; i += 97)
      EXPECT_NEAR(dist[i], (double)p.Dist(i, shift.data(), ref[i]), Tol<T>() * 1e2 * (1 + dist[i]));
    if (first_sums.empty()) first_sums = s;
    EXPECT_EQ(s, first_sums) << "sums depend on the thread count";
    // A second pass with the same centers changes nothing.
    EXPECT_EQ(be->template primitives<detail::ClusterPrimitives<T>>()
                  .kmeans_assign(p.X(), p.W(), shift.data(), p.centers.data(), p.k, labels.data(),
                                 nullptr, nullptr, nullptr)
                  .changed,
              0);
  }
}

TYPED_TEST(KMeansCpuTest, TiesGoToTheLowestIndex) {
  using T = TypeParam;
  const std::vector<T> x = {0, 0, 2, 0};        // two points
  const std::vector<T> c = {1, 0, 1, 0, 3, 0};  // centers 0 and 1 coincide
  auto be = detail::make_cpu_backend(1);
  std::vector<int32_t> labels(2, 7);
  be->template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
      MatrixView<const T>(x.data(), 2, 2), VectorView<const T>(), nullptr, c.data(), 3,
      labels.data(), nullptr, nullptr, nullptr);
  EXPECT_EQ(labels, (std::vector<int32_t>{0, 0}));
}

TYPED_TEST(KMeansCpuTest, SqDistancesPotentialsAndUpdate) {
  using T = TypeParam;
  const Problem<T> p(700, 4, 3, 302);
  auto be = detail::make_cpu_backend(2);
  std::vector<T> D(p.n * p.k);
  be->template primitives<detail::ClusterPrimitives<T>>().sq_distances(
      p.X(), nullptr, p.centers.data(), p.k, MatrixView<T>(D.data(), p.n, p.k));
  for (int64_t i = 0; i < p.n; i += 13) {
    for (int64_t j = 0; j < p.k; ++j) {
      EXPECT_NEAR(D[i * p.k + j], (double)p.Dist(i, nullptr, j),
                  Tol<T>() * 1e3 * (1 + D[i * p.k + j]));
    }
  }
  std::vector<T> cur(p.n);
  for (int64_t i = 0; i < p.n; ++i) cur[i] = D[i * p.k + 1] * T(0.7);
  std::vector<double> pot(p.k);
  be->template primitives<detail::ClusterPrimitives<T>>().min_potentials(
      VectorView<const T>(cur.data(), p.n), MatrixView<const T>(D.data(), p.n, p.k), p.W(),
      pot.data());
  for (int64_t j = 0; j < p.k; ++j) {
    double expect = 0;
    for (int64_t i = 0; i < p.n; ++i) expect += (double)p.w[i] * std::min(cur[i], D[i * p.k + j]);
    EXPECT_NEAR(pot[j], expect, 1e-12 * expect);
  }
  std::vector<T> updated = cur;
  be->template primitives<detail::ClusterPrimitives<T>>().min_update(
      VectorView<T>(updated.data(), p.n), MatrixView<const T>(D.data(), p.n, p.k), 2);
  for (int64_t i = 0; i < p.n; ++i) EXPECT_EQ(updated[i], std::min(cur[i], D[i * p.k + 2]));
}

TYPED_TEST(KMeansCpuTest, DrawsFollowSearchsorted) {
  using T = TypeParam;
  const std::vector<T> p = {0, 1, 0, 3, 0};  // cumulative 0 1 1 4 4, total 4
  auto be = detail::make_cpu_backend(1);
  const std::vector<double> u = {0.0, 0.2, 0.25, 0.26, 0.99, 0.999999};
  std::vector<int64_t> idx(u.size());
  be->template primitives<detail::ClusterPrimitives<T>>().weighted_draws(
      VectorView<const T>(p.data(), 5), VectorView<const T>(), u.data(), u.size(), idx.data());
  EXPECT_EQ(idx, (std::vector<int64_t>{0, 1, 1, 3, 3, 3}));
  // With weights and no p: the weights alone.
  const std::vector<T> w = {1, 0, 1, 0, 2};
  be->template primitives<detail::ClusterPrimitives<T>>().weighted_draws(
      VectorView<const T>(), VectorView<const T>(w.data(), 5), u.data(), u.size(), idx.data());
  EXPECT_EQ(idx, (std::vector<int64_t>{0, 0, 0, 2, 4, 4}));
}

TYPED_TEST(KMeansCpuTest, IndependentDrawsAndLargest) {
  using T = TypeParam;
  std::vector<T> p(10000, T(1));
  auto be = detail::make_cpu_backend(1);
  const auto all = be->template primitives<detail::ClusterPrimitives<T>>().independent_draws(
      VectorView<const T>(p.data(), p.size()), VectorView<const T>(), 1.0, 5);
  EXPECT_EQ(all.size(), p.size());  // probability 1: every row
  const auto some = be->template primitives<detail::ClusterPrimitives<T>>().independent_draws(
      VectorView<const T>(p.data(), p.size()), VectorView<const T>(), 0.1, 5);
  EXPECT_GT(some.size(), 850u);
  EXPECT_LT(some.size(), 1150u);
  EXPECT_TRUE(std::is_sorted(some.begin(), some.end()));
  EXPECT_EQ(some, be->template primitives<detail::ClusterPrimitives<T>>().independent_draws(
                      VectorView<const T>(p.data(), p.size()), VectorView<const T>(), 0.1, 5));
  const std::vector<T> v = {3, 9, 1, 9, 5};
  std::vector<int64_t> idx(3);
  be->template primitives<detail::ClusterPrimitives<T>>().largest(VectorView<const T>(v.data(), 5),
                                                                  3, idx.data());
  EXPECT_EQ(idx, (std::vector<int64_t>{1, 3, 4}));
}

TYPED_TEST(KMeansCpuTest, FitFromTheTrueCentersConvergesAtOnceAndIsReproducible) {
  using T = TypeParam;
  const Problem<T> p(3000, 5, 4, 303);
  Context ctx(Device::cpu());
  KMeansParams params;
  params.n_clusters = p.k;
  params.init = KMeansInit::kKMeansPlusPlus;
  params.seed = 17;
  std::vector<int32_t> a(p.n), b(p.n);
  const auto m1 = kmeans_fit<T>(ctx, params, p.X(), VectorView<const T>(), nullptr, a.data());
  const auto m2 = kmeans_fit<T>(ctx, params, p.X(), VectorView<const T>(), nullptr, b.data());
  EXPECT_EQ(m1.centers, m2.centers);
  EXPECT_EQ(a, b);
  // Each generated group is one cluster.
  for (int64_t i = p.k; i < p.n; ++i) EXPECT_EQ(a[i], a[i % p.k]);
  std::vector<int32_t> c(p.n);
  const double inertia = kmeans_predict<T>(ctx, m1, p.X(), VectorView<const T>(), c.data());
  EXPECT_EQ(c, a);
  EXPECT_NEAR(inertia, m1.inertia, Tol<T>() * m1.inertia);
}

TYPED_TEST(KMeansCpuTest, DriverRejectsBadInput) {
  using T = TypeParam;
  Problem<T> p(20, 3, 2, 304);
  Context ctx(Device::cpu());
  KMeansParams params;
  params.n_clusters = 21;
  std::vector<int32_t> labels(p.n);
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { kmeans_fit<T>(ctx, params, p.X(), VectorView<const T>(), nullptr, labels.data()); },
      {"n_samples=20 should be >= n_clusters=21."}));
  params.n_clusters = 2;
  p.x[5] = std::numeric_limits<T>::quiet_NaN();
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { kmeans_fit<T>(ctx, params, p.X(), VectorView<const T>(), nullptr, labels.data()); },
      {"Input X contains NaN or infinity."}));
  p.x[5] = 1;
  p.w[3] = -1;
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { kmeans_fit<T>(ctx, params, p.X(), p.W(), nullptr, labels.data()); },
      {"Negative values in data passed to sample_weight"}));
  params.init = KMeansInit::kArray;
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { kmeans_fit<T>(ctx, params, p.X(), VectorView<const T>(), nullptr, labels.data()); },
      {"init is an array but no centers were given"}));
  KMeansModel<T> empty;
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { kmeans_predict<T>(ctx, empty, p.X(), VectorView<const T>(), labels.data()); },
      {"not fitted"}));
}

}  // namespace
}  // namespace gpulearn::cluster
