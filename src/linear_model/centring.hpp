// The preparation every linear-model driver shares (over LinearData, linear_data.hpp): input
// checks, and the centring and exact power-of-two scaling of X and y (with the Gram system built
// from them) that keep products from over- or underflowing. Internal to src/linear_model/.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/linear_model/linear_data.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace gpulearn::linear_model::detail {

using gpulearn::detail::Backend;
using gpulearn::detail::checked_max_abs;
using gpulearn::detail::checked_weights;
using gpulearn::detail::pow2_exponent;

// The largest magnitudes of a fit's inputs (w: 0 without weights).
template <typename T>
using Magnitudes = DataMagnitudes<T>;

// Checks a fit's shapes and inputs (data.magnitudes() checks and measures the values).
template <typename T>
inline Magnitudes<T> check_fit_inputs(LinearData<T>& data) {
  const int64_t n = data.n_samples(), d = data.n_features();
  GPULEARN_EXPECTS(n >= 1, "Found array with 0 sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(data.n_targets() >= 1, "y has no target column");
  return data.magnitudes();
}

// How a fit centres and scales its data (see Backend::centered_gram): weighted means (zeros
// without an intercept) and power-of-two scales 2^x_exp, 2^y_exp, so that no product formed
// from the scaled data over- or underflows and scaling is exact. The weights' own scale
// 2^(2 e_w) is folded into both (sqrt(w) multiplies each row). Results of the scaled problem
// map back as coef = coef_scaled * 2^(x_exp - y_exp), s = s_scaled * 2^-x_exp, and the penalty
// of the scaled problem is alpha * 2^(2 x_exp).
template <typename T>
struct Centring {
  std::vector<T> x, y;
  int x_exp = 0, y_exp = 0;
  /// sum_i w_i in double (n_samples without weights).
  double w_sum = 0;
  T x_scale() const { return std::ldexp(T(1), x_exp); }
  T y_scale() const { return std::ldexp(T(1), y_exp); }
};

template <typename T>
inline Centring<T> centring(LinearData<T>& data, bool fit_intercept, const Magnitudes<T>& mag) {
  constexpr int kLimit = std::numeric_limits<T>::max_exponent - 4;
  const int w_exp = pow2_exponent(mag.w) / 2;
  const int64_t d = data.n_features(), k = data.n_targets();
  Centring<T> c{std::vector<T>(d, T(0)), std::vector<T>(k, T(0)),
                std::clamp(pow2_exponent(mag.x) + w_exp, -kLimit, kLimit),
                std::clamp(pow2_exponent(mag.y) + w_exp, -kLimit, kLimit)};
  c.w_sum = static_cast<double>(data.n_samples());
  if (!fit_intercept && !data.weighted()) return c;
  std::vector<T> xm(d), ym(k);
  const double w_sum = data.weighted_means(xm.data(), ym.data());
  GPULEARN_EXPECTS(w_sum > 0, "sample_weight sums to zero: at least one sample needs a ",
                   "positive weight");
  auto finite = [](const std::vector<T>& v) {
    return std::all_of(v.begin(), v.end(), [](T a) { return std::isfinite(a); });
  };
  GPULEARN_EXPECTS(std::isfinite(w_sum) && finite(xm) && finite(ym),
                   "the weighted sums of X or y overflow (|X| up to ", mag.x, ", |y| up to ", mag.y,
                   "): rescale the data");
  c.w_sum = w_sum;
  if (fit_intercept) {
    c.x = std::move(xm);
    c.y = std::move(ym);
  }
  return c;
}

template <typename T>
inline void gram_system(LinearData<T>& data, const Centring<T>& c, std::vector<T>& G,
                        std::vector<T>& B) {
  const int64_t d = data.n_features(), k = data.n_targets();
  G.resize(checked_mul(d, d));
  B.resize(checked_mul(d, k));
  data.centered_gram(c.x.data(), c.y.data(), c.x_scale(), c.y_scale(), G.data(), B.data());
  auto finite = [](T a) { return std::isfinite(a); };
  GPULEARN_EXPECTS(
      std::all_of(G.begin(), G.end(), finite) && std::all_of(B.begin(), B.end(), finite),
      "X^T X overflows even after scaling (", data.n_samples(), " samples up to |X| = ", "2^",
      -c.x_exp, "): rescale the data or use float64");
}

// Cholesky solve of (G + alpha I) coef^T = B for one alpha; false when the factorisation fails
// or the system is too ill-conditioned for it (see kGramRcond).

// intercept = y_mean - coef x_mean, per target, from the model's (unscaled) coefficients.
template <typename T>
inline void set_intercept(LinearModel<T>& m, const Centring<T>& c) {
  const int64_t d = m.n_features;
  m.intercept.assign(m.n_targets, T(0));
  for (int64_t t = 0; t < m.n_targets; ++t) {
    double dot = 0;
    for (int64_t j = 0; j < d; ++j) dot += static_cast<double>(c.x[j]) * m.coef[t * d + j];
    m.intercept[t] = static_cast<T>(static_cast<double>(c.y[t]) - dot);
  }
}

using gpulearn::detail::to_host;

}  // namespace gpulearn::linear_model::detail
