// The TruncatedSVD driver, written once for every backend, over the spectral core PCA uses.
#include "gpulearn/decomposition/truncated_svd.hpp"

#include <algorithm>
#include <cmath>

#include "../core/checks.hpp"
#include "spectral.hpp"

namespace gpulearn::decomposition {

template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       MatrixView<const T> X) {
  LocalSpectralData<T> data(ctx, X);
  return truncated_svd_fit(ctx, params, data);
}

template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       CsrView<T> X) {
  SparseSpectralData<T> data(ctx, X);
  return truncated_svd_fit(ctx, params, data);
}

template <typename T>
TruncatedSvdModel<T> truncated_svd_fit(Context& ctx, const TruncatedSvdParams& params,
                                       SpectralData<T>& X) {
  GPULEARN_EXPECTS(params.n_iter >= 0, "n_iter must be >= 0, got ", params.n_iter);
  GPULEARN_EXPECTS(params.n_oversamples >= 1, "n_oversamples must be >= 1, got ",
                   params.n_oversamples);
  GPULEARN_EXPECTS(params.tol >= 0 && std::isfinite(params.tol),
                   "tol must be a finite number >= 0, got ", params.tol);
  GPULEARN_EXPECTS(params.n_components >= 1, "n_components must be >= 1, got ",
                   params.n_components);
  GPULEARN_EXPECTS(X.cols() >= 2 || X.rows() == 0, "Found array with ", X.cols(),
                   " feature(s) (shape=(", X.rows(), ", ", X.cols(),
                   ")) while a minimum of 2 is required.");
  const int exp = detail::checked_fit_scale(X, 1);
  detail::Backend& be = ctx.backend();
  const int64_t n = X.rows(), d = X.cols(), k = params.n_components;
  const bool arpack = params.algorithm == TruncatedSvdAlgorithm::kArpack;
  if (arpack) {
    GPULEARN_EXPECTS(k < std::min(n, d), "n_components=", k,
                     " must be strictly less than min(n_samples, n_features)=", std::min(n, d),
                     " with algorithm='arpack'");
  } else {
    GPULEARN_EXPECTS(k <= d, "n_components(", k, ") must be <= n_features(", d, ").");
  }

  detail::Spectrum sp;
  if (arpack) {
    sp = detail::arpack_spectrum<T>(be, X, nullptr, exp, k, params.tol);
  } else {
    detail::RandomizedPlan plan;
    plan.k = k;
    plan.l = k + params.n_oversamples;
    plan.n_iter = params.n_iter;
    plan.start = &params.random_start;
    plan.seed = params.random_state;
    sp = detail::randomized_spectrum<T>(be, X, nullptr, exp, plan);
  }
  // A wide X has at most n singular triplets: the rest are zero, with orthonormal vectors.
  const int64_t found = std::min(k, sp.p);

  TruncatedSvdModel<T> m;
  m.n_features = d;
  m.n_components = k;
  m.components.assign(checked_mul(k, d), T(0));
  std::copy(sp.vt.begin(), sp.vt.begin() + found * d, m.components.begin());
  m.singular_values.assign(k, T(0));
  std::copy(sp.s.begin(), sp.s.begin() + found, m.singular_values.begin());

  // scikit-learn's explained variance: the variance (ddof 0) of each column of X V^T, i.e.
  // v^T Xc^T Xc v / n with Xc centred on the column means, and the ratio to X's total variance.
  const std::vector<T> mean = detail::column_means(X);
  std::vector<T> V(checked_mul(d, k));  // components^T, d x k
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < d; ++i) V[i * k + j] = m.components[j * d + i];
  }
  std::vector<double> H(checked_mul(d, k));
  const T scale = std::ldexp(T(1), exp);
  const double total_sq =
      std::ldexp(X.centered_products(mean.data(), scale, k, V.data(), nullptr, H.data()), -2 * exp);
  const double total_var = total_sq / static_cast<double>(n);
  m.explained_variance.resize(k);
  m.explained_variance_ratio.resize(k);
  for (int64_t j = 0; j < k; ++j) {
    double q = 0;
    for (int64_t i = 0; i < d; ++i)
      q += static_cast<double>(m.components[j * d + i]) * H[i * k + j];
    const double var = std::ldexp(q, -2 * exp) / static_cast<double>(n);
    m.explained_variance[j] = static_cast<T>(var);
    m.explained_variance_ratio[j] = static_cast<T>(var / total_var);
  }
  return m;
}

template <typename T>
void truncated_svd_transform(Context& ctx, const TruncatedSvdModel<T>& model, MatrixView<const T> X,
                             MatrixView<T> out) {
  if (model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this TruncatedSVD model is not fitted yet: call fit first");
  }
  const std::vector<T> zeros(model.n_components, T(0));
  detail::checked_affine(ctx.backend(), X, model.n_features, model.n_components,
                         model.components.data(), zeros.data(), out, "TruncatedSVD");
}

template <typename T>
void truncated_svd_transform(Context& ctx, const TruncatedSvdModel<T>& model, CsrView<T> X,
                             MatrixView<T> out) {
  if (model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this TruncatedSVD model is not fitted yet: call fit first");
  }
  const std::vector<T> zeros(model.n_components, T(0));
  detail::sparse_affine(ctx.backend(), X, model.n_features, model.n_components,
                        model.components.data(), zeros.data(), out, "TruncatedSVD");
}

template <typename T>
void truncated_svd_inverse_transform(Context& ctx, const TruncatedSvdModel<T>& model,
                                     MatrixView<const T> Z, MatrixView<T> out) {
  if (model.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this TruncatedSVD model is not fitted yet: call fit first");
  }
  const int64_t d = model.n_features, k = model.n_components;
  std::vector<T> coef(checked_mul(d, k));
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < d; ++i) coef[i * k + j] = model.components[j * d + i];
  }
  const std::vector<T> zeros(d, T(0));
  detail::checked_affine(ctx.backend(), Z, k, d, coef.data(), zeros.data(), out,
                         "inverse_transform");
}

#define GPULEARN_INSTANTIATE(T)                                                           \
  template TruncatedSvdModel<T> truncated_svd_fit<T>(Context&, const TruncatedSvdParams&, \
                                                     MatrixView<const T>);                \
  template TruncatedSvdModel<T> truncated_svd_fit<T>(Context&, const TruncatedSvdParams&, \
                                                     SpectralData<T>&);                   \
  template TruncatedSvdModel<T> truncated_svd_fit<T>(Context&, const TruncatedSvdParams&, \
                                                     CsrView<T>);                         \
  template void truncated_svd_transform<T>(Context&, const TruncatedSvdModel<T>&,         \
                                           CsrView<T>, MatrixView<T>);                    \
  template void truncated_svd_transform<T>(Context&, const TruncatedSvdModel<T>&,         \
                                           MatrixView<const T>, MatrixView<T>);           \
  template void truncated_svd_inverse_transform<T>(Context&, const TruncatedSvdModel<T>&, \
                                                   MatrixView<const T>, MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::decomposition
