// Stand-in for CUB's cub/device/device_scan.cuh under the gpulearn CUDA emulator:
// DeviceScan::ExclusiveSum, with separate input and output or in place, as CUB 2.x/3.x declares
// it (NumItemsT num_items, a stream). Semantics and checks: cub/detail/emulation.cuh.
//
// - d_out[i] = 0 + d_in[0] + ... + d_in[i - 1], accumulated as CUB 2.2+ does: the initial value
//   is the input's value type's zero, the sum has the type of init + item (so small integer
//   types accumulate as int), and each prefix is converted to the output's type on writing.
// - In place when d_in == d_out; otherwise the two ranges shall not overlap (CUB's docs), nor
//   either overlap the temporary storage.
#pragma once

#include <type_traits>
#include <utility>

#include "cub/detail/emulation.cuh"

namespace cub {

struct DeviceScan {
  template <typename InputIteratorT, typename OutputIteratorT, typename NumItemsT>
  static cudaError_t ExclusiveSum(void* d_temp_storage, size_t& temp_storage_bytes,
                                  InputIteratorT d_in, OutputIteratorT d_out, NumItemsT num_items,
                                  cudaStream_t stream = 0) {
    namespace emu = detail::emu;
    constexpr const char* routine = "cub::DeviceScan::ExclusiveSum";
    if (!emu::valid_count(num_items)) return cudaErrorInvalidValue;
    const auto n = static_cast<int64_t>(num_items);
    const emu::TileStateStorage storage(n);
    bool query = false;
    emu::Scratch scratch;
    if (const cudaError_t e =
            emu::take_storage(d_temp_storage, temp_storage_bytes, storage.sizes, query, scratch)) {
      return e;
    }
    if (query || n == 0) return cudaSuccess;
    return gpulearn_emu::enqueue(
        stream,
        [=]() mutable {
          if (!emu::check_scratch(routine, scratch) ||
              !emu::check_accessible(routine, "d_in", d_in, n) ||
              !emu::check_accessible(routine, "d_out", d_out, n)) {
            return;
          }
          emu::Ranges ranges;
          ranges.add("the input", d_in, n);
          if constexpr (std::is_pointer_v<InputIteratorT> && std::is_pointer_v<OutputIteratorT>) {
            // In place: the same elements, read before written.
            if (static_cast<const void*>(d_in) != static_cast<const void*>(d_out) ||
                sizeof(*d_in) != sizeof(*d_out)) {
              ranges.add("the output", d_out, n);
            }
          } else {
            ranges.add("the output", d_out, n);
          }
          ranges.add(scratch);
          if (!ranges.check_disjoint(routine)) return;
          using InitT = emu::value_t<InputIteratorT>;
          using AccT =
              std::decay_t<decltype(std::declval<const InitT&>() + std::declval<const InitT&>())>;
          using OutT = emu::value_t<OutputIteratorT>;
          AccT sum = InitT{};
          for (int64_t i = 0; i < n; ++i) {
            const InitT item = d_in[i];
            if constexpr (std::is_void_v<OutT>) {
              d_out[i] = sum;
            } else {
              d_out[i] = static_cast<OutT>(sum);
            }
            sum = static_cast<AccT>(sum + item);
          }
          emu::poison_scratch(scratch);
        },
        routine);
  }
};

}  // namespace cub
