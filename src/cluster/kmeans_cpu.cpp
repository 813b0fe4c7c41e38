// CPU primitives of the k-means driver: distances by the |x|^2 - 2 x.c + |c|^2 expansion, one
// Eigen GEMM per chunk of rows (the n x k distance matrix is never stored whole), fused with the
// argmin and the per-cluster sums. Passes over X use fixed row partitions whose partial results
// are combined in partition order: the same bits with any thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "../core/lanes_cpu.hpp"
#include "primitives.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

// Partitions of an assignment pass, each keeping k x d partial sums in double: bounded so the
// partials stay under ~256 MiB together.
RowSplit assign_split(int64_t n, int64_t k, int64_t d) {
  const int64_t per_part = std::max<int64_t>(1, checked_mul(checked_mul(k, d), int64_t{8}));
  const int64_t by_memory = std::max<int64_t>(1, (int64_t{256} << 20) / per_part);
  return RowSplit(n, 2048, std::min(kCpuMaxParts, by_memory));
}

inline double weight_at(VectorView<const float> w, int64_t i) { return w.data[i * w.stride]; }
inline double weight_at(VectorView<const double> w, int64_t i) { return w.data[i * w.stride]; }

// Squared distances of rows [begin, begin + m) of X - shift to the centers: dist (m x k).
template <typename T>
struct ChunkDistances {
  const T* shift;
  Eigen::Map<const RowMatrix<T>> C;  // k x d
  RowVec<T> c_norms;                 // |c_j|^2
  RowMatrix<T> Xc, G;
  Eigen::Matrix<T, Eigen::Dynamic, 1> x_norms;

  ChunkDistances(const T* s, const T* centers, int64_t k, int64_t d)
      : shift(s), C(centers, k, d), c_norms(C.rowwise().squaredNorm().transpose()) {}

  // G(i, j) becomes the squared distance of row i to center j, clamped at 0.
  void compute(MatrixView<const T> X, int64_t begin, int64_t m) {
    const int64_t d = X.cols;
    if (shift != nullptr) {
      Eigen::Map<const RowVec<T>> s(shift, d);
      Xc = eigen_map(X.block_rows(begin, m)).rowwise() - s;
    } else {
      Xc = eigen_map(X.block_rows(begin, m));
    }
    G.noalias() = Xc * C.transpose();
    x_norms = Xc.rowwise().squaredNorm();
    // (|x|^2 - 2 x.c) + |c|^2 elementwise (Eigen vectorises it; -2 g + |x|^2 rounds exactly as
    // |x|^2 - 2 g, the CUDA backend's order), clamped at 0.
    G = (((G * T(-2)).colwise() + x_norms).rowwise() + c_norms).cwiseMax(T(0));
  }
};

template <typename T>
KMeansStepStats kmeans_assign_impl(MatrixView<const T> X, VectorView<const T> w, const T* shift,
                                   const T* centers, int64_t k, int32_t* labels, T* sq_dist,
                                   double* sums, double* weights, int n_threads) {
  const int64_t n = X.rows, d = X.cols;
  const RowSplit split = assign_split(n, sums != nullptr ? k : 1, d);
  std::vector<double> inertia(split.n_parts, 0.0);
  std::vector<int64_t> changed(split.n_parts, 0);
  std::vector<std::vector<double>> part_sums(split.n_parts), part_weights(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    ChunkDistances<T> dist(shift, centers, k, d);
    if (sums != nullptr) {
      part_sums[p].assign(k * d, 0.0);
      part_weights[p].assign(k, 0.0);
    }
    double local_inertia = 0;
    int64_t local_changed = 0;
    for (int64_t c = begin; c < end; c += kCpuChunkRows) {
      const int64_t m = std::min(kCpuChunkRows, end - c);
      dist.compute(X, c, m);
      for (int64_t i = 0; i < m; ++i) {
        const T* row = dist.G.row(i).data();
        const auto best = static_cast<int32_t>(argmin_span(row, k));
        const double wi = w.empty() ? 1.0 : weight_at(w, c + i);
        local_inertia += wi * row[best];
        local_changed += labels[c + i] != best;
        labels[c + i] = best;
        if (sq_dist != nullptr) sq_dist[c + i] = row[best];
        if (sums != nullptr) {
          double* s = part_sums[p].data() + best * d;
          const T* x = dist.Xc.row(i).data();
          for (int64_t l = 0; l < d; ++l) s[l] += wi * x[l];
          part_weights[p][best] += wi;
        }
      }
    }
    inertia[p] = local_inertia;
    changed[p] = local_changed;
  });
  KMeansStepStats stats;
  for (int64_t p = 0; p < split.n_parts; ++p) {
    stats.inertia += inertia[p];
    stats.changed += changed[p];
  }
  if (sums != nullptr) {
    std::fill(sums, sums + k * d, 0.0);
    std::fill(weights, weights + k, 0.0);
    for (int64_t p = 0; p < split.n_parts; ++p) {
      for (int64_t e = 0; e < k * d; ++e) sums[e] += part_sums[p][e];
      for (int64_t j = 0; j < k; ++j) weights[j] += part_weights[p][j];
    }
  }
  return stats;
}

template <typename T>
void sq_distances_impl(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,
                       MatrixView<T> out, int n_threads) {
  const int64_t n = X.rows, d = X.cols;
  const RowSplit split(n, 2048, kCpuMaxParts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    ChunkDistances<T> dist(shift, centers, k, d);
    for (int64_t c = begin; c < end; c += kCpuChunkRows) {
      const int64_t m = std::min(kCpuChunkRows, end - c);
      dist.compute(X, c, m);
      eigen_map(out.block_rows(c, m)) = dist.G;
    }
  });
}

template <typename T>
void min_potentials_impl(VectorView<const T> cur, MatrixView<const T> D, VectorView<const T> w,
                         double* pot, int n_threads) {
  const int64_t n = cur.size, t = D.cols;
  const RowSplit split(n, 4096, kCpuMaxParts);
  std::vector<std::vector<double>> part(split.n_parts, std::vector<double>(t, 0.0));
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    std::vector<double>& acc = part[p];
    for (int64_t i = begin; i < end; ++i) {
      const T ci = cur.data[i * cur.stride];
      const double wi = w.empty() ? 1.0 : weight_at(w, i);
      const T* row = D.row(i);
      for (int64_t c = 0; c < t; ++c) acc[c] += wi * std::min(ci, row[c]);
    }
  });
  std::fill(pot, pot + t, 0.0);
  for (const auto& acc : part) {
    for (int64_t c = 0; c < t; ++c) pot[c] += acc[c];
  }
}

template <typename T>
void weighted_draws_impl(VectorView<const T> p, VectorView<const T> w, const double* u, int64_t t,
                         int64_t* idx, int64_t n) {
  std::vector<double> cumsum(n);
  double running = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double pi = p.empty() ? 1.0 : static_cast<double>(p.data[i * p.stride]);
    running += (w.empty() ? 1.0 : weight_at(w, i)) * pi;
    cumsum[i] = running;
  }
  for (int64_t s = 0; s < t; ++s) {
    const auto it = std::lower_bound(cumsum.begin(), cumsum.end(), u[s] * running);
    idx[s] = std::min<int64_t>(it - cumsum.begin(), n - 1);
  }
}

template <typename T>
std::vector<int64_t> independent_draws_impl(VectorView<const T> p, VectorView<const T> w,
                                            double scale, uint64_t seed) {
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < p.size; ++i) {
    const double wi = w.empty() ? 1.0 : weight_at(w, i);
    if (hash_uniform(seed, i) < scale * wi * static_cast<double>(p.data[i * p.stride])) {
      chosen.push_back(i);
    }
  }
  return chosen;
}

template <typename T>
void largest_impl(VectorView<const T> p, int64_t m, int64_t* idx) {
  std::vector<int64_t> order(p.size);
  std::iota(order.begin(), order.end(), int64_t{0});
  auto value = [&](int64_t i) { return p.data[i * p.stride]; };
  std::partial_sort(order.begin(), order.begin() + m, order.end(), [&](int64_t a, int64_t b) {
    return value(a) > value(b) || (value(a) == value(b) && a < b);
  });
  std::copy(order.begin(), order.begin() + m, idx);
}

// D_ij = max(0, x_sq_i - 2 D_ij + c_sq_j) in double, rounded to T (D held the dot products).
template <typename T>
void dots_to_sq_distances_impl(VectorView<const T> x_sq, const double* c_sq, MatrixView<T> D,
                               int n_threads) {
  const int64_t n = D.rows, k = D.cols;
  const RowSplit split(n, 2048, kCpuMaxParts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      const double xi = static_cast<double>(x_sq.data[i * x_sq.stride]);
      T* row = D.row(i);
      for (int64_t j = 0; j < k; ++j) {
        row[j] = static_cast<T>(std::max(0.0, xi - 2.0 * static_cast<double>(row[j]) + c_sq[j]));
      }
    }
  });
}

// The argmin of each row of D (fixed row parts, combined in part order), then the per-cluster
// sums of the sparse rows: the rows bucketed by label (a stable counting sort), one task per
// cluster adding its rows in ascending order, so no partial k x d copies and the same bits
// with any thread count.
template <typename T>
KMeansStepStats assign_sparse_impl(MatrixView<const T> D, CsrView<T> X, VectorView<const T> w,
                                   int32_t* labels, T* sq_dist, double* sums, double* weights,
                                   int n_threads) {
  const int64_t n = D.rows, k = D.cols, d = X.cols;
  const RowSplit split(n, 2048, kCpuMaxParts);
  std::vector<double> inertia(split.n_parts, 0.0);
  std::vector<int64_t> changed(split.n_parts, 0);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    double local_inertia = 0;
    int64_t local_changed = 0;
    for (int64_t i = begin; i < end; ++i) {
      const T* row = D.row(i);
      const auto best = static_cast<int32_t>(argmin_span(row, k));
      local_inertia += (w.empty() ? 1.0 : weight_at(w, i)) * row[best];
      local_changed += labels[i] != best;
      labels[i] = best;
      if (sq_dist != nullptr) sq_dist[i] = row[best];
    }
    inertia[p] = local_inertia;
    changed[p] = local_changed;
  });
  KMeansStepStats stats;
  for (int64_t p = 0; p < split.n_parts; ++p) {
    stats.inertia += inertia[p];
    stats.changed += changed[p];
  }
  if (sums == nullptr && weights == nullptr) return stats;
  if (sums == nullptr) {  // the weights alone: one pass in row order
    for (int64_t i = 0; i < n; ++i) weights[labels[i]] += w.empty() ? 1.0 : weight_at(w, i);
    return stats;
  }
  std::vector<int64_t> start(k + 1, 0), order(n);
  for (int64_t i = 0; i < n; ++i) ++start[labels[i] + 1];
  for (int64_t j = 0; j < k; ++j) start[j + 1] += start[j];
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) order[next[labels[i]]++] = i;
  }
  parallel_for(k, n_threads, [&](int64_t j) {
    double* s = sums + j * d;
    double wj = 0;
    for (int64_t r = start[j]; r < start[j + 1]; ++r) {
      const int64_t i = order[r];
      const double wi = w.empty() ? 1.0 : weight_at(w, i);
      wj += wi;
      for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
        s[X.indices[q]] += wi * static_cast<double>(X.values[q]);
      }
    }
    if (weights != nullptr) weights[j] += wj;
  });
  return stats;
}

}  // namespace

template <typename T>
class CpuClusterPrimitives final : public ClusterPrimitives<T> {
 public:
  explicit CpuClusterPrimitives(CpuBackend& be) : be_(be) {}

  KMeansStepStats kmeans_assign(MatrixView<const T> X, VectorView<const T> w, const T* shift,
                                const T* centers, int64_t k, int32_t* labels, T* sq_dist,
                                double* sums, double* weights) override {
    return kmeans_assign_impl(X, w, shift, centers, k, labels, sq_dist, sums, weights,
                              be_.n_threads());
  }
  void sq_distances(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,
                    MatrixView<T> out) override {
    sq_distances_impl(X, shift, centers, k, out, be_.n_threads());
  }
  void min_potentials(VectorView<const T> cur, MatrixView<const T> D, VectorView<const T> w,
                      double* pot) override {
    min_potentials_impl(cur, D, w, pot, be_.n_threads());
  }
  void min_update(VectorView<T> cur, MatrixView<const T> D, int64_t c) override {
    for (int64_t i = 0; i < cur.size; ++i) {
      T& ci = cur.data[i * cur.stride];
      ci = std::min(ci, D.row(i)[c]);
    }
  }
  void weighted_draws(VectorView<const T> p, VectorView<const T> w, const double* u, int64_t t,
                      int64_t* idx) override {
    weighted_draws_impl(p, w, u, t, idx, p.empty() ? w.size : p.size);
  }
  std::vector<int64_t> independent_draws(VectorView<const T> p, VectorView<const T> w, double scale,
                                         uint64_t seed) override {
    return independent_draws_impl(p, w, scale, seed);
  }
  void largest(VectorView<const T> p, int64_t m, int64_t* idx) override { largest_impl(p, m, idx); }
  void dots_to_sq_distances(VectorView<const T> x_sq, const double* c_sq,
                            MatrixView<T> D) override {
    dots_to_sq_distances_impl(x_sq, c_sq, D, be_.n_threads());
  }
  KMeansStepStats assign_sparse(MatrixView<const T> D, CsrView<T> X, VectorView<const T> w,
                                int32_t* labels, T* sq_dist, double* sums,
                                double* weights) override {
    return assign_sparse_impl(D, X, w, labels, sq_dist, sums, weights, be_.n_threads());
  }

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, ClusterPrimitives, CpuClusterPrimitives)

}  // namespace gpulearn::detail
