// The linear models' own primitives (src/linear_model/logistic.cpp drives them), implemented
// by src/linear_model/logistic_cpu.cpp and cuda/linear_model/logistic_loss.cu. The conventions
// of src/core/backend.hpp hold. (Least squares and ridge use only the shared passes of
// backend.hpp.)
#pragma once

#include <cstdint>

#include "../core/backend.hpp"

namespace gpulearn::detail {

template <typename T>
class LinearModelPrimitives {
 public:
  virtual ~LinearModelPrimitives() = default;

  /// X (n x d), labels (n) and w (n, or empty: unit weights) live in native_space(); coef
  /// (host, m x (d + 1), row-major, double) holds per output t its d coefficients, then its
  /// intercept. With z_i = coef[:, :d] x_i + coef[:, d], formed in T: m == 1 is the binomial
  /// loss log(1 + e^z) - y z with y = labels_i in {0, 1}; m >= 2 the multinomial loss
  /// logsumexp(z) - z_{labels_i} with labels in [0, m). Returns sum_i w_i loss_i and, when
  /// grad (host, m x (d + 1), double) is not null, writes its gradient in coef there. Per-chunk
  /// products in T, sums over chunks in double, in an order that does not depend on the thread
  /// count or scheduling.
  virtual double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels,
                                    VectorView<const T> w, int64_t m, const double* coef,
                                    double* grad) = 0;

  /// The per-row step of a loss pass whose linear predictions were made elsewhere (the sparse
  /// data's X coef^T, src/linear_model/sparse_logistic_data.cpp). Z (n x m, native_space(),
  /// row stride Z.ld) holds x_i . coef_t without the intercept; labels (n) and w (n, or empty)
  /// live in native_space(); intercept (host, m doubles) is added to each row, in T, as
  /// logistic_loss_grad adds it. Overwrites Z with the residual R (the loss's derivative in z:
  /// probabilities minus the one-hot label; m == 1 binomial, else multinomial, as above),
  /// unweighted; writes r_sum (host, m doubles) = sum_i w_i R_i when not null, and returns
  /// sum_i w_i loss_i. Sums in double over a row split fixed by n, in partition order.
  virtual double logistic_loss_residual(MatrixView<T> Z, const int32_t* labels,
                                        VectorView<const T> w, const double* intercept,
                                        double* r_sum) = 0;
};

}  // namespace gpulearn::detail
