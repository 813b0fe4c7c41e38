// LocalSpectralData: the decomposition drivers' passes over one MatrixView, each one backend
// primitive call (see include/gpulearn/decomposition/spectral_data.hpp).
#include "gpulearn/decomposition/spectral_data.hpp"

#include <vector>

#include "../core/checks.hpp"
#include "primitives.hpp"

namespace gpulearn::decomposition {

namespace {

// An n x 0 view of X: the "no Y" of the least-squares reductions.
template <typename T>
MatrixView<const T> no_columns(MatrixView<const T> X) {
  return MatrixView<const T>(X.data, X.rows, 0, 0, X.space);
}

}  // namespace

template <typename T>
T LocalSpectralData<T>::max_abs() {
  detail::Backend& be = ctx_.backend();
  detail::require_readable(be, X_.space, "X");
  return be.max_abs(X_);
}

template <typename T>
void LocalSpectralData<T>::column_means(T* mean) {
  T none = 0;
  double w_sum = 0;
  ctx_.backend().weighted_means(X_, no_columns(X_), VectorView<const T>(), mean, &none, &w_sum);
}

template <typename T>
void LocalSpectralData<T>::centered_gram(const T* mean, T scale, T* gram) {
  // The least-squares primitive always centres: no centring is centring on zeros.
  const std::vector<T> zeros(mean == nullptr ? X_.cols : 0, T(0));
  T none = 0;
  ctx_.backend().centered_gram(X_, no_columns(X_), VectorView<const T>(),
                               mean ? mean : zeros.data(), &none, scale, T(1), gram, &none);
}

template <typename T>
int64_t LocalSpectralData<T>::centered_r_factor(const T* mean, T scale, T* r_factor) {
  const std::vector<T> zeros(mean == nullptr ? X_.cols : 0, T(0));
  T none = 0;
  std::vector<T> qty(1);
  return ctx_.backend().centered_r_factor(X_, no_columns(X_), VectorView<const T>(),
                                          mean ? mean : zeros.data(), &none, scale, T(1), r_factor,
                                          qty.data());
}

template <typename T>
double LocalSpectralData<T>::centered_products(const T* mean, T scale, int64_t l, const T* Z,
                                               const T* Y, double* out) {
  return ctx_.backend().primitives<detail::DecompositionPrimitives<T>>().centered_products(
      X_, mean, scale, l, Z, Y, out);
}

template class LocalSpectralData<float>;
template class LocalSpectralData<double>;

}  // namespace gpulearn::decomposition
