// SparseSpectralData: the decomposition drivers' passes over a CSR matrix, each made of the
// sparse primitives (src/sparse/primitives.hpp), with centring implicit (see
// include/gpulearn/decomposition/spectral_data.hpp); and the sparse projection of the
// transforms (spectral.hpp's sparse_affine).
//
// Centred products. With Xc = (X - 1 m^T) s and q = m^T Z:
//   Xc Z = s (X Z - 1 q^T)                      multiply, then each row shifted by q (native)
//   Xc^T A = s (X^T A - m (1^T A))              multiply_t, then a rank-one correction
// where 1^T (Xc Z) = s (c - n m)^T Z is known on the host from the column sums c (double), so
// the n x l products never leave the backend's memory. The centred rows Xc Z are formed before
// the second product, so X^T (Xc Z) is of the size of the result: no Gram-sized term cancels.
//
// ||Xc||_F^2, X in host memory: sum_j [sum over column j's stored entries of (x - m_j)^2 +
// (n - nnz_j) m_j^2], every term >= 0, in one ordered pass (no cancellation). In device memory:
// S2 - 2 m.c + n |m|^2, S2 the sum of the squared stored values (row_norms_sq, summed in double
// in row order), whose cancellation is bounded for sparse data: per column, c_j^2 <= nnz_j S2_j
// (Cauchy-Schwarz), so the subtracted n m_j^2 = c_j^2 / n is at most the column's density times
// S2_j; a column stored in fewer than half the rows loses at most one bit. Only a nearly dense
// column with a large mean loses more (a per-column primitive would remove that).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../sparse/native_csr.hpp"
#include "../sparse/primitives.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"
#include "spectral.hpp"

namespace gpulearn::detail {

// Named (not anonymous): SparseSpectralData's State, outside this file's scope, uses it.
namespace spectral_sparse {

// The result of M <- (M - 1 q^T) s for M (rows x l, contiguous, native memory) and q (host):
// on the host in place; on a device by the backend's affine map (coefficients s I) into `spare`.
template <typename T>
MatrixView<T> shift_rows(Backend& be, MatrixView<T> M, const std::vector<double>& q, T s,
                         Scratch<T>& spare) {
  const int64_t m = M.rows, l = M.cols;
  if (M.space == MemorySpace::kHost) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = M.data + i * M.ld;
      for (int64_t j = 0; j < l; ++j) row[j] = static_cast<T>((row[j] - q[j]) * s);
    }
    return M;
  }
  std::vector<T> coef(checked_mul(l, l), T(0)), shift(l);
  for (int64_t j = 0; j < l; ++j) {
    coef[j * l + j] = s;
    shift[j] = static_cast<T>(-q[j] * s);
  }
  spare = Scratch<T>(be, checked_mul(m, l));
  const MatrixView<T> out(spare.data, m, l, l, M.space);
  be.affine_predict(MatrixView<const T>(M.data, m, l, M.ld, M.space), coef.data(), shift.data(),
                    out);
  return out;
}

}  // namespace spectral_sparse

using spectral_sparse::shift_rows;

template <typename T>
void sparse_affine(Backend& be, CsrView<T> X, int64_t d, int64_t k, const T* coef,
                   const T* intercept, MatrixView<T> out, const char* model) {
  GPULEARN_EXPECTS(X.cols == d, "X has ", X.cols, " features, but ", model, " is expecting ", d,
                   " features as input.");
  GPULEARN_EXPECTS(out.rows == X.rows && out.cols == k, "output has shape (", out.rows, ", ",
                   out.cols, "), expected (", X.rows, ", ", k, ")");
  GPULEARN_EXPECTS(out.space == MemorySpace::kHost || out.space == be.native_space(),
                   "the output must be in host memory or where the backend computes");
  if (X.rows == 0) return;
  auto& prim = be.primitives<SparsePrimitives<T>>();
  const NativeCsr<T> nx(be, X);
  const MemorySpace native = be.native_space();
  // On the host, X's finiteness is read by the product itself (as linear_predict's): a NaN or
  // infinite stored value makes its row's products non-finite, so X is read a second time only
  // where a product is not finite. On a device the products are not read here: a pass first.
  auto check_finite = [&] {
    GPULEARN_EXPECTS(std::isfinite(prim.max_abs(nx.view)), "Input X contains NaN or infinity.");
  };
  if (native != MemorySpace::kHost || k == 0) check_finite();
  if (k == 0) return;
  const int64_t n = X.rows;
  const auto B = transposed(coef, k, d);
  std::vector<double> q(k);  // the rows are shifted by -intercept
  for (int64_t j = 0; j < k; ++j) q[j] = -static_cast<double>(intercept[j]);
  Scratch<T> product, spare;
  MatrixView<T> P = out;
  if (out.space != native || out.ld != k) {
    product = Scratch<T>(be, checked_mul(n, k));
    P = MatrixView<T>(product.data, n, k, k, native);
  }
  prim.multiply(nx.view, B.get(), k, P);
  if (native == MemorySpace::kHost) {
    bool finite = true;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < k; ++j) finite &= std::isfinite(P.data[i * P.ld + j]);
    }
    if (!finite) check_finite();
  }
  const MatrixView<T> R = shift_rows(be, P, q, T(1), spare);
  if (R.data == out.data) return;
  if (out.ld == k) {
    be.copy(out.data, out.space, R.data, R.space, checked_mul(n, k) * int64_t(sizeof(T)));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {  // a strided output, row by row
    be.copy(out.data + i * out.ld, out.space, R.data + i * k, R.space, k * int64_t(sizeof(T)));
  }
}

}  // namespace gpulearn::detail

namespace gpulearn::decomposition {

using detail::NativeCsr;
using detail::Scratch;
using detail::SparsePrimitives;

template <typename T>
struct SparseSpectralData<T>::State {
  NativeCsr<T> native;
  std::vector<double> sums;  // column sums, once measured
  bool have_sums = false;
  double sq = 0;  // the sum of the squared stored values, once measured
  bool have_sq = false;
  // ||X - 1 m^T||_F^2 on the host for the mean m it was measured with: an iterative solver
  // passes the same mean on every product, and this pass is serial and as long as the product.
  std::vector<T> centred_mean;
  double centred_sq = 0;
  bool have_centred_sq = false;
  Scratch<T> product, spare;  // n x l
  int64_t product_size = 0;
};

template <typename T>
SparseSpectralData<T>::SparseSpectralData(Context& ctx, CsrView<T> X)
    : ctx_(ctx), X_(X), state_(std::make_unique<State>()) {
  detail::Backend& be = ctx_.backend();
  be.primitives<SparsePrimitives<T>>();  // a backend without sparse primitives refuses here
  state_->native = NativeCsr<T>(be, X);
  X_ = state_->native.view;
}

template <typename T>
SparseSpectralData<T>::~SparseSpectralData() = default;

template <typename T>
T SparseSpectralData<T>::max_abs() {
  return ctx_.backend().primitives<SparsePrimitives<T>>().max_abs(X_);
}

template <typename T>
const std::vector<double>& SparseSpectralData<T>::column_sums() {
  if (!state_->have_sums) {
    state_->sums.assign(X_.cols, 0.0);
    ctx_.backend().primitives<SparsePrimitives<T>>().column_sums(X_, VectorView<const T>(),
                                                                 state_->sums.data());
    state_->have_sums = true;
  }
  return state_->sums;
}

template <typename T>
double SparseSpectralData<T>::sum_of_squares() {
  if (!state_->have_sq) {
    detail::Backend& be = ctx_.backend();
    const int64_t n = X_.rows;
    std::vector<T> sq(n);
    if (n > 0) {
      Scratch<T> native(be, n);
      be.primitives<SparsePrimitives<T>>().row_norms_sq(X_, native.data);
      be.copy(sq.data(), MemorySpace::kHost, native.data, be.native_space(),
              n * int64_t(sizeof(T)));
    }
    double s = 0;
    for (T v : sq) s += static_cast<double>(v);
    state_->sq = s;
    state_->have_sq = true;
  }
  return state_->sq;
}

template <typename T>
void SparseSpectralData<T>::column_means(T* mean) {
  const std::vector<double>& c = column_sums();
  const double n = static_cast<double>(X_.rows);
  for (int64_t j = 0; j < X_.cols; ++j) mean[j] = n > 0 ? static_cast<T>(c[j] / n) : T(0);
}

template <typename T>
void SparseSpectralData<T>::centered_gram(const T* mean, T scale, T* gram) {
  const int64_t d = X_.cols;
  std::vector<double> G(checked_mul(d, d));
  ctx_.backend().primitives<SparsePrimitives<T>>().gram(X_, VectorView<const T>(), G.data());
  const double s2 = static_cast<double>(scale) * static_cast<double>(scale);
  if (mean != nullptr) {  // Xc^T Xc = X^T X - c m^T - m c^T + n m m^T
    const std::vector<double>& c = column_sums();
    const double n = static_cast<double>(X_.rows);
    for (int64_t i = 0; i < d; ++i) {
      const double mi = mean[i];
      for (int64_t j = 0; j < d; ++j) {
        const double mj = mean[j];
        G[i * d + j] -= c[i] * mj + mi * c[j] - n * mi * mj;
      }
    }
  }
  for (int64_t i = 0; i < d * d; ++i) gram[i] = static_cast<T>(G[i] * s2);
}

template <typename T>
int64_t SparseSpectralData<T>::centered_r_factor(const T*, T, T*) {
  GPULEARN_FAIL(Unsupported,
                "the R factor of sparse X is a dense min(n, d) x d matrix: the decomposition "
                "drivers reach sparse data's spectrum through its Gram matrix or its products");
}

template <typename T>
double SparseSpectralData<T>::centered_products(const T* mean, T scale, int64_t l, const T* Z,
                                                const T* Y, double* out) {
  detail::Backend& be = ctx_.backend();
  auto& prim = be.primitives<SparsePrimitives<T>>();
  const int64_t n = X_.rows, d = X_.cols;
  const double s = static_cast<double>(scale);
  const MemorySpace native = be.native_space();

  double total = 0;
  State& st = *state_;
  if (mean != nullptr && X_.space == MemorySpace::kHost && st.have_centred_sq &&
      std::equal(mean, mean + d, st.centred_mean.begin())) {
    total = st.centred_sq;  // measured for this mean already
  } else if (mean != nullptr && X_.space == MemorySpace::kHost) {
    // On the host, term by term, every term >= 0: per column, the stored entries' squared
    // deviations plus the implicit zeros' m_j^2 (one ordered pass over the entries, O(d) state).
    std::vector<double> dev(d, 0.0);
    std::vector<int64_t> count(d, 0);
    for (int64_t q = X_.indptr[0]; q < X_.indptr[n]; ++q) {
      const int32_t j = X_.indices[q];
      const double e = static_cast<double>(X_.values[q]) - static_cast<double>(mean[j]);
      dev[j] += e * e;
      ++count[j];
    }
    for (int64_t j = 0; j < d; ++j) {
      const double mj = mean[j];
      total += dev[j] + static_cast<double>(n - count[j]) * mj * mj;
    }
    st.centred_mean.assign(mean, mean + d);
    st.centred_sq = total;
    st.have_centred_sq = true;
  } else if (mean != nullptr) {  // device memory: from the sums (see the file's comment)
    total = sum_of_squares();
    const std::vector<double>& c = column_sums();
    double mc = 0, mm = 0;
    for (int64_t j = 0; j < d; ++j) {
      mc += static_cast<double>(mean[j]) * c[j];
      mm += static_cast<double>(mean[j]) * mean[j];
    }
    total = std::max(0.0, total - 2 * mc + static_cast<double>(n) * mm);
  } else {
    total = sum_of_squares();
  }
  total *= s * s;
  if (l == 0) return total;
  std::fill(out, out + checked_mul(d, l), 0.0);
  if (n == 0) return total;

  std::vector<double> ones_a(l, 0.0);  // 1^T A for the A multiplied on the left by X^T
  MatrixView<const T> A;
  Scratch<T> y_native;
  if (Z != nullptr) {  // A = Xc Z = s (X Z - 1 q^T), formed where the backend computes
    const int64_t size = checked_mul(n, l);
    if (state_->product_size < size) {
      state_->product = Scratch<T>(be, size);
      state_->product_size = size;
    }
    const MatrixView<T> P(state_->product.data, n, l, l, native);
    prim.multiply(X_, Z, l, P);
    std::vector<double> q(l, 0.0);
    if (mean != nullptr) {
      const std::vector<double>& c = column_sums();
      for (int64_t i = 0; i < d; ++i) {
        const double mi = mean[i], ci = c[i] - static_cast<double>(n) * mi;
        for (int64_t j = 0; j < l; ++j) {
          q[j] += mi * Z[i * l + j];
          ones_a[j] += s * ci * Z[i * l + j];
        }
      }
    }
    const MatrixView<T> C = detail::spectral_sparse::shift_rows(be, P, q, scale, state_->spare);
    A = MatrixView<const T>(C.data, n, l, l, native);
    if (mean != nullptr && C.space == MemorySpace::kHost) {
      // The sums of the centred rows as computed, not their exact value s (c - n m)^T Z: the
      // correction m (1^T A) then cancels the rows' rounding along with their mean (which
      // matters where a nearly dense column has a large mean: 6e-9 -> 1e-13 of the variances).
      std::fill(ones_a.begin(), ones_a.end(), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < l; ++j) ones_a[j] += static_cast<double>(C.data[i * l + j]);
      }
    }
  } else {  // A = Y (host), made native where the backend computes elsewhere
    GPULEARN_ASSERT(Y != nullptr);
    A = MatrixView<const T>(Y, n, l, l, MemorySpace::kHost);
    if (native != MemorySpace::kHost) {
      y_native = Scratch<T>(be, checked_mul(n, l));
      be.copy(y_native.data, native, Y, MemorySpace::kHost, checked_mul(n, l) * int64_t(sizeof(T)));
      A = MatrixView<const T>(y_native.data, n, l, l, native);
    }
    if (mean != nullptr) {
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < l; ++j) ones_a[j] += static_cast<double>(Y[i * l + j]);
      }
    }
  }
  prim.multiply_t(X_, A, VectorView<const T>(), out);
  for (int64_t i = 0; i < d; ++i) {  // out = s (X^T A - m (1^T A))
    const double mi = mean != nullptr ? static_cast<double>(mean[i]) : 0.0;
    for (int64_t j = 0; j < l; ++j) out[i * l + j] = s * (out[i * l + j] - mi * ones_a[j]);
  }
  return total;
}

template class SparseSpectralData<float>;
template class SparseSpectralData<double>;

}  // namespace gpulearn::decomposition

namespace gpulearn::detail {
template void sparse_affine<float>(Backend&, CsrView<float>, int64_t, int64_t, const float*,
                                   const float*, MatrixView<float>, const char*);
template void sparse_affine<double>(Backend&, CsrView<double>, int64_t, int64_t, const double*,
                                    const double*, MatrixView<double>, const char*);
}  // namespace gpulearn::detail
