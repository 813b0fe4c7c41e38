// The decomposition primitives (src/decomposition/spectral.cpp and truncated_svd.cpp drive
// them), implemented by src/decomposition/centered_products_cpu.cpp and
// cuda/decomposition/centered_products.cu. The conventions of src/core/backend.hpp hold.
#pragma once

#include <cstdint>

#include "../core/backend.hpp"

namespace gpulearn::detail {

template <typename T>
class DecompositionPrimitives {
 public:
  virtual ~DecompositionPrimitives() = default;

  /// Products with Xc = (X - 1 mean^T) * scale (mean: host, d values, or null: no centring;
  /// scale a power of two chosen by the driver, exact), per row chunk in T, summed over chunks
  /// in double: out (host, d x l, row-major) = Xc^T (Xc Z) when Z (host, d x l, row-major) is
  /// not null, else Xc^T Y with Y (host, n x l, row-major). Returns ||Xc||_F^2, summed in
  /// double. X may be host or device memory (CUDA).
  virtual double centered_products(MatrixView<const T> X, const T* mean, T scale, int64_t l,
                                   const T* Z, const T* Y, double* out) = 0;
};

}  // namespace gpulearn::detail
