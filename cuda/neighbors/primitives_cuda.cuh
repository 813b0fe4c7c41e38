// The CUDA backend's side of the nearest-neighbour primitives (neighbors/primitives.hpp): one
// function per primitive, defined (for float and double) in knn.cu, radius_search.cu and
// sparse_l1.cu, each under a DeviceGuard; CudaNeighborsPrimitives forwards to them and
// make_primitives(CudaBackend&, ...) creates it.
#pragma once

#include <cstdint>
#include <vector>

#include "gpulearn/core/error.hpp"
#include "neighbors/primitives.hpp"

namespace gpulearn::detail {

class CudaBackend;

template <typename T>
void knn_cuda(CudaBackend& be, RdistSpec metric, const T* shift, MatrixView<const T> index,
              MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist, int64_t* idx);
template <typename T>
void radius_search_cuda(CudaBackend& be, RdistSpec metric, const T* shift,
                        MatrixView<const T> index, MatrixView<const T> queries, double bound,
                        bool exclude_self, std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                        std::vector<T>& dist);

template <typename T>
void sparse_l1_cuda(CudaBackend& be, CsrView<T> index, const T* Bt, int64_t t, MatrixView<T> P);
template <typename T>
void sparse_knn_tile_cuda(CudaBackend& be, RdistSpec metric, CsrView<T> index, const T* index_sq,
                          const T* Q, int64_t t, MatrixView<const T> P, int64_t self_offset,
                          int64_t k, T* dist, int64_t* idx);
template <typename T>
void sparse_radius_tile_cuda(CudaBackend& be, RdistSpec metric, CsrView<T> index,
                             const T* index_sq, const T* Q, int64_t t, MatrixView<const T> P,
                             int64_t self_offset, double bound, std::vector<int64_t>& offsets,
                             std::vector<int64_t>& idx, std::vector<T>& dist);

template <typename T>
class CudaNeighborsPrimitives final : public NeighborsPrimitives<T> {
 public:
  explicit CudaNeighborsPrimitives(CudaBackend& be) : be_(be) {}

  void knn(RdistSpec metric, const T* shift, MatrixView<const T> index, MatrixView<const T> queries,
           int64_t k, bool exclude_self, T* dist, int64_t* idx) override {
    knn_cuda<T>(be_, metric, shift, index, queries, k, exclude_self, dist, idx);
  }
  void radius_search(RdistSpec metric, const T* shift, MatrixView<const T> index,
                     MatrixView<const T> queries, double bound, bool exclude_self,
                     std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                     std::vector<T>& dist) override {
    radius_search_cuda<T>(be_, metric, shift, index, queries, bound, exclude_self, offsets, idx,
                          dist);
  }
  // A sparse index (sparse_l1.cu, knn.cu, radius_search.cu); sparse_query_products keeps the
  // default (the driver makes the tile dense and multiplies).
  void sparse_l1(CsrView<T> index, const T* Bt, int64_t t, MatrixView<T> P) override {
    sparse_l1_cuda<T>(be_, index, Bt, t, P);
  }
  void sparse_knn_tile(RdistSpec metric, CsrView<T> index, const T* index_sq, const T* Q,
                       int64_t t, MatrixView<const T> P, int64_t self_offset, int64_t k, T* dist,
                       int64_t* idx) override {
    sparse_knn_tile_cuda<T>(be_, metric, index, index_sq, Q, t, P, self_offset, k, dist, idx);
  }
  void sparse_radius_tile(RdistSpec metric, CsrView<T> index, const T* index_sq, const T* Q,
                          int64_t t, MatrixView<const T> P, int64_t self_offset, double bound,
                          std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                          std::vector<T>& dist) override {
    sparse_radius_tile_cuda<T>(be_, metric, index, index_sq, Q, t, P, self_offset, bound, offsets,
                               idx, dist);
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
