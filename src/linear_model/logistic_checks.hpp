// The checks every single-machine LogisticData makes in its checking pass, whatever X's layout
// (logistic.cpp's dense data, sparse_logistic_data.cpp's CSR data): one code, so a dense and a
// sparse fit refuse the same labels and weights with the same messages. Also the labels and
// weights both make native for their loss passes.
#pragma once

#include <cstdint>
#include <vector>

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

// The labels (host, any stride) and the weights (anywhere, or empty) as contiguous arrays in the
// backend's native memory, the form the loss primitives take; w stays empty for unit weights.
template <typename T>
struct NativeLabelsWeights {
  gpulearn::detail::Scratch<int32_t> labels;
  gpulearn::detail::Scratch<T> w_copy;
  VectorView<const T> w;

  NativeLabelsWeights(gpulearn::detail::Backend& be, VectorView<const int32_t> y,
                      VectorView<const T> weights)
      : labels(be, y.size) {
    const int64_t n = y.size;
    std::vector<int32_t> lab(n);
    for (int64_t i = 0; i < n; ++i) lab[i] = y.data[i * y.stride];
    be.copy(labels.data, be.native_space(), lab.data(), MemorySpace::kHost,
            n * int64_t(sizeof(int32_t)));
    if (weights.empty()) return;
    const std::vector<T> host = gpulearn::detail::to_host(be, weights);
    w_copy = gpulearn::detail::Scratch<T>(be, n);
    be.copy(w_copy.data, be.native_space(), host.data(), MemorySpace::kHost,
            n * int64_t(sizeof(T)));
    w = VectorView<const T>(w_copy.data, n, 1, be.native_space());
  }
};

}  // namespace gpulearn::linear_model::detail
