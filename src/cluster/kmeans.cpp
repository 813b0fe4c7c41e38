// The k-means driver, written once for every backend: checks, the initialisations, Lloyd's
// iterations with scikit-learn's convergence rule and empty-cluster relocation, the best of
// n_init runs. It is written over KMeansData (include/gpulearn/cluster/kmeans_data.hpp): every
// pass over the data is one of its methods (for one matrix, LocalKMeansData calls the backend
// primitives; for blocks on Dask workers, one call per block), and what stays here is O(k d).
#include "gpulearn/cluster/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "gpulearn/cluster/kmeans_data.hpp"
#include "primitives.hpp"

namespace gpulearn::cluster {

namespace {

using detail::Backend;
using detail::ClusterPrimitives;

using detail::NativeMatrix;
using detail::Scratch;

// The fit's inputs where the backend computes: views of the caller's data when it is there
// already, else copies (a CUDA context copies host data once; k-means reads X every iteration).
template <typename T>
struct NativeInputs {
  NativeMatrix<T> x_native, w_native;
  MatrixView<const T> X;
  VectorView<const T> w;

  NativeInputs(Backend& be, MatrixView<const T> X_in, VectorView<const T> w_in)
      : x_native(be, X_in), w_native(be, w_in.as_column()), X(x_native.view) {
    if (!w_in.empty()) {
      const MatrixView<const T> col = w_native.view;
      w = VectorView<const T>(col.data, col.rows, col.ld, col.space);
    }
  }
};

// A model a caller built: what the backends' assignment takes (1 to INT32_MAX centers).
template <typename T>
void check_model(const KMeansModel<T>& model) {
  GPULEARN_EXPECTS(model.n_clusters >= 1 && !model.centers.empty(),
                   "this KMeans model is not fitted yet: call fit first");
  GPULEARN_EXPECTS(model.n_clusters <= INT32_MAX && static_cast<int64_t>(model.centers.size()) ==
                                                        model.n_clusters * model.n_features,
                   "the model's centers must be n_clusters x n_features, with n_clusters at most ",
                   INT32_MAX);
}

template <typename T>
void check_common(Backend& be, MatrixView<const T> X, VectorView<const T> w) {
  GPULEARN_EXPECTS(X.rows >= 1, "Found array with 0 sample(s) (shape=(", X.rows, ", ", X.cols,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(X.cols >= 1, "Found array with 0 feature(s) (shape=(", X.rows, ", ", X.cols,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(w.empty() || w.size == X.rows, "sample_weight has ", w.size,
                   " entries but X has ", X.rows, " samples");
  GPULEARN_EXPECTS(w.empty() || w.space == X.space,
                   "X and sample_weight must both be in host memory or both in device memory");
  const T amax = detail::checked_input(be, X);
  // Squared distances of d features must stay finite in T (|x - c|^2 <= 4 d amax^2).
  const double limit = std::sqrt(static_cast<double>(std::numeric_limits<T>::max()) /
                                 (4.0 * static_cast<double>(X.cols)));
  GPULEARN_EXPECTS(static_cast<double>(amax) < limit, "X has entries up to ", amax,
                   " in magnitude: squared distances between its rows overflow ",
                   sizeof(T) == 4 ? "float32" : "float64", "; scale X (or use float64)");
  if (!w.empty()) {
    GPULEARN_EXPECTS(detail::checked_weights(be, w) > T(0),
                     "Sample weights must contain at least one non-zero number.");
  }
}

// labels (n, int32, in `space`) set to -1: no row has a cluster yet, so the next assignment
// counts every label as changed, and no uninitialised memory is read.
void unset_labels(Backend& be, int32_t* labels, MemorySpace space, int64_t n) {
  const std::vector<int32_t> unset(n, -1);
  be.copy(labels, space, unset.data(), MemorySpace::kHost, n * int64_t(sizeof(int32_t)));
}

// One run's state and the steps of the algorithm, over the data's passes.
template <typename T>
class Run {
 public:
  Run(KMeansData<T>& data, const KMeansParams& p, const std::vector<T>& mean, std::mt19937_64& rng)
      : data_(data),
        p_(p),
        mean_(mean),
        rng_(rng),
        n_(data.n_rows()),
        d_(data.n_features()),
        k_(p.n_clusters) {}

  // Centers (shifted frame) by k-means++: the first drawn by weight, each next the best of
  // n_local_trials candidates drawn proportionally to w * D^2, judged by the potential.
  std::vector<T> kmeans_plus_plus() {
    const int64_t trials = p_.n_local_trials > 0
                               ? p_.n_local_trials
                               : 2 + static_cast<int64_t>(std::log(static_cast<double>(k_)));
    std::vector<T> centers(k_ * d_);
    std::vector<T> row = draw_rows(1);
    std::copy(row.begin(), row.end(), centers.begin());
    data_.init_potentials(mean_.data(), row.data());
    std::vector<double> pot(trials);
    std::vector<int64_t> idx(trials);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int64_t c = 1; c < k_; ++c) {
      std::vector<double> u(trials);
      for (double& x : u) x = uniform(rng_);
      data_.weighted_draws(true, u.data(), trials, idx.data());
      std::vector<T> candidates = gather(idx);
      data_.candidate_potentials(mean_.data(), candidates.data(), trials, pot.data());
      const int64_t best = std::min_element(pot.begin(), pot.end()) - pot.begin();
      data_.take_candidate(best);
      std::copy_n(candidates.begin() + best * d_, d_, centers.begin() + c * d_);
    }
    data_.release_potentials();
    return centers;
  }

  // n_clusters distinct rows drawn with probability proportional to their weight.
  std::vector<T> random_rows() {
    std::vector<int64_t> chosen;
    std::set<int64_t> seen;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int attempt = 0; attempt < 100 && static_cast<int64_t>(chosen.size()) < k_; ++attempt) {
      std::vector<int64_t> idx(k_);
      std::vector<double> u(k_);
      for (double& x : u) x = uniform(rng_);
      if (!data_.has_weights()) {
        for (int64_t s = 0; s < k_; ++s) idx[s] = std::min<int64_t>(n_ - 1, u[s] * n_);
      } else {
        data_.weighted_draws(false, u.data(), k_, idx.data());
      }
      for (int64_t i : idx) {
        if (static_cast<int64_t>(chosen.size()) < k_ && seen.insert(i).second) chosen.push_back(i);
      }
    }
    for (int64_t i = 0; static_cast<int64_t>(chosen.size()) < k_; ++i) {  // heavy-tailed weights
      if (seen.insert(i).second) chosen.push_back(i);
    }
    return gather(chosen);
  }

  // k-means||: rounds of independent sampling with probability oversampling * k * w D^2 / phi,
  // the candidates weighted by the rows closest to them, then weighted k-means++ among the
  // candidates (on the host: there are few). Falls back to k-means++ when too few were drawn.
  std::vector<T> kmeans_parallel(uint64_t seed) {
    data_.reset_labels();
    std::vector<T> candidates = draw_rows(1);
    data_.init_potentials(mean_.data(), candidates.data());
    const double l = p_.oversampling_factor * static_cast<double>(k_);
    for (int r = 0; r < p_.parallel_rounds; ++r) {
      const double phi = data_.total(true);
      if (!(phi > 0)) break;  // every row sits on a candidate
      const std::vector<int64_t> idx =
          data_.independent_draws(l / phi, seed + 0x51ED27ull * (r + 1));
      if (idx.empty()) continue;
      std::vector<T> rows = gather(idx);
      data_.lower_potentials(mean_.data(), rows.data(), static_cast<int64_t>(idx.size()));
      candidates.insert(candidates.end(), rows.begin(), rows.end());
    }
    data_.release_potentials();
    const int64_t m = static_cast<int64_t>(candidates.size()) / d_;
    if (m < k_) return kmeans_plus_plus();
    std::vector<double> weights(m);
    data_.assign(mean_.data(), candidates.data(), m, true, false, nullptr, weights.data());
    // Weighted k-means++ among the candidates, on the host.
    Context host(Device::parse("cpu"));
    host.set_n_threads(1);
    std::vector<T> cw(weights.begin(), weights.end());
    LocalKMeansData<T> small(host, MatrixView<const T>(candidates.data(), m, d_),
                             VectorView<const T>(cw.data(), m), nullptr);
    const std::vector<T> zero(d_, T(0));  // the candidates are in the shifted frame already
    return Run<T>(small, p_, zero, rng_).kmeans_plus_plus();
  }

  // Lloyd's iterations from `centers` (shifted frame), as scikit-learn's _kmeans_single_lloyd:
  // stop when no label changes, or when the centers moved less than tol in total (squared).
  // Leaves the final labels in the data and returns the inertia.
  double lloyd(std::vector<T>& centers, double tol, int* n_iter) {
    data_.reset_labels();
    std::vector<double> sums(k_ * d_), weights(k_);
    std::vector<T> next(k_ * d_);
    int it = 0;
    for (; it < p_.max_iter; ++it) {
      const KMeansPassStats stats =
          data_.assign(mean_.data(), centers.data(), k_, true, false, sums.data(), weights.data());
      relocate_empty(centers, sums, weights);
      // A cluster still empty (duplicates, zero weights) sits on the heaviest one, as in
      // scikit-learn, rather than keeping a stale position.
      const int64_t heaviest = std::max_element(weights.begin(), weights.end()) - weights.begin();
      double shift = 0;
      for (int64_t j = 0; j < k_; ++j) {
        const int64_t src = weights[j] > 0 ? j : heaviest;
        for (int64_t l = 0; l < d_; ++l) {
          const T c = static_cast<T>(sums[src * d_ + l] / weights[src]);
          const double delta = static_cast<double>(c) - centers[j * d_ + l];
          shift += delta * delta;
          next[j * d_ + l] = c;
        }
      }
      centers.swap(next);
      if (stats.changed == 0) break;  // strict convergence
      if (shift <= tol) break;
    }
    *n_iter = std::min(it + 1, p_.max_iter);
    // The labels and inertia of the final centers, whether or not the labels had settled.
    return data_.assign(mean_.data(), centers.data(), k_, true, false, nullptr, nullptr).inertia;
  }

 private:
  // Empty clusters take the rows farthest from their centers (scikit-learn's relocation): the
  // row's weighted contribution moves from its cluster to the empty one.
  void relocate_empty(const std::vector<T>& centers, std::vector<double>& sums,
                      std::vector<double>& weights) {
    std::vector<int64_t> empty;
    for (int64_t j = 0; j < k_; ++j) {
      if (weights[j] == 0) empty.push_back(j);
    }
    if (empty.empty()) return;
    data_.assign(mean_.data(), centers.data(), k_, true, true, nullptr, nullptr);
    const int64_t m = static_cast<int64_t>(empty.size());
    std::vector<int64_t> far(m);
    data_.largest_distances(m, far.data(), nullptr);
    std::vector<int32_t> old_of(m);
    std::vector<double> weight_of(m);
    const std::vector<T> rows = gather(far, old_of.data(), weight_of.data());
    double farthest = 0;  // measured directly: duplicates give exactly 0, as in scikit-learn
    for (int64_t e = 0; e < m; ++e) {
      double dist2 = 0;
      for (int64_t l = 0; l < d_; ++l) {
        const double v = static_cast<double>(rows[e * d_ + l]) - centers[old_of[e] * d_ + l];
        dist2 += v * v;
      }
      farthest = std::max(farthest, dist2);
    }
    if (farthest == 0) return;  // more clusters than distinct rows: nothing to relocate
    for (int64_t e = 0; e < m; ++e) {
      const int32_t old = old_of[e];
      const double wi = weight_of[e];
      for (int64_t l = 0; l < d_; ++l) {
        const double x = wi * static_cast<double>(rows[e * d_ + l]);
        sums[old * d_ + l] -= x;
        sums[empty[e] * d_ + l] = x;
      }
      weights[old] -= wi;
      weights[empty[e]] = wi;
    }
  }

  // t rows drawn with probability proportional to their weight (uniform without weights).
  std::vector<T> draw_rows(int64_t t) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> u(t);
    for (double& x : u) x = uniform(rng_);
    std::vector<int64_t> idx(t);
    if (!data_.has_weights()) {
      for (int64_t s = 0; s < t; ++s) idx[s] = std::min<int64_t>(n_ - 1, u[s] * n_);
    } else {
      data_.weighted_draws(false, u.data(), t, idx.data());
    }
    return gather(idx);
  }

  // Rows idx of X, shifted by the mean, into host memory (with their labels and weights where
  // asked).
  std::vector<T> gather(const std::vector<int64_t>& idx, int32_t* labels = nullptr,
                        double* weights = nullptr) {
    std::vector<T> rows(idx.size() * d_);
    data_.rows(idx.data(), static_cast<int64_t>(idx.size()), rows.data(), labels, weights);
    for (size_t s = 0; s < idx.size(); ++s) {
      for (int64_t l = 0; l < d_; ++l) rows[s * d_ + l] -= mean_[l];
    }
    return rows;
  }

  KMeansData<T>& data_;
  const KMeansParams& p_;
  const std::vector<T>& mean_;
  std::mt19937_64& rng_;
  int64_t n_, d_, k_;
};

// The model's centers relative to their mean, and that mean: distances computed in this frame
// keep their digits when the data sit far from the origin (|x|^2 and 2 x.c would cancel).
template <typename T>
struct CentredCenters {
  std::vector<T> shift, centers;
  explicit CentredCenters(const KMeansModel<T>& m) : shift(m.n_features, T(0)), centers(m.centers) {
    const int64_t k = m.n_clusters, d = m.n_features;
    for (int64_t l = 0; l < d; ++l) {
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += m.centers[j * d + l];
      shift[l] = static_cast<T>(s / k);
    }
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t l = 0; l < d; ++l) centers[j * d + l] -= shift[l];
    }
  }
};

}  // namespace

template <typename T>
KMeansModel<T> kmeans_fit(const KMeansParams& p, KMeansData<T>& data, const T* init_centers) {
  const int64_t n = data.n_rows(), d = data.n_features(), k = p.n_clusters;
  GPULEARN_EXPECTS(n >= 1, "Found array with 0 sample(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(d >= 1, "Found array with 0 feature(s) (shape=(", n, ", ", d,
                   ")) while a minimum of 1 is required.");
  const KMeansDataRange range = data.check();
  // Squared distances of d features must stay finite in T (|x - c|^2 <= 4 d amax^2).
  const double limit = std::sqrt(static_cast<double>(std::numeric_limits<T>::max()) /
                                 (4.0 * static_cast<double>(d)));
  GPULEARN_EXPECTS(range.max_abs_x < limit, "X has entries up to ", static_cast<T>(range.max_abs_x),
                   " in magnitude: squared distances between its rows overflow ",
                   sizeof(T) == 4 ? "float32" : "float64", "; scale X (or use float64)");
  if (data.has_weights()) {
    GPULEARN_EXPECTS(range.max_weight > 0,
                     "Sample weights must contain at least one non-zero number.");
  }
  GPULEARN_EXPECTS(p.n_clusters >= 1, "n_clusters must be at least 1, got ", p.n_clusters);
  // Labels are int32: the backends' assignment takes at most INT32_MAX centers.
  GPULEARN_EXPECTS(p.n_clusters <= INT32_MAX, "n_clusters must be at most ", INT32_MAX, ", got ",
                   p.n_clusters);
  GPULEARN_EXPECTS(n >= p.n_clusters, "n_samples=", n, " should be >= n_clusters=", p.n_clusters,
                   ".");
  GPULEARN_EXPECTS(p.n_init >= 1, "n_init must be at least 1, got ", p.n_init);
  GPULEARN_EXPECTS(p.max_iter >= 1, "max_iter must be at least 1, got ", p.max_iter);
  GPULEARN_EXPECTS(p.tol >= 0, "tol must be non-negative, got ", p.tol);
  GPULEARN_EXPECTS(p.init != KMeansInit::kArray || init_centers != nullptr,
                   "init is an array but no centers were given");
  GPULEARN_EXPECTS(p.parallel_rounds >= 1 && p.oversampling_factor > 0,
                   "k-means|| needs at least one round and a positive oversampling factor");

  // The data's mean (unweighted, as scikit-learn centres), and its mean variance for tol: one
  // assignment pass each with a single center.
  std::vector<T> mean(d, T(0));
  double tol = 0;
  {
    data.reset_labels();
    std::vector<double> sums(d), count(1);
    std::vector<T> origin(d, T(0));
    data.assign(nullptr, origin.data(), 1, false, false, sums.data(), count.data());
    for (int64_t l = 0; l < d; ++l) mean[l] = static_cast<T>(sums[l] / count[0]);
    if (p.tol > 0) {
      const double ss =
          data.assign(mean.data(), origin.data(), 1, false, false, nullptr, nullptr).inertia;
      tol = p.tol * ss / (static_cast<double>(n) * static_cast<double>(d));
    }
  }

  std::mt19937_64 rng(p.seed);
  KMeansModel<T> best;
  best.n_clusters = k;
  best.n_features = d;
  best.tol = tol;
  bool have_best = false;
  for (int r = 0; r < p.n_init; ++r) {
    Run<T> run(data, p, mean, rng);
    std::vector<T> centers;
    switch (p.init) {
      case KMeansInit::kKMeansPlusPlus:
        centers = run.kmeans_plus_plus();
        break;
      case KMeansInit::kRandom:
        centers = run.random_rows();
        break;
      case KMeansInit::kParallel:
        centers = run.kmeans_parallel(rng());
        break;
      case KMeansInit::kArray:
        centers.assign(init_centers, init_centers + k * d);
        for (int64_t j = 0; j < k; ++j) {
          for (int64_t l = 0; l < d; ++l) centers[j * d + l] -= mean[l];
        }
        break;
    }
    int n_iter = 0;
    const double inertia = run.lloyd(centers, tol, &n_iter);
    if (!have_best || inertia < best.inertia) {
      have_best = true;
      best.inertia = inertia;
      best.n_iter = n_iter;
      best.centers = centers;
      data.keep_labels();
    }
  }
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t l = 0; l < d; ++l) best.centers[j * d + l] += mean[l];
  }
  return best;
}

template <typename T>
KMeansModel<T> kmeans_fit(Context& ctx, const KMeansParams& p, MatrixView<const T> X,
                          VectorView<const T> sample_weight, const T* init_centers,
                          int32_t* labels) {
  // The checks that only one matrix has; the driver checks the rest, in check_common's order.
  GPULEARN_EXPECTS(X.rows >= 1, "Found array with 0 sample(s) (shape=(", X.rows, ", ", X.cols,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(X.cols >= 1, "Found array with 0 feature(s) (shape=(", X.rows, ", ", X.cols,
                   ")) while a minimum of 1 is required.");
  GPULEARN_EXPECTS(sample_weight.empty() || sample_weight.size == X.rows, "sample_weight has ",
                   sample_weight.size, " entries but X has ", X.rows, " samples");
  GPULEARN_EXPECTS(sample_weight.empty() || sample_weight.space == X.space,
                   "X and sample_weight must both be in host memory or both in device memory");
  LocalKMeansData<T> data(ctx, X, sample_weight, labels);
  return kmeans_fit<T>(p, data, init_centers);
}

template <typename T>
double kmeans_predict(Context& ctx, const KMeansModel<T>& model, MatrixView<const T> X,
                      VectorView<const T> sample_weight, int32_t* labels) {
  Backend& be = ctx.backend();
  check_model(model);
  GPULEARN_EXPECTS(X.cols == model.n_features, "X has ", X.cols, " features, but the model ",
                   "is expecting ", model.n_features, " features as input.");
  check_common(be, X, sample_weight);
  NativeInputs<T> in(be, X, sample_weight);
  Scratch<int32_t> native_labels;
  int32_t* out = labels;
  if (X.space != be.native_space()) {
    native_labels = Scratch<int32_t>(be, X.rows);
    out = native_labels.data;
  }
  unset_labels(be, out, be.native_space(), X.rows);
  const CentredCenters<T> frame(model);
  const double inertia = be.primitives<ClusterPrimitives<T>>()
                             .kmeans_assign(in.X, in.w, frame.shift.data(), frame.centers.data(),
                                            model.n_clusters, out, nullptr, nullptr, nullptr)
                             .inertia;
  if (out != labels) {
    be.copy(labels, X.space, out, be.native_space(), X.rows * int64_t(sizeof(int32_t)));
  }
  return inertia;
}

template <typename T>
void kmeans_sq_distances(Context& ctx, const KMeansModel<T>& model, MatrixView<const T> X,
                         MatrixView<T> out) {
  Backend& be = ctx.backend();
  check_model(model);
  GPULEARN_EXPECTS(X.cols == model.n_features, "X has ", X.cols, " features, but the model ",
                   "is expecting ", model.n_features, " features as input.");
  GPULEARN_EXPECTS(out.rows == X.rows && out.cols == model.n_clusters, "output has shape (",
                   out.rows, ", ", out.cols, "), expected (", X.rows, ", ", model.n_clusters, ")");
  GPULEARN_EXPECTS(out.space == X.space, "X and the output must be in the same memory space");
  check_common(be, X, VectorView<const T>());
  NativeInputs<T> in(be, X, VectorView<const T>());
  const CentredCenters<T> frame(model);
  if (X.space == be.native_space()) {
    be.primitives<ClusterPrimitives<T>>().sq_distances(in.X, frame.shift.data(),
                                                       frame.centers.data(), model.n_clusters, out);
    return;
  }
  Scratch<T> native(be, checked_mul(X.rows, model.n_clusters));
  const MatrixView<T> tmp(native.data, X.rows, model.n_clusters, model.n_clusters,
                          be.native_space());
  be.primitives<ClusterPrimitives<T>>().sq_distances(in.X, frame.shift.data(), frame.centers.data(),
                                                     model.n_clusters, tmp);
  if (out.contiguous()) {
    be.copy(out.data, out.space, tmp.data, be.native_space(), tmp.size() * int64_t(sizeof(T)));
    return;
  }
  std::vector<T> packed(tmp.size());
  be.copy(packed.data(), MemorySpace::kHost, tmp.data, be.native_space(),
          tmp.size() * int64_t(sizeof(T)));
  for (int64_t i = 0; i < X.rows; ++i) {
    std::copy_n(&packed[i * model.n_clusters], model.n_clusters, out.row(i));
  }
}

#define GPULEARN_INSTANTIATE(T)                                                              \
  template KMeansModel<T> kmeans_fit<T>(Context&, const KMeansParams&, MatrixView<const T>,  \
                                        VectorView<const T>, const T*, int32_t*);            \
  template KMeansModel<T> kmeans_fit<T>(const KMeansParams&, KMeansData<T>&, const T*);      \
  template double kmeans_predict<T>(Context&, const KMeansModel<T>&, MatrixView<const T>,    \
                                    VectorView<const T>, int32_t*);                          \
  template void kmeans_sq_distances<T>(Context&, const KMeansModel<T>&, MatrixView<const T>, \
                                       MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::cluster
