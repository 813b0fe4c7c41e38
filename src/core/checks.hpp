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
