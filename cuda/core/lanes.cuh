// Kernels that give each row a group of lanes of a warp: the group width for a row length, the
// run-time-to-compile-time switch a kernel template needs, and the reduction over a group.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace gpulearn::detail {

/// Lanes per row for a row of `width` entries: the smallest power of two covering it, at most a
/// warp, so that short rows do not leave most of a warp idle.
inline int lanes_for(int64_t width) {
  int lanes = 1;
  while (lanes < 32 && lanes < width) lanes *= 2;
  return lanes;
}

/// Calls f(std::integral_constant<int, L>{}) with L = lanes_for(width): turns the run-time group
/// width into the compile-time one a kernel template needs.
template <typename F>
void with_lanes(int64_t width, F&& f) {
  switch (lanes_for(width)) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 16:
      return f(std::integral_constant<int, 16>{});
    default:
      return f(std::integral_constant<int, 32>{});
  }
}

/// Reduces v over the kLanes lanes of an aligned group of a warp with a butterfly: every lane of
/// the group ends with the same value (each step combines the same two operands on both sides).
/// All 32 lanes of the warp must call it.
template <int kLanes, typename V, typename Op>
__device__ __forceinline__ V group_reduce(V v, Op op) {
#pragma unroll
  for (int offset = kLanes / 2; offset > 0; offset /= 2) {
    v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

}  // namespace gpulearn::detail
