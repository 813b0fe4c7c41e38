// Quantile binning of the training set: which rows the bin edges come from, their values, and
// the edges (scikit-learn's rule); the data's bin pass (LocalForestData::bin) codes X on them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/parallel.hpp"
#include "forest_fit.hpp"
#include "primitives.hpp"

namespace gpulearn::ensemble::forest_fit {

// Bin edges come from at most this many rows (scikit-learn's histogram gradient boosting uses
// the same subsample size).
constexpr int64_t kBinSampleRows = 200000;

// Per feature, at most n_bins - 1 ascending edges: midpoints between consecutive distinct
// values when there are at most n_bins of them, else the distinct midpoint-quantiles at
// q / n_bins (numpy's percentile with method="midpoint"), as scikit-learn's binning does.
BinEdges quantile_edges(const std::vector<double>& sample, int64_t m, int64_t d, int n_bins,
                        int n_threads) {
  std::vector<std::vector<double>> per(d);
  detail::parallel_for(d, n_threads, [&](int64_t j) {
    std::vector<double> v(m);
    for (int64_t k = 0; k < m; ++k) v[k] = sample[k * d + j];
    std::sort(v.begin(), v.end());
    std::vector<double> distinct(v);
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::vector<double>& e = per[j];
    if (static_cast<int64_t>(distinct.size()) <= n_bins) {
      for (size_t k = 0; k + 1 < distinct.size(); ++k) {
        e.push_back(distinct[k] / 2 + distinct[k + 1] / 2);
      }
    } else {
      for (int q = 1; q < n_bins; ++q) {
        const double pos = static_cast<double>(q) / n_bins * static_cast<double>(m - 1);
        const int64_t lo = static_cast<int64_t>(std::floor(pos));
        const int64_t hi = static_cast<int64_t>(std::ceil(pos));
        e.push_back(v[lo] / 2 + v[hi] / 2);
      }
      e.erase(std::unique(e.begin(), e.end()), e.end());
      // An edge at the largest value would leave the last bin empty.
      while (!e.empty() && e.back() >= distinct.back()) e.pop_back();
    }
  });
  BinEdges b;
  b.offsets.push_back(0);
  for (int64_t j = 0; j < d; ++j) {
    b.edges.insert(b.edges.end(), per[j].begin(), per[j].end());
    b.offsets.push_back(static_cast<int64_t>(b.edges.size()));
    b.n_bins.push_back(static_cast<int32_t>(per[j].size()) + 1);
  }
  return b;
}

std::vector<int64_t> bin_sample_index(int64_t n) {
  std::vector<int64_t> idx;
  const int64_t m = std::min(n, kBinSampleRows);
  for (int64_t k = 0; k < m; ++k) idx.push_back(m == n ? k : k * n / m);
  return idx;
}

// Rows idx (ascending) of X as doubles (idx.size() x d), from host or device memory.
template <typename T>
void sample_rows(Backend& be, MatrixView<const T> X, const int64_t* idx, int64_t m, double* out) {
  const int64_t d = X.cols;
  if (X.space == MemorySpace::kHost) {
    for (int64_t k = 0; k < m; ++k) std::copy_n(X.row(idx[k]), d, &out[k * d]);
    return;
  }
  // Device rows: blocks of consecutive rows, one transfer each.
  const int64_t block = std::max<int64_t>(1, (int64_t{64} << 20) / (X.ld * int64_t(sizeof(T))));
  std::vector<T> buf;
  int64_t k = 0;
  for (int64_t r0 = 0; r0 < X.rows && k < m; r0 += block) {
    const int64_t r1 = std::min(X.rows, r0 + block);
    if (idx[k] >= r1) continue;
    const int64_t count = (r1 - r0 - 1) * X.ld + d;
    buf.resize(count);
    be.copy(buf.data(), MemorySpace::kHost, X.data + r0 * X.ld, X.space,
            count * int64_t(sizeof(T)));
    for (; k < m && idx[k] < r1; ++k) std::copy_n(&buf[(idx[k] - r0) * X.ld], d, &out[k * d]);
  }
}

template void sample_rows<float>(Backend&, MatrixView<const float>, const int64_t*, int64_t,
                                 double*);
template void sample_rows<double>(Backend&, MatrixView<const double>, const int64_t*, int64_t,
                                  double*);


}  // namespace gpulearn::ensemble::forest_fit
