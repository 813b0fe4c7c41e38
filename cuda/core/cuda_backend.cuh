// The CUDA backend: one object per device, owning that device's stream, cuBLAS and cuSOLVER
// handles and scratch memory. Each primitive is defined in its own file (each family's
// make_primitives(CudaBackend&, ...) is in the first file listed for it):
//   cuda/core/checks.cu                          max_abs, min_value
//   cuda/core/dense.cu                           symmetric_eigh, cholesky_solve, svd
//   cuda/core/weighted_means.cu                  weighted_means
//   cuda/core/centered_gram.cu                   centered_gram
//   cuda/core/centered_r_factor.cu               centered_r_factor
//   cuda/core/affine_predict.cu                  affine_predict
//   (cuda/core/centred_chunk.cuh: the centred, scaled chunk copies these and
//   centered_products read)
//   cuda/cluster/kmeans_assign.cu                kmeans_assign, sq_distances
//   cuda/cluster/kmeans_init.cu                  min_potentials, min_update, weighted_draws,
//                                                independent_draws, largest
//   cuda/neighbors/knn.cu                        knn
//   cuda/neighbors/radius_search.cu              radius_search
//   (cuda/neighbors/distance_tile.cu holds the distance tiles both share)
//   cuda/decomposition/centered_products.cu      centered_products
//   cuda/linear_model/logistic_loss.cu           logistic_loss_grad
//   cuda/ensemble/forest_bin.cu                  forest_bin
//   cuda/ensemble/grow_trees.cu                  grow_trees (kernels: grow_search.cu,
//                                                grow_hist.cu; shared: grow_common.cuh)
//   cuda/ensemble/forest_traverse.cu             forest_traverse
//   cuda/sparse/sparse.cu                        the sparse primitives (cuSPARSE SpMM, own
//                                                kernels; its own cuSPARSE handle)
// (native_space, allocate and copy are in cuda/core/cuda_backend.cu.)
//
// Every public method starts with a DeviceGuard: callers (and other libraries in the same
// process, e.g. PyTorch) may have another device current on the calling thread.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.hpp"
#include "core/cuda_check.cuh"
#include "core/device_buffer.cuh"

namespace gpulearn::detail {

/// The environment variable `name` as a positive integer, or 0 when unset or not one (the
/// tuning overrides tests use to reach every path on small data).
int64_t env_positive(const char* name);

/// Makes `device` current for a scope and restores the previous device after it.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    GPULEARN_CUDA_TRY(cudaGetDevice(&previous_));
    if (previous_ != device) GPULEARN_CUDA_TRY(cudaSetDevice(device));
    restore_ = previous_ != device;
  }
  ~DeviceGuard() {
    if (restore_) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool restore_ = false;
};

class CudaBackend;
#define GPULEARN_CUDA_FACTORIES(P) GPULEARN_DECLARE_FAMILY_FACTORIES(CudaBackend, P)
GPULEARN_FAMILIES(GPULEARN_CUDA_FACTORIES)
#undef GPULEARN_CUDA_FACTORIES

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::cuda(device_); }
  /// The device's ordinal (what a DeviceGuard takes).
  int ordinal() const { return device_; }
  void synchronize() override;
  void trim_scratch() override;
  // Host views are streamed through device memory in row chunks; device views are read in place.
  bool accepts(MemorySpace) const override { return true; }
  MemorySpace native_space() const override { return MemorySpace::kDevice; }
  std::shared_ptr<void> allocate(int64_t bytes) override;
  void copy(void* dst, MemorySpace dst_space, const void* src, MemorySpace src_space,
            int64_t bytes) override;

#define GPULEARN_CUDA_OVERRIDES(T)                                                                 \
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
  GPULEARN_CUDA_OVERRIDES(float)
  GPULEARN_CUDA_OVERRIDES(double)
#undef GPULEARN_CUDA_OVERRIDES

  // ---- For the primitives' implementations (call them under a DeviceGuard) ----
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cusolverDnHandle_t cusolver() const { return cusolver_; }
  /// Lays out a pass's scratch (staging copies of host data, centred chunks, partial results)
  /// in the chunk workspace: layout(Carver&) takes every buffer and returns their pointers; it
  /// runs once to size the workspace and once to carve it.
  template <typename Layout>
  auto carve_chunk_workspace(Layout layout) {
    Carver sizing;
    layout(sizing);
    Carver carver(chunk_ws_.reserve(sizing.bytes(), stream_));
    return layout(carver);
  }
  /// Scratch for cuSOLVER's work arrays, separate so that growing it keeps chunk pointers valid.
  Workspace& solver_workspace() { return solver_ws_; }

  /// Rows per chunk for a pass over n rows needing `bytes_per_row` of chunk scratch per row:
  /// a bounded share of the free device memory (so X may exceed it), at least min_rows and at
  /// most n. The environment variable GPULEARN_CUDA_MAX_CHUNK_ROWS caps it, so that tests can
  /// exercise chunk boundaries on small data.
  int64_t chunk_rows(int64_t n, int64_t bytes_per_row, int64_t min_rows = 1) const;

  /// Rows per tile for a pass whose results must not depend on what else holds device memory
  /// (k-means: the GEMM's shape, and so its rounding, follows the tile): a fixed budget divided
  /// by bytes_per_row, a multiple of `multiple` (at least one), capped by
  /// GPULEARN_CUDA_MAX_CHUNK_ROWS (rounded down to the multiple) and by n rounded up to it.
  int64_t fixed_tile_rows(int64_t n, int64_t bytes_per_row, int64_t multiple) const;

  /// Blocks until the stream is idle.
  void sync_stream() const { GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream_)); }

 private:
  void release() noexcept;

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cusolverDnHandle_t cusolver_ = nullptr;
  Workspace chunk_ws_;
  Workspace solver_ws_;

  GPULEARN_BACKEND_FAMILY_SLOTS
};

}  // namespace gpulearn::detail
