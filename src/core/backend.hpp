// The backend interface: the small set of primitives an algorithm driver calls, implemented
// once for the CPU (src/**/*_cpu.cpp, Eigen + threads) and once for CUDA (cuda/**, cuBLAS,
// cuSOLVER, own kernels; loaded at run time as a plugin, see backend_loader.cpp).
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

#include "gpulearn/core/device.hpp"
#include "gpulearn/core/matrix.hpp"
#include "host_device.hpp"

// The families' types the primitives below exchange, declared only: core includes no family
// header. Code that calls or implements those primitives includes the family's header.
namespace gpulearn::detail {
struct RdistSpec;   // neighbors/rdist.hpp
namespace forest {  // ensemble/forest_rules.hpp
struct GrowSpec;
struct GrownTree;
struct TrainingSet;
template <typename T>
struct Layout;
}  // namespace forest
}  // namespace gpulearn::detail

namespace gpulearn::detail {

// Results of one k-means assignment pass.
struct KMeansStepStats {
  double inertia = 0;   // sum_i w_i |x_i - c_label(i)|^2
  int64_t changed = 0;  // labels that differ from the ones passed in
};

// The uniform number in [0, 1) that k-means|| draws for row i: the same on every backend.
GPULEARN_HOST_DEVICE inline double hash_uniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(i) + 1);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Declares one primitive for float and for double (virtual functions cannot be templates).
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
                              MatrixView<T> out) = 0;                                              \
                                                                                                   \
  /* ---- k-means (src/cluster/kmeans.cpp). X, w and every per-sample array live in the            \
     backend's native_space(); centers (k x d) and shift (d, may be null: no shift) are host.      \
     Distances use the expansion |x - s|^2 - 2 (x - s).c + |c|^2 with a GEMM, clamped at 0;        \
     the centers are in the shifted frame. */                                                      \
  /* Assigns every row to its nearest center (ties to the lowest index), labels updated in place   \
     (int32, n); when sq_dist is not null it receives each row's squared distance; when sums is    \
     not null, sums (k x d) and weights (k) receive the per-cluster sums of w_i (x_i - s) and      \
     w_i, in double, independent of scheduling. Returns the weighted inertia and how many labels   \
     changed. */                                                                                   \
  virtual KMeansStepStats kmeans_assign(                                                           \
      MatrixView<const T> X, VectorView<const T> w, const T* shift, const T* centers, int64_t k,   \
      int32_t* labels, T* sq_dist, double* sums, double* weights) = 0;                             \
  /* out (n x k, native) = squared distances of the rows of X - s to the k centers. */             \
  virtual void sq_distances(MatrixView<const T> X, const T* shift, const T* centers, int64_t k,    \
                            MatrixView<T> out) = 0;                                                \
  /* pot[c] = sum_i w_i min(cur_i, D_ic) for each column c of D (n x t), in double (host). */      \
  virtual void min_potentials(VectorView<const T> cur, MatrixView<const T> D,                      \
                              VectorView<const T> w, double* pot) = 0;                             \
  /* cur_i = min(cur_i, D_ic) for the column c of D. */                                            \
  virtual void min_update(VectorView<T> cur, MatrixView<const T> D, int64_t c) = 0;                \
  /* t draws with probability proportional to w_i p_i (p empty: p_i = 1; not both empty): idx[s]   \
     (host) is the                                                                                 \
     first i whose running sum of w_i p_i reaches u[s] * total (u in [0, 1), host), clipped to     \
     n - 1, as numpy.searchsorted over a cumulative sum. */                                        \
  virtual void weighted_draws(VectorView<const T> p, VectorView<const T> w, const double* u,       \
                              int64_t t, int64_t* idx) = 0;                                        \
  /* Every i with hash_uniform(seed, i) < scale w_i p_i, ascending (k-means||'s independent        \
     sampling; the hash makes both backends draw the same rows). */                                \
  virtual std::vector<int64_t> independent_draws(VectorView<const T> p, VectorView<const T> w,     \
                                                 double scale, uint64_t seed) = 0;                 \
  /* The m indices of the largest p_i, largest first, ties to the lowest index (host idx). */      \
  virtual void largest(VectorView<const T> p, int64_t m, int64_t* idx) = 0;                        \
                                                                                                   \
  /* ---- nearest neighbours (src/neighbors/nearest_neighbors.cpp). index (n x d) and queries      \
     (m x d) live in native_space(), any row stride; the metric is a reduced distance (smaller is  \
     closer, see neighbors/rdist.hpp). "Exact" below is exact_rdist: computed directly, in         \
     double. With exclude_self the queries are the index and query i never matches index row i.    \
     shift (host, d values, or null) is subtracted from every row in the T distances of            \
     kSqEuclidean (the driver passes the index's mean: |q - x|^2 is shift-invariant, and without   \
     it |q|^2 - 2 q.x + |x|^2 cancels away every digit for data far from the origin); the exact    \
     pass never needs it. */                                                                       \
  /* The k index rows with the smallest reduced distance to each query (1 <= k <= the rows a       \
     query may match): idx and dist (m x k, row-major, contiguous, native_space()). The k are      \
     selected on distances computed in T (a GEMM for the GEMM family), then their exact reduced    \
     distances are written to dist and each row is ordered by (dist, idx). */                      \
  virtual void knn(RdistSpec metric, const T* shift, MatrixView<const T> index,                    \
                   MatrixView<const T> queries, int64_t k, bool exclude_self, T* dist,             \
                   int64_t* idx) = 0;                                                              \
  /* Every index row whose exact reduced distance to query i is <= bound, in ascending index:      \
     into host vectors, offsets (m + 1; query i's matches are [offsets[i], offsets[i + 1])), idx   \
     and dist (the exact reduced distances). Candidates are screened on distances in T with a      \
     margin covering their rounding (rdist_screen_bound), so none is missed. */                    \
  virtual void radius_search(RdistSpec metric, const T* shift, MatrixView<const T> index,          \
                             MatrixView<const T> queries, double bound, bool exclude_self,         \
                             std::vector<int64_t>& offsets, std::vector<int64_t>& idx,             \
                             std::vector<T>& dist) = 0;                                            \
                                                                                                   \
  /* ---- decomposition (src/decomposition/). Products with Xc = (X - 1 mean^T) * scale (mean:     \
     host, d values, or null: no centring; scale a power of two chosen by the driver, exact),      \
     per row chunk in T, summed over chunks in double: out (host, d x l, row-major) =              \
     Xc^T (Xc Z) when Z (host, d x l, row-major) is not null, else Xc^T Y with Y (host, n x l,     \
     row-major). Returns ||Xc||_F^2, summed in double. X may be host or device memory (CUDA). */   \
  virtual double centered_products(MatrixView<const T> X, const T* mean, T scale, int64_t l,       \
                                   const T* Z, const T* Y, double* out) = 0;                       \
                                                                                                   \
  /* ---- logistic regression (src/linear_model/logistic.cpp). X (n x d), labels (n) and w (n, or  \
     empty: unit weights) live in native_space(); coef (host, m x (d + 1), row-major, double)      \
     holds per output t its d coefficients, then its intercept. With z_i = coef[:, :d] x_i +       \
     coef[:, d], formed in T: m == 1 is the binomial loss log(1 + e^z) - y z with y = labels_i in  \
     {0, 1}; m >= 2 the multinomial loss logsumexp(z) - z_{labels_i} with labels in [0, m).        \
     Returns sum_i w_i loss_i and, when grad (host, m x (d + 1), double) is not null, writes its   \
     gradient in coef there. Per-chunk products in T, sums over chunks in double, in an order      \
     that does not depend on the thread count or scheduling. */                                    \
  virtual double logistic_loss_grad(MatrixView<const T> X, const int32_t* labels,                  \
                                    VectorView<const T> w, int64_t m, const double* coef,          \
                                    double* grad) = 0;                                             \
                                                                                                   \
  /* ---- random forests (src/ensemble/random_forest.cpp; rules in ensemble/forest_rules.hpp). */  \
  /* Bins X (any space the backend accepts): codes (native_space(), n x d uint8, contiguous) gets  \
     for X_ij the number of feature j's edges below it, edges (host, ascending, compared in        \
     double) being edges[offsets[j] .. offsets[j + 1]), at most 255 per feature. bin_min and       \
     bin_max (host, d x 256, set by the caller to +inf / -inf) are lowered / raised to the         \
     smallest / largest X_ij of each feature's bins. */                                            \
  virtual void forest_bin(MatrixView<const T> X, const double* edges, const int64_t* offsets,      \
                          uint8_t* codes, T* bin_min, T* bin_max) = 0;                             \
  /* Traverses every tree of the forest for each row of X (any space the backend accepts): mean    \
     (host, n x width, or null) = the leaf values averaged over the trees, summed in double in     \
     tree order; leaves (host, n x n_trees, or null) = the tree-local leaf index reached. */       \
  virtual void forest_traverse(MatrixView<const T> X, const forest::Layout<T>& forest,             \
                               double* mean, int64_t* leaves) = 0;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  /// Blocks until queued work is done.
  virtual void synchronize() = 0;
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

  /// Grows n_trees trees on the binned training set by the rules of forest_rules.hpp, into
  /// trees (resized to n_trees). For tree t: counts (host, n_trees x n) holds each row's
  /// bootstrap multiplicity (0: not in the tree's sample), class_mult (host, n_trees x
  /// n_classes, or null: all 1) the per-class weight multipliers, keys[t] the root's key
  /// (forest::tree_key). A node at depth < max_depth (or any, unlimited) with statistics that
  /// pass leaf_before_search visits features in the order permuted_feature(node key, 0, 1, ...):
  /// the first max_features positions, then, while every feature visited so far is constant in
  /// the node (scan_feature's occupied < 2), the next ones until one is not. The best candidate
  /// by `better` over the visited positions splits the node when split_accepted; rows with
  /// code <= bin_lo go to the left child, whose key is child_key(key, false).
  virtual void grow_trees(const forest::TrainingSet& data, const forest::GrowSpec& spec,
                          int64_t n_trees, const int32_t* counts, const double* class_mult,
                          const uint64_t* keys, std::vector<forest::GrownTree>& trees) = 0;
};

#undef GPULEARN_BACKEND_PRIMITIVES

/// The CPU backend; n_threads <= 0 means all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

/// The CUDA backend for ordinal `device`, loading the plugin on first use. Throws Unsupported
/// with the reason when the backend is not built or cannot load, InvalidArgument when the
/// device does not exist.
std::unique_ptr<Backend> make_cuda_backend(int device);

// ---- The plugin's C entry points (cuda/core/plugin.cu defines them) ----
// Bumped whenever Backend's layout or these signatures change; the loader refuses a mismatch.
constexpr int kCudaPluginAbi =
    8;  // 8: forest_bin, grow_trees, forest_traverse; 7: logistic_loss_grad; 6: centered_products;
        // 5: knn/radius_search shift; 4: knn, radius_search; 3: k-means

}  // namespace gpulearn::detail

extern "C" {
/// The ABI version the plugin was compiled with (kCudaPluginAbi).
int gpulearn_cuda_plugin_abi();
/// Number of CUDA devices, or -1 with a reason written into err (NUL-terminated).
int gpulearn_cuda_device_count(char* err, int err_len);
/// A new backend for the device, or nullptr with a reason written into err.
gpulearn::detail::Backend* gpulearn_cuda_create_backend(int device, char* err, int err_len);
/// The CUDA toolkit version the plugin was built with, e.g. "13.0".
const char* gpulearn_cuda_toolkit_version();
}
