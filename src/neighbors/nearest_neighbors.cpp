// The brute-force neighbours driver, written once for every backend: parameter and input
// checks, the metric's reduced distance, inputs made native once per call, the final transform
// (square root, p-th root, sign) and the copy of the results to where the caller wants them.
// The passes over the data are the backend's knn and radius_search.
#include "gpulearn/neighbors/nearest_neighbors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "primitives.hpp"
#include "rdist.hpp"

namespace gpulearn::neighbors {

namespace {

using detail::Backend;
using detail::NativeMatrix;
using detail::Rdist;
using detail::RdistSpec;
using detail::Scratch;

// How a metric's distance follows from its reduced distance (an increasing map, except the
// inner product's sign, which its reduced distance already reversed).
enum class Finish { kNone, kSqrt, kRoot, kNegate };

struct ResolvedMetric {
  RdistSpec rdist;
  Finish finish = Finish::kNone;
  const char* name;
};

ResolvedMetric resolve(const NeighborsParams& params) {
  switch (params.metric) {
    case Metric::kMinkowski: {
      const double p = params.p;
      GPULEARN_EXPECTS(p > 0 && !std::isnan(p), "p must be greater than 0 for the Minkowski ",
                       "metric, got ", p);
      if (p == 1) return {{Rdist::kManhattan, 1}, Finish::kNone, "minkowski"};
      if (p == 2) return {{Rdist::kSqEuclidean, 2}, Finish::kSqrt, "minkowski"};
      if (std::isinf(p)) return {{Rdist::kChebyshev, p}, Finish::kNone, "minkowski"};
      return {{Rdist::kMinkowski, p}, Finish::kRoot, "minkowski"};
    }
    case Metric::kEuclidean:
      return {{Rdist::kSqEuclidean, 2}, Finish::kSqrt, "euclidean"};
    case Metric::kSqEuclidean:
      return {{Rdist::kSqEuclidean, 2}, Finish::kNone, "sqeuclidean"};
    case Metric::kManhattan:
      return {{Rdist::kManhattan, 1}, Finish::kNone, "manhattan"};
    case Metric::kChebyshev:
      return {{Rdist::kChebyshev, 1}, Finish::kNone, "chebyshev"};
    case Metric::kCosine:
      return {{Rdist::kCosine, 2}, Finish::kNone, "cosine"};
    case Metric::kInnerProduct:
      return {{Rdist::kNegInnerProduct, 2}, Finish::kNegate, "inner_product"};
  }
  GPULEARN_FAIL(InvalidArgument, "unknown metric");
}

template <typename T>
T finish(const ResolvedMetric& m, T v) {
  switch (m.finish) {
    case Finish::kSqrt:
      return std::sqrt(v);
    case Finish::kRoot:
      return static_cast<T>(std::pow(static_cast<double>(v), 1.0 / m.rdist.p));
    case Finish::kNegate:
      return -v;
    default:
      return v;
  }
}

// Checks both inputs and that no distance between their rows can overflow T.
template <typename T>
void check_inputs(Backend& be, const ResolvedMetric& m, MatrixView<const T> index,
                  MatrixView<const T> queries, bool exclude_self) {
  GPULEARN_EXPECTS(index.rows >= 1 && index.cols >= 1, "the index needs at least 1 sample and 1 ",
                   "feature, got shape (", index.rows, ", ", index.cols, ")");
  GPULEARN_EXPECTS(queries.cols == index.cols, "the queries have ", queries.cols,
                   " features but the index has ", index.cols);
  for (const MatrixView<const T>* v : {&index, &queries}) {
    detail::require_readable(be, v->space, "data");
  }
  GPULEARN_EXPECTS(!exclude_self || (queries.data == index.data && queries.rows == index.rows &&
                                     queries.ld == index.ld),
                   "excluding each row from its own neighbours needs the queries to be the index");
  double amax = detail::checked_max_abs(be, index, "X");
  if (!exclude_self && !queries.empty()) {
    amax = std::max<double>(amax, detail::checked_max_abs(be, queries, "X"));
  }
  // The largest reduced distance (or norm product) two rows can have: d (2 amax)^e, e = 2 for
  // the GEMM family, p for Minkowski, 1 for the rest (Chebyshev: 2 amax), in logarithms.
  const double d = static_cast<double>(index.cols);
  double log_max = 0;
  if (amax > 0) {
    const double log_span = std::log(2.0 * amax);
    switch (m.rdist.kind) {
      case Rdist::kChebyshev:
        log_max = log_span;
        break;
      case Rdist::kManhattan:
        log_max = std::log(d) + log_span;
        break;
      case Rdist::kMinkowski:
        log_max = std::log(d) + m.rdist.p * log_span;
        break;
      default:
        log_max = std::log(d) + 2.0 * log_span;
    }
  }
  GPULEARN_EXPECTS(log_max < std::log(static_cast<double>(std::numeric_limits<T>::max())),
                   "X has entries up to ", amax, " in magnitude: ", m.name,
                   " distances between its rows overflow ", sizeof(T) == 4 ? "float32" : "float64",
                   "; scale X (or use float64)");
}

// The shift of squared Euclidean distances (else empty: none): their GEMM expansion
// |q|^2 - 2 q.x + |x|^2 loses every digit to cancellation for data far from the origin, and
// distances do not change when both sides move. The index's column mean, rounded to 8
// significant bits: it centres as well as the exact mean, and x - s stays exact for data on a
// grid coarser than that (integers, halves, ...), whose exactly tied distances then stay tied
// in T, so that the tie rule (the smaller index first) still decides among them.
template <typename T>
std::vector<T> distance_shift(Backend& be, const ResolvedMetric& m, MatrixView<const T> index) {
  if (m.rdist.kind != Rdist::kSqEuclidean) return {};
  std::vector<T> mean(index.cols);
  double count = 0;
  be.weighted_means(index, MatrixView<const T>(), VectorView<const T>(), mean.data(), nullptr,
                    &count);
  for (T& v : mean) {
    if (v == T(0)) continue;
    int e = 0;
    std::frexp(static_cast<double>(v), &e);
    const double unit = std::ldexp(1.0, e - 8);
    v = static_cast<T>(std::round(static_cast<double>(v) / unit) * unit);
  }
  return mean;
}

// Copies an m x k host result (contiguous) into the caller's view (any space, any row stride).
template <typename U>
void deliver(Backend& be, const std::vector<U>& host, MatrixView<U> out) {
  const int64_t row_bytes = out.cols * int64_t(sizeof(U));
  if (out.contiguous()) {
    be.copy(out.data, out.space, host.data(), MemorySpace::kHost, out.rows * row_bytes);
    return;
  }
  for (int64_t i = 0; i < out.rows; ++i) {
    be.copy(out.row(i), out.space, host.data() + i * out.cols, MemorySpace::kHost, row_bytes);
  }
}

// Neighbours the search selects beyond the k asked for. The scan ranks by distances rounded in
// T (in float32 a GEMM-expanded distance is off by up to ~1e-5 relative), so a true k-th
// neighbour in a near-tie can rank just below the k-th; the exact pass re-sorts the wider list
// and keeps its first k. Kept within the CUDA backend's fast path (k <= 256) when k is.
int64_t selection_width(int64_t k, int64_t candidates, size_t elem_size) {
  if (elem_size != sizeof(float)) return k;  // double's rounding (1e-13) is below any real gap
  int64_t wide = std::min(candidates, k + 4 + k / 8);
  if (k <= 256) wide = std::min<int64_t>(wide, 256);
  return std::max(wide, k);
}

}  // namespace

template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, MatrixView<const T> index,
                MatrixView<const T> queries, int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  const ResolvedMetric m = resolve(params);
  Backend& be = ctx.backend();
  check_inputs(be, m, index, queries, exclude_self);
  const int64_t candidates = index.rows - (exclude_self ? 1 : 0);
  GPULEARN_EXPECTS(k >= 1, "Expected n_neighbors > 0, got ", k);
  GPULEARN_EXPECTS(k <= candidates, "Expected n_neighbors ",
                   exclude_self ? "< " : "<= ", "n_samples_fit, but n_neighbors = ", k,
                   ", n_samples_fit = ", index.rows, ", n_samples = ", queries.rows);
  for (const auto& shape :
       {std::pair(distances.rows, distances.cols), std::pair(indices.rows, indices.cols)}) {
    GPULEARN_EXPECTS(shape.first == queries.rows && shape.second == k,
                     "outputs must be (n_queries, k) = (", queries.rows, ", ", k, "), got (",
                     shape.first, ", ", shape.second, ")");
  }
  GPULEARN_EXPECTS(distances.space == queries.space && indices.space == queries.space,
                   "the outputs must be in the queries' memory space (", to_string(queries.space),
                   ")");
  if (queries.rows == 0) return;

  const NativeMatrix<T> native_index(be, index);
  std::unique_ptr<NativeMatrix<T>> query_copy;  // self queries read the index's copy
  MatrixView<const T> q = native_index.view;
  if (!exclude_self) {
    query_copy = std::make_unique<NativeMatrix<T>>(be, queries);
    q = query_copy->view;
  }
  const int64_t wide = selection_width(k, candidates, sizeof(T));
  const int64_t count = checked_mul(queries.rows, wide);
  Scratch<T> dist(be, count);
  Scratch<int64_t> idx(be, count);
  const std::vector<T> shift = distance_shift(be, m, native_index.view);
  be.primitives<detail::NeighborsPrimitives<T>>().knn(
      m.rdist, shift.empty() ? nullptr : shift.data(), native_index.view, q, wide, exclude_self,
      dist.data, idx.data);

  // The first k of each row, finished (root, sign), on the host: the results are m x k, small
  // beside the scan.
  std::vector<T> host_dist(count);
  std::vector<int64_t> host_idx(count);
  be.copy(host_dist.data(), MemorySpace::kHost, dist.data, be.native_space(),
          count * int64_t(sizeof(T)));
  be.copy(host_idx.data(), MemorySpace::kHost, idx.data, be.native_space(),
          count * int64_t(sizeof(int64_t)));
  for (int64_t i = 0; i < queries.rows; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      host_dist[i * k + c] = finish(m, host_dist[i * wide + c]);
      host_idx[i * k + c] = host_idx[i * wide + c];
    }
  }
  host_dist.resize(queries.rows * k);
  host_idx.resize(queries.rows * k);
  deliver(be, host_dist, distances);
  deliver(be, host_idx, indices);
}

template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params,
                                    MatrixView<const T> index, MatrixView<const T> queries,
                                    double radius, bool exclude_self, bool sort_results) {
  const ResolvedMetric m = resolve(params);
  GPULEARN_EXPECTS(m.finish != Finish::kNegate, "radius queries need a distance; metric='", m.name,
                   "' is a similarity (use kneighbors)");
  GPULEARN_EXPECTS(radius >= 0, "radius must be >= 0 (infinity matches every row), got ", radius);
  Backend& be = ctx.backend();
  check_inputs(be, m, index, queries, exclude_self);
  RadiusNeighbors<T> r;
  if (queries.rows == 0) {
    r.offsets.assign(1, 0);
    return r;
  }
  // The bound in reduced distances, in double (the radius need not be representable in T).
  double bound = radius;
  if (m.finish == Finish::kSqrt) bound = radius * radius;
  if (m.finish == Finish::kRoot) bound = std::pow(radius, m.rdist.p);

  const NativeMatrix<T> native_index(be, index);
  std::unique_ptr<NativeMatrix<T>> query_copy;
  MatrixView<const T> q = native_index.view;
  if (!exclude_self) {
    query_copy = std::make_unique<NativeMatrix<T>>(be, queries);
    q = query_copy->view;
  }
  const std::vector<T> shift = distance_shift(be, m, native_index.view);
  be.primitives<detail::NeighborsPrimitives<T>>().radius_search(
      m.rdist, shift.empty() ? nullptr : shift.data(), native_index.view, q, bound, exclude_self,
      r.offsets, r.indices, r.distances);
  if (m.finish != Finish::kNone) {
    for (T& v : r.distances) v = finish(m, v);
  }
  if (sort_results) {
    std::vector<int64_t> order;
    std::vector<int64_t> sorted_idx;
    std::vector<T> sorted_dist;
    for (int64_t i = 0; i + 1 < static_cast<int64_t>(r.offsets.size()); ++i) {
      const int64_t b = r.offsets[i], e = r.offsets[i + 1];
      order.resize(e - b);
      std::iota(order.begin(), order.end(), b);
      // Stable, and the matches come in ascending index: ties stay in index order.
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t x, int64_t y) { return r.distances[x] < r.distances[y]; });
      sorted_idx.resize(e - b);
      sorted_dist.resize(e - b);
      for (int64_t t = 0; t < e - b; ++t) {
        sorted_idx[t] = r.indices[order[t]];
        sorted_dist[t] = r.distances[order[t]];
      }
      std::copy(sorted_idx.begin(), sorted_idx.end(), r.indices.begin() + b);
      std::copy(sorted_dist.begin(), sorted_dist.end(), r.distances.begin() + b);
    }
  }
  return r;
}

#define GPULEARN_INSTANTIATE(T)                                                             \
  template void kneighbors<T>(Context&, const NeighborsParams&, MatrixView<const T>,        \
                              MatrixView<const T>, int64_t, bool, MatrixView<T>,            \
                              MatrixView<int64_t>);                                         \
  template RadiusNeighbors<T> radius_neighbors<T>(Context&, const NeighborsParams&,         \
                                                  MatrixView<const T>, MatrixView<const T>, \
                                                  double, bool, bool);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::neighbors
