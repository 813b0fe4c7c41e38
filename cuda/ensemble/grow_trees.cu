// grow_trees: a batch of trees at a time (as many as memory allows), grown level by level, all
// trees of the batch in the same kernels (design and node kinds: grow_common.cuh).
//
// Per batch: each tree's bootstrap counts are uploaded, its in-bag rows (count > 0) listed in
// ascending order with their class (or count) and weight, and the root's statistics summed.
// Per level, over every open node of the batch:
//   1. classify: leaf_before_search, else kLocal / kBuilt / kDerived (by rows and subtraction);
//   2. search: kLocal nodes one block each from rows; kBuilt histograms by row slices into
//      global slots, kDerived slots as parent minus sibling, then those nodes searched from
//      their slots; nodes whose visited features were all constant searched on from rows;
//   3. decide: split_improvement and split_accepted on the best candidate;
//   4. spawn: children listed at 2 s and 2 s + 1 (s: the split's rank among the level's
//      splits), their tree-local ids handed out tree by tree in that order (breadth first),
//      keys by child_key, statistics left and node - left;
//   5. partition the split nodes' rows into the other position buffer (code <= bin_lo: left);
//   6. copy the level's nodes (records and statistics) back into the host trees.
// The host waits for a few counts per level (list sizes, splits); everything else stays on
// the device. Unlimited depth needs nothing special: the loop ends when no node is open.
//
// Histogram subtraction: with max_features == d every node visits every feature, so a node's
// histograms are its parent's minus its sibling's. A split node of the global path whose
// larger child has more than subtract_rows rows keeps its slot for the next level, where the
// smaller child (the left on ties) is built and the larger derived, when both are searched.
//
// Exactness: every statistic is an int64 sum (order-free), ties resolve by forest::better, the
// doubles come only from forest_rules.hpp (compiled without contraction); the rows' order
// within a node (the partition is by atomics) changes nothing.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cub/device/device_scan.cuh>
#include <utility>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "ensemble/grow_common.cuh"
#include "ensemble/primitives_cuda.cuh"

namespace gpulearn::detail {

namespace grow {

namespace {

using forest::GrownNode;
using forest::GrownTree;
using forest::TrainingSet;

constexpr unsigned kFull = 0xffffffffu;
// Statistics summed in shared memory by the in-bag kernel up to this many channels.
constexpr int64_t kMaxSharedChannels = 4096;

/// Where the search of a node switches from one block (rows <= local_rows) to many; row slices
/// per block of the global path; the larger child above which a parent's histograms are kept
/// for subtraction; a cap on global histogram slots (0: from free memory). The environment
/// variables GPULEARN_CUDA_FOREST_LOCAL_ROWS (local_rows; slice_rows and subtract_rows follow)
/// and GPULEARN_CUDA_FOREST_HIST_SLOTS let tests reach every path on small data.
struct Tuning {
  int64_t local_rows = 4096;
  int64_t slice_rows = 2048;
  int64_t subtract_rows = 16384;
  int64_t max_slots = 0;
};

Tuning tuning() {
  Tuning t;
  if (const int64_t v = env_positive("GPULEARN_CUDA_FOREST_LOCAL_ROWS"); v > 0) {
    t.local_rows = v;
    t.slice_rows = std::max<int64_t>(v / 2, 1);
    t.subtract_rows = v * 4;
  }
  t.max_slots = env_positive("GPULEARN_CUDA_FOREST_HIST_SLOTS");
  return t;
}

/// One node of a level as the host receives it.
struct NodeRecord {
  int32_t tree, id, left, right, feature, bin_lo, bin_hi, depth;
  double improvement;
};

template <typename T>
void ensure(DeviceBuffer<T>& b, int64_t count) {
  if (b.size() >= count && b.data() != nullptr) return;
  b.allocate(std::max(count, b.size() + b.size() / 2));
}

/// Exclusive prefix sums by cub, with temporary storage kept between calls.
class Scanner {
 public:
  template <typename T>
  void exclusive(const T* in, T* out, int64_t count, cudaStream_t stream) {
    size_t bytes = 0;
    GPULEARN_CUDA_TRY(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, count, stream));
    ensure(temp_, static_cast<int64_t>(bytes));
    GPULEARN_CUDA_TRY(cub::DeviceScan::ExclusiveSum(temp_.data(), bytes, in, out, count, stream));
  }

 private:
  DeviceBuffer<std::byte> temp_;
};

template <typename T>
T read_one(const T* device, cudaStream_t stream) {
  T v{};
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(&v, device, sizeof(T), cudaMemcpyDeviceToHost, stream));
  GPULEARN_CUDA_TRY(cudaStreamSynchronize(stream));
  return v;
}

// ---- in-bag rows and roots ----

__global__ void inbag_flags_kernel(const int32_t* counts, int64_t n, int32_t* flags) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i <= n;
       i += int64_t{gridDim.x} * blockDim.x) {
    flags[i] = i < n && counts[i] > 0 ? 1 : 0;
  }
}

// Lists tree b's in-bag rows at positions base + rank and adds their channels to its root's
// statistics (zeroed by the caller).
__global__ void inbag_fill_kernel(GrowSpec spec, const int32_t* counts, const int32_t* labels,
                                  const int64_t* row_q, int32_t rw, const double* mult,
                                  const int32_t* rank, int64_t n, int64_t base, int32_t* row,
                                  int32_t* aux, int64_t* w, int64_t* stats, bool shared_stats) {
  GPULEARN_DYNAMIC_SHARED(unsigned char, shared_raw);
  int64_t* sh = reinterpret_cast<int64_t*>(shared_raw);
  const int ch = spec.n_channels;
  int64_t* acc = shared_stats ? sh : stats;
  if (shared_stats) {
    for (int c = threadIdx.x; c < ch; c += blockDim.x) sh[c] = 0;
    __syncthreads();
  }
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int32_t count = counts[i];
    if (count <= 0) continue;
    const int64_t p = base + rank[i];
    int32_t a;
    int64_t wt;
    if (spec.n_classes > 0) {
      a = labels[i];
      wt = forest::row_weight(count, row_q[i], mult != nullptr ? mult[a] : 1.0);
    } else {
      a = count;
      wt = forest::row_weight(count, row_q[i * rw], 1.0);
    }
    row[p] = static_cast<int32_t>(i);
    aux[p] = a;
    w[p] = wt;
    add_row(spec, row_q, rw, static_cast<int32_t>(i), a, wt, acc);
  }
  if (shared_stats) {
    __syncthreads();
    for (int c = threadIdx.x; c < ch; c += blockDim.x) {
      if (sh[c] != 0) atomic_add_i64(stats + c, sh[c]);
    }
  }
}

struct NodeArrays {
  DeviceBuffer<int32_t> tree, id, depth, parent_slot;
  DeviceBuffer<int64_t> begin, stats;
  DeviceBuffer<uint64_t> key;

  void reserve(int64_t n, int64_t ch) {
    ensure(tree, n);
    ensure(id, n);
    ensure(depth, n);
    ensure(parent_slot, n);
    ensure(begin, n);
    ensure(key, n);
    ensure(stats, checked_mul(n, ch));
  }
  void swap(NodeArrays& o) {
    std::swap(tree, o.tree);
    std::swap(id, o.id);
    std::swap(depth, o.depth);
    std::swap(parent_slot, o.parent_slot);
    std::swap(begin, o.begin);
    std::swap(stats, o.stats);
    std::swap(key, o.key);
  }
};

__global__ void roots_kernel(GrowSpec spec, int64_t n_roots, int64_t n, const uint64_t* keys,
                             int32_t* tree, int32_t* id, int32_t* depth, int32_t* parent_slot,
                             int64_t* begin, uint64_t* key, const int64_t* stats,
                             int64_t* root_weight, int32_t* n_nodes) {
  for (int64_t b = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; b < n_roots;
       b += int64_t{gridDim.x} * blockDim.x) {
    tree[b] = static_cast<int32_t>(b);
    id[b] = 0;
    depth[b] = 0;
    parent_slot[b] = -1;
    begin[b] = b * n;
    key[b] = keys[b];
    root_weight[b] = forest::weight_of(spec, stats + b * spec.n_channels);
    n_nodes[b] = 1;
  }
}

// ---- per level ----

__global__ void classify_kernel(GrowSpec spec, int64_t n_open, const int32_t* depth,
                                const int64_t* stats, const int32_t* parent_slot, bool allow_sub,
                                int64_t local_rows, int32_t* kind, int32_t* is_local,
                                int32_t* is_global) {
  const int64_t ch = spec.n_channels;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i <= n_open;
       i += int64_t{gridDim.x} * blockDim.x) {
    if (i == n_open) {
      is_local[i] = 0;
      is_global[i] = 0;
      continue;
    }
    int32_t k = kLeaf;
    if (!forest::leaf_before_search(spec, depth[i], stats + i * ch)) {
      const int64_t rows = node_rows(spec, stats, i);
      const int64_t sib = i ^ 1;
      if (allow_sub && parent_slot[i] >= 0 &&
          !forest::leaf_before_search(spec, depth[sib], stats + sib * ch)) {
        const int64_t sib_rows = node_rows(spec, stats, sib);
        const bool built = rows < sib_rows || (rows == sib_rows && (i & 1) == 0);
        k = built ? kBuilt : kDerived;
      } else {
        k = rows > local_rows ? kBuilt : kLocal;
      }
    }
    kind[i] = k;
    is_local[i] = k == kLocal ? 1 : 0;
    is_global[i] = k == kBuilt || k == kDerived ? 1 : 0;
  }
}

// list[rank[i]] = i for the flagged i; slot_of[i] = rank[i] or -1 (when not null).
__global__ void scatter_kernel(int64_t count, const int32_t* flags, const int32_t* rank,
                               int32_t* list, int32_t* slot_of) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    if (flags[i] != 0) list[rank[i]] = static_cast<int32_t>(i);
    if (slot_of != nullptr) slot_of[i] = flags[i] != 0 ? rank[i] : -1;
  }
}

// Row slices of each global node (none for a derived one); out has n_slots + 1 entries.
__global__ void slices_kernel(GrowSpec spec, int64_t n_slots, const int32_t* list,
                              const int32_t* kind, const int64_t* stats, int64_t slice_rows,
                              int64_t* out) {
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k <= n_slots;
       k += int64_t{gridDim.x} * blockDim.x) {
    int64_t s = 0;
    if (k < n_slots && kind[list[k]] == kBuilt) {
      s = (node_rows(spec, stats, list[k]) + slice_rows - 1) / slice_rows;
    }
    out[k] = s;
  }
}

struct DecisionArgs {
  GrowSpec spec;
  int64_t n_open;
  const int32_t* tree;
  const int32_t* id;
  const int32_t* depth;
  const int32_t* kind;
  const int64_t* stats;
  SearchResults res;
  const int64_t* root_weight;
  int64_t* right;
  int32_t* split;       // n_open + 1
  int64_t* split_rows;  // n_open + 1
  NodeRecord* records;
};

__global__ void decision_kernel(DecisionArgs a) {
  const int64_t ch = a.spec.n_channels;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i <= a.n_open;
       i += int64_t{gridDim.x} * blockDim.x) {
    if (i == a.n_open) {
      a.split[i] = 0;
      a.split_rows[i] = 0;
      continue;
    }
    NodeRecord r{a.tree[i], a.id[i], -1, -1, -1, -1, -1, a.depth[i], 0.0};
    int32_t split = 0;
    const int64_t* st = a.stats + i * ch;
    if (a.kind[i] != kLeaf && a.res.lo[i] >= 0) {
      const int64_t* l = a.res.left + i * ch;
      int64_t* rt = a.right + i * ch;
      for (int64_t c = 0; c < ch; ++c) rt[c] = st[c] - l[c];
      const double improvement =
          forest::split_improvement(a.spec, st, l, rt, a.root_weight[a.tree[i]]);
      if (forest::split_accepted(a.spec, improvement)) {
        split = 1;
        r.feature = a.res.feature[i];
        r.bin_lo = a.res.lo[i];
        r.bin_hi = a.res.hi[i];
        r.improvement = improvement;
      }
    }
    a.split[i] = split;
    a.split_rows[i] = split != 0 ? st[ch - 1] : 0;
    a.records[i] = r;
  }
}

__global__ void first_of_tree_kernel(int64_t n_open, const int32_t* tree, int32_t* first) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n_open;
       i += int64_t{gridDim.x} * blockDim.x) {
    if (i == 0 || tree[i - 1] != tree[i]) first[tree[i]] = static_cast<int32_t>(i);
  }
}

struct SpawnArgs {
  GrowSpec spec;
  int64_t n_open;
  const int32_t* tree;
  const int32_t* depth;
  const int64_t* begin;
  const int64_t* stats;
  const uint64_t* key;
  const int32_t* split;
  const int32_t* split_rank;
  const int32_t* first;
  const int32_t* n_nodes;
  const int64_t* left;
  const int64_t* right;
  const int32_t* slot_of;
  bool retain;
  int64_t subtract_rows;
  NodeRecord* records;
  // the next level
  int32_t* next_tree;
  int32_t* next_id;
  int32_t* next_depth;
  int32_t* next_parent_slot;
  int64_t* next_begin;
  int64_t* next_stats;
  uint64_t* next_key;
};

__global__ void spawn_kernel(SpawnArgs a) {
  const int64_t ch = a.spec.n_channels;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < a.n_open;
       i += int64_t{gridDim.x} * blockDim.x) {
    if (a.split[i] == 0) continue;
    const int32_t t = a.tree[i];
    const int32_t s = a.split_rank[i];
    const int32_t id_left = a.n_nodes[t] + 2 * (s - a.split_rank[a.first[t]]);
    a.records[i].left = id_left;
    a.records[i].right = id_left + 1;
    const int64_t n_left = a.left[i * ch + ch - 1];
    const int64_t n_right = a.stats[i * ch + ch - 1] - n_left;
    const int32_t keep =
        a.retain && a.slot_of[i] >= 0 && std::max(n_left, n_right) > a.subtract_rows ? a.slot_of[i]
                                                                                     : -1;
    for (int side = 0; side < 2; ++side) {
      const int64_t k = 2 * static_cast<int64_t>(s) + side;
      a.next_tree[k] = t;
      a.next_id[k] = id_left + side;
      a.next_depth[k] = a.depth[i] + 1;
      a.next_parent_slot[k] = keep;
      a.next_begin[k] = a.begin[i] + (side == 0 ? 0 : n_left);
      a.next_key[k] = forest::child_key(a.key[i], side == 1);
      const int64_t* src = (side == 0 ? a.left : a.right) + i * ch;
      int64_t* dst = a.next_stats + k * ch;
      for (int64_t c = 0; c < ch; ++c) dst[c] = src[c];
    }
  }
}

// After spawn: each tree's node count grows by its children at this level.
__global__ void count_nodes_kernel(int64_t n_open, const int32_t* tree, const int32_t* split,
                                   const int32_t* split_rank, const int32_t* first,
                                   int32_t* n_nodes) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n_open;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int32_t t = tree[i];
    if (i == n_open - 1 || tree[i + 1] != t) {
      n_nodes[t] += 2 * (split_rank[i] + split[i] - split_rank[first[t]]);
    }
  }
}

struct PartitionArgs {
  int64_t n_rows;  // rows of the split nodes
  int64_t n_open;
  const int64_t* rows_before;  // n_open + 1: exclusive sum of the split nodes' rows
  const int64_t* begin;
  const int32_t* feature;
  const int32_t* bin_lo;
  const int64_t* left;  // the left statistics (row count in the last channel)
  int32_t ch;
  const uint8_t* codes;
  int64_t d;
  const int32_t* src_row;
  const int32_t* src_aux;
  const int64_t* src_w;
  int32_t* dst_row;
  int32_t* dst_aux;
  int64_t* dst_w;
  unsigned* left_fill;
  unsigned* right_fill;
};

// One thread per row of a split node; the lanes of a warp going to the same child take their
// places with one atomic.
__global__ void partition_kernel(PartitionArgs a) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t q0 = blockIdx.x * int64_t{blockDim.x} + (threadIdx.x & ~31u); q0 < a.n_rows;
       q0 += stride) {
    const int64_t q = q0 + lane;
    const bool valid = q < a.n_rows;
    int64_t i = 0, p = 0;
    int32_t row = 0;
    bool go_left = false;
    if (valid) {
      int64_t lo = 0, hi = a.n_open;
      while (hi - lo > 1) {
        const int64_t mid = (lo + hi) / 2;
        if (a.rows_before[mid] <= q) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      i = lo;
      p = a.begin[i] + (q - a.rows_before[i]);
      row = a.src_row[p];
      go_left = a.codes[static_cast<int64_t>(row) * a.d + a.feature[i]] <= a.bin_lo[i];
    }
    const long long key = valid ? 2 * i + (go_left ? 1 : 0) : -1;
    const unsigned peers = __match_any_sync(kFull, key);
    const int leader = __ffs(peers) - 1;
    const unsigned rank = __popc(peers & ((1u << lane) - 1u));
    unsigned base = 0;
    if (valid && lane == leader) {
      base = atomicAdd(go_left ? a.left_fill + i : a.right_fill + i, __popc(peers));
    }
    base = __shfl_sync(kFull, base, leader);
    if (valid) {
      const int64_t n_left = a.left[i * a.ch + a.ch - 1];
      const int64_t dst = a.begin[i] + (go_left ? 0 : n_left) + base + rank;
      a.dst_row[dst] = row;
      a.dst_aux[dst] = a.src_aux[p];
      a.dst_w[dst] = a.src_w[p];
    }
  }
}

/// The per-level arrays indexed by open node (flags and ranks have one more entry).
struct LevelScratch {
  DeviceBuffer<int32_t> kind, is_local, local_rank, local_list, is_global, global_rank, global_list,
      slot_of, all_const, const_rank, const_list, lo, hi, feature, split, split_rank;
  DeviceBuffer<int64_t> left, right, split_rows, rows_before, slices;
  DeviceBuffer<NodeRecord> records;
  DeviceBuffer<unsigned> left_fill, right_fill;

  void reserve(int64_t n, int64_t ch) {
    const int64_t n1 = n + 1;
    for (DeviceBuffer<int32_t>* b :
         {&kind, &local_list, &global_list, &slot_of, &const_list, &lo, &hi, &feature}) {
      ensure(*b, n);
    }
    for (DeviceBuffer<int32_t>* b : {&is_local, &local_rank, &is_global, &global_rank, &all_const,
                                     &const_rank, &split, &split_rank}) {
      ensure(*b, n1);
    }
    ensure(left, checked_mul(n, ch));
    ensure(right, checked_mul(n, ch));
    ensure(split_rows, n1);
    ensure(rows_before, n1);
    ensure(slices, n1);
    ensure(records, n);
    ensure(left_fill, n);
    ensure(right_fill, n);
  }
};

/// The in-bag rows of the batch in position order: two buffers, the level's and the next's.
struct PositionBuffers {
  DeviceBuffer<int32_t> row[2], aux[2];
  DeviceBuffer<int64_t> w[2];
};

/// What the host knows of the level being grown: how its open nodes are searched (from
/// classify_level) and how many of them split (from decide_splits).
struct LevelPlan {
  int64_t n_open = 0;
  int64_t n_local = 0;     // kLocal nodes, listed in sc_.local_list
  int64_t n_global = 0;    // kBuilt and kDerived nodes, listed in sc_.global_list (a slot each)
  bool allow_sub = false;  // the kDerived nodes' histograms come from the kept parents' slots
  bool retain = false;     // the level's slots are kept for its children's subtraction
  int32_t n_split = 0;
  int64_t n_split_rows = 0;  // in-bag rows of the split nodes
};

class Grower {
 public:
  Grower(CudaBackend& be, const TrainingSet& data, const GrowSpec& spec, int device)
      : be_(be), data_(data), spec_(spec), device_(device), stream_(be.stream()) {}

  void run(int64_t n_trees, const int32_t* counts, const double* class_mult, const uint64_t* keys,
           std::vector<GrownTree>& trees);

 private:
  int64_t compact(int32_t* flags, int64_t count, int32_t* rank, int32_t* list, int32_t* slot_of);
  void grow_batch(int64_t t0, int64_t n_batch, const int32_t* counts, const double* class_mult,
                  const uint64_t* keys, std::vector<GrownTree>& trees);

  // The steps of grow_batch, in their order.
  void list_inbag_rows(int64_t t0, int64_t n_batch, const int32_t* counts,
                       const double* class_mult);
  void open_roots(int64_t t0, int64_t n_batch, const uint64_t* keys);
  LevelPlan classify_level(int64_t n_open, bool parents_kept);
  void search_level(const LevelPlan& level);
  void search_global_nodes(const LevelPlan& level, const Positions& pos, const LevelView& view,
                           const SearchResults& res);
  void decide_splits(LevelPlan& level);
  void spawn_children(const LevelPlan& level);
  void partition_rows(const LevelPlan& level);
  void receive_level(int64_t n_open, int64_t t0, std::vector<GrownTree>& trees,
                     std::vector<int64_t>& node_counts);
  bool advance_level(const LevelPlan& level);
  void trim_trees(int64_t t0, int64_t n_batch, const std::vector<int64_t>& node_counts,
                  std::vector<GrownTree>& trees) const;

  // The current level as the launchers of grow_search.cu and grow_hist.cu take it.
  Positions level_positions() const;
  LevelView level_nodes() const;
  SearchResults level_results() const;

  CudaBackend& be_;
  const TrainingSet& data_;
  GrowSpec spec_;
  int device_;
  cudaStream_t stream_;
  Tuning tune_ = tuning();
  Scanner scanner_;
  int32_t nb_max_ = 1;
  DeviceBuffer<int32_t> nbins_;
  SearchGeometry geo_;
  DeviceBuffer<int64_t> gscratch_;
  HistSlots slots_;  // data set per level
  int64_t max_slots_ = 1;

  // batch state
  NodeArrays cur_, next_;
  LevelScratch sc_;
  PositionBuffers pos_;
  int pc_ = 0;  // the position buffer of the current level
  DeviceBuffer<int64_t> hist_cur_, hist_parent_;
  DeviceBuffer<int32_t> first_, n_nodes_;
  DeviceBuffer<int64_t> root_weight_;
  std::vector<NodeRecord> records_h_;
  std::vector<int64_t> stats_h_;
};

int64_t Grower::compact(int32_t* flags, int64_t count, int32_t* rank, int32_t* list,
                        int32_t* slot_of) {
  scanner_.exclusive(flags, rank, count + 1, stream_);
  GPULEARN_LAUNCH(grid_for(count), kBlockThreads, 0, stream_, scatter_kernel)
  (count, flags, rank, list, slot_of);
  GPULEARN_CUDA_CHECK_LAUNCH();
  return read_one(rank + count, stream_);
}

void Grower::run(int64_t n_trees, const int32_t* counts, const double* class_mult,
                 const uint64_t* keys, std::vector<GrownTree>& trees) {
  const int64_t n = data_.n, d = data_.d, ch = spec_.n_channels;
  std::vector<int32_t> nbins(data_.n_bins, data_.n_bins + d);
  nb_max_ = *std::max_element(nbins.begin(), nbins.end());
  nbins_.allocate(d);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(nbins_.data(), nbins.data(), checked_bytes(d, sizeof(int32_t)),
                                    cudaMemcpyHostToDevice, stream_));
  geo_ = search_geometry(spec_, nb_max_, device_);
  if (!geo_.in_shared) {
    gscratch_.allocate(checked_mul(checked_mul(geo_.max_blocks, geo_.warps), geo_.ws_words));
    geo_.gscratch = gscratch_.data();
  }
  slots_.entries = spec_.max_features;
  slots_.by_feature = spec_.max_features == d;
  slots_.entry_words = checked_mul(nb_max_, ch);
  slots_.slot_words = checked_mul(slots_.entry_words, slots_.entries);

  // Trees per batch: each needs its two position buffers (32 bytes per row) and, at its widest
  // level, node arrays of a few hundred bytes (plus 4 statistics vectors) per pair of rows.
  size_t free_bytes = 0, total_bytes = 0;
  GPULEARN_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const int64_t per_row = checked_add(128, checked_mul(16, ch));
  const int64_t per_tree = std::max<int64_t>(checked_mul(std::max<int64_t>(n, 1), per_row), 1);
  int64_t batch = static_cast<int64_t>(free_bytes / 2) / per_tree;
  batch = std::clamp<int64_t>(batch, 1, n_trees);
  if (n > 0) batch = std::min<int64_t>(batch, std::max<int64_t>(INT32_MAX / n, 1));

  // Histogram slots: each of the two buffers (the level's and the kept parents') gets a share
  // of the memory left after the positions.
  const int64_t slot_bytes = checked_mul(slots_.slot_words, int64_t{sizeof(int64_t)});
  const int64_t positions = checked_mul(checked_mul(batch, n), 32);
  const int64_t left_after =
      std::max<int64_t>(static_cast<int64_t>(free_bytes) - positions, int64_t{256} << 20);
  max_slots_ = std::max<int64_t>(left_after / 8 / slot_bytes, 1);
  if (tune_.max_slots > 0) max_slots_ = std::min(max_slots_, tune_.max_slots);

  for (int k = 0; k < 2; ++k) {
    pos_.row[k].allocate(checked_mul(batch, n));
    pos_.aux[k].allocate(checked_mul(batch, n));
    pos_.w[k].allocate(checked_mul(batch, n));
  }
  for (int64_t t0 = 0; t0 < n_trees; t0 += batch) {
    grow_batch(t0, std::min(batch, n_trees - t0), counts, class_mult, keys, trees);
  }
}

void Grower::grow_batch(int64_t t0, int64_t n_batch, const int32_t* counts,
                        const double* class_mult, const uint64_t* keys,
                        std::vector<GrownTree>& trees) {
  // Each tree's in-bag rows into position buffer 0, its root statistics summed.
  list_inbag_rows(t0, n_batch, counts, class_mult);
  // The first level: each tree's root.
  open_roots(t0, n_batch, keys);

  std::vector<int64_t> node_counts(static_cast<size_t>(n_batch), 0);
  bool parents_kept = false;  // hist_parent_ holds the histograms of the level's parents
  int64_t n_open = n_batch;
  while (n_open > 0) {
    sc_.reserve(n_open, spec_.n_channels);
    // 1. Each node a leaf, or searched locally, from built histograms or from derived ones.
    LevelPlan level = classify_level(n_open, parents_kept);
    // 2. Each searched node's best split (in sc_).
    search_level(level);
    // 3. Which nodes split (the host waits for how many, and their rows).
    decide_splits(level);
    if (level.n_split > 0) {
      // 4. The children, as the next level's open nodes.
      spawn_children(level);
      // 5. The split nodes' rows into the other position buffer.
      partition_rows(level);
    }
    // 6. The level's nodes into the host trees.
    receive_level(n_open, t0, trees, node_counts);
    // The children become the open level.
    parents_kept = advance_level(level);
    n_open = 2 * static_cast<int64_t>(level.n_split);
  }
  trim_trees(t0, n_batch, node_counts, trees);
}

// Tree by tree: its rows with a positive bootstrap count, in ascending order, at positions
// [b n, ...) with their aux and weight; its root's statistics summed from them.
void Grower::list_inbag_rows(int64_t t0, int64_t n_batch, const int32_t* counts,
                             const double* class_mult) {
  const int64_t n = data_.n, ch = spec_.n_channels, n_classes = spec_.n_classes;
  const int32_t rw = forest::row_width(spec_);
  pc_ = 0;
  cur_.reserve(n_batch, ch);
  GPULEARN_CUDA_TRY(cudaMemsetAsync(
      cur_.stats.data(), 0, checked_bytes(checked_mul(n_batch, ch), sizeof(int64_t)), stream_));
  DeviceBuffer<int32_t> counts_d(n), flags(n + 1), rank(n + 1);
  DeviceBuffer<double> mult;
  if (class_mult != nullptr && n_classes > 0) {
    const int64_t m = checked_mul(n_batch, n_classes);
    mult.allocate(m);
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(mult.data(), class_mult + t0 * n_classes,
                                      checked_bytes(m, sizeof(double)), cudaMemcpyHostToDevice,
                                      stream_));
  }
  const bool shared_stats = ch <= kMaxSharedChannels;
  const size_t shared = shared_stats ? checked_bytes(ch, sizeof(int64_t)) : 0;
  for (int64_t b = 0; b < n_batch; ++b) {
    if (n > 0) {
      GPULEARN_CUDA_TRY(cudaMemcpyAsync(counts_d.data(), counts + (t0 + b) * n,
                                        checked_bytes(n, sizeof(int32_t)), cudaMemcpyHostToDevice,
                                        stream_));
    }
    GPULEARN_LAUNCH(grid_for(n + 1), kBlockThreads, 0, stream_, inbag_flags_kernel)
    (counts_d.data(), n, flags.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    scanner_.exclusive(flags.data(), rank.data(), n + 1, stream_);
    GPULEARN_LAUNCH(grid_for(n), kBlockThreads, shared, stream_, inbag_fill_kernel)
    (spec_, counts_d.data(), data_.labels, data_.row_q, rw,
     mult.data() != nullptr && mult.size() > 0 ? mult.data() + b * n_classes : nullptr, rank.data(),
     n, b * n, pos_.row[0].data(), pos_.aux[0].data(), pos_.w[0].data(), cur_.stats.data() + b * ch,
     shared_stats);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  // counts_d and the ranks are freed here (cudaFree waits for the kernels reading them).
}

// The roots as the first level's open nodes; each tree's root weight and node count.
void Grower::open_roots(int64_t t0, int64_t n_batch, const uint64_t* keys) {
  ensure(first_, n_batch);
  ensure(n_nodes_, n_batch);
  ensure(root_weight_, n_batch);
  DeviceBuffer<uint64_t> keys_d(n_batch);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(keys_d.data(), keys + t0,
                                    checked_bytes(n_batch, sizeof(uint64_t)),
                                    cudaMemcpyHostToDevice, stream_));
  GPULEARN_LAUNCH(grid_for(n_batch), kBlockThreads, 0, stream_, roots_kernel)
  (spec_, n_batch, data_.n, keys_d.data(), cur_.tree.data(), cur_.id.data(), cur_.depth.data(),
   cur_.parent_slot.data(), cur_.begin.data(), cur_.key.data(), cur_.stats.data(),
   root_weight_.data(), n_nodes_.data());
  GPULEARN_CUDA_CHECK_LAUNCH();
  be_.sync_stream();
}

// The kind of each open node, the local and the global nodes listed (the host waits for their
// counts). Subtraction needs a slot per global node at once: over max_slots_ the level builds
// every histogram instead, in chunks.
LevelPlan Grower::classify_level(int64_t n_open, bool parents_kept) {
  const bool sub_mode = slots_.by_feature;
  LevelPlan level;
  level.n_open = n_open;
  level.allow_sub = sub_mode && parents_kept;
  for (;;) {
    GPULEARN_LAUNCH(grid_for(n_open + 1), kBlockThreads, 0, stream_, classify_kernel)
    (spec_, n_open, cur_.depth.data(), cur_.stats.data(), cur_.parent_slot.data(), level.allow_sub,
     tune_.local_rows, sc_.kind.data(), sc_.is_local.data(), sc_.is_global.data());
    GPULEARN_CUDA_CHECK_LAUNCH();
    level.n_local =
        compact(sc_.is_local.data(), n_open, sc_.local_rank.data(), sc_.local_list.data(), nullptr);
    level.n_global = compact(sc_.is_global.data(), n_open, sc_.global_rank.data(),
                             sc_.global_list.data(), sc_.slot_of.data());
    if (!level.allow_sub || level.n_global <= max_slots_) break;
    level.allow_sub = false;  // too many slots to derive in one go: build them all, in chunks
  }
  level.retain = sub_mode && level.n_global > 0 && level.n_global <= max_slots_;
  return level;
}

// The local nodes from their rows, then the global ones from their histograms.
void Grower::search_level(const LevelPlan& level) {
  const Positions pos = level_positions();
  const LevelView view = level_nodes();
  const SearchResults res = level_results();
  GPULEARN_CUDA_TRY(cudaMemsetAsync(sc_.all_const.data(), 0,
                                    checked_bytes(level.n_open + 1, sizeof(int32_t)), stream_));
  launch_search(stream_, geo_, spec_, nb_max_, nbins_.data(), pos, view, sc_.local_list.data(),
                level.n_local, nullptr, false, res);
  if (level.n_global > 0) search_global_nodes(level, pos, view, res);
}

// The global nodes' histograms, at most max_slots_ at a time: the kBuilt nodes' built by row
// slices (the host waits for the slice counts), the kDerived nodes' derived, then searched.
// With max_features < d, the nodes whose visited features were all constant searched on from
// their rows.
void Grower::search_global_nodes(const LevelPlan& level, const Positions& pos,
                                 const LevelView& view, const SearchResults& res) {
  const int64_t n_global = level.n_global;
  GPULEARN_LAUNCH(grid_for(n_global + 1), kBlockThreads, 0, stream_, slices_kernel)
  (spec_, n_global, sc_.global_list.data(), sc_.kind.data(), cur_.stats.data(), tune_.slice_rows,
   sc_.rows_before.data());
  GPULEARN_CUDA_CHECK_LAUNCH();
  scanner_.exclusive(sc_.rows_before.data(), sc_.slices.data(), n_global + 1, stream_);
  std::vector<int64_t> slices_h(static_cast<size_t>(n_global + 1));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(slices_h.data(), sc_.slices.data(),
                                    checked_bytes(n_global + 1, sizeof(int64_t)),
                                    cudaMemcpyDeviceToHost, stream_));
  be_.sync_stream();
  const int64_t chunk = std::min(n_global, max_slots_);
  ensure(hist_cur_, checked_mul(chunk, slots_.slot_words));
  HistSlots hist = slots_;
  hist.data = hist_cur_.data();
  for (int64_t g0 = 0; g0 < n_global; g0 += chunk) {
    const int64_t g1 = std::min(n_global, g0 + chunk), m = g1 - g0;
    GPULEARN_CUDA_TRY(cudaMemsetAsync(
        hist.data, 0, checked_bytes(checked_mul(m, slots_.slot_words), sizeof(int64_t)), stream_));
    launch_build(stream_, spec_, nbins_.data(), pos, view, sc_.global_list.data() + g0, m,
                 sc_.slices.data() + g0, slices_h[g0], slices_h[g1] - slices_h[g0],
                 tune_.slice_rows, hist, device_);
    if (level.allow_sub) {
      launch_derive(stream_, sc_.global_list.data(), m, sc_.kind.data(), sc_.slot_of.data(),
                    cur_.parent_slot.data(), hist_parent_.data(), hist);
    }
    launch_search(stream_, geo_, spec_, nb_max_, nbins_.data(), pos, view,
                  sc_.global_list.data() + g0, m, &hist, false, res);
  }
  if (spec_.max_features < data_.d) {
    const int64_t n_const = compact(sc_.all_const.data(), level.n_open, sc_.const_rank.data(),
                                    sc_.const_list.data(), nullptr);
    launch_search(stream_, geo_, spec_, nb_max_, nbins_.data(), pos, view, sc_.const_list.data(),
                  n_const, nullptr, true, res);
  }
}

// Each node's record and, where its best split is accepted, the right child's statistics; the
// split nodes ranked and their rows summed (the host waits for both totals).
void Grower::decide_splits(LevelPlan& level) {
  const int64_t n_open = level.n_open;
  DecisionArgs da;
  da.spec = spec_;
  da.n_open = n_open;
  da.tree = cur_.tree.data();
  da.id = cur_.id.data();
  da.depth = cur_.depth.data();
  da.kind = sc_.kind.data();
  da.stats = cur_.stats.data();
  da.res = level_results();
  da.root_weight = root_weight_.data();
  da.right = sc_.right.data();
  da.split = sc_.split.data();
  da.split_rows = sc_.split_rows.data();
  da.records = sc_.records.data();
  GPULEARN_LAUNCH(grid_for(n_open + 1), kBlockThreads, 0, stream_, decision_kernel)(da);
  GPULEARN_CUDA_CHECK_LAUNCH();
  scanner_.exclusive(sc_.split.data(), sc_.split_rank.data(), n_open + 1, stream_);
  scanner_.exclusive(sc_.split_rows.data(), sc_.rows_before.data(), n_open + 1, stream_);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(&level.n_split, sc_.split_rank.data() + n_open, sizeof(int32_t),
                                    cudaMemcpyDeviceToHost, stream_));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(&level.n_split_rows, sc_.rows_before.data() + n_open,
                                    sizeof(int64_t), cudaMemcpyDeviceToHost, stream_));
  be_.sync_stream();
}

// The split nodes' children into next_ (ids, keys, statistics, the parent's slot when kept),
// their ids into the parents' records; each tree's node count grown by its children.
void Grower::spawn_children(const LevelPlan& level) {
  const int64_t n_open = level.n_open;
  next_.reserve(2 * static_cast<int64_t>(level.n_split), spec_.n_channels);
  GPULEARN_LAUNCH(grid_for(n_open), kBlockThreads, 0, stream_, first_of_tree_kernel)
  (n_open, cur_.tree.data(), first_.data());
  GPULEARN_CUDA_CHECK_LAUNCH();
  SpawnArgs sa;
  sa.spec = spec_;
  sa.n_open = n_open;
  sa.tree = cur_.tree.data();
  sa.depth = cur_.depth.data();
  sa.begin = cur_.begin.data();
  sa.stats = cur_.stats.data();
  sa.key = cur_.key.data();
  sa.split = sc_.split.data();
  sa.split_rank = sc_.split_rank.data();
  sa.first = first_.data();
  sa.n_nodes = n_nodes_.data();
  sa.left = sc_.left.data();
  sa.right = sc_.right.data();
  sa.slot_of = sc_.slot_of.data();
  sa.retain = level.retain;
  sa.subtract_rows = tune_.subtract_rows;
  sa.records = sc_.records.data();
  sa.next_tree = next_.tree.data();
  sa.next_id = next_.id.data();
  sa.next_depth = next_.depth.data();
  sa.next_parent_slot = next_.parent_slot.data();
  sa.next_begin = next_.begin.data();
  sa.next_stats = next_.stats.data();
  sa.next_key = next_.key.data();
  GPULEARN_LAUNCH(grid_for(n_open), kBlockThreads, 0, stream_, spawn_kernel)(sa);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(grid_for(n_open), kBlockThreads, 0, stream_, count_nodes_kernel)
  (n_open, cur_.tree.data(), sc_.split.data(), sc_.split_rank.data(), first_.data(),
   n_nodes_.data());
  GPULEARN_CUDA_CHECK_LAUNCH();
}

// The split nodes' positions into the other position buffer: each child's range where
// spawn_children began it (code <= bin_lo: left).
void Grower::partition_rows(const LevelPlan& level) {
  const int64_t n_open = level.n_open;
  GPULEARN_CUDA_TRY(
      cudaMemsetAsync(sc_.left_fill.data(), 0, checked_bytes(n_open, sizeof(unsigned)), stream_));
  GPULEARN_CUDA_TRY(
      cudaMemsetAsync(sc_.right_fill.data(), 0, checked_bytes(n_open, sizeof(unsigned)), stream_));
  PartitionArgs pa;
  pa.n_rows = level.n_split_rows;
  pa.n_open = n_open;
  pa.rows_before = sc_.rows_before.data();
  pa.begin = cur_.begin.data();
  pa.feature = sc_.feature.data();
  pa.bin_lo = sc_.lo.data();
  pa.left = sc_.left.data();
  pa.ch = static_cast<int32_t>(spec_.n_channels);
  pa.codes = data_.codes;
  pa.d = data_.d;
  pa.src_row = pos_.row[pc_].data();
  pa.src_aux = pos_.aux[pc_].data();
  pa.src_w = pos_.w[pc_].data();
  pa.dst_row = pos_.row[1 - pc_].data();
  pa.dst_aux = pos_.aux[1 - pc_].data();
  pa.dst_w = pos_.w[1 - pc_].data();
  pa.left_fill = sc_.left_fill.data();
  pa.right_fill = sc_.right_fill.data();
  GPULEARN_LAUNCH(grid_for(level.n_split_rows), kBlockThreads, 0, stream_, partition_kernel)(pa);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

void Grower::receive_level(int64_t n_open, int64_t t0, std::vector<GrownTree>& trees,
                           std::vector<int64_t>& node_counts) {
  const int64_t ch = spec_.n_channels;
  records_h_.resize(static_cast<size_t>(n_open));
  stats_h_.resize(static_cast<size_t>(checked_mul(n_open, ch)));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(records_h_.data(), sc_.records.data(),
                                    checked_bytes(n_open, sizeof(NodeRecord)),
                                    cudaMemcpyDeviceToHost, stream_));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(stats_h_.data(), cur_.stats.data(),
                                    checked_bytes(checked_mul(n_open, ch), sizeof(int64_t)),
                                    cudaMemcpyDeviceToHost, stream_));
  be_.sync_stream();
  for (int64_t k = 0; k < n_open; ++k) {
    const NodeRecord& r = records_h_[static_cast<size_t>(k)];
    GrownTree& tree = trees[static_cast<size_t>(t0 + r.tree)];
    const auto id = static_cast<size_t>(r.id);
    if (id >= tree.nodes.size()) {
      const size_t size = std::max(id + 1, tree.nodes.size() * 2);
      tree.nodes.resize(size);
      tree.stats.resize(size * static_cast<size_t>(ch));
    }
    GrownNode& node = tree.nodes[id];
    node.left = r.left;
    node.right = r.right;
    node.feature = r.feature;
    node.bin_lo = r.bin_lo;
    node.bin_hi = r.bin_hi;
    node.depth = r.depth;
    node.improvement = r.improvement;
    std::copy_n(stats_h_.begin() + k * ch, ch, tree.stats.begin() + static_cast<int64_t>(id) * ch);
    ++node_counts[static_cast<size_t>(r.tree)];
  }
}

// The children become the open nodes, their rows in the other position buffer; the level's
// histograms, when kept, their parents'. Whether the next level may derive from them.
bool Grower::advance_level(const LevelPlan& level) {
  cur_.swap(next_);
  if (level.n_split > 0) pc_ = 1 - pc_;
  if (level.retain) std::swap(hist_cur_, hist_parent_);
  return level.retain && level.n_split > 0;
}

// receive_level grows the host trees by doubling: each to its node count.
void Grower::trim_trees(int64_t t0, int64_t n_batch, const std::vector<int64_t>& node_counts,
                        std::vector<GrownTree>& trees) const {
  const auto ch = static_cast<size_t>(spec_.n_channels);
  for (int64_t b = 0; b < n_batch; ++b) {
    GrownTree& tree = trees[static_cast<size_t>(t0 + b)];
    const auto count = static_cast<size_t>(node_counts[static_cast<size_t>(b)]);
    tree.nodes.resize(count);
    tree.stats.resize(count * ch);
  }
}

Positions Grower::level_positions() const {
  Positions pos;
  pos.codes = data_.codes;
  pos.d = data_.d;
  pos.row_q = data_.row_q;
  pos.rw = forest::row_width(spec_);
  pos.row = pos_.row[pc_].data();
  pos.aux = pos_.aux[pc_].data();
  pos.w = pos_.w[pc_].data();
  return pos;
}

LevelView Grower::level_nodes() const {
  LevelView view;
  view.begin = cur_.begin.data();
  view.stats = cur_.stats.data();
  view.key = cur_.key.data();
  return view;
}

SearchResults Grower::level_results() const {
  SearchResults res;
  res.lo = sc_.lo.data();
  res.hi = sc_.hi.data();
  res.feature = sc_.feature.data();
  res.left = sc_.left.data();
  res.all_const = sc_.all_const.data();
  return res;
}

void grow_trees_impl(CudaBackend& be, int device, const TrainingSet& data, const GrowSpec& spec,
                     int64_t n_trees, const int32_t* counts, const double* class_mult,
                     const uint64_t* keys, std::vector<GrownTree>& trees) {
  const int64_t n = data.n, d = data.d;
  GPULEARN_ASSERT(n_trees >= 0);
  GPULEARN_ASSERT(n >= 0 && d >= 1);
  GPULEARN_ASSERT(d <= INT32_MAX);
  // Node indices are int32 and a tree has fewer than 2 n nodes.
  GPULEARN_ASSERT(n <= (int64_t{1} << 30));
  const bool classifier = spec.n_classes > 0;
  GPULEARN_ASSERT(classifier ? spec.n_channels == spec.n_classes + 1
                             : spec.n_outputs >= 1 && spec.n_channels == 2 * spec.n_outputs + 2);
  GPULEARN_ASSERT(spec.n_features == d);
  GPULEARN_ASSERT(spec.max_features >= 1 && spec.max_features <= d);
  GPULEARN_ASSERT(data.n_bins != nullptr);
  for (int64_t j = 0; j < d; ++j) {
    GPULEARN_ASSERT(data.n_bins[j] >= 1 && data.n_bins[j] <= forest::kMaxBins);
  }
  trees.assign(static_cast<size_t>(n_trees), GrownTree{});
  if (n_trees == 0) return;
  GPULEARN_EXPECTS(keys != nullptr && (n == 0 || counts != nullptr),
                   "grow_trees: keys or counts are null");
  if (n > 0) {
    check_device_pointer(data.codes, "the bin codes");
    check_device_pointer(data.row_q, "the quantised row values");
    if (classifier) check_device_pointer(data.labels, "the labels");
  }
  checked_mul(n, d);
  checked_mul(n, n_trees);
  Grower grower(be, data, spec, device);
  grower.run(n_trees, counts, class_mult, keys, trees);
}

}  // namespace

}  // namespace grow

void grow_trees_cuda(CudaBackend& be, const forest::TrainingSet& data, const forest::GrowSpec& spec,
                     int64_t n_trees, const int32_t* counts, const double* class_mult,
                     const uint64_t* keys, std::vector<forest::GrownTree>& trees) {
  DeviceGuard guard(be.ordinal());
  grow::grow_trees_impl(be, be.ordinal(), data, spec, n_trees, counts, class_mult, keys, trees);
}

}  // namespace gpulearn::detail
