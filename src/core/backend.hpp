// The backend interface: the small set of primitives an algorithm driver calls, implemented
// once for the CPU (src/**/*_cpu.cpp, Eigen + threads) and once for CUDA (cuda/**, cuBLAS,
// cuSOLVER, own kernels; loaded at run time as a plugin, see backend_loader.cpp). Declared here:
// memory, and the shared primitives several families call (checks, the passes over X of the
// linear models and decompositions, small dense algebra). Each estimator family declares its
// own primitives in src/<family>/primitives.hpp; the backend owns one object of them per element
// type, reached with primitives<P<T>>() and registered in families.hpp.
//
// Conventions shared by every primitive:
// - Large inputs (X, Y, sample weights) are views that may live in host memory or, for the CUDA
//   backend, in device memory; a CUDA backend streams host inputs in row chunks, so inputs larger
//   than device memory work. The CPU backend accepts host memory only (the driver checks).
// - Small results whose size does not grow with n_samples (d x d Gram, d x k right-hand side,
//   means, factors) are exchanged through host buffers, row-major, owned by the caller.
// - An empty sample-weight view means unit weights. Weights are non-negative (checked upstream).
// - Primitives never validate user input: the driver has done it before calling them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "families.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/matrix.hpp"

namespace gpulearn::detail {

// The shared primitives, declared for float and for double (virtual functions cannot be
// templates); each family's own primitives are in src/<family>/primitives.hpp.
#define GPULEARN_BACKEND_PRIMITIVES(T)                                                             \
  /* The largest |X_ij| (0 for an empty X), or +infinity when any entry is NaN or +-inf: one       \
     pass gives both the finiteness check and the scale of the data. */                            \
  virtual T max_abs(MatrixView<const T> X) = 0;                                                    \
  /* The smallest entry of a non-empty, all-finite X. */                                           \
  virtual T min_value(MatrixView<const T> X) = 0;                                                  \
                                                                                                   \
  /* Weighted column means: x_mean[j] = sum_i w_i X_ij / sum_i w_i (d values), y_mean likewise     \
     over Y's k columns; *w_sum = sum_i w_i accumulated in double. */                              \
  virtual void weighted_means(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w, \
                              T* x_mean, T* y_mean, double* w_sum) = 0;                            \
                                                                                                   \
  /* Centred, scaled, weighted normal equations: with Xc = (X - 1 x_mean^T) * x_scale,             \
     Yc = (Y - 1 y_mean^T) * y_scale and W = diag(w): gram = Xc^T W Xc (d x d, both triangles      \
     written), xty = Xc^T W Yc (d x k). The scales are powers of two chosen by the driver so       \
     that products neither overflow nor underflow; multiplying by them is exact. The centred       \
     copy is made per row chunk, never for the whole X. */                                         \
  virtual void centered_gram(MatrixView<const T> X, MatrixView<const T> Y, VectorView<const T> w,  \
                             const T* x_mean, const T* y_mean, T x_scale, T y_scale, T* gram,      \
                             T* xty) = 0;                                                          \
                                                                                                   \
  /* The R factor of a QR decomposition of A = W^1/2 Xc, and Q^T W^1/2 Yc (Xc, Yc centred and      \
     scaled as for centered_gram): a rank-revealing reduction of the least-squares problem to      \
     r = min(n, d) rows. r_factor is r x d upper trapezoidal (zeros below the diagonal             \
     written), qty is r x k. Returns r. Signs of rows are not normalised (any valid R). */         \
  virtual int64_t centered_r_factor(MatrixView<const T> X, MatrixView<const T> Y,                  \
                                    VectorView<const T> w, const T* x_mean, const T* y_mean,       \
                                    T x_scale, T y_scale, T* r_factor, T* qty) = 0;                \
                                                                                                   \
  /* Symmetric eigendecomposition of the n x n matrix a (row-major, symmetric): eigenvalues        \
     ascending into w and, when vectors is true, a overwritten by the eigenvectors as columns      \
     (a[i*n + j] is entry i of eigenvector j); when false, a is left unchanged. */                 \
  virtual void symmetric_eigh(int64_t n, T* a, T* w, bool vectors) = 0;                            \
                                                                                                   \
  /* Solves a x = b for symmetric positive definite a (n x n) by Cholesky, b (n x k) replaced      \
     by x, and the lower triangle of a (row-major) replaced by the factor L, a = L L^T (the        \
     entries above the diagonal are unspecified). Returns false, with a and b unspecified,         \
     when a is not numerically positive definite. */                                               \
  virtual bool cholesky_solve(int64_t n, T* a, int64_t k, T* b) = 0;                               \
                                                                                                   \
  /* Thin SVD of the m x n matrix a: a = u diag(s) vt with p = min(m, n), u m x p, s               \
     descending (p), vt p x n. a is left unchanged. */                                             \
  virtual void svd(int64_t m, int64_t n, const T* a, T* u, T* s, T* vt) = 0;                       \
                                                                                                   \
  /* out = X coef^T + 1 intercept^T: X n x d, coef k x d (host), intercept k (host), out n x k     \
     in X's memory space. */                                                                       \
  virtual void affine_predict(MatrixView<const T> X, const T* coef, const T* intercept,            \
                              MatrixView<T> out) = 0;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  /// Blocks until queued work is done.
  virtual void synchronize() = 0;
  /// Gives back scratch kept from earlier calls beyond a small bound. Call it between calls,
  /// never while a primitive's scratch is in use.
  virtual void trim_scratch() = 0;
  /// Whether views in this memory space can be read by this backend's primitives.
  virtual bool accepts(MemorySpace space) const = 0;
  /// Where this backend computes: host for the CPU, device for CUDA. Primitives that keep
  /// per-sample state between calls (k-means) take their arrays there.
  virtual MemorySpace native_space() const = 0;
  /// bytes of scratch in native_space(), freed when the last owner lets go; OutOfMemory when
  /// there is not enough.
  virtual std::shared_ptr<void> allocate(int64_t bytes) = 0;
  /// Copies bytes between any two memory spaces (synchronous).
  virtual void copy(void* dst, MemorySpace dst_space, const void* src, MemorySpace src_space,
                    int64_t bytes) = 0;

  GPULEARN_BACKEND_PRIMITIVES(float)
  GPULEARN_BACKEND_PRIMITIVES(double)

  /// The primitives of one estimator family, e.g. primitives<ClusterPrimitives<T>>(): an
  /// object the backend owns, alive as long as the backend.
  template <typename P>
  P& primitives() {
    return family(static_cast<P*>(nullptr));
  }

 protected:
  // One overload per family and element type (the argument only selects it), overridden by
  // GPULEARN_BACKEND_FAMILY_SLOTS.
#define GPULEARN_FAMILY_SLOT(P)            \
  virtual P<float>& family(P<float>*) = 0; \
  virtual P<double>& family(P<double>*) = 0;
  GPULEARN_FAMILIES(GPULEARN_FAMILY_SLOT)
#undef GPULEARN_FAMILY_SLOT
};

#undef GPULEARN_BACKEND_PRIMITIVES

/// The CPU backend; n_threads <= 0 means all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

/// The CUDA backend for ordinal `device`, loading the plugin on first use. Throws Unsupported
/// with the reason when the backend is not built or cannot load, InvalidArgument when the
/// device does not exist.
std::unique_ptr<Backend> make_cuda_backend(int device);

// In a backend class B: for each family, the objects that make_primitives(B&, P<T>*) creates
// (defined in the family's code for that backend) and the overrides that return them.
#define GPULEARN_BACKEND_FAMILY_SLOT(P)                                                           \
 protected:                                                                                       \
  P<float>& family(P<float>*) override { return *P##_float_; }                                    \
  P<double>& family(P<double>*) override { return *P##_double_; }                                 \
                                                                                                  \
 private:                                                                                         \
  std::shared_ptr<P<float>> P##_float_ = make_primitives(*this, static_cast<P<float>*>(nullptr)); \
  std::shared_ptr<P<double>> P##_double_ = make_primitives(*this, static_cast<P<double>*>(nullptr));
#define GPULEARN_BACKEND_FAMILY_SLOTS GPULEARN_FAMILIES(GPULEARN_BACKEND_FAMILY_SLOT)

// Declares, for backend class B, the factory each family defines for it.
#define GPULEARN_DECLARE_FAMILY_FACTORIES(B, P)                         \
  std::shared_ptr<P<float>> make_primitives(B& backend, P<float>* tag); \
  std::shared_ptr<P<double>> make_primitives(B& backend, P<double>* tag);

// Defines those factories in the family's code for backend B: Impl<T>(backend), for float and
// for double.
#define GPULEARN_DEFINE_FAMILY_FACTORIES(B, P, Impl)                   \
  std::shared_ptr<P<float>> make_primitives(B& backend, P<float>*) {   \
    return std::make_shared<Impl<float>>(backend);                     \
  }                                                                    \
  std::shared_ptr<P<double>> make_primitives(B& backend, P<double>*) { \
    return std::make_shared<Impl<double>>(backend);                    \
  }

// ---- The plugin's C entry points (cuda/core/plugin.cu defines them) ----
}  // namespace gpulearn::detail

extern "C" {
/// The ABI the plugin was compiled with (kCudaPluginAbi, gpulearn_plugin_abi.hpp).
int gpulearn_cuda_plugin_abi();
/// Number of CUDA devices, or -1 with a reason written into err (NUL-terminated).
int gpulearn_cuda_device_count(char* err, int err_len);
/// A new backend for the device, or nullptr with a reason written into err.
gpulearn::detail::Backend* gpulearn_cuda_create_backend(int device, char* err, int err_len);
/// The CUDA toolkit version the plugin was built with, e.g. "13.0".
const char* gpulearn_cuda_toolkit_version();
}
