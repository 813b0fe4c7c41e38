// Input checks shared by the drivers: one pass over the data both checks and measures it.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend.hpp"
#include "gpulearn/core/error.hpp"

namespace gpulearn::detail {

// The largest |entry| of M, which must be finite.
template <typename T>
T checked_max_abs(Backend& be, MatrixView<const T> M, const char* what) {
  const T amax = be.max_abs(M);
  GPULEARN_EXPECTS(std::isfinite(amax), "Input ", what, " contains NaN or infinity.");
  return amax;
}

// Throws unless the backend can read memory in `space`; `what` names the array.
inline void require_readable(const Backend& be, MemorySpace space, const char* what) {
  GPULEARN_EXPECTS(be.accepts(space), what, " is in ", to_string(space), " memory, which the ",
                   be.device().to_string(), " backend cannot read");
}

// The largest |entry| of X, which the backend must be able to read and which must be finite.
template <typename T>
T checked_input(Backend& be, MatrixView<const T> X, const char* what = "X") {
  require_readable(be, X.space, what);
  return checked_max_abs(be, X, what);
}

// out (n x k) = X coef^T + 1 intercept^T (coef k x d and intercept k, host), after checking that
// X has the d features `model` was fitted with, that out is n x k where X lives, and that X is
// readable and finite. Every linear prediction and projection goes through it.
template <typename T>
void checked_affine(Backend& be, MatrixView<const T> X, int64_t d, int64_t k, const T* coef,
                    const T* intercept, MatrixView<T> out, const char* model) {
  GPULEARN_EXPECTS(X.cols == d, "X has ", X.cols, " features, but ", model, " is expecting ", d,
                   " features as input.");
  GPULEARN_EXPECTS(out.rows == X.rows && out.cols == k, "output has shape (", out.rows, ", ",
                   out.cols, "), expected (", X.rows, ", ", k, ")");
  GPULEARN_EXPECTS(out.space == X.space, "X and the output must be in the same memory space");
  require_readable(be, X.space, "X");
  if (X.rows == 0) return;
  checked_max_abs(be, X, "X");
  if (k == 0) return;
  be.affine_predict(X, coef, intercept, out);
}

// Checks sample weights (finite, non-negative) and returns their largest value.
template <typename T>
T checked_weights(Backend& be, VectorView<const T> w) {
  const T amax = checked_max_abs(be, w.as_column(), "sample_weight");
  GPULEARN_EXPECTS(be.min_value(w.as_column()) >= T(0), "Negative values in data passed to ",
                   "sample_weight: sample weights must be non-negative");
  return amax;
}

// The exponent e of a power of two 2^e bringing amax near 1, kept where 2^e and 2^-e are
// normal numbers of T: drivers scale data by it (exactly) so that products of entries neither
// overflow nor underflow.
template <typename T>
int pow2_exponent(T amax) {
  constexpr int kLimit = std::numeric_limits<T>::max_exponent - 4;
  return amax > 0 ? std::clamp(-std::ilogb(amax), -kLimit, kLimit) : 0;
}

}  // namespace gpulearn::detail
