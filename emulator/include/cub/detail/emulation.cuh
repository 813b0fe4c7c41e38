// What the emulator's CUB stand-ins share: CUB's two-phase temporary-storage protocol, the
// checks a GPU would turn into faults or undefined results, and CUB's radix-sort key order.
// Not part of CUB's API; gpulearn's cuda/ sources never name it.
//
// Semantics, as CUB documents them (CCCL 2.x/3.x), and what the emulator adds:
// - Two phases. A call with d_temp_storage == nullptr only writes temp_storage_bytes (at least
//   1) and returns cudaSuccess. A call with storage returns cudaErrorInvalidValue, having done
//   nothing, when temp_storage_bytes is below what the query returns for the same problem (as
//   CUB's alias_temporaries). The size is a deterministic function of the problem (items,
//   segments, key bits, element sizes) that grows with it, so storage sized for a smaller or
//   different problem is caught. The storage must be device memory; on a GPU anything else is
//   an illegal address when the kernels run, so the emulator reports it then, with fault().
// - Stream order. The work is queued on the given stream and runs when the host synchronises;
//   inputs are read and outputs written then. Nothing happens at call time except the argument
//   checks CUB does on the host and, for DoubleBuffer sorts, the selector update.
// - Checks in the queued work, reported with fault() as a GPU would report the kernel: a pointer
//   argument whose range is not memory a kernel may touch (device or pinned) is an illegal
//   address; ranges CUB requires to be disjoint that overlap (its result would be undefined) are
//   a launch failure. The temporary storage is poisoned when the work has run: it is scratch.
// - Stricter than CUB, which would silently misbehave: a negative num_items, or a bit range not
//   within [0, bits of the key], returns cudaErrorInvalidValue from the call.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cub/util_type.cuh"
#include "gpulearn_emu/internal.hpp"

namespace cub {
namespace detail {
namespace emu {

template <typename It>
using value_t = typename std::iterator_traits<It>::value_type;

// ---- Temporary storage --------------------------------------------------------------------------

constexpr size_t kAlignBytes = 256;  // CUB aligns the storage's base to 256 bytes
// CUB also rounds each sub-allocation up to 256 bytes; the emulator packs them at 16 bytes, so
// that storage sized for a slightly smaller problem is caught too, not only when the sizes cross
// a 256-byte boundary.
constexpr size_t kSubAlignBytes = 16;
constexpr int64_t kTileItems = 2048;  // items per modelled thread block tile
constexpr size_t kRadixDigits = 256;  // 8-bit digits

/// The part of the caller's storage a call touches: d_temp_storage aligned up to 256 bytes, and
/// the extent of its sub-allocations from there.
struct Scratch {
  char* base = nullptr;
  size_t extent = 0;
};

inline size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/// What the query returns for these sub-allocations: each rounded up to 16 bytes, plus 255
/// bytes of slack for aligning the base, as CUB's alias_temporaries computes it; at least 1.
template <size_t N>
size_t bytes_needed(const size_t (&sizes)[N]) {
  size_t total = 0;
  for (size_t s : sizes) total += round_up(s, kSubAlignBytes);
  return std::max<size_t>(total + kAlignBytes - 1, 1);
}

/// The two-phase protocol. A null d_temp_storage: writes the size, sets `query`, returns
/// cudaSuccess. Storage below the size: cudaErrorInvalidValue. Else `scratch` is what the call
/// will touch.
template <size_t N>
cudaError_t take_storage(void* d_temp_storage, size_t& temp_storage_bytes, const size_t (&sizes)[N],
                         bool& query, Scratch& scratch) {
  const size_t needed = bytes_needed(sizes);
  query = d_temp_storage == nullptr;
  if (query) {
    temp_storage_bytes = needed;
    return cudaSuccess;
  }
  if (temp_storage_bytes < needed) return cudaErrorInvalidValue;
  const auto a = reinterpret_cast<uintptr_t>(d_temp_storage);
  scratch.base = reinterpret_cast<char*>(round_up(a, kAlignBytes));
  size_t offset = 0;
  for (size_t s : sizes) {
    if (s != 0) scratch.extent = offset + s;
    offset += round_up(s, kSubAlignBytes);
  }
  return cudaSuccess;
}

inline int64_t tiles(int64_t items) { return (items + kTileItems - 1) / kTileItems; }

/// The modelled storage of a radix sort, after CUB's onesweep and segmented dispatch: digit
/// histograms per pass, look-back per tile, per-segment descriptors (segmented sorts), and,
/// without DoubleBuffers, the extra key and value buffers that the docs' "~2N auxiliary
/// storage" refers to.
struct RadixStorage {
  size_t sizes[6];
  RadixStorage(int64_t items, int64_t segments, int begin_bit, int end_bit, size_t key_bytes,
               size_t value_bytes, size_t offset_bytes, bool overwrite_okay) {
    const auto n = static_cast<size_t>(items);
    const auto passes = static_cast<size_t>((end_bit - begin_bit + 7) / 8);
    sizes[0] = passes * kRadixDigits * offset_bytes;                            // bins
    sizes[1] = static_cast<size_t>(tiles(items)) * kRadixDigits * sizeof(int);  // look-back
    sizes[2] = overwrite_okay ? 0 : n * key_bytes;                              // keys
    sizes[3] = overwrite_okay ? 0 : n * value_bytes;                            // values
    sizes[4] = passes * sizeof(int);                                            // counters
    sizes[5] = static_cast<size_t>(segments) * 2 * sizeof(int64_t);             // segments
  }
};

/// The modelled storage of a single-pass scan or selection: one tile descriptor per tile and a
/// warp's worth of padding, as CUB's ScanTileState.
struct TileStateStorage {
  size_t sizes[1];
  explicit TileStateStorage(int64_t items)
      : sizes{static_cast<size_t>(tiles(items) + 32) * 2 * sizeof(int64_t)} {}
};

// ---- Checks inside queued work ------------------------------------------------------------------

inline std::string describe(const void* p, size_t bytes) {
  std::ostringstream s;
  s << "[" << p << ", +" << bytes << " bytes)";
  return s.str();
}

/// The temporary storage must be device memory.
inline bool check_scratch(const char* routine, const Scratch& s) {
  if (gpulearn_emu::is_device_range(s.base, s.extent)) return true;
  gpulearn_emu::fault(cudaErrorIllegalAddress, std::string(routine) + ": temporary storage " +
                                                   describe(s.base, s.extent) +
                                                   " is not device memory");
  return false;
}

/// A pointer argument's first `count` elements must be memory a kernel may touch (device or
/// pinned). Iterators that are values (counting iterators) are not checked.
template <typename It>
bool check_accessible(const char* routine, const std::string& name, It it, int64_t count) {
  if constexpr (std::is_pointer_v<It>) {
    if (count <= 0) return true;
    const size_t bytes = static_cast<size_t>(count) * sizeof(*it);
    if (it != nullptr && gpulearn_emu::is_kernel_accessible(static_cast<const void*>(it), bytes)) {
      return true;
    }
    gpulearn_emu::fault(cudaErrorIllegalAddress,
                        std::string(routine) + ": " + name + " " +
                            describe(static_cast<const void*>(it), bytes) +
                            " is not device-accessible memory (device or pinned)");
    return false;
  } else {
    (void)routine, (void)name, (void)it, (void)count;
    return true;
  }
}

/// Byte ranges that CUB requires not to overlap.
class Ranges {
 public:
  template <typename It>
  void add(const char* name, It it, int64_t count) {
    if constexpr (std::is_pointer_v<It>) {
      if (count <= 0) return;
      const auto b = reinterpret_cast<uintptr_t>(static_cast<const void*>(it));
      ranges_.push_back({name, b, b + static_cast<size_t>(count) * sizeof(*it)});
    } else {
      (void)name, (void)it, (void)count;
    }
  }
  void add(const Scratch& s) {
    const auto b = reinterpret_cast<uintptr_t>(s.base);
    if (s.extent != 0) ranges_.push_back({"temporary storage", b, b + s.extent});
  }
  /// True when no two overlap; else reports the first overlap as a launch failure.
  bool check_disjoint(const char* routine) const {
    for (size_t i = 0; i < ranges_.size(); ++i) {
      for (size_t j = i + 1; j < ranges_.size(); ++j) {
        const Range& a = ranges_[i];
        const Range& b = ranges_[j];
        if (a.begin < b.end && b.begin < a.end) {
          gpulearn_emu::fault(
              cudaErrorLaunchFailure,
              std::string(routine) + ": " + a.name + " " + describe(a) + " overlaps " + b.name +
                  " " + describe(b) +
                  "; CUB requires these ranges not to overlap (on a GPU the result is undefined)");
          return false;
        }
      }
    }
    return true;
  }

 private:
  struct Range {
    const char* name;
    uintptr_t begin, end;
  };
  static std::string describe(const Range& r) {
    return emu::describe(reinterpret_cast<const void*>(r.begin), r.end - r.begin);
  }
  std::vector<Range> ranges_;
};

inline void poison_scratch(const Scratch& s) { gpulearn_emu::poison(s.base, s.extent); }

template <typename NumItemsT>
bool valid_count(NumItemsT n) {
  static_assert(std::is_integral_v<NumItemsT>, "num_items must be of an integral type");
  if constexpr (std::is_signed_v<NumItemsT>) {
    return n >= 0;
  } else {
    return static_cast<uint64_t>(n) <= static_cast<uint64_t>(INT64_MAX);
  }
}

// ---- Radix sort ---------------------------------------------------------------------------------

template <size_t Bytes>
struct unsigned_bits;
template <>
struct unsigned_bits<1> {
  using type = uint8_t;
};
template <>
struct unsigned_bits<2> {
  using type = uint16_t;
};
template <>
struct unsigned_bits<4> {
  using type = uint32_t;
};
template <>
struct unsigned_bits<8> {
  using type = uint64_t;
};

/// CUB's radix order of a key type: the bit-wise transformation applied before the
/// [begin_bit, end_bit) range is cut out (DeviceRadixSort's "Transformations").
template <typename K>
struct RadixKey {
  static_assert(std::is_arithmetic_v<K> && sizeof(K) <= 8,
                "the emulated CUB radix sorts take the built-in integer and floating-point keys");
  using U = typename unsigned_bits<sizeof(K)>::type;
  static constexpr int kBits = static_cast<int>(sizeof(K) * 8);
  static constexpr U kHigh = static_cast<U>(U(1) << (kBits - 1));

  /// Unsigned keys as they are; signed: the sign bit inverted; floating point: the sign bit
  /// inverted for positive values, every bit for negative ones. Then -0.0 takes +0.0's pattern,
  /// so the two zeros compare equal and keep their input order (CUB's ProcessFloatMinusZero).
  /// NaNs are ordered by their bits: negative NaNs first, positive NaNs last.
  static U twiddle(K key) {
    U b;
    std::memcpy(&b, &key, sizeof b);
    if constexpr (std::is_floating_point_v<K>) {
      b = static_cast<U>(b ^ ((b & kHigh) ? static_cast<U>(~U(0)) : kHigh));
      if (b == static_cast<U>(~kHigh)) b = kHigh;
    } else if constexpr (std::is_signed_v<K>) {
      b = static_cast<U>(b ^ kHigh);
    }
    return b;
  }

  /// Bits [begin_bit, end_bit) of the transformed key; the sort compares these only.
  static U digits(K key, int begin_bit, int end_bit) {
    const int width = end_bit - begin_bit;
    if (width <= 0) return 0;
    U b = static_cast<U>(twiddle(key) >> begin_bit);
    if (width < kBits) b = static_cast<U>(b & static_cast<U>((U(1) << width) - 1));
    return b;
  }

  static bool valid_bits(int begin_bit, int end_bit) {
    return 0 <= begin_bit && begin_bit <= end_bit && end_bit <= kBits;
  }
};

/// Sorts n pairs stably by their key digits, ascending or descending (descending: CUB inverts
/// the transformed key and sorts ascending, which keeps equal keys in input order too). Reads
/// every input before writing any output.
template <typename K, typename V>
void radix_sort_pairs(const K* keys_in, const V* values_in, K* keys_out, V* values_out, int64_t n,
                      int begin_bit, int end_bit, bool descending) {
  if (n <= 0) return;
  using R = RadixKey<K>;
  const std::vector<K> keys(keys_in, keys_in + n);
  const std::vector<V> values(values_in, values_in + n);
  std::vector<typename R::U> digit(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) digit[i] = R::digits(keys[i], begin_bit, end_bit);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (descending) {
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return digit[a] > digit[b]; });
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return digit[a] < digit[b]; });
  }
  for (int64_t i = 0; i < n; ++i) {
    keys_out[i] = keys[order[i]];
    values_out[i] = values[order[i]];
  }
}

/// DeviceRadixSort's pair sorts, both forms. overwrite_okay (the DoubleBuffer forms): the input
/// buffers are the DoubleBuffers' current ones and may be altered; the emulator poisons them
/// after the sort, so that a caller who reads the old buffer instead of following the selector
/// reads garbage, as it may on a GPU.
template <typename K, typename V, typename NumItemsT>
cudaError_t radix_sort(const char* routine, void* d_temp_storage, size_t& temp_storage_bytes,
                       const K* keys_in, K* keys_out, const V* values_in, V* values_out,
                       NumItemsT num_items, int begin_bit, int end_bit, cudaStream_t stream,
                       bool descending, bool overwrite_okay, bool& queued) {
  queued = false;
  if (!valid_count(num_items) || !RadixKey<K>::valid_bits(begin_bit, end_bit)) {
    return cudaErrorInvalidValue;
  }
  const auto n = static_cast<int64_t>(num_items);
  const RadixStorage storage(n, 0, begin_bit, end_bit, sizeof(K), sizeof(V),
                             sizeof(NumItemsT) <= 4 ? 4 : 8, overwrite_okay);
  bool query = false;
  Scratch scratch;
  if (const cudaError_t e =
          take_storage(d_temp_storage, temp_storage_bytes, storage.sizes, query, scratch)) {
    return e;
  }
  if (query || n == 0) return cudaSuccess;
  const cudaError_t e = gpulearn_emu::enqueue(
      stream,
      [=] {
        if (!check_scratch(routine, scratch) ||
            !check_accessible(routine, overwrite_okay ? "d_keys.Current()" : "d_keys_in", keys_in,
                              n) ||
            !check_accessible(routine, overwrite_okay ? "d_keys.Alternate()" : "d_keys_out",
                              keys_out, n) ||
            !check_accessible(routine, overwrite_okay ? "d_values.Current()" : "d_values_in",
                              values_in, n) ||
            !check_accessible(routine, overwrite_okay ? "d_values.Alternate()" : "d_values_out",
                              values_out, n)) {
          return;
        }
        Ranges ranges;
        ranges.add("the keys' input", keys_in, n);
        ranges.add("the keys' output", keys_out, n);
        ranges.add("the values' input", values_in, n);
        ranges.add("the values' output", values_out, n);
        ranges.add(scratch);
        if (!ranges.check_disjoint(routine)) return;
        radix_sort_pairs(keys_in, values_in, keys_out, values_out, n, begin_bit, end_bit,
                         descending);
        if (overwrite_okay) {
          gpulearn_emu::poison(const_cast<K*>(keys_in), static_cast<size_t>(n) * sizeof(K));
          gpulearn_emu::poison(const_cast<V*>(values_in), static_cast<size_t>(n) * sizeof(V));
        }
        poison_scratch(scratch);
      },
      routine);
  queued = e == cudaSuccess;
  return e;
}

/// DeviceSegmentedRadixSort's pair sorts, both forms: radix_sort per segment
/// [d_begin_offsets[i], d_end_offsets[i]); a segment whose end is not past its begin is empty.
/// Items outside every segment are neither read nor written (in either buffer). The emulator
/// reports, as faults, segments outside [0, num_items) and segments that overlap.
template <typename K, typename V, typename BeginOffsetIteratorT, typename EndOffsetIteratorT>
cudaError_t segmented_radix_sort(const char* routine, void* d_temp_storage,
                                 size_t& temp_storage_bytes, const K* keys_in, K* keys_out,
                                 const V* values_in, V* values_out, int64_t num_items,
                                 int64_t num_segments, BeginOffsetIteratorT d_begin_offsets,
                                 EndOffsetIteratorT d_end_offsets, int begin_bit, int end_bit,
                                 cudaStream_t stream, bool descending, bool overwrite_okay,
                                 bool& queued) {
  queued = false;
  if (num_items < 0 || num_segments < 0 || !RadixKey<K>::valid_bits(begin_bit, end_bit)) {
    return cudaErrorInvalidValue;
  }
  const RadixStorage storage(num_items, num_segments, begin_bit, end_bit, sizeof(K), sizeof(V),
                             sizeof(int), overwrite_okay);
  bool query = false;
  Scratch scratch;
  if (const cudaError_t e =
          take_storage(d_temp_storage, temp_storage_bytes, storage.sizes, query, scratch)) {
    return e;
  }
  if (query || num_items == 0 || num_segments == 0) return cudaSuccess;
  const cudaError_t e = gpulearn_emu::enqueue(
      stream,
      [=] {
        if (!check_scratch(routine, scratch) ||
            !check_accessible(routine, "d_begin_offsets", d_begin_offsets, num_segments) ||
            !check_accessible(routine, "d_end_offsets", d_end_offsets, num_segments)) {
          return;
        }
        struct Segment {
          int64_t index, begin, end;
        };
        std::vector<Segment> segments;
        for (int64_t i = 0; i < num_segments; ++i) {
          const auto b = static_cast<int64_t>(d_begin_offsets[i]);
          const auto en = static_cast<int64_t>(d_end_offsets[i]);
          if (en <= b) continue;  // empty
          if (b < 0 || en > num_items) {
            std::ostringstream s;
            s << routine << ": segment " << i << " [" << b << ", " << en
              << ") lies outside the num_items = " << num_items << " items";
            gpulearn_emu::fault(cudaErrorIllegalAddress, s.str());
            return;
          }
          segments.push_back({i, b, en});
        }
        if (segments.empty()) {
          poison_scratch(scratch);
          return;
        }
        std::vector<Segment> by_begin = segments;
        std::sort(by_begin.begin(), by_begin.end(),
                  [](const Segment& a, const Segment& b) { return a.begin < b.begin; });
        for (size_t j = 1; j < by_begin.size(); ++j) {
          if (by_begin[j].begin < by_begin[j - 1].end) {
            std::ostringstream s;
            s << routine << ": segments " << by_begin[j - 1].index << " [" << by_begin[j - 1].begin
              << ", " << by_begin[j - 1].end << ") and " << by_begin[j].index << " ["
              << by_begin[j].begin << ", " << by_begin[j].end
              << ") overlap; CUB sorts non-overlapping segments (on a GPU the result is undefined)";
            gpulearn_emu::fault(cudaErrorLaunchFailure, s.str());
            return;
          }
        }
        for (const Segment& sg : segments) {
          const int64_t len = sg.end - sg.begin;
          const std::string in = " segment " + std::to_string(sg.index);
          if (!check_accessible(routine, (overwrite_okay ? "d_keys.Current()" : "d_keys_in") + in,
                                keys_in + sg.begin, len) ||
              !check_accessible(routine,
                                (overwrite_okay ? "d_keys.Alternate()" : "d_keys_out") + in,
                                keys_out + sg.begin, len) ||
              !check_accessible(routine,
                                (overwrite_okay ? "d_values.Current()" : "d_values_in") + in,
                                values_in + sg.begin, len) ||
              !check_accessible(routine,
                                (overwrite_okay ? "d_values.Alternate()" : "d_values_out") + in,
                                values_out + sg.begin, len)) {
            return;
          }
        }
        // The arrays' touched extents must not overlap one another nor the storage.
        const int64_t lo = by_begin.front().begin;
        int64_t hi = lo;
        for (const Segment& sg : segments) hi = std::max(hi, sg.end);
        Ranges ranges;
        ranges.add("the keys' input", keys_in + lo, hi - lo);
        ranges.add("the keys' output", keys_out + lo, hi - lo);
        ranges.add("the values' input", values_in + lo, hi - lo);
        ranges.add("the values' output", values_out + lo, hi - lo);
        ranges.add(scratch);
        if (!ranges.check_disjoint(routine)) return;
        for (const Segment& sg : segments) {
          radix_sort_pairs(keys_in + sg.begin, values_in + sg.begin, keys_out + sg.begin,
                           values_out + sg.begin, sg.end - sg.begin, begin_bit, end_bit,
                           descending);
        }
        if (overwrite_okay) {
          for (const Segment& sg : segments) {
            const auto len = static_cast<size_t>(sg.end - sg.begin);
            gpulearn_emu::poison(const_cast<K*>(keys_in + sg.begin), len * sizeof(K));
            gpulearn_emu::poison(const_cast<V*>(values_in + sg.begin), len * sizeof(V));
          }
        }
        poison_scratch(scratch);
      },
      routine);
  queued = e == cudaSuccess;
  return e;
}

}  // namespace emu
}  // namespace detail
}  // namespace cub
