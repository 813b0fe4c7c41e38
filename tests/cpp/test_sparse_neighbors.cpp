// Brute-force neighbours of sparse (CSR) data on the CPU backend through the public API: every
// combination of a sparse or dense index with sparse or dense queries gives the dense search's
// neighbours and distances bit for bit (the exact pass computes each returned pair from the two
// rows made dense, as the dense path does), across index tiles and query tiles, with 1 or 4
// threads; and the refusals. Data: uniform random values in a random 15% of the entries, rows
// 7 and 20 empty, columns 3 and 4 empty (so empty rows tie at |q|, broken by index).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"
#include "gpulearn/neighbors/nearest_neighbors.hpp"

namespace gpulearn::neighbors {
namespace {

template <typename T>
struct Sparse {
  int64_t n, d;
  std::vector<T> dense;  // n x d
  std::vector<T> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr;

  Sparse(int64_t rows, int64_t cols, unsigned seed) : n(rows), d(cols), dense(rows * cols) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(0, 1);
    for (int64_t i = 0; i < n; ++i) {
      if (i == 7 || i == 20) continue;
      for (int64_t j = 0; j < d; ++j) {
        if (j == 3 || j == 4) continue;
        if (u(gen) < 0.15) dense[i * d + j] = static_cast<T>(u(gen) + 0.01);
      }
    }
    // CSR with each row's entries in reverse column order: unsorted, as the view allows.
    indptr.push_back(0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = d - 1; j >= 0; --j) {
        if (dense[i * d + j] != T(0)) {
          values.push_back(dense[i * d + j]);
          indices.push_back(static_cast<int32_t>(j));
        }
      }
      indptr.push_back(static_cast<int64_t>(values.size()));
    }
  }
  CsrView<T> csr() const {
    return CsrView<T>(values.data(), indices.data(), indptr.data(), n, d);
  }
  MatrixView<const T> mat() const { return MatrixView<const T>(dense.data(), n, d); }
};

struct Found {
  std::vector<double> dist;
  std::vector<int64_t> idx;
  bool operator==(const Found& o) const { return dist == o.dist && idx == o.idx; }
};

template <typename T, typename I, typename Q>
Found Knn(Context& ctx, const NeighborsParams& p, I index, Q queries, int64_t n_q, int64_t k,
          bool self) {
  std::vector<T> dist(n_q * k);
  std::vector<int64_t> idx(n_q * k);
  const MatrixView<T> D(dist.data(), n_q, k);
  const MatrixView<int64_t> X(idx.data(), n_q, k);
  if constexpr (std::is_same_v<I, MatrixView<const T>> && std::is_same_v<Q, MatrixView<const T>>) {
    kneighbors<T>(ctx, p, index, queries, k, self, D, X);
  } else if constexpr (std::is_same_v<I, CsrView<T>> && std::is_same_v<Q, CsrView<T>>) {
    kneighbors<T>(ctx, p, index, queries, k, self, D, X);
  } else {
    kneighbors<T>(ctx, p, index, queries, k, D, X);
  }
  return {std::vector<double>(dist.begin(), dist.end()), idx};
}

template <typename T, typename I, typename Q>
Found Radius(Context& ctx, const NeighborsParams& p, I index, Q queries, double r, bool self) {
  RadiusNeighbors<T> out;
  if constexpr (std::is_same_v<I, MatrixView<const T>> && std::is_same_v<Q, MatrixView<const T>>) {
    out = radius_neighbors<T>(ctx, p, index, queries, r, self, true);
  } else if constexpr (std::is_same_v<I, CsrView<T>> && std::is_same_v<Q, CsrView<T>>) {
    out = radius_neighbors<T>(ctx, p, index, queries, r, self, true);
  } else {
    out = radius_neighbors<T>(ctx, p, index, queries, r, true);
  }
  Found f{std::vector<double>(out.distances.begin(), out.distances.end()), out.indices};
  for (int64_t o : out.offsets) f.idx.push_back(-o - 1);  // the offsets too
  return f;
}

struct MetricCase {
  Metric metric;
  double p;
  double radius;
};
const MetricCase kSparseMetrics[] = {
    {Metric::kEuclidean, 2, 1.3}, {Metric::kSqEuclidean, 2, 1.7}, {Metric::kMinkowski, 2, 1.3},
    {Metric::kManhattan, 1, 2.0}, {Metric::kMinkowski, 1, 2.0},   {Metric::kCosine, 2, 0.6},
    {Metric::kInnerProduct, 2, -1}};

template <typename T>
class SparseNeighborsTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SparseNeighborsTest, FloatTypes);

TYPED_TEST(SparseNeighborsTest, EveryCombinationGivesTheDenseResult) {
  using T = TypeParam;
  // 1500 index rows: two index tiles, split between threads; 300 queries of 60 features.
  const Sparse<T> X(1500, 60, 1), Q(300, 60, 2);
  for (int threads : {1, 4}) {
    Context ctx(Device::cpu());
    ctx.set_n_threads(threads);
    for (const MetricCase& m : kSparseMetrics) {
      SCOPED_TRACE(std::to_string(static_cast<int>(m.metric)) + " p=" + std::to_string(m.p) +
                   " threads=" + std::to_string(threads));
      NeighborsParams p;
      p.metric = m.metric;
      p.p = m.p;
      const int64_t k = 7;
      const Found want = Knn<T>(ctx, p, X.mat(), Q.mat(), Q.n, k, false);
      EXPECT_EQ(Knn<T>(ctx, p, X.csr(), Q.csr(), Q.n, k, false), want);
      EXPECT_EQ(Knn<T>(ctx, p, X.csr(), Q.mat(), Q.n, k, false), want);
      EXPECT_EQ(Knn<T>(ctx, p, X.mat(), Q.csr(), Q.n, k, false), want);
      EXPECT_EQ(Knn<T>(ctx, p, X.csr(), X.csr(), X.n, k, true),
                Knn<T>(ctx, p, X.mat(), X.mat(), X.n, k, true));
      if (m.radius < 0) continue;  // a similarity: no radius
      const Found rwant = Radius<T>(ctx, p, X.mat(), Q.mat(), m.radius, false);
      EXPECT_GT(rwant.dist.size(), static_cast<size_t>(Q.n));
      EXPECT_EQ(Radius<T>(ctx, p, X.csr(), Q.csr(), m.radius, false), rwant);
      EXPECT_EQ(Radius<T>(ctx, p, X.csr(), Q.mat(), m.radius, false), rwant);
      EXPECT_EQ(Radius<T>(ctx, p, X.mat(), Q.csr(), m.radius, false), rwant);
      EXPECT_EQ(Radius<T>(ctx, p, X.csr(), X.csr(), m.radius, true),
                Radius<T>(ctx, p, X.mat(), X.mat(), m.radius, true));
    }
  }
}

TEST(SparseNeighbors, ManyQueryTilesOfWideData) {
  // 40000 features: a dense query tile of 8 MiB holds 26 queries, so 100 queries take 4 tiles.
  const int64_t d = 40000;
  std::vector<double> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr{0};
  std::mt19937_64 gen(5);
  std::uniform_int_distribution<int32_t> col(0, d - 1);
  std::uniform_real_distribution<double> u(0.1, 1);
  for (int i = 0; i < 300; ++i) {
    // One of 50 shared columns (so rows have neighbours) and one anywhere past them.
    values.push_back(u(gen));
    indices.push_back(col(gen) % 50);
    values.push_back(u(gen));
    indices.push_back(static_cast<int32_t>(50 + col(gen) % (d - 50)));
    indptr.push_back(static_cast<int64_t>(values.size()));
  }
  const CsrView<double> all(values.data(), indices.data(), indptr.data(), 300, d);
  const CsrView<double> X = all.block_rows(0, 200), Q = all.block_rows(200, 100);
  Context ctx(Device::cpu());
  for (Metric metric : {Metric::kEuclidean, Metric::kManhattan, Metric::kCosine}) {
    NeighborsParams p;
    p.metric = metric;
    const int64_t k = 3;
    const Found got = Knn<double>(ctx, p, X, Q, 100, k, false);
    // Reference: one query at a time (one tile each).
    for (int64_t q = 0; q < 100; ++q) {
      const Found one = Knn<double>(ctx, p, X, Q.block_rows(q, 1), 1, k, false);
      for (int64_t c = 0; c < k; ++c) {
        ASSERT_EQ(got.idx[q * k + c], one.idx[c]) << "query " << q;
        ASSERT_EQ(got.dist[q * k + c], one.dist[c]) << "query " << q;
      }
    }
  }
}

TEST(SparseNeighbors, Refusals) {
  const Sparse<double> X(50, 10, 3);
  Context ctx(Device::cpu());
  std::vector<double> dist(10 * 3);
  std::vector<int64_t> idx(10 * 3);
  const MatrixView<double> D(dist.data(), 10, 3);
  const MatrixView<int64_t> I(idx.data(), 10, 3);
  const CsrView<double> Q = X.csr().block_rows(0, 10);
  NeighborsParams cheb;
  cheb.metric = Metric::kChebyshev;
  EXPECT_THROW(kneighbors<double>(ctx, cheb, X.csr(), Q, 3, false, D, I), InvalidArgument);
  // A dense index takes every metric with sparse queries.
  EXPECT_NO_THROW(kneighbors<double>(ctx, cheb, X.mat(), Q, 3, D, I));
  std::vector<double> bad = X.values;
  bad[4] = std::numeric_limits<double>::quiet_NaN();
  const CsrView<double> B(bad.data(), X.indices.data(), X.indptr.data(), X.n, X.d);
  try {
    kneighbors<double>(ctx, NeighborsParams{}, B, Q, 3, false, D, I);
    ADD_FAILURE() << "NaN accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Input X contains NaN or infinity."), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(kneighbors<double>(ctx, NeighborsParams{}, X.mat(), B.block_rows(0, 10), 3, D, I),
               InvalidArgument);
  std::vector<int32_t> out_of_range = X.indices;
  out_of_range[2] = 10;
  const CsrView<double> O(X.values.data(), out_of_range.data(), X.indptr.data(), X.n, X.d);
  EXPECT_THROW(kneighbors<double>(ctx, NeighborsParams{}, O, Q, 3, false, D, I), InvalidArgument);
  // exclude_self needs the queries to be the index; k within the rows.
  EXPECT_THROW(kneighbors<double>(ctx, NeighborsParams{}, X.csr(), Q, 3, true, D, I),
               InvalidArgument);
  EXPECT_THROW(kneighbors<double>(ctx, NeighborsParams{}, X.csr(), Q, 51, false, D, I),
               InvalidArgument);
  NeighborsParams ip;
  ip.metric = Metric::kInnerProduct;
  EXPECT_THROW(radius_neighbors<double>(ctx, ip, X.csr(), Q, 1.0, false, false), InvalidArgument);
}

}  // namespace
}  // namespace gpulearn::neighbors
