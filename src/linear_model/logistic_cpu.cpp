// CPU primitive of the logistic-regression driver: the loss and its gradient in one pass over X,
// in fixed row partitions (the linear predictions and X^T R of each chunk by Eigen's GEMM in T,
// each partition's sums in double, combined in partition order: the result does not depend on
// the thread count).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "primitives.hpp"

namespace gpulearn::detail {

namespace {

// The loss of one row from its linear predictions z (m values) and label, in double; z is
// overwritten with the loss's derivative in z (the residual: probabilities minus the one-hot
// label).
template <typename T>
double row_loss_residual(T* z, int64_t m, int32_t label) {
  if (m == 1) {  // log(1 + e^z) - y z, written so that neither term overflows
    const double v = z[0], y = label;
    const double loss = std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v))) - y * v;
    const double p = v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v));
    z[0] = static_cast<T>(p - y);
    return loss;
  }
  double top = z[0];
  for (int64_t t = 1; t < m; ++t) top = std::max(top, static_cast<double>(z[t]));
  double sum = 0;
  for (int64_t t = 0; t < m; ++t) sum += std::exp(z[t] - top);
  const double lse = top + std::log(sum);
  const double loss = lse - z[label];
  for (int64_t t = 0; t < m; ++t) {
    z[t] = static_cast<T>(std::exp(z[t] - lse) - (t == label ? 1.0 : 0.0));
  }
  return loss;
}

template <typename T>
double logistic_impl(MatrixView<const T> X, const int32_t* labels, VectorView<const T> w, int64_t m,
                     const double* coef, double* grad, int n_threads) {
  const int64_t n = X.rows, d = X.cols, p = d + 1;
  RowMatrix<T> W(m, d);  // coefficients and intercepts in T, for the GEMMs
  Eigen::Matrix<T, 1, Eigen::Dynamic> b(m);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < d; ++j) W(t, j) = static_cast<T>(coef[t * p + j]);
    b(t) = static_cast<T>(coef[t * p + d]);
  }
  // An m x (d + 1) partial per partition in double, bounded to ~256 MiB in all.
  const int64_t per_part = std::max<int64_t>(1, checked_mul(checked_mul(m, p), int64_t{8}));
  const RowSplit split(
      n, 2048, std::min(kCpuMaxParts, std::max<int64_t>(1, (int64_t{256} << 20) / per_part)));
  std::vector<RowMatrix<double>> acc(split.n_parts);
  std::vector<double> loss(split.n_parts, 0.0);
  parallel_for(split.n_parts, n_threads, [&](int64_t part) {
    RowMatrix<double> a;
    if (grad != nullptr) a = RowMatrix<double>::Zero(m, p);
    double s = 0;
    RowMatrix<T> Z, G;
    const int64_t begin = split.begin(part, n), end = begin + split.count(part, n);
    for (int64_t c = begin; c < end; c += kCpuChunkRows) {
      const int64_t rows = std::min(kCpuChunkRows, end - c);
      const auto Xc = eigen_map(X.block_rows(c, rows));
      Z.noalias() = Xc * W.transpose();
      Z.rowwise() += b;
      for (int64_t i = 0; i < rows; ++i) {
        const double wi = w.empty() ? 1.0 : static_cast<double>(w.data[(c + i) * w.stride]);
        T* zi = Z.data() + i * m;
        s += wi * row_loss_residual(zi, m, labels[c + i]);
        if (!w.empty()) {
          for (int64_t t = 0; t < m; ++t) zi[t] *= w.data[(c + i) * w.stride];
        }
      }
      if (grad == nullptr) continue;
      G.noalias() = Z.transpose() * Xc;
      a.leftCols(d) += G.template cast<double>();
      a.col(d) += Z.template cast<double>().colwise().sum().transpose();
    }
    if (grad != nullptr) acc[part] = std::move(a);
    loss[part] = s;
  });
  double total = 0;
  for (double s : loss) total += s;
  if (grad != nullptr) {
    Eigen::Map<RowMatrix<double>> g(grad, m, p);
    g.setZero();
    for (const auto& a : acc) g += a;
  }
  return total;
}

// The per-row loss step over linear predictions made elsewhere (the sparse data's products):
// the intercept added in T, then row_loss_residual, the same per-row code as the dense pass.
template <typename T>
double loss_residual_impl(MatrixView<T> Z, const int32_t* labels, VectorView<const T> w,
                          const double* intercept, double* r_sum, int n_threads) {
  const int64_t n = Z.rows, m = Z.cols;
  std::vector<T> b(m);
  for (int64_t t = 0; t < m; ++t) b[t] = static_cast<T>(intercept[t]);
  const RowSplit split(n, 2048, kCpuMaxParts);
  std::vector<double> loss(split.n_parts, 0.0), sums(checked_mul(split.n_parts, m), 0.0);
  parallel_for(split.n_parts, n_threads, [&](int64_t part) {
    double s = 0;
    double* rs = sums.data() + part * m;
    const int64_t begin = split.begin(part, n), end = begin + split.count(part, n);
    for (int64_t i = begin; i < end; ++i) {
      T* zi = Z.row(i);
      for (int64_t t = 0; t < m; ++t) zi[t] += b[t];
      const double wi = w.empty() ? 1.0 : static_cast<double>(w.data[i * w.stride]);
      s += wi * row_loss_residual(zi, m, labels[i]);
      for (int64_t t = 0; t < m; ++t) rs[t] += wi * static_cast<double>(zi[t]);
    }
    loss[part] = s;
  });
  double total = 0;
  for (double v : loss) total += v;
  if (r_sum != nullptr) {
    std::fill(r_sum, r_sum + m, 0.0);
    for (int64_t part = 0; part < split.n_parts; ++part) {
      for (int64_t t = 0; t < m; ++t) r_sum[t] += sums[part * m + t];
    }
  }
  return total;
}

}  // namespace

template <typename T>
class CpuLinearModelPrimitives final : public LinearModelPrimitives<T> {
 public:
  explicit CpuLinearModelPrimitives(CpuBackend& be) : be_(be) {}

  double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels, VectorView<const T> w,
                            int64_t m, const double* coef, double* grad) override {
    GPULEARN_EXPECTS(m >= 1, "logistic_loss_grad: m must be >= 1, got ", m);
    return logistic_impl(X, labels, w, m, coef, grad, be_.n_threads());
  }

  double logistic_loss_residual(MatrixView<T> Z, const int32_t* labels, VectorView<const T> w,
                                const double* intercept, double* r_sum) override {
    GPULEARN_EXPECTS(Z.cols >= 1, "logistic_loss_residual: Z must have >= 1 column, got ", Z.cols);
    GPULEARN_EXPECTS(w.empty() || w.size == Z.rows, "logistic_loss_residual: w has ", w.size,
                     " entries for ", Z.rows, " rows");
    return loss_residual_impl(Z, labels, w, intercept, r_sum, be_.n_threads());
  }

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, LinearModelPrimitives, CpuLinearModelPrimitives)

}  // namespace gpulearn::detail
