// The nearest-neighbour primitives of the CUDA backend (knn, radius_search) against the CPU
// backend's, on the same inputs, through the Backend interface (inputs and knn outputs copied to
// device memory with the backend's own allocate and copy). Skipped, with the reason, where no
// CUDA device is usable.
//
// Every input is drawn from a seeded std::mt19937_64 (the seed is in each test). Uniform data in
// [-1, 1) have no near ties in double, so indices must agree exactly there; in float both
// backends select on distances rounded in float (by different GEMMs), so an index may differ
// where the two exact distances at that position agree to 1e-5 relative to the row's scale.
// Data on the grid {-1, 0, 1}^d make every distance exact in both types (small integers), with
// many exact ties: indices and distances must then agree exactly, which tests the tie rule
// (the smaller index first). Distances otherwise to 1e-5 relative in float and 1e-12 in double
// (both backends recompute them in double with exact_rdist and round once to T). Radius bounds
// are chosen so that no pair's exact distance is within 1e-6 (relative) of the bound: offsets
// and indices must then agree exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "native_array.hpp"
#include "neighbors/primitives.hpp"
#include "neighbors/rdist.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::NativeArray;
using test_util::ScopedEnv;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;

template <typename T>
double dist_tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}
constexpr double kNearTie = 1e-5;

struct MetricCase {
  RdistSpec spec;
  const char* name;
};

const MetricCase kMetrics[] = {
    {{Rdist::kSqEuclidean, 2}, "sqeuclidean"},       {{Rdist::kManhattan, 1}, "manhattan"},
    {{Rdist::kChebyshev, 1}, "chebyshev"},           {{Rdist::kMinkowski, 3}, "minkowski p=3"},
    {{Rdist::kMinkowski, 1.5}, "minkowski p=1.5"},   {{Rdist::kCosine, 2}, "cosine"},
    {{Rdist::kNegInnerProduct, 2}, "inner product"},
};

// Metrics whose distances are exact in float and double on small integers (the tie tests).
const MetricCase kExactMetrics[] = {
    {{Rdist::kSqEuclidean, 2}, "sqeuclidean"},
    {{Rdist::kManhattan, 1}, "manhattan"},
    {{Rdist::kChebyshev, 1}, "chebyshev"},
    {{Rdist::kNegInnerProduct, 2}, "inner product"},
};

enum class Fill { kUniform, kGrid, kZeroRows };

struct Shape {
  int64_t n = 500, m = 200, d = 8, pad = 0;
  bool self = false;  // the queries are the index, each row excluded from its own neighbours
};

std::string describe(const Shape& s) {
  return "n " + std::to_string(s.n) + ", m " + std::to_string(s.self ? s.n : s.m) + ", d " +
         std::to_string(s.d) + ", pad " + std::to_string(s.pad) + (s.self ? ", self" : "");
}

// Host rows of one problem (stride ld = d + pad; the padding is NaN and must never be read).
template <typename T>
struct Problem {
  Shape shape;
  int64_t ld = 0;
  std::vector<T> X, Q;  // Q is empty when the queries are the index

  int64_t m() const { return shape.self ? shape.n : shape.m; }
  const std::vector<T>& queries() const { return shape.self ? X : Q; }
  MatrixView<const T> index_view(const T* p, MemorySpace s) const {
    return MatrixView<const T>(p, shape.n, shape.d, ld, s);
  }
  MatrixView<const T> query_view(const T* p, MemorySpace s) const {
    return MatrixView<const T>(p, m(), shape.d, ld, s);
  }
  // The candidates a query has: n, less itself.
  int64_t candidates() const { return shape.n - (shape.self ? 1 : 0); }
};

template <typename T>
std::vector<T> draw_rows(std::mt19937_64& rng, int64_t rows, int64_t d, int64_t ld, Fill fill) {
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::uniform_int_distribution<int> grid(-1, 1);
  std::vector<T> x(rows * ld, std::numeric_limits<T>::quiet_NaN());
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t l = 0; l < d; ++l) {
      x[i * ld + l] =
          fill == Fill::kGrid ? static_cast<T>(grid(rng)) : static_cast<T>(uniform(rng));
    }
  }
  if (fill == Fill::kZeroRows) {
    for (int64_t i : {int64_t{0}, int64_t{7}, rows / 2, rows - 1}) {
      if (i < rows) std::fill_n(x.begin() + i * ld, d, T(0));
    }
  }
  return x;
}

template <typename T>
Problem<T> make_problem(uint64_t seed, const Shape& shape, Fill fill = Fill::kUniform) {
  std::mt19937_64 rng(seed);
  Problem<T> p;
  p.shape = shape;
  p.ld = shape.d + shape.pad;
  p.X = draw_rows<T>(rng, shape.n, shape.d, p.ld, fill);
  if (!shape.self) p.Q = draw_rows<T>(rng, shape.m, shape.d, p.ld, fill);
  return p;
}

template <typename T>
struct KnnResult {
  std::vector<T> dist;
  std::vector<int64_t> idx;
};

// shift: host, d values, or null (Backend::knn's shift).
template <typename T>
KnnResult<T> knn_cpu(Backend& cpu, const Problem<T>& p, RdistSpec metric, int64_t k,
                     const T* shift = nullptr) {
  KnnResult<T> r;
  r.dist.assign(p.m() * k, T(-1));
  r.idx.assign(p.m() * k, -1);
  cpu.template primitives<detail::NeighborsPrimitives<T>>().knn(
      metric, shift, p.index_view(p.X.data(), kHost), p.query_view(p.queries().data(), kHost), k,
      p.shape.self, r.dist.data(), r.idx.data());
  return r;
}

template <typename T>
KnnResult<T> knn_cuda(Backend& cuda, const Problem<T>& p, RdistSpec metric, int64_t k,
                      const T* shift = nullptr) {
  const NativeArray<T> X(cuda, p.X);
  std::unique_ptr<NativeArray<T>> Q;
  if (!p.shape.self) Q = std::make_unique<NativeArray<T>>(cuda, p.Q);
  const T* q = p.shape.self ? X.data() : Q->data();
  NativeArray<T> dist(cuda, std::vector<T>(p.m() * k, T(-1)));
  NativeArray<int64_t> idx(cuda, std::vector<int64_t>(p.m() * k, -1));
  cuda.template primitives<detail::NeighborsPrimitives<T>>().knn(
      metric, shift, p.index_view(X.data(), kDevice), p.query_view(q, kDevice), k, p.shape.self,
      dist.data(), idx.data());
  return {dist.read(), idx.read()};
}

// Checks what holds on its own: indices in range, distinct, never the query itself when
// excluded, rows ordered by (distance, index).
template <typename T>
void check_lists(const Problem<T>& p, int64_t k, const KnnResult<T>& r) {
  for (int64_t i = 0; i < p.m(); ++i) {
    std::vector<int64_t> row(r.idx.begin() + i * k, r.idx.begin() + (i + 1) * k);
    for (int64_t t = 0; t < k; ++t) {
      const int64_t j = row[t];
      ASSERT_TRUE(j >= 0 && j < p.shape.n) << "query " << i << " slot " << t << ": index " << j;
      ASSERT_FALSE(p.shape.self && j == i) << "query " << i << " is its own neighbour";
      if (t > 0) {
        const T a = r.dist[i * k + t - 1], b = r.dist[i * k + t];
        ASSERT_TRUE(a < b || (a == b && row[t - 1] < j))
            << "query " << i << " slots " << t - 1 << ", " << t << ": (" << a << ", " << row[t - 1]
            << ") then (" << b << ", " << j << ")";
      }
    }
    std::sort(row.begin(), row.end());
    ASSERT_TRUE(std::adjacent_find(row.begin(), row.end()) == row.end())
        << "query " << i << " has a repeated neighbour";
  }
}

// exact: the data make every distance exact (grid data), so everything must agree bitwise.
template <typename T>
void compare_knn(Backend& cpu, Backend& cuda, const Problem<T>& p, const MetricCase& metric,
                 int64_t k, bool exact, const T* shift = nullptr) {
  SCOPED_TRACE(describe(p.shape) + ", " + metric.name + ", k " + std::to_string(k) +
               (shift != nullptr ? ", shifted" : ""));
  const KnnResult<T> want = knn_cpu(cpu, p, metric.spec, k, shift);
  const KnnResult<T> got = knn_cuda(cuda, p, metric.spec, k, shift);
  check_lists(p, k, got);
  const bool may_differ = std::is_same_v<T, float> && !exact;
  int64_t differ = 0;
  for (int64_t i = 0; i < p.m(); ++i) {
    double scale = 1.0;
    for (int64_t t = 0; t < k; ++t) {
      scale = std::max(scale, std::abs(static_cast<double>(want.dist[i * k + t])));
    }
    for (int64_t t = 0; t < k; ++t) {
      const int64_t e = i * k + t;
      const double a = got.dist[e], b = want.dist[e];
      if (exact) {
        ASSERT_EQ(got.idx[e], want.idx[e]) << "query " << i << " slot " << t;
        ASSERT_EQ(a, b) << "query " << i << " slot " << t;
        continue;
      }
      if (got.idx[e] != want.idx[e]) {
        ++differ;
        ASSERT_TRUE(may_differ) << "query " << i << " slot " << t << ": index " << got.idx[e]
                                << " vs " << want.idx[e] << " (distances " << a << ", " << b << ")";
        ASSERT_LE(std::abs(a - b), kNearTie * scale)
            << "query " << i << " slot " << t << ": indices " << got.idx[e] << " vs " << want.idx[e]
            << " differ but their distances " << a << ", " << b << " are not a near tie";
        continue;
      }
      ASSERT_LE(std::abs(a - b), dist_tolerance<T>() * std::max(1.0, std::abs(b)))
          << "query " << i << " slot " << t << ", index " << got.idx[e];
    }
  }
  // Near ties are rare on uniform data: a systematic error would show as many.
  EXPECT_LE(differ, std::max<int64_t>(3, p.m() * k / 100)) << "indices that differ";
}

template <typename T>
struct RadiusResult {
  std::vector<int64_t> offsets, idx;
  std::vector<T> dist;
};

template <typename T>
RadiusResult<T> radius_on(Backend& be, const Problem<T>& p, RdistSpec metric, double bound,
                          const T* shift = nullptr) {
  RadiusResult<T> r;
  r.offsets.assign(3, -7);  // must be replaced, not appended to
  r.idx.assign(2, -7);
  r.dist.assign(2, T(-7));
  if (be.native_space() == kHost) {
    be.template primitives<detail::NeighborsPrimitives<T>>().radius_search(
        metric, shift, p.index_view(p.X.data(), kHost), p.query_view(p.queries().data(), kHost),
        bound, p.shape.self, r.offsets, r.idx, r.dist);
    return r;
  }
  const NativeArray<T> X(be, p.X);
  std::unique_ptr<NativeArray<T>> Q;
  if (!p.shape.self) Q = std::make_unique<NativeArray<T>>(be, p.Q);
  const T* q = p.shape.self ? X.data() : Q->data();
  be.template primitives<detail::NeighborsPrimitives<T>>().radius_search(
      metric, shift, p.index_view(X.data(), kDevice), p.query_view(q, kDevice), bound, p.shape.self,
      r.offsets, r.idx, r.dist);
  return r;
}

template <typename T>
void compare_radius(Backend& cpu, Backend& cuda, const Problem<T>& p, const MetricCase& metric,
                    double bound, bool exact, const T* shift = nullptr) {
  SCOPED_TRACE(describe(p.shape) + ", " + metric.name + ", bound " + std::to_string(bound) +
               (shift != nullptr ? ", shifted" : ""));
  const RadiusResult<T> want = radius_on(cpu, p, metric.spec, bound, shift);
  const RadiusResult<T> got = radius_on(cuda, p, metric.spec, bound, shift);
  ASSERT_EQ(got.offsets.size(), static_cast<size_t>(p.m() + 1));
  ASSERT_EQ(got.offsets, want.offsets);
  ASSERT_EQ(got.idx, want.idx);
  ASSERT_EQ(got.dist.size(), want.dist.size());
  for (size_t e = 0; e < want.dist.size(); ++e) {
    const double a = got.dist[e], b = want.dist[e];
    if (exact) {
      ASSERT_EQ(a, b) << "match " << e;
    } else {
      ASSERT_LE(std::abs(a - b), dist_tolerance<T>() * std::max(1.0, std::abs(b))) << "match " << e;
    }
    ASSERT_LE(b, bound);
  }
}

// A bound near the given share of all pairs' exact distances, at least 1e-6 (relative) away
// from every one of them.
template <typename T>
double pick_bound(const Problem<T>& p, RdistSpec metric, double share) {
  const int64_t n = p.shape.n, d = p.shape.d;
  const std::vector<T>& q = p.queries();
  std::vector<double> all;
  all.reserve(p.m() * n);
  for (int64_t i = 0; i < p.m(); ++i) {
    for (int64_t j = 0; j < n; ++j) {
      if (p.shape.self && i == j) continue;
      all.push_back(exact_rdist<T>(metric, q.data() + i * p.ld, p.X.data() + j * p.ld, d));
    }
  }
  std::sort(all.begin(), all.end());
  for (size_t i = static_cast<size_t>(share * static_cast<double>(all.size())); i + 1 < all.size();
       ++i) {
    if (all[i + 1] - all[i] > 2.5e-6 * std::max(1.0, std::abs(all[i]))) {
      return 0.5 * (all[i] + all[i + 1]);
    }
  }
  return all.back() + 1.0;
}

// The index's column means, summed in double and rounded to T: the shift the driver passes.
template <typename T>
std::vector<T> column_mean(const Problem<T>& p) {
  std::vector<T> mean(p.shape.d);
  for (int64_t l = 0; l < p.shape.d; ++l) {
    double s = 0.0;
    for (int64_t i = 0; i < p.shape.n; ++i) s += static_cast<double>(p.X[i * p.ld + l]);
    mean[l] = static_cast<T>(s / static_cast<double>(p.shape.n));
  }
  return mean;
}

// Each query's exact reduced distances to every candidate (exact_rdist, rounded to T), with the
// candidates' indices, ordered by (distance, index): the k nearest are the first k.
template <typename T>
std::vector<std::vector<std::pair<T, int64_t>>> exact_order(const Problem<T>& p, RdistSpec metric) {
  const std::vector<T>& q = p.queries();
  std::vector<std::vector<std::pair<T, int64_t>>> all(p.m());
  for (int64_t i = 0; i < p.m(); ++i) {
    for (int64_t j = 0; j < p.shape.n; ++j) {
      if (p.shape.self && i == j) continue;
      all[i].emplace_back(static_cast<T>(exact_rdist<T>(metric, q.data() + i * p.ld,
                                                        p.X.data() + j * p.ld, p.shape.d)),
                          j);
    }
    std::sort(all[i].begin(), all[i].end());
  }
  return all;
}

template <typename T>
class CudaNeighborsTest : public test_util::CpuAndCudaBackends {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaNeighborsTest, FloatTypes);

// Query sets apart from the index (strided rows) and the index against itself.
std::vector<Shape> knn_shapes() {
  Shape a;
  a.n = 700;
  a.m = 300;
  a.d = 16;
  a.pad = 3;
  Shape b;
  b.n = 600;
  b.d = 9;
  b.self = true;
  Shape c;
  c.n = 400;
  c.m = 1;
  c.d = 40;
  c.pad = 1;
  return {a, b, c};
}

// The same three kinds of query set, about half the size: for the tests that run every metric
// or every shape under small tile caps too (the emulator's time goes with queries x candidates;
// a cap of 40 rows still makes many tiles).
std::vector<Shape> small_knn_shapes() {
  std::vector<Shape> shapes = knn_shapes();
  for (Shape& s : shapes) {
    s.n /= 2;
    s.m = std::max<int64_t>(1, s.m / 2);
  }
  return shapes;
}

// k = 1, 5, 100 (the warp selection) and every candidate (the sorted one).
std::vector<int64_t> ks(const Shape& s) {
  const int64_t all = s.n - (s.self ? 1 : 0);
  return {1, 5, 100, all};
}

TYPED_TEST(CudaNeighborsTest, KnnMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 2001;
  for (const Shape& shape : small_knn_shapes()) {
    const auto p = make_problem<TypeParam>(seed++, shape);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    for (const MetricCase& metric : kMetrics) {
      for (int64_t k : ks(shape)) compare_knn(this->cpu(), this->cuda(), p, metric, k, false);
    }
  }
}

TYPED_TEST(CudaNeighborsTest, KnnAcrossTileBoundaries) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  // Under a cap of 40 rows: the warp selection's tiles are 32 rows (10 index tiles, 4 query
  // tiles, the last ones partial; k = 100 spans several index tiles), the sorted selection's
  // 32-row chunks and 40-query tiles (7 metrics, 4 k). A second cap of 96 (4 and 2 tiles) ran
  // the same paths again and doubled the test's time on the emulator.
  Shape a;
  a.n = 300;
  a.m = 100;
  a.d = 12;
  a.pad = 1;
  Shape b = a;
  b.n = 200;
  b.self = true;
  uint64_t seed = 2101;
  for (const Shape& shape : {a, b}) {
    const auto p = make_problem<TypeParam>(seed++, shape);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "40");
    for (const MetricCase& metric : kMetrics) {
      for (int64_t k : ks(shape)) compare_knn(this->cpu(), this->cuda(), p, metric, k, false);
    }
  }
}

// More queries and index rows than the default tiles hold, with no cap: the warp selection's
// 4096 queries and 2048 index rows of float, 1024 of double (so 2 query tiles, the second of 64
// rows, and 2 or 3 index tiles, the last of 352 rows); at k = 300 the sorted selection's query
// tiles (4142 queries in float, 3106 in double, for 2400 index rows) twice too. Just past the
// tiles, since the emulator's time goes with queries x index rows (5000 x 3000 took 1.5x as
// long and crossed the same boundaries).
TYPED_TEST(CudaNeighborsTest, KnnOnDataLargerThanTheDefaultTiles) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Shape s;
  s.n = 2400;
  s.m = 4160;
  s.d = 8;
  const auto p = make_problem<TypeParam>(2201, s);
  for (const MetricCase& metric : {kMetrics[0], kMetrics[1], kMetrics[5]}) {
    for (int64_t k : {int64_t{5}, int64_t{300}}) {
      compare_knn(this->cpu(), this->cuda(), p, metric, k, false);
    }
  }
}

TYPED_TEST(CudaNeighborsTest, KnnBreaksTiesByIndex) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Shape a;
  a.n = 300;
  a.m = 120;
  a.d = 4;
  a.pad = 2;
  Shape b = a;
  b.n = 200;
  b.self = true;
  uint64_t seed = 2301;
  for (const Shape& shape : {a, b}) {
    const auto p = make_problem<TypeParam>(seed++, shape, Fill::kGrid);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    for (const char* rows : {"", "40"}) {
      SCOPED_TRACE(std::string("tile cap ") + rows);
      ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
      for (const MetricCase& metric : kExactMetrics) {
        for (int64_t k : ks(shape)) compare_knn(this->cpu(), this->cuda(), p, metric, k, true);
      }
    }
  }
}

// A zero row is at cosine distance exactly 1 from everything: ties that go to the smaller index.
TYPED_TEST(CudaNeighborsTest, KnnCosineWithZeroRows) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 2401;
  for (const Shape& shape : knn_shapes()) {
    const auto p = make_problem<TypeParam>(seed++, shape, Fill::kZeroRows);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    for (int64_t k : ks(shape)) compare_knn(this->cpu(), this->cuda(), p, kMetrics[5], k, false);
  }
}

TYPED_TEST(CudaNeighborsTest, KnnIsDeterministicAndTileIndependent) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Shape s;
  s.n = 1100;
  s.m = 300;
  s.d = 24;
  s.pad = 2;
  const auto p = make_problem<T>(2501, s);
  for (const MetricCase& metric : {kMetrics[0], kMetrics[3]}) {
    SCOPED_TRACE(metric.name);
    for (int64_t k : {int64_t{7}, int64_t{400}}) {
      SCOPED_TRACE("k " + std::to_string(k));
      const KnnResult<T> first = knn_cuda(this->cuda(), p, metric.spec, k);
      const KnnResult<T> again = knn_cuda(this->cuda(), p, metric.spec, k);
      EXPECT_EQ(again.idx, first.idx);
      EXPECT_EQ(again.dist, first.dist);  // bitwise
      if (std::is_same_v<T, double>) {    // no near ties in double: the tiles cannot matter
        ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "64");
        const KnnResult<T> tiled = knn_cuda(this->cuda(), p, metric.spec, k);
        EXPECT_EQ(tiled.idx, first.idx);
        EXPECT_EQ(tiled.dist, first.dist);
      }
    }
  }
}

TYPED_TEST(CudaNeighborsTest, RejectsHostMemory) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Shape s;
  s.n = 50;
  s.m = 10;
  const auto p = make_problem<T>(2601, s);
  NativeArray<T> dist(this->cuda(), std::vector<T>(s.m));
  NativeArray<int64_t> idx(this->cuda(), std::vector<int64_t>(s.m));
  const MatrixView<const T> host_x = p.index_view(p.X.data(), kHost);
  const MatrixView<const T> host_q = p.query_view(p.Q.data(), kHost);
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] {
        this->cuda().template primitives<detail::NeighborsPrimitives<T>>().knn(
            kMetrics[0].spec, nullptr, host_x, host_q, 1, false, dist.data(), idx.data());
      },
      {"device memory"}));
  std::vector<int64_t> offsets, found;
  std::vector<T> found_dist;
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] {
        this->cuda().template primitives<detail::NeighborsPrimitives<T>>().radius_search(
            kMetrics[0].spec, nullptr, host_x, host_q, 1.0, false, offsets, found, found_dist);
      },
      {"device memory"}));
}

TYPED_TEST(CudaNeighborsTest, RadiusMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Shape a;
  a.n = 400;
  a.m = 150;
  a.d = 6;
  a.pad = 3;
  Shape b;
  b.n = 300;
  b.d = 5;
  b.self = true;
  uint64_t seed = 2701;
  for (const Shape& shape : {a, b}) {
    const auto p = make_problem<TypeParam>(seed++, shape);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    for (const MetricCase& metric : kMetrics) {
      if (metric.spec.kind == Rdist::kNegInnerProduct) continue;  // not a distance
      for (double share : {0.0, 0.02, 0.3}) {
        const double bound = pick_bound(p, metric.spec, share);
        compare_radius(this->cpu(), this->cuda(), p, metric, bound, false);
        ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "40");
        compare_radius(this->cpu(), this->cuda(), p, metric, bound, false);
      }
    }
  }
}

// Grid data: distances exactly on the bound must be kept (<=), on both backends.
TYPED_TEST(CudaNeighborsTest, RadiusKeepsDistancesOnTheBound) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Shape a;
  a.n = 400;
  a.m = 150;
  a.d = 5;
  a.pad = 1;
  Shape b = a;
  b.self = true;
  uint64_t seed = 2801;
  for (const Shape& shape : {a, b}) {
    const auto p = make_problem<TypeParam>(seed++, shape, Fill::kGrid);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    for (const MetricCase& metric : kExactMetrics) {
      if (metric.spec.kind == Rdist::kNegInnerProduct) continue;
      for (double bound : {0.0, 1.0, 2.0}) {
        compare_radius(this->cpu(), this->cuda(), p, metric, bound, true);
        ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "40");
        compare_radius(this->cpu(), this->cuda(), p, metric, bound, true);
      }
    }
  }
}

TYPED_TEST(CudaNeighborsTest, RadiusWithNoMatches) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Shape s;
  s.n = 300;
  s.m = 70;
  s.d = 10;
  const auto p = make_problem<T>(2901, s);
  const RadiusResult<T> r = radius_on(this->cuda(), p, kMetrics[0].spec, 1e-9);
  EXPECT_EQ(r.offsets, std::vector<int64_t>(s.m + 1, 0));
  EXPECT_TRUE(r.idx.empty());
  EXPECT_TRUE(r.dist.empty());
}

// The squared Euclidean distance with a shift (the index's mean, as the driver passes it), against
// the CPU backend with the same shift, across tile boundaries. The other metrics ignore the
// shift: their results must be bitwise those without it.
TYPED_TEST(CudaNeighborsTest, ShiftedMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  uint64_t seed = 3001;
  for (const Shape& shape : small_knn_shapes()) {
    const auto p = make_problem<T>(seed++, shape);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    const std::vector<T> shift = column_mean(p);
    for (const char* rows : {"", "40"}) {
      SCOPED_TRACE(std::string("tile cap ") + rows);
      ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
      for (int64_t k : ks(shape)) {
        compare_knn(this->cpu(), this->cuda(), p, kMetrics[0], k, false, shift.data());
      }
      for (double share : {0.0, 0.02, 0.3}) {
        const double bound = pick_bound(p, kMetrics[0].spec, share);
        compare_radius(this->cpu(), this->cuda(), p, kMetrics[0], bound, false, shift.data());
      }
      for (const MetricCase& metric : {kMetrics[1], kMetrics[5]}) {
        SCOPED_TRACE(metric.name);
        for (int64_t k : {int64_t{5}, shape.n - (shape.self ? 1 : 0)}) {
          const KnnResult<T> plain = knn_cuda(this->cuda(), p, metric.spec, k);
          const KnnResult<T> shifted = knn_cuda(this->cuda(), p, metric.spec, k, shift.data());
          EXPECT_EQ(shifted.idx, plain.idx);
          EXPECT_EQ(shifted.dist, plain.dist);
        }
      }
    }
  }
}

// Data far from the origin, X = 1000 + 0.01 u (u uniform in [0, 1)), shifted by the index's mean.
// Unshifted, |q|^2 - 2 q.x + |x|^2 would cancel every digit of the distances (~1e-4 out of
// ~8e6) in float. In float the shifted rows are exact (x - s, both near 1000, is exact), small
// multiples of 2^-14, so every shifted product, norm and distance is exact too: the neighbours
// (ties included) must be exactly those of the exact distances, on both backends.
TYPED_TEST(CudaNeighborsTest, ShiftKeepsDataFarFromTheOrigin) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const RdistSpec sq = kMetrics[0].spec;
  Shape a;
  a.n = 400;
  a.m = 100;
  a.d = 8;
  a.pad = 2;
  Shape b;
  b.n = 300;
  b.d = 8;
  b.self = true;
  uint64_t seed = 3101;
  for (const Shape& shape : {a, b}) {
    SCOPED_TRACE(describe(shape) + ", seed " + std::to_string(seed));
    std::mt19937_64 rng(seed++);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Problem<T> p;
    p.shape = shape;
    p.ld = shape.d + shape.pad;
    auto far = [&](int64_t rows) {
      std::vector<T> x(rows * p.ld, std::numeric_limits<T>::quiet_NaN());
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t l = 0; l < shape.d; ++l) {
          x[i * p.ld + l] = static_cast<T>(1000.0 + 0.01 * uniform(rng));
        }
      }
      return x;
    };
    p.X = far(shape.n);
    if (!shape.self) p.Q = far(shape.m);
    const std::vector<T> shift = column_mean(p);
    const auto order = exact_order(p, sq);
    for (const char* rows : {"", "40"}) {
      SCOPED_TRACE(std::string("tile cap ") + rows);
      ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
      for (int64_t k : ks(shape)) {
        SCOPED_TRACE("k " + std::to_string(k));
        const KnnResult<T> cpu = knn_cpu(this->cpu(), p, sq, k, shift.data());
        const KnnResult<T> got = knn_cuda(this->cuda(), p, sq, k, shift.data());
        check_lists(p, k, got);
        EXPECT_EQ(got.idx, cpu.idx);
        for (int64_t i = 0; i < p.m(); ++i) {
          for (int64_t t = 0; t < k; ++t) {
            const int64_t e = i * k + t;
            const double want = order[i][t].first;
            ASSERT_EQ(got.idx[e], order[i][t].second) << "query " << i << " slot " << t;
            ASSERT_EQ(cpu.idx[e], order[i][t].second) << "query " << i << " slot " << t;
            ASSERT_LE(std::abs(got.dist[e] - want), dist_tolerance<T>() * std::max(1.0, want))
                << "query " << i << " slot " << t;
          }
        }
      }
      // A bound halfway between two distinct exact distances near the 2% and 30% points, apart
      // from both by far more than the exact pass's rounding.
      std::vector<double> all;
      for (const auto& row : order) {
        for (const auto& e : row) all.push_back(static_cast<double>(e.first));
      }
      std::sort(all.begin(), all.end());
      for (double share : {0.02, 0.3}) {
        double bound = all.back() + 1.0;
        for (size_t i = static_cast<size_t>(share * static_cast<double>(all.size()));
             i + 1 < all.size(); ++i) {
          if (all[i + 1] - all[i] > 1e-7 * all[i + 1]) {
            bound = 0.5 * (all[i] + all[i + 1]);
            break;
          }
        }
        SCOPED_TRACE("bound " + std::to_string(bound));
        RadiusResult<T> want;
        want.offsets.push_back(0);
        for (const auto& row : order) {
          std::vector<std::pair<int64_t, T>> hits;
          for (const auto& [v, j] : row) {
            if (static_cast<double>(v) <= bound) hits.emplace_back(j, v);
          }
          std::sort(hits.begin(), hits.end());
          for (const auto& [j, v] : hits) {
            want.idx.push_back(j);
            want.dist.push_back(v);
          }
          want.offsets.push_back(static_cast<int64_t>(want.idx.size()));
        }
        const RadiusResult<T> cpu = radius_on(this->cpu(), p, sq, bound, shift.data());
        const RadiusResult<T> got = radius_on(this->cuda(), p, sq, bound, shift.data());
        EXPECT_EQ(cpu.offsets, want.offsets);
        EXPECT_EQ(cpu.idx, want.idx);
        ASSERT_EQ(got.offsets, want.offsets);
        ASSERT_EQ(got.idx, want.idx);
        ASSERT_EQ(got.dist.size(), want.dist.size());
        for (size_t e = 0; e < want.dist.size(); ++e) {
          const double w = want.dist[e];
          ASSERT_LE(std::abs(got.dist[e] - w), dist_tolerance<T>() * std::max(1.0, w))
              << "match " << e;
        }
      }
    }
  }
}

}  // namespace
}  // namespace gpulearn::detail
