// The PCA driver, written once for every backend: parameter checks, scikit-learn's choice of
// solver and of n_components, and the model algebra (d x d at most) on the host in double.
#include "gpulearn/decomposition/pca.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "../cluster/primitives.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../core/rounding.hpp"
#include "spectral.hpp"

namespace gpulearn::decomposition {

namespace {

using detail::Backend;
using detail::Spectrum;
using Kind = NComponents::Kind;

const char* solver_name(PcaSolver s) {
  switch (s) {
    case PcaSolver::kFull:
      return "full";
    case PcaSolver::kCovarianceEigh:
      return "covariance_eigh";
    case PcaSolver::kRandomized:
      return "randomized";
    case PcaSolver::kArpack:
      return "arpack";
    case PcaSolver::kAuto:
      break;
  }
  return "auto";
}

}  // namespace

// scikit-learn's automatic choice (PCA._fit, scikit-learn >= 1.5).
PcaSolver pca_resolve_solver(const PcaParams& p, int64_t n, int64_t d) {
  if (p.svd_solver != PcaSolver::kAuto) return p.svd_solver;
  const int64_t m = std::min(n, d);
  if (d <= 1000 && n >= 10 * d) return PcaSolver::kCovarianceEigh;
  if (std::max(n, d) <= 500 || p.n_components.kind == Kind::kMle) return PcaSolver::kFull;
  const NComponents& c = p.n_components;
  const double k = c.kind == Kind::kCount ? static_cast<double>(c.count)
                   : c.kind == Kind::kAll ? static_cast<double>(m)
                                          : c.fraction;
  if (c.kind != Kind::kMle && 1 <= k && k < 0.8 * static_cast<double>(m)) {
    return PcaSolver::kRandomized;
  }
  return PcaSolver::kFull;
}

namespace {

// Minka's log-likelihood of a rank-`rank` model of the spectrum (scikit-learn's
// _assess_dimension), in double.
double assess_dimension(const std::vector<double>& spectrum, int64_t rank, int64_t n_samples) {
  const int64_t nf = static_cast<int64_t>(spectrum.size());
  constexpr double kEps = 1e-15;
  const double pi = 3.14159265358979323846, n = static_cast<double>(n_samples);
  if (spectrum[rank - 1] < kEps) return -std::numeric_limits<double>::infinity();
  double pu = -static_cast<double>(rank) * std::log(2.0);
  for (int64_t i = 1; i <= rank; ++i) {
    const double h = static_cast<double>(nf - i + 1) / 2.0;
    pu += std::lgamma(h) - std::log(pi) * h;
  }
  double pl = 0;
  for (int64_t i = 0; i < rank; ++i) pl += std::log(spectrum[i]);
  pl = -pl * n / 2.0;
  double rest = 0;
  for (int64_t i = rank; i < nf; ++i) rest += spectrum[i];
  const double v = std::max(kEps, rest / static_cast<double>(nf - rank));
  const double pv = -std::log(v) * n * static_cast<double>(nf - rank) / 2.0;
  const double r = static_cast<double>(rank);
  const double m = static_cast<double>(nf) * r - r * (r + 1.0) / 2.0;
  const double pp = std::log(2.0 * pi) * (m + r) / 2.0;
  double pa = 0;
  for (int64_t i = 0; i < rank; ++i) {
    for (int64_t j = i + 1; j < nf; ++j) {
      const double sj = j < rank ? spectrum[j] : v;  // the spectrum beyond the rank is v
      pa += std::log((spectrum[i] - spectrum[j]) * (1.0 / sj - 1.0 / spectrum[i])) + std::log(n);
    }
  }
  return pu + pl + pv + pp - pa / 2.0 - r * std::log(n) / 2.0;
}

// The rank in [1, size - 1] maximising assess_dimension (the first of equal maxima).
int64_t infer_dimension(const std::vector<double>& spectrum, int64_t n_samples) {
  int64_t best = 0;
  double best_ll = -std::numeric_limits<double>::infinity();
  for (int64_t rank = 1; rank < static_cast<int64_t>(spectrum.size()); ++rank) {
    const double ll = assess_dimension(spectrum, rank, n_samples);
    if (ll > best_ll) {
      best_ll = ll;
      best = rank;
    }
  }
  return best;
}

// Checks n_components against the data for the exact solvers; returns it, resolved, once the
// spectrum (explained variances, descending; ratio alongside) is known.
int64_t exact_n_components(const NComponents& c, const std::vector<double>& ev,
                           const std::vector<double>& ratio, int64_t n) {
  const int64_t p = static_cast<int64_t>(ev.size());
  switch (c.kind) {
    case Kind::kAll:
      return std::min(n, p);
    case Kind::kCount:
      return c.count;
    case Kind::kMle:
      return infer_dimension(ev, n);
    case Kind::kVarianceFraction: {
      // The fewest leading components whose cumulative ratio exceeds the fraction
      // (searchsorted(cumsum, fraction, side="right") + 1).
      double cum = 0;
      int64_t k = 0;
      while (k < p && !(cum + ratio[k] > c.fraction)) cum += ratio[k++];
      return std::min(k + 1, p);
    }
  }
  return 0;
}

void check_params(const PcaParams& p) {
  const NComponents& c = p.n_components;
  GPULEARN_EXPECTS(c.kind != Kind::kCount || c.count >= 0, "n_components must be >= 0, got ",
                   c.count);
  GPULEARN_EXPECTS(c.kind != Kind::kVarianceFraction || (c.fraction > 0 && c.fraction < 1),
                   "n_components as a float must be in (0, 1), got ", c.fraction);
  GPULEARN_EXPECTS(p.tol >= 0 && std::isfinite(p.tol), "tol must be a finite number >= 0, got ",
                   p.tol);
  GPULEARN_EXPECTS(p.iterated_power >= -1, "iterated_power must be >= 0 or -1 (auto), got ",
                   p.iterated_power);
  GPULEARN_EXPECTS(p.n_oversamples >= 1, "n_oversamples must be >= 1, got ", p.n_oversamples);
}

std::string describe(const NComponents& c) {
  switch (c.kind) {
    case Kind::kAll:
      return "None";
    case Kind::kCount:
      return std::to_string(c.count);
    case Kind::kVarianceFraction: {
      std::ostringstream os;  // as Python prints it: 0.5, not 0.500000
      os << c.fraction;
      return os.str();
    }
    case Kind::kMle:
      return "'mle'";
  }
  return "";
}

template <typename T>
void set_model(PcaModel<T>& m, const Spectrum& sp, int64_t k, int64_t d,
               const std::vector<double>& ev, double total_var) {
  m.n_components = k;
  m.components.assign(sp.vt.begin(), sp.vt.begin() + k * d);
  m.explained_variance.assign(ev.begin(), ev.begin() + k);
  m.explained_variance_ratio.resize(k);
  for (int64_t i = 0; i < k; ++i) m.explained_variance_ratio[i] = static_cast<T>(ev[i] / total_var);
  m.singular_values.assign(sp.s.begin(), sp.s.begin() + k);
}

// The variance the components after the first k of an exact spectrum of n x d data explain, in
// sum. Singular values under the rounding floor count as zero (src/core/rounding.hpp): data of
// rank k has no noise variance, whether its SVD returned the rest as 0 or as a few eps * s_max
// (measured on wide float32 data of rank n - 1: exactly 0 on the CPU, 1e-7 s_max on the
// emulated GPU, which made get_precision refuse on one backend and return 1e13-sized entries
// on the other).
template <typename T>
double dropped_variance(const Spectrum& sp, int64_t k, int64_t n, int64_t d) {
  const double floor = detail::svd_rounding_floor<T>(n, d, sp.p > 0 ? sp.s[0] : 0.0);
  double rest = 0;
  for (int64_t i = k; i < sp.p; ++i) {
    if (sp.s[i] > floor) rest += sp.s[i] * sp.s[i] / static_cast<double>(n - 1);
  }
  return rest;
}

// The model's covariance in double (scikit-learn's get_covariance): W^T diag(max(ev - noise, 0))
// W + noise I, W the components (times sqrt(ev) when whitening, as scikit-learn does).
template <typename T>
std::vector<double> covariance(const PcaModel<T>& m, std::vector<double>* w_out = nullptr,
                               std::vector<double>* diff_out = nullptr) {
  const int64_t d = m.n_features, k = m.n_components;
  std::vector<double> W(m.components.begin(), m.components.end()), diff(k);
  for (int64_t j = 0; j < k; ++j) {
    const double ev = m.explained_variance[j];
    if (m.whiten) {
      for (int64_t i = 0; i < d; ++i) W[j * d + i] *= std::sqrt(ev);
    }
    diff[j] = ev > m.noise_variance ? ev - m.noise_variance : 0.0;
  }
  std::vector<double> cov(checked_mul(d, d), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t a = 0; a < d; ++a) {
      const double wa = W[j * d + a] * diff[j];
      if (wa == 0.0) continue;
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] += wa * W[j * d + b];
    }
  }
  for (int64_t a = 0; a < d; ++a) cov[a * d + a] += m.noise_variance;
  if (w_out) *w_out = std::move(W);
  if (diff_out) *diff_out = std::move(diff);
  return cov;
}

// The inverse of the symmetric positive definite a (n x n) through the backend's Cholesky.
std::vector<double> spd_inverse(Backend& be, int64_t n, std::vector<double> a, const char* what) {
  std::vector<double> inv(checked_mul(n, n), 0.0);
  for (int64_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  GPULEARN_EXPECTS(be.cholesky_solve(n, a.data(), n, inv.data()), "the ", what,
                   " is singular or not positive definite: the PCA model has no precision");
  return inv;
}

template <typename T>
void check_fitted(const PcaModel<T>& m) {
  if (m.n_features <= 0) {
    GPULEARN_FAIL(NotFitted, "this PCA model is not fitted yet: call fit first");
  }
}

// The precision in double (scikit-learn's get_precision, by the matrix inversion lemma).
template <typename T>
std::vector<double> precision(Backend& be, const PcaModel<T>& m) {
  const int64_t d = m.n_features, k = m.n_components;
  const double s2 = m.noise_variance;
  // With no noise and fewer components than features the covariance has rank k < d by
  // construction: singular, whatever its Cholesky factorisation's rounding would say.
  GPULEARN_EXPECTS(s2 != 0.0 || k >= d, "the covariance is singular (noise_variance_ is 0 with ", k,
                   " components of ", d,
                   " features): the PCA model has no precision and no likelihood");
  if (s2 == 0.0) return spd_inverse(be, d, covariance(m), "covariance");
  std::vector<double> P(checked_mul(d, d), 0.0);
  if (k > 0) {
    std::vector<double> W, diff;
    covariance(m, &W, &diff);
    // Components whose variance does not exceed the noise add nothing to the covariance
    // (1 / diff is infinite): the lemma runs over the others.
    std::vector<int64_t> keep;
    for (int64_t j = 0; j < k; ++j) {
      if (diff[j] > 0) keep.push_back(j);
    }
    const int64_t r = static_cast<int64_t>(keep.size());
    std::vector<double> M(checked_mul(r, r), 0.0);
    for (int64_t a = 0; a < r; ++a) {
      for (int64_t b = 0; b < r; ++b) {
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += W[keep[a] * d + i] * W[keep[b] * d + i];
        M[a * r + b] = dot / s2 + (a == b ? 1.0 / diff[keep[a]] : 0.0);
      }
    }
    const std::vector<double> Minv =
        r > 0 ? spd_inverse(be, r, M, "precision's core matrix") : std::vector<double>();
    std::vector<double> MW(checked_mul(r, d), 0.0);  // Minv W_keep
    for (int64_t a = 0; a < r; ++a) {
      for (int64_t b = 0; b < r; ++b) {
        for (int64_t i = 0; i < d; ++i) MW[a * d + i] += Minv[a * r + b] * W[keep[b] * d + i];
      }
    }
    for (int64_t a = 0; a < r; ++a) {
      for (int64_t i = 0; i < d; ++i) {
        const double wi = W[keep[a] * d + i] / -(s2 * s2);
        for (int64_t j = 0; j < d; ++j) P[i * d + j] += wi * MW[a * d + j];
      }
    }
  }
  for (int64_t i = 0; i < d; ++i) P[i * d + i] += 1.0 / s2;
  return P;
}

template <typename T>
std::vector<T> to_t(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace

template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, MatrixView<const T> X) {
  LocalSpectralData<T> data(ctx, X);
  return pca_fit(ctx, params, data);
}

template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, CsrView<T> X) {
  SparseSpectralData<T> data(ctx, X);
  return pca_fit(ctx, params, data);
}

template <typename T>
PcaModel<T> pca_fit(Context& ctx, const PcaParams& params, SpectralData<T>& X) {
  check_params(params);
  // scikit-learn's rule for sparse input: "arpack" or "covariance_eigh" ("auto" is "arpack").
  const bool sparse = X.sparse();
  GPULEARN_EXPECTS(!sparse || params.svd_solver == PcaSolver::kAuto ||
                       params.svd_solver == PcaSolver::kArpack ||
                       params.svd_solver == PcaSolver::kCovarianceEigh,
                   "PCA only support sparse inputs with the \"arpack\" and \"covariance_eigh\" "
                   "solvers, while \"",
                   solver_name(params.svd_solver),
                   "\" was passed. See TruncatedSVD for a possible alternative.");
  const int exp = detail::checked_fit_scale(X, 2);
  Backend& be = ctx.backend();
  const int64_t n = X.rows(), d = X.cols(), mn = std::min(n, d);
  const NComponents& c = params.n_components;
  const PcaSolver solver = sparse && params.svd_solver == PcaSolver::kAuto
                               ? PcaSolver::kArpack
                               : pca_resolve_solver(params, n, d);
  const char* name = solver_name(solver);

  PcaModel<T> m;
  m.n_features = d;
  m.n_samples = n;
  m.whiten = params.whiten;
  m.solver = name;

  if (solver == PcaSolver::kFull || solver == PcaSolver::kCovarianceEigh) {
    GPULEARN_EXPECTS(c.kind != Kind::kMle || n >= d,
                     "n_components='mle' is only supported if n_samples >= n_features");
    GPULEARN_EXPECTS(c.kind != Kind::kCount || c.count <= mn, "n_components=", c.count,
                     " must be between 0 and min(n_samples, n_features)=", mn, " with svd_solver='",
                     name, "'");
    m.mean = detail::column_means(X);
    const Spectrum sp = solver == PcaSolver::kFull
                            ? detail::exact_spectrum(be, X, m.mean.data(), exp)
                            : detail::gram_spectrum(be, X, m.mean.data(), exp);
    std::vector<double> ev(sp.p), ratio(sp.p);
    for (int64_t i = 0; i < sp.p; ++i) ev[i] = sp.s[i] * sp.s[i] / static_cast<double>(n - 1);
    const double total = std::accumulate(ev.begin(), ev.end(), 0.0);
    for (int64_t i = 0; i < sp.p; ++i) ratio[i] = ev[i] / total;
    const int64_t k = exact_n_components(c, ev, ratio, n);
    m.noise_variance = 0;
    if (k < mn) {
      m.noise_variance =
          solver == PcaSolver::kFull
              ? dropped_variance<T>(sp, k, n, d) / static_cast<double>(sp.p - k)
              : std::accumulate(ev.begin() + k, ev.end(), 0.0) / static_cast<double>(sp.p - k);
    }
    set_model(m, sp, k, d, ev, total);
    return m;
  }

  // The truncated solvers: arpack (run exactly) and randomized.
  GPULEARN_EXPECTS(c.kind != Kind::kMle, "n_components='mle' cannot be a string with ",
                   "svd_solver='", name, "'");
  const int64_t k = c.kind == Kind::kAll ? (solver == PcaSolver::kArpack ? mn - 1 : mn) : c.count;
  GPULEARN_EXPECTS(
      c.kind != Kind::kVarianceFraction && k >= 1 && k <= mn, "n_components=", describe(c),
      " must be between 1 and min(n_samples, n_features)=", mn, " with svd_solver='", name, "'");
  GPULEARN_EXPECTS(solver != PcaSolver::kArpack || k < mn, "n_components=", k,
                   " must be strictly less than min(n_samples, n_features)=", mn,
                   " with svd_solver='arpack'");
  m.mean = detail::column_means(X);
  Spectrum sp;
  double total_sq = 0;
  if (solver == PcaSolver::kArpack) {
    sp = detail::arpack_spectrum(be, X, m.mean.data(), exp, k, params.tol);
    if (sp.total_sq >= 0) {
      total_sq = sp.total_sq;  // iterated: only k triplets, the total measured by the products
    } else {
      for (double s : sp.s) total_sq += s * s;
    }
  } else {
    detail::RandomizedPlan plan;
    plan.k = k;
    plan.l = k + params.n_oversamples;
    plan.n_iter = params.iterated_power >= 0          ? params.iterated_power
                  : k < 0.1 * static_cast<double>(mn) ? 7
                                                      : 4;
    plan.start = &params.random_start;
    plan.seed = params.random_state;
    sp = detail::randomized_spectrum(be, X, m.mean.data(), exp, plan);
    total_sq = sp.total_sq;
  }
  if (!sp.us.empty()) m.fit_transform_components.assign(sp.us.begin(), sp.us.begin() + k * d);
  std::vector<double> ev(k);
  for (int64_t i = 0; i < k; ++i) ev[i] = sp.s[i] * sp.s[i] / static_cast<double>(n - 1);
  const double total = total_sq / static_cast<double>(n - 1);
  // The variance left over: the dropped spectrum's mean where the solver has it (arpack runs
  // the exact one), else the difference, whose rounding can leave a tiny negative residue where
  // the kept components explain everything; a variance is never negative.
  m.noise_variance = 0;
  if (k < mn) {
    double rest = total - std::accumulate(ev.begin(), ev.end(), 0.0);
    if (solver == PcaSolver::kArpack && sp.p >= mn) rest = dropped_variance<T>(sp, k, n, d);
    m.noise_variance = std::max(0.0, rest) / static_cast<double>(mn - k);
  }
  set_model(m, sp, k, d, ev, total);
  return m;
}

namespace {

// transform's affine map: coef (k x d) = components / scale, intercept (k) = -coef mean.
template <typename T>
void pca_affine(const PcaModel<T>& model, std::vector<T>& coef, std::vector<T>& intercept) {
  const int64_t d = model.n_features, k = model.n_components;
  coef.resize(checked_mul(k, d));
  intercept.resize(k);
  for (int64_t j = 0; j < k; ++j) {
    double scale = 1;
    if (model.whiten) {  // scikit-learn clips the scale below at machine epsilon
      scale = std::max<double>(std::sqrt(static_cast<double>(model.explained_variance[j])),
                               std::numeric_limits<T>::epsilon());
    }
    double b = 0;
    for (int64_t i = 0; i < d; ++i) {
      const double w = model.components[j * d + i] / scale;
      coef[j * d + i] = static_cast<T>(w);
      b -= w * model.mean[i];
    }
    intercept[j] = static_cast<T>(b);
  }
}

}  // namespace

template <typename T>
void pca_transform(Context& ctx, const PcaModel<T>& model, MatrixView<const T> X,
                   MatrixView<T> out) {
  check_fitted(model);
  std::vector<T> coef, intercept;
  pca_affine(model, coef, intercept);
  detail::checked_affine(ctx.backend(), X, model.n_features, model.n_components, coef.data(),
                         intercept.data(), out, "PCA");
}

template <typename T>
void pca_transform(Context& ctx, const PcaModel<T>& model, CsrView<T> X, MatrixView<T> out) {
  check_fitted(model);
  std::vector<T> coef, intercept;
  pca_affine(model, coef, intercept);
  detail::sparse_affine(ctx.backend(), X, model.n_features, model.n_components, coef.data(),
                        intercept.data(), out, "PCA");
}

template <typename T>
void pca_inverse_transform(Context& ctx, const PcaModel<T>& model, MatrixView<const T> Z,
                           MatrixView<T> out) {
  check_fitted(model);
  const int64_t d = model.n_features, k = model.n_components;
  std::vector<T> coef(checked_mul(d, k));
  for (int64_t j = 0; j < k; ++j) {
    const double scale =
        model.whiten ? std::sqrt(static_cast<double>(model.explained_variance[j])) : 1.0;
    for (int64_t i = 0; i < d; ++i) {
      coef[i * k + j] = static_cast<T>(model.components[j * d + i] * scale);
    }
  }
  detail::checked_affine(ctx.backend(), Z, k, d, coef.data(), model.mean.data(), out,
                         "inverse_transform");
}

template <typename T>
std::vector<T> pca_covariance(Context&, const PcaModel<T>& model) {
  check_fitted(model);
  return to_t<T>(covariance(model));
}

template <typename T>
std::vector<T> pca_precision(Context& ctx, const PcaModel<T>& model) {
  check_fitted(model);
  return to_t<T>(precision(ctx.backend(), model));
}

template <typename T>
void pca_score_samples(Context& ctx, const PcaModel<T>& model, MatrixView<const T> X,
                       VectorView<T> out) {
  check_fitted(model);
  Backend& be = ctx.backend();
  const int64_t n = X.rows, d = model.n_features;
  GPULEARN_EXPECTS(out.size == n && out.space == MemorySpace::kHost,
                   "score_samples writes n values to host memory");
  // P = L L^T, so (x - mean)^T P (x - mean) = |L^T (x - mean)|^2: an affine map per row, then
  // the rows' squared norms.
  std::vector<double> L = precision(be, model);
  std::vector<double> rhs(d, 0.0);
  GPULEARN_EXPECTS(be.cholesky_solve(d, L.data(), 1, rhs.data()),
                   "the PCA model's precision is not positive definite: score_samples is ",
                   "undefined");
  double logdet = 0;
  for (int64_t i = 0; i < d; ++i) logdet += 2.0 * std::log(L[i * d + i]);
  std::vector<T> coef(checked_mul(d, d), T(0)), intercept(d);
  for (int64_t j = 0; j < d; ++j) {  // row j of coef is column j of L (lower: rows i >= j)
    double b = 0;
    for (int64_t i = j; i < d; ++i) {
      coef[j * d + i] = static_cast<T>(L[i * d + j]);
      b -= L[i * d + j] * model.mean[i];
    }
    intercept[j] = static_cast<T>(b);
  }
  const double constant = static_cast<double>(d) * std::log(2.0 * 3.14159265358979323846) - logdet;

  // Row chunks of at most ~64 MiB of projections, where X lives.
  const int64_t chunk = std::clamp<int64_t>((int64_t{64} << 20) / checked_mul(d, sizeof(T)), 1,
                                            std::max<int64_t>(n, 1));
  const bool native = X.space == be.native_space();
  detail::Scratch<T> proj_native, norms_native;
  std::vector<T> proj_host, norms(std::min(chunk, n));
  const std::vector<T> zero(d, T(0));
  if (native) {
    proj_native = detail::Scratch<T>(be, checked_mul(chunk, d));
    norms_native = detail::Scratch<T>(be, chunk);
  } else {
    proj_host.resize(checked_mul(std::min(chunk, n), d));
  }
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    const MatrixView<const T> rows = X.block_rows(begin, m);
    if (native) {
      const MatrixView<T> proj(proj_native.data, m, d, d, X.space);
      detail::checked_affine(be, rows, d, d, coef.data(), intercept.data(), proj, "PCA");
      be.primitives<detail::ClusterPrimitives<T>>().sq_distances(
          proj, nullptr, zero.data(), 1, MatrixView<T>(norms_native.data, m, 1, 1, X.space));
      be.copy(norms.data(), MemorySpace::kHost, norms_native.data, X.space, m * int64_t(sizeof(T)));
    } else {
      const MatrixView<T> proj(proj_host.data(), m, d, d, X.space);
      detail::checked_affine(be, rows, d, d, coef.data(), intercept.data(), proj, "PCA");
      for (int64_t i = 0; i < m; ++i) {
        double s = 0;
        for (int64_t j = 0; j < d; ++j)
          s += static_cast<double>(proj_host[i * d + j]) * proj_host[i * d + j];
        norms[i] = static_cast<T>(s);
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      out.data[(begin + i) * out.stride] =
          static_cast<T>(-0.5 * (static_cast<double>(norms[i]) + constant));
    }
  }
}

#define GPULEARN_INSTANTIATE(T)                                                             \
  template PcaModel<T> pca_fit<T>(Context&, const PcaParams&, MatrixView<const T>);         \
  template PcaModel<T> pca_fit<T>(Context&, const PcaParams&, SpectralData<T>&);            \
  template PcaModel<T> pca_fit<T>(Context&, const PcaParams&, CsrView<T>);                  \
  template void pca_transform<T>(Context&, const PcaModel<T>&, CsrView<T>, MatrixView<T>);  \
  template void pca_transform<T>(Context&, const PcaModel<T>&, MatrixView<const T>,         \
                                 MatrixView<T>);                                            \
  template void pca_inverse_transform<T>(Context&, const PcaModel<T>&, MatrixView<const T>, \
                                         MatrixView<T>);                                    \
  template std::vector<T> pca_covariance<T>(Context&, const PcaModel<T>&);                  \
  template std::vector<T> pca_precision<T>(Context&, const PcaModel<T>&);                   \
  template void pca_score_samples<T>(Context&, const PcaModel<T>&, MatrixView<const T>,     \
                                     VectorView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::decomposition
