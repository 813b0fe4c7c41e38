// Non-owning views of row-major matrices and vectors in host or device memory.
//
// A MatrixView is rows x cols with a row stride ld >= cols (in elements). Views never own
// memory; the caller keeps the data alive for the duration of the call that receives them.
#pragma once

#include <cstdint>
#include <type_traits>

#include "gpulearn/core/error.hpp"

namespace gpulearn {

enum class MemorySpace { kHost, kDevice };

inline const char* to_string(MemorySpace s) { return s == MemorySpace::kHost ? "host" : "device"; }

template <typename T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;  // elements between the starts of consecutive rows
  MemorySpace space = MemorySpace::kHost;

  MatrixView() = default;
  MatrixView(T* d, int64_t r, int64_t c, int64_t l = -1, MemorySpace s = MemorySpace::kHost)
      : data(d), rows(r), cols(c), ld(l < 0 ? c : l), space(s) {
    GPULEARN_EXPECTS(rows >= 0 && cols >= 0, "matrix shape must be non-negative, got (", rows, ", ",
                     cols, ")");
    GPULEARN_EXPECTS(ld >= cols, "row stride ", ld, " is smaller than the number of columns ",
                     cols);
    GPULEARN_EXPECTS(data != nullptr || rows == 0 || cols == 0,
                     "matrix data pointer is null for a non-empty shape");
    if (rows > 0) checked_add(checked_mul(rows - 1, ld), cols);  // the span must be addressable
  }

  // A view of const T from a view of T.
  template <typename U,
            typename = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  MatrixView(const MatrixView<U>& o)  // NOLINT(google-explicit-constructor)
      : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld), space(o.space) {}

  int64_t size() const { return checked_mul(rows, cols); }
  bool empty() const { return rows == 0 || cols == 0; }
  bool contiguous() const { return ld == cols; }
  T* row(int64_t i) const { return data + i * ld; }
  /// Rows [begin, begin + count) as a view; no bounds beyond a debug assert.
  MatrixView block_rows(int64_t begin, int64_t count) const {
    GPULEARN_ASSERT(begin >= 0 && count >= 0 && begin + count <= rows);
    MatrixView v;
    v.data = data + begin * ld;
    v.rows = count;
    v.cols = cols;
    v.ld = ld;
    v.space = space;
    return v;
  }
};

template <typename T>
struct VectorView {
  T* data = nullptr;
  int64_t size = 0;
  int64_t stride = 1;  // elements between consecutive entries
  MemorySpace space = MemorySpace::kHost;

  VectorView() = default;
  VectorView(T* d, int64_t n, int64_t s = 1, MemorySpace sp = MemorySpace::kHost)
      : data(d), size(n), stride(s), space(sp) {
    GPULEARN_EXPECTS(size >= 0, "vector size must be non-negative, got ", size);
    GPULEARN_EXPECTS(stride >= 1, "vector stride must be positive, got ", stride);
    GPULEARN_EXPECTS(data != nullptr || size == 0, "vector data pointer is null for size ", size);
    if (size > 0) checked_mul(size - 1, stride);
  }

  template <typename U,
            typename = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  VectorView(const VectorView<U>& o)  // NOLINT(google-explicit-constructor)
      : data(o.data), size(o.size), stride(o.stride), space(o.space) {}

  bool empty() const { return size == 0; }
  /// The vector as an n x 1 matrix (a column), for primitives that take matrices.
  MatrixView<T> as_column() const { return MatrixView<T>(data, size, 1, stride, space); }
};

}  // namespace gpulearn
