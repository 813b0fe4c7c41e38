// The CPU backend: Eigen for the dense kernels, parallel_for over fixed row partitions for the
// passes over X. The shared primitives are defined in core:
//   src/core/memory_cpu.cpp            allocate, copy
//   src/core/checks_cpu.cpp            max_abs, min_value
//   src/core/dense_cpu.cpp             symmetric_eigh, cholesky_solve, svd
//   src/core/row_passes_cpu.cpp        weighted_means, centered_gram, centered_r_factor,
//                                      affine_predict (the generic passes over X)
// and each family's primitives (src/<family>/primitives.hpp) in its own folder, whose
// make_primitives(CpuBackend&, ...) creates them: src/cluster/kmeans_cpu.cpp,
// src/neighbors/brute_force_cpu.cpp, src/decomposition/centered_products_cpu.cpp,
// src/linear_model/logistic_cpu.cpp, src/ensemble/forest_cpu.cpp (grow_trees: grow_cpu.cpp).
#pragma once

// Eigen is private to this library, and its inline functions compile differently with other
// flags (-march=native here changes EIGEN_MAX_ALIGN_BYTES and with it aligned_malloc/free):
// exported, a program using Eigen with its own flags would interpose them, and memory allocated
// by one would be freed by the other. Hidden, each side keeps its own. The standard headers come
// first, so that what they declare (e.g. libc's __libc_single_threaded, which shared_ptr reads)
// keeps its default visibility.
#include <memory>
#include <vector>

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

class CpuBackend;
#define GPULEARN_CPU_FACTORIES(P) GPULEARN_DECLARE_FAMILY_FACTORIES(CpuBackend, P)
GPULEARN_FAMILIES(GPULEARN_CPU_FACTORIES)
#undef GPULEARN_CPU_FACTORIES

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads) : n_threads_(resolve_threads(n_threads)) {}
  Device device() const override { return Device::cpu(); }
  void synchronize() override {}
  void trim_scratch() override {}
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
      override;
  GPULEARN_CPU_OVERRIDES(float)
  GPULEARN_CPU_OVERRIDES(double)
#undef GPULEARN_CPU_OVERRIDES

 private:
  int n_threads_;

  GPULEARN_BACKEND_FAMILY_SLOTS
};

}  // namespace gpulearn::detail
