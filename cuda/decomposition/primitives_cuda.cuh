// The CUDA backend's side of the decomposition primitives (decomposition/primitives.hpp): one
// function per primitive, defined (for float and double) in centered_products.cu, each under a
// DeviceGuard; CudaDecompositionPrimitives forwards to them and make_primitives(CudaBackend&, ...)
// creates it.
#pragma once

#include <cstdint>
#include <vector>

#include "decomposition/primitives.hpp"

namespace gpulearn::detail {

class CudaBackend;

template <typename T>
double centered_products_cuda(CudaBackend& be, MatrixView<const T> X, const T* mean, T scale,
                              int64_t l, const T* Z, const T* Y, double* out);

template <typename T>
class CudaDecompositionPrimitives final : public DecompositionPrimitives<T> {
 public:
  explicit CudaDecompositionPrimitives(CudaBackend& be) : be_(be) {}

  double centered_products(MatrixView<const T> X, const T* mean, T scale, int64_t l, const T* Z,
                           const T* Y, double* out) override {
    return centered_products_cuda<T>(be_, X, mean, scale, l, Z, Y, out);
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
