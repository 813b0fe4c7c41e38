// Histograms in global memory for grow_trees' large nodes: built by many blocks, each a slice
// of one node's rows for one feature entry, accumulated in shared memory and added to the slot
// with 64-bit atomics (directly in global memory when one feature's histogram does not fit in
// shared memory); and derived by subtraction, a node's slot being its parent's minus its
// sibling's, exact in two's complement.
#include <algorithm>
#include <cstdint>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "ensemble/grow_common.cuh"

namespace gpulearn::detail::grow {

namespace {

constexpr int kBuildThreads = 256;

struct BuildArgs {
  GrowSpec spec;
  const int32_t* nbins;
  Positions pos;
  LevelView nodes;
  const int32_t* list;
  int64_t n_slots;
  const int64_t* slices;  // n_slots + 1: absolute first slice of each entry
  int64_t first_slice;    // slices[0]
  int64_t n_slices;
  int64_t slice_rows;
  HistSlots hist;
  bool in_shared;
};

__global__ void __launch_bounds__(kBuildThreads) build_kernel(BuildArgs a) {
  GPULEARN_DYNAMIC_SHARED(unsigned char, shared_raw);
  int64_t* sh = reinterpret_cast<int64_t*>(shared_raw);
  const int ch = a.spec.n_channels;
  const int32_t d = static_cast<int32_t>(a.pos.d);
  const Positions& p = a.pos;
  for (int64_t s = blockIdx.x; s < a.n_slices; s += gridDim.x) {
    // The entry whose slices hold s: the last k with slices[k] - first_slice <= s (entries
    // without slices share their successor's start and are never the last such k).
    int64_t lo = 0, hi = a.n_slots;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (a.slices[mid] - a.first_slice <= s) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const int64_t k = lo;
    const int32_t i = a.list[k];
    const int64_t begin = a.nodes.begin[i];
    const int64_t end = begin + node_rows(a.spec, a.nodes.stats, i);
    const int64_t r0 = begin + (s - (a.slices[k] - a.first_slice)) * a.slice_rows;
    const int64_t r1 = std::min(r0 + a.slice_rows, end);
    const uint64_t key = a.nodes.key[i];
    for (int32_t e = blockIdx.y; e < a.hist.entries; e += gridDim.y) {
      const int32_t f = a.hist.by_feature ? e : forest::permuted_feature(key, e, d);
      const int nb = a.nbins[f];
      const int64_t words = static_cast<int64_t>(nb) * ch;
      int64_t* out = a.hist.data + k * a.hist.slot_words + e * a.hist.entry_words;
      int64_t* h = a.in_shared ? sh : out;
      if (a.in_shared) {
        for (int64_t w = threadIdx.x; w < words; w += blockDim.x) sh[w] = 0;
        __syncthreads();
      }
      for (int64_t q = r0 + threadIdx.x; q < r1; q += blockDim.x) {
        const int32_t row = p.row[q];
        const int code = p.codes[static_cast<int64_t>(row) * p.d + f];
        add_row(a.spec, p.row_q, p.rw, row, p.aux[q], p.w[q], h + static_cast<int64_t>(code) * ch);
      }
      if (a.in_shared) {
        __syncthreads();
        for (int64_t w = threadIdx.x; w < words; w += blockDim.x) {
          if (sh[w] != 0) atomic_add_i64(out + w, sh[w]);
        }
        __syncthreads();
      }
    }
  }
}

__global__ void derive_kernel(const int32_t* list, int64_t n_slots, const int32_t* kind,
                              const int32_t* slot_of, const int32_t* parent_slot,
                              const int64_t* parent, int64_t* hist, int64_t slot_words) {
  for (int64_t k = blockIdx.y; k < n_slots; k += gridDim.y) {
    const int32_t i = list[k];
    if (kind[i] != kDerived) continue;
    const auto* par = reinterpret_cast<const uint64_t*>(parent + parent_slot[i] * slot_words);
    const auto* sib =
        reinterpret_cast<const uint64_t*>(hist + static_cast<int64_t>(slot_of[i ^ 1]) * slot_words);
    auto* out = reinterpret_cast<uint64_t*>(hist + k * slot_words);
    for (int64_t w = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; w < slot_words;
         w += int64_t{gridDim.x} * blockDim.x) {
      out[w] = par[w] - sib[w];
    }
  }
}

}  // namespace

void launch_build(cudaStream_t stream, const GrowSpec& spec, const int32_t* nbins,
                  const Positions& pos, const LevelView& nodes, const int32_t* list,
                  int64_t n_slots, const int64_t* slices, int64_t first_slice, int64_t n_slices,
                  int64_t slice_rows, const HistSlots& hist, int device) {
  if (n_slices <= 0 || hist.entries <= 0) return;
  BuildArgs a;
  a.spec = spec;
  a.nbins = nbins;
  a.pos = pos;
  a.nodes = nodes;
  a.list = list;
  a.n_slots = n_slots;
  a.slices = slices;
  a.first_slice = first_slice;
  a.n_slices = n_slices;
  a.slice_rows = slice_rows;
  a.hist = hist;
  int optin = 0;
  GPULEARN_CUDA_TRY(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const int64_t bytes = checked_mul(hist.entry_words, int64_t{sizeof(int64_t)});
  a.in_shared = bytes <= optin;
  const size_t shared = a.in_shared ? static_cast<size_t>(bytes) : 0;
  if (shared > 48 * 1024) {
    GPULEARN_CUDA_TRY(cudaFuncSetAttribute(
        build_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  }
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(n_slices, int64_t{1} << 30)),
                  static_cast<unsigned>(std::min<int64_t>(hist.entries, kMaxGridY)), 1);
  GPULEARN_LAUNCH(grid, kBuildThreads, shared, stream, build_kernel)(a);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

void launch_derive(cudaStream_t stream, const int32_t* list, int64_t n_slots, const int32_t* kind,
                   const int32_t* slot_of, const int32_t* parent_slot, const int64_t* parent,
                   const HistSlots& hist) {
  if (n_slots <= 0) return;
  const int64_t bx = std::clamp<int64_t>(ceil_div(hist.slot_words, kBlockThreads), 1, 64);
  const dim3 grid(static_cast<unsigned>(bx),
                  static_cast<unsigned>(std::min<int64_t>(n_slots, kMaxGridY)), 1);
  GPULEARN_LAUNCH(grid, kBlockThreads, 0, stream, derive_kernel)
  (list, n_slots, kind, slot_of, parent_slot, parent, hist.data, hist.slot_words);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

}  // namespace gpulearn::detail::grow
