// Stand-in for CUB's cub/device/device_select.cuh under the gpulearn CUDA emulator:
// DeviceSelect::If with separate input and output, as CUB 2.x declares it (NumItemsT num_items,
// a stream, no debug_synchronous). Semantics and checks: cub/detail/emulation.cuh.
//
// - Copies the items of d_in[0, num_items) for which select_op(item) is true to d_out, in their
//   input order, and writes their count to *d_num_selected_out; all when the host synchronises.
// - d_in may be any random-access iterator (a thrust::counting_iterator, say); pointer arguments
//   must be device-accessible, and the output must not overlap the input, the count or the
//   temporary storage (CUB: "shall not overlap in any way").
#pragma once

#include <type_traits>
#include <vector>

#include "cub/detail/emulation.cuh"

namespace cub {

struct DeviceSelect {
  template <typename InputIteratorT, typename OutputIteratorT, typename NumSelectedIteratorT,
            typename NumItemsT, typename SelectOp>
  static cudaError_t If(void* d_temp_storage, size_t& temp_storage_bytes, InputIteratorT d_in,
                        OutputIteratorT d_out, NumSelectedIteratorT d_num_selected_out,
                        NumItemsT num_items, SelectOp select_op, cudaStream_t stream = 0) {
    namespace emu = detail::emu;
    constexpr const char* routine = "cub::DeviceSelect::If";
    if (!emu::valid_count(num_items)) return cudaErrorInvalidValue;
    const auto n = static_cast<int64_t>(num_items);
    const emu::TileStateStorage storage(n);
    bool query = false;
    emu::Scratch scratch;
    if (const cudaError_t e =
            emu::take_storage(d_temp_storage, temp_storage_bytes, storage.sizes, query, scratch)) {
      return e;
    }
    if (query) return cudaSuccess;
    // Even with no items, the count (0) is written.
    return gpulearn_emu::enqueue(
        stream,
        [=]() mutable {
          if (!emu::check_scratch(routine, scratch) ||
              !emu::check_accessible(routine, "d_in", d_in, n) ||
              !emu::check_accessible(routine, "d_num_selected_out", d_num_selected_out, 1)) {
            return;
          }
          using T = emu::value_t<InputIteratorT>;
          std::vector<T> selected;
          for (int64_t i = 0; i < n; ++i) {
            const T item = d_in[i];
            if (select_op(item)) selected.push_back(item);
          }
          const auto count = static_cast<int64_t>(selected.size());
          if (!emu::check_accessible(routine, "d_out", d_out, count)) return;
          emu::Ranges ranges;
          ranges.add("the input", d_in, n);
          ranges.add("the output", d_out, count);
          ranges.add("the selected count", d_num_selected_out, 1);
          ranges.add(scratch);
          if (!ranges.check_disjoint(routine)) return;
          for (int64_t j = 0; j < count; ++j) d_out[j] = selected[static_cast<size_t>(j)];
          using C = emu::value_t<NumSelectedIteratorT>;
          if constexpr (std::is_void_v<C>) {
            *d_num_selected_out = count;
          } else {
            *d_num_selected_out = static_cast<C>(count);
          }
          emu::poison_scratch(scratch);
        },
        routine);
  }
};

}  // namespace cub
