// The split search of grow_trees: one block per node, one warp per feature position at a time.
//
// A warp fills its workspace with one feature's histogram (built from the node's rows with
// atomics, or copied from the node's global histogram slot), compacts the occupied bins to the
// front in ascending order (remembering their bin numbers), and its lane 0 runs
// forest::scan_feature over the compacted histogram. scan_feature skips empty bins without
// touching its state, so the scan of the compacted histogram is the scan of the full one; its
// bin_lo / bin_hi are mapped back to bin numbers. Compaction makes the serial scan cost the
// occupied bins, not 256, which is what deep nodes of a few rows need.
//
// Each warp keeps the best candidate of its positions by forest::better; the block picks the
// best over its warps (better's order does not depend on the grouping). When every visited
// feature is constant in the node (scan_feature's occupied < 2) and max_features < d, the
// search continues at positions max_features, max_features + 1, ... in groups of one position
// per warp: the first non-constant position of a group ends it, and its candidate (the only
// one among the visited positions, constant features having none) is the node's. A search
// from global histograms only flags such nodes (all_const); the driver then searches them
// again from rows with continuation_only.
//
// Workspace of a warp (int64 words): the histogram (nb_max x n_channels), left (n_channels:
// scan_feature's output), best (n_channels: the left statistics of the warp's best), scratch
// (2 n_channels) and the map from compacted index to bin (256 bytes). In shared memory when
// it fits, else in global scratch per block.
#include <algorithm>
#include <climits>
#include <cstdint>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "ensemble/grow_common.cuh"

namespace gpulearn::detail::grow {

namespace {

using forest::Candidate;

constexpr unsigned kFull = 0xffffffffu;
// The grid of a search whose workspaces are in global memory: at most this many blocks, and
// their workspaces within this many bytes (at least one block).
constexpr int64_t kGlobalWorkspaceBlocks = 1024;
constexpr int64_t kGlobalWorkspaceBytes = int64_t{1} << 30;
// Shared memory the kernel declares statically (the per-warp bests), kept out of the dynamic
// budget.
constexpr int64_t kStaticShared = 1024;

struct WarpBest {
  double proxy;
  int32_t lo, hi, pos, feature, nonconst;
};

struct SearchArgs {
  GrowSpec spec;
  int32_t nb_max;
  const int32_t* nbins;
  Positions pos;
  LevelView nodes;
  const int32_t* list;
  int64_t n_list;
  HistSlots hist;  // data null: build from rows
  bool continuation_only;
  SearchResults res;
  int64_t ws_words;
  int64_t* gscratch;  // null: workspaces in shared memory
};

struct Workspace {
  int64_t* hist;
  int64_t* left;
  int64_t* best;
  int64_t* scratch;
  uint8_t* map;
};

__device__ Workspace workspace_of(const SearchArgs& a, int64_t* base, int warp) {
  const int ch = a.spec.n_channels;
  Workspace w;
  w.hist = base + warp * a.ws_words;
  w.left = w.hist + static_cast<int64_t>(a.nb_max) * ch;
  w.best = w.left + ch;
  w.scratch = w.best + ch;
  w.map = reinterpret_cast<uint8_t*>(w.scratch + 2 * ch);
  return w;
}

// The warp's histogram of feature f over node i's rows (nb bins).
__device__ void build_from_rows(const SearchArgs& a, int32_t i, int32_t f, int nb, int64_t* h,
                                int lane) {
  const int ch = a.spec.n_channels;
  const int64_t words = static_cast<int64_t>(nb) * ch;
  for (int64_t k = lane; k < words; k += 32) h[k] = 0;
  __syncwarp();
  const Positions& p = a.pos;
  const int64_t b0 = a.nodes.begin[i], b1 = b0 + node_rows(a.spec, a.nodes.stats, i);
  constexpr int kUnroll = 4;
  for (int64_t q = b0 + lane; q < b1; q += 32 * kUnroll) {
    int32_t row[kUnroll];
    int code[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t qq = q + 32 * u;
      row[u] = qq < b1 ? p.row[qq] : -1;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      code[u] = row[u] >= 0 ? p.codes[static_cast<int64_t>(row[u]) * p.d + f] : 0;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (row[u] < 0) continue;
      const int64_t qq = q + 32 * u;
      add_row(a.spec, p.row_q, p.rw, row[u], p.aux[qq], p.w[qq],
              h + static_cast<int64_t>(code[u]) * ch);
    }
  }
  __syncwarp();
}

__device__ void copy_histogram(const int64_t* src, int nb, int ch, int64_t* h, int lane) {
  const int64_t words = static_cast<int64_t>(nb) * ch;
  for (int64_t k = lane; k < words; k += 32) h[k] = src[k];
  __syncwarp();
}

// Compacts the occupied bins of h (nb bins) to its front, in ascending order, and scans them
// with scan_feature (lane 0); the candidate, with bin numbers, on every lane. The left
// statistics of the candidate are in w.left.
__device__ Candidate compact_and_scan(const SearchArgs& a, int nb, const int64_t* total,
                                      const Workspace& w, int lane, int* occupied) {
  const int ch = a.spec.n_channels, cc = ch - 1;
  int64_t* h = w.hist;
  int o = 0;
  for (int base = 0; base < nb; base += 32) {
    const int b = base + lane;
    const bool occ = b < nb && h[static_cast<int64_t>(b) * ch + cc] != 0;
    const unsigned mask = __ballot_sync(kFull, occ);
    if (mask == 0) continue;
    const int k = o + __popc(mask & ((1u << lane) - 1u));
    if (o != base || mask != kFull) {
      // Bin b moves down to k <= b. Channel by channel, every lane reads before any lane
      // writes, so a slot is overwritten only after its own bin's value was read.
      for (int c = 0; c < ch; ++c) {
        const int64_t v = occ ? h[static_cast<int64_t>(b) * ch + c] : 0;
        __syncwarp();
        if (occ) h[static_cast<int64_t>(k) * ch + c] = v;
        __syncwarp();
      }
    }
    if (occ) w.map[k] = static_cast<uint8_t>(b);
    o += __popc(mask);
  }
  __syncwarp();
  Candidate c;
  int occ = 0;
  if (lane == 0) c = forest::scan_feature(a.spec, h, o, total, w.left, w.scratch, &occ);
  c.proxy = __shfl_sync(kFull, c.proxy, 0);
  c.bin_lo = __shfl_sync(kFull, c.bin_lo, 0);
  c.bin_hi = __shfl_sync(kFull, c.bin_hi, 0);
  *occupied = __shfl_sync(kFull, occ, 0);
  __syncwarp();
  if (c.bin_lo >= 0) {
    c.bin_lo = w.map[c.bin_lo];
    c.bin_hi = w.map[c.bin_hi];
  }
  return c;
}

__device__ void copy_words(int64_t* dst, const int64_t* src, int count, int lane) {
  for (int k = lane; k < count; k += 32) dst[k] = src[k];
  __syncwarp();
}

// Positions max_features, max_features + 1, ... of node i, one per warp per round, until one
// is not constant in the node: returns the warp (of the last round) holding that position's
// candidate in bests[warp] and its workspace's best, or -1 when there is no candidate. Every
// thread of the block calls it.
__device__ int continue_search(const SearchArgs& a, int32_t i, const int64_t* total,
                               const Workspace& w, WarpBest* bests, int* s_pick, int warp,
                               int lane) {
  const int ch = a.spec.n_channels;
  const int n_warps = blockDim.x / 32;
  const int32_t d = static_cast<int32_t>(a.pos.d);
  const uint64_t key = a.nodes.key[i];
  for (int32_t base = a.spec.max_features; base < d; base += n_warps) {
    const int32_t j = base + warp;
    Candidate c;
    int occ = 0;
    int32_t f = -1;
    if (j < d) {
      f = forest::permuted_feature(key, j, d);
      const int nb = a.nbins[f];
      build_from_rows(a, i, f, nb, w.hist, lane);
      c = compact_and_scan(a, nb, total, w, lane, &occ);
      if (c.bin_lo >= 0) copy_words(w.best, w.left, ch, lane);
    }
    if (lane == 0) bests[warp] = WarpBest{c.proxy, c.bin_lo, c.bin_hi, j, f, occ >= 2 ? 1 : 0};
    __syncthreads();
    if (threadIdx.x == 0) {
      int found = -1;
      for (int v = 0; v < n_warps && base + v < d; ++v) {
        if (bests[v].nonconst != 0) {
          found = v;
          break;
        }
      }
      *s_pick = found;
    }
    __syncthreads();
    const int found = *s_pick;
    if (found >= 0) return bests[found].lo >= 0 ? found : -1;
  }
  return -1;
}

__global__ void __launch_bounds__(kMaxWarps * 32, 3) search_kernel(SearchArgs a) {
  GPULEARN_DYNAMIC_SHARED(unsigned char, shared_raw);
  __shared__ WarpBest bests[kMaxWarps];
  __shared__ int s_pick, s_any;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const int n_warps = static_cast<int>(blockDim.x / 32);
  const int ch = a.spec.n_channels;
  const int32_t mf = a.spec.max_features;
  const int32_t d = static_cast<int32_t>(a.pos.d);
  int64_t* base = a.gscratch == nullptr
                      ? reinterpret_cast<int64_t*>(shared_raw)
                      : a.gscratch + static_cast<int64_t>(blockIdx.x) * n_warps * a.ws_words;
  const Workspace w = workspace_of(a, base, warp);
  const bool from_hist = a.hist.data != nullptr;

  for (int64_t li = blockIdx.x; li < a.n_list; li += gridDim.x) {
    const int32_t i = a.list[li];
    const int64_t* total = a.nodes.stats + static_cast<int64_t>(i) * ch;
    const uint64_t key = a.nodes.key[i];
    Candidate best;
    int32_t best_pos = INT_MAX, best_feature = -1;
    bool nonconst = false;
    if (!a.continuation_only) {
      for (int32_t j = warp; j < mf; j += n_warps) {
        const int32_t f = forest::permuted_feature(key, j, d);
        const int nb = a.nbins[f];
        if (from_hist) {
          const int64_t entry = a.hist.by_feature ? f : j;
          copy_histogram(a.hist.data + li * a.hist.slot_words + entry * a.hist.entry_words, nb, ch,
                         w.hist, lane);
        } else {
          build_from_rows(a, i, f, nb, w.hist, lane);
        }
        int occ = 0;
        const Candidate c = compact_and_scan(a, nb, total, w, lane, &occ);
        if (occ >= 2) nonconst = true;
        if (forest::better(c, j, best, best_pos)) {
          copy_words(w.best, w.left, ch, lane);
          best = c;
          best_pos = j;
          best_feature = f;
        }
      }
    }
    if (lane == 0) {
      bests[warp] =
          WarpBest{best.proxy, best.bin_lo, best.bin_hi, best_pos, best_feature, nonconst ? 1 : 0};
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int pick = -1, any = 0;
      Candidate top;
      int32_t top_pos = INT_MAX;
      for (int v = 0; v < n_warps; ++v) {
        any |= bests[v].nonconst;
        Candidate c;
        c.proxy = bests[v].proxy;
        c.bin_lo = bests[v].lo;
        c.bin_hi = bests[v].hi;
        if (forest::better(c, bests[v].pos, top, top_pos)) {
          top = c;
          top_pos = bests[v].pos;
          pick = v;
        }
      }
      s_pick = pick;
      s_any = any;
    }
    __syncthreads();
    int pick = s_pick;
    if (s_any == 0 && mf < d) {
      // Every feature visited is constant in the node (so pick is -1): keep drawing.
      if (from_hist) {
        if (threadIdx.x == 0) a.res.all_const[i] = 1;
      } else {
        pick = continue_search(a, i, total, w, bests, &s_pick, warp, lane);
      }
    }
    if (pick >= 0) {
      const Workspace pw = workspace_of(a, base, pick);
      for (int k = static_cast<int>(threadIdx.x); k < ch; k += static_cast<int>(blockDim.x)) {
        a.res.left[static_cast<int64_t>(i) * ch + k] = pw.best[k];
      }
    }
    if (threadIdx.x == 0) {
      a.res.lo[i] = pick >= 0 ? bests[pick].lo : -1;
      a.res.hi[i] = pick >= 0 ? bests[pick].hi : -1;
      a.res.feature[i] = pick >= 0 ? bests[pick].feature : -1;
    }
    // The bests and the workspaces are reused by the block's next node.
    __syncthreads();
  }
}

int64_t shared_budget(int device) {
  int optin = 0;
  GPULEARN_CUDA_TRY(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return std::max<int64_t>(int64_t{optin} - kStaticShared, 0);
}

}  // namespace

SearchGeometry search_geometry(const GrowSpec& spec, int nb_max, int device) {
  const int64_t ch = spec.n_channels;
  SearchGeometry g;
  // hist, left, best, scratch (2), then 256 bytes of map.
  g.ws_words = checked_add(checked_mul(int64_t{nb_max}, ch), checked_add(checked_mul(4, ch), 32));
  const int want = std::clamp<int>(spec.max_features, 1, kMaxWarps);
  const int64_t ws_bytes = checked_mul(g.ws_words, int64_t{sizeof(int64_t)});
  const int64_t fit = shared_budget(device) / ws_bytes;
  if (fit >= 1) {
    g.warps = static_cast<int>(std::min<int64_t>(want, fit));
    g.in_shared = true;
    g.max_blocks = int64_t{1} << 30;
  } else {
    g.warps = want;
    g.in_shared = false;
    g.max_blocks = std::clamp<int64_t>(kGlobalWorkspaceBytes / checked_mul(ws_bytes, want), 1,
                                       kGlobalWorkspaceBlocks);
  }
  return g;
}

void launch_search(cudaStream_t stream, const SearchGeometry& geo, const GrowSpec& spec, int nb_max,
                   const int32_t* nbins, const Positions& pos, const LevelView& nodes,
                   const int32_t* list, int64_t n_list, const HistSlots* hist,
                   bool continuation_only, const SearchResults& res) {
  if (n_list <= 0) return;
  SearchArgs a;
  a.spec = spec;
  a.nb_max = nb_max;
  a.nbins = nbins;
  a.pos = pos;
  a.nodes = nodes;
  a.list = list;
  a.n_list = n_list;
  a.hist = hist != nullptr ? *hist : HistSlots{};
  a.continuation_only = continuation_only;
  a.res = res;
  a.ws_words = geo.ws_words;
  a.gscratch = geo.in_shared ? nullptr : geo.gscratch;
  const size_t shared =
      geo.in_shared ? checked_bytes(checked_mul(geo.ws_words, geo.warps), sizeof(int64_t)) : 0;
  if (shared > 48 * 1024) {
    GPULEARN_CUDA_TRY(cudaFuncSetAttribute(
        search_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  }
  const auto blocks = static_cast<unsigned>(std::min(n_list, geo.max_blocks));
  GPULEARN_LAUNCH(blocks, geo.warps * 32, shared, stream, search_kernel)(a);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

}  // namespace gpulearn::detail::grow
