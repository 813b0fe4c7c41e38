// LogisticData over a sparse X (CSR): the logistic-regression driver (logistic.cpp) fits sparse
// data unchanged, through the same two passes as the dense data, each written over the sparse
// primitives (src/sparse/primitives.hpp) and one per-row primitive of this family:
//   Z = X W^T                 SparsePrimitives::multiply (W^T: d x m, host, in T)
//   loss, R = loss'(Z + b)    LinearModelPrimitives::logistic_loss_residual (the dense pass's
//                             per-row code), with sum_i w_i R_i for the intercepts' gradient
//   G = X^T W R               SparsePrimitives::multiply_t
// X is never densified: memory is O(nnz) for X plus O(n m) for Z and O(d m) for the products.
// Every n-sized buffer lives in the backend's native memory, so the same code runs on a CUDA
// context once the CUDA sparse primitives exist (a host X is copied there once per fit).
#include <cmath>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "../core/native.hpp"
#include "../sparse/native_csr.hpp"
#include "../sparse/primitives.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"
#include "logistic_checks.hpp"
#include "primitives.hpp"
#include "sparse_predict.hpp"

namespace gpulearn::linear_model {

namespace {

using gpulearn::detail::Backend;
using gpulearn::detail::Scratch;

using gpulearn::detail::NativeCsr;

// The stored values must be finite: the dense data's error (checks.hpp) for the same input. (X
// is a NativeCsr's view: its structure was checked there.)
template <typename T>
void check_values(Backend& be, CsrView<T> X) {
  const T amax = be.primitives<gpulearn::detail::SparsePrimitives<T>>().max_abs(X);
  GPULEARN_EXPECTS(std::isfinite(amax), "Input X contains NaN or infinity.");
}

template <typename T>
class SparseLogisticData final : public LogisticData {
 public:
  SparseLogisticData(Context& ctx, CsrView<T> X, VectorView<const int32_t> labels,
                     VectorView<const T> w)
      : be_(ctx.backend()), X_(X), labels_(labels), w_(w) {}

  int64_t n_samples() const override { return X_.rows; }
  int64_t n_features() const override { return X_.cols; }

  LogisticDataStats check(int64_t n_classes) override {
    check_shapes();
    LogisticDataStats stats = detail::checked_labels(labels_, n_classes);
    make_native();
    check_values(be_, native_->X.view);
    stats.weight_sum = detail::checked_weight_sum(be_, native_->yw.w, X_.rows);
    return stats;
  }

  double loss_grad(int64_t m, const std::vector<double>& coef, std::vector<double>& grad) override {
    check_shapes();
    const int64_t n = X_.rows, d = X_.cols, p = d + 1;
    const int64_t size = checked_mul(m, p);
    GPULEARN_EXPECTS(m >= 1 && static_cast<int64_t>(coef.size()) == size &&
                         static_cast<int64_t>(grad.size()) == size,
                     "loss_grad: coef and grad must hold ", m, " x ", p, " values");
    make_native();
    Native& nat = *native_;
    // W^T (d x m) in T for the product; the intercepts (m) in double.
    std::vector<T> Wt(checked_mul(d, m));
    std::vector<double> b(m), r_sum(m);
    for (int64_t t = 0; t < m; ++t) {
      for (int64_t j = 0; j < d; ++j) Wt[j * m + t] = static_cast<T>(coef[t * p + j]);
      b[t] = coef[t * p + d];
    }
    if (nat.z_cols != m) {
      nat.Z = Scratch<T>(be_, checked_mul(n, m));
      nat.z_cols = m;
    }
    const MatrixView<T> Z(nat.Z.data, n, m, m, be_.native_space());
    auto& sp = be_.primitives<gpulearn::detail::SparsePrimitives<T>>();
    sp.multiply(nat.X.view, Wt.data(), m, Z);
    const double loss =
        be_.primitives<gpulearn::detail::LinearModelPrimitives<T>>().logistic_loss_residual(
            Z, nat.yw.labels.data, nat.yw.w, b.data(), r_sum.data());
    std::vector<double> G(checked_mul(d, m));
    sp.multiply_t(nat.X.view, MatrixView<const T>(Z), nat.yw.w, G.data());
    for (int64_t t = 0; t < m; ++t) {
      for (int64_t j = 0; j < d; ++j) grad[t * p + j] = G[j * m + t];
      grad[t * p + d] = r_sum[t];
    }
    return loss;
  }

 private:
  void check_shapes() const {
    const int64_t n = X_.rows;
    GPULEARN_EXPECTS(labels_.size == n, "X has ", n, " samples but y has ", labels_.size);
    GPULEARN_EXPECTS(labels_.space == MemorySpace::kHost, "labels must be in host memory");
    GPULEARN_EXPECTS(w_.empty() || w_.size == n, "sample_weight has ", w_.size,
                     " entries but X has ", n, " samples");
  }

  // X, the labels and contiguous weights in native memory, and the n x m predictions (then
  // residuals) the passes reuse.
  struct Native {
    NativeCsr<T> X;
    detail::NativeLabelsWeights<T> yw;
    Scratch<T> Z;
    int64_t z_cols = 0;
  };

  void make_native() {
    if (native_) return;
    native_ = std::make_unique<Native>(
        Native{NativeCsr<T>(be_, X_), detail::NativeLabelsWeights<T>(be_, labels_, w_), {}, 0});
  }

  Backend& be_;
  CsrView<T> X_;
  VectorView<const int32_t> labels_;
  VectorView<const T> w_;
  std::unique_ptr<Native> native_;
};

}  // namespace

template <typename T>
std::unique_ptr<LogisticData> logistic_sparse_data(Context& ctx, CsrView<T> X,
                                                   VectorView<const int32_t> labels,
                                                   VectorView<const T> sample_weight) {
  return std::make_unique<SparseLogisticData<T>>(ctx, X, labels, sample_weight);
}

template <typename T>
void logistic_decision_function(Context& ctx, const LogisticModel<T>& model, CsrView<T> X,
                                MatrixView<T> out) {
  if (model.coef.empty() || model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this logistic regression is not fitted yet: call fit first");
  }
  detail::sparse_affine_predict(ctx, model.coef.data(), model.intercept.data(), model.n_features,
                                model.n_outputs, X, out);
}

#define GPULEARN_INSTANTIATE(T)                                                              \
  template std::unique_ptr<LogisticData> logistic_sparse_data<T>(                            \
      Context&, CsrView<T>, VectorView<const int32_t>, VectorView<const T>);                 \
  template void logistic_decision_function<T>(Context&, const LogisticModel<T>&, CsrView<T>, \
                                              MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::linear_model
