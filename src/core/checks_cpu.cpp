// Input checks on host data: finiteness with the largest magnitude, and the minimum; parallel over
// row partitions.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_backend.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
T max_abs_impl(MatrixView<const T> X, int n_threads) {
  const RowSplit split(X.rows, 4096, 64);
  std::vector<T> part_max(split.n_parts, T(0));
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, X.rows), end = begin + split.count(p, X.rows);
    T m = 0;
    for (int64_t i = begin; i < end; ++i) {
      const T* row = X.row(i);
      // x - x is 0 for finite x and NaN for NaN/inf: finiteness rides along branch-free.
      T nonfinite = 0;
      for (int64_t j = 0; j < X.cols; ++j) {
        const T a = std::abs(row[j]);
        m = a > m ? a : m;
        nonfinite += row[j] - row[j];
      }
      if (nonfinite != 0 || std::isnan(nonfinite)) {
        part_max[p] = std::numeric_limits<T>::infinity();
        return;
      }
    }
    part_max[p] = m;
  });
  T m = 0;
  for (T v : part_max) m = v > m ? v : m;
  return m;
}

template <typename T>
T min_value_impl(MatrixView<const T> X) {
  T m = std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < X.rows; ++i) {
    const T* row = X.row(i);
    for (int64_t j = 0; j < X.cols; ++j) m = row[j] < m ? row[j] : m;
  }
  return m;
}

}  // namespace

float CpuBackend::max_abs(MatrixView<const float> X) { return max_abs_impl(X, n_threads_); }
double CpuBackend::max_abs(MatrixView<const double> X) { return max_abs_impl(X, n_threads_); }
float CpuBackend::min_value(MatrixView<const float> X) { return min_value_impl(X); }
double CpuBackend::min_value(MatrixView<const double> X) { return min_value_impl(X); }

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace gpulearn::detail
