// The least-squares driver, written once for every backend and written over the data's
// reductions (LinearData, linear_data.hpp), so that a single-machine fit and a distributed one
// run the same code: input checks, the choice between the Gram path and the rank-revealing
// path, and the small dense algebra (on ctx's backend) that turns the reductions (d x d, d x k,
// independent of n_samples) into coefficients. The choice depends on reductions only.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/rounding.hpp"
#include "centring.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace gpulearn::linear_model {

namespace {

using detail::Backend;
using detail::centring;
using detail::Centring;
using detail::check_fit_inputs;
using detail::checked_max_abs;
using detail::gram_system;
using detail::Magnitudes;

// The Gram path is taken when the estimated reciprocal condition number of the equilibrated
// matrix D^-1/2 A D^-1/2 (A the regularised Gram matrix, D = diag(A)) is above this: Cholesky's
// forward error is then ~eps / rcond, i.e. ~1e-8 relative in double and ~1e-4 in float.
// Equilibrating makes the test blind to column scales (float32 data whose features span 1 to
// 1e3 stays on the fast path), and a singular A (alpha = 0 with rank-deficient X) is refused.
template <typename T>
constexpr double kGramRcond = std::is_same_v<T, double> ? 1e-8 : 1e-3;

template <typename T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

// Ridge's "svd" solver treats singular values at or below the rounding floor (src/core/
// rounding.hpp) as zero: scipy.linalg.pinv's default, which scikit-learn's absolute 1e-15 stands
// for. An absolute cutoff keeps rounding noise (s ~ 1e-14 s_max in double, 1e-7 in float) when
// alpha = 0 and turns it into huge coefficients.

// Estimates lambda_min / lambda_max of E = S A S, S = diag(A)^-1/2, from A and its Cholesky
// factor L (row-major, lower): power iteration on E for lambda_max, inverse iteration for
// lambda_min (E = (S L)(S L)^T, two triangular solves per step). O(d^2) per step, against the
// O(d^3) of an eigendecomposition. The estimates approach the extreme eigenvalues from inside,
// so the ratio is an upper bound on the true rcond that tightens with each step; a fixed start
// vector keeps fits reproducible.
template <typename T>
double equilibrated_rcond(int64_t d, const std::vector<T>& A, const std::vector<T>& L) {
  constexpr int kSteps = 12;
  std::vector<double> s(d), x(d), y(d);
  for (int64_t j = 0; j < d; ++j) s[j] = 1.0 / std::sqrt(static_cast<double>(A[j * d + j]));
  auto start = [&] {  // a start vector with a component along every eigenvector, in practice
    for (int64_t j = 0; j < d; ++j) x[j] = 1.0 + 0.5 * std::sin(1.0 + 2.0 * j);
  };
  auto normalise = [&](std::vector<double>& v) {
    double n2 = 0;
    for (double a : v) n2 += a * a;
    const double n = std::sqrt(n2);
    for (double& a : v) a /= n;
    return n;
  };
  double lmax = 0;
  start();
  normalise(x);
  for (int step = 0; step < kSteps; ++step) {  // y = E x
    for (int64_t i = 0; i < d; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < d; ++j) acc += static_cast<double>(A[i * d + j]) * s[j] * x[j];
      y[i] = s[i] * acc;
    }
    lmax = normalise(y);
    x.swap(y);
  }
  double inv_lmin = 0;
  start();
  normalise(x);
  for (int step = 0; step < kSteps; ++step) {  // y = E^-1 x: (S L) z = x, then (S L)^T y = z
    for (int64_t i = 0; i < d; ++i) {
      double acc = x[i];
      for (int64_t j = 0; j < i; ++j) acc -= s[i] * static_cast<double>(L[i * d + j]) * y[j];
      y[i] = acc / (s[i] * static_cast<double>(L[i * d + i]));
    }
    for (int64_t i = d - 1; i >= 0; --i) {
      double acc = y[i];
      for (int64_t j = i + 1; j < d; ++j) acc -= s[j] * static_cast<double>(L[j * d + i]) * y[j];
      y[i] = acc / (s[i] * static_cast<double>(L[i * d + i]));
    }
    inv_lmin = normalise(y);
    x.swap(y);
  }
  return std::isfinite(inv_lmin) && lmax > 0 ? 1.0 / (inv_lmin * lmax) : 0.0;
}

// The centred, scaled Gram system G (d x d) and B (d x k); a non-finite entry means the scaled
// data still overflowed, which only absurd inputs reach.
template <typename T>
bool cholesky_coef(Backend& be, int64_t d, int64_t k, const std::vector<T>& G,
                   const std::vector<T>& B, double alpha, std::vector<T>& coef) {
  std::vector<T> A(G), C(B);
  for (int64_t j = 0; j < d; ++j) A[j * d + j] += static_cast<T>(alpha);
  std::vector<T> L(A);
  if (!be.cholesky_solve(d, L.data(), k, C.data()) ||
      !(equilibrated_rcond(d, A, L) > kGramRcond<T>)) {
    return false;
  }
  coef.resize(k * d);
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t t = 0; t < k; ++t) coef[t * d + j] = C[j * k + t];
  }
  return true;
}

// The small dense results of one fit, kept in double on the host.
using DMatrix = std::vector<double>;

// coef (k x d) = sum over spectral components i of f_i(alpha_t) * v_i (v_i . b_t):
// one formula for the eigenvector form (v_i eigenvectors, proj = V^T B) and the SVD form
// (v_i right singular vectors, proj = U^T Z), with the filter factor per component and target.
template <typename T, typename Filter>
std::vector<T> spectral_solve(int64_t d, int64_t k, int64_t p, const DMatrix& V /* d x p */,
                              const DMatrix& proj /* p x k */, Filter filter) {
  std::vector<T> coef(d * k);
  for (int64_t t = 0; t < k; ++t) {
    std::vector<double> acc(d, 0.0);
    for (int64_t i = 0; i < p; ++i) {
      const double c = filter(i, t) * proj[i * k + t];
      if (c == 0.0) continue;
      for (int64_t j = 0; j < d; ++j) acc[j] += V[j * p + i] * c;
    }
    for (int64_t j = 0; j < d; ++j) coef[t * d + j] = static_cast<T>(acc[j]);
  }
  return coef;
}

template <typename T>
DMatrix to_double(const std::vector<T>& v) {
  return DMatrix(v.begin(), v.end());
}

// A^T B for row-major A (m x p) and B (m x k), in double.
template <typename U>
DMatrix transpose_times(int64_t m, int64_t p, int64_t k, const DMatrix& A,
                        const std::vector<U>& B) {
  DMatrix out(p * k, 0.0);
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t i = 0; i < p; ++i) {
      const double a = A[j * p + i];
      for (int64_t t = 0; t < k; ++t) out[i * k + t] += a * B[j * k + t];
    }
  }
  return out;
}

// The rank-revealing reduction: R (r x d) and Z = Q^T Y (r x k) from a chunked QR of the
// centred data, then R = U S V^T. Returns singular values s (p), V (d x p) and U^T Z (p x k).
template <typename T>
struct SvdSystem {
  int64_t p = 0;
  std::vector<T> s;
  DMatrix V, utz;
};

template <typename T>
SvdSystem<T> svd_system(Backend& be, LinearData<T>& data, const Centring<T>& c) {
  const int64_t d = data.n_features(), k = data.n_targets();
  const int64_t r_max = std::min(data.n_samples(), d);
  std::vector<T> R(checked_mul(r_max, d)), Z(checked_mul(r_max, k));
  const int64_t r =
      data.centered_r_factor(c.x.data(), c.y.data(), c.x_scale(), c.y_scale(), R.data(), Z.data());
  GPULEARN_ASSERT(r == r_max);
  SvdSystem<T> sys;
  sys.p = std::min(r, d);
  std::vector<T> U(r * sys.p), Vt(sys.p * d);
  sys.s.resize(sys.p);
  be.svd(r, d, R.data(), U.data(), sys.s.data(), Vt.data());
  sys.V.assign(d * sys.p, 0.0);
  for (int64_t i = 0; i < sys.p; ++i) {
    for (int64_t j = 0; j < d; ++j) sys.V[j * sys.p + i] = Vt[i * d + j];
  }
  sys.utz = transpose_times(r, sys.p, k, to_double(U), Z);
  return sys;
}

// Maps the scaled problem's results back (see Centring) and sets the intercept from the means.
template <typename T>
void finish(LinearModel<T>& m, const Centring<T>& c) {
  for (T& v : m.coef) v = std::ldexp(v, c.x_exp - c.y_exp);
  for (T& s : m.singular_values) s = std::ldexp(s, -c.x_exp);
  detail::set_intercept(m, c);
}

}  // namespace

template <typename T>
LinearModel<T> linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                     LinearData<T>& data) {
  if (params.positive) {
    GPULEARN_FAIL(Unsupported, "positive=True is not implemented yet in gpulearn's ",
                  "LinearRegression; use positive=False");
  }
  GPULEARN_EXPECTS(params.tol >= 0 && std::isfinite(params.tol),
                   "tol must be a finite number >= 0, got ", params.tol);
  const Magnitudes<T> mag = check_fit_inputs(data);
  Backend& be = ctx.backend();
  const int64_t n = data.n_samples(), d = data.n_features(), k = data.n_targets();
  const Centring<T> c = centring(data, params.fit_intercept, mag);
  // scipy.linalg.lstsq's cond, as LAPACK's gelsd reads it: outside (0, 1), machine epsilon.
  const double rcond = params.tol > 0 && params.tol < 1 ? params.tol : kEps<T>;

  LinearModel<T> m;
  m.n_features = d;
  m.n_targets = k;

  // Gram path, for tall X whose spectrum lstsq would keep whole (lambda_min > rcond^2
  // lambda_max) and whose Gram matrix Cholesky accepts. The eigenvalues give singular_.
  if (n > d) {
    std::vector<T> G, B;
    gram_system(data, c, G, B);
    std::vector<T> lam(d);  // eigenvalues only (G is left as it is): the tol test, singular_
    be.symmetric_eigh(d, G.data(), lam.data(), /*vectors=*/false);
    const double lmax = lam[d - 1], lmin = lam[0];
    if (lmax > 0 && lmin > rcond * rcond * lmax && cholesky_coef(be, d, k, G, B, 0.0, m.coef)) {
      m.rank = d;
      m.singular_values.resize(d);
      for (int64_t i = 0; i < d; ++i) m.singular_values[i] = std::sqrt(lam[d - 1 - i]);
      m.solver = "cholesky";
      finish(m, c);
      return m;
    }
  }

  // Rank-revealing path: the minimum-norm solution, singular values at or below rcond * s_max
  // dropped, as scipy.linalg.lstsq(cond=tol) does for scikit-learn; but never below the
  // rounding floor eps * max(r, d) * s_max (pinv's default, src/core/rounding.hpp). Under that
  // floor a singular value is rounding noise: an exactly repeated column leaves
  // s ~ 1e-16..1e-14 s_max depending on the QR's summation order, and lstsq's rank at
  // cond = eps is a coin toss there (scikit-learn, one duplicated column, 40 seeds: rank 7
  // instead of 6 in 9 to 23 of them).
  // Both backends report the numerical rank instead, and keep noise out of coef.
  const SvdSystem<T> sys = svd_system(be, data, c);
  const double s_max = sys.p > 0 ? static_cast<double>(sys.s[0]) : 0.0;
  const double cutoff =
      std::max(rcond * s_max, gpulearn::detail::svd_rounding_floor<T>(sys.p, d, s_max));
  m.rank = 0;
  for (int64_t i = 0; i < sys.p; ++i) m.rank += sys.s[i] > cutoff ? 1 : 0;
  m.coef = spectral_solve<T>(d, k, sys.p, sys.V, sys.utz, [&](int64_t i, int64_t) {
    return sys.s[i] > cutoff ? 1.0 / sys.s[i] : 0.0;
  });
  m.singular_values = sys.s;
  m.solver = "svd";
  finish(m, c);
  return m;
}

template <typename T>
LinearModel<T> ridge_fit(Context& ctx, const RidgeParams& params, LinearData<T>& data) {
  if (params.positive) {
    GPULEARN_FAIL(Unsupported, "positive=True is not implemented yet in gpulearn's Ridge; ",
                  "use positive=False");
  }
  if (params.solver == RidgeSolver::kSparseCg || params.solver == RidgeSolver::kLsqr) {
    GPULEARN_FAIL(Unsupported, "Ridge's iterative solvers ('sparse_cg', 'lsqr') are ",
                  "implemented for sparse X only (sparse_ridge_fit); use 'auto', 'cholesky' or ",
                  "'svd'");
  }
  const int64_t n = data.n_samples(), d = data.n_features(), k = data.n_targets();
  GPULEARN_EXPECTS(params.alpha.size() == 1 || static_cast<int64_t>(params.alpha.size()) == k,
                   "Number of targets and number of penalties do not correspond: ",
                   params.alpha.size(), " != ", k);
  for (double a : params.alpha) {
    GPULEARN_EXPECTS(std::isfinite(a) && a >= 0, "alpha must be a finite number >= 0, got ", a);
  }
  const Magnitudes<T> mag = check_fit_inputs(data);
  Backend& be = ctx.backend();
  const Centring<T> c = centring(data, params.fit_intercept, mag);
  // The penalty of the scaled problem (see Centring); it may overflow to +inf for absurd
  // alphas, which every path below maps to coef = 0, the limit.
  auto alpha = [&](int64_t t) {
    return std::ldexp(params.alpha.size() == 1 ? params.alpha[0] : params.alpha[t], 2 * c.x_exp);
  };
  const bool one_alpha = std::all_of(params.alpha.begin(), params.alpha.end(),
                                     [&](double a) { return a == params.alpha[0]; });

  LinearModel<T> m;
  m.n_features = d;
  m.n_targets = k;

  // Wide X (n <= d) skips the d x d Gram matrix: the QR reduction is n x d.
  if (params.solver != RidgeSolver::kSvd && n > d) {
    std::vector<T> G, B;
    gram_system(data, c, G, B);
    if (one_alpha && cholesky_coef(be, d, k, G, B, alpha(0), m.coef)) {
      m.solver = "cholesky";
    } else {
      // The spectrum decides: one eigendecomposition serves every target's alpha.
      std::vector<T> lam(d);
      be.symmetric_eigh(d, G.data(), lam.data(), /*vectors=*/true);
      const double lmax = std::max(0.0, static_cast<double>(lam[d - 1]));
      bool ok = true;
      for (int64_t t = 0; t < k; ++t) {
        ok = ok && lam[0] + alpha(t) > kGramRcond<T> * (lmax + alpha(t));
      }
      if (ok) {
        const DMatrix V = to_double(G);
        const DMatrix proj = transpose_times(d, d, k, V, B);
        m.coef = spectral_solve<T>(d, k, d, V, proj, [&](int64_t i, int64_t t) {
          return 1.0 / (static_cast<double>(lam[i]) + alpha(t));
        });
        m.solver = "eigh";
      }
    }
  }
  if (m.solver.empty()) {
    // solver="svd", wide X, or a singular Gram system (alpha = 0 with rank-deficient X):
    // scikit-learn falls back to its SVD solver there too.
    const SvdSystem<T> sys = svd_system(be, data, c);
    const double cutoff =
        gpulearn::detail::svd_rounding_floor<T>(sys.p, d, sys.p > 0 ? sys.s[0] : 0.0);
    m.coef = spectral_solve<T>(d, k, sys.p, sys.V, sys.utz, [&](int64_t i, int64_t t) {
      const double s = sys.s[i];
      return s > cutoff ? s / (s * s + alpha(t)) : 0.0;
    });
    m.solver = "svd";
  }
  finish(m, c);
  return m;
}

template <typename T>
LinearModel<T> linear_regression_fit(Context& ctx, const LinearRegressionParams& params,
                                     MatrixView<const T> X, MatrixView<const T> Y,
                                     VectorView<const T> w) {
  const auto data = local_linear_data(ctx, X, Y, w);
  return linear_regression_fit(ctx, params, *data);
}

template <typename T>
LinearModel<T> ridge_fit(Context& ctx, const RidgeParams& params, MatrixView<const T> X,
                         MatrixView<const T> Y, VectorView<const T> w) {
  const auto data = local_linear_data(ctx, X, Y, w);
  return ridge_fit(ctx, params, *data);
}

template <typename T>
void linear_predict(Context& ctx, const LinearModel<T>& model, MatrixView<const T> X,
                    MatrixView<T> out) {
  if (model.coef.empty() || model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this linear model is not fitted yet: call fit first");
  }
  gpulearn::detail::checked_affine(ctx.backend(), X, model.n_features, model.n_targets,
                                   model.coef.data(), model.intercept.data(), out, "the model");
}

#define GPULEARN_INSTANTIATE(T)                                                              \
  template LinearModel<T> linear_regression_fit<T>(Context&, const LinearRegressionParams&,  \
                                                   MatrixView<const T>, MatrixView<const T>, \
                                                   VectorView<const T>);                     \
  template LinearModel<T> ridge_fit<T>(Context&, const RidgeParams&, MatrixView<const T>,    \
                                       MatrixView<const T>, VectorView<const T>);            \
  template LinearModel<T> linear_regression_fit<T>(Context&, const LinearRegressionParams&,  \
                                                   LinearData<T>&);                          \
  template LinearModel<T> ridge_fit<T>(Context&, const RidgeParams&, LinearData<T>&);        \
  template void linear_predict<T>(Context&, const LinearModel<T>&, MatrixView<const T>,      \
                                  MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::linear_model
