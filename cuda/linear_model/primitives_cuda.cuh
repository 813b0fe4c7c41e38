// The CUDA backend's side of the linear models' primitives (linear_model/primitives.hpp): one
// function per primitive, defined (for float and double) in logistic_loss.cu, each under a
// DeviceGuard; CudaLinearModelPrimitives forwards to them and make_primitives(CudaBackend&, ...)
// creates it.
#pragma once

#include <cstdint>
#include <vector>

#include "linear_model/primitives.hpp"

namespace gpulearn::detail {

class CudaBackend;

template <typename T>
double logistic_loss_grad_cuda(CudaBackend& be, MatrixView<const T> X, const int32_t* labels,
                               VectorView<const T> w, int64_t m, const double* coef, double* grad);

template <typename T>
class CudaLinearModelPrimitives final : public LinearModelPrimitives<T> {
 public:
  explicit CudaLinearModelPrimitives(CudaBackend& be) : be_(be) {}

  double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels, VectorView<const T> w,
                            int64_t m, const double* coef, double* grad) override {
    return logistic_loss_grad_cuda<T>(be_, X, labels, w, m, coef, grad);
  }

  // The sparse data's per-row step: no kernel yet (the CUDA sparse primitives come first).
  double logistic_loss_residual(MatrixView<T>, const int32_t*, VectorView<const T>, const double*,
                                double*) override {
    GPULEARN_FAIL(Unsupported,
                  "sparse input is not supported on CUDA devices yet; "
                  "LogisticRegression's sparse loss pass has no CUDA kernel: use "
                  "device='cpu' for sparse data");
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
