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
double logistic_loss_residual_cuda(CudaBackend& be, MatrixView<T> Z, const int32_t* labels,
                                   VectorView<const T> w, const double* intercept, double* r_sum);

template <typename T>
class CudaLinearModelPrimitives final : public LinearModelPrimitives<T> {
 public:
  explicit CudaLinearModelPrimitives(CudaBackend& be) : be_(be) {}

  double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels, VectorView<const T> w,
                            int64_t m, const double* coef, double* grad) override {
    return logistic_loss_grad_cuda<T>(be_, X, labels, w, m, coef, grad);
  }

  double logistic_loss_residual(MatrixView<T> Z, const int32_t* labels, VectorView<const T> w,
                                const double* intercept, double* r_sum) override {
    return logistic_loss_residual_cuda<T>(be_, Z, labels, w, intercept, r_sum);
  }

 private:
  CudaBackend& be_;
};

}  // namespace gpulearn::detail
