// Stand-in for CUB's cub/device/device_radix_sort.cuh under the gpulearn CUDA emulator:
// DeviceRadixSort's key-value sorts, ascending and descending, with separate input and output
// pointers and with DoubleBuffers, as CUB 2.x/3.x declares them (NumItemsT num_items, no
// debug_synchronous). Semantics and checks: cub/detail/emulation.cuh.
//
// - Stable, for every key type and both orders; only bits [begin_bit, end_bit) of the
//   transformed key take part. Floating-point keys in CUB's order: -0.0 and +0.0 equal (they
//   keep their input order and their bits), NaNs by their bits.
// - The pointer forms never modify their inputs; their ranges must not overlap.
// - The DoubleBuffer forms: CUB may leave the result in either buffer and sets the selectors to
//   say which. The emulator always writes to Alternate(), flips both selectors (when num_items
//   > 0) and poisons the old current buffers, which CUB may alter: a caller who ignores the
//   selector reads garbage here as it might on a GPU.
#pragma once

#include "cub/detail/emulation.cuh"
#include "cub/util_type.cuh"

namespace cub {

struct DeviceRadixSort {
  template <typename KeyT, typename ValueT, typename NumItemsT>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes,
                               const KeyT* d_keys_in, KeyT* d_keys_out, const ValueT* d_values_in,
                               ValueT* d_values_out, NumItemsT num_items, int begin_bit = 0,
                               int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    bool queued = false;
    return detail::emu::radix_sort("cub::DeviceRadixSort::SortPairs", d_temp_storage,
                                   temp_storage_bytes, d_keys_in, d_keys_out, d_values_in,
                                   d_values_out, num_items, begin_bit, end_bit, stream,
                                   /*descending=*/false, /*overwrite_okay=*/false, queued);
  }

  template <typename KeyT, typename ValueT, typename NumItemsT>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes,
                               DoubleBuffer<KeyT>& d_keys, DoubleBuffer<ValueT>& d_values,
                               NumItemsT num_items, int begin_bit = 0,
                               int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    return double_buffer("cub::DeviceRadixSort::SortPairs", d_temp_storage, temp_storage_bytes,
                         d_keys, d_values, num_items, begin_bit, end_bit, stream, false);
  }

  template <typename KeyT, typename ValueT, typename NumItemsT>
  static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes,
                                         const KeyT* d_keys_in, KeyT* d_keys_out,
                                         const ValueT* d_values_in, ValueT* d_values_out,
                                         NumItemsT num_items, int begin_bit = 0,
                                         int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    bool queued = false;
    return detail::emu::radix_sort("cub::DeviceRadixSort::SortPairsDescending", d_temp_storage,
                                   temp_storage_bytes, d_keys_in, d_keys_out, d_values_in,
                                   d_values_out, num_items, begin_bit, end_bit, stream,
                                   /*descending=*/true, /*overwrite_okay=*/false, queued);
  }

  template <typename KeyT, typename ValueT, typename NumItemsT>
  static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes,
                                         DoubleBuffer<KeyT>& d_keys, DoubleBuffer<ValueT>& d_values,
                                         NumItemsT num_items, int begin_bit = 0,
                                         int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
    return double_buffer("cub::DeviceRadixSort::SortPairsDescending", d_temp_storage,
                         temp_storage_bytes, d_keys, d_values, num_items, begin_bit, end_bit,
                         stream, true);
  }

 private:
  template <typename KeyT, typename ValueT, typename NumItemsT>
  static cudaError_t double_buffer(const char* routine, void* d_temp_storage,
                                   size_t& temp_storage_bytes, DoubleBuffer<KeyT>& d_keys,
                                   DoubleBuffer<ValueT>& d_values, NumItemsT num_items,
                                   int begin_bit, int end_bit, cudaStream_t stream,
                                   bool descending) {
    bool queued = false;
    const cudaError_t e = detail::emu::radix_sort(
        routine, d_temp_storage, temp_storage_bytes, d_keys.Current(), d_keys.Alternate(),
        d_values.Current(), d_values.Alternate(), num_items, begin_bit, end_bit, stream, descending,
        /*overwrite_okay=*/true, queued);
    if (queued) {
      d_keys.selector ^= 1;
      d_values.selector ^= 1;
    }
    return e;
  }
};

}  // namespace cub
