// LocalKMeansData: k-means' passes over one matrix, each one call of the backend's cluster
// primitives, with the per-row state in the backend's native memory. The single-machine fit
// runs the driver over one of these for all of X; a distributed fit runs one per block, the
// caller keeping the block's state between calls.
#include "gpulearn/cluster/kmeans_data.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "kmeans_row_state.hpp"
#include "primitives.hpp"

namespace gpulearn::cluster {

template <typename T>
struct LocalKMeansData<T>::Impl : detail::KMeansRowStates<T> {
  MatrixView<const T> X_in;
  // X where the backend computes: made on the first pass (a CUDA context copies host data
  // once), never before the checks.
  std::optional<detail::NativeMatrix<T>> x_native;

  Impl(Context& ctx, MatrixView<const T> X, VectorView<const T> w)
      : detail::KMeansRowStates<T>(ctx.backend(), X.rows, X.space, w), X_in(X) {}

  MatrixView<const T> X() {
    if (!x_native) x_native.emplace(this->be, X_in);
    return x_native->view;
  }
};

template <typename T>
LocalKMeansData<T>::LocalKMeansData(Context& ctx, MatrixView<const T> X, VectorView<const T> w,
                                    int32_t* labels_out)
    : impl_(std::make_unique<Impl>(ctx, X, w)) {
  impl_->best = labels_out;
}

template <typename T>
LocalKMeansData<T>::LocalKMeansData(Context& ctx, MatrixView<const T> X, VectorView<const T> w,
                                    int64_t offset, const KMeansRowState<T>& state)
    : impl_(std::make_unique<Impl>(ctx, X, w)) {
  Impl& s = *impl_;
  GPULEARN_EXPECTS(offset >= 0, "a block's row offset must be non-negative");
  GPULEARN_EXPECTS(w.empty() || w.size == X.rows, "sample_weight has ", w.size,
                   " entries but X has ", X.rows, " samples");
  s.offset = offset;
  s.best = state.best_labels;
  s.labels.caller = state.labels;
  s.dist.caller = state.distances;
  s.pot.caller = state.potentials;
  s.cand.caller = state.candidates;
  s.n_cand = state.n_candidates;
  s.labels.name = "labels";
  s.dist.name = "distances";
  s.pot.name = "potentials";
  s.cand.name = "candidates";
  s.labels.borrowed = s.dist.borrowed = s.pot.borrowed = s.cand.borrowed = true;
  for (MemorySpace* space :
       {&s.labels.caller_space, &s.dist.caller_space, &s.pot.caller_space, &s.cand.caller_space}) {
    *space = X.space;
  }
}

template <typename T>
LocalKMeansData<T>::~LocalKMeansData() = default;

template <typename T>
void LocalKMeansData<T>::flush() {
  Impl& s = *impl_;
  s.labels.flush(s.be);
  s.dist.flush(s.be);
  s.pot.flush(s.be);
  s.cand.flush(s.be);
}

template <typename T>
int64_t LocalKMeansData<T>::n_rows() {
  return impl_->n();
}
template <typename T>
int64_t LocalKMeansData<T>::n_features() {
  return impl_->X_in.cols;
}
template <typename T>
bool LocalKMeansData<T>::has_weights() {
  return !impl_->w_in.empty();
}

template <typename T>
KMeansDataRange LocalKMeansData<T>::check() {
  Impl& s = *impl_;
  KMeansDataRange r;
  r.max_abs_x = static_cast<double>(detail::checked_input(s.be, s.X_in));
  if (!s.w_in.empty()) {
    r.max_weight = static_cast<double>(detail::checked_weights(s.be, s.w_in));
  }
  return r;
}

template <typename T>
void LocalKMeansData<T>::reset_labels() {
  impl_->reset_labels();
}

template <typename T>
KMeansPassStats LocalKMeansData<T>::assign(const T* shift, const T* centers, int64_t k,
                                           bool weighted, bool keep_distances, double* sums,
                                           double* weights) {
  Impl& s = *impl_;
  std::vector<double> sums_only_for_weights;
  if (weights != nullptr && sums == nullptr) {  // the primitive computes both together
    sums_only_for_weights.resize(k * s.X_in.cols);
    sums = sums_only_for_weights.data();
  }
  int32_t* labels = s.labels.get(s.be, s.n(), true, true);
  T* dist = keep_distances ? s.dist.get(s.be, s.n(), false, true) : nullptr;
  const detail::KMeansStepStats stats =
      s.km.kmeans_assign(s.X(), weighted ? s.w() : VectorView<const T>(), shift, centers, k, labels,
                         dist, weights != nullptr ? sums : nullptr, weights);
  return KMeansPassStats{stats.inertia, stats.changed};
}

template <typename T>
void LocalKMeansData<T>::keep_labels() {
  impl_->keep_labels();
}

template <typename T>
void LocalKMeansData<T>::init_potentials(const T* shift, const T* center) {
  Impl& s = *impl_;
  s.km.sq_distances(s.X(), shift, center, 1, s.columns(s.pot.get(s.be, s.n(), false, true), 1));
}

template <typename T>
void LocalKMeansData<T>::candidate_potentials(const T* shift, const T* candidates, int64_t t,
                                              double* out) {
  Impl& s = *impl_;
  GPULEARN_EXPECTS(s.cand.caller == nullptr || s.n_cand == t,
                   "k-means: the candidate distances hold ", s.n_cand, " columns, not ", t);
  s.n_cand = t;
  const MatrixView<T> D = s.columns(s.cand.get(s.be, checked_mul(s.n(), t), false, true), t);
  s.km.sq_distances(s.X(), shift, candidates, t, D);
  s.km.min_potentials(s.pot_view(false), D, s.w(), out);
}

template <typename T>
void LocalKMeansData<T>::take_candidate(int64_t c) {
  impl_->take_candidate(c);
}

template <typename T>
double LocalKMeansData<T>::total(bool by_potentials) {
  return impl_->total(by_potentials);
}

template <typename T>
void LocalKMeansData<T>::lower_potentials(const T* shift, const T* candidates, int64_t m) {
  Impl& s = *impl_;
  // One assignment pass gives each row's distance to the nearest candidate (tiled: never n x m
  // at once); the potentials keep the smaller of the two.
  int32_t* labels = s.labels.get(s.be, s.n(), true, true);
  T* nearest = s.dist.get(s.be, s.n(), false, true);
  s.km.kmeans_assign(s.X(), VectorView<const T>(), shift, candidates, m, labels, nearest, nullptr,
                     nullptr);
  s.km.min_update(s.pot_view(true), s.columns(nearest, 1), 0);
}

template <typename T>
void LocalKMeansData<T>::release_potentials() {
  impl_->release_potentials();
}

template <typename T>
void LocalKMeansData<T>::weighted_draws(bool by_potentials, const double* u, int64_t t,
                                        int64_t* idx) {
  impl_->weighted_draws(by_potentials, u, t, idx);
}

template <typename T>
std::vector<int64_t> LocalKMeansData<T>::independent_draws(double scale, uint64_t seed) {
  return impl_->independent_draws(scale, seed);
}

template <typename T>
void LocalKMeansData<T>::largest_distances(int64_t m, int64_t* idx, T* values) {
  impl_->largest_distances(m, idx, values);
}

template <typename T>
void LocalKMeansData<T>::rows(const int64_t* idx, int64_t t, T* out, int32_t* labels,
                              double* weights) {
  Impl& s = *impl_;
  const MatrixView<const T> X = s.X();
  const int64_t d = X.cols;
  for (int64_t j = 0; j < t; ++j) {
    s.be.copy(out + j * d, MemorySpace::kHost, X.row(s.local_row(idx[j])), s.native(),
              d * int64_t(sizeof(T)));
  }
  s.row_labels_weights(idx, t, labels, weights);
}

template class LocalKMeansData<float>;
template class LocalKMeansData<double>;

}  // namespace gpulearn::cluster
