// CPU primitives of brute-force nearest neighbours: the queries in blocks (one task each, over
// threads), the index in tiles; per (block, tile) a distance tile computed in T (an Eigen GEMM
// and the norms for the GEMM family, a direct loop for the others), scanned into each query's
// running top-k (a max-heap ordered by (distance, index)) or radius matches. The selected pairs'
// distances are then recomputed exactly (exact_rdist). Each query's result depends on nothing
// but its own row and the index: the same bits with any thread count. A sparse (CSR) index is
// searched one tile of queries at a time (sparse_*): the driver brings the tile's products with
// the index, the same top-k, merge and exact pass run over them, the exact pass on the index
// row made dense.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "primitives.hpp"
#include "rdist.hpp"

namespace gpulearn::detail {

namespace {

// Queries per task and index rows per distance tile: a 256 x 1024 tile of T stays in L2, and
// each index tile is reused by the block's 256 queries (Eigen's GEMM blocks it further).
constexpr int64_t kQueryBlock = 256;
constexpr int64_t kIndexTile = 1024;

template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

// What the GEMM family needs per row: |x - s|^2 (squared Euclidean; shift s may be null) or
// 1 / |x| (cosine; 0 for a zero row, so that its distance comes out as 1), computed in double.
template <typename T>
Vec<T> row_factors(Rdist kind, const T* shift, MatrixView<const T> M, int n_threads) {
  Vec<T> f(M.rows);
  if (kind != Rdist::kSqEuclidean && kind != Rdist::kCosine) return f;
  const RowSplit split(M.rows, 4096, kCpuMaxParts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, M.rows), end = begin + split.count(p, M.rows);
    for (int64_t i = begin; i < end; ++i) {
      const T* r = M.row(i);
      double s = 0;
      for (int64_t l = 0; l < M.cols; ++l) {
        const double v =
            shift != nullptr ? static_cast<double>(r[l] - shift[l]) : static_cast<double>(r[l]);
        s += v * v;
      }
      f[i] = kind == Rdist::kSqEuclidean ? static_cast<T>(s)
                                         : (s > 0 ? static_cast<T>(1.0 / std::sqrt(s)) : T(0));
    }
  });
  return f;
}

// Direct reduced distance of two rows in T, with independent accumulators per lane so that the
// loop vectorises (see lanes_cpu.hpp for why).
template <typename T, typename Term, typename Combine>
T direct_rdist(const T* a, const T* b, int64_t d, Term term, Combine combine) {
  constexpr int64_t kAcc = 8;
  T acc[kAcc] = {};
  int64_t l = 0;
  for (; l + kAcc <= d; l += kAcc) {
#pragma GCC unroll 1
    for (int64_t t = 0; t < kAcc; ++t) acc[t] = combine(acc[t], term(a[l + t] - b[l + t]));
  }
  T r = 0;
  for (; l < d; ++l) r = combine(r, term(a[l] - b[l]));
  for (int64_t t = 0; t < kAcc; ++t) r = combine(r, acc[t]);
  return r;
}

// Reduced distances in T of a block of queries to a tile of the index.
template <typename T>
class DistanceTiles {
 public:
  // shift: subtracted from both sides of squared Euclidean distances (null: none).
  DistanceTiles(RdistSpec m, const T* shift, MatrixView<const T> index, MatrixView<const T> queries,
                int n_threads)
      : m_(m),
        shift_(m.kind == Rdist::kSqEuclidean ? shift : nullptr),
        index_(index),
        queries_(queries),
        index_f_(row_factors(m.kind, shift_, index, n_threads)),
        query_f_(row_factors(m.kind, shift_, queries, n_threads)) {}

  // G (mq x mj) = distances of queries [q0, q0 + mq) to index rows [j0, j0 + mj).
  void compute(int64_t q0, int64_t mq, int64_t j0, int64_t mj, RowMatrix<T>& G) const {
    const int64_t d = index_.cols;
    G.resize(mq, mj);
    if (!rdist_uses_gemm(m_.kind)) {
      for (int64_t i = 0; i < mq; ++i) {
        const T* q = queries_.row(q0 + i);
        for (int64_t j = 0; j < mj; ++j) G(i, j) = direct(q, index_.row(j0 + j), d);
      }
      return;
    }
    const auto Q = eigen_map(queries_.block_rows(q0, mq));
    const auto X = eigen_map(index_.block_rows(j0, mj));
    if (shift_ != nullptr) {
      const Eigen::Map<const RowVec<T>> s(shift_, d);
      G.noalias() = (Q.rowwise() - s) * (X.rowwise() - s).transpose();
    } else {
      G.noalias() = Q * X.transpose();
    }
    switch (m_.kind) {
      case Rdist::kSqEuclidean: {
        const auto qn = query_f_.segment(q0, mq);
        const auto xn = index_f_.segment(j0, mj).transpose();
        G = (((G * T(-2)).colwise() + qn).rowwise() + xn).cwiseMax(T(0));
        break;
      }
      case Rdist::kCosine: {
        const auto iq = query_f_.segment(q0, mq);
        const auto ix = index_f_.segment(j0, mj);
        G = (T(1) - (iq.asDiagonal() * G * ix.asDiagonal()).array()).max(T(0)).min(T(2)).matrix();
        break;
      }
      default:  // kNegInnerProduct
        G = -G;
    }
  }

  // |q|^2 + |x|^2 for the radius screen (squared Euclidean only; 0 otherwise).
  double norms_sum(int64_t q, int64_t j) const {
    return m_.kind == Rdist::kSqEuclidean
               ? static_cast<double>(query_f_[q]) + static_cast<double>(index_f_[j])
               : 0.0;
  }

 private:
  T direct(const T* a, const T* b, int64_t d) const {
    const auto add = [](T x, T y) { return x + y; };
    switch (m_.kind) {
      case Rdist::kManhattan:
        return direct_rdist(
            a, b, d, [](T v) { return std::abs(v); }, add);
      case Rdist::kChebyshev:
        return direct_rdist(
            a, b, d, [](T v) { return std::abs(v); }, [](T x, T y) { return x < y ? y : x; });
      default: {  // kMinkowski
        const T p = static_cast<T>(m_.p);
        return direct_rdist(
            a, b, d, [p](T v) { return std::pow(std::abs(v), p); }, add);
      }
    }
  }

  RdistSpec m_;
  const T* shift_;
  MatrixView<const T> index_, queries_;
  Vec<T> index_f_, query_f_;
};

// (distance, index) pairs ordered lexicographically: ties go to the smaller index.
template <typename T>
using Neighbor = std::pair<T, int64_t>;

// The k best of the pairs offered so far: a max-heap whose top is the worst kept.
template <typename T>
class TopK {
 public:
  explicit TopK(int64_t k) : k_(k) { heap_.reserve(k); }
  void clear() { heap_.clear(); }
  // Index rows are offered in ascending order, so a pair equal in distance to the worst kept
  // has a larger index and loses: strictly smaller is the whole test.
  void offer(T v, int64_t j) {
    if (static_cast<int64_t>(heap_.size()) < k_) {
      heap_.emplace_back(v, j);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (v < heap_.front().first) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = {v, j};
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  // The worst distance kept once full; +inf (or NaN-safe infinity) before.
  T bound() const {
    return static_cast<int64_t>(heap_.size()) < k_ ? std::numeric_limits<T>::infinity()
                                                   : heap_.front().first;
  }
  std::vector<Neighbor<T>>& items() { return heap_; }

 private:
  int64_t k_;
  std::vector<Neighbor<T>> heap_;
};

// How a search splits into tasks: blocks of queries times parts of the index. Few queries
// (fewer blocks than threads) split the index too, so that every thread has work; the split
// never changes a result (a part's k best, merged, are the k best of the whole).
struct SearchSplit {
  int64_t blocks, parts, part_rows;
  SearchSplit(int64_t n, int64_t n_q, int n_threads) {
    blocks = (n_q + kQueryBlock - 1) / kQueryBlock;
    const int64_t tiles = (n + kIndexTile - 1) / kIndexTile;
    parts = std::clamp<int64_t>((n_threads + blocks - 1) / blocks, 1, tiles);
    part_rows = (tiles + parts - 1) / parts * kIndexTile;
  }
  int64_t tasks() const { return blocks * parts; }
};

// Runs scan(q0, mq, j0, mj, G, part) for every tile of the task's block and index part.
template <typename T, typename Scan>
void scan_tiles(const DistanceTiles<T>& tiles, const SearchSplit& split, int64_t n, int64_t n_q,
                int n_threads, Scan scan) {
  parallel_for(split.tasks(), n_threads, [&](int64_t task) {
    const int64_t b = task / split.parts, part = task % split.parts;
    const int64_t q0 = b * kQueryBlock, mq = std::min(kQueryBlock, n_q - q0);
    const int64_t end = std::min(n, (part + 1) * split.part_rows);
    RowMatrix<T> G;
    for (int64_t j0 = part * split.part_rows; j0 < end; j0 += kIndexTile) {
      const int64_t mj = std::min(kIndexTile, end - j0);
      tiles.compute(q0, mq, j0, mj, G);
      scan(q0, mq, j0, mj, G, part);
    }
  });
}

// Merges each query's k best of every part of the index (top[part * n_q + q]), then the exact
// pass: recomputes the kept pairs' reduced distances by exact(q, j) and orders them by
// (distance, index), writing the first k to dist and idx (n_q x k). make_exact() is called once
// per task, so that an exact function may own scratch.
template <typename T, typename MakeExact>
void merge_exact(std::vector<TopK<T>>& top, int64_t parts, int64_t n_q, int64_t k,
                 int n_threads, MakeExact make_exact, T* dist, int64_t* idx) {
  const RowSplit rows(n_q, 64, kCpuMaxParts);
  parallel_for(rows.n_parts, n_threads, [&](int64_t r) {
    auto exact = make_exact();
    std::vector<Neighbor<T>> items;
    for (int64_t q = rows.begin(r, n_q), e = q + rows.count(r, n_q); q < e; ++q) {
      items.clear();
      for (int64_t part = 0; part < parts; ++part) {
        const auto& kept = top[part * n_q + q].items();
        items.insert(items.end(), kept.begin(), kept.end());
      }
      if (parts > 1) {
        std::partial_sort(items.begin(), items.begin() + k, items.end());
        items.resize(k);
      }
      for (Neighbor<T>& item : items) item.first = static_cast<T>(exact(q, item.second));
      std::sort(items.begin(), items.end());
      for (int64_t c = 0; c < k; ++c) {
        dist[q * k + c] = items[c].first;
        idx[q * k + c] = items[c].second;
      }
    }
  });
}

template <typename T>
void knn_impl(RdistSpec m, const T* shift, MatrixView<const T> index, MatrixView<const T> queries,
              int64_t k, bool exclude_self, T* dist, int64_t* idx, int n_threads) {
  const int64_t n = index.rows, n_q = queries.rows, d = index.cols;
  const DistanceTiles<T> tiles(m, shift, index, queries, n_threads);
  const SearchSplit split(n, n_q, n_threads);
  // top[part * n_q + q]: query q's k best in that part of the index.
  std::vector<TopK<T>> top(split.parts * n_q, TopK<T>(k));
  scan_tiles(
      tiles, split, n, n_q, n_threads,
      [&](int64_t q0, int64_t mq, int64_t j0, int64_t mj, const RowMatrix<T>& G, int64_t part) {
        for (int64_t i = 0; i < mq; ++i) {
          TopK<T>& t = top[part * n_q + q0 + i];
          const T* g = G.row(i).data();
          const int64_t self = exclude_self ? q0 + i - j0 : -1;
          T bound = t.bound();
          for (int64_t j = 0; j < mj; ++j) {
            if (g[j] < bound && j != self) {
              t.offer(g[j], j0 + j);
              bound = t.bound();
            }
          }
        }
      });
  merge_exact(
      top, split.parts, n_q, k, n_threads,
      [&] {
        return [&](int64_t q, int64_t j) { return exact_rdist(m, queries.row(q), index.row(j), d); };
      },
      dist, idx);
}

template <typename T>
void radius_impl(RdistSpec m, const T* shift, MatrixView<const T> index,
                 MatrixView<const T> queries, double bound, bool exclude_self,
                 std::vector<int64_t>& offsets, std::vector<int64_t>& idx, std::vector<T>& dist,
                 int n_threads) {
  const int64_t n = index.rows, n_q = queries.rows, d = index.cols;
  const DistanceTiles<T> tiles(m, shift, index, queries, n_threads);
  const SearchSplit split(n, n_q, n_threads);
  // The screen's constant part; squared Euclidean adds the pair's norms.
  const double screen = rdist_screen_bound<T>(m, bound, d, 0.0);
  // found[part * n_q + q]: query q's matches in that part, ascending index.
  std::vector<std::vector<Neighbor<T>>> found(split.parts * n_q);
  scan_tiles(
      tiles, split, n, n_q, n_threads,
      [&](int64_t q0, int64_t mq, int64_t j0, int64_t mj, const RowMatrix<T>& G, int64_t part) {
        for (int64_t i = 0; i < mq; ++i) {
          const int64_t q = q0 + i;
          const T* g = G.row(i).data();
          for (int64_t j = 0; j < mj; ++j) {
            const double v = g[j];
            if (v > screen &&
                (m.kind != Rdist::kSqEuclidean ||
                 v > rdist_screen_bound<T>(m, bound, d, tiles.norms_sum(q, j0 + j)))) {
              continue;
            }
            if (exclude_self && j0 + j == q) continue;
            const double e = exact_rdist(m, queries.row(q), index.row(j0 + j), d);
            if (e <= bound) found[part * n_q + q].emplace_back(static_cast<T>(e), j0 + j);
          }
        }
      });
  offsets.assign(n_q + 1, 0);
  for (int64_t q = 0; q < n_q; ++q) {
    int64_t count = 0;
    for (int64_t part = 0; part < split.parts; ++part) count += found[part * n_q + q].size();
    offsets[q + 1] = offsets[q] + count;
  }
  idx.resize(offsets[n_q]);
  dist.resize(offsets[n_q]);
  for (int64_t q = 0; q < n_q; ++q) {
    int64_t o = offsets[q];
    for (int64_t part = 0; part < split.parts; ++part) {  // parts in order: ascending index
      for (const Neighbor<T>& e : found[part * n_q + q]) {
        dist[o] = e.first;
        idx[o++] = e.second;
      }
    }
  }
}


// ---- a sparse (CSR) index -------------------------------------------------------------------

// A row of a CSR matrix made dense in a scratch of X.cols zeros (one per task): the exact pass
// then runs exact_rdist on two dense rows, the very computation of the dense path, so a sparse
// index gives the dense index's distances bit for bit. O(d) per pair, beside the tile's
// O(nnz) per query.
template <typename T>
class DenseRow {
 public:
  explicit DenseRow(CsrView<T> X) : X_(X), buf_(X.cols, T(0)) {}
  const T* load(int64_t i) {
    if (i == loaded_) return buf_.data();
    if (loaded_ >= 0) {
      for (int64_t p = X_.indptr[loaded_]; p < X_.indptr[loaded_ + 1]; ++p) buf_[X_.indices[p]] = 0;
    }
    for (int64_t p = X_.indptr[i]; p < X_.indptr[i + 1]; ++p) buf_[X_.indices[p]] = X_.values[p];
    loaded_ = i;
    return buf_.data();
  }

 private:
  CsrView<T> X_;
  std::vector<T> buf_;
  int64_t loaded_ = -1;
};

// |q|_1 of each tile query (the columns of Bt, d x t), in double.
template <typename T>
std::vector<double> query_l1(const T* Bt, int64_t d, int64_t t) {
  std::vector<double> l1(t, 0.0);
  for (int64_t j = 0; j < d; ++j) {
    const T* b = Bt + j * t;
    for (int64_t c = 0; c < t; ++c) l1[c] += std::abs(static_cast<double>(b[c]));
  }
  return l1;
}

template <typename T>
void sparse_l1_impl(CsrView<T> X, const T* Bt, int64_t t, MatrixView<T> P, int n_threads) {
  const int64_t n = X.rows;
  const std::vector<double> base = query_l1(Bt, X.cols, t);
  const RowSplit split(n, 256, kCpuMaxParts * 4);
  parallel_for(split.n_parts, n_threads, [&](int64_t part) {
    std::vector<double> acc(t);
    const int64_t begin = split.begin(part, n), end = begin + split.count(part, n);
    for (int64_t i = begin; i < end; ++i) {
      std::copy(base.begin(), base.end(), acc.begin());
      for (int64_t p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
        const double v = X.values[p];
        const T* b = Bt + static_cast<int64_t>(X.indices[p]) * t;
        for (int64_t c = 0; c < t; ++c) {
          const double q = b[c];
          acc[c] += std::abs(v - q) - std::abs(q);
        }
      }
      T* o = P.row(i);
      for (int64_t c = 0; c < t; ++c) o[c] = static_cast<T>(acc[c] > 0 ? acc[c] : 0.0);
    }
  });
}

// Queries accumulated together: their sums for one index row are adjacent, so that P's row is
// written a cache line at a time (P is n x t: one query's column alone would touch a line per
// index row).
constexpr int64_t kProductBlock = 8;

template <typename T>
void sparse_query_products_impl(RdistSpec m, CsrView<T> Xt, const T* x_l1, CsrView<T> Q,
                                MatrixView<T> P, int n_threads) {
  const int64_t n = Xt.cols, t = Q.rows;
  const bool l1 = m.kind == Rdist::kManhattan;
  const int64_t blocks = (t + kProductBlock - 1) / kProductBlock;
  const RowSplit split(blocks, 1, kCpuMaxParts);
  parallel_for(split.n_parts, n_threads, [&](int64_t part) {
    std::vector<double> acc(checked_mul(n, kProductBlock), 0.0);  // n x kProductBlock
    const int64_t begin = split.begin(part, blocks), end = begin + split.count(part, blocks);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t c0 = b * kProductBlock, width = std::min(kProductBlock, t - c0);
      double q_l1[kProductBlock] = {};
      for (int64_t cc = 0; cc < width; ++cc) {
        const int64_t c = c0 + cc;
        for (int64_t p = Q.indptr[c]; p < Q.indptr[c + 1]; ++p) {
          const double q = Q.values[p];
          const int32_t l = Q.indices[p];
          q_l1[cc] += std::abs(q);
          for (int64_t e = Xt.indptr[l]; e < Xt.indptr[l + 1]; ++e) {
            const double x = Xt.values[e];
            // Manhattan: |x - q| replaces |x| + |q| where both rows have column l.
            acc[Xt.indices[e] * kProductBlock + cc] +=
                l1 ? std::abs(x - q) - std::abs(x) - std::abs(q) : x * q;
          }
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        double* a = &acc[j * kProductBlock];
        T* out = P.data + j * P.ld + c0;
        for (int64_t cc = 0; cc < width; ++cc) {
          double v = a[cc];
          if (l1) {
            v += q_l1[cc] + static_cast<double>(x_l1[j]);
            v = v > 0 ? v : 0.0;
          }
          out[cc] = static_cast<T>(v);
          a[cc] = 0;
        }
      }
    }
  });
}

// The reduced distances in T of the tile's products, as DistanceTiles computes them from a
// GEMM tile (the same operations in the same order).
template <typename T>
class TileRdist {
 public:
  TileRdist(RdistSpec m, const T* index_sq, int64_t n, const T* Q, int64_t t, int64_t d,
            int n_threads)
      : kind_(m.kind),
        index_sq_(index_sq),
        query_f_(row_factors(m.kind, static_cast<const T*>(nullptr),
                             MatrixView<const T>(Q, t, d, d), n_threads)) {
    if (kind_ == Rdist::kCosine) {
      index_inv_.resize(n);
      for (int64_t j = 0; j < n; ++j) {
        const double s = index_sq[j];
        index_inv_[j] = s > 0 ? static_cast<T>(1.0 / std::sqrt(s)) : T(0);
      }
    }
  }
  T operator()(T g, int64_t c, int64_t j) const {
    switch (kind_) {
      case Rdist::kSqEuclidean: {
        const T v = g * T(-2) + query_f_[c] + index_sq_[j];
        return v < T(0) ? T(0) : v;
      }
      case Rdist::kCosine: {
        const T v = T(1) - query_f_[c] * g * index_inv_[j];
        return v < T(0) ? T(0) : (v > T(2) ? T(2) : v);
      }
      case Rdist::kNegInnerProduct:
        return -g;
      default:  // kManhattan: P holds the distances
        return g;
    }
  }
  // |q|^2 + |x|^2 (squared Euclidean's radius screen).
  double norms_sum(int64_t c, int64_t j) const {
    return static_cast<double>(query_f_[c]) + static_cast<double>(index_sq_[j]);
  }

 private:
  Rdist kind_;
  const T* index_sq_;
  Vec<T> query_f_;
  std::vector<T> index_inv_;
};

template <typename T>
void sparse_knn_tile_impl(RdistSpec m, CsrView<T> index, const T* index_sq, const T* Q, int64_t t,
                          MatrixView<const T> P, int64_t self_offset, int64_t k, T* dist,
                          int64_t* idx, int n_threads) {
  require_sparse_metric(m.kind);
  const int64_t n = index.rows, d = index.cols;
  const TileRdist<T> rd(m, index_sq, n, Q, t, d, n_threads);
  // The tile's queries are one block: the index is split into parts as a lone block's is.
  const SearchSplit split(n, 1, n_threads);
  std::vector<TopK<T>> top(split.parts * t, TopK<T>(k));
  parallel_for(split.parts, n_threads, [&](int64_t part) {
    TopK<T>* tops = &top[part * t];
    const int64_t end = std::min(n, (part + 1) * split.part_rows);
    for (int64_t j = part * split.part_rows; j < end; ++j) {
      const T* g = P.row(j);
      const int64_t self = self_offset >= 0 ? j - self_offset : -1;  // the query j matches
      for (int64_t c = 0; c < t; ++c) {
        const T v = rd(g[c], c, j);
        if (v < tops[c].bound() && c != self) tops[c].offer(v, j);
      }
    }
  });
  merge_exact(
      top, split.parts, t, k, n_threads,
      [&] {
        return [&, row = DenseRow<T>(index)](int64_t q, int64_t j) mutable {
          return exact_rdist(m, Q + q * d, row.load(j), d);
        };
      },
      dist, idx);
}

template <typename T>
void sparse_radius_tile_impl(RdistSpec m, CsrView<T> index, const T* index_sq, const T* Q,
                             int64_t t, MatrixView<const T> P, int64_t self_offset, double bound,
                             std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                             std::vector<T>& dist, int n_threads) {
  require_sparse_metric(m.kind);
  const int64_t n = index.rows, d = index.cols;
  const TileRdist<T> rd(m, index_sq, n, Q, t, d, n_threads);
  const double screen = rdist_screen_bound<T>(m, bound, d, 0.0);
  // Manhattan's products carry the cancellation of |q|_1 - sum |q_j| over x's entries, in
  // double: up to ~(d + 8) eps |q|_1 more than a direct sum's rounding.
  std::vector<double> l1_margin;
  if (m.kind == Rdist::kManhattan) {
    std::vector<T> Bt(checked_mul(d, t));
    for (int64_t c = 0; c < t; ++c) {
      for (int64_t j = 0; j < d; ++j) Bt[j * t + c] = Q[c * d + j];
    }
    l1_margin = query_l1(Bt.data(), d, t);
    const double eps = std::numeric_limits<T>::epsilon();
    for (double& v : l1_margin) v *= 4.0 * (static_cast<double>(d) + 8.0) * eps;
  }
  const SearchSplit split(n, 1, n_threads);
  std::vector<std::vector<Neighbor<T>>> found(split.parts * t);
  parallel_for(split.parts, n_threads, [&](int64_t part) {
    DenseRow<T> row(index);
    const int64_t end = std::min(n, (part + 1) * split.part_rows);
    for (int64_t j = part * split.part_rows; j < end; ++j) {
      const T* g = P.row(j);
      for (int64_t c = 0; c < t; ++c) {
        if (self_offset >= 0 && self_offset + c == j) continue;
        const double v = rd(g[c], c, j);
        double limit = screen;
        if (m.kind == Rdist::kSqEuclidean) {
          limit = rdist_screen_bound<T>(m, bound, d, rd.norms_sum(c, j));
        } else if (m.kind == Rdist::kManhattan) {
          limit += l1_margin[c];
        }
        if (v > limit) continue;
        const double e = exact_rdist(m, Q + c * d, row.load(j), d);
        if (e <= bound) found[part * t + c].emplace_back(static_cast<T>(e), j);
      }
    }
  });
  offsets.assign(t + 1, 0);
  for (int64_t c = 0; c < t; ++c) {
    int64_t count = 0;
    for (int64_t part = 0; part < split.parts; ++part) count += found[part * t + c].size();
    offsets[c + 1] = offsets[c] + count;
  }
  idx.resize(offsets[t]);
  dist.resize(offsets[t]);
  for (int64_t c = 0; c < t; ++c) {
    int64_t o = offsets[c];
    for (int64_t part = 0; part < split.parts; ++part) {  // parts in order: ascending index
      for (const Neighbor<T>& e : found[part * t + c]) {
        dist[o] = e.first;
        idx[o++] = e.second;
      }
    }
  }
}

}  // namespace

template <typename T>
class CpuNeighborsPrimitives final : public NeighborsPrimitives<T> {
 public:
  explicit CpuNeighborsPrimitives(CpuBackend& be) : be_(be) {}

  void knn(RdistSpec metric, const T* shift, MatrixView<const T> index, MatrixView<const T> queries,
           int64_t k, bool exclude_self, T* dist, int64_t* idx) override {
    knn_impl(metric, shift, index, queries, k, exclude_self, dist, idx, be_.n_threads());
  }
  void radius_search(RdistSpec metric, const T* shift, MatrixView<const T> index,
                     MatrixView<const T> queries, double bound, bool exclude_self,
                     std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                     std::vector<T>& dist) override {
    radius_impl(metric, shift, index, queries, bound, exclude_self, offsets, idx, dist,
                be_.n_threads());
  }
  void sparse_l1(CsrView<T> index, const T* Bt, int64_t t, MatrixView<T> P) override {
    sparse_l1_impl(index, Bt, t, P, be_.n_threads());
  }
  bool sparse_query_products(RdistSpec metric, CsrView<T> index_t, const T* index_l1,
                             CsrView<T> queries, MatrixView<T> P) override {
    sparse_query_products_impl(metric, index_t, index_l1, queries, P, be_.n_threads());
    return true;
  }
  void sparse_knn_tile(RdistSpec metric, CsrView<T> index, const T* index_sq, const T* Q,
                       int64_t t, MatrixView<const T> P, int64_t self_offset, int64_t k, T* dist,
                       int64_t* idx) override {
    sparse_knn_tile_impl(metric, index, index_sq, Q, t, P, self_offset, k, dist, idx,
                         be_.n_threads());
  }
  void sparse_radius_tile(RdistSpec metric, CsrView<T> index, const T* index_sq, const T* Q,
                          int64_t t, MatrixView<const T> P, int64_t self_offset, double bound,
                          std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                          std::vector<T>& dist) override {
    sparse_radius_tile_impl(metric, index, index_sq, Q, t, P, self_offset, bound, offsets, idx,
                            dist, be_.n_threads());
  }

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, NeighborsPrimitives, CpuNeighborsPrimitives)
#undef GPULEARN_DEFINE_NEIGHBORS

}  // namespace gpulearn::detail
