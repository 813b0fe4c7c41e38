// The CUDA backend's sparse primitives (sparse/primitives.hpp). Not written yet: every
// primitive refuses with Unsupported, which the Python layer reports as "sparse input is not
// supported on CUDA devices yet", so a sparse fit asked for on a GPU fails clearly instead of
// reaching a kernel. (Issue 21: cuSPARSE SpMM/SpMV and own kernels, with the emulator's
// cuSPARSE subset, replace this file.)
#include <cstdint>

#include "core/cuda_backend.cuh"
#include "sparse/primitives.hpp"

namespace gpulearn::detail {

namespace {

[[noreturn]] void refuse() {
  GPULEARN_FAIL(Unsupported, "sparse input is not supported on CUDA devices yet; use "
                             "device='cpu' for sparse data");
}

}  // namespace

template <typename T>
class CudaSparsePrimitives final : public SparsePrimitives<T> {
 public:
  explicit CudaSparsePrimitives(CudaBackend&) {}

  T max_abs(CsrView<T>) override { refuse(); }
  void column_sums(CsrView<T>, VectorView<const T>, double*) override { refuse(); }
  void row_norms_sq(CsrView<T>, T*) override { refuse(); }
  void gram(CsrView<T>, VectorView<const T>, double*) override { refuse(); }
  void multiply(CsrView<T>, const T*, int64_t, MatrixView<T>) override { refuse(); }
  void multiply_t(CsrView<T>, MatrixView<const T>, VectorView<const T>, double*) override {
    refuse();
  }
  void gather_rows(CsrView<T>, const int64_t*, int64_t, T*) override { refuse(); }
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, SparsePrimitives, CudaSparsePrimitives)

}  // namespace gpulearn::detail
