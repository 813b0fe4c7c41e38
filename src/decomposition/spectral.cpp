// The spectral core of the decomposition drivers (see spectral.hpp).
//
// The randomized solver, on the feature side. scikit-learn's randomized_svd(M) with start Omega
// and q power iterations computes, for tall M (n >= d, Omega d x l), Q = orth((M M^T)^q M Omega)
// and the SVD of B = Q^T M; for wide M it transposes, so that (Omega n x l) the right singular
// vectors are sought in Z = orth((M^T M)^q M^T Omega) and come from the SVD of M Z. Normalising
// between steps only changes the basis, so both subspaces can be reached with d x l products
// G Z = M^T (M Z), one pass over X each (SpectralData::centered_products), orthonormalised on the
// host:
// - tall: Z = orth((M^T M)^q Omega) by q passes; H = G Z by one more. With Y = M Z = Q R,
//   B^T B = M^T Y (Y^T Y)^+ Y^T M = H C^+ H^T, C = Z^T H; so B's singular values and right
//   vectors are those of the d x l matrix F = H E diag(lambda)^-1/2 (C = E diag(lambda) E^T).
//   Directions with lambda at rounding level (a rank below l) are dropped: their singular
//   values are zero to working precision.
// - wide: Z = orth(M^T Omega) by one pass, q passes as above, then H = G Z: the SVD of M Z is
//   the eigendecomposition of C = Z^T H = (M Z)^T (M Z).
// That is q + 1 passes (q + 2 wide) where scikit-learn makes 2q + 2 half passes, and no n x l
// matrix is ever stored. Squaring through C costs the relative accuracy of singular values
// below ~sqrt(eps) s_1, which the randomized solver does not resolve anyway.
#include "spectral.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>

#include "../core/checks.hpp"
#include "../core/hash_uniform.hpp"

namespace gpulearn::detail {

namespace {

// Standard normal draws from the counter-based hash both backends share (Box-Muller): the same
// on every machine, unlike std::normal_distribution.
std::vector<double> gaussian(int64_t count, uint64_t seed) {
  std::vector<double> g(count);
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < count; ++i) {
    const double u1 = 1.0 - hash_uniform(seed, 2 * i), u2 = hash_uniform(seed, 2 * i + 1);
    g[i] = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  }
  return g;
}

// An orthonormal basis (rows x c', c' = min(rows, c)) of the columns of the row-major A: the
// left singular vectors, orthonormal even where A is rank-deficient.
std::vector<double> orth(Backend& be, int64_t rows, int64_t& c, const std::vector<double>& A) {
  const int64_t p = std::min(rows, c);
  std::vector<double> U(checked_mul(rows, p)), s(p), vt(checked_mul(p, c));
  be.svd(rows, c, A.data(), U.data(), s.data(), vt.data());
  c = p;
  return U;
}

template <typename T>
std::vector<T> to_t(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// out (a_cols x b_cols) = A^T B for row-major A (m x a_cols) and B (m x b_cols).
std::vector<double> at_b(int64_t m, int64_t a_cols, int64_t b_cols, const std::vector<double>& A,
                         const std::vector<double>& B) {
  std::vector<double> out(checked_mul(a_cols, b_cols), 0.0);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t i = 0; i < a_cols; ++i) {
      const double a = A[r * a_cols + i];
      if (a == 0.0) continue;
      for (int64_t j = 0; j < b_cols; ++j) out[i * b_cols + j] += a * B[r * b_cols + j];
    }
  }
  return out;
}

}  // namespace

template <typename T>
int checked_fit_scale(SpectralData<T>& X, int64_t min_samples) {
  const int64_t n = X.rows(), d = X.cols();
  GPULEARN_EXPECTS(n >= min_samples, "Found array with ", n, " sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of ", min_samples, " is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  const T amax = X.max_abs();
  GPULEARN_EXPECTS(std::isfinite(amax), "Input X contains NaN or infinity.");
  return pow2_exponent(amax);
}

template <typename T>
std::vector<T> column_means(SpectralData<T>& X) {
  std::vector<T> mean(X.cols());
  X.column_means(mean.data());
  return mean;
}

template <typename T>
Spectrum exact_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp) {
  const int64_t n = X.rows(), d = X.cols(), r_max = std::min(n, d);
  std::vector<T> R(checked_mul(r_max, d));
  const int64_t r = X.centered_r_factor(mean, std::ldexp(T(1), exp), R.data());
  GPULEARN_ASSERT(r <= r_max);
  Spectrum sp;
  sp.p = std::min(r, d);
  std::vector<T> U(checked_mul(r, sp.p)), s(sp.p), vt(checked_mul(sp.p, d));
  be.svd(r, d, R.data(), U.data(), s.data(), vt.data());
  sp.s.resize(sp.p);
  for (int64_t i = 0; i < sp.p; ++i) sp.s[i] = std::ldexp(static_cast<double>(s[i]), -exp);
  sp.vt.assign(vt.begin(), vt.end());
  flip_signs(sp, d);
  return sp;
}

template <typename T>
Spectrum gram_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp) {
  const int64_t d = X.cols();
  std::vector<T> G(checked_mul(d, d)), lam(d);
  X.centered_gram(mean, std::ldexp(T(1), exp), G.data());
  GPULEARN_EXPECTS(std::all_of(G.begin(), G.end(), [](T a) { return std::isfinite(a); }),
                   "X^T X overflows even after scaling: rescale the data or use float64");
  be.symmetric_eigh(d, G.data(), lam.data(), /*vectors=*/true);
  Spectrum sp;
  sp.p = d;
  sp.s.resize(d);
  sp.vt.resize(checked_mul(d, d));
  for (int64_t t = 0; t < d; ++t) {  // descending: eigenpair d - 1 - t, eigenvector as a column
    const int64_t j = d - 1 - t;
    sp.s[t] = std::ldexp(std::sqrt(std::max(0.0, static_cast<double>(lam[j]))), -exp);
    for (int64_t i = 0; i < d; ++i) sp.vt[t * d + i] = G[i * d + j];
  }
  flip_signs(sp, d);
  return sp;
}

template <typename T>
Spectrum iterative_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp, int64_t k,
                            double tol, const std::vector<double>* start) {
  const int64_t n = X.rows(), d = X.cols(), mn = std::min(n, d);
  int64_t c = std::min(mn, std::max(2 * k, k + 20));
  GPULEARN_ASSERT(k >= 1 && k <= c);
  const double target = tol > 0 ? tol : 64 * static_cast<double>(std::numeric_limits<T>::epsilon());
  constexpr int kMaxSteps = 3000, kPatience = 50;
  const T scale = std::ldexp(T(1), exp);
  std::vector<double> Z =
      start != nullptr ? *start : orth(be, d, c, gaussian(checked_mul(d, c), 0x5eedu));
  GPULEARN_ASSERT(static_cast<int64_t>(Z.size()) == checked_mul(d, c));
  std::vector<double> H, C, lam;
  double total_sq = 0, best = std::numeric_limits<double>::infinity();
  int since_best = 0;
  for (int step = 0;; ++step) {
    H.assign(checked_mul(d, c), 0.0);
    const std::vector<T> zt = to_t<T>(Z);
    total_sq = X.centered_products(mean, scale, c, zt.data(), nullptr, H.data());
    C = at_b(d, c, c, Z, H);
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t j = 0; j < i; ++j)
        C[i * c + j] = C[j * c + i] = 0.5 * (C[i * c + j] + C[j * c + i]);
    }
    lam.assign(c, 0.0);
    be.symmetric_eigh(c, C.data(), lam.data(), /*vectors=*/true);  // C holds E (columns)
    // The k leading Ritz pairs' residuals |H e - theta Z e|, relative to theta_1.
    const double top = std::max(lam[c - 1], std::numeric_limits<double>::min());
    double res = 0;
    for (int64_t t = 0; t < k; ++t) {
      const int64_t j = c - 1 - t;
      double r2 = 0;
      for (int64_t i = 0; i < d; ++i) {
        double he = 0, ze = 0;
        for (int64_t r = 0; r < c; ++r) {
          he += H[i * c + r] * C[r * c + j];
          ze += Z[i * c + r] * C[r * c + j];
        }
        const double e = he - lam[j] * ze;
        r2 += e * e;
      }
      res = std::max(res, std::sqrt(r2) / top);
    }
    if (res < best) {
      best = res;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (res <= target || since_best >= kPatience || step + 1 >= kMaxSteps) break;
    int64_t c2 = c;
    Z = orth(be, d, c2, H);
    GPULEARN_ASSERT(c2 == c);
  }
  Spectrum sp;
  sp.p = k;
  sp.s.resize(k);
  sp.vt.assign(checked_mul(k, d), 0.0);
  sp.total_sq = std::ldexp(total_sq, -2 * exp);
  for (int64_t t = 0; t < k; ++t) {  // s^2 = theta, right vectors Z E, largest first
    const int64_t j = c - 1 - t;
    sp.s[t] = std::ldexp(std::sqrt(std::max(0.0, lam[j])), -exp);
    for (int64_t r = 0; r < c; ++r) {
      const double e = C[r * c + j];
      for (int64_t i = 0; i < d; ++i) sp.vt[t * d + i] += Z[i * c + r] * e;
    }
  }
  flip_signs(sp, d);
  return sp;
}

namespace {

// G = Xc^T Xc as Spectra's operator on a d-vector: one centered_products pass of l = 1 (the
// data's sparse products, on whichever backend holds X). Remembers ||Xc||_F^2 of the last pass.
template <typename T>
class CenteredGramOp {
 public:
  using Scalar = double;
  CenteredGramOp(SpectralData<T>& X, const T* mean, T scale)
      : X_(X), mean_(mean), scale_(scale), z_(X.cols()) {}
  Eigen::Index rows() const { return X_.cols(); }
  Eigen::Index cols() const { return X_.cols(); }
  void perform_op(const double* x, double* y) const {
    for (size_t i = 0; i < z_.size(); ++i) z_[i] = static_cast<T>(x[i]);
    std::fill(y, y + z_.size(), 0.0);
    total_sq_ = X_.centered_products(mean_, scale_, 1, z_.data(), nullptr, y);
  }
  double total_sq() const { return total_sq_; }

 private:
  SpectralData<T>& X_;
  const T* mean_;
  T scale_;
  mutable std::vector<T> z_;
  mutable double total_sq_ = 0;
};

// The k leading eigenpairs of Xc^T Xc by Spectra's implicitly restarted Lanczos (ARPACK's
// method, which scipy's svds runs for scikit-learn's arpack), with scipy's default basis size
// ncv = max(2k + 1, 20): each restart costs ncv - k single-vector passes where a subspace
// iteration step costs l = max(2k, k + 20). Measured on TF-IDF data (1e5 x 2e4, 2e6 entries,
// k = 10, a 2-core Xeon under load): PCA 1.35 s, TruncatedSVD 0.93 s (scikit-learn's arpack
// 2.7 s and 1.7 s; subspace iteration from a Gaussian draw needed ~90 steps of 30 vectors, and
// the Gram start's eigendecomposition 15-50 s at d = 2000). Converged when every Ritz pair's
// residual is below
// tol theta_i (tol <= 0: 64 machine epsilons of T). False where Spectra stops unconverged
// (the caller then iterates on blocks).
template <typename T>
bool lanczos_spectrum(SpectralData<T>& X, const T* mean, int exp, int64_t k, double tol,
                      Spectrum& sp) {
  const int64_t d = X.cols();
  const int64_t ncv = std::min(d, std::max<int64_t>(2 * k + 1, 20));
  if (k >= ncv) return false;
  const double target = tol > 0 ? tol : 64 * static_cast<double>(std::numeric_limits<T>::epsilon());
  CenteredGramOp<T> op(X, mean, std::ldexp(T(1), exp));
  Spectra::SymEigsSolver<CenteredGramOp<T>> eigs(op, k, ncv);
  eigs.init();  // Spectra's fixed-seed start: the same spectrum every run
  eigs.compute(Spectra::SortRule::LargestAlge, 1000, target,
               Spectra::SortRule::LargestAlge);
  if (eigs.info() != Spectra::CompInfo::Successful) return false;
  const Eigen::VectorXd lam = eigs.eigenvalues();
  const Eigen::MatrixXd V = eigs.eigenvectors();
  if (lam.size() != k) return false;
  sp.p = k;
  sp.s.resize(k);
  sp.vt.assign(checked_mul(k, d), 0.0);
  sp.total_sq = std::ldexp(op.total_sq(), -2 * exp);
  for (int64_t t = 0; t < k; ++t) {  // largest first
    sp.s[t] = std::ldexp(std::sqrt(std::max(0.0, lam[t])), -exp);
    for (int64_t i = 0; i < d; ++i) sp.vt[t * d + i] = V(i, t);
  }
  flip_signs(sp, d);
  return true;
}

}  // namespace

template <typename T>
Spectrum arpack_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp, int64_t k,
                         double tol) {
  if (!X.sparse()) return exact_spectrum(be, X, mean, exp);
  const int64_t d = X.cols(), mn = std::min(X.rows(), d);
  if (d > kSparseGramStartMaxCols) {
    Spectrum sp;
    if (lanczos_spectrum(X, mean, exp, k, tol, sp)) return sp;
    return iterative_spectrum(be, X, mean, exp, k, tol, nullptr);
  }
  // The Gram matrix X^T X - c m^T - m c^T + n m m^T cancels where a column is nearly dense with
  // a large mean (a relative 6e-8 of the variances measured for a column 1e4 + N(0, 1)), which
  // scipy's svds on scikit-learn's implicitly centred operator does not. Its leading
  // eigenvectors start the subspace iteration on the products, which centre each row of X Z
  // before X^T multiplies it: a few steps from such a start reach the iteration's residual.
  const Spectrum gram = gram_spectrum(be, X, mean, exp);
  const int64_t c = std::min(mn, std::max(2 * k, k + 20));
  std::vector<double> start(checked_mul(d, c));
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t r = 0; r < c; ++r) start[i * c + r] = gram.vt[r * d + i];
  }
  return iterative_spectrum(be, X, mean, exp, k, tol, &start);
}

template <typename T>
Spectrum randomized_spectrum(Backend& be, SpectralData<T>& X, const T* mean, int exp,
                             const RandomizedPlan& plan) {
  const int64_t n = X.rows(), d = X.cols();
  const bool wide = n < d;
  const int64_t start_rows = randomized_start_rows(n, d);
  int64_t c = plan.l;
  std::vector<double> start;
  if (plan.start != nullptr && !plan.start->empty()) {
    GPULEARN_EXPECTS(static_cast<int64_t>(plan.start->size()) == checked_mul(start_rows, c),
                     "the randomized start matrix has ", plan.start->size(), " entries; expected ",
                     start_rows, " x ", c);
    start = *plan.start;
  } else {
    start = gaussian(checked_mul(start_rows, c), plan.seed);
  }
  const T scale = std::ldexp(T(1), exp);
  double total_sq = 0;
  auto gram_times = [&](const std::vector<double>& Z, int64_t cols) {  // G Z, d x cols
    std::vector<double> H(checked_mul(d, cols));
    const std::vector<T> zt = to_t<T>(Z);
    total_sq = X.centered_products(mean, scale, cols, zt.data(), nullptr, H.data());
    return H;
  };

  std::vector<double> Z;
  if (wide) {  // Z = orth(M^T Omega)
    std::vector<double> H(checked_mul(d, c));
    const std::vector<T> yt = to_t<T>(start);
    total_sq = X.centered_products(mean, scale, c, nullptr, yt.data(), H.data());
    Z = orth(be, d, c, H);
  } else {
    Z = orth(be, d, c, start);
  }
  for (int it = 0; it < plan.n_iter; ++it) Z = orth(be, d, c, gram_times(Z, c));
  const std::vector<double> H = gram_times(Z, c);
  std::vector<double> C = at_b(d, c, c, Z, H);
  for (int64_t i = 0; i < c; ++i) {  // exactly symmetric for the eigensolver
    for (int64_t j = 0; j < i; ++j)
      C[i * c + j] = C[j * c + i] = 0.5 * (C[i * c + j] + C[j * c + i]);
  }
  std::vector<double> lam(c);
  be.symmetric_eigh(c, C.data(), lam.data(), /*vectors=*/true);  // C now holds E (columns)

  Spectrum sp;
  sp.p = std::min(plan.k, c);
  sp.s.resize(sp.p);
  sp.vt.assign(checked_mul(sp.p, d), 0.0);
  sp.total_sq = std::ldexp(total_sq, -2 * exp);
  if (wide) {  // s^2 = lambda, right vectors Z E, largest first
    for (int64_t t = 0; t < sp.p; ++t) {
      const int64_t j = c - 1 - t;
      sp.s[t] = std::ldexp(std::sqrt(std::max(0.0, lam[j])), -exp);
      for (int64_t r = 0; r < c; ++r) {
        const double e = C[r * c + j];
        for (int64_t i = 0; i < d; ++i) sp.vt[t * d + i] += Z[i * c + r] * e;
      }
    }
  } else {  // F = H E diag(lambda)^-1/2 over the directions above rounding, then its SVD
    const double lmax = std::max(0.0, lam[c - 1]);
    const double floor = lmax * static_cast<double>(c) * 4 * std::numeric_limits<T>::epsilon();
    std::vector<double> F(checked_mul(d, c), 0.0);
    for (int64_t j = 0; j < c; ++j) {
      if (!(lam[j] > floor)) continue;
      const double f = 1.0 / std::sqrt(lam[j]);
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0;
        for (int64_t r = 0; r < c; ++r) acc += H[i * c + r] * C[r * c + j];
        F[i * c + j] = acc * f;
      }
    }
    std::vector<double> U(checked_mul(d, c)), s(c), vt(checked_mul(c, c));
    be.svd(d, c, F.data(), U.data(), s.data(), vt.data());
    for (int64_t t = 0; t < sp.p; ++t) {
      sp.s[t] = std::ldexp(s[t], -exp);
      for (int64_t i = 0; i < d; ++i) sp.vt[t * d + i] = U[i * c + t];
    }
    // u s = Q Q^T M v with Q an orthonormal basis of Y = M Z: Q Q^T = Y C^+ Y^T, and
    // Y^T M = H^T, so u s = M w with w = Z C^+ H^T v (the 2^exp scales cancel in C^+ H^T).
    sp.us.assign(checked_mul(sp.p, d), 0.0);
    std::vector<double> a(c), b(c);
    for (int64_t t = 0; t < sp.p; ++t) {
      const double* v = sp.vt.data() + t * d;
      for (int64_t r = 0; r < c; ++r) {  // a = H^T v
        double acc = 0;
        for (int64_t i = 0; i < d; ++i) acc += H[i * c + r] * v[i];
        a[r] = acc;
      }
      std::fill(b.begin(), b.end(), 0.0);  // b = E diag(1/lambda) E^T a, the kept directions
      for (int64_t j = 0; j < c; ++j) {
        if (!(lam[j] > floor)) continue;
        double e_a = 0;
        for (int64_t r = 0; r < c; ++r) e_a += C[r * c + j] * a[r];
        e_a /= lam[j];
        for (int64_t r = 0; r < c; ++r) b[r] += C[r * c + j] * e_a;
      }
      double* w = sp.us.data() + t * d;  // w = Z b
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0;
        for (int64_t r = 0; r < c; ++r) acc += Z[i * c + r] * b[r];
        w[i] = acc;
      }
    }
  }
  flip_signs(sp, d);
  return sp;
}

void flip_signs(Spectrum& sp, int64_t d) {
  for (int64_t t = 0; t < sp.p; ++t) {
    double* row = sp.vt.data() + t * d;
    int64_t arg = 0;
    for (int64_t i = 1; i < d; ++i) arg = std::abs(row[i]) > std::abs(row[arg]) ? i : arg;
    if (row[arg] < 0) {
      for (int64_t i = 0; i < d; ++i) row[i] = -row[i];
      if (!sp.us.empty()) {  // u flips with v (svd_flip)
        for (int64_t i = 0; i < d; ++i) sp.us[t * d + i] = -sp.us[t * d + i];
      }
    }
  }
}

#define GPULEARN_INSTANTIATE(T)                                                       \
  template int checked_fit_scale<T>(SpectralData<T>&, int64_t);                       \
  template std::vector<T> column_means<T>(SpectralData<T>&);                          \
  template Spectrum exact_spectrum<T>(Backend&, SpectralData<T>&, const T*, int);     \
  template Spectrum gram_spectrum<T>(Backend&, SpectralData<T>&, const T*, int);      \
  template Spectrum randomized_spectrum<T>(Backend&, SpectralData<T>&, const T*, int, \
                                           const RandomizedPlan&);                    \
  template Spectrum iterative_spectrum<T>(Backend&, SpectralData<T>&, const T*, int,  \
                                          int64_t, double, const std::vector<double>*); \
  template Spectrum arpack_spectrum<T>(Backend&, SpectralData<T>&, const T*, int,     \
                                       int64_t, double);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::detail
