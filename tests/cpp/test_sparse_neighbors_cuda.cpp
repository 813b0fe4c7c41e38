// The CUDA backend's sparse-index neighbour primitives (sparse_l1, sparse_knn_tile,
// sparse_radius_tile: cuda/neighbors/{sparse_l1,knn,radius_search}.cu) against the CPU
// backend's (src/neighbors/brute_force_cpu.cpp), on the same CSR index and query tile: empty
// rows, an empty column, a row block (indptr[0] != 0), rows with unsorted indices, each metric,
// float and double, self exclusion, exact ties, k past the fast selection, and index tiles
// shrunk (GPULEARN_CUDA_MAX_CHUNK_ROWS) so that the selections cross many of them. Skipped, with
// the reason, where no CUDA device is usable.
//
// The tile primitives are given the same products P on both backends (the CPU's, copied to the
// device), so that what is compared is the selection and the exact pass alone: both rank the
// same approximate values, and both compute the exact distance of a pair in double with the same
// operations in the same order (the CPU on the index row made dense, CUDA walking the CSR row
// in column order), compiled apart (the CPU backend with multiply-adds contracted, the kernels
// without, or fused by a GPU), so within dist_tolerance (the dense tests' tolerance). Indices must agree exactly
// wherever the data have no near ties (uniform values in double; small integers, whose distances
// are exact, in both types); in float a query's row factors (|q|^2, 1/|q|) may round differently
// (summed in another order), which can swap two candidates whose distances agree to 1e-5.
// sparse_l1 sums in double in the CPU's order: its P must be the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"
#include "native_array.hpp"
#include "neighbors/primitives.hpp"
#include "neighbors/rdist.hpp"
#include "sparse/primitives.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::NativeArray;
using test_util::ScopedEnv;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;
constexpr double kNearTie = 1e-5;

template <typename T>
double dist_tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-6;
}
template <typename T>
bool close(double got, double want) {
  return std::abs(got - want) <= dist_tolerance<T>() * std::max(1.0, std::abs(want));
}

struct MetricCase {
  RdistSpec spec;
  const char* name;
};
const MetricCase kMetrics[] = {
    {{Rdist::kSqEuclidean, 2}, "sqeuclidean"},
    {{Rdist::kManhattan, 1}, "manhattan"},
    {{Rdist::kCosine, 2}, "cosine"},
    {{Rdist::kNegInnerProduct, 2}, "inner product"},
};

// A random CSR index of n rows (after `lead` rows that the view skips: indptr[0] != 0) and d
// columns: rows 0, 5 and n - 1 empty, column d - 1 never stored, values uniform in [-1, 1) or on
// {-1, 1, 2} (grid: every distance is a small integer, with many exact ties). unsorted: the
// entries of every third row stored in reverse column order.
template <typename T>
struct Index {
  int64_t n, d, lead;
  std::vector<T> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr;  // lead + n + 1 absolute offsets
  std::vector<T> dense;         // n x d, the rows made dense

  Index(int64_t rows, int64_t cols, double density, uint64_t seed, bool grid, bool unsorted,
        int64_t lead_rows = 3)
      : n(rows), d(cols), lead(lead_rows), dense(rows * cols, T(0)) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1), v(-1, 1);
    std::uniform_int_distribution<int> g(0, 2);
    indptr.push_back(0);
    for (int64_t i = -lead; i < n; ++i) {
      std::vector<std::pair<int32_t, T>> row;
      const bool empty = i == 0 || i == 5 || i == n - 1;
      for (int32_t j = 0; j + 1 < d; ++j) {
        if (empty || u(rng) >= density) continue;
        const T x = grid ? static_cast<T>(g(rng) == 0 ? -1 : g(rng) == 1 ? 1 : 2)
                         : static_cast<T>(v(rng));
        row.emplace_back(j, x);
        if (i >= 0) dense[i * d + j] = x;
      }
      if (unsorted && i % 3 == 1) std::reverse(row.begin(), row.end());
      for (const auto& [j, x] : row) {
        indices.push_back(j);
        values.push_back(x);
      }
      indptr.push_back(static_cast<int64_t>(values.size()));
    }
  }
  CsrView<T> view(const T* v, const int32_t* i, const int64_t* p, MemorySpace s) const {
    return CsrView<T>(v, i, p + lead, n, d, s);
  }
  CsrView<T> host() const { return view(values.data(), indices.data(), indptr.data(), kHost); }
};

// The index's copy in a backend's native memory.
template <typename T>
struct NativeIndex {
  NativeArray<T> values;
  NativeArray<int32_t> indices;
  NativeArray<int64_t> indptr;
  CsrView<T> view;
  NativeIndex(Backend& be, const Index<T>& x)
      : values(be, x.values.empty() ? std::vector<T>(1) : x.values),
        indices(be, x.indices.empty() ? std::vector<int32_t>(1) : x.indices),
        indptr(be, x.indptr),
        view(x.view(values.data(), indices.data(), indptr.data(), be.native_space())) {}
};

// A tile of t dense queries: the index's rows [self, self + t) (self >= 0), else random rows of
// the index's kind (a zero row among them, and for grid data small integers).
template <typename T>
std::vector<T> make_queries(const Index<T>& x, int64_t t, int64_t self, uint64_t seed, bool grid) {
  if (self >= 0) return {x.dense.begin() + self * x.d, x.dense.begin() + (self + t) * x.d};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1), v(-1, 1);
  std::vector<T> q(t * x.d, T(0));
  for (int64_t c = 1; c < t; ++c) {  // query 0 stays zero
    for (int64_t j = 0; j < x.d; ++j) {
      if (u(rng) < 0.5) q[c * x.d + j] = grid ? static_cast<T>(std::floor(3 * u(rng)) - 1) : v(rng);
    }
  }
  return q;
}

template <typename T>
std::vector<T> transposed(const std::vector<T>& Q, int64_t t, int64_t d) {
  std::vector<T> Bt(d * t);
  for (int64_t c = 0; c < t; ++c) {
    for (int64_t j = 0; j < d; ++j) Bt[j * t + c] = Q[c * d + j];
  }
  return Bt;
}

// The CPU backend's products of the tile (the driver's: multiply, or sparse_l1 for Manhattan)
// and the index's squared norms.
template <typename T>
struct Products {
  std::vector<T> P, sq;
};
template <typename T>
Products<T> cpu_products(Backend& cpu, const Index<T>& x, const std::vector<T>& Q, int64_t t,
                         Rdist kind) {
  Products<T> r;
  r.P.assign(x.n * t, T(0));
  r.sq.assign(x.n, T(0));
  const std::vector<T> Bt = transposed(Q, t, x.d);
  const MatrixView<T> P(r.P.data(), x.n, t, t, kHost);
  if (kind == Rdist::kManhattan) {
    cpu.template primitives<NeighborsPrimitives<T>>().sparse_l1(x.host(), Bt.data(), t, P);
  } else {
    cpu.template primitives<SparsePrimitives<T>>().multiply(x.host(), Bt.data(), t, P);
  }
  cpu.template primitives<SparsePrimitives<T>>().row_norms_sq(x.host(), r.sq.data());
  return r;
}

template <typename T>
struct KnnResult {
  std::vector<T> dist;
  std::vector<int64_t> idx;
};

template <typename T>
KnnResult<T> knn_tile(Backend& be, const Index<T>& x, const Products<T>& pr,
                      const std::vector<T>& Q, int64_t t, RdistSpec metric, int64_t self,
                      int64_t k) {
  KnnResult<T> r;
  auto& prim = be.template primitives<NeighborsPrimitives<T>>();
  if (be.native_space() == kHost) {
    r.dist.assign(t * k, T(-1));
    r.idx.assign(t * k, -1);
    prim.sparse_knn_tile(metric, x.host(), pr.sq.data(), Q.data(), t,
                         MatrixView<const T>(pr.P.data(), x.n, t, t, kHost), self, k,
                         r.dist.data(), r.idx.data());
    return r;
  }
  const NativeIndex<T> nx(be, x);
  const NativeArray<T> P(be, pr.P), sq(be, pr.sq);
  NativeArray<T> dist(be, std::vector<T>(t * k, T(-1)));
  NativeArray<int64_t> idx(be, std::vector<int64_t>(t * k, -1));
  prim.sparse_knn_tile(metric, nx.view, sq.data(), Q.data(), t,
                       MatrixView<const T>(P.data(), x.n, t, t, kDevice), self, k, dist.data(),
                       idx.data());
  return {dist.read(), idx.read()};
}

template <typename T>
struct RadiusResult {
  std::vector<int64_t> offsets, idx;
  std::vector<T> dist;
};

template <typename T>
RadiusResult<T> radius_tile(Backend& be, const Index<T>& x, const Products<T>& pr,
                            const std::vector<T>& Q, int64_t t, RdistSpec metric, int64_t self,
                            double bound) {
  RadiusResult<T> r;
  r.offsets.assign(3, -7);  // must be replaced, not appended to
  r.idx.assign(2, -7);
  r.dist.assign(2, T(-7));
  auto& prim = be.template primitives<NeighborsPrimitives<T>>();
  if (be.native_space() == kHost) {
    prim.sparse_radius_tile(metric, x.host(), pr.sq.data(), Q.data(), t,
                            MatrixView<const T>(pr.P.data(), x.n, t, t, kHost), self, bound,
                            r.offsets, r.idx, r.dist);
    return r;
  }
  const NativeIndex<T> nx(be, x);
  const NativeArray<T> P(be, pr.P), sq(be, pr.sq);
  prim.sparse_radius_tile(metric, nx.view, sq.data(), Q.data(), t,
                          MatrixView<const T>(P.data(), x.n, t, t, kDevice), self, bound, r.offsets,
                          r.idx, r.dist);
  return r;
}

// Each tile query's exact distances to its candidates, from the dense rows, sorted.
template <typename T>
std::vector<std::vector<double>> exact_all(const Index<T>& x, const std::vector<T>& Q, int64_t t,
                                           RdistSpec metric, int64_t self) {
  std::vector<std::vector<double>> all(t);
  for (int64_t c = 0; c < t; ++c) {
    for (int64_t j = 0; j < x.n; ++j) {
      if (self >= 0 && j == self + c) continue;
      all[c].push_back(
          static_cast<double>(static_cast<T>(exact_rdist<T>(metric, &Q[c * x.d], &x.dense[j * x.d], x.d))));
    }
    std::sort(all[c].begin(), all[c].end());
  }
  return all;
}

struct Case {
  int64_t n = 300, d = 40, t = 37, k = 7;
  double density = 0.15;
  bool grid = false, unsorted = false;
  int64_t self = -1;
  uint64_t seed = 1;
};

std::string describe(const Case& c, const MetricCase& m) {
  return std::string(m.name) + ", n " + std::to_string(c.n) + ", d " + std::to_string(c.d) +
         ", t " + std::to_string(c.t) + ", k " + std::to_string(c.k) + ", self " +
         std::to_string(c.self) + (c.grid ? ", grid" : "") + (c.unsorted ? ", unsorted" : "");
}

template <typename T>
class CudaSparseNeighborsTest : public test_util::CpuAndCudaBackends {
 protected:
  // The knn tile on both backends from the same products: indices equal (but near ties in
  // float, on uniform data), each pair's distance the same bits, rows ordered.
  void compare_knn(const Case& c, const MetricCase& m) {
    SCOPED_TRACE(describe(c, m));
    const Index<T> x(c.n, c.d, c.density, c.seed, c.grid, c.unsorted);
    const std::vector<T> Q = make_queries(x, c.t, c.self, c.seed + 1, c.grid);
    const Products<T> pr = cpu_products(cpu(), x, Q, c.t, m.spec.kind);
    const KnnResult<T> want = knn_tile(cpu(), x, pr, Q, c.t, m.spec, c.self, c.k);
    const KnnResult<T> got = knn_tile(cuda(), x, pr, Q, c.t, m.spec, c.self, c.k);
    const bool near_ties_may_swap = std::is_same_v<T, float> && !c.grid;
    int64_t differ = 0;
    for (int64_t q = 0; q < c.t; ++q) {
      for (int64_t s = 0; s < c.k; ++s) {
        const int64_t e = q * c.k + s;
        const int64_t j = got.idx[e];
        ASSERT_TRUE(j >= 0 && j < c.n) << "query " << q << " slot " << s << ": " << j;
        ASSERT_FALSE(c.self >= 0 && j == c.self + q) << "query " << q << " is its own neighbour";
        const double exact = static_cast<T>(exact_rdist<T>(m.spec, &Q[q * c.d], &x.dense[j * c.d], c.d));
        ASSERT_TRUE(close<T>(got.dist[e], exact))
            << "query " << q << " slot " << s << ": " << got.dist[e] << " vs " << exact;
        if (s > 0) {
          ASSERT_TRUE(got.dist[e - 1] < got.dist[e] ||
                      (got.dist[e - 1] == got.dist[e] && got.idx[e - 1] < j))
              << "query " << q << " slots " << s - 1 << ", " << s;
        }
        if (j == want.idx[e]) {
          ASSERT_TRUE(close<T>(got.dist[e], want.dist[e])) << "query " << q << " slot " << s;
          continue;
        }
        ++differ;
        ASSERT_TRUE(near_ties_may_swap) << "query " << q << " slot " << s << ": index " << j
                                        << " vs the CPU's " << want.idx[e];
        ASSERT_LE(std::abs(static_cast<double>(got.dist[e]) - want.dist[e]),
                  kNearTie * std::max(1.0, std::abs(static_cast<double>(want.dist[e]))));
      }
    }
    EXPECT_LE(differ, std::max<int64_t>(3, c.t * c.k / 100)) << "indices that differ";
  }

  // The radius tile on both backends from the same products, with a bound 1e-6 away from every
  // pair's distance: the same matches, each the same bits.
  void compare_radius(const Case& c, const MetricCase& m, double share) {
    SCOPED_TRACE(describe(c, m) + ", share " + std::to_string(share));
    const Index<T> x(c.n, c.d, c.density, c.seed, c.grid, c.unsorted);
    const std::vector<T> Q = make_queries(x, c.t, c.self, c.seed + 1, c.grid);
    const Products<T> pr = cpu_products(cpu(), x, Q, c.t, m.spec.kind);
    const auto all = exact_all(x, Q, c.t, m.spec, c.self);
    std::vector<double> pooled;
    for (const auto& v : all) pooled.insert(pooled.end(), v.begin(), v.end());
    std::sort(pooled.begin(), pooled.end());
    double bound = pooled.back() + 1;
    for (size_t i = static_cast<size_t>(share * static_cast<double>(pooled.size()));
         i + 1 < pooled.size(); ++i) {
      if (pooled[i + 1] - pooled[i] > 2.5e-6 * std::max(1.0, std::abs(pooled[i]))) {
        bound = 0.5 * (pooled[i] + pooled[i + 1]);
        break;
      }
    }
    const RadiusResult<T> want = radius_tile(cpu(), x, pr, Q, c.t, m.spec, c.self, bound);
    const RadiusResult<T> got = radius_tile(cuda(), x, pr, Q, c.t, m.spec, c.self, bound);
    ASSERT_EQ(got.offsets, want.offsets);
    ASSERT_EQ(got.idx, want.idx);
    ASSERT_EQ(got.dist.size(), want.dist.size());
    for (size_t e = 0; e < want.dist.size(); ++e) {
      ASSERT_TRUE(close<T>(got.dist[e], want.dist[e])) << "match " << e;
      ASSERT_LE(static_cast<double>(got.dist[e]), bound) << "match " << e;
    }
    int64_t expected = 0;
    for (const auto& v : all) expected += std::upper_bound(v.begin(), v.end(), bound) - v.begin();
    ASSERT_EQ(got.offsets.back(), expected) << "matches within " << bound;
  }
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaSparseNeighborsTest, FloatTypes);

TYPED_TEST(CudaSparseNeighborsTest, SparseL1IsTheCpuBits) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  for (const bool unsorted : {false, true}) {
    const Index<T> x(200, 50, 0.2, 11, false, unsorted);
    const int64_t t = 45;
    const std::vector<T> Q = make_queries(x, t, -1, 12, false);
    const Products<T> want = cpu_products(this->cpu(), x, Q, t, Rdist::kManhattan);
    const NativeIndex<T> nx(this->cuda(), x);
    NativeArray<T> P(this->cuda(), std::vector<T>(x.n * t, T(-1)));
    const std::vector<T> Bt = transposed(Q, t, x.d);
    this->cuda().template primitives<NeighborsPrimitives<T>>().sparse_l1(
        nx.view, Bt.data(), t, MatrixView<T>(P.data(), x.n, t, t, kDevice));
    ASSERT_EQ(P.read(), want.P) << (unsorted ? "unsorted" : "sorted");
  }
}

TYPED_TEST(CudaSparseNeighborsTest, KnnTileMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  for (const MetricCase& m : kMetrics) {
    this->compare_knn(Case{}, m);
    Case self;
    self.self = 120;  // the tile is index rows [120, 157), each excluded from its own list
    self.seed = 2;
    this->compare_knn(self, m);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, KnnTileAcrossIndexTiles) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  // 32-row index tiles: the selection reads P column block by column block, and the query's own
  // row falls in a later tile than the first.
  const ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "32");
  for (const MetricCase& m : kMetrics) {
    Case c;
    c.self = 70;
    c.k = 40;  // past the candidates that share a column with most queries
    c.seed = 3;
    this->compare_knn(c, m);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, KnnTileBreaksTiesByIndex) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  // Small integers: every distance exact, many equal (empty rows, rows sharing no column with
  // the query): the lists must be the CPU's exactly.
  for (const MetricCase& m : kMetrics) {
    if (m.spec.kind == Rdist::kCosine) continue;  // its square roots are not exact
    Case c;
    c.grid = true;
    c.density = 0.05;
    c.k = 12;
    c.seed = 4;
    this->compare_knn(c, m);
    c.self = 0;
    this->compare_knn(c, m);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, KnnTileWithLargeK) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  // k > 256: the sorted selection, with the shrunk tiles.
  const ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "128");
  for (const MetricCase& m : {kMetrics[0], kMetrics[1]}) {
    Case c;
    c.n = 330;
    c.t = 9;
    c.k = 300;
    c.self = 4;
    c.seed = 5;
    this->compare_knn(c, m);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, KnnTileOfUnsortedRows) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  for (const MetricCase& m : kMetrics) {
    Case c;
    c.unsorted = true;
    c.seed = 6;
    this->compare_knn(c, m);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, RadiusTileMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  const ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "64");
  for (const MetricCase& m : kMetrics) {
    if (m.spec.kind == Rdist::kNegInnerProduct) continue;  // a similarity: no radius queries
    Case c;
    c.seed = 7;
    this->compare_radius(c, m, 0.05);
    c.self = 200;
    c.t = 50;
    c.unsorted = true;
    this->compare_radius(c, m, 0.2);
  }
}

TYPED_TEST(CudaSparseNeighborsTest, TilesAreDeterministicAndIndependentOfTheIndexTiles) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  // The same bits run after run, and with any index tile size (the selections' merges are total
  // orders on (value, index), and the exact pass depends on the pair alone).
  const Index<T> x(300, 40, 0.15, 10, false, false);
  const int64_t t = 20, self = 100;
  const std::vector<T> Q = make_queries(x, t, self, 11, false);
  for (const MetricCase& m : kMetrics) {
    SCOPED_TRACE(m.name);
    const Products<T> pr = cpu_products(this->cpu(), x, Q, t, m.spec.kind);
    const KnnResult<T> first = knn_tile(this->cuda(), x, pr, Q, t, m.spec, self, 9);
    const KnnResult<T> again = knn_tile(this->cuda(), x, pr, Q, t, m.spec, self, 9);
    const ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "32");
    const KnnResult<T> tiled = knn_tile(this->cuda(), x, pr, Q, t, m.spec, self, 9);
    for (const KnnResult<T>* r : {&again, &tiled}) {
      ASSERT_EQ(r->idx, first.idx);
      ASSERT_EQ(r->dist, first.dist);
    }
  }
}

TYPED_TEST(CudaSparseNeighborsTest, RejectsHostIndexAndOtherMetrics) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const Index<T> x(50, 10, 0.3, 8, false, false);
  const std::vector<T> Q = make_queries(x, 4, -1, 9, false);
  const Products<T> pr = cpu_products(this->cpu(), x, Q, 4, Rdist::kSqEuclidean);
  const NativeArray<T> P(this->cuda(), pr.P), sq(this->cuda(), pr.sq);
  NativeArray<T> dist(this->cuda(), std::vector<T>(4, T(0)));
  NativeArray<int64_t> idx(this->cuda(), std::vector<int64_t>(4, 0));
  auto& prim = this->cuda().template primitives<NeighborsPrimitives<T>>();
  const MatrixView<const T> Pv(P.data(), x.n, 4, 4, kDevice);
  EXPECT_THROW(prim.sparse_knn_tile({Rdist::kSqEuclidean, 2}, x.host(), sq.data(), Q.data(), 4, Pv,
                                    -1, 1, dist.data(), idx.data()),
               InvalidArgument);
  const NativeIndex<T> nx(this->cuda(), x);
  EXPECT_THROW(prim.sparse_knn_tile({Rdist::kChebyshev, 1}, nx.view, sq.data(), Q.data(), 4, Pv,
                                    -1, 1, dist.data(), idx.data()),
               InvalidArgument);
}

}  // namespace
}  // namespace gpulearn::detail
