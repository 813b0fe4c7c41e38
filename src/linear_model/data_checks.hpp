// The checks of a fit's targets and weights that every single-process LinearData makes (the
// dense local data, linear_data.cpp, and the sparse one, sparse_linear_data.cpp): shapes,
// memory spaces, finiteness of Y, finite non-negative weights. Internal to src/linear_model/.
#pragma once

#include <cstdint>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "gpulearn/linear_model/linear_data.hpp"

namespace gpulearn::linear_model::detail {

/// Checks the shapes of Y (n_x x k) and w (n_x, or empty) against X's rows, and their memory
/// space against X's. Throws InvalidArgument.
template <typename T>
void check_target_shapes(int64_t n_x, MemorySpace x_space, MatrixView<const T> Y,
                         VectorView<const T> w) {
  GPULEARN_EXPECTS(Y.rows == n_x, "X has ", n_x, " samples but y has ", Y.rows);
  GPULEARN_EXPECTS(w.empty() || w.size == n_x, "sample_weight has ", w.size,
                   " entries but X has ", n_x, " samples");
  GPULEARN_EXPECTS(Y.space == x_space && (w.empty() || w.space == x_space),
                   "X, y and sample_weight must all be in host memory or all in device memory");
}

/// Checks Y's and w's values (Y finite; w finite and non-negative) and fills mag.y and mag.w
/// (mag.x is the caller's). Throws InvalidArgument with scikit-learn's messages.
template <typename T>
void measure_targets(gpulearn::detail::Backend& be, MatrixView<const T> Y, VectorView<const T> w,
                     DataMagnitudes<T>& mag) {
  mag.y = gpulearn::detail::checked_max_abs(be, Y, "y");
  mag.w = w.empty() ? T(0) : gpulearn::detail::checked_weights(be, w);
}

}  // namespace gpulearn::linear_model::detail
