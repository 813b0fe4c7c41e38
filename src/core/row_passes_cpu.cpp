// The generic passes over X on the CPU (weighted means, centred Gram, centred R factor, affine
// map), used by the linear models and the decomposition drivers: fixed row partitions, each
// reduced with Eigen's blocked kernels, the partial results combined in partition order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Partitions for a pass that keeps a d x d partial per partition: bounded so the partials
// stay under ~256 MiB together.
RowSplit gram_split(int64_t n, int64_t d, size_t elem) {
  const int64_t per_part = std::max<int64_t>(1, checked_mul(checked_mul(d, d), elem));
  const int64_t by_memory = std::max<int64_t>(1, (int64_t{256} << 20) / per_part);
  return RowSplit(n, 2048, std::min(kCpuMaxParts, by_memory));
}

// How the rows of X and Y are centred and scaled before a reduction (backend.hpp's Xc, Yc).
template <typename T>
struct ChunkTransform {
  const T* x_mean;
  const T* y_mean;
  T x_scale;
  T y_scale;
};

// The chunk rows [begin, begin + m) of X and Y, centred, scaled, and weighted by sqrt(w), into
// C and D.
template <typename T>
void centred_chunk(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,
                   const ChunkTransform<T>& c, int64_t begin, int64_t m, RowMatrix<T>& C,
                   RowMatrix<T>& D) {
  const int64_t d = X.cols, k = Y.cols;
  C.resize(m, d);
  D.resize(m, k);
  Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> xm(c.x_mean, d), ym(c.y_mean, k);
  C = (eigen_map(X.block_rows(begin, m)).rowwise() - xm) * c.x_scale;
  D = (eigen_map(Y.block_rows(begin, m)).rowwise() - ym) * c.y_scale;
  if (!w.empty()) {
    for (int64_t i = 0; i < m; ++i) {
      const T s = std::sqrt(w.data[(begin + i) * w.stride]);
      C.row(i) *= s;
      D.row(i) *= s;
    }
  }
}

template <typename T>
void weighted_means_impl(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,
                         T* x_mean, T* y_mean, double* w_sum, int n_threads) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  const RowSplit split(n, 4096, kCpuMaxParts);
  // Sums in double: the means of float32 data keep all their digits at any n.
  std::vector<Vec<double>> sx(split.n_parts), sy(split.n_parts);
  std::vector<double> sw(split.n_parts, 0.0);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    // Sums in locals, stored once: the partitions' sw share a cache line, and updating it per
    // row from several threads serialises them.
    Vec<double> ax = Vec<double>::Zero(d), ay = Vec<double>::Zero(k);
    double aw = 0;
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      const double wi = w.empty() ? 1.0 : static_cast<double>(w.data[i * w.stride]);
      const T* xr = X.row(i);
      const T* yr = Y.row(i);
      for (int64_t j = 0; j < d; ++j) ax[j] += wi * xr[j];
      for (int64_t j = 0; j < k; ++j) ay[j] += wi * yr[j];
      aw += wi;
    }
    sx[p] = std::move(ax);
    sy[p] = std::move(ay);
    sw[p] = aw;
  });
  Vec<double> tx = Vec<double>::Zero(d), ty = Vec<double>::Zero(k);
  double tw = 0;
  for (int64_t p = 0; p < split.n_parts; ++p) {
    tx += sx[p];
    ty += sy[p];
    tw += sw[p];
  }
  *w_sum = tw;
  const double inv = tw > 0 ? 1.0 / tw : 0.0;
  for (int64_t j = 0; j < d; ++j) x_mean[j] = static_cast<T>(tx[j] * inv);
  for (int64_t j = 0; j < k; ++j) y_mean[j] = static_cast<T>(ty[j] * inv);
}

template <typename T>
void centered_gram_impl(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,
                        const ChunkTransform<T>& centring, T* gram, T* xty, int n_threads) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  const RowSplit split = gram_split(n, d, sizeof(T));
  std::vector<RowMatrix<T>> G(split.n_parts), B(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    G[p] = RowMatrix<T>::Zero(d, d);
    B[p] = RowMatrix<T>::Zero(d, k);
    RowMatrix<T> C, D;
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t c = begin; c < end; c += kCpuChunkRows) {
      const int64_t m = std::min(kCpuChunkRows, end - c);
      centred_chunk(X, Y, w, centring, c, m, C, D);
      G[p].template selfadjointView<Eigen::Lower>().rankUpdate(C.transpose());  // SYRK
      B[p].noalias() += C.transpose() * D;
    }
  });
  Eigen::Map<RowMatrix<T>> g(gram, d, d), b(xty, d, k);
  g.setZero();
  b.setZero();
  for (int64_t p = 0; p < split.n_parts; ++p) {
    g += G[p];
    b += B[p];
  }
  g.template triangularView<Eigen::StrictlyUpper>() = g.transpose();
}

// Folds the rows [C; D] into the QR reduction (R, Z): afterwards R^T R and R^T Z equal what
// they were plus C^T C and C^T D, with R upper trapezoidal of min(rows seen, d) rows.
template <typename T>
void qr_fold(RowMatrix<T>& R, RowMatrix<T>& Z, const RowMatrix<T>& C, const RowMatrix<T>& D) {
  const int64_t d = C.cols(), k = D.cols();
  RowMatrix<T> M(R.rows() + C.rows(), d), N(R.rows() + C.rows(), k);
  M << R, C;
  N << Z, D;
  Eigen::HouseholderQR<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> qr(M);
  const int64_t r = std::min<int64_t>(M.rows(), d);
  R = qr.matrixQR().topRows(r).template triangularView<Eigen::Upper>();
  Z = (qr.householderQ().adjoint() * N).topRows(r);
}

template <typename T>
int64_t centered_r_factor_impl(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,
                               const ChunkTransform<T>& centring, T* r_factor, T* qty,
                               int n_threads) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  // Each fold re-factors the current R (d rows) with the chunk: chunks of >= 4d rows keep that
  // overhead under 25%.
  const int64_t chunk = std::max<int64_t>(kCpuChunkRows, 4 * d);
  const RowSplit split = gram_split(n, d, sizeof(T));
  std::vector<RowMatrix<T>> R(split.n_parts), Z(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    R[p].resize(0, d);
    Z[p].resize(0, k);
    RowMatrix<T> C, D;
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t c = begin; c < end; c += chunk) {
      const int64_t m = std::min(chunk, end - c);
      centred_chunk(X, Y, w, centring, c, m, C, D);
      qr_fold(R[p], Z[p], C, D);
    }
  });
  // Tall-skinny QR: the partitions' factors stacked and factored once more, in order.
  RowMatrix<T> Rt(0, d), Zt(0, k);
  for (int64_t p = 0; p < split.n_parts; ++p) qr_fold(Rt, Zt, R[p], Z[p]);
  Eigen::Map<RowMatrix<T>>(r_factor, Rt.rows(), d) = Rt;
  Eigen::Map<RowMatrix<T>>(qty, Zt.rows(), k) = Zt;
  return Rt.rows();
}

template <typename T>
void affine_predict_impl(MatrixView<const T> X, const T* coef, const T* intercept,
                         MatrixView<T> out, int n_threads) {
  const int64_t n = X.rows, d = X.cols, k = out.cols;
  Eigen::Map<const RowMatrix<T>> W(coef, k, d);
  Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> b(intercept, k);
  const RowSplit split(n, 4096, 64);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), m = split.count(p, n);
    auto o = eigen_map(out.block_rows(begin, m));
    o.noalias() = eigen_map(X.block_rows(begin, m)) * W.transpose();
    o.rowwise() += b;
  });
}

}  // namespace

#define GPULEARN_CPU_LSQ(T)                                                                      \
  void CpuBackend::weighted_means(MatrixView<const T> X, MatrixView<const T> Y,                  \
                                  VectorView<const T> w, T* x_mean, T* y_mean, double* w_sum) {  \
    weighted_means_impl(X, Y, w, x_mean, y_mean, w_sum, n_threads_);                             \
  }                                                                                              \
  void CpuBackend::centered_gram(MatrixView<const T> X, MatrixView<const T> Y,                   \
                                 VectorView<const T> w, const T* x_mean, const T* y_mean,        \
                                 T x_scale, T y_scale, T* gram, T* xty) {                        \
    centered_gram_impl(X, Y, w, ChunkTransform<T>{x_mean, y_mean, x_scale, y_scale}, gram, xty,  \
                       n_threads_);                                                              \
  }                                                                                              \
  int64_t CpuBackend::centered_r_factor(MatrixView<const T> X, MatrixView<const T> Y,            \
                                        VectorView<const T> w, const T* x_mean, const T* y_mean, \
                                        T x_scale, T y_scale, T* r_factor, T* qty) {             \
    return centered_r_factor_impl(X, Y, w, ChunkTransform<T>{x_mean, y_mean, x_scale, y_scale},  \
                                  r_factor, qty, n_threads_);                                    \
  }                                                                                              \
  void CpuBackend::affine_predict(MatrixView<const T> X, const T* coef, const T* intercept,      \
                                  MatrixView<T> out) {                                           \
    affine_predict_impl(X, coef, intercept, out, n_threads_);                                    \
  }
GPULEARN_CPU_LSQ(float)
GPULEARN_CPU_LSQ(double)
#undef GPULEARN_CPU_LSQ

}  // namespace gpulearn::detail
