// SparseKMeansData: k-means' passes over one CSR matrix, so that the one driver
// (src/cluster/kmeans.cpp) fits sparse X unchanged. X is never densified nor shifted: the
// driver's shift s is folded into the centers, |x - s - c|^2 = |x|^2 - 2 x.(s + c) + |s + c|^2,
// each pass one sparse product X (s + C)^T (SparsePrimitives::multiply) by blocks of rows, then
// the cluster primitives' dots_to_sq_distances and assign_sparse. Per-row state lives in the
// backend's native memory, so the same code runs wherever the primitives exist.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../sparse/native_csr.hpp"
#include "../sparse/primitives.hpp"
#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/cluster/kmeans_data.hpp"
#include "kmeans_row_state.hpp"
#include "primitives.hpp"

namespace gpulearn::cluster {

namespace {

using detail::Scratch;
using detail::SparsePrimitives;

// Dot products held at once by an assignment pass (rows per block = this / k): 4 Mi entries,
// 16 or 32 MiB, whatever n.
constexpr int64_t kBlockEntries = int64_t{1} << 22;

using detail::NativeCsr;

}  // namespace

template <typename T>
struct SparseKMeansData<T>::Impl : detail::KMeansRowStates<T> {
  using Base = detail::KMeansRowStates<T>;
  using Base::be;
  using Base::km;
  using Base::n;
  using Base::native;
  SparsePrimitives<T>& sp;
  CsrView<T> X_in;
  // X and |x_i|^2 where the backend computes: made on first use, never before the checks.
  std::optional<NativeCsr<T>> x_native;
  detail::KMeansStateArray<T> x_sq;
  bool have_x_sq = false;

  Impl(Context& ctx, CsrView<T> X, VectorView<const T> w)
      : Base(ctx.backend(), X.rows, X.space, w),
        sp(ctx.backend().primitives<SparsePrimitives<T>>()),
        X_in(X) {}

  int64_t d() const { return X_in.cols; }

  CsrView<T> X() {
    if (!x_native) x_native.emplace(be, X_in);
    return x_native->view;
  }
  const T* row_norms() {
    T* sq = x_sq.get(be, n(), false, true);
    if (!have_x_sq) {
      sp.row_norms_sq(X(), sq);
      have_x_sq = true;
    }
    return sq;
  }

  // B = (s + C)^T (d x k, host) and |s + c_j|^2 in double, from the rounded entries of B.
  // Blocked over features, so that the transposed writes stay in cache (this runs on every
  // predict call); each c_sq[j] still adds its terms in ascending l.
  void shifted_centers(const T* shift, const T* centers, int64_t k, std::vector<T>& B,
                       std::vector<double>& c_sq) const {
    const int64_t dd = d();
    B.resize(checked_mul(dd, k));
    c_sq.assign(k, 0.0);
    constexpr int64_t kBlock = 16;
    for (int64_t l0 = 0; l0 < dd; l0 += kBlock) {
      const int64_t l1 = std::min(dd, l0 + kBlock);
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t l = l0; l < l1; ++l) {
          const T b = centers[j * dd + l] + (shift != nullptr ? shift[l] : T(0));
          B[l * k + j] = b;
          c_sq[j] += static_cast<double>(b) * static_cast<double>(b);
        }
      }
    }
  }

  // out (n x k, native, contiguous) = squared distances to the k centers, in one product.
  void distances(const T* shift, const T* centers, int64_t k, MatrixView<T> out) {
    std::vector<T> B;
    std::vector<double> c_sq;
    shifted_centers(shift, centers, k, B, c_sq);
    const T* sq = row_norms();
    sp.multiply(X(), B.data(), k, out);
    km.dots_to_sq_distances(VectorView<const T>(sq, n(), 1, native()), c_sq.data(), out);
  }

  // One assignment pass by blocks of rows (the split depends on n and k alone): labels (native)
  // updated, dist (native, may be null) the distance to the chosen center; sums (k x d) and
  // weights (k), each may be null, receive the per-cluster sums of w_i (x_i - s) and w_i.
  KMeansPassStats pass(const T* shift, const T* centers, int64_t k, VectorView<const T> w,
                       int32_t* lab, T* dist_out, double* sums, double* weights) {
    const int64_t rows = n(), dd = d();
    std::vector<T> B;
    std::vector<double> c_sq;
    shifted_centers(shift, centers, k, B, c_sq);
    std::vector<double> own_weights;
    if (sums != nullptr && weights == nullptr) {  // the shift's correction needs them
      own_weights.resize(k);
      weights = own_weights.data();
    }
    if (sums != nullptr) std::fill(sums, sums + k * dd, 0.0);
    if (weights != nullptr) std::fill(weights, weights + k, 0.0);
    const T* sq = row_norms();
    const CsrView<T> Xn = X();
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(rows, kBlockEntries / k));
    Scratch<T> dots(be, checked_mul(block, k));
    KMeansPassStats stats;
    for (int64_t b0 = 0; b0 < rows; b0 += block) {
      const int64_t m = std::min(block, rows - b0);
      const CsrView<T> Xb = Xn.block_rows(b0, m);
      const MatrixView<T> D(dots.data, m, k, k, native());
      sp.multiply(Xb, B.data(), k, D);
      km.dots_to_sq_distances(VectorView<const T>(sq + b0, m, 1, native()), c_sq.data(), D);
      const VectorView<const T> wb =
          w.empty() ? w : VectorView<const T>(w.data + b0 * w.stride, m, w.stride, w.space);
      const detail::KMeansStepStats st = km.assign_sparse(
          D, Xb, wb, lab + b0, dist_out != nullptr ? dist_out + b0 : nullptr, sums, weights);
      stats.inertia += st.inertia;
      stats.changed += st.changed;
    }
    if (sums != nullptr && shift != nullptr) {  // sum w_i (x_i - s) = sum w_i x_i - W s
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t l = 0; l < dd; ++l) sums[j * dd + l] -= weights[j] * shift[l];
      }
    }
    return stats;
  }
};

template <typename T>
SparseKMeansData<T>::SparseKMeansData(Context& ctx, CsrView<T> X, VectorView<const T> w,
                                      int32_t* labels_out)
    : impl_(std::make_unique<Impl>(ctx, X, w)) {
  GPULEARN_EXPECTS(w.empty() || w.size == X.rows, "sample_weight has ", w.size,
                   " entries but X has ", X.rows, " samples");
  GPULEARN_EXPECTS(w.empty() || w.space == X.space,
                   "X and sample_weight must both be in host memory or both in device memory");
  impl_->best = labels_out;
}

template <typename T>
SparseKMeansData<T>::~SparseKMeansData() = default;

template <typename T>
int64_t SparseKMeansData<T>::n_rows() {
  return impl_->n();
}
template <typename T>
int64_t SparseKMeansData<T>::n_features() {
  return impl_->d();
}
template <typename T>
bool SparseKMeansData<T>::has_weights() {
  return !impl_->w_in.empty();
}

template <typename T>
KMeansDataRange SparseKMeansData<T>::check() {
  Impl& s = *impl_;
  detail::require_readable(s.be, s.X_in.space, "X");
  KMeansDataRange r;
  // The stored values only: the implicit zeros are finite. Same words as the dense check.
  const T amax = s.sp.max_abs(s.X());
  GPULEARN_EXPECTS(std::isfinite(amax), "Input X contains NaN or infinity.");
  r.max_abs_x = static_cast<double>(amax);
  if (!s.w_in.empty()) {
    r.max_weight = static_cast<double>(detail::checked_weights(s.be, s.w_in));
  }
  return r;
}

template <typename T>
void SparseKMeansData<T>::check_finite() {
  Impl& s = *impl_;
  detail::require_readable(s.be, s.X_in.space, "X");
  if (s.native() == MemorySpace::kHost) {
    const T* sq = s.row_norms();
    bool finite = true;
    for (int64_t i = 0; i < s.n(); ++i) finite &= std::isfinite(sq[i]);
    if (finite) {
      if (!s.w_in.empty()) detail::checked_weights(s.be, s.w_in);  // as check() does
      return;
    }
  }
  check();
}

template <typename T>
void SparseKMeansData<T>::reset_labels() {
  impl_->reset_labels();
}

template <typename T>
KMeansPassStats SparseKMeansData<T>::assign(const T* shift, const T* centers, int64_t k,
                                            bool weighted, bool keep_distances, double* sums,
                                            double* weights) {
  Impl& s = *impl_;
  int32_t* labels = s.labels.get(s.be, s.n(), true, true);
  T* dist = keep_distances ? s.dist.get(s.be, s.n(), false, true) : nullptr;
  return s.pass(shift, centers, k, weighted ? s.w() : VectorView<const T>(), labels, dist, sums,
                weights);
}

template <typename T>
void SparseKMeansData<T>::keep_labels() {
  impl_->keep_labels();
}

template <typename T>
void SparseKMeansData<T>::init_potentials(const T* shift, const T* center) {
  Impl& s = *impl_;
  s.distances(shift, center, 1, s.columns(s.pot.get(s.be, s.n(), false, true), 1));
}

template <typename T>
void SparseKMeansData<T>::candidate_potentials(const T* shift, const T* candidates, int64_t t,
                                               double* out) {
  Impl& s = *impl_;
  s.n_cand = t;
  // n x t, as the dense data keeps them (t = 2 + ln k candidates).
  const MatrixView<T> D = s.columns(s.cand.get(s.be, checked_mul(s.n(), t), false, true), t);
  s.distances(shift, candidates, t, D);
  s.km.min_potentials(s.pot_view(false), D, s.w(), out);
}

template <typename T>
void SparseKMeansData<T>::take_candidate(int64_t c) {
  impl_->take_candidate(c);
}

template <typename T>
double SparseKMeansData<T>::total(bool by_potentials) {
  return impl_->total(by_potentials);
}

template <typename T>
void SparseKMeansData<T>::lower_potentials(const T* shift, const T* candidates, int64_t m) {
  Impl& s = *impl_;
  // One assignment pass gives each row's distance to the nearest candidate (by blocks: never
  // n x m at once); the potentials keep the smaller of the two.
  int32_t* labels = s.labels.get(s.be, s.n(), true, true);
  T* nearest = s.dist.get(s.be, s.n(), false, true);
  s.pass(shift, candidates, m, VectorView<const T>(), labels, nearest, nullptr, nullptr);
  s.km.min_update(s.pot_view(true), s.columns(nearest, 1), 0);
}

template <typename T>
void SparseKMeansData<T>::release_potentials() {
  impl_->release_potentials();
}

template <typename T>
void SparseKMeansData<T>::weighted_draws(bool by_potentials, const double* u, int64_t t,
                                         int64_t* idx) {
  impl_->weighted_draws(by_potentials, u, t, idx);
}

template <typename T>
std::vector<int64_t> SparseKMeansData<T>::independent_draws(double scale, uint64_t seed) {
  return impl_->independent_draws(scale, seed);
}

template <typename T>
void SparseKMeansData<T>::largest_distances(int64_t m, int64_t* idx, T* values) {
  impl_->largest_distances(m, idx, values);
}

template <typename T>
void SparseKMeansData<T>::rows(const int64_t* idx, int64_t t, T* out, int32_t* labels,
                               double* weights) {
  Impl& s = *impl_;
  for (int64_t j = 0; j < t; ++j) {
    GPULEARN_EXPECTS(idx[j] >= 0 && idx[j] < s.n(), "k-means: row ", idx[j], " is out of range");
  }
  s.sp.gather_rows(s.X(), idx, t, out);
  s.row_labels_weights(idx, t, labels, weights);
}

template <typename T>
void SparseKMeansData<T>::sq_distances(const T* centers, int64_t k, MatrixView<T> out) {
  Impl& s = *impl_;
  GPULEARN_EXPECTS(out.rows == s.n() && out.cols == k, "output has shape (", out.rows, ", ",
                   out.cols, "), expected (", s.n(), ", ", k, ")");
  GPULEARN_EXPECTS(out.space == s.X_in.space, "X and the output must be in the same memory space");
  if (s.n() == 0) return;
  if (out.space == s.native() && out.contiguous()) {
    s.distances(nullptr, centers, k, out);
    return;
  }
  Scratch<T> tmp(s.be, checked_mul(s.n(), k));
  const MatrixView<T> D = s.columns(tmp.data, k);
  s.distances(nullptr, centers, k, D);
  std::vector<T> packed(D.size());
  s.be.copy(packed.data(), MemorySpace::kHost, D.data, s.native(), D.size() * int64_t(sizeof(T)));
  if (out.contiguous()) {
    s.be.copy(out.data, out.space, packed.data(), MemorySpace::kHost,
              D.size() * int64_t(sizeof(T)));
    return;
  }
  GPULEARN_EXPECTS(out.space == MemorySpace::kHost, "a strided output must be in host memory");
  for (int64_t i = 0; i < s.n(); ++i) std::copy_n(&packed[i * k], k, out.row(i));
}

template class SparseKMeansData<float>;
template class SparseKMeansData<double>;

// ---- the sparse entry points

namespace {

template <typename T>
void check_sparse_model(const KMeansModel<T>& model, const CsrView<T>& X) {
  GPULEARN_EXPECTS(model.n_clusters >= 1 && !model.centers.empty(),
                   "this KMeans model is not fitted yet: call fit first");
  GPULEARN_EXPECTS(model.n_clusters <= INT32_MAX && static_cast<int64_t>(model.centers.size()) ==
                                                        model.n_clusters * model.n_features,
                   "the model's centers must be n_clusters x n_features, with n_clusters at most ",
                   INT32_MAX);
  GPULEARN_EXPECTS(X.cols == model.n_features, "X has ", X.cols, " features, but the model ",
                   "is expecting ", model.n_features, " features as input.");
  GPULEARN_EXPECTS(X.rows >= 1, "Found array with 0 sample(s) (shape=(", X.rows, ", ", X.cols,
                   ")) while a minimum of 1 is required.");
}

}  // namespace

template <typename T>
KMeansModel<T> kmeans_fit(Context& ctx, const KMeansParams& p, CsrView<T> X,
                          VectorView<const T> sample_weight, const T* init_centers,
                          int32_t* labels) {
  SparseKMeansData<T> data(ctx, X, sample_weight, labels);
  return kmeans_fit<T>(p, data, init_centers);
}

template <typename T>
double kmeans_predict(Context& ctx, const KMeansModel<T>& model, CsrView<T> X,
                      VectorView<const T> sample_weight, int32_t* labels) {
  check_sparse_model(model, X);
  SparseKMeansData<T> data(ctx, X, sample_weight, labels);
  data.check_finite();
  data.reset_labels();
  // No shift: the sparse distances need none (the model's centers as they are).
  const double inertia =
      data.assign(nullptr, model.centers.data(), model.n_clusters, true, false, nullptr, nullptr)
          .inertia;
  data.keep_labels();
  return inertia;
}

template <typename T>
void kmeans_sq_distances(Context& ctx, const KMeansModel<T>& model, CsrView<T> X,
                         MatrixView<T> out) {
  check_sparse_model(model, X);
  SparseKMeansData<T> data(ctx, X, VectorView<const T>(), nullptr);
  data.check();
  data.sq_distances(model.centers.data(), model.n_clusters, out);
}

#define GPULEARN_INSTANTIATE(T)                                                    \
  template KMeansModel<T> kmeans_fit<T>(Context&, const KMeansParams&, CsrView<T>, \
                                        VectorView<const T>, const T*, int32_t*);  \
  template double kmeans_predict<T>(Context&, const KMeansModel<T>&, CsrView<T>,   \
                                    VectorView<const T>, int32_t*);                \
  template void kmeans_sq_distances<T>(Context&, const KMeansModel<T>&, CsrView<T>, MatrixView<T>);
GPULEARN_INSTANTIATE(float)
GPULEARN_INSTANTIATE(double)
#undef GPULEARN_INSTANTIATE

}  // namespace gpulearn::cluster
