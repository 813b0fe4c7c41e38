// The CUDA backend's side of the nearest-neighbour primitives (neighbors/primitives.hpp): one
// function per primitive, defined (for float and double) in knn.cu, radius_search.cu, each under a
// DeviceGuard; CudaNeighborsPrimitives forwards to them and make_primitives(CudaBackend&, ...)
// creates it.
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
  // A sparse index: not written for CUDA yet (the driver reaches these only after the CUDA
  // sparse primitives' first pass, which refuses today as well).
  void sparse_l1(CsrView<T>, const T*, int64_t, MatrixView<T>) override { refuse_sparse(); }
  void sparse_knn_tile(RdistSpec, CsrView<T>, const T*, const T*, int64_t, MatrixView<const T>,
                       int64_t, int64_t, T*, int64_t*) override {
    refuse_sparse();
  }
  void sparse_radius_tile(RdistSpec, CsrView<T>, const T*, const T*, int64_t,
                          MatrixView<const T>, int64_t, double, std::vector<int64_t>&,
                          std::vector<int64_t>&, std::vector<T>&) override {
    refuse_sparse();
  }

 private:
  [[noreturn]] static void refuse_sparse() {
    GPULEARN_FAIL(Unsupported,
                  "sparse input is not supported on CUDA devices yet; the nearest-neighbour "
                  "search of a sparse index runs on the CPU (device='cpu')");
  }
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
