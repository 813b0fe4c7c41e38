// The CPU backend: Eigen for the dense kernels, parallel_for over fixed row partitions for the
// passes over X. Each primitive family is defined in its own file:
//   src/core/memory_cpu.cpp            allocate, copy
//   src/core/checks_cpu.cpp            max_abs, min_value
//   src/core/dense_cpu.cpp             symmetric_eigh, cholesky_solve, svd
//   src/core/row_passes_cpu.cpp        weighted_means, centered_gram, centered_r_factor,
//                                      affine_predict (the generic passes over X)
//   src/cluster/kmeans_cpu.cpp         the k-means primitives
//   src/neighbors/brute_force_cpu.cpp  knn, radius_search
//   src/decomposition/centered_products_cpu.cpp  centered_products
//   src/linear_model/logistic_cpu.cpp  logistic_loss_grad
//   src/ensemble/forest_cpu.cpp        forest_bin, forest_traverse
//   src/ensemble/grow_cpu.cpp          grow_trees
#pragma once

// Eigen is private to this library, and its inline functions compile differently with other
// flags (-march=native here changes EIGEN_MAX_ALIGN_BYTES and with it aligned_malloc/free):
// exported, a program using Eigen with its own flags would interpose them, and memory allocated
// by one would be freed by the other. Hidden, each side keeps its own.
#pragma GCC visibility push(hidden)
#include <Eigen/Dense>
#pragma GCC visibility pop

#include "backend.hpp"
#include "parallel.hpp"

namespace gpulearn::detail {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// An Eigen map over a (possibly strided) row-major host view.
template <typename T>
auto eigen_map(MatrixView<T> v) {
  using Plain = RowMatrix<std::remove_const_t<T>>;
  using MapT = std::conditional_t<std::is_const_v<T>, const Plain, Plain>;
  return Eigen::Map<MapT, 0, Eigen::OuterStride<>>(v.data, v.rows, v.cols,
                                                   Eigen::OuterStride<>(v.ld));
}

// Rows per chunk of the passes over X: large enough for Eigen's blocked kernels, small enough
// that a centred chunk stays in cache-friendly sizes (chunk x d).
constexpr int64_t kCpuChunkRows = 512;
// Partitions of a pass over X: a fixed count (not the thread count) keeps results bitwise
// reproducible across machines with different core counts.
constexpr int64_t kCpuMaxParts = 16;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads) : n_threads_(resolve_threads(n_threads)) {}
  Device device() const override { return Device::cpu(); }
  void synchronize() override {}
  bool accepts(MemorySpace space) const override { return space == MemorySpace::kHost; }
  MemorySpace native_space() const override { return MemorySpace::kHost; }
  std::shared_ptr<void> allocate(int64_t bytes) override;
  void copy(void* dst, MemorySpace dst_space, const void* src, MemorySpace src_space,
            int64_t bytes) override;
  int n_threads() const { return n_threads_; }

#define GPULEARN_CPU_OVERRIDES(T)                                                                  \
  T max_abs(MatrixView<const T> X) override;                                                       \
  T min_value(MatrixView<const T> X) override;                                                     \
  void weighted_means(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,         \
                      T* x_mean, T* y_mean, double* w_sum) override;                               \
  void centered_gram(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,          \
                     const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram, T* xty)      \
      override;                                                                                    \
  int64_t centered_r_factor(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,   \
                            const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* r_factor,   \
                            T* qty) override;                                                      \
  void symmetric_eigh(int64_t n, T* a, T* w, bool vectors) override;                               \
  bool cholesky_solve(int64_t n, T* a, int64_t k, T* b) override;                                  \
  void svd(int64_t m, int64_t n, const T* a, T* u, T* s, T* vt) override;                          \
  void affine_predict(MatrixView<const T> X, const T* coef, const T* intercept, MatrixView<T> out) \
      override;                                                                                    \
  KMeansStepStats kmeans_assign(MatrixView<const T> X, VectorView<const T> w, const T* shift,      \
                                const T* centers, int64_t k, int32_t* labels, T* sq_dist,          \
                                double* sums, double* weights) override;                           \
  void sq_distances(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,            \
                    MatrixView<T> out) override;                                                   \
  void min_potentials(VectorView<const T> cur, MatrixView<const T> D, VectorView<const T> w,       \
                      double* pot) override;                                                       \
  void min_update(VectorView<T> cur, MatrixView<const T> D, int64_t c) override;                   \
  void weighted_draws(VectorView<const T> p, VectorView<const T> w, const double* u, int64_t t,    \
                      int64_t* idx) override;                                                      \
  std::vector<int64_t> independent_draws(VectorView<const T> p, VectorView<const T> w,             \
                                         double scale, uint64_t seed) override;                    \
  void largest(VectorView<const T> p, int64_t m, int64_t* idx) override;                           \
  void knn(RdistSpec metric, const T* shift, MatrixView<const T> index,                            \
           MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist, int64_t* idx)       \
      override;                                                                                    \
  void radius_search(RdistSpec metric, const T* shift, MatrixView<const T> index,                  \
                     MatrixView<const T> queries, double bound, bool exclude_self,                 \
                     std::vector<int64_t>& offsets, std::vector<int64_t>& idx,                     \
                     std::vector<T>& dist) override;                                               \
  double centered_products(MatrixView<const T> X, const T* mean, T scale, int64_t l, const T* Z,   \
                           const T* Y, double* out) override;                                      \
  double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels, VectorView<const T> w,   \
                            int64_t m, const double* coef, double* grad) override;                 \
  void forest_bin(MatrixView<const T> X, const double* edges, const int64_t* offsets,              \
                  uint8_t* codes, T* bin_min, T* bin_max) override;                                \
  void forest_traverse(MatrixView<const T> X, const forest::Layout<T>& forest, double* mean,       \
                       int64_t* leaves) override;
  GPULEARN_CPU_OVERRIDES(float)
  GPULEARN_CPU_OVERRIDES(double)
#undef GPULEARN_CPU_OVERRIDES
  void grow_trees(const forest::TrainingSet& data, const forest::GrowSpec& spec, int64_t n_trees,
                  const int32_t* counts, const double* class_mult, const uint64_t* keys,
                  std::vector<forest::GrownTree>& trees) override;

 private:
  int n_threads_;
};

}  // namespace gpulearn::detail
