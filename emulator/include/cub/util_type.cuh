// Stand-in for CUB's cub/util_type.cuh under the gpulearn CUDA emulator: cub::DoubleBuffer, as
// CUB declares it (two device pointers and a selector; Current() and Alternate() non-const, as
// in CUB, so that code compiling here compiles under nvcc too).
#pragma once

namespace cub {

/// A pair of device buffers of the same size and a selector naming the one that holds the valid
/// data. Sorts that take DoubleBuffers may write their result to either buffer and set the
/// selector accordingly; the emulator's always write to Alternate() and flip it (see
/// cub/detail/emulation.cuh).
template <typename T>
struct DoubleBuffer {
  /// Pair of device buffer pointers.
  T* d_buffers[2]{};
  /// Selector into d_buffers (the active, valid buffer).
  int selector = 0;

  DoubleBuffer() = default;
  DoubleBuffer(T* d_current, T* d_alternate) : d_buffers{d_current, d_alternate} {}

  /// The currently valid buffer.
  T* Current() { return d_buffers[selector]; }
  /// The currently invalid buffer.
  T* Alternate() { return d_buffers[selector ^ 1]; }
};

}  // namespace cub
