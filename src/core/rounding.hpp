// The rounding floor of a singular value decomposition: a singular value at or below
// eps * max(r, d) * s_max of an r x d matrix is indistinguishable from zero (scipy.linalg.pinv's
// default cutoff). Two correct SVDs of the same rank-deficient matrix may return anything under
// it, exactly 0 or a few eps * s_max, so no verdict (a rank, a singular covariance) may depend on
// which side of zero such a value lands.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace gpulearn::detail {

template <typename T>
double svd_rounding_floor(int64_t r, int64_t d, double s_max) {
  return std::numeric_limits<T>::epsilon() * static_cast<double>(std::max(r, d)) * s_max;
}

}  // namespace gpulearn::detail
