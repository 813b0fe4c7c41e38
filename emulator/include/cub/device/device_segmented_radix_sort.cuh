// Stand-in for CUB's cub/device/device_segmented_radix_sort.cuh under the gpulearn CUDA
// emulator: DeviceSegmentedRadixSort's key-value sorts, ascending and descending, with separate
// input and output pointers and with DoubleBuffers, as CUB declares them (64-bit num_items and
// num_segments, which int arguments convert to; offsets by any random-access iterator).
// Semantics and checks: cub/detail/emulation.cuh and cub/device/device_radix_sort.cuh.
//
// - Segment i is [d_begin_offsets[i], d_end_offsets[i]); one whose end is not past its begin is
//   empty. Each is sorted independently, stably, by bits [begin_bit, end_bit) of its keys.
// - Items outside every segment are neither read nor written, in any buffer.
// - The DoubleBuffer forms always write to Alternate() and flip both selectors (when num_items
//   and num_segments are nonzero), and poison the old current buffers' segments.
// - Faults (from the queued work): offsets that are not device-accessible, a segment outside
//   [0, num_items), segments that overlap.
#pragma once

#include <cstdint>

#include "cub/detail/emulation.cuh"
#include "cub/util_type.cuh"

namespace cub {

struct DeviceSegmentedRadixSort {
  template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT,
            typename EndOffsetIteratorT>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes,
                               const KeyT* d_keys_in, KeyT* d_keys_out, const ValueT* d_values_in,
                               ValueT* d_values_out, std::int64_t num_items,
                               std::int64_t num_segments, BeginOffsetIteratorT d_begin_offsets,
                               EndOffsetIteratorT d_end_offsets, int begin_bit = 0,
                               int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    bool queued = false;
    return detail::emu::segmented_radix_sort(
        "cub::DeviceSegmentedRadixSort::SortPairs", d_temp_storage, temp_storage_bytes, d_keys_in,
        d_keys_out, d_values_in, d_values_out, num_items, num_segments, d_begin_offsets,
        d_end_offsets, begin_bit, end_bit, stream, /*descending=*/false,
        /*overwrite_okay=*/false, queued);
  }

  template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT,
            typename EndOffsetIteratorT>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes,
                               DoubleBuffer<KeyT>& d_keys, DoubleBuffer<ValueT>& d_values,
                               std::int64_t num_items, std::int64_t num_segments,
                               BeginOffsetIteratorT d_begin_offsets,
                               EndOffsetIteratorT d_end_offsets, int begin_bit = 0,
                               int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    return double_buffer("cub::DeviceSegmentedRadixSort::SortPairs", d_temp_storage,
                         temp_storage_bytes, d_keys, d_values, num_items, num_segments,
                         d_begin_offsets, d_end_offsets, begin_bit, end_bit, stream, false);
  }

  template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT,
            typename EndOffsetIteratorT>
  static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes,
                                         const KeyT* d_keys_in, KeyT* d_keys_out,
                                         const ValueT* d_values_in, ValueT* d_values_out,
                                         std::int64_t num_items, std::int64_t num_segments,
                                         BeginOffsetIteratorT d_begin_offsets,
                                         EndOffsetIteratorT d_end_offsets, int begin_bit = 0,
                                         int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    bool queued = false;
    return detail::emu::segmented_radix_sort(
        "cub::DeviceSegmentedRadixSort::SortPairsDescending", d_temp_storage, temp_storage_bytes,
        d_keys_in, d_keys_out, d_values_in, d_values_out, num_items, num_segments, d_begin_offsets,
        d_end_offsets, begin_bit, end_bit, stream, /*descending=*/true,
        /*overwrite_okay=*/false, queued);
  }

  template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT,
            typename EndOffsetIteratorT>
  static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes,
                                         DoubleBuffer<KeyT>& d_keys, DoubleBuffer<ValueT>& d_values,
                                         std::int64_t num_items, std::int64_t num_segments,
                                         BeginOffsetIteratorT d_begin_offsets,
                                         EndOffsetIteratorT d_end_offsets, int begin_bit = 0,
                                         int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    return double_buffer("cub::DeviceSegmentedRadixSort::SortPairsDescending", d_temp_storage,
                         temp_storage_bytes, d_keys, d_values, num_items, num_segments,
                         d_begin_offsets, d_end_offsets, begin_bit, end_bit, stream, true);
  }

 private:
  template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT,
            typename EndOffsetIteratorT>
  static cudaError_t double_buffer(const char* routine, void* d_temp_storage,
                                   size_t& temp_storage_bytes, DoubleBuffer<KeyT>& d_keys,
                                   DoubleBuffer<ValueT>& d_values, std::int64_t num_items,
                                   std::int64_t num_segments, BeginOffsetIteratorT d_begin_offsets,
                                   EndOffsetIteratorT d_end_offsets, int begin_bit, int end_bit,
                                   cudaStream_t stream, bool descending) {
    bool queued = false;
    const cudaError_t e = detail::emu::segmented_radix_sort(
        routine, d_temp_storage, temp_storage_bytes, d_keys.Current(), d_keys.Alternate(),
        d_values.Current(), d_values.Alternate(), num_items, num_segments, d_begin_offsets,
        d_end_offsets, begin_bit, end_bit, stream, descending, /*overwrite_okay=*/true, queued);
    if (queued) {
      d_keys.selector ^= 1;
      d_values.selector ^= 1;
    }
    return e;
  }
};

}  // namespace cub
