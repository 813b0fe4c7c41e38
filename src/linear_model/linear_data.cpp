// LinearData over one block of rows in one memory space: each pass is one call of the
// context's backend, exactly what the single-machine drivers made before they were written
// over LinearData. Also what a distributed fit runs per block (python/bindings/
// register_linear_model.cpp, linear_block_*).
#include "gpulearn/linear_model/linear_data.hpp"

#include <cmath>
#include <memory>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "data_checks.hpp"

namespace gpulearn::linear_model {

namespace {

using gpulearn::detail::Backend;

template <typename T>
class LocalLinearData final : public LinearData<T> {
 public:
  LocalLinearData(Context& ctx, MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w)
      : be_(ctx.backend()), X_(X), Y_(Y), w_(w) {}

  int64_t n_samples() const override { return X_.rows; }
  int64_t n_features() const override { return X_.cols; }
  int64_t n_targets() const override { return Y_.cols; }
  bool weighted() const override { return !w_.empty(); }

  DataMagnitudes<T> magnitudes() override {
    detail::check_target_shapes(X_.rows, X_.space, Y_, w_);
    DataMagnitudes<T> mag;
    mag.x = gpulearn::detail::checked_input(be_, X_);
    detail::measure_targets(be_, Y_, w_, mag);
    return mag;
  }

  double weighted_means(T* x_mean, T* y_mean) override {
    double w_sum = 0;
    be_.weighted_means(X_, Y_, w_, x_mean, y_mean, &w_sum);
    return w_sum;
  }

  void centered_gram(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,
                     T* xty) override {
    be_.centered_gram(X_, Y_, w_, x_mean, y_mean, x_scale, y_scale, gram, xty);
  }

  void target_gram(const T* y_mean, T y_scale, T* yty) override {
    // Y in the place of X, with no second operand (k = 0 columns).
    T none = 0;
    be_.centered_gram(Y_, MatrixView<const T>(Y_.data, Y_.rows, 0, 0, Y_.space), w_, y_mean, &none,
                      y_scale, T(1), yty, &none);
  }

  int64_t centered_r_factor(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* r_factor,
                            T* qty) override {
    return be_.centered_r_factor(X_, Y_, w_, x_mean, y_mean, x_scale, y_scale, r_factor, qty);
  }

  bool has_centred_copy() const override { return true; }

  // Host copies (a CUDA context copies X and Y to the host), each entry centred and scaled in
  // double: sqrt(w_i) * ldexp(x_ij - mean_j, exp).
  void centred_copy(const T* x_mean, const T* y_mean, int x_exp, int y_exp, std::vector<double>& xs,
                    std::vector<double>& ys) override {
    const int64_t n = X_.rows;
    std::vector<double> sqrt_w(n, 1.0);
    if (!w_.empty()) {
      const std::vector<T> wh = gpulearn::detail::to_host(be_, w_);  // any stride
      for (int64_t i = 0; i < n; ++i) sqrt_w[i] = std::sqrt(static_cast<double>(wh[i]));
    }
    columns(X_, x_mean, x_exp, sqrt_w, xs);
    columns(Y_, y_mean, y_exp, sqrt_w, ys);
  }

 private:
  void columns(MatrixView<const T> M, const T* mean, int exp, const std::vector<double>& sqrt_w,
               std::vector<double>& out) {
    const int64_t n = M.rows, d = M.cols;
    std::vector<T> host;
    const T* rows = M.data;
    int64_t ld = M.ld;
    if (M.space != MemorySpace::kHost) {
      host = gpulearn::detail::to_host(be_, M);
      rows = host.data();
      ld = d;
    }
    out.assign(checked_mul(n, d), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        const double centred = static_cast<double>(rows[i * ld + j]) - mean[j];
        out[j * n + i] = sqrt_w[i] * std::ldexp(centred, exp);
      }
    }
  }

  Backend& be_;
  MatrixView<const T> X_, Y_;
  VectorView<const T> w_;
};

}  // namespace

template <typename T>
std::unique_ptr<LinearData<T>> local_linear_data(Context& ctx, MatrixView<const T> X,
                                                 MatrixView<const T> Y, VectorView<const T> w) {
  return std::make_unique<LocalLinearData<T>>(ctx, X, Y, w);
}

template std::unique_ptr<LinearData<float>> local_linear_data<float>(Context&,
                                                                     MatrixView<const float>,
                                                                     MatrixView<const float>,
                                                                     VectorView<const float>);
template std::unique_ptr<LinearData<double>> local_linear_data<double>(Context&,
                                                                       MatrixView<const double>,
                                                                       MatrixView<const double>,
                                                                       VectorView<const double>);

}  // namespace gpulearn::linear_model
