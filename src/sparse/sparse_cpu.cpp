// CPU sparse primitives (src/sparse/primitives.hpp): loops over the stored entries of a host CSR
// matrix, each pass split into fixed row partitions (or, for the Gram matrix, fixed column
// blocks) that depend on the shape alone, partial sums in double combined in partition order, so
// results are the same with any number of threads. No dense copy of X is made: every buffer is
// O(output): the partial sums of the scatter passes (X^T ...) stay within twice X's stored bytes
// (at least 16 MiB, at most 256 MiB, as the dense passes bound theirs).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "primitives.hpp"

namespace gpulearn::detail {

namespace {

// Rows per partition of a pass: enough entries per task to amortise the task, few enough
// partitions to keep their partial sums small.
constexpr int64_t kSparseMinRows = 1024;


template <typename T>
double weight_at(VectorView<const T> w, int64_t i) {
  return w.empty() ? 1.0 : static_cast<double>(w.data[i * w.stride]);
}

template <typename T>
T max_abs_impl(CsrView<T> X, int n_threads) {
  const int64_t n = X.rows;
  const RowSplit split(n, kSparseMinRows, kCpuMaxParts);
  std::vector<T> part(split.n_parts, T(0));
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    T m = 0;
    bool finite = true;
    for (int64_t q = X.indptr[begin]; q < X.indptr[end]; ++q) {
      const T a = std::abs(X.values[q]);
      finite &= std::isfinite(a);
      m = a > m ? a : m;
    }
    part[p] = finite ? m : std::numeric_limits<T>::infinity();
  });
  T m = 0;
  for (T v : part) m = std::max(m, v);
  return m;
}

// How many row partitions a scatter pass (X^T ...) gets: each needs a private partial of
// per_part bytes, and all of them together stay within min(256 MiB, max(16 MiB, twice X's stored
// bytes)), so the partials never dwarf the data (a wide, very sparse X gets one partition,
// summed straight into the output). Depends on the shape and nnz alone.
template <typename T>
RowSplit scatter_split(CsrView<T> X, int64_t per_part) {
  const int64_t nnz = X.rows > 0 ? X.indptr[X.rows] - X.indptr[0] : 0;
  const int64_t data_bytes = checked_mul(nnz, static_cast<int64_t>(sizeof(T) + 4));
  const int64_t budget = std::min<int64_t>(int64_t{256} << 20,
                                           std::max<int64_t>(int64_t{16} << 20, 2 * data_bytes));
  const int64_t parts = std::max<int64_t>(1, std::min(kCpuMaxParts, budget / per_part));
  return RowSplit(X.rows, kSparseMinRows, parts);
}

template <typename T>
void column_sums_impl(CsrView<T> X, VectorView<const T> w, double* sums, int n_threads) {
  const int64_t n = X.rows, d = X.cols;
  const RowSplit split = scatter_split(X, std::max<int64_t>(1, checked_mul(d, int64_t{8})));
  std::vector<std::vector<double>> acc(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    std::vector<double> a(d, 0.0);
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      const double wi = weight_at(w, i);
      for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
        a[X.indices[q]] += wi * static_cast<double>(X.values[q]);
      }
    }
    acc[p] = std::move(a);
  });
  std::fill(sums, sums + d, 0.0);
  for (const auto& a : acc) {
    for (int64_t j = 0; j < d; ++j) sums[j] += a[j];
  }
}

template <typename T>
void row_norms_sq_impl(CsrView<T> X, T* sq, int n_threads) {
  const int64_t n = X.rows;
  const RowSplit split(n, kSparseMinRows, kCpuMaxParts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      double s = 0;
      for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
        const double v = X.values[q];
        s += v * v;
      }
      sq[i] = static_cast<T>(s);
    }
  });
}

// X^T W X by blocks of output rows: block b owns the features [b * width, (b + 1) * width) and
// scans every row, adding w_i x_ij x_ic for each of the row's entries j in the block and c >= j
// (the upper triangle, mirrored at the end). Each entry
// of the result is summed over the rows in row order, whatever the thread count.
template <typename T>
void gram_impl(CsrView<T> X, VectorView<const T> w, double* gram, int n_threads) {
  const int64_t n = X.rows, d = X.cols;
  std::fill(gram, gram + checked_mul(d, d), 0.0);
  const int64_t width = std::max<int64_t>(16, (d + kCpuMaxParts * 4 - 1) / (kCpuMaxParts * 4));
  const int64_t blocks = (d + width - 1) / width;
  parallel_for(blocks, n_threads, [&](int64_t b) {
    const int32_t lo = static_cast<int32_t>(b * width);
    const int32_t hi = static_cast<int32_t>(std::min(d, (b + 1) * width));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r0 = X.indptr[i], r1 = X.indptr[i + 1];
      const double wi = weight_at(w, i);
      for (int64_t q = r0; q < r1; ++q) {
        const int32_t j = X.indices[q];
        if (j < lo || j >= hi) continue;
        const double a = wi * static_cast<double>(X.values[q]);
        double* row = gram + static_cast<int64_t>(j) * d;
        for (int64_t s = r0; s < r1; ++s) {
          const int32_t c = X.indices[s];
          if (c >= j) row[c] += a * static_cast<double>(X.values[s]);
        }
      }
    }
  });
  // The upper triangle was summed; the lower one is its mirror (the same bits).
  parallel_for(blocks, n_threads, [&](int64_t b) {
    const int64_t hi = std::min(d, (b + 1) * width);
    for (int64_t j = b * width; j < hi; ++j) {
      for (int64_t c = 0; c < j; ++c) gram[j * d + c] = gram[c * d + j];
    }
  });
}

// Stored entries per task of a row-wise product: a few tens of microseconds of work.
constexpr int64_t kProductEntriesPerTask = 8192;

template <typename T>
void multiply_impl(CsrView<T> X, const T* B, int64_t l, MatrixView<T> out, int n_threads) {
  const int64_t n = X.rows;
  if (n == 0) return;
  // Each output row is one task's alone, so the split cannot change a bit of the result: it
  // balances stored entries (times l) rather than rows, from the offsets.
  const int64_t base = X.indptr[0], nnz = X.indptr[n] - base;
  const int64_t work = std::max<int64_t>(nnz, 1) * std::max<int64_t>(l, 1);
  const int64_t parts =
      std::clamp<int64_t>(work / kProductEntriesPerTask, 1, std::min<int64_t>(n, 256));
  auto row_at = [&](int64_t p) {  // the first row of part p: the one where its share starts
    if (p >= parts) return n;
    const int64_t target = base + nnz * p / parts;
    return static_cast<int64_t>(std::lower_bound(X.indptr, X.indptr + n, target) - X.indptr);
  };
  parallel_for(parts, n_threads, [&](int64_t p) {
    std::vector<double> acc(l);
    const int64_t begin = row_at(p), end = row_at(p + 1);
    for (int64_t i = begin; i < end; ++i) {
      if (l == 1) {  // a matrix-vector product: one sum in a register
        double a = 0;
        for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
          a += static_cast<double>(X.values[q]) * static_cast<double>(B[X.indices[q]]);
        }
        out.row(i)[0] = static_cast<T>(a);
        continue;
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
        const double v = X.values[q];
        const T* b = B + static_cast<int64_t>(X.indices[q]) * l;
        for (int64_t c = 0; c < l; ++c) acc[c] += v * static_cast<double>(b[c]);
      }
      T* o = out.row(i);
      for (int64_t c = 0; c < l; ++c) o[c] = static_cast<T>(acc[c]);
    }
  });
}

template <typename T>
void multiply_t_impl(CsrView<T> X, MatrixView<const T> A, VectorView<const T> w, double* out,
                     int n_threads) {
  const int64_t n = X.rows, l = A.cols;
  const int64_t size = checked_mul(X.cols, l);
  const RowSplit split =
      scatter_split(X, std::max<int64_t>(1, checked_mul(size, int64_t{8})));
  auto scatter = [&](int64_t p, double* a) {
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t i = begin; i < end; ++i) {
      const double wi = weight_at(w, i);
      const T* ai = A.row(i);
      if (l == 1) {  // a transposed matrix-vector product: one scatter per entry
        const double r = wi * static_cast<double>(ai[0]);
        for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
          a[X.indices[q]] += static_cast<double>(X.values[q]) * r;
        }
        continue;
      }
      for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) {
        const double v = wi * static_cast<double>(X.values[q]);
        double* o = a + static_cast<int64_t>(X.indices[q]) * l;
        for (int64_t c = 0; c < l; ++c) o[c] += v * static_cast<double>(ai[c]);
      }
    }
  };
  std::fill(out, out + size, 0.0);
  if (split.n_parts == 1) {
    scatter(0, out);
    return;
  }
  std::vector<std::vector<double>> acc(split.n_parts);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    std::vector<double> a(size, 0.0);
    scatter(p, a.data());
    acc[p] = std::move(a);
  });
  // The partials added in partition order, each output range by one task.
  const int64_t chunk = 1 << 16;
  const int64_t tasks = (size + chunk - 1) / chunk;
  parallel_for(tasks, n_threads, [&](int64_t t) {
    const int64_t b = t * chunk, e = std::min(size, b + chunk);
    for (const auto& a : acc) {
      for (int64_t x = b; x < e; ++x) out[x] += a[x];
    }
  });
}

template <typename T>
void gather_rows_impl(CsrView<T> X, const int64_t* idx, int64_t t, T* out) {
  const int64_t d = X.cols;
  std::fill(out, out + checked_mul(t, d), T(0));
  for (int64_t r = 0; r < t; ++r) {
    const int64_t i = idx[r];
    GPULEARN_ASSERT(i >= 0 && i < X.rows);
    T* o = out + r * d;
    for (int64_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q) o[X.indices[q]] = X.values[q];
  }
}

}  // namespace

template <typename T>
class CpuSparsePrimitives final : public SparsePrimitives<T> {
 public:
  explicit CpuSparsePrimitives(CpuBackend& be) : be_(be) {}

  T max_abs(CsrView<T> X) override { return max_abs_impl(X, be_.n_threads()); }
  void column_sums(CsrView<T> X, VectorView<const T> w, double* sums) override {
    column_sums_impl(X, w, sums, be_.n_threads());
  }
  void row_norms_sq(CsrView<T> X, T* sq) override { row_norms_sq_impl(X, sq, be_.n_threads()); }
  void gram(CsrView<T> X, VectorView<const T> w, double* gram) override {
    gram_impl(X, w, gram, be_.n_threads());
  }
  void multiply(CsrView<T> X, const T* B, int64_t l, MatrixView<T> out) override {
    multiply_impl(X, B, l, out, be_.n_threads());
  }
  void multiply_t(CsrView<T> X, MatrixView<const T> A, VectorView<const T> w,
                  double* out) override {
    multiply_t_impl(X, A, w, out, be_.n_threads());
  }
  void gather_rows(CsrView<T> X, const int64_t* idx, int64_t t, T* out) override {
    gather_rows_impl(X, idx, t, out);
  }

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, SparsePrimitives, CpuSparsePrimitives)

}  // namespace gpulearn::detail
