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
#include "../sparse/native_csr.hpp"
#include "../sparse/primitives.hpp"
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

template <typename T>
void check_range(const ResolvedMetric& m, double amax, int64_t cols);

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
  check_range<T>(m, amax, index.cols);
}

// Throws unless every reduced distance between rows of d features with entries up to amax in
// magnitude is finite in T.
template <typename T>
void check_range(const ResolvedMetric& m, double amax, int64_t cols) {
  // The largest reduced distance (or norm product) two rows can have: d (2 amax)^e, e = 2 for
  // the GEMM family, p for Minkowski, 1 for the rest (Chebyshev: 2 amax), in logarithms.
  const double d = static_cast<double>(cols);
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

// The checks of k: 1 <= k <= the rows a query may match, which it returns.
int64_t checked_k(int64_t n, int64_t n_q, int64_t k, bool exclude_self) {
  const int64_t candidates = n - (exclude_self ? 1 : 0);
  GPULEARN_EXPECTS(k >= 1, "Expected n_neighbors > 0, got ", k);
  GPULEARN_EXPECTS(k <= candidates, "Expected n_neighbors ", exclude_self ? "< " : "<= ",
                   "n_samples_fit, but n_neighbors = ", k, ", n_samples_fit = ", n,
                   ", n_samples = ", n_q);
  return candidates;
}

template <typename T>
void check_knn_outputs(int64_t n_q, MemorySpace space, int64_t k, MatrixView<T> distances,
                       MatrixView<int64_t> indices) {
  for (const auto& shape :
       {std::pair(distances.rows, distances.cols), std::pair(indices.rows, indices.cols)}) {
    GPULEARN_EXPECTS(shape.first == n_q && shape.second == k,
                     "outputs must be (n_queries, k) = (", n_q, ", ", k, "), got (", shape.first,
                     ", ", shape.second, ")");
  }
  GPULEARN_EXPECTS(distances.space == space && indices.space == space,
                   "the outputs must be in the queries' memory space (", to_string(space), ")");
}

// The first k of each of the n_q rows of wide (host, n_q x wide) selected neighbours, finished
// (root, sign), into the caller's views: the results are n_q x k, small beside the scan.
template <typename T>
void deliver_knn(Backend& be, const ResolvedMetric& m, int64_t n_q, int64_t k, int64_t wide,
                 std::vector<T>& host_dist, std::vector<int64_t>& host_idx,
                 MatrixView<T> distances, MatrixView<int64_t> indices) {
  for (int64_t i = 0; i < n_q; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      host_dist[i * k + c] = finish(m, host_dist[i * wide + c]);
      host_idx[i * k + c] = host_idx[i * wide + c];
    }
  }
  host_dist.resize(n_q * k);
  host_idx.resize(n_q * k);
  deliver(be, host_dist, distances);
  deliver(be, host_idx, indices);
}

// Radius matches finished (root) and, with sort_results, ordered by (distance, index).
template <typename T>
void finish_radius(const ResolvedMetric& m, RadiusNeighbors<T>& r, bool sort_results) {
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
}

}  // namespace

template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, MatrixView<const T> index,
                MatrixView<const T> queries, int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  const ResolvedMetric m = resolve(params);
  Backend& be = ctx.backend();
  check_inputs(be, m, index, queries, exclude_self);
  const int64_t candidates = checked_k(index.rows, queries.rows, k, exclude_self);
  check_knn_outputs(queries.rows, queries.space, k, distances, indices);
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

  std::vector<T> host_dist(count);
  std::vector<int64_t> host_idx(count);
  be.copy(host_dist.data(), MemorySpace::kHost, dist.data, be.native_space(),
          count * int64_t(sizeof(T)));
  be.copy(host_idx.data(), MemorySpace::kHost, idx.data, be.native_space(),
          count * int64_t(sizeof(int64_t)));
  deliver_knn(be, m, queries.rows, k, wide, host_dist, host_idx, distances, indices);
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
  finish_radius(m, r, sort_results);
  return r;
}

// ---- sparse (CSR) rows: a sparse index, sparse queries, or both --------------------------------

namespace {

using detail::NeighborsPrimitives;
using detail::SparsePrimitives;

// The rows of one side of a search: dense or CSR.
template <typename T>
struct SearchRows {
  MatrixView<const T> dense;
  CsrView<T> csr;
  bool sparse = false;
  SearchRows(MatrixView<const T> d) : dense(d) {}  // NOLINT(google-explicit-constructor)
  SearchRows(CsrView<T> c) : csr(c), sparse(true) {}  // NOLINT(google-explicit-constructor)
  int64_t rows() const { return sparse ? csr.rows : dense.rows; }
  int64_t cols() const { return sparse ? csr.cols : dense.cols; }
  MemorySpace space() const { return sparse ? csr.space : dense.space; }
};

using detail::NativeCsr;

// The largest |entry| of a search's rows, which must be finite (the dense check's message).
template <typename T>
double checked_max_abs_of(Backend& be, const SearchRows<T>& R) {
  if (!R.sparse) return detail::checked_max_abs(be, R.dense, "X");
  if (R.csr.space == MemorySpace::kHost) check_csr_structure(R.csr);
  const NativeCsr<T> native(be, R.csr);
  const T amax = be.primitives<SparsePrimitives<T>>().max_abs(native.view);
  GPULEARN_EXPECTS(std::isfinite(amax), "Input X contains NaN or infinity.");
  return amax;
}

template <typename T>
void check_search(Backend& be, const ResolvedMetric& m, const SearchRows<T>& index,
                  const SearchRows<T>& queries, bool exclude_self) {
  GPULEARN_EXPECTS(index.rows() >= 1 && index.cols() >= 1, "the index needs at least 1 sample ",
                   "and 1 feature, got shape (", index.rows(), ", ", index.cols(), ")");
  GPULEARN_EXPECTS(queries.cols() == index.cols(), "the queries have ", queries.cols(),
                   " features but the index has ", index.cols());
  if (!index.sparse) detail::require_readable(be, index.space(), "data");
  if (!queries.sparse) detail::require_readable(be, queries.space(), "data");
  if (index.sparse) {
    const Rdist k = m.rdist.kind;
    GPULEARN_EXPECTS(k == Rdist::kSqEuclidean || k == Rdist::kManhattan || k == Rdist::kCosine ||
                         k == Rdist::kNegInnerProduct,
                     "Metric '", m.name, "' not valid for sparse input: a sparse index is ",
                     "searched with euclidean, sqeuclidean, manhattan, cosine or inner_product");
  }
  GPULEARN_EXPECTS(!exclude_self || (index.sparse && queries.sparse &&
                                     queries.csr.indptr == index.csr.indptr &&
                                     queries.csr.rows == index.csr.rows),
                   "excluding each row from its own neighbours needs the queries to be the index");
  double amax = checked_max_abs_of(be, index);
  if (!exclude_self && queries.rows() > 0) amax = std::max(amax, checked_max_abs_of(be, queries));
  check_range<T>(m, amax, index.cols());
}

// Query rows per tile: the dense tile (t x d, and its transpose for a sparse index) within
// 8 MiB, the products of a sparse index (n x t) within 64 MiB.
template <typename T>
int64_t query_tile(int64_t n_q, int64_t n, int64_t d, bool sparse_index) {
  constexpr int64_t kTileBytes = int64_t{8} << 20, kProductBytes = int64_t{64} << 20;
  int64_t t = kTileBytes / std::max<int64_t>(1, d * int64_t(sizeof(T)));
  if (sparse_index) t = std::min(t, kProductBytes / std::max<int64_t>(1, n * int64_t(sizeof(T))));
  return std::clamp<int64_t>(std::min<int64_t>(t, 1024), 1, std::max<int64_t>(n_q, 1));
}

// The query rows [q0, q0 + t) dense on the host (t x d, row-major), from dense rows anywhere or
// CSR rows (SparsePrimitives::gather_rows).
template <typename T>
void dense_tile(Backend& be, const SearchRows<T>& queries, const CsrView<T>& native_csr,
                int64_t q0, int64_t t, std::vector<T>& Q) {
  const int64_t d = queries.cols();
  Q.resize(checked_mul(t, d));
  if (queries.sparse) {
    std::vector<int64_t> rows(t);
    std::iota(rows.begin(), rows.end(), q0);
    be.primitives<SparsePrimitives<T>>().gather_rows(native_csr, rows.data(), t, Q.data());
    return;
  }
  const MatrixView<const T> block = queries.dense.block_rows(q0, t);
  if (block.contiguous()) {
    be.copy(Q.data(), MemorySpace::kHost, block.data, block.space, t * d * int64_t(sizeof(T)));
  } else {
    for (int64_t i = 0; i < t; ++i) {
      be.copy(&Q[i * d], MemorySpace::kHost, block.row(i), block.space, d * int64_t(sizeof(T)));
    }
  }
}

// What a sparse index needs across the tiles: its native copy, its rows' squared norms, and
// the tile buffers. One tile's products P = index Q^T (n x t) are computed by the sparse
// primitives (multiply; the neighbours' sparse_l1 for Manhattan) from the tile made dense, or,
// for sparse queries on a host backend, from the query rows and the index transposed
// (sparse_query_products: each query meets only the index entries in its own columns), the
// selection by the neighbours' sparse tile primitives.
template <typename T>
struct SparseIndexSearch {
  Backend& be;
  const ResolvedMetric& m;
  NativeCsr<T> index;
  Scratch<T> index_sq;
  Scratch<T> products;
  std::vector<T> Bt;
  // The index transposed (d x n, host), and |x|_1 of its rows for Manhattan: built only for
  // sparse queries where the backend computes in host memory.
  std::vector<T> t_values, x_l1;
  std::vector<int32_t> t_indices;
  std::vector<int64_t> t_indptr;
  CsrView<T> transposed;
  bool has_transposed = false;

  SparseIndexSearch(Backend& b, const ResolvedMetric& metric, CsrView<T> X, int64_t t,
                    bool sparse_queries)
      : be(b), m(metric), index(b, X), index_sq(b, std::max<int64_t>(X.rows, 1)),
        products(b, checked_mul(X.rows, t)) {
    be.primitives<SparsePrimitives<T>>().row_norms_sq(index.view, index_sq.data);
    if (sparse_queries && be.native_space() == MemorySpace::kHost &&
        X.rows <= std::numeric_limits<int32_t>::max()) {
      transpose(index.view);
    }
  }

  // Counting sort of the entries by column: row j's entries keep ascending row order.
  void transpose(CsrView<T> X) {
    const int64_t n = X.rows, d = X.cols, base = n > 0 ? X.indptr[0] : 0;
    const int64_t nnz = n > 0 ? X.indptr[n] - base : 0;
    t_indptr.assign(d + 1, 0);
    for (int64_t p = base; p < base + nnz; ++p) ++t_indptr[X.indices[p] + 1];
    for (int64_t j = 0; j < d; ++j) t_indptr[j + 1] += t_indptr[j];
    std::vector<int64_t> next(t_indptr.begin(), t_indptr.end() - 1);
    t_values.resize(nnz);
    t_indices.resize(nnz);
    if (m.rdist.kind == Rdist::kManhattan) x_l1.assign(n, T(0));
    for (int64_t i = 0; i < n; ++i) {
      double l1 = 0;
      for (int64_t p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
        const int64_t o = next[X.indices[p]]++;
        t_values[o] = X.values[p];
        t_indices[o] = static_cast<int32_t>(i);
        l1 += std::abs(static_cast<double>(X.values[p]));
      }
      if (!x_l1.empty()) x_l1[i] = static_cast<T>(l1);
    }
    transposed = CsrView<T>(t_values.data(), t_indices.data(), t_indptr.data(), d, n);
    has_transposed = true;
  }

  // P (n x t, native) for the tile: Q (t x d, host) dense, q_tile its rows as CSR (native;
  // empty for dense queries).
  MatrixView<T> tile_products(const std::vector<T>& Q, int64_t t, CsrView<T> q_tile) {
    const int64_t n = index.view.rows, d = index.view.cols;
    const MatrixView<T> P(products.data, n, t, t, be.native_space());
    if (has_transposed && q_tile.rows == t &&
        be.primitives<NeighborsPrimitives<T>>().sparse_query_products(
            m.rdist, transposed, x_l1.empty() ? nullptr : x_l1.data(), q_tile, P)) {
      return P;
    }
    Bt.resize(checked_mul(d, t));
    for (int64_t c = 0; c < t; ++c) {
      for (int64_t j = 0; j < d; ++j) Bt[j * t + c] = Q[c * d + j];
    }
    if (m.rdist.kind == Rdist::kManhattan) {
      be.primitives<NeighborsPrimitives<T>>().sparse_l1(index.view, Bt.data(), t, P);
    } else {
      be.primitives<SparsePrimitives<T>>().multiply(index.view, Bt.data(), t, P);
    }
    return P;
  }
};

// The query tiles of a search with a sparse side (the index, the queries, or both), shared by
// search_knn and search_radius: the index's native copy (a SparseIndexSearch, or the dense rows
// and their shift), the queries' native CSR, and per tile the query rows made dense (Q) with,
// for a sparse index, their products with it (P).
template <typename T>
struct QueryTiles {
  Backend& be;
  const SearchRows<T>& queries;
  const bool exclude_self;
  const int64_t t_max;
  std::unique_ptr<NativeCsr<T>> query_csr;
  std::unique_ptr<SparseIndexSearch<T>> sparse_index;
  std::unique_ptr<NativeMatrix<T>> dense_index;
  std::vector<T> shift;
  CsrView<T> q_csr;  // the queries as native CSR (the index's own rows for exclude_self)
  std::vector<T> Q;  // the current tile, dense on the host (t x d)
  MatrixView<T> P;   // its products with a sparse index (n x t, native)

  QueryTiles(Backend& b, const ResolvedMetric& m, const SearchRows<T>& index,
             const SearchRows<T>& q, bool self)
      : be(b), queries(q), exclude_self(self),
        t_max(query_tile<T>(q.rows(), index.rows(), index.cols(), index.sparse)) {
    if (queries.sparse && !exclude_self) {
      query_csr = std::make_unique<NativeCsr<T>>(be, queries.csr);
    }
    if (index.sparse) {
      sparse_index =
          std::make_unique<SparseIndexSearch<T>>(be, m, index.csr, t_max, queries.sparse);
    } else {
      dense_index = std::make_unique<NativeMatrix<T>>(be, index.dense);
      shift = distance_shift(be, m, dense_index->view);
    }
    q_csr = exclude_self ? sparse_index->index.view
                         : (query_csr ? query_csr->view : CsrView<T>());
  }

  // Calls sparse_tile(q0, t) with Q and P set, for each tile of a sparse index; dense_tile(q0,
  // t, rows) with the tile's rows in native memory, for a dense index.
  template <typename SparseTile, typename DenseTile>
  void run(SparseTile sparse_tile, DenseTile dense_rows_tile) {
    const int64_t n_q = queries.rows(), d = queries.cols();
    for (int64_t q0 = 0; q0 < n_q; q0 += t_max) {
      const int64_t t = std::min(t_max, n_q - q0);
      dense_tile(be, queries, q_csr, q0, t, Q);
      if (sparse_index) {
        P = sparse_index->tile_products(Q, t,
                                        queries.sparse ? q_csr.block_rows(q0, t) : CsrView<T>());
        sparse_tile(q0, t);
      } else {
        // Dense index, sparse queries: the tile made dense is searched as dense queries are.
        const NativeMatrix<T> tile(be, MatrixView<const T>(Q.data(), t, d, d));
        dense_rows_tile(q0, t, tile.view);
      }
    }
  }

  int64_t self_offset(int64_t q0) const { return exclude_self ? q0 : -1; }
  const T* shift_data() const { return shift.empty() ? nullptr : shift.data(); }
};

template <typename T>
void search_knn(Context& ctx, const NeighborsParams& params, SearchRows<T> index,
                SearchRows<T> queries, int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  const ResolvedMetric m = resolve(params);
  Backend& be = ctx.backend();
  check_search(be, m, index, queries, exclude_self);
  const int64_t n = index.rows(), n_q = queries.rows();
  const int64_t candidates = checked_k(n, n_q, k, exclude_self);
  check_knn_outputs(n_q, queries.space(), k, distances, indices);
  if (n_q == 0) return;
  const int64_t wide = selection_width(k, candidates, sizeof(T));
  QueryTiles<T> tiles(be, m, index, queries, exclude_self);
  std::vector<T> host_dist(checked_mul(n_q, wide));
  std::vector<int64_t> host_idx(host_dist.size());
  Scratch<T> dist(be, checked_mul(tiles.t_max, wide));
  Scratch<int64_t> idx(be, checked_mul(tiles.t_max, wide));
  auto& prim = be.primitives<NeighborsPrimitives<T>>();
  const auto keep = [&](int64_t q0, int64_t t) {
    be.copy(&host_dist[q0 * wide], MemorySpace::kHost, dist.data, be.native_space(),
            t * wide * int64_t(sizeof(T)));
    be.copy(&host_idx[q0 * wide], MemorySpace::kHost, idx.data, be.native_space(),
            t * wide * int64_t(sizeof(int64_t)));
  };
  tiles.run(
      [&](int64_t q0, int64_t t) {
        const SparseIndexSearch<T>& s = *tiles.sparse_index;
        prim.sparse_knn_tile(m.rdist, s.index.view, s.index_sq.data, tiles.Q.data(), t, tiles.P,
                             tiles.self_offset(q0), wide, dist.data, idx.data);
        keep(q0, t);
      },
      [&](int64_t q0, int64_t t, MatrixView<const T> rows) {
        prim.knn(m.rdist, tiles.shift_data(), tiles.dense_index->view, rows, wide, false,
                 dist.data, idx.data);
        keep(q0, t);
      });
  deliver_knn(be, m, n_q, k, wide, host_dist, host_idx, distances, indices);
}

template <typename T>
RadiusNeighbors<T> search_radius(Context& ctx, const NeighborsParams& params, SearchRows<T> index,
                                 SearchRows<T> queries, double radius, bool exclude_self,
                                 bool sort_results) {
  const ResolvedMetric m = resolve(params);
  GPULEARN_EXPECTS(m.finish != Finish::kNegate, "radius queries need a distance; metric='", m.name,
                   "' is a similarity (use kneighbors)");
  GPULEARN_EXPECTS(radius >= 0, "radius must be >= 0 (infinity matches every row), got ", radius);
  Backend& be = ctx.backend();
  check_search(be, m, index, queries, exclude_self);
  const int64_t n_q = queries.rows();
  RadiusNeighbors<T> r;
  r.offsets.assign(1, 0);
  if (n_q == 0) return r;
  double bound = radius;
  if (m.finish == Finish::kSqrt) bound = radius * radius;
  if (m.finish == Finish::kRoot) bound = std::pow(radius, m.rdist.p);

  QueryTiles<T> tiles(be, m, index, queries, exclude_self);
  std::vector<T> tile_dist;
  std::vector<int64_t> tile_offsets, tile_idx;
  auto& prim = be.primitives<NeighborsPrimitives<T>>();
  const auto append = [&](int64_t t) {
    const int64_t base = r.offsets.back();
    for (int64_t c = 1; c <= t; ++c) r.offsets.push_back(base + tile_offsets[c]);
    r.indices.insert(r.indices.end(), tile_idx.begin(), tile_idx.end());
    r.distances.insert(r.distances.end(), tile_dist.begin(), tile_dist.end());
  };
  tiles.run(
      [&](int64_t q0, int64_t t) {
        const SparseIndexSearch<T>& s = *tiles.sparse_index;
        prim.sparse_radius_tile(m.rdist, s.index.view, s.index_sq.data, tiles.Q.data(), t,
                                tiles.P, tiles.self_offset(q0), bound, tile_offsets, tile_idx,
                                tile_dist);
        append(t);
      },
      [&](int64_t, int64_t t, MatrixView<const T> rows) {
        prim.radius_search(m.rdist, tiles.shift_data(), tiles.dense_index->view, rows, bound,
                           false, tile_offsets, tile_idx, tile_dist);
        append(t);
      });
  finish_radius(m, r, sort_results);
  return r;
}

}  // namespace

template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index, CsrView<T> queries,
                int64_t k, bool exclude_self, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  search_knn<T>(ctx, params, index, queries, k, exclude_self, distances, indices);
}
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                MatrixView<const T> queries, int64_t k, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  search_knn<T>(ctx, params, index, queries, k, false, distances, indices);
}
template <typename T>
void kneighbors(Context& ctx, const NeighborsParams& params, MatrixView<const T> index,
                CsrView<T> queries, int64_t k, MatrixView<T> distances,
                MatrixView<int64_t> indices) {
  search_knn<T>(ctx, params, index, queries, k, false, distances, indices);
}
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                                    CsrView<T> queries, double radius, bool exclude_self,
                                    bool sort_results) {
  return search_radius<T>(ctx, params, index, queries, radius, exclude_self, sort_results);
}
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params, CsrView<T> index,
                                    MatrixView<const T> queries, double radius,
                                    bool sort_results) {
  return search_radius<T>(ctx, params, index, queries, radius, false, sort_results);
}
template <typename T>
RadiusNeighbors<T> radius_neighbors(Context& ctx, const NeighborsParams& params,
                                    MatrixView<const T> index, CsrView<T> queries, double radius,
                                    bool sort_results) {
  return search_radius<T>(ctx, params, index, queries, radius, false, sort_results);
}

#define GPULEARN_INSTANTIATE_SPARSE(T)                                                           \
  template void kneighbors<T>(Context&, const NeighborsParams&, CsrView<T>, CsrView<T>, int64_t, \
                              bool, MatrixView<T>, MatrixView<int64_t>);                         \
  template void kneighbors<T>(Context&, const NeighborsParams&, CsrView<T>, MatrixView<const T>, \
                              int64_t, MatrixView<T>, MatrixView<int64_t>);                      \
  template void kneighbors<T>(Context&, const NeighborsParams&, MatrixView<const T>, CsrView<T>, \
                              int64_t, MatrixView<T>, MatrixView<int64_t>);                      \
  template RadiusNeighbors<T> radius_neighbors<T>(Context&, const NeighborsParams&, CsrView<T>,  \
                                                  CsrView<T>, double, bool, bool);               \
  template RadiusNeighbors<T> radius_neighbors<T>(Context&, const NeighborsParams&, CsrView<T>,  \
                                                  MatrixView<const T>, double, bool);            \
  template RadiusNeighbors<T> radius_neighbors<T>(Context&, const NeighborsParams&,              \
                                                  MatrixView<const T>, CsrView<T>, double, bool);
GPULEARN_INSTANTIATE_SPARSE(float)
GPULEARN_INSTANTIATE_SPARSE(double)
#undef GPULEARN_INSTANTIATE_SPARSE

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
