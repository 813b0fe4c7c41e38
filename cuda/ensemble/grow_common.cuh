// What the kernels of grow_trees share (cuda/ensemble/grow_trees.cu drives them; the split
// search is in grow_search.cu, the histograms built in global memory in grow_hist.cu).
//
// A batch of trees grows level by level. The in-bag rows of every tree of the batch live in
// one position space (tree b owns positions [b n, b n + its in-bag rows)); a node is a
// contiguous range of positions, and a split partitions its range into its two children's,
// left first. Per position: the row index, an auxiliary int32 (classifier: the row's class;
// regressor: its bootstrap count) and the row's weight in quanta (row_weight), so that the
// histogram kernels read positions in order and gather only the bin codes (and, for a
// regressor, the row's quantised targets).
//
// The open nodes of a level are listed tree by tree, each tree's in position order, siblings
// side by side (left at an even index, right after it). Every node is one of:
//   kLeaf     a leaf before any search (leaf_before_search);
//   kLocal    searched by one block: each warp builds one feature's histogram in its shared
//             memory (or global scratch), compacts the occupied bins and scans them;
//   kBuilt    histograms built in global memory by many blocks (row slices), then scanned;
//   kDerived  histograms derived as the parent's minus the sibling's (histogram subtraction).
// Histograms are int64 sums (atomics on unsigned 64-bit words: two's complement makes signed
// sums exact), so every way of building them gives the same bits.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "ensemble/forest_rules.hpp"

namespace gpulearn::detail::grow {

using forest::GrowSpec;

enum Kind : int32_t { kLeaf = 0, kLocal = 1, kBuilt = 2, kDerived = 3 };

/// Warps per search block at most (one feature position per warp at a time).
constexpr int kMaxWarps = 8;

/// The batch's in-bag rows as the kernels read them.
struct Positions {
  const uint8_t* codes = nullptr;  // n x d
  int64_t d = 0;
  const int64_t* row_q = nullptr;  // n x rw
  int32_t rw = 0;
  const int32_t* row = nullptr;
  const int32_t* aux = nullptr;
  const int64_t* w = nullptr;
};

/// The open nodes of a level (device arrays indexed by node).
struct LevelView {
  const int64_t* begin = nullptr;  // first position
  const int64_t* stats = nullptr;  // n_channels per node; the last channel is the row count
  const uint64_t* key = nullptr;
};

/// Each searched node's best split: bin_lo < 0 when it has none.
struct SearchResults {
  int32_t* lo = nullptr;
  int32_t* hi = nullptr;
  int32_t* feature = nullptr;
  int64_t* left = nullptr;       // n_channels per node: the left child's statistics
  int32_t* all_const = nullptr;  // set by a search from histograms that needs the continuation
};

/// Global-memory histograms: a slot per node, in a slot `entries` histograms of nb_max bins x
/// n_channels each, indexed by feature when by_feature (max_features == d) else by position.
struct HistSlots {
  int64_t* data = nullptr;
  int64_t slot_words = 0;
  int64_t entry_words = 0;
  int32_t entries = 0;
  bool by_feature = false;
};

GPULEARN_HOST_DEVICE inline int64_t node_rows(const GrowSpec& s, const int64_t* stats, int64_t i) {
  return stats[i * s.n_channels + s.n_channels - 1];
}

#if defined(__CUDACC__) || defined(GPULEARN_CUDA_EMULATION)
__device__ inline void atomic_add_i64(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

/// Adds one in-bag row's channels to the statistics h (n_channels values): the per-row
/// channels of forest_rules.hpp.
__device__ inline void add_row(const GrowSpec& s, const int64_t* row_q, int32_t rw, int32_t row,
                               int32_t aux, int64_t w, int64_t* h) {
  if (s.n_classes > 0) {
    if (w != 0) atomic_add_i64(h + aux, w);
    atomic_add_i64(h + s.n_classes, 1);
    return;
  }
  const int k = s.n_outputs;
  const int64_t* q = row_q + static_cast<int64_t>(row) * rw;
  const int64_t count = aux;
  if (w != 0) atomic_add_i64(h, w);
  for (int j = 0; j < k; ++j) {
    const int64_t wy = count * q[1 + j], wy2 = count * q[1 + k + j];
    if (wy != 0) atomic_add_i64(h + 1 + j, wy);
    if (wy2 != 0) atomic_add_i64(h + 1 + k + j, wy2);
  }
  atomic_add_i64(h + 2 * k + 1, 1);
}
#endif

// ---- launchers (grow_search.cu, grow_hist.cu) ----

/// Geometry of a search launch: warps per block, and where each warp's workspace lives.
struct SearchGeometry {
  int warps = 1;
  int64_t ws_words = 0;    // int64 words of one warp's workspace
  bool in_shared = true;   // else gscratch, blocks x warps x ws_words words
  int64_t max_blocks = 0;  // the grid's cap (gscratch is sized for it)
  int64_t* gscratch = nullptr;
};

/// The workspace words one warp needs for a search, and the geometry for it on this device
/// (gscratch left null: the caller provides max_blocks x warps x ws_words words when
/// !in_shared).
SearchGeometry search_geometry(const GrowSpec& spec, int nb_max, int device);

/// Searches the listed nodes (list[0 .. n_list)): from rows (hist null) or from their global
/// histograms (list entry k in slot k of hist). Writes res for every listed node.
void launch_search(cudaStream_t stream, const SearchGeometry& geo, const GrowSpec& spec, int nb_max,
                   const int32_t* nbins, const Positions& pos, const LevelView& nodes,
                   const int32_t* list, int64_t n_list, const HistSlots* hist,
                   bool continuation_only, const SearchResults& res);

/// Builds the histograms of the kBuilt nodes among list[0 .. n_slots) into slots 0 .. n_slots
/// (zeroed by the caller), slice_rows rows per block: slices[k] - slices[0] is the first slice
/// of list entry k (slices has n_slots + 1 entries, host copy slices_h).
void launch_build(cudaStream_t stream, const GrowSpec& spec, const int32_t* nbins,
                  const Positions& pos, const LevelView& nodes, const int32_t* list,
                  int64_t n_slots, const int64_t* slices, int64_t first_slice, int64_t n_slices,
                  int64_t slice_rows, const HistSlots& hist, int device);

/// Slot k (list entry k, a kDerived node) = parent_slot[node] of parent minus its sibling's
/// slot (slot_of[node ^ 1]).
void launch_derive(cudaStream_t stream, const int32_t* list, int64_t n_slots, const int32_t* kind,
                   const int32_t* slot_of, const int32_t* parent_slot, const int64_t* parent,
                   const HistSlots& hist);

}  // namespace gpulearn::detail::grow
