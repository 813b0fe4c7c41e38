// The per-row state of a k-means data class (labels, distances, potentials, candidate
// distances, the weights where the backend computes) and the passes that touch only that state:
// one code for LocalKMeansData (kmeans_data.cpp, dense X) and SparseKMeansData
// (kmeans_sparse.cpp, CSR X), which differ only in how they compute distances from X.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../core/backend.hpp"
#include "../core/native.hpp"
#include "primitives.hpp"

namespace gpulearn::detail {

/// hash_uniform(seed, i) adds 0x9E3779B97F4A7C15 (i + 1) to the seed before mixing, so the draw
/// of global row offset + i is hash_uniform(seed + 0x9E3779B97F4A7C15 offset, i): a block draws
/// its rows' global numbers with the unchanged primitive.
inline uint64_t kmeans_seed_at(uint64_t seed, int64_t offset) {
  constexpr uint64_t kHashStep = 0x9E3779B97F4A7C15ull;
  return seed + kHashStep * static_cast<uint64_t>(offset);
}

/// One per-row array: the caller's (block mode) or owned (allocated on first use). `data` is in
/// the backend's native memory; a caller's array elsewhere is copied in on first read and back
/// by flush() once written.
template <typename U>
struct KMeansStateArray {
  const char* name = "";
  bool borrowed = false;  // block mode: the caller keeps the array, which must then be given
  U* caller = nullptr;
  MemorySpace caller_space = MemorySpace::kHost;
  Scratch<U> own;
  int64_t own_size = 0;
  U* data = nullptr;
  int64_t size = 0;
  bool written = false;

  U* get(Backend& be, int64_t n, bool read, bool write) {
    GPULEARN_EXPECTS(!borrowed || caller != nullptr || n == 0,
                     "k-means: this pass needs the block's per-row state '", name,
                     "', which was not given");
    if (caller == nullptr) {  // owned: grows to the largest size asked for
      if (own_size < n) {
        own = Scratch<U>(be, n);
        own_size = n;
      }
      data = own.data;
    } else if (caller_space == be.native_space()) {
      data = caller;
    } else if (data == nullptr) {
      own = Scratch<U>(be, n);
      data = own.data;
      if (read) be.copy(data, be.native_space(), caller, caller_space, n * int64_t(sizeof(U)));
    }
    size = n;
    written = written || write;
    return data;
  }
  void flush(Backend& be) {
    if (caller != nullptr && written && data != caller) {
      be.copy(caller, caller_space, data, be.native_space(), size * int64_t(sizeof(U)));
    }
    written = false;
  }
  void release() {
    if (caller == nullptr) {
      own = Scratch<U>();
      own_size = 0;
      data = nullptr;
    }
  }
};

/// The state of n rows (global numbers offset + i) and the passes over it alone. A data class's
/// Impl derives from this and adds X and its distance passes.
template <typename T>
struct KMeansRowStates {
  Backend& be;
  ClusterPrimitives<T>& km;
  int64_t rows;
  MemorySpace x_space;  // where the caller's X, best labels and state live
  VectorView<const T> w_in;
  int64_t offset = 0;
  int32_t* best = nullptr;                  // x_space
  std::optional<NativeMatrix<T>> w_native;  // made on first use, never before the checks
  KMeansStateArray<int32_t> labels;
  KMeansStateArray<T> dist, pot, cand;
  int64_t n_cand = 0;

  KMeansRowStates(Backend& b, int64_t n, MemorySpace space, VectorView<const T> w)
      : be(b), km(b.primitives<ClusterPrimitives<T>>()), rows(n), x_space(space), w_in(w) {}

  int64_t n() const { return rows; }
  MemorySpace native() const { return be.native_space(); }

  VectorView<const T> w() {
    if (w_in.empty()) return VectorView<const T>();
    if (!w_native) w_native.emplace(be, w_in.as_column());
    const MatrixView<const T> col = w_native->view;
    return VectorView<const T>(col.data, col.rows, col.ld, col.space);
  }
  VectorView<T> pot_view(bool write) {
    return VectorView<T>(pot.get(be, n(), true, write), n(), 1, native());
  }
  MatrixView<T> columns(T* data, int64_t cols) {
    return MatrixView<T>(data, n(), cols, cols, native());
  }

  void reset_labels() {
    int32_t* lab = labels.get(be, n(), false, true);
    const std::vector<int32_t> unset(n(), -1);
    be.copy(lab, native(), unset.data(), MemorySpace::kHost, n() * int64_t(sizeof(int32_t)));
  }
  void keep_labels() {
    if (best == nullptr) return;
    const int32_t* lab = labels.get(be, n(), true, false);
    be.copy(best, x_space, lab, native(), n() * int64_t(sizeof(int32_t)));
  }
  void take_candidate(int64_t c) {
    const MatrixView<T> D = columns(cand.get(be, n() * n_cand, true, false), n_cand);
    km.min_update(pot_view(true), D, c);
  }
  double total(bool by_potentials) {
    double sum = 0;
    if (by_potentials) {
      const VectorView<T> p = pot_view(false);
      km.min_potentials(p, columns(p.data, 1), w(), &sum);
    } else if (!w_in.empty()) {  // sum_i min(w_i, w_i), unweighted
      const VectorView<const T> wv = w();
      km.min_potentials(wv, MatrixView<const T>(wv.data, wv.size, 1, wv.stride, wv.space),
                        VectorView<const T>(), &sum);
    } else {
      sum = static_cast<double>(n());
    }
    return sum;
  }
  void release_potentials() {
    pot.release();
    cand.release();
  }
  void weighted_draws(bool by_potentials, const double* u, int64_t t, int64_t* idx) {
    const VectorView<const T> p =
        by_potentials ? VectorView<const T>(pot_view(false)) : VectorView<const T>();
    km.weighted_draws(p, w(), u, t, idx);
    for (int64_t j = 0; j < t; ++j) idx[j] += offset;
  }
  std::vector<int64_t> independent_draws(double scale, uint64_t seed) {
    std::vector<int64_t> idx =
        km.independent_draws(pot_view(false), w(), scale, kmeans_seed_at(seed, offset));
    for (int64_t& i : idx) i += offset;
    return idx;
  }
  void largest_distances(int64_t m, int64_t* idx, T* values) {
    const T* d = dist.get(be, n(), true, false);
    km.largest(VectorView<const T>(d, n(), 1, native()), m, idx);
    for (int64_t j = 0; j < m; ++j) {
      if (values != nullptr)
        be.copy(values + j, MemorySpace::kHost, d + idx[j], native(), sizeof(T));
      idx[j] += offset;
    }
  }
  /// The local row of global index g, checked to be one of these rows.
  int64_t local_row(int64_t g) const {
    const int64_t i = g - offset;
    GPULEARN_EXPECTS(i >= 0 && i < n(), "k-means: row ", g, " is not in this block");
    return i;
  }
  /// labels and weights (host, each may be null) of the rows idx (global, checked), for rows().
  void row_labels_weights(const int64_t* idx, int64_t t, int32_t* lab, double* weights) {
    const int32_t* held = lab != nullptr ? labels.get(be, n(), true, false) : nullptr;
    const VectorView<const T> wv = weights != nullptr ? w() : VectorView<const T>();
    for (int64_t j = 0; j < t; ++j) {
      const int64_t i = local_row(idx[j]);
      if (held != nullptr)
        be.copy(lab + j, MemorySpace::kHost, held + i, native(), sizeof(int32_t));
      if (weights != nullptr) {
        T wi = 1;
        if (!wv.empty())
          be.copy(&wi, MemorySpace::kHost, wv.data + i * wv.stride, native(), sizeof(T));
        weights[j] = wi;
      }
    }
  }
};

}  // namespace gpulearn::detail
