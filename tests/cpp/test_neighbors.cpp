// Brute-force neighbours on the CPU backend through the public API, against a reference written
// here: every pair's distance computed directly in long double, sorted by (distance, index).
// Data are uniform random (no two distances of a query within 1e-9 relative of each other in
// double, so the order is determined). Tolerances: distances 1e-12 relative in double and
// 1e-6 in float (the exact pass computes them in double and rounds once to T); indices exactly
// in double; in float an index may differ only where the reference's distances at that rank
// are within 1e-5 relative (the selection runs on distances rounded in float).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/neighbors/nearest_neighbors.hpp"
#include "test_util.hpp"

namespace gpulearn::neighbors {
namespace {

using test_util::ThrowsWith;

template <typename T>
double DistTol() {
  return std::is_same_v<T, float> ? 1e-6 : 1e-12;
}

struct MetricCase {
  Metric metric;
  double p;
  const char* name;
};

const MetricCase kMetrics[] = {
    {Metric::kMinkowski, 2, "minkowski2"},       {Metric::kEuclidean, 2, "euclidean"},
    {Metric::kSqEuclidean, 2, "sqeuclidean"},    {Metric::kManhattan, 1, "manhattan"},
    {Metric::kChebyshev, 1, "chebyshev"},        {Metric::kMinkowski, 3, "minkowski3"},
    {Metric::kMinkowski, 1.5, "minkowski1.5"},   {Metric::kCosine, 2, "cosine"},
    {Metric::kInnerProduct, 2, "inner_product"},
};

long double RefDistance(const MetricCase& m, const double* a, const double* b, int64_t d) {
  long double acc = 0, an = 0, bn = 0;
  for (int64_t l = 0; l < d; ++l) {
    const long double u = a[l], v = b[l], diff = std::fabs(u - v);
    switch (m.metric) {
      case Metric::kEuclidean:
      case Metric::kSqEuclidean:
        acc += diff * diff;
        break;
      case Metric::kManhattan:
        acc += diff;
        break;
      case Metric::kChebyshev:
        acc = std::max(acc, diff);
        break;
      case Metric::kMinkowski:
        acc += std::pow(diff, (long double)m.p);
        break;
      case Metric::kCosine:
      case Metric::kInnerProduct:
        acc += u * v;
        an += u * u;
        bn += v * v;
        break;
    }
  }
  switch (m.metric) {
    case Metric::kEuclidean:
      return std::sqrt(acc);
    case Metric::kMinkowski:
      return std::pow(acc, 1.0L / m.p);
    case Metric::kCosine:
      return (an == 0 || bn == 0) ? 1.0L : 1.0L - acc / (std::sqrt(an) * std::sqrt(bn));
    case Metric::kInnerProduct:
      return -acc;  // ranked ascending; the API returns its negative
    default:
      return acc;
  }
}

// Rows of uniform data in [-1, 1) with stride ld, kept in double for the reference.
struct Data {
  int64_t n, d, ld;
  std::vector<double> ref;
  Data(int64_t n_, int64_t d_, uint64_t seed, int64_t pad = 0) : n(n_), d(d_), ld(d_ + pad) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    ref.resize(n * d);
    for (double& v : ref) v = u(rng);
  }
  template <typename T>
  std::vector<T> As() const {
    std::vector<T> x(n * ld, T(1e6));  // padding that must never be read
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t l = 0; l < d; ++l) x[i * ld + l] = T(ref[i * d + l]);
    }
    return x;
  }
};

// The reference's sorted (distance, index) lists of each query, computed from the values as
// rounded to T (so that float data are compared with their own exact distances).
template <typename T>
std::vector<std::vector<std::pair<long double, int64_t>>> Reference(const MetricCase& m,
                                                                    const Data& index,
                                                                    const Data& queries,
                                                                    bool exclude_self) {
  std::vector<double> xi(index.ref.size()), xq(queries.ref.size());
  for (size_t i = 0; i < xi.size(); ++i) xi[i] = double(T(index.ref[i]));
  for (size_t i = 0; i < xq.size(); ++i) xq[i] = double(T(queries.ref[i]));
  std::vector<std::vector<std::pair<long double, int64_t>>> out(queries.n);
  for (int64_t q = 0; q < queries.n; ++q) {
    for (int64_t j = 0; j < index.n; ++j) {
      if (exclude_self && j == q) continue;
      out[q].emplace_back(RefDistance(m, &xq[q * index.d], &xi[j * index.d], index.d), j);
    }
    std::sort(out[q].begin(), out[q].end());
  }
  return out;
}

template <typename T>
void CheckKnn(const MetricCase& m, int64_t n, int64_t n_q, int64_t d, int64_t k, bool self,
              int64_t pad, Context& ctx) {
  SCOPED_TRACE(std::string(m.name) + " n=" + std::to_string(n) + " m=" + std::to_string(n_q) +
               " k=" + std::to_string(k) + (self ? " self" : ""));
  const Data index(n, d, 7 + n + d, pad);
  const Data queries = self ? index : Data(n_q, d, 11 + n_q, pad);
  const std::vector<T> xi = index.As<T>();
  const std::vector<T> xq = self ? xi : queries.As<T>();
  const MatrixView<const T> I(xi.data(), n, d, index.ld), Q(xq.data(), queries.n, d, queries.ld);
  std::vector<T> dist(queries.n * k);
  std::vector<int64_t> idx(queries.n * k);
  NeighborsParams params;
  params.metric = m.metric;
  params.p = m.p;
  kneighbors<T>(ctx, params, I, self ? I : Q, k, self, MatrixView<T>(dist.data(), queries.n, k),
                MatrixView<int64_t>(idx.data(), queries.n, k));
  const auto ref = Reference<T>(m, index, queries, self);
  const double sign = m.metric == Metric::kInnerProduct ? -1 : 1;
  for (int64_t q = 0; q < queries.n; ++q) {
    for (int64_t r = 0; r < k; ++r) {
      const long double want = ref[q][r].first;
      const double scale = std::max<double>(1.0, std::fabs((double)want));
      ASSERT_NEAR(sign * dist[q * k + r], (double)want, DistTol<T>() * scale)
          << "query " << q << " rank " << r;
      if (idx[q * k + r] != ref[q][r].second) {
        // Only float may differ, and only between near-equal distances.
        ASSERT_TRUE((std::is_same_v<T, float>)) << "query " << q << " rank " << r;
        const long double other =
            RefDistance(m, &queries.ref[q * d], &index.ref[idx[q * k + r] * d], d);
        ASSERT_NEAR((double)other, (double)want, 1e-5 * scale) << "query " << q << " rank " << r;
      }
    }
  }
}

template <typename T>
class KNeighborsTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KNeighborsTest, FloatTypes);

TYPED_TEST(KNeighborsTest, EveryMetricMatchesTheReference) {
  Context ctx(Device::cpu());
  for (const MetricCase& m : kMetrics) {
    CheckKnn<TypeParam>(m, 300, 40, 7, 5, false, 0, ctx);
    CheckKnn<TypeParam>(m, 300, 0, 7, 1, true, 0, ctx);
  }
}

TYPED_TEST(KNeighborsTest, AnyKUpToNAcrossTilesAndBlocks) {
  Context ctx(Device::cpu());
  const MetricCase m = kMetrics[1];
  // n above the index tile (1024) and queries above the query block (256).
  for (int64_t k : {1, 5, 100, 2500}) CheckKnn<TypeParam>(m, 2500, 300, 5, k, false, 3, ctx);
  CheckKnn<TypeParam>(m, 1100, 0, 5, 1099, true, 0, ctx);
  CheckKnn<TypeParam>(kMetrics[3], 1100, 270, 4, 100, false, 1, ctx);
}

TYPED_TEST(KNeighborsTest, ThreadCountDoesNotChangeTheResult) {
  // 600 queries split into query blocks; 10 queries (one block) split the index between
  // threads instead, and the parts' results are merged.
  const Data index(5000, 9, 3), queries(600, 9, 4);
  const auto xi = index.As<TypeParam>(), xq = queries.As<TypeParam>();
  const MatrixView<const TypeParam> I(xi.data(), 5000, 9);
  for (int64_t m : {600, 10}) {
    SCOPED_TRACE(m);
    const MatrixView<const TypeParam> Q(xq.data(), m, 9);
    std::vector<std::vector<TypeParam>> dists, radius_dists;
    std::vector<std::vector<int64_t>> idxs, radius_idxs;
    for (int threads : {1, 4}) {
      Context ctx(Device::cpu());
      ctx.set_n_threads(threads);
      std::vector<TypeParam> dist(m * 10);
      std::vector<int64_t> idx(m * 10);
      kneighbors<TypeParam>(ctx, NeighborsParams{}, I, Q, 10, false,
                            MatrixView<TypeParam>(dist.data(), m, 10),
                            MatrixView<int64_t>(idx.data(), m, 10));
      dists.push_back(dist);
      idxs.push_back(idx);
      const auto r = radius_neighbors<TypeParam>(ctx, NeighborsParams{}, I, Q, 0.9, false, false);
      radius_dists.push_back(r.distances);
      radius_idxs.push_back(r.indices);
    }
    EXPECT_EQ(dists[0], dists[1]);
    EXPECT_EQ(idxs[0], idxs[1]);
    EXPECT_EQ(radius_dists[0], radius_dists[1]);
    EXPECT_EQ(radius_idxs[0], radius_idxs[1]);
    EXPECT_GT(radius_idxs[0].size(), 0u);
  }
  // And against the reference, with the index split.
  Context ctx(Device::cpu());
  ctx.set_n_threads(4);
  CheckKnn<TypeParam>(kMetrics[1], 5000, 3, 6, 7, false, 0, ctx);
}

TEST(KNeighbors, Float32FarFromTheOriginKeepsItsDigits) {
  // Unshifted, |q|^2 - 2 q.x + |x|^2 of rows near 1000 cancels to noise in float32 (every
  // distance here is below 1e-3 while the norms are ~1e7); the driver shifts by the mean.
  Context ctx(Device::cpu());
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 0.01);
  const int64_t n = 200, d = 8;
  std::vector<float> x(n * d);
  for (float& v : x) v = static_cast<float>(1000 + u(rng));
  const MatrixView<const float> X(x.data(), n, d);
  for (const MetricCase& m : {kMetrics[1], kMetrics[2]}) {
    NeighborsParams p;
    p.metric = m.metric;
    std::vector<float> dist(n * 3);
    std::vector<int64_t> idx(n * 3);
    kneighbors<float>(ctx, p, X, X, 3, true, MatrixView<float>(dist.data(), n, 3),
                      MatrixView<int64_t>(idx.data(), n, 3));
    for (int64_t q = 0; q < n; ++q) {
      std::vector<std::pair<double, int64_t>> ref;
      for (int64_t j = 0; j < n; ++j) {
        if (j == q) continue;
        double s2 = 0;
        for (int64_t l = 0; l < d; ++l) {
          const double diff = double(x[q * d + l]) - double(x[j * d + l]);
          s2 += diff * diff;
        }
        ref.emplace_back(s2, j);
      }
      std::sort(ref.begin(), ref.end());
      for (int64_t r = 0; r < 3; ++r) {
        // float32 rows sit on a grid of 6e-5 near 1000: distinct distances differ by far more
        // than the shifted expansion's rounding (~1e-12 here).
        EXPECT_EQ(idx[q * 3 + r], ref[r].second) << m.name << " query " << q;
      }
    }
  }
}

TEST(KNeighbors, TiesGoToTheSmallerIndexAndDuplicatesOfSelfRemain) {
  Context ctx(Device::cpu());
  // Rows 0, 2, 4 coincide; rows 1 and 3 are at distance 1 and 2 from them.
  const std::vector<double> x = {0, 0, 1, 0, 0, 0, 2, 0, 0, 0};
  const MatrixView<const double> X(x.data(), 5, 2);
  std::vector<double> dist(5 * 3);
  std::vector<int64_t> idx(5 * 3);
  kneighbors<double>(ctx, NeighborsParams{}, X, X, 3, true, MatrixView<double>(dist.data(), 5, 3),
                     MatrixView<int64_t>(idx.data(), 5, 3));
  EXPECT_EQ(std::vector<int64_t>(idx.begin(), idx.begin() + 3), (std::vector<int64_t>{2, 4, 1}));
  EXPECT_EQ(std::vector<int64_t>(idx.begin() + 6, idx.begin() + 9),
            (std::vector<int64_t>{0, 4, 1}));
  EXPECT_EQ(std::vector<double>(dist.begin(), dist.begin() + 3), (std::vector<double>{0, 0, 1}));
}

TEST(KNeighbors, CosineOfAZeroVectorIsOne) {
  Context ctx(Device::cpu());
  const std::vector<double> x = {0, 0, 1, 0, 0, 2, -1, 0};
  const MatrixView<const double> X(x.data(), 4, 2);
  std::vector<double> dist(4 * 3);
  std::vector<int64_t> idx(4 * 3);
  NeighborsParams p;
  p.metric = Metric::kCosine;
  kneighbors<double>(ctx, p, X, X, 3, true, MatrixView<double>(dist.data(), 4, 3),
                     MatrixView<int64_t>(idx.data(), 4, 3));
  EXPECT_EQ(std::vector<double>(dist.begin(), dist.begin() + 3), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(std::vector<int64_t>(idx.begin(), idx.begin() + 3), (std::vector<int64_t>{1, 2, 3}));
  // Row 1 = (1, 0): orthogonal to row 2, opposite to row 3, undefined (1) against the zero row.
  EXPECT_EQ(std::vector<double>(dist.begin() + 3, dist.begin() + 6),
            (std::vector<double>{1, 1, 2}));
}

TYPED_TEST(KNeighborsTest, RadiusMatchesTheReference) {
  Context ctx(Device::cpu());
  const Data index(1500, 4, 21), queries(70, 4, 22);
  const auto xi = index.As<TypeParam>(), xq = queries.As<TypeParam>();
  const MatrixView<const TypeParam> I(xi.data(), 1500, 4), Q(xq.data(), 70, 4);
  for (const MetricCase& m : kMetrics) {
    if (m.metric == Metric::kInnerProduct) continue;
    SCOPED_TRACE(m.name);
    NeighborsParams p;
    p.metric = m.metric;
    p.p = m.p;
    const auto ref = Reference<TypeParam>(m, index, queries, false);
    // The radius: just above the median of the tenth neighbour distances (so counts vary
    // around 10 and no distance lies within rounding of it).
    std::vector<long double> tenth;
    for (const auto& r : ref) tenth.push_back(r[9].first);
    std::nth_element(tenth.begin(), tenth.begin() + 35, tenth.end());
    const double radius = (double)tenth[35] * (1 + 1e-9);
    for (bool sorted : {false, true}) {
      const auto got = radius_neighbors<TypeParam>(ctx, p, I, Q, radius, false, sorted);
      ASSERT_EQ(got.offsets.size(), 71u);
      for (int64_t q = 0; q < 70; ++q) {
        std::vector<std::pair<long double, int64_t>> want;
        for (const auto& e : ref[q]) {
          if (e.first <= radius) want.push_back(e);
        }
        if (!sorted) {
          std::sort(want.begin(), want.end(),
                    [](const auto& a, const auto& b) { return a.second < b.second; });
        }
        const int64_t b = got.offsets[q], e = got.offsets[q + 1];
        ASSERT_EQ(e - b, (int64_t)want.size()) << "query " << q;
        for (int64_t t = 0; t < e - b; ++t) {
          EXPECT_EQ(got.indices[b + t], want[t].second) << "query " << q;
          EXPECT_NEAR(got.distances[b + t], (double)want[t].first,
                      DistTol<TypeParam>() * std::max(1.0, (double)want[t].first));
        }
      }
    }
  }
}

TEST(KNeighbors, RadiusExcludesSelf) {
  Context ctx(Device::cpu());
  const std::vector<double> x = {0, 1, 3, 3};
  const MatrixView<const double> X(x.data(), 4, 1);
  const auto got = radius_neighbors<double>(ctx, NeighborsParams{}, X, X, 1.0, true, false);
  EXPECT_EQ(got.offsets, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(got.indices, (std::vector<int64_t>{1, 0, 3, 2}));
  EXPECT_EQ(got.distances, (std::vector<double>{1, 1, 0, 0}));
}

TEST(KNeighbors, BadInputIsRejectedWithItsReason) {
  Context ctx(Device::cpu());
  std::vector<double> x = {0, 1, 2, 3, 4, 5};
  const MatrixView<const double> X(x.data(), 3, 2);
  std::vector<double> dist(9);
  std::vector<int64_t> idx(9);
  auto knn = [&](MatrixView<const double> I, MatrixView<const double> Q, int64_t k, bool self,
                 NeighborsParams p = {}) {
    kneighbors<double>(ctx, p, I, Q, k, self, MatrixView<double>(dist.data(), Q.rows, k),
                       MatrixView<int64_t>(idx.data(), Q.rows, k));
  };
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 4, false); },
                                          {"n_neighbors <= n_samples_fit", "n_neighbors = 4"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 3, true); },
                                          {"n_neighbors < n_samples_fit", "n_neighbors = 3"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 0, false); }, {"n_neighbors > 0"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { knn(X, MatrixView<const double>(x.data(), 2, 3), 1, false); }, {"3 features"}));
  x[4] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 1, false); }, {"NaN or infinity"}));
  x[4] = 1e200;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 1, false); }, {"overflow"}));
  x[4] = 4;
  NeighborsParams bad_p;
  bad_p.p = 0;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { knn(X, X, 1, false, bad_p); }, {"p must be"}));
  NeighborsParams ip;
  ip.metric = Metric::kInnerProduct;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { radius_neighbors<double>(ctx, ip, X, X, 1.0, false, false); }, {"similarity"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { radius_neighbors<double>(ctx, NeighborsParams{}, X, X, -1.0, false, false); },
      {"radius"}));
  const std::vector<double> other = x;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { knn(X, MatrixView<const double>(other.data(), 3, 2), 1, true); }, {"the index"}));
}

}  // namespace
}  // namespace gpulearn::neighbors
