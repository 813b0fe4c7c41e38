// The CUDA backend's sparse primitives (sparse/primitives.hpp) over a CSR matrix in device
// memory. A host X is also taken: its rows are copied to the device (values, indices and the
// offsets rebased to 0) for the call, O(nnz); a data class that calls several primitives should
// copy X once itself, as the contract asks.
//
// How each is computed, and why it is deterministic (the same bits on every run):
// - max_abs: a fixed grid over the stored entries, one slot per block (|x|, NaN as +inf), the
//   host takes the maximum of the slots (exact in any order).
// - row_norms_sq: one thread per row sums its entries' squares in double in entry order (the
//   CPU backend's order).
// - multiply (X B): in double, cuSPARSE SpMM (CSR, op(A) = A, row-major B and C: documented
//   deterministic for the non-transposed A), with the block's offsets rebased into 32-bit ones
//   (cuSPARSE assumes offsets[0] = 0); in float (cuSPARSE sums in float, the contract in
//   double) and where 32-bit offsets cannot hold nnz, our kernel: one thread per output,
//   summing in double in entry order, as the CPU backend does.
// - column_sums, multiply_t (X^T W A), gram (X^T W X): reductions over rows, so the rows of each
//   column are first listed in ascending order (a stable radix sort of the entries by column:
//   the column-major "transpose" of the structure, O(nnz) device memory, the values not
//   copied). Then one thread per output (column sums, X^T W A) or one block per row of the Gram
//   matrix sums over that column's rows in ascending row order, in double: no atomics, no
//   partial sums whose split depends on the device. (cuSPARSE's SpMM with op(A) = A^T is
//   documented as not deterministic, so it is not used.) The Gram block of column j adds, for
//   each row i of column j in order, w_i x_ij x_ic to G[j][c] for the row's entries c >= j (the
//   CPU backend's per-cell order, rows ascending); the lower triangle is mirrored.
// - gather_rows: the rows scattered into a zeroed dense block on the device, then copied back.
#include <cusparse.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "sparse/primitives.hpp"

namespace gpulearn::detail {

namespace {

constexpr MemorySpace kDevice = MemorySpace::kDevice;

[[noreturn]] void throw_cusparse_error(cusparseStatus_t code, const char* call, const char* file,
                                       int line) {
  if (code == CUSPARSE_STATUS_ALLOC_FAILED || code == CUSPARSE_STATUS_INSUFFICIENT_RESOURCES) {
    raise<OutOfMemory>(file, line, "cuSPARSE out of memory: ", call, " returned ",
                       cusparseGetErrorName(code), " (", cusparseGetErrorString(code), ")");
  }
  raise<DeviceError>(file, line, "cuSPARSE error: ", call, " returned ", cusparseGetErrorName(code),
                     " (", static_cast<int>(code), ": ", cusparseGetErrorString(code), ")");
}

#define GPULEARN_CUSPARSE_TRY(call)                                              \
  do {                                                                           \
    const cusparseStatus_t gpulearn_status_ = (call);                            \
    if (gpulearn_status_ != CUSPARSE_STATUS_SUCCESS) {                           \
      throw_cusparse_error(gpulearn_status_, #call, __FILE__, __LINE__);         \
    }                                                                            \
  } while (0)

template <typename T>
constexpr cudaDataType cuda_value_type() {
  return std::is_same_v<T, double> ? CUDA_R_64F : CUDA_R_32F;
}

// ---- X on the device ----------------------------------------------------------------------------

// A CSR matrix in device memory: row i's entries are [indptr[i], indptr[i + 1]) of values and
// indices (absolute offsets), first = indptr[0] and nnz = indptr[rows] - first known on the host.
template <typename T>
struct DeviceCsr {
  const T* values = nullptr;
  const int32_t* indices = nullptr;
  const int64_t* indptr = nullptr;
  int64_t rows = 0, cols = 0, first = 0, nnz = 0;
};

// X as a DeviceCsr: a device X read in place (its first and last offsets fetched), a host X's
// rows copied to the device with the offsets rebased to 0.
template <typename T>
class ResidentCsr {
 public:
  ResidentCsr(CsrView<T> X, cudaStream_t stream) {
    v_.rows = X.rows;
    v_.cols = X.cols;
    if (X.rows == 0) return;
    if (X.space == kDevice) {
      int64_t ends[2] = {0, 0};
      download_async(&ends[0], X.indptr, 1, stream);
      download_async(&ends[1], X.indptr + X.rows, 1, stream);
      GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream));
      GPULEARN_EXPECTS(ends[0] >= 0 && ends[1] >= ends[0], "sparse matrix offsets run from ",
                       ends[0], " to ", ends[1]);
      v_.values = X.values;
      v_.indices = X.indices;
      v_.indptr = X.indptr;
      v_.first = ends[0];
      v_.nnz = ends[1] - ends[0];
      return;
    }
    const int64_t first = X.indptr[0], nnz = X.indptr[X.rows] - first;
    GPULEARN_EXPECTS(first >= 0 && nnz >= 0, "sparse matrix offsets run from ", first, " to ",
                     X.indptr[X.rows]);
    std::vector<int64_t> rebased(static_cast<size_t>(X.rows + 1));
    for (int64_t i = 0; i <= X.rows; ++i) rebased[i] = X.indptr[i] - first;
    values_.allocate(nnz);
    indices_.allocate(nnz);
    indptr_.allocate(X.rows + 1);
    upload_async(values_.data(), X.values + first, nnz, stream);
    upload_async(indices_.data(), X.indices + first, nnz, stream);
    upload_async(indptr_.data(), rebased.data(), X.rows + 1, stream);
    // The pageable sources are staged at the call (CUDA's rule); the vector may go.
    GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream));
    v_.values = values_.data();
    v_.indices = indices_.data();
    v_.indptr = indptr_.data();
    v_.nnz = nnz;
  }
  const DeviceCsr<T>& view() const { return v_; }

 private:
  DeviceCsr<T> v_;
  DeviceBuffer<T> values_;
  DeviceBuffer<int32_t> indices_;
  DeviceBuffer<int64_t> indptr_;
};

// A vector of n (weights, or empty: all 1) in device memory, with its stride: read in place, or
// a host one copied.
template <typename T>
class ResidentVector {
 public:
  ResidentVector(VectorView<const T> w, int64_t n, cudaStream_t stream) {
    if (w.empty()) return;
    GPULEARN_EXPECTS(w.size == n, "sample weights have ", w.size, " entries for ", n, " rows");
    if (w.space == kDevice) {
      data_ = w.data;
      stride_ = w.stride;
      return;
    }
    std::vector<T> packed(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) packed[i] = w.data[i * w.stride];
    copy_.allocate(n);
    upload_async(copy_.data(), packed.data(), n, stream);
    GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream));
    data_ = copy_.data();
  }
  const T* data() const { return data_; }  // null: all weights 1
  int64_t stride() const { return stride_; }

 private:
  const T* data_ = nullptr;
  int64_t stride_ = 1;
  DeviceBuffer<T> copy_;
};

template <typename T>
__device__ double weight_at(const T* w, int64_t stride, int64_t i) {
  return w == nullptr ? 1.0 : static_cast<double>(w[i * stride]);
}

// ---- max_abs ------------------------------------------------------------------------------------

struct MaxOp {
  template <typename U>
  __device__ U operator()(U a, U b) const {
    return b > a ? b : a;
  }
};

// slots[block] = the largest |v| of the block's share of v[0, count), NaN counted as +inf.
template <typename T>
__global__ void max_abs_kernel(const T* v, int64_t count, T* slots) {
  T m = 0;
  for (int64_t p = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; p < count;
       p += int64_t{gridDim.x} * blockDim.x) {
    T a = v[p] < T(0) ? -v[p] : v[p];
    if (!(a == a)) a = std::numeric_limits<T>::infinity();
    m = a > m ? a : m;
  }
  m = block_reduce(m, MaxOp{}, T(0));
  if (threadIdx.x == 0) slots[blockIdx.x] = m;
}

// ---- row_norms_sq -------------------------------------------------------------------------------

template <typename T>
__global__ void row_norms_sq_kernel(const T* values, const int64_t* indptr, int64_t rows, T* sq) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    double s = 0;
    for (int64_t q = indptr[i]; q < indptr[i + 1]; ++q) {
      const double v = values[q];
      s += v * v;
    }
    sq[i] = static_cast<T>(s);
  }
}

// ---- multiply -----------------------------------------------------------------------------------

// out[i * ld + c] = sum over row i's entries q, in order, of v_q B[ix_q * l + c], in double.
template <typename T>
__global__ void multiply_kernel(const T* values, const int32_t* indices, const int64_t* indptr,
                                int64_t rows, const T* B, int64_t l, T* out, int64_t ld) {
  const int64_t total = rows * l;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = t / l, c = t % l;
    double s = 0;
    for (int64_t q = indptr[i]; q < indptr[i + 1]; ++q) {
      s += static_cast<double>(values[q]) * static_cast<double>(B[indices[q] * l + c]);
    }
    out[i * ld + c] = static_cast<T>(s);
  }
}

// off[i] = indptr[i] - indptr[0] as 32-bit offsets (the caller checked that nnz fits).
__global__ void rebase_offsets_kernel(const int64_t* indptr, int64_t rows, int32_t* off) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i <= rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    off[i] = static_cast<int32_t>(indptr[i] - indptr[0]);
  }
}

// Destroys cuSPARSE descriptors at scope exit (errors ignored: this runs while unwinding too).
struct SpMatGuard {
  cusparseConstSpMatDescr_t d = nullptr;
  ~SpMatGuard() {
    if (d != nullptr) (void)cusparseDestroySpMat(d);
  }
};
struct DnMatGuard {
  cusparseConstDnMatDescr_t d = nullptr;
  ~DnMatGuard() {
    if (d != nullptr) (void)cusparseDestroyDnMat(d);
  }
};

// ---- The column lists (the transpose of the structure) ------------------------------------------

// For each row i and its entries q (r = q - first, the entry's position): keys[r] = its column,
// pos[r] = r, row_of[r] = i.
template <typename IndexT>
__global__ void entry_keys_kernel(const int32_t* indices, const int64_t* indptr, int64_t rows,
                                  int64_t first, int32_t* keys, IndexT* pos, int64_t* row_of) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    for (int64_t q = indptr[i]; q < indptr[i + 1]; ++q) {
      const int64_t r = q - first;
      keys[r] = indices[q];
      pos[r] = static_cast<IndexT>(r);
      row_of[r] = i;
    }
  }
}

// colptr[c] = the first position of the sorted keys holding c or more (c in [0, cols]).
__global__ void column_offsets_kernel(const int32_t* sorted, int64_t nnz, int64_t cols,
                                      int64_t* colptr) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c <= cols;
       c += int64_t{gridDim.x} * blockDim.x) {
    int64_t lo = 0, hi = nnz;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (sorted[mid] < c) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    colptr[c] = lo;
  }
}

// The entries of each column, rows ascending: column j's are perm[colptr[j] .. colptr[j + 1]),
// each a position r (value values[first + r], row row_of[r]).
template <typename IndexT>
struct ColumnLists {
  using index_type = IndexT;
  DeviceBuffer<int64_t> colptr;  // cols + 1
  DeviceBuffer<IndexT> perm;     // nnz
  DeviceBuffer<int64_t> row_of;  // nnz

  template <typename T>
  ColumnLists(const DeviceCsr<T>& X, cudaStream_t stream)
      : colptr(X.cols + 1), perm(X.nnz), row_of(X.nnz) {
    const int64_t nnz = X.nnz;
    int bits = 1;  // the column bits the sort looks at
    while (bits < 31 && (int64_t{1} << bits) < X.cols) ++bits;
    if (nnz > 0) {
      DeviceBuffer<int32_t> keys(nnz), sorted(nnz);
      DeviceBuffer<IndexT> pos(nnz);
      GPULEARN_LAUNCH(grid_for(X.rows), kBlockThreads, 0, stream, entry_keys_kernel<IndexT>)
      (X.indices, X.indptr, X.rows, X.first, keys.data(), pos.data(), row_of.data());
      GPULEARN_CUDA_CHECK_LAUNCH();
      size_t sort_bytes = 0;
      GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairs(
          nullptr, sort_bytes, static_cast<const int32_t*>(nullptr),
          static_cast<int32_t*>(nullptr), static_cast<const IndexT*>(nullptr),
          static_cast<IndexT*>(nullptr), static_cast<IndexT>(nnz), 0, bits, stream));
      DeviceBuffer<std::byte> tmp(static_cast<int64_t>(sort_bytes));
      // Stable: within a column the entries keep their CSR order, rows ascending.
      GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairs(
          tmp.data(), sort_bytes, static_cast<const int32_t*>(keys.data()), sorted.data(),
          static_cast<const IndexT*>(pos.data()), perm.data(), static_cast<IndexT>(nnz), 0, bits,
          stream));
      GPULEARN_LAUNCH(grid_for(X.cols + 1), kBlockThreads, 0, stream, column_offsets_kernel)
      (sorted.data(), nnz, X.cols, colptr.data());
      GPULEARN_CUDA_CHECK_LAUNCH();
      // The scratch is freed here; cudaFree waits for the queued work that reads it.
    } else {
      GPULEARN_CUDA_TRY(cudaMemsetAsync(colptr.data(), 0,
                                        checked_bytes(X.cols + 1, sizeof(int64_t)), stream));
    }
  }
};

// sums[j] = sum over column j's rows i, ascending, of w_i x_ij, in double.
template <typename T, typename IndexT>
__global__ void column_sums_kernel(const int64_t* colptr, const IndexT* perm, const int64_t* row_of,
                                   const T* values, const T* w, int64_t w_stride, int64_t cols,
                                   double* sums) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < cols;
       j += int64_t{gridDim.x} * blockDim.x) {
    double s = 0;
    for (int64_t k = colptr[j]; k < colptr[j + 1]; ++k) {
      const int64_t r = perm[k];
      s += weight_at(w, w_stride, row_of[r]) * static_cast<double>(values[r]);
    }
    sums[j] = s;
  }
}

// out[j * l + c] = sum over column j's rows i, ascending, of (w_i x_ij) A[i * lda + c], in
// double.
template <typename T, typename IndexT>
__global__ void multiply_t_kernel(const int64_t* colptr, const IndexT* perm, const int64_t* row_of,
                                  const T* values, const T* w, int64_t w_stride, const T* A,
                                  int64_t lda, int64_t cols, int64_t l, double* out) {
  const int64_t total = cols * l;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t j = t / l, c = t % l;
    double s = 0;
    for (int64_t k = colptr[j]; k < colptr[j + 1]; ++k) {
      const int64_t r = perm[k], i = row_of[r];
      const double a = weight_at(w, w_stride, i) * static_cast<double>(values[r]);
      s += a * static_cast<double>(A[i * lda + c]);
    }
    out[t] = s;
  }
}

// Row j of the Gram matrix, by block: for each row i of column j in ascending order, G[j][c] +=
// (w_i x_ij) x_ic over row i's entries with c >= j, the block's threads taking distinct entries
// (distinct c: the columns of a row are distinct), a barrier between rows. G is zeroed.
template <typename T, typename IndexT>
__global__ void gram_rows_kernel(const int64_t* colptr, const IndexT* perm, const int64_t* row_of,
                                 const T* values, const int32_t* indices, const int64_t* indptr,
                                 int64_t first, const T* w, int64_t w_stride, int64_t cols,
                                 double* G) {
  for (int64_t j = blockIdx.x; j < cols; j += gridDim.x) {
    double* g = G + j * cols;
    for (int64_t k = colptr[j]; k < colptr[j + 1]; ++k) {
      const int64_t r = perm[k], i = row_of[r];
      const double a = weight_at(w, w_stride, i) * static_cast<double>(values[first + r]);
      for (int64_t q = indptr[i] + threadIdx.x; q < indptr[i + 1]; q += blockDim.x) {
        const int64_t c = indices[q];
        if (c >= j) g[c] += a * static_cast<double>(values[q]);
      }
      __syncthreads();
    }
  }
}

// G[r][c] = G[c][r] for c < r: the lower triangle from the upper.
__global__ void mirror_kernel(double* G, int64_t d) {
  const int64_t total = d * d;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = t / d, c = t % d;
    if (c < r) G[t] = G[c * d + r];
  }
}

// ---- gather_rows --------------------------------------------------------------------------------

// out[r * d + ix_q] = v_q for the entries q of row idx[r]; out zeroed. Block per gathered row.
template <typename T>
__global__ void gather_rows_kernel(const T* values, const int32_t* indices, const int64_t* indptr,
                                   const int64_t* idx, int64_t t, int64_t d, T* out) {
  for (int64_t r = blockIdx.x; r < t; r += gridDim.x) {
    const int64_t i = idx[r];
    for (int64_t q = indptr[i] + threadIdx.x; q < indptr[i + 1]; q += blockDim.x) {
      out[r * d + indices[q]] = values[q];
    }
  }
}

template <typename T>
class CudaSparsePrimitives final : public SparsePrimitives<T> {
 public:
  explicit CudaSparsePrimitives(CudaBackend& be) : be_(be) {}
  ~CudaSparsePrimitives() override {
    if (cusparse_ == nullptr) return;
    try {
      DeviceGuard guard(be_.ordinal());
      (void)cusparseDestroy(cusparse_);
    } catch (...) {  // a destructor: a broken device leaves the handle to the driver's teardown
    }
  }
  CudaSparsePrimitives(const CudaSparsePrimitives&) = delete;
  CudaSparsePrimitives& operator=(const CudaSparsePrimitives&) = delete;

  T max_abs(CsrView<T> X) override {
    DeviceGuard guard(be_.ordinal());
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const DeviceCsr<T>& x = res.view();
    if (x.nnz == 0) return T(0);
    const unsigned blocks = grid_for(x.nnz);
    DeviceBuffer<T> slots(blocks);
    GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, max_abs_kernel<T>)
    (x.values + x.first, x.nnz, slots.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    std::vector<T> host(blocks);
    download_async(host.data(), slots.data(), blocks, stream);
    be_.sync_stream();
    T m = 0;
    for (T v : host) m = std::max(m, v);
    return m;
  }

  void column_sums(CsrView<T> X, VectorView<const T> w, double* sums) override {
    DeviceGuard guard(be_.ordinal());
    const int64_t d = X.cols;
    if (d == 0) return;
    if (X.rows == 0) {
      std::fill(sums, sums + d, 0.0);
      return;
    }
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const ResidentVector<T> wv(w, X.rows, stream);
    const DeviceCsr<T>& x = res.view();
    with_lists(x, [&](const auto& lists) {
      using IndexT = typename std::decay_t<decltype(lists)>::index_type;
      DeviceBuffer<double> out(d);
      GPULEARN_LAUNCH(grid_for(d), kBlockThreads, 0, stream, column_sums_kernel<T, IndexT>)
      (lists.colptr.data(), lists.perm.data(), lists.row_of.data(), x.values + x.first, wv.data(),
       wv.stride(), d, out.data());
      GPULEARN_CUDA_CHECK_LAUNCH();
      download_async(sums, out.data(), d, stream);
      be_.sync_stream();
    });
  }

  void row_norms_sq(CsrView<T> X, T* sq) override {
    DeviceGuard guard(be_.ordinal());
    if (X.rows == 0) return;
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const DeviceCsr<T>& x = res.view();
    GPULEARN_LAUNCH(grid_for(x.rows), kBlockThreads, 0, stream, row_norms_sq_kernel<T>)
    (x.values, x.indptr, x.rows, sq);
    GPULEARN_CUDA_CHECK_LAUNCH();
    be_.sync_stream();
  }

  void gram(CsrView<T> X, VectorView<const T> w, double* gram) override {
    DeviceGuard guard(be_.ordinal());
    const int64_t d = X.cols, dd = checked_mul(d, d);
    if (d == 0) return;
    if (X.rows == 0) {
      std::fill(gram, gram + dd, 0.0);
      return;
    }
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const ResidentVector<T> wv(w, X.rows, stream);
    const DeviceCsr<T>& x = res.view();
    with_lists(x, [&](const auto& lists) {
      using IndexT = typename std::decay_t<decltype(lists)>::index_type;
      DeviceBuffer<double> G(dd);
      GPULEARN_CUDA_TRY(cudaMemsetAsync(G.data(), 0, checked_bytes(dd, sizeof(double)), stream));
      const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>(d, 1, kMaxBlocks));
      GPULEARN_LAUNCH(blocks, kGramThreads, 0, stream, gram_rows_kernel<T, IndexT>)
      (lists.colptr.data(), lists.perm.data(), lists.row_of.data(), x.values, x.indices, x.indptr,
       x.first, wv.data(), wv.stride(), d, G.data());
      GPULEARN_CUDA_CHECK_LAUNCH();
      GPULEARN_LAUNCH(grid_for(dd), kBlockThreads, 0, stream, mirror_kernel)(G.data(), d);
      GPULEARN_CUDA_CHECK_LAUNCH();
      download_async(gram, G.data(), dd, stream);
      be_.sync_stream();
    });
  }

  void multiply(CsrView<T> X, const T* B, int64_t l, MatrixView<T> out) override {
    DeviceGuard guard(be_.ordinal());
    const int64_t n = X.rows, d = X.cols;
    GPULEARN_EXPECTS(l >= 0, "multiply: l must be non-negative, got ", l);
    GPULEARN_EXPECTS(out.rows == n && out.cols == l, "multiply: out is ", out.rows, " x ",
                     out.cols, ", expected ", n, " x ", l);
    GPULEARN_EXPECTS(out.space == kDevice || n == 0 || l == 0,
                     "multiply: out must be device memory on a CUDA backend");
    if (n == 0 || l == 0) return;
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const DeviceCsr<T>& x = res.view();
    DeviceBuffer<T> b(checked_mul(std::max<int64_t>(d, 1), l));
    if (d > 0) upload_async(b.data(), B, checked_mul(d, l), stream);
    if constexpr (std::is_same_v<T, double>) {
      if (x.nnz > 0 && x.nnz <= std::numeric_limits<int32_t>::max() &&
          n < std::numeric_limits<int32_t>::max()) {
        spmm(x, b.data(), l, out);
        be_.sync_stream();
        return;
      }
    }
    GPULEARN_LAUNCH(grid_for(checked_mul(n, l)), kBlockThreads, 0, stream, multiply_kernel<T>)
    (x.values, x.indices, x.indptr, n, b.data(), l, out.data, out.ld);
    GPULEARN_CUDA_CHECK_LAUNCH();
    be_.sync_stream();
  }

  void multiply_t(CsrView<T> X, MatrixView<const T> A, VectorView<const T> w,
                  double* out) override {
    DeviceGuard guard(be_.ordinal());
    const int64_t n = X.rows, d = X.cols, l = A.cols;
    GPULEARN_EXPECTS(A.rows == n, "multiply_t: A has ", A.rows, " rows for ", n);
    const int64_t dl = checked_mul(d, l);
    if (dl == 0) return;
    if (n == 0) {
      std::fill(out, out + dl, 0.0);
      return;
    }
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const ResidentVector<T> wv(w, n, stream);
    // A host A is staged whole (n x l, the size of the output's other factor).
    DeviceBuffer<T> a_copy;
    const T* a = A.data;
    int64_t lda = A.ld;
    if (A.space != kDevice) {
      a_copy.allocate(checked_mul(n, l));
      for (int64_t i = 0; i < n; ++i) upload_async(a_copy.data() + i * l, A.row(i), l, stream);
      be_.sync_stream();
      a = a_copy.data();
      lda = l;
    }
    const DeviceCsr<T>& x = res.view();
    with_lists(x, [&](const auto& lists) {
      using IndexT = typename std::decay_t<decltype(lists)>::index_type;
      DeviceBuffer<double> o(dl);
      GPULEARN_LAUNCH(grid_for(dl), kBlockThreads, 0, stream, multiply_t_kernel<T, IndexT>)
      (lists.colptr.data(), lists.perm.data(), lists.row_of.data(), x.values + x.first, wv.data(),
       wv.stride(), a, lda, d, l, o.data());
      GPULEARN_CUDA_CHECK_LAUNCH();
      download_async(out, o.data(), dl, stream);
      be_.sync_stream();
    });
  }

  void gather_rows(CsrView<T> X, const int64_t* idx, int64_t t, T* out) override {
    DeviceGuard guard(be_.ordinal());
    const int64_t d = X.cols, td = checked_mul(t, d);
    for (int64_t r = 0; r < t; ++r) {
      GPULEARN_EXPECTS(idx[r] >= 0 && idx[r] < X.rows, "gather_rows: row ", idx[r],
                       " is out of range for ", X.rows, " rows");
    }
    if (td == 0) return;
    cudaStream_t stream = be_.stream();
    const ResidentCsr<T> res(X, stream);
    const DeviceCsr<T>& x = res.view();
    DeviceBuffer<int64_t> rows(t);
    DeviceBuffer<T> dense(td);
    upload_async(rows.data(), idx, t, stream);
    GPULEARN_CUDA_TRY(cudaMemsetAsync(dense.data(), 0, checked_bytes(td, sizeof(T)), stream));
    const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>(t, 1, kMaxBlocks));
    GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, gather_rows_kernel<T>)
    (x.values, x.indices, x.indptr, rows.data(), t, d, dense.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    download_async(out, dense.data(), td, stream);
    be_.sync_stream();
  }

 private:
  // Threads per block of the Gram kernel: a row's entries are shared out among them.
  static constexpr int kGramThreads = 128;

  // Builds the column lists with 32-bit positions where nnz allows (the sort moves less), and
  // calls f(lists).
  template <typename F>
  void with_lists(const DeviceCsr<T>& x, F f) {
    if (x.nnz <= std::numeric_limits<int32_t>::max()) {
      const ColumnLists<int32_t> lists(x, be_.stream());
      f(lists);
    } else {
      const ColumnLists<int64_t> lists(x, be_.stream());
      f(lists);
    }
  }

  cusparseHandle_t cusparse() {
    if (cusparse_ == nullptr) {
      GPULEARN_CUSPARSE_TRY(cusparseCreate(&cusparse_));
      GPULEARN_CUSPARSE_TRY(cusparseSetStream(cusparse_, be_.stream()));
    }
    return cusparse_;
  }

  // out = X B by cuSPARSE (double; 0 < nnz <= INT32_MAX): the offsets rebased to 32 bits, so
  // that the description starts at 0 whatever block of rows X is.
  void spmm(const DeviceCsr<T>& x, const T* b, int64_t l, MatrixView<T> out) {
    cudaStream_t stream = be_.stream();
    const int64_t n = x.rows, d = x.cols;
    DeviceBuffer<int32_t> off(n + 1);
    GPULEARN_LAUNCH(grid_for(n + 1), kBlockThreads, 0, stream, rebase_offsets_kernel)
    (x.indptr, n, off.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    cusparseHandle_t h = cusparse();
    SpMatGuard A;
    DnMatGuard Bd;
    DnMatGuard Cd;
    GPULEARN_CUSPARSE_TRY(cusparseCreateConstCsr(&A.d, n, d, x.nnz, off.data(),
                                                 x.indices + x.first, x.values + x.first,
                                                 CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                                 CUSPARSE_INDEX_BASE_ZERO, cuda_value_type<T>()));
    GPULEARN_CUSPARSE_TRY(cusparseCreateConstDnMat(&Bd.d, d, l, l, b, cuda_value_type<T>(),
                                                   CUSPARSE_ORDER_ROW));
    cusparseDnMatDescr_t c = nullptr;
    GPULEARN_CUSPARSE_TRY(cusparseCreateDnMat(&c, n, l, out.ld, out.data, cuda_value_type<T>(),
                                              CUSPARSE_ORDER_ROW));
    Cd.d = c;
    const T one = 1, zero = 0;
    size_t bytes = 0;
    GPULEARN_CUSPARSE_TRY(cusparseSpMM_bufferSize(
        h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A.d, Bd.d,
        &zero, c, cuda_value_type<T>(), CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    DeviceBuffer<std::byte> buffer(static_cast<int64_t>(bytes));
    GPULEARN_CUSPARSE_TRY(cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                       CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A.d, Bd.d, &zero, c,
                                       cuda_value_type<T>(), CUSPARSE_SPMM_ALG_DEFAULT,
                                       buffer.data()));
    // The buffers are freed on return; cudaFree waits for the queued product.
  }

  CudaBackend& be_;
  cusparseHandle_t cusparse_ = nullptr;
};

}  // namespace

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, SparsePrimitives, CudaSparsePrimitives)

}  // namespace gpulearn::detail
