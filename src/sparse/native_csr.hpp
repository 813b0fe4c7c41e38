// A CSR matrix in a backend's native memory (host for the CPU, device for CUDA), which the
// sparse primitives take their X in: the data classes of every family make their X native once,
// not per pass.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/native.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::detail {

/// The caller's view when it is in native memory already, else one copy of its stored entries
/// with the offsets rebased to 0 (a block of rows copies only its own entries). A view in memory
/// the backend cannot read (device memory on the CPU) is refused with InvalidArgument. A host
/// view's structure is checked here (check_csr_structure), so that every entry point that reads
/// a CSR matrix through this class refuses bad offsets or indices before any pass reads them.
template <typename T>
struct NativeCsr {
  CsrView<T> view;
  Scratch<T> values;
  Scratch<int32_t> indices;
  Scratch<int64_t> indptr;

  NativeCsr() = default;
  NativeCsr(Backend& be, CsrView<T> X) : view(X) {
    if (X.space == MemorySpace::kHost) check_csr_structure(X);
    const MemorySpace native = be.native_space();
    if (X.space == native) return;
    GPULEARN_EXPECTS(X.space == MemorySpace::kHost, "a sparse matrix in ", to_string(X.space),
                     " memory cannot be read by the ", be.device().to_string(), " backend");
    const int64_t n = X.rows, base = n > 0 ? X.indptr[0] : 0;
    const int64_t nnz = n > 0 ? X.indptr[n] - base : 0;
    std::vector<int64_t> ptr(n + 1, 0);
    for (int64_t i = 0; i <= n && n > 0; ++i) ptr[i] = X.indptr[i] - base;
    values = Scratch<T>(be, std::max<int64_t>(nnz, 1));
    indices = Scratch<int32_t>(be, std::max<int64_t>(nnz, 1));
    indptr = Scratch<int64_t>(be, n + 1);
    if (nnz > 0) {
      be.copy(values.data, native, X.values + base, MemorySpace::kHost, nnz * int64_t(sizeof(T)));
      be.copy(indices.data, native, X.indices + base, MemorySpace::kHost,
              nnz * int64_t(sizeof(int32_t)));
    }
    be.copy(indptr.data, native, ptr.data(), MemorySpace::kHost,
            (n + 1) * int64_t(sizeof(int64_t)));
    view = CsrView<T>(values.data, indices.data, indptr.data, n, X.cols, native);
  }
};

/// The caller's view when it is in host memory, else one host copy of its stored entries (offsets
/// rebased to 0): for the host steps of a computation whose X may be in device memory.
template <typename T>
struct HostCsr {
  CsrView<T> view;
  std::vector<T> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr;

  HostCsr(Backend& be, CsrView<T> X) : view(X) {
    if (X.space == MemorySpace::kHost) return;
    const int64_t n = X.rows;
    indptr.resize(n + 1);
    be.copy(indptr.data(), MemorySpace::kHost, X.indptr, X.space,
            (n + 1) * int64_t(sizeof(int64_t)));
    const int64_t base = indptr[0], nnz = indptr[n] - base;
    GPULEARN_EXPECTS(base >= 0 && nnz >= 0, "sparse matrix offsets run from ", base, " to ",
                     indptr[n]);
    for (int64_t& p : indptr) p -= base;
    values.resize(nnz);
    indices.resize(nnz);
    if (nnz > 0) {
      be.copy(values.data(), MemorySpace::kHost, X.values + base, X.space,
              nnz * int64_t(sizeof(T)));
      be.copy(indices.data(), MemorySpace::kHost, X.indices + base, X.space,
              nnz * int64_t(sizeof(int32_t)));
    }
    view = CsrView<T>(values.data(), indices.data(), indptr.data(), n, X.cols,
                      MemorySpace::kHost);
    check_csr_structure(view);
  }
};

}  // namespace gpulearn::detail
