// The elastic-net driver, written once for every backend and over the data's reductions
// (LinearData): input checks, centring and scaling (shared with least squares, centring.hpp),
// then scikit-learn's coordinate descent on either the Gram system (a reduction) or a centred
// host copy of the data (only data held in one process offers one). Both present the
// descent with the same three operations (a coordinate's correlation with the residual, a
// coefficient update, the terms of the duality gap), so the descent, its screening and its
// stopping rule are written once.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "centring.hpp"
#include "gpulearn/linear_model/elastic_net.hpp"

namespace gpulearn::linear_model {

namespace {

using detail::Centring;
using detail::Magnitudes;

// The terms of the duality gap at w: X^T R (d), ||R||^2 and R.y, R = y - X w.
struct GapTerms {
  std::vector<double> xtr;
  double r_norm2 = 0, r_y = 0;
};

// Coordinate descent on the Gram system: Q = Xs^T W Xs, q = Xs^T W ys, y2 = ys^T W ys, keeping
// Qw = Q w up to date.
class GramOps {
 public:
  GramOps(int64_t d, const std::vector<double>& Q, std::vector<double> q, double y2)
      : d_(d), Q_(Q), q_(std::move(q)), y2_(y2), Qw_(d, 0.0) {}
  void start(const std::vector<double>& w) {
    std::fill(Qw_.begin(), Qw_.end(), 0.0);
    for (int64_t j = 0; j < d_; ++j) {
      if (w[j] != 0) update(j, w[j]);
    }
  }
  double diag(int64_t j) const { return Q_[j * d_ + j]; }
  double corr(int64_t j) const { return q_[j] - Qw_[j]; }
  void update(int64_t j, double delta) {
    const double* row = &Q_[j * d_];
    for (int64_t i = 0; i < d_; ++i) Qw_[i] += delta * row[i];
  }
  double y_norm2() const { return y2_; }
  void gap_terms(const std::vector<double>& w, GapTerms& g) const {
    double qw = 0, wQw = 0;
    g.xtr.resize(d_);
    for (int64_t j = 0; j < d_; ++j) {
      g.xtr[j] = q_[j] - Qw_[j];
      qw += q_[j] * w[j];
      wQw += w[j] * Qw_[j];
    }
    g.r_norm2 = y2_ + wQw - 2.0 * qw;
    g.r_y = y2_ - qw;
  }

 private:
  int64_t d_;
  const std::vector<double>& Q_;  // shared by the targets, not copied per target
  std::vector<double> q_;
  double y2_;
  std::vector<double> Qw_;
};

// Coordinate descent on the data: Xs (column-major, n x d) and ys already centred, scaled and
// multiplied by sqrt(w), keeping the residual R = ys - Xs w up to date.
class DataOps {
 public:
  DataOps(int64_t n, int64_t d, const std::vector<double>& Xs, std::vector<double> ys)
      : n_(n), d_(d), X_(Xs), y_(std::move(ys)), R_(n), norms_(d) {
    for (int64_t j = 0; j < d; ++j) norms_[j] = dot(col(j), col(j));
    y2_ = dot(y_.data(), y_.data());
  }
  void start(const std::vector<double>& w) {
    R_ = y_;
    for (int64_t j = 0; j < d_; ++j) {
      if (w[j] != 0) update(j, w[j]);
    }
  }
  double diag(int64_t j) const { return norms_[j]; }
  double corr(int64_t j) const { return dot(col(j), R_.data()); }
  void update(int64_t j, double delta) {
    const double* x = col(j);
    for (int64_t i = 0; i < n_; ++i) R_[i] -= delta * x[i];
  }
  double y_norm2() const { return y2_; }
  void gap_terms(const std::vector<double>&, GapTerms& g) const {
    g.xtr.resize(d_);
    for (int64_t j = 0; j < d_; ++j) g.xtr[j] = corr(j);
    g.r_norm2 = dot(R_.data(), R_.data());
    g.r_y = dot(R_.data(), y_.data());
  }

 private:
  const double* col(int64_t j) const { return &X_[j * n_]; }
  double dot(const double* a, const double* b) const {
    double s = 0;
    for (int64_t i = 0; i < n_; ++i) s += a[i] * b[i];
    return s;
  }
  int64_t n_, d_;
  const std::vector<double>& X_;
  std::vector<double> y_, R_, norms_;
  double y2_ = 0;
};

// Coordinate descent on sparse data centred implicitly (scikit-learn's
// sparse_enet_coordinate_descent): column j of the centred data is a_j = s_j - m_j sw (s_j
// sparse, sw = sqrt(w)), never formed. The residual is kept as R_u = ys - S v over the stored
// entries only, with the scalars mv = m . v and sR = sw . R_u, so that the centred residual is
// R = R_u + mv sw and every operation costs O(entries of the column) (O(nnz) for the gap):
// a_j . R = s_j . R_u + mv c_j - m_j sR - m_j mv S, with c_j = s_j . sw and S = sw . sw.
class SparseDataOps {
 public:
  SparseDataOps(const SparseCentredColumns& X, int64_t target)
      : X_(X), y_(X.ys.begin() + target * X.n, X.ys.begin() + (target + 1) * X.n), R_(X.n),
        norms_(X.d) {
    for (int64_t j = 0; j < X.d; ++j) {
      double ss = 0;
      for (int64_t p = X.col_ptr[j]; p < X.col_ptr[j + 1]; ++p) ss += X.values[p] * X.values[p];
      const double m = X.mean[j];
      norms_[j] = ss - 2 * m * X.col_sum[j] + m * m * X.w_sum;
    }
    for (int64_t i = 0; i < X.n; ++i) {
      y2_ += y_[i] * y_[i];
      sw_y_ += X.sqrt_w[i] * y_[i];
    }
  }
  void start(const std::vector<double>& w) {
    R_ = y_;
    sR_ = sw_y_;
    mv_ = 0;
    for (int64_t j = 0; j < X_.d; ++j) {
      if (w[j] != 0) update(j, w[j]);
    }
  }
  double diag(int64_t j) const { return norms_[j]; }
  double corr(int64_t j) const {
    double sr = 0;
    for (int64_t p = X_.col_ptr[j]; p < X_.col_ptr[j + 1]; ++p) sr += X_.values[p] * R_[X_.rows[p]];
    const double m = X_.mean[j];
    return sr + mv_ * X_.col_sum[j] - m * sR_ - m * mv_ * X_.w_sum;
  }
  void update(int64_t j, double delta) {
    for (int64_t p = X_.col_ptr[j]; p < X_.col_ptr[j + 1]; ++p) {
      R_[X_.rows[p]] -= delta * X_.values[p];
    }
    sR_ -= delta * X_.col_sum[j];
    mv_ += delta * X_.mean[j];
  }
  double y_norm2() const { return y2_; }
  void gap_terms(const std::vector<double>&, GapTerms& g) const {
    g.xtr.resize(X_.d);
    for (int64_t j = 0; j < X_.d; ++j) g.xtr[j] = corr(j);
    double rr = 0, ry = 0;
    for (int64_t i = 0; i < X_.n; ++i) {
      rr += R_[i] * R_[i];
      ry += R_[i] * y_[i];
    }
    g.r_norm2 = rr + 2 * mv_ * sR_ + mv_ * mv_ * X_.w_sum;
    g.r_y = ry + mv_ * sw_y_;
  }

 private:
  const SparseCentredColumns& X_;
  std::vector<double> y_, R_, norms_;
  double y2_ = 0, sw_y_ = 0, sR_ = 0, mv_ = 0;
};

// scikit-learn's rand_r replacement (sklearn/utils/_random.pxd), so that selection="random"
// visits coordinates in scikit-learn's order for the same seed.
uint32_t rand_int(uint32_t end, uint32_t& state) {
  if (state == 0) state = 1;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return (state % (uint32_t{2147483647} + 1)) % end;
}

struct CdResult {
  int64_t n_iter = 0;
  double gap = 0, tol = 0;
  bool converged = false;
};

// The duality gap of the problem 1/2 ||R||^2 + l1 ||w||_1 + l2/2 ||w||^2 (scikit-learn's
// gap_enet: formulation A with an L1 term, B for ridge, the squared gradient for least squares),
// and the dual norm of X^T R - l2 w used by the screening rule. xta receives X^T R - l2 w.
std::pair<double, double> duality_gap(const GapTerms& g, const std::vector<double>& w, double l1,
                                      double l2, bool positive, std::vector<double>& xta) {
  const int64_t d = static_cast<int64_t>(w.size());
  double w_l1 = 0, w_l2 = 0;
  for (double v : w) {
    w_l1 += std::abs(v);
    w_l2 += v * v;
  }
  if (l2 == 0) w_l2 = 0;
  xta.resize(d);
  if (l1 == 0) {
    double n2 = 0;
    for (int64_t j = 0; j < d; ++j) {
      xta[j] = g.xtr[j];
      n2 += xta[j] * xta[j];
    }
    if (l2 == 0) return {n2, n2};
    return {g.r_norm2 + 0.5 * l2 * w_l2 - g.r_y + n2 / (2 * l2), n2};
  }
  double dual_norm = positive ? -std::numeric_limits<double>::infinity() : 0.0;
  for (int64_t j = 0; j < d; ++j) {
    xta[j] = g.xtr[j] - l2 * w[j];
    dual_norm = positive ? std::max(dual_norm, xta[j]) : std::max(dual_norm, std::abs(xta[j]));
  }
  const double primal = 0.5 * (g.r_norm2 + l2 * w_l2) + l1 * w_l1;
  const double scale = dual_norm > l1 ? l1 / dual_norm : 1.0;
  const double dual = -0.5 * scale * scale * (g.r_norm2 + l2 * w_l2) + scale * g.r_y;
  return {primal - dual, dual_norm};
}

// scikit-learn's enet_coordinate_descent(_gram), over either system.
// ols_gap: with no penalty at all the "gap" is scikit-learn's first-order residual ||X^T R||^2,
// not a difference of objectives, so the scaling that maps it to scikit-learn's units differs
// from the other gaps' (see elastic_net_fit); it is multiplied by ols_gap then.
template <typename Ops>
CdResult coordinate_descent(Ops& ops, std::vector<double>& w, double l1, double l2,
                            const ElasticNetParams& p, uint32_t seed, double ols_gap) {
  const int64_t d = static_cast<int64_t>(w.size());
  const bool random = p.selection == CdSelection::kRandom;
  const bool screening = l1 != 0;
  uint32_t state = seed;
  ops.start(w);
  CdResult r;
  r.tol = p.tol * ops.y_norm2();
  GapTerms terms;
  std::vector<double> xta;
  std::vector<int64_t> active(d);
  std::vector<uint8_t> excluded(d, 0);
  int64_t n_active = d;
  for (int64_t j = 0; j < d; ++j) active[j] = j;

  auto gap_now = [&] {
    ops.gap_terms(w, terms);
    const auto [gap, dual_norm] = duality_gap(terms, w, l1, l2, p.positive, xta);
    r.gap = l1 == 0 && l2 == 0 ? gap * ols_gap : gap;
    return dual_norm;
  };
  // Gap-safe screening (Ndiaye et al. 2017, eq. 11): features provably zero at the optimum are
  // set to zero and dropped from the sweeps.
  auto screen = [&](double dual_norm) {
    const double radius = std::sqrt(2 * std::abs(r.gap)) / l1;
    n_active = 0;
    for (int64_t j = 0; j < d; ++j) {
      if (excluded[j]) continue;
      const double xj_theta = xta[j] / std::max(l1, dual_norm);
      const double dj = (1 - std::abs(xj_theta)) / std::sqrt(ops.diag(j) + l2);
      if (dj <= radius) {
        active[n_active++] = j;
      } else {
        if (w[j] != 0) {
          ops.update(j, -w[j]);
          w[j] = 0;
        }
        excluded[j] = 1;
      }
    }
  };

  double dual_norm = gap_now();
  if (r.gap >= 0 && r.gap <= r.tol) {
    r.converged = true;
    return r;
  }
  if (screening) {
    for (int64_t j = 0; j < d; ++j) {
      if (ops.diag(j) == 0) {
        if (w[j] != 0) ops.update(j, -w[j]);
        w[j] = 0;
        excluded[j] = 1;
      }
    }
    screen(dual_norm);
  }
  for (int64_t it = 0; it < p.max_iter; ++it) {
    double w_max = 0, dw_max = 0;
    for (int64_t f = 0; f < n_active; ++f) {
      int64_t j = random ? rand_int(static_cast<uint32_t>(n_active), state) : f;
      if (screening) j = active[j];
      const double q = ops.diag(j);
      if (q == 0) continue;
      const double w_j = w[j];
      const double tmp = ops.corr(j) + w_j * q;
      if (p.positive && tmp < 0) {
        w[j] = 0;
      } else {
        w[j] = std::copysign(std::max(std::abs(tmp) - l1, 0.0), tmp) / (q + l2);
      }
      if (w[j] != w_j) ops.update(j, w[j] - w_j);
      dw_max = std::max(dw_max, std::abs(w[j] - w_j));
      w_max = std::max(w_max, std::abs(w[j]));
    }
    r.n_iter = it + 1;
    if (w_max == 0 || dw_max / w_max <= p.tol || it == p.max_iter - 1) {
      dual_norm = gap_now();
      if (r.gap <= r.tol) {
        r.converged = true;
        break;
      }
      if (screening) screen(dual_norm);
    }
  }
  return r;
}

template <typename T>
void check_params(const ElasticNetParams& p, int64_t d, int64_t k,
                  const std::vector<double>& coef_init) {
  GPULEARN_EXPECTS(std::isfinite(p.alpha) && p.alpha >= 0,
                   "alpha must be a finite number >= 0, got ", p.alpha);
  GPULEARN_EXPECTS(p.l1_ratio >= 0 && p.l1_ratio <= 1, "l1_ratio must be in [0, 1], got ",
                   p.l1_ratio);
  GPULEARN_EXPECTS(p.max_iter >= 1, "max_iter must be >= 1, got ", p.max_iter);
  GPULEARN_EXPECTS(std::isfinite(p.tol) && p.tol >= 0, "tol must be a finite number >= 0, got ",
                   p.tol);
  GPULEARN_EXPECTS(p.seeds.empty() || static_cast<int64_t>(p.seeds.size()) == k, "seeds has ",
                   p.seeds.size(), " entries for ", k, " targets");
  GPULEARN_EXPECTS(coef_init.empty() || static_cast<int64_t>(coef_init.size()) == k * d,
                   "coef_init has ", coef_init.size(), " entries, expected n_targets x ",
                   "n_features = ", k * d);
  for (double v : coef_init) {
    GPULEARN_EXPECTS(std::isfinite(v), "coef_init holds a non-finite value");
  }
}

}  // namespace

template <typename T>
ElasticNetModel<T> elastic_net_fit(Context& /*ctx*/, const ElasticNetParams& params,
                                   LinearData<T>& data, const std::vector<double>& coef_init) {
  const Magnitudes<T> mag = detail::check_fit_inputs(data);
  const int64_t n = data.n_samples(), d = data.n_features(), k = data.n_targets();
  check_params<T>(params, d, k, coef_init);
  const Centring<T> c = detail::centring(data, params.fit_intercept, mag);

  // The descent minimises S times the objective, S = sum_i w_i, on data scaled by 2^x_exp (X)
  // and 2^y_exp (y): 1/2 ||ys - Xs v||^2 + l1 ||v||_1 + l2/2 ||v||^2 with coef = v 2^(x - y),
  // l1 = alpha l1_ratio S 2^(x + y), l2 = alpha (1 - l1_ratio) S 2^(2 x). The gap scales by
  // S 2^(2 y).
  const double S = c.w_sum;
  const double l1 = std::ldexp(params.alpha * params.l1_ratio * S, c.x_exp + c.y_exp);
  const double l2 = std::ldexp(params.alpha * (1 - params.l1_ratio) * S, 2 * c.x_exp);
  const double gap_unit = std::ldexp(S, 2 * c.y_exp);
  // Without a penalty the gap is ||Xs^T W Rs||^2 = 2^(2x + 2y) ||X^T W R||^2, which
  // scikit-learn (weights rescaled to sum to n) holds to tol ||y||^2 as (n / S) ||X^T W R||^2:
  // in the scaled units that is the raw gap times n / (S 2^(2x)).
  const double ols_gap = std::ldexp(static_cast<double>(n) / S, -2 * c.x_exp);
  // Data without a centred copy (a distributed data set) descends on the Gram system: the
  // same coordinate updates as over the data, in another rounding.
  // Sparse data descends over its sparse columns unless asked for the Gram path, as
  // scikit-learn's sparse descent does whatever precompute says.
  const bool columns = data.has_sparse_columns();
  if (params.path == CdPath::kData && !data.has_centred_copy() && !columns) {
    GPULEARN_FAIL(Unsupported, "path 'data' needs the data in one process; use 'gram' or 'auto'");
  }
  const bool gram = params.path == CdPath::kGram || (!data.has_centred_copy() && !columns) ||
                    (params.path == CdPath::kAuto && n >= d && !columns);

  ElasticNetModel<T> m;
  m.n_features = d;
  m.n_targets = k;
  m.solver = gram ? "gram" : columns ? "sparse" : "data";
  m.coef.resize(checked_mul(k, d));
  m.n_iter.resize(k);
  m.dual_gap.resize(k);
  m.gap_tol.resize(k);
  m.converged.resize(k);

  std::vector<double> Qd, Bd, y2(k);
  std::vector<double> Xs, Ys;  // the data path's centred copies, column-major
  SparseCentredColumns cols;   // or, for sparse data, its centred columns
  if (gram) {
    std::vector<T> G, B;
    detail::gram_system(data, c, G, B);
    Qd.assign(G.begin(), G.end());
    Bd.assign(B.begin(), B.end());
    // ys^T W ys per target: the Gram matrix of Y (its diagonal), one more pass over Y only.
    std::vector<T> YY(checked_mul(k, k));
    data.target_gram(c.y.data(), c.y_scale(), YY.data());
    for (int64_t t = 0; t < k; ++t) y2[t] = YY[t * k + t];
  } else if (columns) {
    data.sparse_columns(c.x.data(), c.y.data(), c.x_exp, c.y_exp, cols);
  } else {
    data.centred_copy(c.x.data(), c.y.data(), c.x_exp, c.y_exp, Xs, Ys);
  }

  for (int64_t t = 0; t < k; ++t) {
    std::vector<double> v(d, 0.0);
    if (!coef_init.empty()) {  // coef = v 2^(x - y)
      for (int64_t j = 0; j < d; ++j) v[j] = std::ldexp(coef_init[t * d + j], c.y_exp - c.x_exp);
    }
    const uint32_t seed = params.seeds.empty() ? 1u : params.seeds[t];
    CdResult r;
    if (gram) {
      std::vector<double> q(d);
      for (int64_t j = 0; j < d; ++j) q[j] = Bd[j * k + t];
      GramOps ops(d, Qd, std::move(q), y2[t]);
      r = coordinate_descent(ops, v, l1, l2, params, seed, ols_gap);
    } else if (columns) {
      SparseDataOps ops(cols, t);
      r = coordinate_descent(ops, v, l1, l2, params, seed, ols_gap);
    } else {
      std::vector<double> ys(Ys.begin() + t * n, Ys.begin() + (t + 1) * n);
      DataOps ops(n, d, Xs, std::move(ys));
      r = coordinate_descent(ops, v, l1, l2, params, seed, ols_gap);
    }
    for (int64_t j = 0; j < d; ++j) {
      m.coef[t * d + j] = static_cast<T>(std::ldexp(v[j], c.x_exp - c.y_exp));
    }
    m.n_iter[t] = r.n_iter;
    m.dual_gap[t] = r.gap / gap_unit;
    m.gap_tol[t] = r.tol / gap_unit;
    m.converged[t] = r.converged ? 1 : 0;
  }
  detail::set_intercept(m, c);
  return m;
}

template <typename T>
ElasticNetModel<T> elastic_net_fit(Context& ctx, const ElasticNetParams& params,
                                   MatrixView<const T> X, MatrixView<const T> Y,
                                   VectorView<const T> w, const std::vector<double>& coef_init) {
  const auto data = local_linear_data(ctx, X, Y, w);
  return elastic_net_fit(ctx, params, *data, coef_init);
}

#define GPULEARN_INSTANTIATE(T)                                                                    \
  template ElasticNetModel<T> elastic_net_fit<T>(Context&, const ElasticNetParams&,                \
                                                 MatrixView<const T>, MatrixView<const T>,         \
                                                 VectorView<const T>, const std::vector<double>&); \
  template ElasticNetModel<T> elastic_net_fit<T>(Context&, const ElasticNetParams&,                \
                                                 LinearData<T>&, const std::vector<double>&);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::linear_model
