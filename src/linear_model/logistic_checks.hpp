// The checks every single-machine LogisticData makes in its checking pass, whatever X's layout
// (logistic.cpp's dense data, sparse_logistic_data.cpp's CSR data): one code, so a dense and a
// sparse fit refuse the same labels and weights with the same messages.
#pragma once

#include <cstdint>

#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "gpulearn/linear_model/logistic_regression.hpp"

namespace gpulearn::linear_model::detail {

// The labels (host) are class indices in [0, n_classes); returns the stats with n_positive set.
inline LogisticDataStats checked_labels(VectorView<const int32_t> labels, int64_t n_classes) {
  LogisticDataStats stats;
  for (int64_t i = 0; i < labels.size; ++i) {
    const int32_t c = labels.data[i * labels.stride];
    GPULEARN_EXPECTS(c >= 0 && c < n_classes, "labels must be class indices in [0, ", n_classes,
                     "), got ", c);
    stats.n_positive += c == 1 ? 1 : 0;
  }
  return stats;
}

// sum_i w_i in double after checking w (finite, non-negative); n (the rows) when w is empty.
template <typename T>
double checked_weight_sum(gpulearn::detail::Backend& be, VectorView<const T> w, int64_t n) {
  if (w.empty()) return static_cast<double>(n);
  gpulearn::detail::checked_weights(be, w);
  double sum = 0;
  for (T v : gpulearn::detail::to_host(be, w)) sum += static_cast<double>(v);
  return sum;
}

}  // namespace gpulearn::linear_model::detail
