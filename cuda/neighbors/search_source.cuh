// Where a search's tile entries come from, for the selections of knn.cu and radius_search.cu,
// which are written once over this interface:
// - DenseSearch: a dense index and dense queries (knn, radius_search): each tile's entries are
//   computed by distance_tile_async (neighbors_common.cuh), from the shifted copies where the
//   squared Euclidean distance is shifted; the exact pass reads the index rows as given.
// - SparseTileSearch: a CSR index and one tile of dense queries (sparse_knn_tile,
//   sparse_radius_tile): the entries are the driver's products P (n x t, device, index-major),
//   read in place; the tile's queries are copied to the device once; the exact pass reads the
//   index's CSR rows (CsrRows).
//
// A source tells the selection how it is shaped (n, m, d, the approximation), carves its scratch
// from the search's workspace (take; called by both passes of carve_chunk_workspace, the second
// one's pointers being the real ones), queues its preparation (prepare: uploads and row factors),
// and gives each tile's entries (tile: a source that computes them writes them to `out`, stride
// ldo, which the caller carved only where kWritesTile).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/cuda_backend.cuh"
#include "gpulearn/core/sparse.hpp"
#include "neighbors/neighbors_common.cuh"
#include "neighbors/primitives.hpp"

namespace gpulearn::detail {

template <typename T>
struct DenseSearch {
  static constexpr bool kWritesTile = true;
  using Rows = DenseRows<T>;

  CudaBackend& be;
  RdistSpec metric;
  const T* host_shift;
  MatrixView<const T> index, queries;
  bool exclude_self;
  Approx approx = approx_of(metric.kind);
  bool shifted = uses_shift(metric, host_shift);
  FactorScratch<T> f{};
  const T* dshift = nullptr;
  GemmRows<T> qt{};

  int64_t n() const { return index.rows; }
  int64_t m() const { return queries.rows; }
  int64_t d() const { return index.cols; }
  /// A tile's row count `want`, capped where the rows are copied shifted.
  int64_t cap(int64_t want, int64_t multiple) const {
    return shifted_tile_cap<T>(shifted, want, d(), multiple);
  }
  void take(Carver& c, int64_t tq, int64_t tn) {
    f = FactorScratch<T>::take(c, approx, shifted, n(), m(), d(), tq, tn);
  }
  void prepare() { dshift = f.prepare_async(approx, shifted, host_shift, index, queries, be.stream()); }
  /// Before the tiles of queries [q0, q0 + rows).
  void begin_queries(int64_t q0, int64_t rows) {
    qt = shifted_tile_async(queries.row(q0), queries.ld, rows, d(), dshift, f.qs, be.stream());
  }
  TileEntries<T> tile(int64_t, int64_t rows, int64_t x0, int64_t cols, T* out, int64_t ldo) {
    const GemmRows<T> xt =
        shifted_tile_async(index.row(x0), index.ld, cols, d(), dshift, f.xs, be.stream());
    distance_tile_async(be, metric, qt.data, qt.ld, rows, xt.data, xt.ld, cols, d(), out, ldo);
    return {out, ldo, 1};
  }
  const T* qf() const { return uses_factors(approx) ? f.qf : nullptr; }
  const T* xf() const { return uses_factors(approx) ? f.xf : nullptr; }
  /// Query q excludes index row self0() + q (-1: no exclusion).
  int64_t self0() const { return exclude_self ? 0 : -1; }
  const T* query(int64_t q) const { return queries.row(q); }
  int64_t ldq() const { return queries.ld; }
  Rows rows() const { return {index.data, index.ld}; }
  /// The radius screen's extra margin per query (device, m values), or null.
  const double* margin() const { return nullptr; }
};

/// The inverse norms 1 / sqrt(sq[i]) as T (0 where sq[i] is not positive), from the squared
/// norms as T: the cosine factors of a sparse index as the CPU backend forms them.
template <typename T>
void inverse_norms_async(const T* sq, int64_t n, T* out, cudaStream_t stream);

/// The checks of a sparse tile primitive's arguments: a metric a sparse index is searched with,
/// the index, its squared norms and the products in device memory, P shaped n x t.
template <typename T>
void check_sparse_tile(RdistSpec metric, CsrView<T> index, const T* index_sq, int64_t t,
                       MatrixView<const T> P) {
  require_sparse_metric(metric.kind);
  GPULEARN_EXPECTS(index.space == MemorySpace::kDevice,
                   "the CUDA backend's sparse neighbour tiles take the index in device memory (its "
                   "native space), got ",
                   to_string(index.space), " memory");
  if (t == 0) return;
  GPULEARN_ASSERT(index.rows >= 1 && index.cols >= 1 && P.rows == index.rows && P.cols == t &&
                  P.ld >= t);
  require_device_rows(P, "the tile's products");
  check_device_pointer(index_sq, "the index's squared norms");
}

template <typename T>
struct SparseTileSearch {
  static constexpr bool kWritesTile = false;
  using Rows = CsrRows<T>;

  CudaBackend& be;
  RdistSpec metric;
  CsrView<T> index;
  const T* index_sq;  // device, n
  const T* host_q;    // the tile's queries, host, t x d
  int64_t t;
  MatrixView<const T> P;  // device, n x t
  int64_t self_offset;
  Approx approx = approx_of(metric.kind);
  T* q = nullptr;     // the queries' device copy
  T* qf_ = nullptr;   // their factors
  T* xinv = nullptr;  // the index's inverse norms (cosine)
  double* margin_ = nullptr;
  std::vector<double> host_margin{};  // set by the caller for a radius search that needs one

  int64_t n() const { return index.rows; }
  int64_t m() const { return t; }
  int64_t d() const { return index.cols; }
  int64_t cap(int64_t want, int64_t) const { return want; }
  void take(Carver& c, int64_t, int64_t) {
    q = c.take<T>(checked_mul(t, d()));
    qf_ = c.take<T>(uses_factors(approx) ? t : 0);
    xinv = c.take<T>(approx == Approx::kCosine ? n() : 0);
    margin_ = c.take<double>(static_cast<int64_t>(host_margin.size()));
  }
  void prepare() {
    cudaStream_t stream = be.stream();
    upload_async(q, host_q, checked_mul(t, d()), stream);
    row_factors_async(approx, static_cast<const T*>(q), d(), t, d(), static_cast<const T*>(nullptr),
                      qf_, stream);
    if (approx == Approx::kCosine) inverse_norms_async(index_sq, n(), xinv, stream);
    if (!host_margin.empty()) {
      upload_async(margin_, host_margin.data(), static_cast<int64_t>(host_margin.size()), stream);
    }
  }
  void begin_queries(int64_t, int64_t) {}
  TileEntries<T> tile(int64_t q0, int64_t, int64_t x0, int64_t, T*, int64_t) const {
    return {P.data + x0 * P.ld + q0, 1, P.ld};
  }
  const T* qf() const { return qf_; }
  const T* xf() const { return approx == Approx::kCosine ? xinv : index_sq; }
  int64_t self0() const { return self_offset; }
  const T* query(int64_t r) const { return q + r * d(); }
  int64_t ldq() const { return d(); }
  Rows rows() const { return {index.values, index.indices, index.indptr}; }
  const double* margin() const { return host_margin.empty() ? nullptr : margin_; }
};

}  // namespace gpulearn::detail
