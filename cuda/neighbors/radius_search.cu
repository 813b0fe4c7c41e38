// Radius neighbours (radius_search). Per tile of queries the index is scanned in tiles: a
// distance tile (neighbors_common.cuh), then a warp per query screens the tile's approximate
// values against rdist_screen_bound (a margin covering their rounding, so that no match is
// missed), recomputes the survivors exactly (exact_rdist, in double, on the rows as given) and
// keeps those <= bound. With a shift (squared Euclidean) the tiles are of the shifted rows
// (neighbors_common.cuh), and so are the norms in the screen's margin.
//
// Order without atomics: a warp walks its row of the tile in ascending index and appends the
// matches in lane order (ballots and prefix counts) at the front of that same row, in place;
// each step reads all of its entries before it writes any, and never writes past them. So each
// query's matches come out in ascending index whatever the scheduling. Per tile, the per-row
// counts come to the host, the rows' matches are gathered into one contiguous block on the
// device and copied back, and the host appends them to each query's list.
//
// sparse_radius_tile runs the same match kernel over a SparseTileSearch (search_source.cuh):
// the entries are read from the driver's products P (index-major) and the matches written to
// the scratch tile; the exact pass walks the CSR rows; Manhattan's screen adds the CPU's margin
// for the cancellation in P (|q|_1 less the entries' |q_j|).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "neighbors/neighbors_common.cuh"
#include "neighbors/primitives_cuda.cuh"
#include "neighbors/search_source.cuh"

namespace gpulearn::detail {

namespace {

constexpr int kWarps = 4;  // queries per block
constexpr int kWarpThreads = 32 * kWarps;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kPerLane = 4;  // tile entries each lane reads per step
constexpr int64_t kMaxTileQueries = 4096;
// A tile's scratch: the distance tile, the matches' columns, and the gathered copy of both
// (with a shift, also the shifted copies of the query tile and index tile, each within
// kShiftedTileBytes).
constexpr int64_t kTileBytes = int64_t{128} << 20;

template <typename T, typename Rows>
struct MatchArgs {
  RdistSpec metric;
  double bound;
  double screen;  // rdist_screen_bound without the norms (all metrics but squared Euclidean)
  const double* margin;  // per query, added to screen (null: none)
  int64_t d;
  TileEntries<T> in;  // rows x cols tile entries (may be g itself, with ldc = 1)
  T* g;               // each row's matches' exact values out
  int32_t* match;     // each row's matches' columns (in the tile) out
  int64_t ldg;        // stride of g and match
  int64_t rows, cols;
  int64_t q0, x0;  // the tile's first query and first index row
  const T* qf;     // the tile's query factors (read when the approximation uses them; of the
                   // shifted rows with a shift)
  const T* xf;     // the tile's index-row factors
  const T* q;      // the tile's first query (unshifted), stride ldq
  int64_t ldq;
  Rows x;         // the index rows (unshifted; DenseRows, CsrRows)
  int64_t self0;  // query q excludes index row self0 + q; -1: none
  int32_t* counts;  // rows: matches per query
};

template <typename T, Approx kA, typename Rows>
__global__ void __launch_bounds__(kWarpThreads) match_kernel(MatchArgs<T, Rows> a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarps} + warp;
  if (r >= a.rows) return;  // a whole warp
  const T* in = a.in.g + r * a.in.ldr;
  const int64_t ldc = a.in.ldc;
  T* g = a.g + r * a.ldg;
  int32_t* match = a.match + r * a.ldg;
  const T* q = a.q + r * a.ldq;
  const T qf = uses_factors(kA) ? a.qf[r] : T(0);
  const double screen_r = a.margin != nullptr ? a.screen + a.margin[r] : a.screen;
  const int64_t self = a.self0 >= 0 ? a.self0 + a.q0 + r - a.x0 : -1;  // the query's own column
  const unsigned below = (1u << lane) - 1u;
  int count = 0;
  for (int64_t c0 = 0; c0 < a.cols; c0 += 32 * kPerLane) {
    bool screened[kPerLane];
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t c = c0 + u * 32 + lane;
      screened[u] = false;
      if (c < a.cols && c != self) {
        const T xf = uses_factors(kA) ? a.xf[c] : T(0);
        const T v = approx_value<T, kA>(in[c * ldc], qf, xf);
        const double screen =
            kA == Approx::kSqEuclidean
                ? rdist_screen_bound<T>(a.metric, a.bound, a.d,
                                        static_cast<double>(qf) + static_cast<double>(xf))
                : screen_r;
        screened[u] = static_cast<double>(v) <= screen;
      }
    }
    // Every entry of the step is read before any match is written over it.
    __syncwarp();
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t c = c0 + u * 32 + lane;
      double e = 0.0;
      bool hit = false;
      if (screened[u]) {
        e = a.x.rdist(a.metric, q, a.x0 + c, a.d);
        hit = e <= a.bound;
      }
      const unsigned mask = __ballot_sync(kFullMask, hit);
      if (hit) {
        const int slot = count + __popc(mask & below);
        g[slot] = static_cast<T>(e);
        match[slot] = static_cast<int32_t>(c);
      }
      count += __popc(mask);
    }
  }
  if (lane == 0) a.counts[r] = count;
}

// Copies row r's counts[r] matches to [starts[r], starts[r] + counts[r]) of out_v and out_c.
template <typename T>
__global__ void __launch_bounds__(kWarpThreads)
    gather_kernel(const T* g, const int32_t* match, int64_t ldg, int64_t rows,
                  const int32_t* counts, const int64_t* starts, T* out_v, int32_t* out_c) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * int64_t{kWarps} + warp;
  if (r >= rows) return;
  const int64_t start = starts[r], count = counts[r];
  for (int64_t t = lane; t < count; t += 32) {
    out_v[start + t] = g[r * ldg + t];
    out_c[start + t] = match[r * ldg + t];
  }
}

// The matches of every query of src within bound (offsets m + 1, host), in ascending index.
template <typename T, typename Source>
void radius_select(CudaBackend& be, Source& src, double bound, std::vector<int64_t>& offsets,
                   std::vector<int64_t>& idx, std::vector<T>& dist) {
  const int64_t n = src.n(), m = src.m(), d = src.d();
  const RdistSpec metric = src.metric;
  cudaStream_t stream = be.stream();
  const int64_t per_entry = 2 * static_cast<int64_t>(sizeof(T) + sizeof(int32_t));
  const int64_t tm = tile_rows(be, m, src.cap(kMaxTileQueries, 32), 32);
  const int64_t tn = tile_rows(be, n, src.cap(kTileBytes / checked_mul(tm, per_entry), 32), 32);
  GPULEARN_ASSERT(tn <= INT32_MAX);  // columns are stored as int32

  struct Scratch {
    T *g, *out_v;
    int32_t *match, *out_c, *counts;
    int64_t* starts;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    const int64_t entries = checked_mul(tm, tn);
    s.g = c.take<T>(entries);
    s.match = c.take<int32_t>(entries);
    s.out_v = c.take<T>(entries);
    s.out_c = c.take<int32_t>(entries);
    s.counts = c.take<int32_t>(tm);
    s.starts = c.take<int64_t>(tm);
    src.take(c, tm, tn);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  src.prepare();
  const T* qf = src.qf();
  const T* xf = src.xf();
  using Rows = typename Source::Rows;

  const double screen = rdist_screen_bound<T>(metric, bound, d, 0.0);
  std::vector<int32_t> counts(tm);
  std::vector<int64_t> starts(tm);
  std::vector<T> found_v;
  std::vector<int32_t> found_c;
  std::vector<std::vector<int64_t>> row_idx(tm);
  std::vector<std::vector<T>> row_dist(tm);
  offsets.reserve(m + 1);
  const auto blocks = [](int64_t rows) { return static_cast<unsigned>(ceil_div(rows, kWarps)); };
  for (int64_t q0 = 0; q0 < m; q0 += tm) {
    const int64_t rows = std::min(tm, m - q0);
    for (int64_t r = 0; r < rows; ++r) {
      row_idx[r].clear();
      row_dist[r].clear();
    }
    src.begin_queries(q0, rows);
    for (int64_t x0 = 0; x0 < n; x0 += tn) {
      const int64_t cols = std::min(tn, n - x0);
      MatchArgs<T, Rows> a{};
      a.in = src.tile(q0, rows, x0, cols, s.g, tn);
      a.metric = metric;
      a.bound = bound;
      a.screen = screen;
      a.margin = src.margin() != nullptr ? src.margin() + q0 : nullptr;
      a.d = d;
      a.g = s.g;
      a.match = s.match;
      a.ldg = tn;
      a.rows = rows;
      a.cols = cols;
      a.q0 = q0;
      a.x0 = x0;
      a.qf = qf != nullptr ? qf + q0 : nullptr;
      a.xf = xf != nullptr ? xf + x0 : nullptr;
      a.q = src.query(q0);
      a.ldq = src.ldq();
      a.x = src.rows();
      a.self0 = src.self0();
      a.counts = s.counts;
      with_approx(metric.kind, [&](auto kind) {
        GPULEARN_LAUNCH(blocks(rows), kWarpThreads, 0, stream,
                        match_kernel<T, decltype(kind)::value, Rows>)
        (a);
        GPULEARN_CUDA_CHECK_LAUNCH();
      });
      download_async(counts.data(), static_cast<const int32_t*>(s.counts), rows, stream);
      be.sync_stream();
      int64_t total = 0;
      for (int64_t r = 0; r < rows; ++r) {
        starts[r] = total;
        total += counts[r];
      }
      if (total == 0) continue;
      upload_async(s.starts, starts.data(), rows, stream);
      GPULEARN_LAUNCH(blocks(rows), kWarpThreads, 0, stream, gather_kernel<T>)
      (s.g, s.match, tn, rows, s.counts, s.starts, s.out_v, s.out_c);
      GPULEARN_CUDA_CHECK_LAUNCH();
      found_v.resize(total);
      found_c.resize(total);
      download_async(found_v.data(), static_cast<const T*>(s.out_v), total, stream);
      download_async(found_c.data(), static_cast<const int32_t*>(s.out_c), total, stream);
      be.sync_stream();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t t = starts[r]; t < starts[r] + counts[r]; ++t) {
          row_idx[r].push_back(x0 + found_c[t]);
          row_dist[r].push_back(found_v[t]);
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      idx.insert(idx.end(), row_idx[r].begin(), row_idx[r].end());
      dist.insert(dist.end(), row_dist[r].begin(), row_dist[r].end());
      offsets.push_back(static_cast<int64_t>(idx.size()));
    }
  }
}

template <typename T>
void radius_impl(CudaBackend& be, RdistSpec metric, const T* shift, MatrixView<const T> index,
                 MatrixView<const T> queries, double bound, bool exclude_self,
                 std::vector<int64_t>& offsets, std::vector<int64_t>& idx, std::vector<T>& dist) {
  offsets.assign(1, 0);
  idx.clear();
  dist.clear();
  if (queries.rows == 0) return;
  GPULEARN_ASSERT(index.cols >= 1 && queries.cols == index.cols && index.rows >= 1);
  require_device_rows(index, "the index");
  require_device_rows(queries, "the queries");
  DenseSearch<T> src{be, metric, shift, index, queries, exclude_self};
  radius_select(be, src, bound, offsets, idx, dist);
}

}  // namespace

template <typename T>
void radius_search_cuda(CudaBackend& be, RdistSpec metric, const T* shift,
                        MatrixView<const T> index, MatrixView<const T> queries, double bound,
                        bool exclude_self, std::vector<int64_t>& offsets, std::vector<int64_t>& idx,
                        std::vector<T>& dist) {
  DeviceGuard guard(be.ordinal());
  radius_impl(be, metric, shift, index, queries, bound, exclude_self, offsets, idx, dist);
}

template <typename T>
void sparse_radius_tile_cuda(CudaBackend& be, RdistSpec metric, CsrView<T> index,
                             const T* index_sq, const T* Q, int64_t t, MatrixView<const T> P,
                             int64_t self_offset, double bound, std::vector<int64_t>& offsets,
                             std::vector<int64_t>& idx, std::vector<T>& dist) {
  DeviceGuard guard(be.ordinal());
  offsets.assign(1, 0);
  idx.clear();
  dist.clear();
  check_sparse_tile(metric, index, index_sq, t, P);
  if (t == 0) return;
  SparseTileSearch<T> src{be, metric, index, index_sq, Q, t, P, self_offset};
  if (metric.kind == Rdist::kManhattan) {
    // P carries the cancellation of |q|_1 - sum |q_j| over x's entries, in double: up to
    // ~(d + 8) eps |q|_1 more than a direct sum's rounding (the CPU backend's margin).
    const int64_t d = index.cols;
    const double eps = std::numeric_limits<T>::epsilon();
    src.host_margin.assign(t, 0.0);
    for (int64_t c = 0; c < t; ++c) {
      double l1 = 0;
      for (int64_t j = 0; j < d; ++j) l1 += std::abs(static_cast<double>(Q[c * d + j]));
      src.host_margin[c] = l1 * (4.0 * (static_cast<double>(d) + 8.0) * eps);
    }
  }
  radius_select(be, src, bound, offsets, idx, dist);
}
#define GPULEARN_INSTANTIATE_RADIUS_SEARCH(T)                                                      \
  template void radius_search_cuda<T>(                                                             \
      CudaBackend & be, RdistSpec metric, const T* shift, MatrixView<const T> index,               \
      MatrixView<const T> queries, double bound, bool exclude_self, std::vector<int64_t>& offsets, \
      std::vector<int64_t>& idx, std::vector<T>& dist);                                            \
  template void sparse_radius_tile_cuda<T>(                                                        \
      CudaBackend & be, RdistSpec metric, CsrView<T> index, const T* index_sq, const T* Q,         \
      int64_t t, MatrixView<const T> P, int64_t self_offset, double bound,                         \
      std::vector<int64_t>& offsets, std::vector<int64_t>& idx, std::vector<T>& dist);
GPULEARN_INSTANTIATE_RADIUS_SEARCH(float)
GPULEARN_INSTANTIATE_RADIUS_SEARCH(double)
#undef GPULEARN_INSTANTIATE_RADIUS_SEARCH

}  // namespace gpulearn::detail
