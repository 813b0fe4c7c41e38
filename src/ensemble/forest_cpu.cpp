// CPU primitives of the forests besides growth: binning X into codes, and the traversal of a
// fitted forest. Rows are split into fixed partitions; min/max merges are exact, and each row's
// traversal is independent, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "../core/cpu_backend.hpp"

namespace gpulearn::detail {

template <typename T>
void forest_bin_cpu(int n_threads, MatrixView<const T> X, const double* edges,
                    const int64_t* offsets, uint8_t* codes, T* bin_min, T* bin_max) {
  const int64_t n = X.rows, d = X.cols, nb = forest::kMaxBins;
  const RowSplit split(n, 4096, kCpuMaxParts);
  std::vector<std::vector<T>> lo(split.n_parts), hi(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    std::vector<T>& mn = lo[p];
    std::vector<T>& mx = hi[p];
    mn.assign(d * nb, std::numeric_limits<T>::infinity());
    mx.assign(d * nb, -std::numeric_limits<T>::infinity());
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      const T* x = X.row(i);
      uint8_t* out = codes + i * d;
      for (int64_t j = 0; j < d; ++j) {
        const double* e0 = edges + offsets[j];
        const double* e1 = edges + offsets[j + 1];
        const int64_t b = std::lower_bound(e0, e1, static_cast<double>(x[j])) - e0;
        out[j] = static_cast<uint8_t>(b);
        T& a = mn[j * nb + b];
        T& z = mx[j * nb + b];
        if (x[j] < a) a = x[j];
        if (x[j] > z) z = x[j];
      }
    }
  });
  for (int64_t p = 0; p < split.n_parts; ++p) {
    for (int64_t k = 0; k < d * nb; ++k) {
      bin_min[k] = std::min(bin_min[k], lo[p][k]);
      bin_max[k] = std::max(bin_max[k], hi[p][k]);
    }
  }
}

// Rows walked through one tree before the next: the tree's upper levels stay in cache across
// the block, where one row at a time through every tree would evict them.
constexpr int64_t kTraverseBlock = 64;

template <typename T>
void forest_traverse_cpu(int n_threads, MatrixView<const T> X, const forest::Layout<T>& f,
                         double* mean, int64_t* leaves) {
  const int64_t n = X.rows, w = f.width, n_trees = f.n_trees;
  const int64_t blocks = (n + kTraverseBlock - 1) / kTraverseBlock;
  parallel_for(blocks, n_threads, [&](int64_t blk) {
    const int64_t begin = blk * kTraverseBlock, rows = std::min(kTraverseBlock, n - begin);
    std::vector<double> acc(rows * w, 0.0);  // per row, summed in tree order
    for (int64_t t = 0; t < n_trees; ++t) {
      const int64_t base = f.tree_offsets[t];
      const int32_t* feature = f.feature + base;
      const T* threshold = f.threshold + base;
      const int32_t* left = f.left + base;
      const int32_t* right = f.right + base;
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = X.row(begin + r);
        int32_t node = 0;
        for (int32_t feat = feature[0]; feat >= 0; feat = feature[node]) {
          node = x[feat] <= threshold[node] ? left[node] : right[node];
        }
        if (leaves != nullptr) leaves[(begin + r) * n_trees + t] = node;
        const double* v = f.value + (base + node) * w;
        for (int64_t c = 0; c < w; ++c) acc[r * w + c] += v[c];
      }
    }
    if (mean != nullptr) {
      for (int64_t k = 0; k < rows * w; ++k) {
        mean[begin * w + k] = acc[k] / static_cast<double>(n_trees);
      }
    }
  });
}

#define GPULEARN_FOREST_CPU(T)                                                                    \
  void CpuBackend::forest_bin(MatrixView<const T> X, const double* edges, const int64_t* offsets, \
                              uint8_t* codes, T* bin_min, T* bin_max) {                           \
    forest_bin_cpu(n_threads_, X, edges, offsets, codes, bin_min, bin_max);                       \
  }                                                                                               \
  void CpuBackend::forest_traverse(MatrixView<const T> X, const forest::Layout<T>& forest,        \
                                   double* mean, int64_t* leaves) {                               \
    forest_traverse_cpu(n_threads_, X, forest, mean, leaves);                                     \
  }
GPULEARN_FOREST_CPU(float)
GPULEARN_FOREST_CPU(double)
#undef GPULEARN_FOREST_CPU

}  // namespace gpulearn::detail
