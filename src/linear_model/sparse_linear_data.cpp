// LinearData over a sparse X (CSR, gpulearn/core/sparse.hpp): the least-squares and elastic-net
// drivers run unchanged over it. Every pass is a sparse primitive (src/sparse/primitives.hpp) or
// a dense one over Y; centring is implicit: the Gram system of X - 1 m^T is formed from X^T W X,
// the column sums c = X^T w and S = sum w as G - m c^T - c m^T + S m m^T (in double), never by
// subtracting the mean from X. Memory is O(nnz + d^2): the d x d reductions are the only dense
// results, so d is bounded (kSparseMaxGramFeatures). The R factor (the rank-revealing path) is a
// tall-skinny QR over row chunks, each densified (at most max(d, 2^21 / d) rows x d).
// Beyond the bound: the elastic net descends over the entries regrouped by column
// (sparse_columns; O(nnz + n k), any d), and Ridge and LinearRegression run matrix-free
// conjugate gradients (sparse_ridge_fit, sparse_linear_regression_fit; O(nnz + (n + d) k)).
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../sparse/native_csr.hpp"
#include "../sparse/primitives.hpp"
#include "centring.hpp"
#include "data_checks.hpp"
#include "gpulearn/linear_model/linear_data.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "sparse_predict.hpp"

namespace gpulearn::linear_model {

namespace {

using gpulearn::detail::Backend;
using gpulearn::detail::SparsePrimitives;
using gpulearn::detail::to_host;

// Entries of one densified row chunk of the R-factor pass (2^21 T: 16 MiB in double) when d is
// small; with d above 2^10.5 the chunk is d rows (its QR needs at least d rows to reduce).
constexpr int64_t kChunkEntries = int64_t{1} << 21;

void check_width(int64_t d) {
  GPULEARN_EXPECTS(d <= kSparseMaxGramFeatures, "sparse X has ", d,
                   " features: gpulearn's direct least-squares solvers (LinearRegression, Ridge's "
                   "'cholesky') work on the ",
                   d, " x ", d, " Gram matrix, which it forms for sparse X of at most ",
                   kSparseMaxGramFeatures,
                   " features; reduce the features (e.g. feature selection or TruncatedSVD), or "
                   "use Ridge(solver='auto'), 'sparse_cg' or 'lsqr', or LinearRegression "
                   "(conjugate gradients beyond that bound, any number of features)");
}

using gpulearn::detail::NativeCsr;

template <typename T>
class SparseLinearData final : public LinearData<T> {
 public:
  SparseLinearData(Context& ctx, CsrView<T> X, MatrixView<const T> Y, VectorView<const T> w)
      : be_(ctx.backend()), X_(X), X_given_(X), Y_(Y), w_(w) {}

  int64_t n_samples() const override { return X_.rows; }
  int64_t n_features() const override { return X_.cols; }
  int64_t n_targets() const override { return Y_.cols; }
  bool weighted() const override { return !w_.empty(); }

  DataMagnitudes<T> magnitudes() override {
    detail::check_target_shapes(X_.rows, X_.space, Y_, w_);
    gpulearn::detail::require_readable(be_, X_.space, "X");
    if (X_.space == MemorySpace::kHost) check_csr_structure(X_);
    make_native();
    DataMagnitudes<T> mag;
    mag.x = X_.rows == 0 ? T(0) : sparse().max_abs(X_);
    // The dense path's message (checks.hpp, checked_max_abs), for the stored values.
    GPULEARN_EXPECTS(std::isfinite(mag.x), "Input X contains NaN or infinity.");
    detail::measure_targets(be_, Y_, w_, mag);
    return mag;
  }

  double weighted_means(T* x_mean, T* y_mean) override {
    sums();
    for (int64_t j = 0; j < X_.cols; ++j) x_mean[j] = static_cast<T>(col_sums_[j] / w_sum_);
    for (int64_t t = 0; t < Y_.cols; ++t) y_mean[t] = y_mean_[t];
    return w_sum_;
  }

  // Xc^T W Xc = G - m c^T - c m^T + S m m^T and Xc^T W Yc = P - m ty^T - c u^T + S m u^T
  // (G = X^T W X, P = X^T W Y, c = X^T w, ty = Y^T w, S = sum w; m, u the means given), in
  // double, then scaled.
  void centered_gram(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,
                     T* xty) override {
    const int64_t d = X_.cols, k = Y_.cols;
    check_width(d);
    std::vector<double> G(checked_mul(d, d)), P(checked_mul(d, k));
    sparse().gram(X_, w_, G.data());
    sparse().multiply_t(X_, Y_, w_, P.data());
    const bool centred = std::any_of(x_mean, x_mean + d, [](T a) { return a != T(0); }) ||
                         std::any_of(y_mean, y_mean + k, [](T a) { return a != T(0); });
    std::vector<double> c(d, 0.0), ty(k, 0.0);
    double S = 0;
    if (centred) {
      sums();
      c = col_sums_;
      S = w_sum_;
      // Y^T w from Y's weighted means: exact up to the rounding of a mean to T, which the
      // dense path's centring of Y at that mean makes too.
      for (int64_t t = 0; t < k; ++t) ty[t] = static_cast<double>(y_mean_[t]) * S;
    }
    const double xx = static_cast<double>(x_scale) * x_scale;
    const double xy = static_cast<double>(x_scale) * y_scale;
    for (int64_t i = 0; i < d; ++i) {
      const double mi = x_mean[i];
      for (int64_t j = 0; j < d; ++j) {
        const double mj = x_mean[j];
        const double g = G[i * d + j] - mi * c[j] - c[i] * mj + S * mi * mj;
        gram[i * d + j] = static_cast<T>(g * xx);
      }
    }
    centre_xty(x_mean, y_mean, c, ty, S, P);
    for (int64_t i = 0; i < d * k; ++i) xty[i] = static_cast<T>(P[i] * xy);
  }

  bool has_sparse_columns() const override { return true; }

  // The entries regrouped by column on the host (a counting sort: O(nnz) memory and time, rows
  // ascending within each column), each scaled by sqrt(w_i) 2^x_exp in double; Y centred,
  // scaled and weighted as the dense centred copy does it.
  void sparse_columns(const T* x_mean, const T* y_mean, int x_exp, int y_exp,
                      SparseCentredColumns& out) override {
    // X in device memory is copied to the host once: the descent runs there.
    const gpulearn::detail::HostCsr<T> host(be_, X_given_);
    const CsrView<T> X = host.view;
    const int64_t n = X.rows, d = X.cols, k = Y_.cols;
    out.n = n;
    out.d = d;
    out.k = k;
    out.sqrt_w.assign(n, 1.0);
    if (!w_.empty()) {
      const std::vector<T> wh = to_host(be_, w_);
      for (int64_t i = 0; i < n; ++i) out.sqrt_w[i] = std::sqrt(static_cast<double>(wh[i]));
    }
    out.w_sum = 0;
    for (double s : out.sqrt_w) out.w_sum += s * s;
    const int64_t base = n > 0 ? X.indptr[0] : 0;
    const int64_t nnz = n > 0 ? X.indptr[n] - base : 0;
    out.col_ptr.assign(d + 1, 0);
    for (int64_t p = base; p < base + nnz; ++p) ++out.col_ptr[X.indices[p] + 1];
    for (int64_t j = 0; j < d; ++j) out.col_ptr[j + 1] += out.col_ptr[j];
    out.rows.resize(nnz);
    out.values.resize(nnz);
    std::vector<int64_t> next(out.col_ptr.begin(), out.col_ptr.end() - 1);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
        const int64_t q = next[X.indices[p]]++;
        out.rows[q] = i;
        out.values[q] = out.sqrt_w[i] * std::ldexp(static_cast<double>(X.values[p]), x_exp);
      }
    }
    out.mean.resize(d);
    out.col_sum.assign(d, 0.0);
    for (int64_t j = 0; j < d; ++j) {
      out.mean[j] = std::ldexp(static_cast<double>(x_mean[j]), x_exp);
      for (int64_t q = out.col_ptr[j]; q < out.col_ptr[j + 1]; ++q) {
        out.col_sum[j] += out.sqrt_w[out.rows[q]] * out.values[q];
      }
    }
    const std::vector<T> yh = to_host(be_, Y_);
    out.ys.resize(checked_mul(n, k));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t t = 0; t < k; ++t) {
        const double centred = static_cast<double>(yh[i * k + t]) - y_mean[t];
        out.ys[t * n + i] = out.sqrt_w[i] * std::ldexp(centred, y_exp);
      }
    }
  }

  // Ridge by conjugate gradients on (Xc^T W Xc + alpha_t I) v_t = Xc^T W Yc_t, all k targets
  // at once: each iteration is one X V (n x k, native memory) and one X^T W U, the centring
  // applied to the d x k results (Xc^T W Xc V = X^T W X V - c (m.V) - m (c.V) + S m (m.V)).
  // Unscaled, in double on the host (d x k vectors only). Stops target t once its residual is
  // at most tol ||b_t|| (scipy's cg with rtol=tol, atol=0), or after max_iter iterations.
  // coef (k x d), n_iter (k).
  void ridge_cg(const T* x_mean, const T* y_mean, const std::vector<double>& alpha, double tol,
                int64_t max_iter, std::vector<T>& coef, std::vector<int64_t>& n_iter) {
    const int64_t n = X_.rows, d = X_.cols, k = Y_.cols;
    const bool centred = std::any_of(x_mean, x_mean + d, [](T a) { return a != T(0); }) ||
                         std::any_of(y_mean, y_mean + k, [](T a) { return a != T(0); });
    std::vector<double> c(d, 0.0), ty(k, 0.0), m(x_mean, x_mean + d);
    double S = 0;
    if (centred) {
      sums();
      c = col_sums_;
      S = w_sum_;
      for (int64_t t = 0; t < k; ++t) ty[t] = static_cast<double>(y_mean_[t]) * S;
    }
    std::vector<double> b(checked_mul(d, k));
    sparse().multiply_t(X_, Y_, w_, b.data());
    centre_xty(x_mean, y_mean, c, ty, S, b);

    const MemorySpace native = be_.native_space();
    gpulearn::detail::Scratch<T> u(be_, checked_mul(n, k));
    std::vector<T> B(checked_mul(d, k));
    // out = (Xc^T W Xc + alpha) V
    auto apply = [&](const std::vector<double>& V, std::vector<double>& out) {
      for (int64_t i = 0; i < d * k; ++i) B[i] = static_cast<T>(V[i]);
      sparse().multiply(X_, B.data(), k, MatrixView<T>(u.data, n, k, k, native));
      sparse().multiply_t(X_, MatrixView<const T>(u.data, n, k, k, native), w_, out.data());
      for (int64_t t = 0; t < k; ++t) {
        double mv = 0, cv = 0;
        if (centred) {
          for (int64_t j = 0; j < d; ++j) {
            mv += m[j] * V[j * k + t];
            cv += c[j] * V[j * k + t];
          }
        }
        for (int64_t j = 0; j < d; ++j) {
          out[j * k + t] += -c[j] * mv - m[j] * cv + S * m[j] * mv + alpha[t] * V[j * k + t];
        }
      }
    };
    auto dot = [&](const std::vector<double>& a, const std::vector<double>& z, int64_t t) {
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += a[j * k + t] * z[j * k + t];
      return s;
    };
    std::vector<double> x(d * k, 0.0), r(b), p(b), Ap(d * k);
    std::vector<double> rs(k), bound(k);
    std::vector<uint8_t> active(k, 1);
    n_iter.assign(k, 0);
    for (int64_t t = 0; t < k; ++t) {
      rs[t] = dot(r, r, t);
      bound[t] = tol * std::sqrt(rs[t]);
    }
    for (int64_t it = 0; it < max_iter; ++it) {
      bool any = false;
      for (int64_t t = 0; t < k; ++t) {
        if (active[t] && !(std::sqrt(rs[t]) > bound[t])) active[t] = 0;
        if (!active[t]) {  // a finished target's direction is 0: its products cost nothing
          for (int64_t j = 0; j < d; ++j) p[j * k + t] = 0.0;
        }
        any = any || active[t];
      }
      if (!any) break;
      apply(p, Ap);
      for (int64_t t = 0; t < k; ++t) {
        if (!active[t]) continue;
        const double pAp = dot(p, Ap, t);
        if (!(pAp > 0)) {  // breakdown: the system is singular along p (alpha = 0)
          active[t] = 0;
          continue;
        }
        const double a = rs[t] / pAp;
        for (int64_t j = 0; j < d; ++j) {
          x[j * k + t] += a * p[j * k + t];
          r[j * k + t] -= a * Ap[j * k + t];
        }
        const double rs_new = dot(r, r, t);
        const double beta = rs_new / rs[t];
        for (int64_t j = 0; j < d; ++j) p[j * k + t] = r[j * k + t] + beta * p[j * k + t];
        rs[t] = rs_new;
        ++n_iter[t];
      }
    }
    coef.resize(checked_mul(k, d));
    for (int64_t t = 0; t < k; ++t) {
      for (int64_t j = 0; j < d; ++j) coef[t * d + j] = static_cast<T>(x[j * k + t]);
    }
  }

  void target_gram(const T* y_mean, T y_scale, T* yty) override {
    // As the dense data does: Y in the place of X, with no second operand (k = 0 columns).
    T none = 0;
    be_.centered_gram(Y_, MatrixView<const T>(Y_.data, Y_.rows, 0, 0, Y_.space), w_, y_mean, &none,
                      y_scale, T(1), yty, &none);
  }

  // Tall-skinny QR: each chunk of rows densified and reduced by the backend's own centred QR
  // (the dense path's centring, weighting and scaling, applied to the chunk), then stacked
  // under the factor so far and reduced again (zero means, unit scales, no weights).
  int64_t centered_r_factor(const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* r_factor,
                            T* qty) override {
    const int64_t n = X_.rows, d = X_.cols, k = Y_.cols;
    check_width(d);
    const int64_t chunk = std::max<int64_t>(1, std::min(n, std::max(d, kChunkEntries / d)));
    std::vector<T> dense(checked_mul(chunk, d));
    std::vector<int64_t> idx(chunk);
    std::vector<T> R, Z, zeros_d(d, T(0)), zeros_k(k, T(0));
    int64_t ra = 0;
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t cnt = std::min(chunk, n - b);
      std::iota(idx.begin(), idx.begin() + cnt, b);
      sparse().gather_rows(X_, idx.data(), cnt, dense.data());
      const std::vector<T> yh =
          to_host(be_, MatrixView<const T>(Y_.data + b * Y_.ld, cnt, k, Y_.ld, Y_.space));
      std::vector<T> wh;
      VectorView<const T> wv;
      if (!w_.empty()) {
        wh = to_host(be_, VectorView<const T>(w_.data + b * w_.stride, cnt, w_.stride, w_.space));
        wv = VectorView<const T>(wh.data(), cnt);
      }
      const int64_t rc = std::min(cnt, d);
      std::vector<T> Rc(checked_mul(rc, d)), Zc(checked_mul(rc, k));
      be_.centered_r_factor(MatrixView<const T>(dense.data(), cnt, d, d),
                            MatrixView<const T>(yh.data(), cnt, k, k), wv, x_mean, y_mean,
                            x_scale, y_scale, Rc.data(), Zc.data());
      if (ra == 0) {
        R = std::move(Rc);
        Z = std::move(Zc);
        ra = rc;
        continue;
      }
      std::vector<T> SR(R), SZ(Z);
      SR.insert(SR.end(), Rc.begin(), Rc.end());
      SZ.insert(SZ.end(), Zc.begin(), Zc.end());
      const int64_t rs = ra + rc, rn = std::min(rs, d);
      R.assign(checked_mul(rn, d), T(0));
      Z.assign(checked_mul(rn, k), T(0));
      be_.centered_r_factor(MatrixView<const T>(SR.data(), rs, d, d),
                            MatrixView<const T>(SZ.data(), rs, k, k), {}, zeros_d.data(),
                            zeros_k.data(), T(1), T(1), R.data(), Z.data());
      ra = rn;
    }
    std::copy(R.begin(), R.end(), r_factor);
    std::copy(Z.begin(), Z.end(), qty);
    return ra;
  }

 private:
  SparsePrimitives<T>& sparse() { return be_.primitives<SparsePrimitives<T>>(); }

  // P (d x k, X^T W Y) becomes Xc^T W Yc = P - m ty^T - c u^T + S m u^T (m, u the means).
  void centre_xty(const T* x_mean, const T* y_mean, const std::vector<double>& c,
                  const std::vector<double>& ty, double S, std::vector<double>& P) const {
    const int64_t d = X_.cols, k = Y_.cols;
    for (int64_t i = 0; i < d; ++i) {
      const double mi = x_mean[i];
      for (int64_t t = 0; t < k; ++t) {
        const double u = y_mean[t];
        P[i * k + t] += -mi * ty[t] - c[i] * u + S * mi * u;
      }
    }
  }

  // X, Y and w where the backend computes (the sparse primitives read them there): no copy on
  // the CPU; one copy each, once per fit, on a CUDA context given host arrays.
  void make_native() {
    if (native_) return;
    x_native_ = NativeCsr<T>(be_, X_);
    X_ = x_native_.view;
    y_native_ = gpulearn::detail::NativeMatrix<T>(be_, Y_);
    Y_ = y_native_.view;
    if (!w_.empty()) {
      w_native_ = gpulearn::detail::NativeMatrix<T>(be_, w_.as_column());
      const MatrixView<const T> wc = w_native_.view;
      w_ = VectorView<const T>(wc.data, wc.rows, wc.ld, wc.space);
    }
    native_ = true;
  }

  // c = X^T w (double, from the sparse pass), S = sum w and Y's weighted means (the dense pass
  // over Y), once per fit.
  void sums() {
    if (have_sums_) return;
    col_sums_.assign(X_.cols, 0.0);
    sparse().column_sums(X_, w_, col_sums_.data());
    y_mean_.assign(Y_.cols, T(0));
    T none = 0;
    be_.weighted_means(Y_, MatrixView<const T>(Y_.data, Y_.rows, 0, 0, Y_.space), w_,
                       y_mean_.data(), &none, &w_sum_);
    have_sums_ = true;
  }

  Backend& be_;
  CsrView<T> X_, X_given_;  // where the backend computes; as given (sparse_columns' source)
  MatrixView<const T> Y_;
  VectorView<const T> w_;
  bool native_ = false;
  NativeCsr<T> x_native_;
  gpulearn::detail::NativeMatrix<T> y_native_{be_, MatrixView<const T>()};
  gpulearn::detail::NativeMatrix<T> w_native_{be_, MatrixView<const T>()};
  bool have_sums_ = false;
  std::vector<double> col_sums_;
  std::vector<T> y_mean_;
  double w_sum_ = 0;
};

}  // namespace

template <typename T>
std::unique_ptr<LinearData<T>> sparse_linear_data(Context& ctx, CsrView<T> X,
                                                  MatrixView<const T> Y, VectorView<const T> w) {
  return std::make_unique<SparseLinearData<T>>(ctx, X, Y, w);
}

namespace {

// Ridge's "auto" for a sparse X: the Gram system (exact, as the dense solvers) while it is
// cheap, else conjugate gradients (scikit-learn's "auto" for any sparse X). Forming X^T W X
// costs about nnz^2 / n multiply-adds and its Cholesky factor d^3 / 3; an iteration of conjugate
// gradients 2 nnz. The Gram path is taken up to the cost of kAutoCgIterations iterations, always
// up to kAutoGramFeatures features (a few milliseconds at most, and exact), and never past
// kSparseMaxGramFeatures features. (Measured on 10,000 x 2,000 TF-IDF with 5e4
// entries: the Gram path 0.25 s, conjugate gradients 6 ms, scikit-learn's 9-11 ms.) The choice
// depends on the shape and the number of entries alone, so both backends make it alike.
constexpr double kAutoCgIterations = 100;
constexpr int64_t kAutoGramFeatures = 256;

template <typename T>
bool gram_is_cheaper(Backend& be, CsrView<T> X) {
  if (X.cols > kSparseMaxGramFeatures) return false;
  if (X.rows == 0 || X.cols <= kAutoGramFeatures) return true;
  int64_t first = 0, last = 0;  // indptr[0] and indptr[n], wherever X lives
  be.copy(&first, MemorySpace::kHost, X.indptr, X.space, int64_t(sizeof(int64_t)));
  be.copy(&last, MemorySpace::kHost, X.indptr + X.rows, X.space, int64_t(sizeof(int64_t)));
  const double nnz = std::max<double>(1.0, static_cast<double>(last - first));
  const double n = static_cast<double>(X.rows), d = static_cast<double>(X.cols);
  return nnz * nnz / n + d * d * d / 3 <= kAutoCgIterations * 2 * nnz;
}

}  // namespace

template <typename T>
LinearModel<T> sparse_ridge_fit(Context& ctx, const RidgeParams& params, CsrView<T> X,
                                MatrixView<const T> Y, VectorView<const T> w) {
  gpulearn::detail::require_readable(ctx.backend(), X.space, "X");
  const bool iterative =
      params.solver == RidgeSolver::kSparseCg || params.solver == RidgeSolver::kLsqr ||
      (params.solver == RidgeSolver::kAuto &&
       (X.cols > kSparseMaxGramFeatures ||
        (!params.positive && !gram_is_cheaper(ctx.backend(), X))));
  if (!iterative) {
    const auto data = sparse_linear_data(ctx, X, Y, w);
    return ridge_fit(ctx, params, *data);
  }
  if (params.positive) {
    GPULEARN_FAIL(Unsupported, "positive=True is not implemented yet in gpulearn's Ridge; ",
                  "use positive=False");
  }
  const int64_t d = X.cols, k = Y.cols;
  GPULEARN_EXPECTS(params.alpha.size() == 1 || static_cast<int64_t>(params.alpha.size()) == k,
                   "Number of targets and number of penalties do not correspond: ",
                   params.alpha.size(), " != ", k);
  for (double a : params.alpha) {
    GPULEARN_EXPECTS(std::isfinite(a) && a >= 0, "alpha must be a finite number >= 0, got ", a);
  }
  GPULEARN_EXPECTS(std::isfinite(params.tol) && params.tol >= 0,
                   "tol must be a finite number >= 0, got ", params.tol);
  SparseLinearData<T> data(ctx, X, Y, w);
  const detail::Magnitudes<T> mag = detail::check_fit_inputs(data);
  const detail::Centring<T> c = detail::centring(data, params.fit_intercept, mag);
  std::vector<double> alpha(k);
  for (int64_t t = 0; t < k; ++t) {
    alpha[t] = params.alpha.size() == 1 ? params.alpha[0] : params.alpha[t];
  }
  const int64_t max_iter = params.max_iter > 0 ? params.max_iter : checked_mul(d, int64_t{10});
  LinearModel<T> m;
  m.n_features = d;
  m.n_targets = k;
  data.ridge_cg(c.x.data(), c.y.data(), alpha, params.tol, max_iter, m.coef, m.n_iter);
  m.solver = params.solver == RidgeSolver::kLsqr ? "lsqr" : "sparse_cg";
  detail::set_intercept(m, c);
  return m;
}

template <typename T>
LinearModel<T> sparse_linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                            CsrView<T> X, MatrixView<const T> Y,
                                            VectorView<const T> w) {
  if (X.cols <= kSparseMaxGramFeatures || params.positive) {
    const auto data = sparse_linear_data(ctx, X, Y, w);
    return linear_regression_fit(ctx, params, *data);  // refuses positive=True itself
  }
  GPULEARN_EXPECTS(params.tol >= 0 && std::isfinite(params.tol),
                   "tol must be a finite number >= 0, got ", params.tol);
  RidgeParams rp;
  rp.alpha = {0.0};
  rp.fit_intercept = params.fit_intercept;
  rp.solver = RidgeSolver::kSparseCg;
  rp.tol = params.tol > 0 && params.tol < 1 ? params.tol : 1e-6;
  LinearModel<T> m = sparse_ridge_fit(ctx, rp, X, Y, w);
  m.rank = -1;
  m.singular_values.clear();
  return m;
}

namespace detail {

template <typename T>
void sparse_affine_predict(Context& ctx, const T* coef, const T* intercept, int64_t d, int64_t k,
                           CsrView<T> X, MatrixView<T> out) {
  Backend& be = ctx.backend();
  // The dense prediction's checks and messages (checks.hpp, checked_affine).
  GPULEARN_EXPECTS(X.cols == d, "X has ", X.cols, " features, but the model is expecting ", d,
                   " features as input.");
  GPULEARN_EXPECTS(out.rows == X.rows && out.cols == k, "output has shape (", out.rows, ", ",
                   out.cols, "), expected (", X.rows, ", ", k, ")");
  const MemorySpace native = be.native_space();
  GPULEARN_EXPECTS(out.space == MemorySpace::kHost || out.space == native,
                   "the output must be in host memory or where the ", be.device().to_string(),
                   " backend computes");
  gpulearn::detail::require_readable(be, X.space, "X");
  if (X.rows == 0 || k == 0) return;
  auto& sp = be.primitives<gpulearn::detail::SparsePrimitives<T>>();
  const NativeCsr<T> Xn(be, X);  // checks a host X's structure
  // X's finiteness is read by the product itself: a NaN or infinite stored value makes its row's
  // products non-finite (NaN and inf survive a sum of products, and 0 * inf is NaN), so only
  // where an output is not finite is X read again, to tell scikit-learn's error from an overflow.
  auto check_finite = [&](const T* o, int64_t ld) {
    bool finite = true;
    for (int64_t i = 0; i < X.rows; ++i) {
      for (int64_t t = 0; t < k; ++t) finite &= std::isfinite(o[i * ld + t]);
    }
    if (!finite) {
      GPULEARN_EXPECTS(std::isfinite(sp.max_abs(Xn.view)), "Input X contains NaN or infinity.");
    }
  };
  const auto B = gpulearn::detail::transposed(coef, k, d);  // coef^T, d x k
  if (out.space == MemorySpace::kHost && native == MemorySpace::kHost) {
    sp.multiply(Xn.view, B.get(), k, out);
    check_finite(out.data, out.ld);
    for (int64_t i = 0; i < X.rows; ++i) {
      for (int64_t t = 0; t < k; ++t) out.data[i * out.ld + t] += intercept[t];
    }
    return;
  }
  // Elsewhere: the product where the backend computes, the intercept added on the host (n x k:
  // the size of the output, not of X), then written where out lives.
  gpulearn::detail::Scratch<T> prod(be, checked_mul(X.rows, k));
  sp.multiply(Xn.view, B.get(), k, MatrixView<T>(prod.data, X.rows, k, k, native));
  std::vector<T> host = to_host(be, MatrixView<const T>(prod.data, X.rows, k, k, native));
  check_finite(host.data(), k);
  for (int64_t i = 0; i < X.rows; ++i) {
    for (int64_t t = 0; t < k; ++t) host[i * k + t] += intercept[t];
  }
  if (out.ld == k) {
    be.copy(out.data, out.space, host.data(), MemorySpace::kHost, checked_mul(X.rows, k) *
                                                                      int64_t(sizeof(T)));
    return;
  }
  for (int64_t i = 0; i < X.rows; ++i) {
    be.copy(out.data + i * out.ld, out.space, host.data() + i * k, MemorySpace::kHost,
            k * int64_t(sizeof(T)));
  }
}

}  // namespace detail

template <typename T>
void linear_predict(Context& ctx, const LinearModel<T>& model, CsrView<T> X, MatrixView<T> out) {
  if (model.coef.empty() || model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this linear model is not fitted yet: call fit first");
  }
  GPULEARN_EXPECTS(out.space == X.space, "X and the output must be in the same memory space");
  detail::sparse_affine_predict(ctx, model.coef.data(), model.intercept.data(), model.n_features,
                                model.n_targets, X, out);
}

#define GPULEARN_INSTANTIATE(T)                                                                  \
  template std::unique_ptr<LinearData<T>> sparse_linear_data<T>(Context&, CsrView<T>,            \
                                                                MatrixView<const T>,             \
                                                                VectorView<const T>);            \
  template void linear_predict<T>(Context&, const LinearModel<T>&, CsrView<T>, MatrixView<T>);   \
  template void detail::sparse_affine_predict<T>(Context&, const T*, const T*, int64_t, int64_t, \
                                                 CsrView<T>, MatrixView<T>);   \
  template LinearModel<T> sparse_ridge_fit<T>(Context&, const RidgeParams&, CsrView<T>,          \
                                              MatrixView<const T>, VectorView<const T>);         \
  template LinearModel<T> sparse_linear_regression_fit<T>(                                       \
      Context&, const LinearRegressionParams&, CsrView<T>, MatrixView<const T>,                  \
      VectorView<const T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::linear_model
