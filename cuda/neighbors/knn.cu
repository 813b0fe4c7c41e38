// k nearest neighbours (knn). Per tile of queries the index is scanned in tiles: a distance tile
// (neighbors_common.cuh), then a selection that merges it into each query's running list of the
// k best (approximate value, index) pairs; at the end of the query tile the k pairs' reduced
// distances are recomputed exactly (exact_rdist, in double) and each row is ordered by
// (exact value as T, index), as on the CPU backend. Neither the m x n distance matrix nor a host
// copy of the data is ever made: the scratch is one distance tile and the per-row factors (and,
// for the squared Euclidean distance with a shift, the shifted copies of the current query tile
// and index tile, each within kShiftedTileBytes: see neighbors_common.cuh).
//
// sparse_knn_tile (a CSR index, one tile of the driver's queries) runs the same selections over
// a SparseTileSearch (search_source.cuh): the tile entries are the driver's products P, read in
// place through their column stride (index-major, so a warp's loads are strided: a transposed
// P, or the driver writing it query-major, would coalesce them), and the exact pass walks the
// CSR rows (CsrRows).
//
// Two selections:
// - k <= kMaxFastK: a warp per query, its list in shared memory while it scans a tile (the list
//   lives in the output arrays between tiles). Each lane keeps kPerLane tile entries in flight;
//   those that beat the current k-th best are appended to a candidate buffer behind the list,
//   in lane order (ballots and prefix counts, no atomics), and list + buffer are bitonic-sorted
//   by (value, index) whenever the buffer would overflow and at the end of the tile. Tiles are
//   L2-sized (kTileBytes), so the selection reads what the GEMM has just written from cache.
// - larger k: exact and never an error, but slower. Each query owns a segment of k + tc slots:
//   its running list (ordered by (value, index)), then the approximate values of the next tc
//   index rows; a stable segmented radix sort by value keeps that order, since the list's
//   indices all precede the chunk's, and the first k slots are the new list.
// The exact pass uses a warp-level bitonic sort (fast path) or two stable segmented sorts, by
// index then by value (large k).
//
// Determinism: tile shapes depend on (m, n, k, sizeof(T), and d with a shift) only (tile_rows,
// shifted_tile_cap), never on the free memory, so cuBLAS sees the same shapes on every run;
// every order is a total order on (value, index) pairs with unique indices, so no result depends
// on scheduling.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <limits>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "neighbors/neighbors_common.cuh"
#include "neighbors/primitives_cuda.cuh"
#include "neighbors/search_source.cuh"

namespace gpulearn::detail {

namespace {

// The largest k of the warp selection: its shared list and buffer (a power of two >= k + 32
// entries of a value and an int64 index, per warp) stay within the default 48 KiB per block.
constexpr int64_t kMaxFastK = 256;
constexpr int kWarps = 4;  // queries per block of the warp kernels
constexpr int kWarpThreads = 32 * kWarps;
constexpr unsigned kFullMask = 0xffffffffu;
// Tile entries each lane loads before it filters them: enough loads in flight per warp.
constexpr int kPerLane = 8;
// The query tile: enough warps (one per query) to fill an H200 about half.
constexpr int64_t kMaxTileQueries = 4096;
// The distance tile: about the L2 of an H100/H200, so that the selection reads it from cache.
constexpr int64_t kTileBytes = int64_t{32} << 20;
// Large k: index rows per chunk (at least k, unless a shifted copy's budget caps it: any chunk
// size is correct), and the budget of the per-query segments.
constexpr int64_t kSortedChunkRows = 32768;
constexpr int64_t kSortedBytes = int64_t{256} << 20;

__host__ __device__ inline int pow2_at_least(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

// (v, i) before (w, j) in (value, index) order.
template <typename T>
__device__ __forceinline__ bool before(T v, int64_t i, T w, int64_t j) {
  return v < w || (v == w && i < j);
}

template <typename T>
struct Entry {
  T v;
  int64_t i;
};

// Sorts the n (a power of two) entries (vals, ids) in shared memory by (value, index) with the
// 32 lanes of a warp; the caller has made them visible to every lane (__syncwarp).
template <typename T>
__device__ void warp_bitonic_sort(T* vals, int64_t* ids, int n) {
  const int lane = threadIdx.x % 32;
  for (int size = 2; size <= n; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int t = lane; t < n / 2; t += 32) {
        const int i = 2 * t - (t & (stride - 1)), j = i + stride;
        const bool ascending = (i & size) == 0;
        const T vi = vals[i], vj = vals[j];
        const int64_t ii = ids[i], ij = ids[j];
        if (before(vj, ij, vi, ii) == ascending) {
          vals[i] = vj;
          vals[j] = vi;
          ids[i] = ij;
          ids[j] = ii;
        }
      }
      __syncwarp();
    }
  }
}

// Merges the candidates at [k, used) into the sorted list at [0, k): pads to a power of two
// with empty slots and sorts. Returns the new k-th best. All 32 lanes call it.
template <typename T>
__device__ __noinline__ Entry<T> merge_candidates(T* vals, int64_t* ids, int k, int used) {
  const int lane = threadIdx.x % 32;
  const int n = pow2_at_least(used);
  __syncwarp();
  for (int t = used + lane; t < n; t += 32) {
    vals[t] = std::numeric_limits<T>::infinity();
    ids[t] = kNoIndex;
  }
  __syncwarp();
  warp_bitonic_sort(vals, ids, n);
  return {vals[k - 1], ids[k - 1]};
}

// A warp's list and buffer in the dynamic shared memory: the blocks' ids, then their values.
template <typename T>
struct WarpSlots {
  T* vals;
  int64_t* ids;
  __device__ WarpSlots(int64_t* smem, int warp, int width)
      : vals(reinterpret_cast<T*>(smem + kWarps * width) + warp * width),
        ids(smem + warp * width) {}
};

// ---- Fast selection (k <= kMaxFastK) ---------------------------------------------------------

template <typename T>
struct SelectArgs {
  TileEntries<T> g;  // rows x cols tile entries
  int64_t rows, cols;
  int64_t q0, x0;  // the tile's first query and first index row
  const T* qf;     // the tile's query factors (read when the approximation uses them)
  const T* xf;     // the tile's index-row factors
  int k, width;    // width: slots of a warp, a power of two >= k + 32
  bool first;      // the first index tile: no running list yet
  int64_t self0;   // query q excludes index row self0 + q; -1: none
  T* run_dist;     // rows x k running lists (the outputs at query q0), approximate values
  int64_t* run_idx;
};

template <typename T, Approx kA>
__global__ void __launch_bounds__(kWarpThreads) select_kernel(SelectArgs<T> a) {
  GPULEARN_DYNAMIC_SHARED(int64_t, neighbors_smem);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarps} + warp;
  if (r >= a.rows) return;  // a whole warp: the kernel has no block-wide barrier
  const WarpSlots<T> s(neighbors_smem, warp, a.width);
  const int k = a.k;
  T* run_dist = a.run_dist + r * k;
  int64_t* run_idx = a.run_idx + r * k;
  for (int t = lane; t < k; t += 32) {
    s.vals[t] = a.first ? std::numeric_limits<T>::infinity() : run_dist[t];
    s.ids[t] = a.first ? kNoIndex : run_idx[t];
  }
  __syncwarp();
  Entry<T> worst{s.vals[k - 1], s.ids[k - 1]};
  const int cap = a.width - k;  // >= 32: a ballot's candidates always fit after a merge
  int count = 0;                // candidates in the buffer, at [k, k + count)
  const T* g = a.g.g + r * a.g.ldr;
  const int64_t ldc = a.g.ldc;
  const T qf = uses_factors(kA) ? a.qf[r] : T(0);
  const int64_t self = a.self0 >= 0 ? a.self0 + a.q0 + r - a.x0 : -1;  // the query's own column
  const unsigned below = (1u << lane) - 1u;
  for (int64_t c0 = 0; c0 < a.cols; c0 += 32 * kPerLane) {
    T v[kPerLane];
    bool pass[kPerLane];
    bool any = false;
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t c = c0 + u * 32 + lane;
      v[u] = T(0);
      pass[u] = false;
      if (c < a.cols && c != self) {
        v[u] = approx_value<T, kA>(g[c * ldc], qf, uses_factors(kA) ? a.xf[c] : T(0));
        pass[u] = before(v[u], a.x0 + c, worst.v, worst.i);
      }
      any = any || pass[u];
    }
    if (!__any_sync(kFullMask, any)) continue;
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      unsigned mask = __ballot_sync(kFullMask, pass[u]);
      if (mask == 0) continue;
      if (count + __popc(mask) > cap) {  // warp-uniform
        worst = merge_candidates(s.vals, s.ids, k, k + count);
        count = 0;
#pragma unroll
        for (int w = u; w < kPerLane; ++w) {
          pass[w] = pass[w] && before(v[w], a.x0 + c0 + w * 32 + lane, worst.v, worst.i);
        }
        mask = __ballot_sync(kFullMask, pass[u]);
      }
      if (pass[u]) {
        const int slot = k + count + __popc(mask & below);
        s.vals[slot] = v[u];
        s.ids[slot] = a.x0 + c0 + u * 32 + lane;
      }
      count += __popc(mask);
    }
  }
  if (count > 0) merge_candidates(s.vals, s.ids, k, k + count);
  __syncwarp();
  for (int t = lane; t < k; t += 32) {
    run_dist[t] = s.vals[t];
    run_idx[t] = s.ids[t];
  }
}

// Recomputes the k selected pairs of each query exactly and orders them by (value, index).
template <typename T, typename Rows>
struct ExactArgs {
  RdistSpec metric;
  const T* q;  // the tile's first query, stride ldq
  int64_t ldq;
  Rows x;  // the index rows (DenseRows, CsrRows)
  int64_t rows, d;
  int k, width;  // width: a power of two >= k
  T* dist;       // rows x k at the tile's first query
  int64_t* idx;
};

template <typename T, typename Rows>
__global__ void __launch_bounds__(kWarpThreads) exact_sort_kernel(ExactArgs<T, Rows> a) {
  GPULEARN_DYNAMIC_SHARED(int64_t, neighbors_smem);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarps} + warp;
  if (r >= a.rows) return;
  const WarpSlots<T> s(neighbors_smem, warp, a.width);
  const T* q = a.q + r * a.ldq;
  T* dist = a.dist + r * a.k;
  int64_t* idx = a.idx + r * a.k;
  for (int t = lane; t < a.width; t += 32) {
    if (t < a.k) {
      const int64_t j = idx[t];
      s.vals[t] = static_cast<T>(a.x.rdist(a.metric, q, j, a.d));
      s.ids[t] = j;
    } else {
      s.vals[t] = std::numeric_limits<T>::infinity();
      s.ids[t] = kNoIndex;
    }
  }
  __syncwarp();
  warp_bitonic_sort(s.vals, s.ids, a.width);
  for (int t = lane; t < a.k; t += 32) {
    dist[t] = s.vals[t];
    idx[t] = s.ids[t];
  }
}

unsigned warp_blocks(int64_t rows) { return static_cast<unsigned>(ceil_div(rows, kWarps)); }

template <typename T, typename Source>
void knn_fast(CudaBackend& be, Source& src, int64_t k, T* dist, int64_t* idx) {
  const int64_t n = src.n(), m = src.m();
  cudaStream_t stream = be.stream();
  const int64_t tm = tile_rows(be, m, src.cap(kMaxTileQueries, 32), 32);
  const int64_t tn =
      tile_rows(be, n, src.cap(kTileBytes / checked_mul(tm, int64_t{sizeof(T)}), 32), 32);
  auto layout = [&](Carver& c) {
    T* g = c.take<T>(Source::kWritesTile ? checked_mul(tm, tn) : 0);
    src.take(c, tm, tn);
    return g;
  };
  T* const g = be.carve_chunk_workspace(layout);
  src.prepare();

  const int kk = static_cast<int>(k);
  const int width = pow2_at_least(kk + 32);
  const size_t select_smem = size_t{kWarps} * width * (sizeof(int64_t) + sizeof(T));
  const int exact_width = pow2_at_least(kk);
  const size_t exact_smem = size_t{kWarps} * exact_width * (sizeof(int64_t) + sizeof(T));
  const T* qf = src.qf();
  const T* xf = src.xf();
  for (int64_t q0 = 0; q0 < m; q0 += tm) {
    const int64_t rows = std::min(tm, m - q0);
    src.begin_queries(q0, rows);
    for (int64_t x0 = 0; x0 < n; x0 += tn) {
      const int64_t cols = std::min(tn, n - x0);
      SelectArgs<T> a{};
      a.g = src.tile(q0, rows, x0, cols, g, tn);
      a.rows = rows;
      a.cols = cols;
      a.q0 = q0;
      a.x0 = x0;
      a.qf = qf != nullptr ? qf + q0 : nullptr;
      a.xf = xf != nullptr ? xf + x0 : nullptr;
      a.k = kk;
      a.width = width;
      a.first = x0 == 0;
      a.self0 = src.self0();
      a.run_dist = dist + q0 * k;
      a.run_idx = idx + q0 * k;
      with_approx(src.metric.kind, [&](auto kind) {
        GPULEARN_LAUNCH(warp_blocks(rows), kWarpThreads, select_smem, stream,
                        select_kernel<T, decltype(kind)::value>)
        (a);
        GPULEARN_CUDA_CHECK_LAUNCH();
      });
    }
    using Rows = typename Source::Rows;
    ExactArgs<T, Rows> e{};
    e.metric = src.metric;
    e.q = src.query(q0);
    e.ldq = src.ldq();
    e.x = src.rows();
    e.rows = rows;
    e.d = src.d();
    e.k = kk;
    e.width = exact_width;
    e.dist = dist + q0 * k;
    e.idx = idx + q0 * k;
    GPULEARN_LAUNCH(warp_blocks(rows), kWarpThreads, exact_smem, stream,
                    exact_sort_kernel<T, Rows>)
    (e);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
}

// ---- Sorted selection (k > kMaxFastK) --------------------------------------------------------

// Each of the rows segments (stride seg) starts with k empty slots: the running list before any
// index row was seen.
template <typename T>
__global__ void empty_lists_kernel(T* keys, int64_t* vals, int64_t rows, int64_t seg, int64_t k) {
  const int64_t total = rows * k;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t s = e / k, t = e - s * k;
    keys[s * seg + t] = std::numeric_limits<T>::infinity();
    vals[s * seg + t] = kNoIndex;
  }
}

// Writes the approximate values of the tile entries g (the query itself: an empty slot's +inf)
// to slots [k, k + cols) of each segment, with their index rows. g may be those very slots (the
// distance tile wrote them there): each thread reads its entry before it writes it.
template <typename T, Approx kA>
__global__ void candidates_kernel(TileEntries<T> g, T* keys, int64_t* vals, int64_t rows,
                                  int64_t cols, int64_t seg, int64_t k, int64_t q0, int64_t x0,
                                  const T* qf, const T* xf, int64_t self0) {
  const int64_t total = rows * cols;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t s = e / cols, c = e - s * cols;
    const int64_t slot = s * seg + k + c;
    const bool self = self0 >= 0 && self0 + q0 + s == x0 + c;
    const T entry = g.g[s * g.ldr + c * g.ldc];
    keys[slot] = self ? std::numeric_limits<T>::infinity()
                      : approx_value<T, kA>(entry, uses_factors(kA) ? qf[s] : T(0),
                                            uses_factors(kA) ? xf[c] : T(0));
    vals[slot] = x0 + c;
  }
}

// Segment s is [s * stride, s * stride + len).
__global__ void segments_kernel(int* begin, int* end, int64_t rows, int64_t stride, int64_t len) {
  for (int64_t s = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; s < rows;
       s += int64_t{gridDim.x} * blockDim.x) {
    begin[s] = static_cast<int>(s * stride);
    end[s] = static_cast<int>(s * stride + len);
  }
}

// out (rows x k, contiguous) = the exact values of the pairs (query s, index row ids[s * ld + t])
// as sort keys, with their index rows.
template <typename T, typename Rows>
__global__ void exact_pairs_kernel(RdistSpec metric, const T* q, int64_t ldq, Rows x, int64_t d,
                                   int64_t rows, int64_t k, const int64_t* ids, int64_t ld,
                                   T* out_v, int64_t* out_i) {
  const int64_t total = rows * k;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t s = e / k, t = e - s * k;
    const int64_t j = ids[s * ld + t];
    out_v[e] = canonical(static_cast<T>(x.rdist(metric, q + s * ldq, j, d)));
    out_i[e] = j;
  }
}

template <typename K, typename V>
void segmented_sort(void* temp, size_t temp_bytes, cub::DoubleBuffer<K>& keys,
                    cub::DoubleBuffer<V>& vals, int64_t items, int64_t segments, const int* begin,
                    const int* end, int end_bit, cudaStream_t stream) {
  GPULEARN_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairs(
      temp, temp_bytes, keys, vals, static_cast<int>(items), static_cast<int>(segments), begin, end,
      0, end_bit, stream));
}

template <typename T, typename Source>
void knn_sorted(CudaBackend& be, Source& src, int64_t k, T* dist, int64_t* idx) {
  const int64_t n = src.n(), m = src.m();
  cudaStream_t stream = be.stream();
  const int64_t tc =
      tile_rows(be, n, src.cap(ceil_div(std::max(kSortedChunkRows, k), 32) * 32, 32), 32);
  const int64_t seg = checked_add(k, tc);
  const int64_t per_query = checked_mul(seg, int64_t{2 * (sizeof(T) + sizeof(int64_t))});
  const int64_t tq =
      tile_rows(be, m, src.cap(std::max<int64_t>(1, kSortedBytes / per_query), 1), 1);
  if (checked_mul(tq, seg) > INT_MAX) {
    GPULEARN_FAIL(Unsupported, "k = ", k, " is too large for the CUDA backend: a query's ", seg,
                  " candidates exceed the 32-bit limit of its segmented sort (", INT_MAX, ")");
  }
  const int64_t items = tq * seg;
  const int value_bits = static_cast<int>(sizeof(T) * 8);
  int index_bits = 1;
  while (index_bits < 63 && (int64_t{1} << index_bits) < n) ++index_bits;

  size_t temp_bytes = 0;
  {
    cub::DoubleBuffer<T> tk;
    cub::DoubleBuffer<int64_t> tv;
    size_t b = 0;
    GPULEARN_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairs(
        nullptr, b, tk, tv, static_cast<int>(items), static_cast<int>(tq),
        static_cast<const int*>(nullptr), static_cast<const int*>(nullptr), 0, value_bits, stream));
    temp_bytes = std::max(temp_bytes, b);
    GPULEARN_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairs(
        nullptr, b, tv, tk, static_cast<int>(tq * k), static_cast<int>(tq),
        static_cast<const int*>(nullptr), static_cast<const int*>(nullptr), 0, index_bits, stream));
    temp_bytes = std::max(temp_bytes, b);
    GPULEARN_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairs(
        nullptr, b, tk, tv, static_cast<int>(tq * k), static_cast<int>(tq),
        static_cast<const int*>(nullptr), static_cast<const int*>(nullptr), 0, value_bits, stream));
    temp_bytes = std::max(temp_bytes, b);
  }

  struct Scratch {
    T *keys0, *keys1;
    int64_t *vals0, *vals1;
    int *begin, *end;
    void* temp;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.keys0 = c.take<T>(items);
    s.keys1 = c.take<T>(items);
    s.vals0 = c.take<int64_t>(items);
    s.vals1 = c.take<int64_t>(items);
    s.begin = c.take<int>(tq);
    s.end = c.take<int>(tq);
    s.temp = c.take<std::byte>(static_cast<int64_t>(temp_bytes));
    src.take(c, tq, tc);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  src.prepare();
  const T* qf = src.qf();
  const T* xf = src.xf();

  for (int64_t q0 = 0; q0 < m; q0 += tq) {
    const int64_t rows = std::min(tq, m - q0);
    src.begin_queries(q0, rows);
    cub::DoubleBuffer<T> keys(s.keys0, s.keys1);
    cub::DoubleBuffer<int64_t> vals(s.vals0, s.vals1);
    GPULEARN_LAUNCH(grid_for(rows * k), kBlockThreads, 0, stream, empty_lists_kernel<T>)
    (keys.Current(), vals.Current(), rows, seg, k);
    GPULEARN_CUDA_CHECK_LAUNCH();
    for (int64_t x0 = 0; x0 < n; x0 += tc) {
      const int64_t cols = std::min(tc, n - x0);
      const TileEntries<T> g = src.tile(q0, rows, x0, cols, keys.Current() + k, seg);
      with_approx(src.metric.kind, [&](auto kind) {
        GPULEARN_LAUNCH(grid_for(rows * cols), kBlockThreads, 0, stream,
                        candidates_kernel<T, decltype(kind)::value>)
        (g, keys.Current(), vals.Current(), rows, cols, seg, k, q0, x0,
         qf != nullptr ? qf + q0 : nullptr, xf != nullptr ? xf + x0 : nullptr, src.self0());
        GPULEARN_CUDA_CHECK_LAUNCH();
      });
      GPULEARN_LAUNCH(grid_for(rows), kBlockThreads, 0, stream, segments_kernel)
      (s.begin, s.end, rows, seg, k + cols);
      GPULEARN_CUDA_CHECK_LAUNCH();
      segmented_sort(s.temp, temp_bytes, keys, vals, rows * seg, rows, s.begin, s.end, value_bits,
                     stream);
    }
    // The exact pass, into the spare buffers; then by index, and stably by value.
    T* exact_v = keys.Alternate();
    int64_t* exact_i = vals.Alternate();
    GPULEARN_LAUNCH(grid_for(rows * k), kBlockThreads, 0, stream,
                    exact_pairs_kernel<T, typename Source::Rows>)
    (src.metric, src.query(q0), src.ldq(), src.rows(), src.d(), rows, k, vals.Current(), seg,
     exact_v, exact_i);
    GPULEARN_CUDA_CHECK_LAUNCH();
    GPULEARN_LAUNCH(grid_for(rows), kBlockThreads, 0, stream, segments_kernel)
    (s.begin, s.end, rows, k, k);
    GPULEARN_CUDA_CHECK_LAUNCH();
    cub::DoubleBuffer<int64_t> by_index(exact_i, vals.Current());
    cub::DoubleBuffer<T> with_index(exact_v, keys.Current());
    segmented_sort(s.temp, temp_bytes, by_index, with_index, rows * k, rows, s.begin, s.end,
                   index_bits, stream);
    cub::DoubleBuffer<T> by_value(with_index.Current(), with_index.Alternate());
    cub::DoubleBuffer<int64_t> with_value(by_index.Current(), by_index.Alternate());
    segmented_sort(s.temp, temp_bytes, by_value, with_value, rows * k, rows, s.begin, s.end,
                   value_bits, stream);
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(dist + q0 * k, by_value.Current(),
                                      checked_bytes(rows * k, sizeof(T)), cudaMemcpyDeviceToDevice,
                                      stream));
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(idx + q0 * k, with_value.Current(),
                                      checked_bytes(rows * k, sizeof(int64_t)),
                                      cudaMemcpyDeviceToDevice, stream));
  }
}

// Either selection, then waits for it: the outputs are the caller's once this returns.
template <typename T, typename Source>
void select_knn(CudaBackend& be, Source& src, int64_t k, T* dist, int64_t* idx) {
  if (k <= kMaxFastK) {
    knn_fast(be, src, k, dist, idx);
  } else {
    knn_sorted(be, src, k, dist, idx);
  }
  be.sync_stream();
}

template <typename T>
void knn_impl(CudaBackend& be, RdistSpec metric, const T* shift, MatrixView<const T> index,
              MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist, int64_t* idx) {
  if (queries.rows == 0) return;
  GPULEARN_ASSERT(index.cols >= 1 && queries.cols == index.cols);
  GPULEARN_ASSERT(k >= 1 && k <= index.rows - (exclude_self ? 1 : 0));
  require_device_rows(index, "the index");
  require_device_rows(queries, "the queries");
  check_device_pointer(dist, "the distances");
  check_device_pointer(idx, "the indices");
  DenseSearch<T> src{be, metric, shift, index, queries, exclude_self};
  select_knn(be, src, k, dist, idx);
}

}  // namespace

template <typename T>
void knn_cuda(CudaBackend& be, RdistSpec metric, const T* shift, MatrixView<const T> index,
              MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist, int64_t* idx) {
  DeviceGuard guard(be.ordinal());
  knn_impl(be, metric, shift, index, queries, k, exclude_self, dist, idx);
}

template <typename T>
void sparse_knn_tile_cuda(CudaBackend& be, RdistSpec metric, CsrView<T> index, const T* index_sq,
                          const T* Q, int64_t t, MatrixView<const T> P, int64_t self_offset,
                          int64_t k, T* dist, int64_t* idx) {
  DeviceGuard guard(be.ordinal());
  check_sparse_tile(metric, index, index_sq, t, P);
  if (t == 0) return;
  GPULEARN_ASSERT(k >= 1 && k <= index.rows);
  check_device_pointer(dist, "the distances");
  check_device_pointer(idx, "the indices");
  SparseTileSearch<T> src{be, metric, index, index_sq, Q, t, P, self_offset};
  select_knn(be, src, k, dist, idx);
}
#define GPULEARN_INSTANTIATE_KNN(T)                                                              \
  template void knn_cuda<T>(CudaBackend & be, RdistSpec metric, const T* shift,                  \
                            MatrixView<const T> index, MatrixView<const T> queries, int64_t k,   \
                            bool exclude_self, T* dist, int64_t* idx);                           \
  template void sparse_knn_tile_cuda<T>(CudaBackend & be, RdistSpec metric, CsrView<T> index,    \
                                        const T* index_sq, const T* Q, int64_t t,                \
                                        MatrixView<const T> P, int64_t self_offset, int64_t k,   \
                                        T* dist, int64_t* idx);
GPULEARN_INSTANTIATE_KNN(float)
GPULEARN_INSTANTIATE_KNN(double)
#undef GPULEARN_INSTANTIATE_KNN

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, NeighborsPrimitives, CudaNeighborsPrimitives)

}  // namespace gpulearn::detail
