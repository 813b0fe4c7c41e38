// The CUDA backend's side of the k-means primitives (cluster/primitives.hpp): one function per
// primitive, defined (for float and double) in kmeans_assign.cu, kmeans_init.cu, each
// under a DeviceGuard; CudaClusterPrimitives forwards to them and make_primitives(CudaBackend&,
// ...) creates it.
#pragma once

#include <cstdint>
#include <vector>

#include "cluster/primitives.hpp"

namespace gpulearn::detail {

class CudaBackend;

template <typename T>
KMeansStepStats kmeans_assign_cuda(CudaBackend& be, MatrixView<const T> X, VectorView<const T> w,
                                   const T* shift, const T* centers, int64_t k, int32_t* labels,
                                   T* sq_dist, double* sums, double* weights);
template <typename T>
void sq_distances_cuda(CudaBackend& be, MatrixView<const T> X, const T* shift, const T* centers,
                       int64_t k, MatrixView<T> out);
template <typename T>
void min_potentials_cuda(CudaBackend& be, VectorView<const T> cur, MatrixView<const T> D,
                         VectorView<const T> w, double* pot);
template <typename T>
void min_update_cuda(CudaBackend& be, VectorView<T> cur, MatrixView<const T> D, int64_t c);
template <typename T>
void weighted_draws_cuda(CudaBackend& be, VectorView<const T> p, VectorView<const T> w,
                         const double* u, int64_t t, int64_t* idx);
template <typename T>
std::vector<int64_t> independent_draws_cuda(CudaBackend& be, VectorView<const T> p,
                                            VectorView<const T> w, double scale, uint64_t seed);
template <typename T>
void largest_cuda(CudaBackend& be, VectorView<const T> p, int64_t m, int64_t* idx);

template <typename T>
void dots_to_sq_distances_cuda(CudaBackend& be, VectorView<const T> x_sq, const double* c_sq,
                               MatrixView<T> D);
template <typename T>
KMeansStepStats assign_sparse_cuda(CudaBackend& be, MatrixView<const T> D, CsrView<T> X,
                                   VectorView<const T> w, int32_t* labels, T* sq_dist, double* sums,
                                   double* weights);

template <typename T>
class CudaClusterPrimitives final : public ClusterPrimitives<T> {
 public:
  explicit CudaClusterPrimitives(CudaBackend& be) : be_(be) {}

  KMeansStepStats kmeans_assign(MatrixView<const T> X, VectorView<const T> w, const T* shift,
                                const T* centers, int64_t k, int32_t* labels, T* sq_dist,
                                double* sums, double* weights) override {
    return kmeans_assign_cuda<T>(be_, X, w, shift, centers, k, labels, sq_dist, sums, weights);
  }
  void sq_distances(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,
                    MatrixView<T> out) override {
    sq_distances_cuda<T>(be_, X, shift, centers, k, out);
  }
  void min_potentials(VectorView<const T> cur, MatrixView<const T> D, VectorView<const T> w,
                      double* pot) override {
    min_potentials_cuda<T>(be_, cur, D, w, pot);
  }
  void min_update(VectorView<T> cur, MatrixView<const T> D, int64_t c) override {
    min_update_cuda<T>(be_, cur, D, c);
  }
  void weighted_draws(VectorView<const T> p, VectorView<const T> w, const double* u, int64_t t,
                      int64_t* idx) override {
    weighted_draws_cuda<T>(be_, p, w, u, t, idx);
  }
  std::vector<int64_t> independent_draws(VectorView<const T> p, VectorView<const T> w, double scale,
                                         uint64_t seed) override {
    return independent_draws_cuda<T>(be_, p, w, scale, seed);
  }
  void largest(VectorView<const T> p, int64_t m, int64_t* idx) override {
    largest_cuda<T>(be_, p, m, idx);
  }

  void dots_to_sq_distances(VectorView<const T> x_sq, const double* c_sq,
                            MatrixView<T> D) override {
    dots_to_sq_distances_cuda<T>(be_, x_sq, c_sq, D);
  }
  KMeansStepStats assign_sparse(MatrixView<const T> D, CsrView<T> X, VectorView<const T> w,
                                int32_t* labels, T* sq_dist, double* sums,
                                double* weights) override {
    return assign_sparse_cuda<T>(be_, D, X, w, labels, sq_dist, sums, weights);
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
