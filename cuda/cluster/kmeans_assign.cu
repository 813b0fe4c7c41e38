// k-means assignment (kmeans_assign) and the full squared-distance matrix (sq_distances).
//
// Distances use the expansion |x - s|^2 - 2 (x - s).c + |c|^2 (s the shift, c a center in the
// shifted frame), clamped at 0, as on the CPU backend. X (device memory, any row stride) is read
// in row tiles, so the n x k distance matrix is never stored whole: per tile, a kernel writes the
// shifted rows and their squared norms, a GEMM their products with the centers, and a kernel the
// distances' argmin. The centers and their squared norms are uploaded once per call.
//
// GEMM layout, as in affine_predict.cu: the row-major tile (m x d, stride ld) is to cuBLAS the
// column-major d x m matrix; the row-major centers (k x d) the column-major d x k one; the
// row-major m x k products are the column-major k x m matrix C Xs^T = gemm(T, N). The handle's
// math mode is CUBLAS_DEFAULT_MATH (set in cuda_backend.cu): no TF32 for float.
//
// Sparse X (SparseKMeansData): dots_to_sq_distances turns the sparse product's dot products
// into distances in place; assign_sparse runs the same assignment kernel over those distances
// and the same label sort and chunked per-cluster sums, with a kernel that adds each chunk's
// CSR rows in order (sparse_chunk_sums_kernel).
//
// Determinism (the same bits on every run, whatever the scheduling or the free memory):
// - Tiles have a fixed size (CudaBackend::fixed_tile_rows), so cuBLAS sees the same shapes.
// - The inertia is summed in double per row block of kRowBlock rows (tiles are whole row
//   blocks), each block in a fixed thread order, then the blocks in index order.
// - The per-cluster sums sort the rows by label (a stable radix sort keeps rows ascending within
//   a cluster), sum fixed chunks of each cluster's rows in double in a fixed order, and add the
//   chunks of a cluster in order. No floating-point atomics anywhere; the changed-label count is
//   an integer atomic, exact in any order.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <limits>
#include <vector>

#include "cluster/kmeans_common.cuh"
#include "cluster/primitives_cuda.cuh"
#include "core/blas_lapack.cuh"
#include "core/cuda_backend.cuh"
#include "core/lanes.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "core/row_norms.cuh"

namespace gpulearn::detail {

namespace {

// Rows per block of the assignment kernel, and the granularity of the tiles: each row block lies
// in one tile, so its inertia partial does not depend on the tile size.
constexpr int64_t kRowBlock = 256;
// Rows per chunk of the per-cluster sums: kMinSumChunk, doubled while the chunk partials
// (chunks x (d + 1) doubles) would exceed kMaxSumPartialBytes. A function of n and d only.
constexpr int64_t kMinSumChunk = 512;
constexpr int64_t kMaxSumChunk = int64_t{1} << 24;
constexpr int64_t kMaxSumPartialBytes = int64_t{64} << 20;

// g (row-major rows x k, stride ldg) = xs (rows x d, stride ldx) times centers^T (k x d).
template <typename T>
void center_products_async(CudaBackend& be, const T* xs, int64_t ldx, int64_t rows, int64_t d,
                           const T* centers, int64_t k, T* g, int64_t ldg) {
  if (d == 0) {  // empty products: no GEMM (cuBLAS's k = 0 case), zeros
    GPULEARN_CUDA_TRY(cudaMemset2DAsync(g, checked_bytes(ldg, sizeof(T)), 0,
                                        checked_bytes(k, sizeof(T)), static_cast<size_t>(rows),
                                        be.stream()));
    return;
  }
  const T one = 1, zero = 0;
  GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, k, rows, d, &one,
                                    centers, d, xs, ldx, &zero, g, ldg));
}

// The centers, their squared norms (summed in double) and the shift (zeros when null), packed
// for one upload: [centers (k x d) | |c|^2 (k) | shift (d)].
template <typename T>
std::vector<T> pack_centers(const T* centers, int64_t k, int64_t d, const T* shift) {
  std::vector<T> p(checked_add(checked_mul(k, d), checked_add(k, d)), T(0));
  std::copy(centers, centers + k * d, p.begin());
  for (int64_t c = 0; c < k; ++c) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double v = centers[c * d + j];
      s += v * v;
    }
    p[k * d + c] = static_cast<T>(s);
  }
  if (shift != nullptr) std::copy(shift, shift + d, p.begin() + k * d + k);
  return p;
}

// The parts of pack_centers' layout, once uploaded to device memory at params.
template <typename T>
struct CenterViews {
  const T* centers;
  const T* norms;
  const T* shift;  // null when there is no shift
  CenterViews(const T* params, int64_t k, int64_t d, bool shifted)
      : centers(params), norms(params + k * d), shift(shifted ? params + k * d + k : nullptr) {}
};

// ---- Assignment ------------------------------------------------------------------------------

template <typename T>
struct AssignArgs {
  const T* g;   // rows x k products (x - s).c, row-major, row stride ldg
  const T* xn;  // rows: |x - s|^2; null: g holds the squared distances themselves (sparse X)
  const T* cn;  // k: |c|^2 (unread when xn is null)
  int64_t rows, k, ldg;
  const T* w;  // null: unit weights
  int64_t w_stride;
  int32_t* labels;
  T* sq_dist;                   // null: not wanted
  double* inertia;              // one slot per row block of the tile
  unsigned long long* changed;  // incremented by the number of labels that changed
};

// One block per kRowBlock rows of a tile; a group of kLanes lanes per row scans the k distances
// (lane l takes centers l, l + kLanes, ...) and the group's butterfly picks the smallest, the
// lowest index on ties.
template <typename T, int kLanes>
__global__ void __launch_bounds__(kBlockThreads) assign_kernel(AssignArgs<T> a) {
  constexpr int kRowsPerStep = kBlockThreads / kLanes;
  constexpr int kNone = INT_MAX;
  const int lane = threadIdx.x % kLanes;
  const int64_t first = blockIdx.x * kRowBlock;
  const int64_t end = a.rows < first + kRowBlock ? a.rows : first + kRowBlock;
  double inertia = 0.0;
  unsigned long long changed = 0;
  for (int64_t r = first; r < end; r += kRowsPerStep) {  // block-uniform: all lanes shuffle
    const int64_t i = r + threadIdx.x / kLanes;
    T best = std::numeric_limits<T>::infinity();
    int best_c = kNone;
    if (i < end) {
      const T xn = a.xn != nullptr ? a.xn[i] : T(0);
      const T* gi = a.g + i * a.ldg;
      for (int64_t c = lane; c < a.k; c += kLanes) {
        const T v = a.xn != nullptr ? expanded_sq_distance(xn, gi[c], a.cn[c]) : gi[c];
        // Strictly smaller, so the lowest index wins ties; the first candidate is always taken,
        // so that even a non-finite distance gives a valid label.
        if (v < best || best_c == kNone) {
          best = v;
          best_c = static_cast<int>(c);
        }
      }
    }
#pragma unroll
    for (int offset = kLanes / 2; offset > 0; offset /= 2) {
      const T other = __shfl_xor_sync(0xffffffffu, best, offset);
      const int other_c = __shfl_xor_sync(0xffffffffu, best_c, offset);
      if (other_c != kNone &&
          (best_c == kNone || other < best || (other == best && other_c < best_c))) {
        best = other;
        best_c = other_c;
      }
    }
    if (lane == 0 && i < end) {
      changed += a.labels[i] != best_c ? 1u : 0u;
      a.labels[i] = best_c;
      if (a.sq_dist != nullptr) a.sq_dist[i] = best;
      const double wi = a.w == nullptr ? 1.0 : static_cast<double>(a.w[i * a.w_stride]);
      inertia += wi * static_cast<double>(best);
    }
  }
  inertia = block_reduce(inertia, SumOp{}, 0.0);
  changed = block_reduce(changed, SumOp{}, 0ull);
  if (threadIdx.x == 0) {
    a.inertia[blockIdx.x] = inertia;
    if (changed != 0) atomicAdd(a.changed, changed);
  }
}

template <typename T>
void assign_async(const AssignArgs<T>& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(ceil_div(a.rows, kRowBlock));
  with_lanes(a.k, [&](auto lanes) {
    constexpr int kLanes = decltype(lanes)::value;
    GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, assign_kernel<T, kLanes>)(a);
    GPULEARN_CUDA_CHECK_LAUNCH();
  });
}

// *out = the sum of count slots: each thread a fixed stride of them, then the block's tree.
__global__ void sum_slots_kernel(const double* slots, int64_t count, double* out) {
  double acc = 0.0;
  for (int64_t b = threadIdx.x; b < count; b += blockDim.x) acc += slots[b];
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) *out = acc;
}

// The stats of an assignment pass once its kernels are queued: the row blocks' inertia slots
// summed in index order (into *inertia, device) and the changed count, brought to the host.
inline KMeansStepStats assign_stats(CudaBackend& be, const double* slots, int64_t row_blocks,
                                    double* inertia, const unsigned long long* changed_d) {
  cudaStream_t stream = be.stream();
  GPULEARN_LAUNCH(1, kBlockThreads, 0, stream, sum_slots_kernel)(slots, row_blocks, inertia);
  GPULEARN_CUDA_CHECK_LAUNCH();
  KMeansStepStats stats;
  unsigned long long changed = 0;
  download_async(&stats.inertia, static_cast<const double*>(inertia), 1, stream);
  download_async(&changed, changed_d, 1, stream);
  be.sync_stream();
  stats.changed = static_cast<int64_t>(changed);
  return stats;
}

// ---- Per-cluster sums ------------------------------------------------------------------------

// off[c] = the first position of the sorted labels holding c or more (c = 0..k; off[k] = n).
__global__ void cluster_offsets_kernel(const int32_t* sorted, int64_t n, int64_t k, int64_t* off) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c <= k;
       c += int64_t{gridDim.x} * blockDim.x) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (sorted[mid] < c) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    off[c] = lo;
  }
}

template <typename T, typename IndexT>
struct ChunkArgs {
  const T* x;  // dense rows (row stride ld), or null: the CSR rows below
  const T* values;
  const int32_t* indices;
  const int64_t* indptr;  // absolute offsets into values and indices
  int64_t ld, d;
  const T* shift;  // null: no shift
  const T* w;      // null: unit weights
  int64_t w_stride;
  const IndexT* perm;          // row indices in label order, ascending within a cluster
  const int64_t* off;          // k + 1: cluster c holds perm[off[c] .. off[c + 1])
  const int64_t* first_chunk;  // k + 1: cluster c owns chunks [first_chunk[c], first_chunk[c + 1])
  int64_t k, chunk_rows;
  double* partial;  // chunks x (d + 1): column j < d sums w_i (x_ij - s_j), column d sums w_i
};

// One block per chunk (grid x) and tile of columns (grid y). Threads (tx, ty): column tx of the
// tile, rows ty, ty + blockDim.y, ... of the chunk, summed in order; then the blockDim.y sums of
// each column in order of ty.
// Positions [begin, end) of perm that chunk q sums.
template <typename T, typename IndexT>
__device__ void chunk_range(const ChunkArgs<T, IndexT>& a, int64_t q, int64_t& begin,
                            int64_t& end) {
  // The chunk's cluster: the last c whose first chunk is at or before q. An empty cluster c has
  // first_chunk[c] == first_chunk[c + 1], so the search passes over it.
  int64_t lo = 0, hi = a.k - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (a.first_chunk[mid] <= q) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  begin = a.off[lo] + (q - a.first_chunk[lo]) * a.chunk_rows;
  end = begin + a.chunk_rows < a.off[lo + 1] ? begin + a.chunk_rows : a.off[lo + 1];
}

template <typename T, typename IndexT>
__global__ void __launch_bounds__(kBlockThreads) chunk_sums_kernel(ChunkArgs<T, IndexT> a) {
  __shared__ double red[kBlockThreads];
  const int64_t width = a.d + 1;
  const int64_t q = blockIdx.x;
  int64_t begin, end;
  chunk_range(a, q, begin, end);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int bx = blockDim.x, by = blockDim.y;
  for (int64_t j0 = blockIdx.y * int64_t{bx}; j0 < width; j0 += int64_t{gridDim.y} * bx) {
    const int64_t j = j0 + tx;
    double acc = 0.0;
    if (j < width) {
      for (int64_t p = begin + ty; p < end; p += by) {
        const int64_t i = a.perm[p];
        const double wi = a.w == nullptr ? 1.0 : static_cast<double>(a.w[i * a.w_stride]);
        if (j < a.d) {
          const T x = a.x[i * a.ld + j];
          acc += wi * static_cast<double>(a.shift == nullptr ? x : x - a.shift[j]);
        } else {
          acc += wi;
        }
      }
    }
    red[ty * bx + tx] = acc;
    __syncthreads();
    if (ty == 0 && j < width) {
      double s = 0.0;
      for (int r = 0; r < by; ++r) s += red[r * bx + tx];
      a.partial[q * width + j] = s;
    }
    __syncthreads();  // red is refilled by the next column tile
  }
}

// The sparse rows' chunk_sums_kernel: one block per chunk, its partial row zeroed, then the
// chunk's rows in order, each row's entries shared out among the threads (distinct columns: a
// CSR row holds each column once), a barrier between rows. Each column is so summed over the
// chunk's rows in ascending order, as the CPU backend sums a cluster's rows; the weight column
// is summed by every thread alike and written by thread 0. No shift (the sparse data corrects
// the sums on the host).
template <typename T, typename IndexT>
__global__ void __launch_bounds__(kBlockThreads) sparse_chunk_sums_kernel(ChunkArgs<T, IndexT> a) {
  const int64_t width = a.d + 1;
  const int64_t q = blockIdx.x;
  int64_t begin, end;
  chunk_range(a, q, begin, end);
  double* out = a.partial + q * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x) out[j] = 0.0;
  __syncthreads();
  double wsum = 0.0;
  for (int64_t p = begin; p < end; ++p) {
    const int64_t i = a.perm[p];
    const double wi = a.w == nullptr ? 1.0 : static_cast<double>(a.w[i * a.w_stride]);
    wsum += wi;
    for (int64_t e = a.indptr[i] + threadIdx.x; e < a.indptr[i + 1]; e += blockDim.x) {
      out[a.indices[e]] += wi * static_cast<double>(a.values[e]);
    }
    __syncthreads();  // the next row may add to the same columns
  }
  if (threadIdx.x == 0) out[a.d] = wsum;
}

// out[c * width + j] = the sum of cluster c's chunk partials, in chunk order (zero when empty).
__global__ void cluster_totals_kernel(const double* partial, const int64_t* first_chunk, int64_t k,
                                      int64_t width, double* out) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < k * width;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = e / width, j = e - c * width;
    double s = 0.0;
    for (int64_t q = first_chunk[c]; q < first_chunk[c + 1]; ++q) s += partial[q * width + j];
    out[e] = s;
  }
}

int64_t sum_chunk_rows(int64_t n, int64_t width) {
  int64_t rows = kMinSumChunk;
  while (rows < kMaxSumChunk && checked_mul(checked_mul(ceil_div(n, rows), width),
                                            int64_t{sizeof(double)}) > kMaxSumPartialBytes) {
    rows *= 2;
  }
  return rows;
}

// The rows whose per-cluster sums cluster_sums takes: dense (X) or CSR (csr not null), both in
// device memory.
template <typename T>
struct SumRows {
  MatrixView<const T> X;
  const CsrView<T>* csr = nullptr;
  int64_t rows() const { return csr != nullptr ? csr->rows : X.rows; }
  int64_t cols() const { return csr != nullptr ? csr->cols : X.cols; }
};

// sums (k x d) and weights (k), on the host, each may be null, of the rows by their labels
// (device, in [0, k)): written, or with `add` added to. n >= 1, k >= 1. The shift (dense rows
// only) is subtracted from each row.
template <typename T, typename IndexT>
void cluster_sums(CudaBackend& be, const SumRows<T>& R, VectorView<const T> w, const T* shift,
                  int64_t k, const int32_t* labels, double* sums, double* weights, bool add) {
  const int64_t n = R.rows(), d = R.cols(), width = checked_add(d, 1);
  const MatrixView<const T>& X = R.X;
  GPULEARN_ASSERT(R.csr == nullptr || shift == nullptr);
  cudaStream_t stream = be.stream();
  const int64_t chunk = sum_chunk_rows(n, width);
  const int64_t max_chunks = checked_add(ceil_div(n, chunk), k);
  int bits = 1;  // the label bits the sort looks at
  while (bits < 31 && (int64_t{1} << bits) < k) ++bits;
  size_t sort_bytes = 0;
  GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
      static_cast<const IndexT*>(nullptr), static_cast<IndexT*>(nullptr), static_cast<IndexT>(n), 0,
      bits, stream));

  struct Scratch {
    int32_t* keys;
    IndexT *rows, *perm;
    void* sort_tmp;
    int64_t *off, *first_chunk;
    double *partial, *totals;
    T* shift;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.keys = c.take<int32_t>(n);
    s.rows = c.take<IndexT>(n);
    s.perm = c.take<IndexT>(n);
    s.sort_tmp = c.take<std::byte>(static_cast<int64_t>(sort_bytes));
    s.off = c.take<int64_t>(k + 1);
    s.first_chunk = c.take<int64_t>(k + 1);
    s.partial = c.take<double>(checked_mul(max_chunks, width));
    s.totals = c.take<double>(checked_mul(k, width));
    s.shift = c.take<T>(shift != nullptr ? d : 0);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  if (shift != nullptr) upload_async(s.shift, shift, d, stream);
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, iota_kernel<IndexT>)(s.rows, n);
  GPULEARN_CUDA_CHECK_LAUNCH();
  // Stable: within a cluster the rows stay in ascending order, so the sums below do not depend
  // on how the sort was scheduled.
  GPULEARN_CUDA_TRY(cub::DeviceRadixSort::SortPairs(
      s.sort_tmp, sort_bytes, static_cast<const int32_t*>(labels), s.keys,
      static_cast<const IndexT*>(s.rows), s.perm, static_cast<IndexT>(n), 0, bits, stream));
  GPULEARN_LAUNCH(grid_for(k + 1), kBlockThreads, 0, stream, cluster_offsets_kernel)
  (s.keys, n, k, s.off);
  GPULEARN_CUDA_CHECK_LAUNCH();
  std::vector<int64_t> off(k + 1), first_chunk(k + 1);
  download_async(off.data(), s.off, k + 1, stream);
  be.sync_stream();
  first_chunk[0] = 0;
  for (int64_t c = 0; c < k; ++c) {
    first_chunk[c + 1] = first_chunk[c] + ceil_div(off[c + 1] - off[c], chunk);
  }
  const int64_t chunks = first_chunk[k];
  GPULEARN_ASSERT(chunks >= 1 && chunks <= max_chunks);
  upload_async(s.first_chunk, first_chunk.data(), k + 1, stream);

  ChunkArgs<T, IndexT> a{};
  if (R.csr != nullptr) {
    a.values = R.csr->values;
    a.indices = R.csr->indices;
    a.indptr = R.csr->indptr;
  } else {
    a.x = X.data;
    a.ld = X.ld;
  }
  a.d = d;
  a.shift = shift != nullptr ? s.shift : nullptr;
  a.w = w.empty() ? nullptr : w.data;
  a.w_stride = w.stride;
  a.perm = s.perm;
  a.off = s.off;
  a.first_chunk = s.first_chunk;
  a.k = k;
  a.chunk_rows = chunk;
  a.partial = s.partial;
  if (R.csr != nullptr) {
    GPULEARN_LAUNCH(static_cast<unsigned>(chunks), kBlockThreads, 0, stream,
                    sparse_chunk_sums_kernel<T, IndexT>)
    (a);
  } else {
    const int bx = lanes_for(width), by = kBlockThreads / bx;
    const dim3 grid(static_cast<unsigned>(chunks),
                    static_cast<unsigned>(std::min(ceil_div(width, bx), kMaxGridY)));
    GPULEARN_LAUNCH(grid, dim3(bx, by), 0, stream, chunk_sums_kernel<T, IndexT>)(a);
  }
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(grid_for(checked_mul(k, width)), kBlockThreads, 0, stream, cluster_totals_kernel)
  (s.partial, s.first_chunk, k, width, s.totals);
  GPULEARN_CUDA_CHECK_LAUNCH();
  std::vector<double> totals(k * width);
  download_async(totals.data(), s.totals, k * width, stream);
  be.sync_stream();
  for (int64_t c = 0; c < k; ++c) {
    const double* t = totals.data() + c * width;
    if (sums != nullptr) {
      double* s = sums + c * d;
      for (int64_t j = 0; j < d; ++j) s[j] = add ? s[j] + t[j] : t[j];
    }
    if (weights != nullptr) weights[c] = add ? weights[c] + t[d] : t[d];
  }
}

// ---- The primitives --------------------------------------------------------------------------

template <typename T>
KMeansStepStats kmeans_assign_impl(CudaBackend& be, MatrixView<const T> X, VectorView<const T> w,
                                   const T* shift, const T* centers, int64_t k, int32_t* labels,
                                   T* sq_dist, double* sums, double* weights) {
  const int64_t n = X.rows, d = X.cols;
  KMeansStepStats stats;
  if (sums != nullptr) std::fill_n(sums, checked_mul(k, d), 0.0);
  if (weights != nullptr) std::fill_n(weights, k, 0.0);
  if (n == 0) return stats;
  GPULEARN_ASSERT(k >= 1 && k <= INT32_MAX);
  GPULEARN_ASSERT(w.empty() || w.size == n);
  require_device(X, "X");
  require_device(w, "the sample weights");
  require_device_pointer(labels, n, "the labels");
  require_device_pointer(sq_dist, n, "the squared distances");

  cudaStream_t stream = be.stream();
  const bool shifted = shift != nullptr && d > 0;
  const int64_t per_row =
      checked_mul(checked_add(checked_add(k, shifted ? d : 0), 1), static_cast<int64_t>(sizeof(T)));
  const int64_t tile = be.fixed_tile_rows(n, per_row, kRowBlock);
  const int64_t row_blocks = ceil_div(n, kRowBlock);
  const std::vector<T> params = pack_centers(centers, k, d, shift);

  struct Scratch {
    T *params, *xs, *xn, *g;
    double *inertia_slots, *inertia;
    unsigned long long* changed;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.params = c.take<T>(static_cast<int64_t>(params.size()));
    s.xs = c.take<T>(shifted ? checked_mul(tile, d) : 0);
    s.xn = c.take<T>(tile);
    s.g = c.take<T>(checked_mul(tile, k));
    s.inertia_slots = c.take<double>(row_blocks);
    s.inertia = c.take<double>(1);
    s.changed = c.take<unsigned long long>(1);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  const CenterViews<T> cv(s.params, k, d, shifted);
  upload_async(s.params, params.data(), static_cast<int64_t>(params.size()), stream);
  GPULEARN_CUDA_TRY(cudaMemsetAsync(s.changed, 0, sizeof(unsigned long long), stream));

  for (int64_t begin = 0; begin < n; begin += tile) {
    const int64_t m = std::min(tile, n - begin);
    const T* x = X.data + begin * X.ld;
    shifted_row_norms_async(x, X.ld, m, d, cv.shift, shifted ? s.xs : nullptr, RowNorm::kSquared,
                            s.xn, stream);
    // Unshifted rows go to the GEMM in place, with their stride.
    center_products_async(be, shifted ? static_cast<const T*>(s.xs) : x, shifted ? d : X.ld, m, d,
                          cv.centers, k, s.g, k);
    AssignArgs<T> a{};
    a.g = s.g;
    a.xn = s.xn;
    a.cn = cv.norms;
    a.rows = m;
    a.k = k;
    a.ldg = k;
    a.w = w.empty() ? nullptr : w.data + begin * w.stride;
    a.w_stride = w.stride;
    a.labels = labels + begin;
    a.sq_dist = sq_dist == nullptr ? nullptr : sq_dist + begin;
    a.inertia = s.inertia_slots + begin / kRowBlock;  // tiles are whole row blocks
    a.changed = s.changed;
    assign_async(a, stream);
  }
  stats = assign_stats(be, s.inertia_slots, row_blocks, s.inertia, s.changed);

  if (sums != nullptr || weights != nullptr) {
    with_index_type(n, [&](auto index) {
      cluster_sums<T, decltype(index)>(be, SumRows<T>{X}, w, shift, k, labels, sums, weights,
                                       false);
    });
  }
  return stats;
}

// out[i * ld + c] = the squared distance, from the products the GEMM left there.
template <typename T>
__global__ void distances_kernel(T* out, int64_t ld, int64_t rows, int64_t k, const T* xn,
                                 const T* cn) {
  const int64_t total = rows * k;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / k, c = e - i * k;
    T& v = out[i * ld + c];
    v = expanded_sq_distance(xn[i], v, cn[c]);
  }
}

template <typename T>
void sq_distances_impl(CudaBackend& be, MatrixView<const T> X, const T* shift, const T* centers,
                       int64_t k, MatrixView<T> out) {
  const int64_t n = X.rows, d = X.cols;
  if (n == 0 || k == 0) return;
  GPULEARN_ASSERT(out.rows == n && out.cols == k);
  require_device(X, "X");
  require_device(out, "the distance matrix");

  cudaStream_t stream = be.stream();
  const bool shifted = shift != nullptr && d > 0;
  const int64_t per_row =
      checked_mul(checked_add(shifted ? d : 0, 1), static_cast<int64_t>(sizeof(T)));
  const int64_t tile = be.fixed_tile_rows(n, per_row, kRowBlock);
  const std::vector<T> params = pack_centers(centers, k, d, shift);

  struct Scratch {
    T *params, *xs, *xn;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.params = c.take<T>(static_cast<int64_t>(params.size()));
    s.xs = c.take<T>(shifted ? checked_mul(tile, d) : 0);
    s.xn = c.take<T>(tile);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  const CenterViews<T> cv(s.params, k, d, shifted);
  upload_async(s.params, params.data(), static_cast<int64_t>(params.size()), stream);

  for (int64_t begin = 0; begin < n; begin += tile) {
    const int64_t m = std::min(tile, n - begin);
    const T* x = X.data + begin * X.ld;
    T* dst = out.data + begin * out.ld;
    shifted_row_norms_async(x, X.ld, m, d, cv.shift, shifted ? s.xs : nullptr, RowNorm::kSquared,
                            s.xn, stream);
    center_products_async(be, shifted ? static_cast<const T*>(s.xs) : x, shifted ? d : X.ld, m, d,
                          cv.centers, k, dst, out.ld);
    GPULEARN_LAUNCH(grid_for(checked_mul(m, k)), kBlockThreads, 0, stream, distances_kernel<T>)
    (dst, out.ld, m, k, s.xn, cv.norms);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  be.sync_stream();
}

// ---- Sparse X: distances from the sparse product's dot products, and the assignment ----------

// D_ij = max(0, x_sq_i - 2 D_ij + c_sq_j) in double, rounded to T (the CPU backend's formula and
// order; no contraction: the build passes -fmad=false).
template <typename T>
__global__ void dots_to_sq_kernel(T* D, int64_t ld, int64_t rows, int64_t k, const T* x_sq,
                                  int64_t x_stride, const double* c_sq) {
  const int64_t total = rows * k;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / k, c = e - i * k;
    T& v = D[i * ld + c];
    const double s =
        static_cast<double>(x_sq[i * x_stride]) - 2.0 * static_cast<double>(v) + c_sq[c];
    v = static_cast<T>(s > 0.0 ? s : 0.0);  // also maps NaN to 0, as std::max(0.0, s) does
  }
}

template <typename T>
void dots_to_sq_distances_impl(CudaBackend& be, VectorView<const T> x_sq, const double* c_sq,
                               MatrixView<T> D) {
  const int64_t n = D.rows, k = D.cols;
  if (n == 0 || k == 0) return;
  GPULEARN_EXPECTS(x_sq.size == n, "dots_to_sq_distances: ", x_sq.size, " row norms for ", n,
                   " rows");
  GPULEARN_EXPECTS(c_sq != nullptr, "dots_to_sq_distances: the centers' norms are null");
  require_device(D, "the dot products");
  require_device(x_sq, "the row norms");
  cudaStream_t stream = be.stream();
  double* c_d = be.carve_chunk_workspace([&](Carver& c) { return c.take<double>(k); });
  upload_async(c_d, c_sq, k, stream);
  GPULEARN_LAUNCH(grid_for(checked_mul(n, k)), kBlockThreads, 0, stream, dots_to_sq_kernel<T>)
  (D.data, D.ld, n, k, x_sq.data, x_sq.stride, static_cast<const double*>(c_d));
  GPULEARN_CUDA_CHECK_LAUNCH();
  be.sync_stream();
}

// The dense assignment's kernel over distances already made (AssignArgs::xn null), then the
// per-cluster sums of the CSR rows by the dense path's label sort and chunks
// (sparse_chunk_sums_kernel), added to the caller's sums and weights.
template <typename T>
KMeansStepStats assign_sparse_impl(CudaBackend& be, MatrixView<const T> D, CsrView<T> X,
                                   VectorView<const T> w, int32_t* labels, T* sq_dist, double* sums,
                                   double* weights) {
  const int64_t n = D.rows, k = D.cols;
  KMeansStepStats stats;
  GPULEARN_EXPECTS(X.rows == n, "assign_sparse: X has ", X.rows, " rows, the distances ", n);
  GPULEARN_EXPECTS(w.empty() || w.size == n, "assign_sparse: ", w.size, " sample weights for ", n,
                   " rows");
  if (n == 0) return stats;
  GPULEARN_EXPECTS(k >= 1 && k <= INT32_MAX, "assign_sparse: k = ", k, " is out of range");
  require_device(D, "the distances");
  require_device(w, "the sample weights");
  require_device_pointer(labels, n, "the labels");
  require_device_pointer(sq_dist, n, "the squared distances");
  const bool with_sums = sums != nullptr || weights != nullptr;
  if (with_sums) {
    GPULEARN_EXPECTS(X.space == MemorySpace::kDevice,
                     "the CUDA backend's k-means primitives take X in device memory (its native "
                     "space), got ",
                     to_string(X.space), " memory");
    check_device_pointer(X.indptr, "X's offsets");
  }

  cudaStream_t stream = be.stream();
  const int64_t row_blocks = ceil_div(n, kRowBlock);
  struct Scratch {
    double *inertia_slots, *inertia;
    unsigned long long* changed;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.inertia_slots = c.take<double>(row_blocks);
    s.inertia = c.take<double>(1);
    s.changed = c.take<unsigned long long>(1);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  GPULEARN_CUDA_TRY(cudaMemsetAsync(s.changed, 0, sizeof(unsigned long long), stream));
  AssignArgs<T> a{};
  a.g = D.data;
  a.xn = nullptr;  // D holds the distances
  a.cn = nullptr;
  a.rows = n;
  a.k = k;
  a.ldg = D.ld;
  a.w = w.empty() ? nullptr : w.data;
  a.w_stride = w.stride;
  a.labels = labels;
  a.sq_dist = sq_dist;
  a.inertia = s.inertia_slots;
  a.changed = s.changed;
  assign_async(a, stream);
  stats = assign_stats(be, s.inertia_slots, row_blocks, s.inertia, s.changed);

  if (with_sums) {
    SumRows<T> rows;
    rows.csr = &X;
    with_index_type(n, [&](auto index) {
      cluster_sums<T, decltype(index)>(be, rows, w, nullptr, k, labels, sums, weights, true);
    });
  }
  return stats;
}

}  // namespace

template <typename T>
KMeansStepStats kmeans_assign_cuda(CudaBackend& be, MatrixView<const T> X, VectorView<const T> w,
                                   const T* shift, const T* centers, int64_t k, int32_t* labels,
                                   T* sq_dist, double* sums, double* weights) {
  DeviceGuard guard(be.ordinal());
  return kmeans_assign_impl(be, X, w, shift, centers, k, labels, sq_dist, sums, weights);
}

template <typename T>
void sq_distances_cuda(CudaBackend& be, MatrixView<const T> X, const T* shift, const T* centers,
                       int64_t k, MatrixView<T> out) {
  DeviceGuard guard(be.ordinal());
  sq_distances_impl(be, X, shift, centers, k, out);
}
template <typename T>
void dots_to_sq_distances_cuda(CudaBackend& be, VectorView<const T> x_sq, const double* c_sq,
                               MatrixView<T> D) {
  DeviceGuard guard(be.ordinal());
  dots_to_sq_distances_impl(be, x_sq, c_sq, D);
}

template <typename T>
KMeansStepStats assign_sparse_cuda(CudaBackend& be, MatrixView<const T> D, CsrView<T> X,
                                   VectorView<const T> w, int32_t* labels, T* sq_dist, double* sums,
                                   double* weights) {
  DeviceGuard guard(be.ordinal());
  return assign_sparse_impl(be, D, X, w, labels, sq_dist, sums, weights);
}
#define GPULEARN_INSTANTIATE_KMEANS_SPARSE(T)                                            \
  template void dots_to_sq_distances_cuda<T>(CudaBackend & be, VectorView<const T> x_sq, \
                                             const double* c_sq, MatrixView<T> D);       \
  template KMeansStepStats assign_sparse_cuda<T>(                                        \
      CudaBackend & be, MatrixView<const T> D, CsrView<T> X, VectorView<const T> w,      \
      int32_t * labels, T * sq_dist, double* sums, double* weights);
GPULEARN_INSTANTIATE_KMEANS_SPARSE(float)
GPULEARN_INSTANTIATE_KMEANS_SPARSE(double)
#undef GPULEARN_INSTANTIATE_KMEANS_SPARSE

#define GPULEARN_INSTANTIATE_KMEANS_ASSIGN(T)                                                   \
  template KMeansStepStats kmeans_assign_cuda<T>(                                               \
      CudaBackend & be, MatrixView<const T> X, VectorView<const T> w, const T* shift,           \
      const T* centers, int64_t k, int32_t* labels, T* sq_dist, double* sums, double* weights); \
  template void sq_distances_cuda<T>(CudaBackend & be, MatrixView<const T> X, const T* shift,   \
                                     const T* centers, int64_t k, MatrixView<T> out);
GPULEARN_INSTANTIATE_KMEANS_ASSIGN(float)
GPULEARN_INSTANTIATE_KMEANS_ASSIGN(double)
#undef GPULEARN_INSTANTIATE_KMEANS_ASSIGN

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, ClusterPrimitives, CudaClusterPrimitives)

}  // namespace gpulearn::detail
