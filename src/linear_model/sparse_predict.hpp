// The prediction out = X coef^T + intercept for a CSR matrix X, shared by the sparse overloads of
// linear_predict and logistic_decision_function (defined in sparse_linear_data.cpp). Internal to
// src/linear_model/.
#pragma once

#include <cstdint>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::linear_model::detail {

/// coef (host, k x d, row-major) and intercept (host, k); X where ctx's backend can read it,
/// out (n x k) in host memory or where the backend computes. Checks X's width, the output's
/// shape, a host X's structure and X's finiteness (read from the product: a second pass over X
/// only where an output is not finite), with the dense prediction's messages.
template <typename T>
void sparse_affine_predict(Context& ctx, const T* coef, const T* intercept, int64_t d, int64_t k,
                           CsrView<T> X, MatrixView<T> out);

}  // namespace gpulearn::linear_model::detail
