// The CUDA backend's side of the random-forest primitives (ensemble/primitives.hpp): one function
// per primitive, defined (for float and double) in forest_bin.cu, grow_trees.cu,
// forest_traverse.cu, each under a DeviceGuard; CudaEnsemblePrimitives forwards to them and
// make_primitives(CudaBackend&, ...) creates it.
#pragma once

#include <cstdint>
#include <vector>

#include "ensemble/primitives.hpp"

namespace gpulearn::detail {

class CudaBackend;

template <typename T>
void forest_bin_cuda(CudaBackend& be, MatrixView<const T> X, const double* edges,
                     const int64_t* offsets, uint8_t* codes, T* bin_min, T* bin_max);
void grow_trees_cuda(CudaBackend& be, const forest::TrainingSet& data, const forest::GrowSpec& spec,
                     int64_t n_trees, const int32_t* counts, const double* class_mult,
                     const uint64_t* keys, std::vector<forest::GrownTree>& trees);
template <typename T>
void forest_traverse_cuda(CudaBackend& be, MatrixView<const T> X, const forest::Layout<T>& forest,
                          double* mean, int64_t* leaves);

template <typename T>
class CudaEnsemblePrimitives final : public EnsemblePrimitives<T> {
 public:
  explicit CudaEnsemblePrimitives(CudaBackend& be) : be_(be) {}

  void forest_bin(MatrixView<const T> X, const double* edges, const int64_t* offsets,
                  uint8_t* codes, T* bin_min, T* bin_max) override {
    forest_bin_cuda<T>(be_, X, edges, offsets, codes, bin_min, bin_max);
  }
  void forest_traverse(MatrixView<const T> X, const forest::Layout<T>& forest, double* mean,
                       int64_t* leaves) override {
    forest_traverse_cuda<T>(be_, X, forest, mean, leaves);
  }
  void grow_trees(const forest::TrainingSet& data, const forest::GrowSpec& spec, int64_t n_trees,
                  const int32_t* counts, const double* class_mult, const uint64_t* keys,
                  std::vector<forest::GrownTree>& trees) override {
    grow_trees_cuda(be_, data, spec, n_trees, counts, class_mult, keys, trees);
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
