// CPU primitives of brute-force nearest neighbours: the queries in blocks (one task each, over
// threads), the index in tiles; per (block, tile) a distance tile computed in T (an Eigen GEMM
// and the norms for the GEMM family, a direct loop for the others), scanned into each query's
// running top-k (a max-heap ordered by (distance, index)) or radius matches. The selected pairs'
// distances are then recomputed exactly (exact_rdist). Each query's result depends on nothing
// but its own row and the index: the same bits with any thread count.
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
  // Merge the parts, then the exact pass: recompute the kept pairs directly and order them by
  // (distance, index).
  const RowSplit rows(n_q, 64, kCpuMaxParts);
  parallel_for(rows.n_parts, n_threads, [&](int64_t r) {
    std::vector<Neighbor<T>> items;
    for (int64_t q = rows.begin(r, n_q), e = q + rows.count(r, n_q); q < e; ++q) {
      items.clear();
      for (int64_t part = 0; part < split.parts; ++part) {
        const auto& kept = top[part * n_q + q].items();
        items.insert(items.end(), kept.begin(), kept.end());
      }
      if (split.parts > 1) {
        std::partial_sort(items.begin(), items.begin() + k, items.end());
        items.resize(k);
      }
      const T* qrow = queries.row(q);
      for (Neighbor<T>& item : items) {
        item.first = static_cast<T>(exact_rdist(m, qrow, index.row(item.second), d));
      }
      std::sort(items.begin(), items.end());
      for (int64_t c = 0; c < k; ++c) {
        dist[q * k + c] = items[c].first;
        idx[q * k + c] = items[c].second;
      }
    }
  });
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

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, NeighborsPrimitives, CpuNeighborsPrimitives)
#undef GPULEARN_DEFINE_NEIGHBORS

}  // namespace gpulearn::detail
