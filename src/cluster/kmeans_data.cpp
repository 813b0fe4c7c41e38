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
#include "../core/hash_uniform.hpp"
#include "../core/native.hpp"
#include "primitives.hpp"

namespace gpulearn::cluster {

namespace {

using detail::Backend;
using detail::ClusterPrimitives;
using detail::NativeMatrix;
using detail::Scratch;

// hash_uniform(seed, i) adds 0x9E3779B97F4A7C15 (i + 1) to the seed before mixing, so the draw
// of global row offset + i is hash_uniform(seed + 0x9E3779B97F4A7C15 offset, i): a block draws
// its rows' global numbers with the unchanged primitive.
constexpr uint64_t kHashStep = 0x9E3779B97F4A7C15ull;

uint64_t seed_at(uint64_t seed, int64_t offset) {
  return seed + kHashStep * static_cast<uint64_t>(offset);
}

// One per-row array: the caller's (block mode) or owned (allocated on first use). `data` is in
// the backend's native memory; a caller's array elsewhere is copied in on first read and back
// by flush() once written.
template <typename U>
struct StateArray {
  const char* name = "";
  bool borrowed = false;  // block mode: the caller keeps the array, which must then be given
  U* caller = nullptr;
  MemorySpace caller_space = MemorySpace::kHost;
  Scratch<U> own;
  int64_t own_size = 0;
  U* data = nullptr;
  int64_t size = 0;
  bool written = false;

  U* get(Backend& be, int64_t n, bool read, bool write) {
    GPULEARN_EXPECTS(!borrowed || caller != nullptr || n == 0,
                     "k-means: this pass needs the block's per-row state '", name,
                     "', which was not given");
    if (caller == nullptr) {  // owned: grows to the largest size asked for
      if (own_size < n) {
        own = Scratch<U>(be, n);
        own_size = n;
      }
      data = own.data;
    } else if (caller_space == be.native_space()) {
      data = caller;
    } else if (data == nullptr) {
      own = Scratch<U>(be, n);
      data = own.data;
      if (read) be.copy(data, be.native_space(), caller, caller_space, n * int64_t(sizeof(U)));
    }
    size = n;
    written = written || write;
    return data;
  }
  void flush(Backend& be) {
    if (caller != nullptr && written && data != caller) {
      be.copy(caller, caller_space, data, be.native_space(), size * int64_t(sizeof(U)));
    }
    written = false;
  }
  void release() {
    if (caller == nullptr) {
      own = Scratch<U>();
      own_size = 0;
      data = nullptr;
    }
  }
};

}  // namespace

template <typename T>
struct LocalKMeansData<T>::Impl {
  Backend& be;
  ClusterPrimitives<T>& km;
  MatrixView<const T> X_in;
  VectorView<const T> w_in;
  int64_t offset = 0;
  int32_t* best = nullptr;  // X's memory space
  // X and w where the backend computes: made on the first pass (a CUDA context copies host
  // data once), never before the checks.
  std::optional<NativeMatrix<T>> x_native, w_native;
  StateArray<int32_t> labels;
  StateArray<T> dist, pot, cand;
  int64_t n_cand = 0;

  Impl(Context& ctx, MatrixView<const T> X, VectorView<const T> w)
      : be(ctx.backend()), km(be.primitives<ClusterPrimitives<T>>()), X_in(X), w_in(w) {}

  int64_t n() const { return X_in.rows; }
  MemorySpace native() const { return be.native_space(); }

  MatrixView<const T> X() {
    if (!x_native) x_native.emplace(be, X_in);
    return x_native->view;
  }
  VectorView<const T> w() {
    if (w_in.empty()) return VectorView<const T>();
    if (!w_native) w_native.emplace(be, w_in.as_column());
    const MatrixView<const T> col = w_native->view;
    return VectorView<const T>(col.data, col.rows, col.ld, col.space);
  }
  VectorView<T> pot_view(bool write) {
    return VectorView<T>(pot.get(be, n(), true, write), n(), 1, native());
  }
  MatrixView<T> column(T* data, int64_t cols) {
    return MatrixView<T>(data, n(), cols, cols, native());
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
  return impl_->X_in.rows;
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
  Impl& s = *impl_;
  int32_t* labels = s.labels.get(s.be, s.n(), false, true);
  const std::vector<int32_t> unset(s.n(), -1);
  s.be.copy(labels, s.native(), unset.data(), MemorySpace::kHost, s.n() * int64_t(sizeof(int32_t)));
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
  Impl& s = *impl_;
  if (s.best == nullptr) return;
  const int32_t* labels = s.labels.get(s.be, s.n(), true, false);
  s.be.copy(s.best, s.X_in.space, labels, s.native(), s.n() * int64_t(sizeof(int32_t)));
}

template <typename T>
void LocalKMeansData<T>::init_potentials(const T* shift, const T* center) {
  Impl& s = *impl_;
  s.km.sq_distances(s.X(), shift, center, 1, s.column(s.pot.get(s.be, s.n(), false, true), 1));
}

template <typename T>
void LocalKMeansData<T>::candidate_potentials(const T* shift, const T* candidates, int64_t t,
                                              double* out) {
  Impl& s = *impl_;
  GPULEARN_EXPECTS(s.cand.caller == nullptr || s.n_cand == t,
                   "k-means: the candidate distances hold ", s.n_cand, " columns, not ", t);
  s.n_cand = t;
  const MatrixView<T> D = s.column(s.cand.get(s.be, checked_mul(s.n(), t), false, true), t);
  s.km.sq_distances(s.X(), shift, candidates, t, D);
  s.km.min_potentials(s.pot_view(false), D, s.w(), out);
}

template <typename T>
void LocalKMeansData<T>::take_candidate(int64_t c) {
  Impl& s = *impl_;
  const MatrixView<T> D = s.column(s.cand.get(s.be, s.n() * s.n_cand, true, false), s.n_cand);
  s.km.min_update(s.pot_view(true), D, c);
}

template <typename T>
double LocalKMeansData<T>::total(bool by_potentials) {
  Impl& s = *impl_;
  double sum = 0;
  if (by_potentials) {
    const VectorView<T> p = s.pot_view(false);
    s.km.min_potentials(p, s.column(p.data, 1), s.w(), &sum);
  } else if (!s.w_in.empty()) {  // sum_i min(w_i, w_i), unweighted
    const VectorView<const T> w = s.w();
    s.km.min_potentials(w, MatrixView<const T>(w.data, w.size, 1, w.stride, w.space),
                        VectorView<const T>(), &sum);
  } else {
    sum = static_cast<double>(s.n());
  }
  return sum;
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
  s.km.min_update(s.pot_view(true), s.column(nearest, 1), 0);
}

template <typename T>
void LocalKMeansData<T>::release_potentials() {
  impl_->pot.release();
  impl_->cand.release();
}

template <typename T>
void LocalKMeansData<T>::weighted_draws(bool by_potentials, const double* u, int64_t t,
                                        int64_t* idx) {
  Impl& s = *impl_;
  const VectorView<const T> p =
      by_potentials ? VectorView<const T>(s.pot_view(false)) : VectorView<const T>();
  s.km.weighted_draws(p, s.w(), u, t, idx);
  for (int64_t j = 0; j < t; ++j) idx[j] += s.offset;
}

template <typename T>
std::vector<int64_t> LocalKMeansData<T>::independent_draws(double scale, uint64_t seed) {
  Impl& s = *impl_;
  std::vector<int64_t> idx =
      s.km.independent_draws(s.pot_view(false), s.w(), scale, seed_at(seed, s.offset));
  for (int64_t& i : idx) i += s.offset;
  return idx;
}

template <typename T>
void LocalKMeansData<T>::largest_distances(int64_t m, int64_t* idx, T* values) {
  Impl& s = *impl_;
  const T* dist = s.dist.get(s.be, s.n(), true, false);
  s.km.largest(VectorView<const T>(dist, s.n(), 1, s.native()), m, idx);
  for (int64_t j = 0; j < m; ++j) {
    if (values != nullptr) {
      s.be.copy(values + j, MemorySpace::kHost, dist + idx[j], s.native(), sizeof(T));
    }
    idx[j] += s.offset;
  }
}

template <typename T>
void LocalKMeansData<T>::rows(const int64_t* idx, int64_t t, T* out, int32_t* labels,
                              double* weights) {
  Impl& s = *impl_;
  const MatrixView<const T> X = s.X();
  const int64_t d = X.cols;
  const int32_t* held = labels != nullptr ? s.labels.get(s.be, s.n(), true, false) : nullptr;
  const VectorView<const T> w = weights != nullptr ? s.w() : VectorView<const T>();
  for (int64_t j = 0; j < t; ++j) {
    const int64_t i = idx[j] - s.offset;
    GPULEARN_EXPECTS(i >= 0 && i < s.n(), "k-means: row ", idx[j], " is not in this block");
    s.be.copy(out + j * d, MemorySpace::kHost, X.row(i), s.native(), d * int64_t(sizeof(T)));
    if (held != nullptr) {
      s.be.copy(labels + j, MemorySpace::kHost, held + i, s.native(), sizeof(int32_t));
    }
    if (weights != nullptr) {
      T wi = 1;
      if (!w.empty()) {
        s.be.copy(&wi, MemorySpace::kHost, w.data + i * w.stride, s.native(), sizeof(T));
      }
      weights[j] = wi;
    }
  }
}

template class LocalKMeansData<float>;
template class LocalKMeansData<double>;

}  // namespace gpulearn::cluster
