// Pieces shared by the nearest-neighbour primitives (knn.cu, radius_search.cu): the checks that
// the inputs are device memory, the tile geometry, the distance tiles and the per-row factors
// of the GEMM family (distance_tile.cu), and how a tile entry becomes an approximate reduced
// distance.
//
// A distance tile holds, for `rows` queries and `cols` consecutive index rows, one entry per
// pair: the dot product q.x for the GEMM family (a cuBLAS GEMM), the reduced distance computed
// in T for the other metrics (a direct kernel). approx_value turns an entry into the value the
// selection ranks, with the same expressions as the CPU backend: (|q|^2 - 2 q.x) + |x|^2 clamped
// at 0, 1 - (q.x / |q|) / |x| clipped to [0, 2], -q.x.
//
// The shift of the squared Euclidean distance (Backend::knn's shift, usually the index's mean):
// q and x above are then q - s and x - s, each rounded to T. It is uploaded once per call; the
// row factors are the squared norms of the shifted rows, and each query tile and index tile is
// copied, shifted, into the workspace (shifted_tile_async) for the GEMM to read. Each copy holds
// at most shifted_tile_cap rows, so at most max(kShiftedTileBytes, 32 d sizeof(T)) bytes (and
// never more rows than its matrix has). Without a shift nothing is copied: the GEMM reads the
// rows in place, with their stride.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/cuda_backend.cuh"
#include "core/row_chunks.cuh"
#include "gpulearn/core/matrix.hpp"
#include "neighbors/rdist.hpp"

namespace gpulearn::detail {

/// What turns a tile entry into an approximate reduced distance.
enum class Approx {
  kSqEuclidean,  // entry q.x, row factors |q|^2 and |x|^2
  kCosine,       // entry q.x, row factors 1/|q| and 1/|x| (0 for a zero row)
  kNegDot,       // entry q.x
  kDirect,       // entry already the reduced distance (direct kernel)
};

inline Approx approx_of(Rdist kind) {
  switch (kind) {
    case Rdist::kSqEuclidean:
      return Approx::kSqEuclidean;
    case Rdist::kCosine:
      return Approx::kCosine;
    case Rdist::kNegInnerProduct:
      return Approx::kNegDot;
    default:
      return Approx::kDirect;
  }
}

/// Whether the approximation reads per-row factors (row_factors_async).
constexpr bool uses_factors(Approx a) { return a == Approx::kSqEuclidean || a == Approx::kCosine; }

/// Calls f(std::integral_constant<Approx, A>{}) with A = approx_of(kind): the run-time metric as
/// the compile-time one a kernel template needs.
template <typename F>
void with_approx(Rdist kind, F&& f) {
  switch (approx_of(kind)) {
    case Approx::kSqEuclidean:
      return f(std::integral_constant<Approx, Approx::kSqEuclidean>{});
    case Approx::kCosine:
      return f(std::integral_constant<Approx, Approx::kCosine>{});
    case Approx::kNegDot:
      return f(std::integral_constant<Approx, Approx::kNegDot>{});
    default:
      return f(std::integral_constant<Approx, Approx::kDirect>{});
  }
}

/// The index of an empty slot of a running list: it sorts after every row index.
constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::max();

/// v as a sort key: NaN and +-inf (only from a product that overflowed, which the driver's
/// magnitude check rules out) become the largest finite values, so that a real pair always
/// ranks before an empty slot (+inf); -0 becomes +0, so that radix sorts (which order -0 before
/// +0) agree with comparisons.
template <typename T>
__device__ __forceinline__ T canonical(T v) {
  constexpr T kMax = std::numeric_limits<T>::max();
  if (v != v) return kMax;
  if (v > kMax) return kMax;
  if (v < -kMax) return -kMax;
  return v == T(0) ? T(0) : v;
}

/// The approximate reduced distance of a tile entry g, with qf and xf the query's and the index
/// row's factors (read for the squared Euclidean and cosine only).
template <typename T, Approx kA>
__device__ __forceinline__ T approx_value(T g, T qf, T xf) {
  T v;
  if constexpr (kA == Approx::kSqEuclidean) {
    v = (qf - T(2) * g) + xf;
    v = v < T(0) ? T(0) : v;
  } else if constexpr (kA == Approx::kCosine) {
    v = T(1) - g * qf * xf;
    v = v < T(0) ? T(0) : (v > T(2) ? T(2) : v);
  } else if constexpr (kA == Approx::kNegDot) {
    v = -g;
  } else {
    v = g;
  }
  return canonical(v);
}

/// A tile's entries as the selections read them: the entry of the tile's query r and index row
/// c at g[r * ldr + c * ldc]. A distance tile is query-major (ldc = 1); the products of a sparse
/// index (NeighborsPrimitives::sparse_knn_tile's P, n x t) are index-major (ldr = 1).
template <typename T>
struct TileEntries {
  const T* g;
  int64_t ldr, ldc;
};

/// Dense index rows (stride ld) as the exact pass reads them: exact_rdist.
template <typename T>
struct DenseRows {
  const T* x;
  int64_t ld;
  __device__ double rdist(RdistSpec m, const T* q, int64_t j, int64_t d) const {
    return exact_rdist<T>(m, q, x + j * ld, d);
  }
};

/// CSR index rows (device; absolute offsets) as the exact pass reads them: the exact_rdist of the
/// dense query and the row made dense, its entries met in ascending column with a zero for every
/// column it lacks: the CPU backend's computation (it makes the row dense), the same operations
/// in the same order, without a dense row (the two compilers may still contract a multiply-add
/// differently: measured within 4.4e-16 on the emulator). Indices need not be sorted (CsrView): a sorted row is
/// walked in place; an unsorted one finds each next column by a scan of the row (O(r^2) per pair,
/// only for input that skipped the Python layer's canonical form).
template <typename T>
struct CsrRows {
  const T* values;
  const int32_t* indices;
  const int64_t* indptr;
  __device__ double rdist(RdistSpec m, const T* q, int64_t j, int64_t d) const {
    const int64_t begin = indptr[j], end = indptr[j + 1];
    bool sorted = true;
    for (int64_t p = begin + 1; p < end && sorted; ++p) sorted = indices[p] > indices[p - 1];
    const int32_t* idx = indices;
    // The entry of the smallest column after entry `after`'s (-1: before the first), or end.
    const auto next = [=](int64_t after) {
      if (sorted) return after < 0 ? begin : after + 1;
      const int64_t floor = after < 0 ? -1 : idx[after];
      int64_t best = end;
      for (int64_t p = begin; p < end; ++p) {
        if (idx[p] > floor && (best == end || idx[p] < idx[best])) best = p;
      }
      return best;
    };
    int64_t e = next(-1);
    return exact_rdist_with(m, q, d, [&](int64_t l) {
      if (e >= end || idx[e] != l) return 0.0;
      const double b = values[e];
      e = next(e);
      return b;
    });
  }
};

/// Throws InvalidArgument unless v is in device memory this device can read: the driver passes
/// the backend's native space, and a host pointer must never reach a kernel.
template <typename T>
void require_device_rows(MatrixView<const T> v, const char* what) {
  GPULEARN_EXPECTS(v.space == MemorySpace::kDevice, "the CUDA backend's neighbour primitives take ",
                   what, " in device memory (its native space), got ", to_string(v.space),
                   " memory");
  check_device_pointer(v.data, what);
}

/// The shift's device copy is used (kSqEuclidean with a shift); the other metrics ignore it.
inline bool uses_shift(RdistSpec metric, const void* shift) {
  return metric.kind == Rdist::kSqEuclidean && shift != nullptr;
}

/// The budget of one shifted tile copy (rows x d of T, contiguous) in the workspace.
constexpr int64_t kShiftedTileBytes = int64_t{64} << 20;

/// `want` capped, when the tile is copied shifted, to the rows whose copy fits kShiftedTileBytes,
/// but at least `multiple` (tile_rows then rounds it down to the multiple). A function of its
/// arguments only, like tile_rows.
template <typename T>
int64_t shifted_tile_cap(bool shifted, int64_t want, int64_t d, int64_t multiple) {
  if (!shifted) return want;
  const int64_t fit = kShiftedTileBytes / checked_mul(d, static_cast<int64_t>(sizeof(T)));
  const int64_t capped = want < fit ? want : fit;
  return capped < multiple ? multiple : capped;
}

/// Rows per tile: `want` rounded down to a multiple (at least one multiple), capped as
/// fixed_tile_rows caps: by n rounded up to the multiple and by GPULEARN_CUDA_MAX_CHUNK_ROWS,
/// so that tests can exercise tile boundaries on small data. A function of its arguments only,
/// never of the free memory: the GEMM shapes, and so their rounding, are the same on every run.
inline int64_t tile_rows(const CudaBackend& be, int64_t n, int64_t want, int64_t multiple) {
  const int64_t cap = be.fixed_tile_rows(n, 1, multiple);
  const int64_t rows = want / multiple * multiple;
  return rows < multiple ? multiple : (rows < cap ? rows : cap);
}

/// f[i] for the rows x d matrix at x (stride ld): |x_i - s|^2 (kSqEuclidean) or 1/|x_i - s|
/// (kCosine, 0 for a zero row), summed in double and stored as T, as on the CPU backend, with
/// x_i - s rounded to T as in shifted_tile_async; shift (device, d values) null: s = 0. Nothing
/// for the other approximations.
template <typename T>
void row_factors_async(Approx a, const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift,
                       T* f, cudaStream_t stream);

/// The scratch every GEMM-expanded search carves after its own pieces: the row factors of the
/// index and the queries, the device copy of the shift, and the shifted query and index tiles
/// (empty where the approximation or the shift does not need them).
template <typename T>
struct FactorScratch {
  T *xf, *qf, *shift, *qs, *xs;

  /// Takes the pieces from c: n index rows and m query rows of d features, read in tiles of at
  /// most tq queries and tn index rows.
  static FactorScratch take(Carver& c, Approx a, bool shifted, int64_t n, int64_t m, int64_t d,
                            int64_t tq, int64_t tn) {
    const bool factors = uses_factors(a);
    FactorScratch s;
    s.xf = c.take<T>(factors ? n : 0);
    s.qf = c.take<T>(factors ? m : 0);
    s.shift = c.take<T>(shifted ? d : 0);
    s.qs = c.take<T>(shifted ? checked_mul(tq < m ? tq : m, d) : 0);
    s.xs = c.take<T>(shifted ? checked_mul(tn < n ? tn : n, d) : 0);
    return s;
  }

  /// Queues the upload of the host shift (where shifted) and the row factors of both sides;
  /// returns the shift's device copy, or null where the search is not shifted.
  const T* prepare_async(Approx a, bool shifted, const T* host_shift, MatrixView<const T> index,
                         MatrixView<const T> queries, cudaStream_t stream) const {
    const int64_t d = index.cols;
    const T* dshift = shifted ? shift : nullptr;
    if (shifted) upload_async(shift, host_shift, d, stream);
    row_factors_async(a, index.data, index.ld, index.rows, d, dshift, xf, stream);
    row_factors_async(a, queries.data, queries.ld, queries.rows, d, dshift, qf, stream);
    return dshift;
  }
};

/// Rows as a distance tile reads them: the first row and the stride.
template <typename T>
struct GemmRows {
  const T* data;
  int64_t ld;
};

/// The rows x d matrix at x (stride ld) as the distance tile should read it: with shift (device,
/// d values) not null, queues xs (rows x d, contiguous, stride d) = x_i - s for every row, in T,
/// and returns xs; with shift null, returns x itself and queues nothing.
template <typename T>
GemmRows<T> shifted_tile_async(const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift,
                               T* xs, cudaStream_t stream);

/// The distance tile of queries [0, rows) at q (stride ldq) against index rows [0, cols) at x
/// (stride ldx), d features: out[r * ldo + c] = q_r.x_c for the GEMM family (cuBLAS, on the
/// backend's stream), the reduced distance in T for the others.
template <typename T>
void distance_tile_async(CudaBackend& be, RdistSpec metric, const T* q, int64_t ldq, int64_t rows,
                         const T* x, int64_t ldx, int64_t cols, int64_t d, T* out, int64_t ldo);

}  // namespace gpulearn::detail
