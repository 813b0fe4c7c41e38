// Random CSR matrices for the sparse CUDA tests (test_sparse_cuda.cpp and the families'
// sparse kernels' tests), with the awkward cases built in: every seventh row empty, column 2
// empty, unsorted indices within rows, explicit zeros; and their copy in a backend's native
// memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/core/sparse.hpp"
#include "native_array.hpp"

namespace gpulearn::test_util {

// The bars of the sparse CUDA tests (test_sparse_cuda.cpp explains them): sums in double in
// orders that differ, within kSumTolerance times the sum of their terms' magnitudes; results
// rounded to T within that plus a few ulps of T.
constexpr double kSumTolerance = 1e-12;
template <typename T>
double rounded_tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-6;
}

template <typename T>
struct RandomCsr {
  int64_t rows, cols;
  std::vector<T> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr;

  RandomCsr(int64_t n, int64_t d, double density, uint64_t seed) : rows(n), cols(d) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> g;
    indptr.push_back(0);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int32_t> cols_i;
      if (i % 7 != 3) {  // every seventh row empty
        for (int32_t j = 0; j < d; ++j) {
          if (j != 2 && u(rng) < density) cols_i.push_back(j);  // column 2 empty
        }
      }
      std::shuffle(cols_i.begin(), cols_i.end(), rng);  // unsorted within the row
      for (int32_t j : cols_i) {
        values.push_back(u(rng) < 0.05 ? T(0) : static_cast<T>(g(rng) + 0.5));  // explicit zeros
        indices.push_back(j);
      }
      indptr.push_back(static_cast<int64_t>(values.size()));
    }
  }
  CsrView<T> host_view() const {
    return CsrView<T>(values.data(), indices.data(), indptr.data(), rows, cols);
  }
};

// The same CSR arrays in the CUDA backend's device memory.
template <typename T>
struct DeviceCsrCopy {
  NativeArray<T> values;
  NativeArray<int32_t> indices;
  NativeArray<int64_t> indptr;
  int64_t rows, cols;

  DeviceCsrCopy(detail::Backend& be, const RandomCsr<T>& A)
      : values(be, A.values.empty() ? std::vector<T>{T(0)} : A.values),
        indices(be, A.indices.empty() ? std::vector<int32_t>{0} : A.indices),
        indptr(be, A.indptr),
        rows(A.rows),
        cols(A.cols) {}
  CsrView<T> view() const {
    return CsrView<T>(values.data(), indices.data(), indptr.data(), rows, cols,
                      MemorySpace::kDevice);
  }
};

}  // namespace gpulearn::test_util
