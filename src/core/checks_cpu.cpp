// Input checks on host data: finiteness and the minimum, parallel over row partitions.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_backend.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
bool all_finite_impl(MatrixView<const T> X, int n_threads) {
  const RowSplit split(X.rows, 4096, 64);
  std::vector<char> ok(split.n_parts, 1);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, X.rows), end = begin + split.count(p, X.rows);
    for (int64_t i = begin; i < end; ++i) {
      const T* row = X.row(i);
      // x - x is 0 for finite x and NaN for NaN/inf: one branch-free pass per row.
      T acc = 0;
      for (int64_t j = 0; j < X.cols; ++j) acc += row[j] - row[j];
      if (acc != 0 || std::isnan(acc)) {
        ok[p] = 0;
        return;
      }
    }
  });
  for (char v : ok) {
    if (!v) return false;
  }
  return true;
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

bool CpuBackend::all_finite(MatrixView<const float> X) { return all_finite_impl(X, n_threads_); }
bool CpuBackend::all_finite(MatrixView<const double> X) { return all_finite_impl(X, n_threads_); }
float CpuBackend::min_value(MatrixView<const float> X) { return min_value_impl(X); }
double CpuBackend::min_value(MatrixView<const double> X) { return min_value_impl(X); }

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace gpulearn::detail
