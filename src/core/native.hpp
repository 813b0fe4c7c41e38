// Arrays in a backend's native memory (host for the CPU, device for CUDA), for drivers whose
// primitives take their inputs there: owned scratch, and inputs made native with one copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "gpulearn/core/error.hpp"

namespace gpulearn::detail {

/// An array of n U in the backend's native memory, freed with its last owner.
template <typename U>
struct Scratch {
  std::shared_ptr<void> owner;
  U* data = nullptr;
  Scratch() = default;
  Scratch(Backend& be, int64_t n) : owner(be.allocate(checked_mul(n, int64_t(sizeof(U))))) {
    data = static_cast<U*>(owner.get());
  }
};

/// A matrix where the backend computes: the caller's view when it is there already, else a
/// contiguous copy (strided host rows are packed first: one transfer, not one per row).
template <typename T>
struct NativeMatrix {
  MatrixView<const T> view;
  Scratch<T> copy;

  NativeMatrix(Backend& be, MatrixView<const T> M) : view(M) {
    const MemorySpace native = be.native_space();
    if (M.space == native || M.empty()) return;
    copy = Scratch<T>(be, M.size());
    std::vector<T> packed;
    const T* src = M.data;
    if (!M.contiguous()) {
      GPULEARN_ASSERT(M.space == MemorySpace::kHost);
      packed.resize(M.size());
      for (int64_t i = 0; i < M.rows; ++i) std::copy_n(M.row(i), M.cols, &packed[i * M.cols]);
      src = packed.data();
    }
    be.copy(copy.data, native, src, M.space, M.size() * int64_t(sizeof(T)));
    view = MatrixView<const T>(copy.data, M.rows, M.cols, M.cols, native);
  }
};

// A contiguous host copy of M (rows x cols), wherever M lives: one transfer when M is
// contiguous, one per row otherwise.
template <typename T>
inline std::vector<T> to_host(Backend& be, MatrixView<const T> M) {
  std::vector<T> out(checked_mul(M.rows, M.cols));
  if (M.empty()) return out;
  if (M.contiguous()) {
    be.copy(out.data(), MemorySpace::kHost, M.data, M.space, M.size() * int64_t(sizeof(T)));
    return out;
  }
  for (int64_t i = 0; i < M.rows; ++i) {
    be.copy(&out[i * M.cols], MemorySpace::kHost, M.data + i * M.ld, M.space,
            M.cols * int64_t(sizeof(T)));
  }
  return out;
}

// A contiguous host copy of the vector v, whatever its stride and memory space.
template <typename T>
inline std::vector<T> to_host(Backend& be, VectorView<const T> v) {
  return to_host(be, MatrixView<const T>(v.data, v.size, 1, v.stride, v.space));
}

}  // namespace gpulearn::detail
