// Reductions over a span of host memory that vectorise without -ffast-math.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace gpulearn::detail {

// Independent accumulators per lane: a single running max or sum is a loop-carried dependency
// that GCC will not reorder without -ffast-math, leaving the loop scalar. Over lanes it
// vectorises to maxps/minps/addps (16 lanes: two AVX2 registers of float, four of double). The
// lane loop must stay a loop for that: GCC would otherwise unroll it fully and then fail to
// vectorise the straight-line code.
constexpr int64_t kLanes = 16;

// The smallest x over x[0, n), NaNs skipped; +inf when n == 0.
template <typename T>
T min_span(const T* x, int64_t n) {
  constexpr T kInf = std::numeric_limits<T>::infinity();
  T m[kLanes];
  std::fill(m, m + kLanes, kInf);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma GCC unroll 1
    for (int64_t l = 0; l < kLanes; ++l) m[l] = x[i + l] < m[l] ? x[i + l] : m[l];
  }
  T mm = kInf;
  for (; i < n; ++i) mm = x[i] < mm ? x[i] : mm;
  for (int64_t l = 0; l < kLanes; ++l) mm = m[l] < mm ? m[l] : mm;
  return mm;
}

// The index of the first smallest x over x[0, n) (n >= 1): a vectorised minimum, then a scan
// for its first occurrence, so ties go to the lowest index. NaNs are skipped; all NaN gives 0.
template <typename T>
int64_t argmin_span(const T* x, int64_t n) {
  T m;
  if (n < kLanes) {
    // A short row (few clusters or neighbours, argmin per row of a predict): four independent
    // minimums, inlined, instead of min_span's single chain over the tail. The minimum of the
    // non-NaN values does not depend on the order, so neither does the index found below.
    constexpr T kInf = std::numeric_limits<T>::infinity();
    T a[4] = {kInf, kInf, kInf, kInf};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      for (int u = 0; u < 4; ++u) a[u] = x[i + u] < a[u] ? x[i + u] : a[u];
    }
    for (; i < n; ++i) a[0] = x[i] < a[0] ? x[i] : a[0];
    const T b = a[1] < a[0] ? a[1] : a[0], c = a[3] < a[2] ? a[3] : a[2];
    m = c < b ? c : b;
    // Its first occurrence without a branch per entry (the position is data-dependent, so a
    // branch would be mispredicted about once a row): a conditional move, last to first.
    int64_t best = 0;
    for (int64_t j = n - 1; j >= 0; --j) best = x[j] == m ? j : best;
    return best;
  } else {
    m = min_span(x, n);
  }
  for (int64_t j = 0; j < n; ++j) {
    if (x[j] == m) return j;
  }
  return 0;
}

}  // namespace gpulearn::detail
