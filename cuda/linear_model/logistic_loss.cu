// The logistic loss and its gradient in one pass over X, one row chunk at a time: cuBLAS forms
// the chunk's linear predictions Z = X W^T in T, a kernel per row turns them into the loss
// (in double) and the weighted residuals (in T, overwriting Z, rounded as the CPU backend
// rounds them), cuBLAS forms R^T X in T with beta = 0 and a kernel adds it into a double
// accumulator, so that the rounding in T stays within one chunk (as on the CPU).
//
// Layout: row-major X (rows x d, stride ld) is, to cuBLAS, X^T (d x rows); row-major W (m x d)
// is W^T (d x m); row-major Z and R (rows x m) are Z^T and R^T (m x rows).
//   Z^T = W X^T   -> gemm(T, N) of W^T (d x m) and X^T (d x rows): column-major m x rows;
//   G^T = X^T R   -> gemm(N, T) of X^T (d x rows) and R^T (m x rows): column-major d x m, which
//                    read row-major is G = R^T X (m x d), the layout of the gradient.
//
// Determinism: chunks have a fixed size (CudaBackend::fixed_tile_rows, not the free memory, so
// that every evaluation of one fit rounds the same way); the loss and the intercept gradient
// (column sums of R) are summed in double by fixed grids, each block into its own slot (in
// stream order across chunks), the slots then in index order; the coefficient gradient is
// added to elementwise. No atomics: nothing depends on scheduling.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/blas_lapack.cuh"
#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "linear_model/primitives_cuda.cuh"

namespace gpulearn::detail {

namespace {

// Fixed partitions for the sums, whatever the chunk's size, so that each sum rounds the same
// way for every chunk shape: row i of a chunk is summed by thread i mod (blocks * 256) into
// slot (i / 256) mod blocks, with blocks = kLossBlocks (the loss) or kSumSlices (each column
// sum of R). A chunk of fewer rows launches only the blocks that have rows
// (grid_for(rows, blocks)): those would have added exact zeros, so the sums are the same to the
// bit, without the idle blocks (for a 4000-row fit, 16 blocks instead of 256 per evaluation).
constexpr int kLossBlocks = 256;
constexpr int kSumSlices = 128;  // row slices per column sum of R

// The loss of one row from its linear predictions z (m values, the intercept b not yet added),
// in double; z is overwritten with the loss's derivative in z (probabilities minus the one-hot
// label), unweighted. b is added in T and the residual rounded to T, as the CPU backend's
// row_loss_residual does: the one per-row code of the dense pass and the sparse data's
// residual pass. A label outside [0, m) in the multinomial case gives a NaN loss rather than a
// read outside the row.
template <typename T>
__device__ double row_loss_residual(T* z, int64_t m, const T* b, int32_t label) {
  if (m == 1) {
    // log(1 + e^v) - y v, written so that neither term overflows.
    const T vt = z[0] + b[0];
    const double v = vt, y = label;
    const double p = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
    z[0] = static_cast<T>(p - y);
    return fmax(v, 0.0) + log1p(exp(-fabs(v))) - y * v;
  }
  double top = 0.0;
  for (int64_t t = 0; t < m; ++t) {
    const T v = z[t] + b[t];
    z[t] = v;
    if (t == 0 || v > top) top = v;
  }
  double sum = 0.0;
  for (int64_t t = 0; t < m; ++t) sum += exp(static_cast<double>(z[t]) - top);
  const double lse = top + log(sum);
  const bool valid = label >= 0 && label < m;
  const double loss = valid ? lse - static_cast<double>(z[label]) : nan("");
  for (int64_t t = 0; t < m; ++t) {
    z[t] = static_cast<T>(exp(static_cast<double>(z[t]) - lse) - (t == label ? 1.0 : 0.0));
  }
  return loss;
}

// Row i of z (rows x m, row stride ldz) from z_i + b through row_loss_residual; with
// `weighted`, z_i is then multiplied by w_i in T (the dense pass's R = W (P - Y), as the CPU
// backend weights it), else left unweighted (the sparse data's residual). slots[block] += the
// block's weighted losses.
template <typename T>
__global__ void loss_residual_kernel(T* z, int64_t rows, int64_t m, int64_t ldz, const T* b,
                                     const int32_t* labels, const T* w, int64_t w_ld, bool weighted,
                                     double* slots) {
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    T* zi = z + i * ldz;
    const T wt = w != nullptr ? w[i * w_ld] : T(1);
    const double loss = row_loss_residual(zi, m, b, labels[i]);
    if (weighted && w != nullptr) {
      for (int64_t t = 0; t < m; ++t) zi[t] *= wt;
    }
    acc += static_cast<double>(wt) * loss;
  }
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) slots[blockIdx.x] += acc;
}

// slots[t * kSumSlices + s] += the sum over row slice s of w_i r[i, t] (rows x m, row stride
// ldr; w null: unit weights), in double. blockIdx.y strides over the columns;
// gridDim.x <= kSumSlices.
template <typename T>
__global__ void column_sums_kernel(const T* r, int64_t rows, int64_t m, int64_t ldr, const T* w,
                                   int64_t w_ld, double* slots) {
  for (int64_t t = blockIdx.y; t < m; t += gridDim.y) {
    double acc = 0.0;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
         i += int64_t{gridDim.x} * blockDim.x) {
      const double v = static_cast<double>(r[i * ldr + t]);
      acc += w == nullptr ? v : static_cast<double>(w[i * w_ld]) * v;
    }
    acc = block_reduce(acc, SumOp{}, 0.0);
    if (threadIdx.x == 0) slots[t * kSumSlices + blockIdx.x] += acc;
  }
}

// acc (m x (d + 1), row-major) += g (m x d, row-major) in its first d columns.
template <typename T>
__global__ void accumulate_kernel(double* acc, const T* g, int64_t m, int64_t d) {
  const int64_t count = m * d;
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k < count;
       k += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = k / d, j = k - t * d;
    acc[t * (d + 1) + j] += static_cast<double>(g[k]);
  }
}

// acc[t * (d + 1) + d] = the sum of column t's slots, in index order, one thread per t.
__global__ void intercept_kernel(double* acc, const double* slots, int64_t m, int64_t d,
                                 int64_t n_slices) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < m;
       t += int64_t{gridDim.x} * blockDim.x) {
    double s = 0.0;
    for (int64_t k = 0; k < n_slices; ++k) s += slots[t * n_slices + k];
    acc[t * (d + 1) + d] = s;
  }
}

// *out = the sum of the slots, by one block (a fixed order).
__global__ void sum_slots_kernel(const double* slots, int64_t count, double* out) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += slots[i];
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) *out = acc;
}

template <typename T>
double logistic_impl(CudaBackend& be, MatrixView<const T> X, const int32_t* labels,
                     VectorView<const T> w, int64_t m, const double* coef, double* grad) {
  const int64_t n = X.rows, d = X.cols, p = checked_add(d, 1);
  GPULEARN_EXPECTS(m >= 1, "logistic_loss_grad: m must be >= 1, got ", m);
  GPULEARN_EXPECTS(n == 0 || labels != nullptr, "logistic_loss_grad: labels are null");
  GPULEARN_EXPECTS(n == 0 || coef != nullptr, "logistic_loss_grad: coef is null");
  GPULEARN_EXPECTS(w.empty() || w.size == n, "logistic_loss_grad: ", w.size, " sample weights for ",
                   n, " rows");
  GPULEARN_EXPECTS(w.empty() || w.space == X.space,
                   "logistic_loss_grad: X and the sample weights must be in the same memory");
  const int64_t md = checked_mul(m, d), mp = checked_mul(m, p);
  if (n == 0) {
    if (grad != nullptr) std::fill(grad, grad + mp, 0.0);
    return 0.0;
  }
  cudaStream_t stream = be.stream();
  const bool on_host = X.space == MemorySpace::kHost;
  if (!on_host) check_device_pointer(labels, "the labels");
  const bool with_grad = grad != nullptr;
  const int64_t n_column_slots = with_grad ? checked_mul(m, int64_t{kSumSlices}) : 0;

  // Coefficients rounded to T once (as the CPU backend rounds them): W (m x d), then b (m).
  const int64_t n_params = checked_add(md, m);
  std::vector<T> params_h(static_cast<size_t>(n_params));
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < d; ++j) params_h[t * d + j] = static_cast<T>(coef[t * p + j]);
    params_h[md + t] = static_cast<T>(coef[t * p + d]);
  }
  const int64_t n_slots = checked_add(int64_t{kLossBlocks + 1}, n_column_slots);

  // Per row: Z (m values in T) and the staging copies of host data (X, w, labels).
  const MatrixView<const T> Wv = weight_column(w);
  int64_t per_row = checked_mul(m, int64_t{sizeof(T)});
  per_row = checked_add(per_row, staging_bytes_per_row<T>({X, Wv}));
  if (on_host) per_row = checked_add(per_row, int64_t{sizeof(int32_t)});
  const int64_t chunk = be.fixed_tile_rows(n, per_row, 1);

  // Everything comes from the chunk workspace, kept between calls: a solver evaluates the loss
  // hundreds of times, and each cudaMalloc/cudaFree pair would stall the device.
  struct Scratch {
    T *params, *g, *z;
    double *acc, *slots;  // slots: the loss's, the loss total, then the column sums'
    int32_t* labels;
    FitInputs<T> in;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.params = c.take<T>(n_params);
    s.g = c.take<T>(with_grad ? md : 0);
    s.acc = c.take<double>(with_grad ? mp : 0);
    s.slots = c.take<double>(n_slots);
    s.z = c.take<T>(checked_mul(chunk, m));
    s.labels = c.take<int32_t>(on_host ? chunk : 0);
    s.in = FitInputs<T>{X, MatrixView<const T>(), Wv};
    s.in.carve(c, chunk);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  const T* coef_d = s.params;
  const T* b_d = s.params + md;

  GPULEARN_CUDA_TRY(cudaMemcpyAsync(s.params, params_h.data(), checked_bytes(n_params, sizeof(T)),
                                    cudaMemcpyHostToDevice, stream));
  GPULEARN_CUDA_TRY(cudaMemsetAsync(s.slots, 0, checked_bytes(n_slots, sizeof(double)), stream));
  if (with_grad) {
    GPULEARN_CUDA_TRY(cudaMemsetAsync(s.acc, 0, checked_bytes(mp, sizeof(double)), stream));
  }

  const RowChunks<T> xr = s.in.x(stream), wr = s.in.w(stream);
  const T one = 1, zero = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    const DeviceRows<const T> x = xr.load(begin, rows);
    const DeviceRows<const T> wc = wr.load(begin, rows);
    const int32_t* lab = labels + begin;
    if (on_host) {
      GPULEARN_CUDA_TRY(cudaMemcpyAsync(s.labels, lab, checked_bytes(rows, sizeof(int32_t)),
                                        cudaMemcpyHostToDevice, stream));
      lab = s.labels;
    }
    if (d > 0) {
      GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, m, rows, d, &one,
                                        coef_d, d, x.data, x.ld, &zero, s.z, m));
    } else {
      // cuBLAS rejects leading dimensions of 0; with no features z is the intercept alone.
      GPULEARN_CUDA_TRY(
          cudaMemsetAsync(s.z, 0, checked_bytes(checked_mul(rows, m), sizeof(T)), stream));
    }
    GPULEARN_LAUNCH(grid_for(rows, kLossBlocks), kBlockThreads, 0, stream, loss_residual_kernel<T>)
    (s.z, rows, m, m, b_d, lab, wc.data, wc.ld, true, s.slots);
    GPULEARN_CUDA_CHECK_LAUNCH();
    if (!with_grad) continue;
    if (d > 0) {
      GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, d, m, rows, &one,
                                        x.data, x.ld, s.z, m, &zero, s.g, d));
      GPULEARN_LAUNCH(grid_for(md), kBlockThreads, 0, stream, accumulate_kernel<T>)
      (s.acc, s.g, m, d);
      GPULEARN_CUDA_CHECK_LAUNCH();
    }
    const dim3 sums_grid(grid_for(rows, kSumSlices), static_cast<unsigned>(std::min(m, kMaxGridY)),
                         1);
    // R is weighted already: its plain column sums.
    GPULEARN_LAUNCH(sums_grid, kBlockThreads, 0, stream, column_sums_kernel<T>)
    (s.z, rows, m, m, static_cast<const T*>(nullptr), 0, s.slots + kLossBlocks + 1);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  GPULEARN_LAUNCH(1, kBlockThreads, 0, stream, sum_slots_kernel)
  (s.slots, kLossBlocks, s.slots + kLossBlocks);
  GPULEARN_CUDA_CHECK_LAUNCH();
  double loss = 0.0;
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(&loss, s.slots + kLossBlocks, sizeof(double),
                                    cudaMemcpyDeviceToHost, stream));
  if (with_grad) {
    GPULEARN_LAUNCH(grid_for(m), kBlockThreads, 0, stream, intercept_kernel)
    (s.acc, s.slots + kLossBlocks + 1, m, d, kSumSlices);
    GPULEARN_CUDA_CHECK_LAUNCH();
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(grad, s.acc, checked_bytes(mp, sizeof(double)),
                                      cudaMemcpyDeviceToHost, stream));
  }
  be.sync_stream();
  return loss;
}

// The sparse data's per-row step (LinearModelPrimitives::logistic_loss_residual): Z (n x m,
// device, row stride Z.ld) already holds X W^T, made by the sparse product. One pass of the
// dense pass's loss kernel over all n rows (Z is there whole: no chunks), unweighted residuals
// left in Z, then the weighted column sums of R by the same fixed slices as the intercept
// gradient. Same determinism as the dense pass: fixed grids, slots summed in index order.
template <typename T>
double loss_residual_impl(CudaBackend& be, MatrixView<T> Z, const int32_t* labels,
                          VectorView<const T> w, const double* intercept, double* r_sum) {
  const int64_t n = Z.rows, m = Z.cols;
  GPULEARN_EXPECTS(m >= 1, "logistic_loss_residual: Z must have >= 1 column, got ", m);
  GPULEARN_EXPECTS(Z.ld >= m, "logistic_loss_residual: Z's row stride ", Z.ld, " is below its ", m,
                   " columns");
  GPULEARN_EXPECTS(w.empty() || w.size == n, "logistic_loss_residual: w has ", w.size,
                   " entries for ", n, " rows");
  GPULEARN_EXPECTS(intercept != nullptr, "logistic_loss_residual: intercept is null");
  if (r_sum != nullptr) std::fill(r_sum, r_sum + m, 0.0);
  if (n == 0) return 0.0;
  GPULEARN_EXPECTS(
      Z.space == MemorySpace::kDevice && (w.empty() || w.space == MemorySpace::kDevice),
      "logistic_loss_residual: the CUDA backend takes Z and the sample weights in "
      "device memory (its native space)");
  check_device_pointer(Z.data, "the linear predictions");
  check_device_pointer(labels, "the labels");
  if (!w.empty()) check_device_pointer(w.data, "the sample weights");
  cudaStream_t stream = be.stream();
  const bool with_sums = r_sum != nullptr;
  const int64_t n_slots =
      checked_add(int64_t{kLossBlocks + 1}, with_sums ? checked_mul(m, int64_t{kSumSlices}) : 0);

  std::vector<T> b_h(static_cast<size_t>(m));
  for (int64_t t = 0; t < m; ++t) b_h[t] = static_cast<T>(intercept[t]);
  struct Scratch {
    T* b;
    double *slots, *sums;  // slots: the loss's, the loss total, then the column sums'
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.b = c.take<T>(m);
    s.slots = c.take<double>(n_slots);
    s.sums = c.take<double>(with_sums ? m : 0);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);
  upload_async(s.b, b_h.data(), m, stream);
  GPULEARN_CUDA_TRY(cudaMemsetAsync(s.slots, 0, checked_bytes(n_slots, sizeof(double)), stream));
  const T* wd = w.empty() ? nullptr : w.data;
  GPULEARN_LAUNCH(grid_for(n, kLossBlocks), kBlockThreads, 0, stream, loss_residual_kernel<T>)
  (Z.data, n, m, Z.ld, static_cast<const T*>(s.b), labels, wd, w.stride, false, s.slots);
  GPULEARN_CUDA_CHECK_LAUNCH();
  GPULEARN_LAUNCH(1, kBlockThreads, 0, stream, sum_slots_kernel)
  (s.slots, kLossBlocks, s.slots + kLossBlocks);
  GPULEARN_CUDA_CHECK_LAUNCH();
  double loss = 0.0;
  download_async(&loss, static_cast<const double*>(s.slots + kLossBlocks), 1, stream);
  if (with_sums) {
    const dim3 sums_grid(grid_for(n, kSumSlices), static_cast<unsigned>(std::min(m, kMaxGridY)), 1);
    GPULEARN_LAUNCH(sums_grid, kBlockThreads, 0, stream, column_sums_kernel<T>)
    (static_cast<const T*>(Z.data), n, m, Z.ld, wd, w.stride, s.slots + kLossBlocks + 1);
    GPULEARN_CUDA_CHECK_LAUNCH();
    // intercept_kernel with d = 0 writes the m column totals contiguously.
    GPULEARN_LAUNCH(grid_for(m), kBlockThreads, 0, stream, intercept_kernel)
    (s.sums, s.slots + kLossBlocks + 1, m, 0, kSumSlices);
    GPULEARN_CUDA_CHECK_LAUNCH();
    download_async(r_sum, static_cast<const double*>(s.sums), m, stream);
  }
  be.sync_stream();
  return loss;
}

}  // namespace

template <typename T>
double logistic_loss_grad_cuda(CudaBackend& be, MatrixView<const T> X, const int32_t* labels,
                               VectorView<const T> w, int64_t m, const double* coef, double* grad) {
  DeviceGuard guard(be.ordinal());
  return logistic_impl(be, X, labels, w, m, coef, grad);
}
#define GPULEARN_INSTANTIATE_LOGISTIC(T)                                                   \
  template double logistic_loss_grad_cuda<T>(CudaBackend & be, MatrixView<const T> X,      \
                                             const int32_t* labels, VectorView<const T> w, \
                                             int64_t m, const double* coef, double* grad);
template <typename T>
double logistic_loss_residual_cuda(CudaBackend& be, MatrixView<T> Z, const int32_t* labels,
                                   VectorView<const T> w, const double* intercept, double* r_sum) {
  DeviceGuard guard(be.ordinal());
  return loss_residual_impl(be, Z, labels, w, intercept, r_sum);
}
#define GPULEARN_INSTANTIATE_LOGISTIC_RESIDUAL(T)                                              \
  template double logistic_loss_residual_cuda<T>(CudaBackend & be, MatrixView<T> Z,            \
                                                 const int32_t* labels, VectorView<const T> w, \
                                                 const double* intercept, double* r_sum);
GPULEARN_INSTANTIATE_LOGISTIC_RESIDUAL(float)
GPULEARN_INSTANTIATE_LOGISTIC_RESIDUAL(double)
#undef GPULEARN_INSTANTIATE_LOGISTIC_RESIDUAL
GPULEARN_INSTANTIATE_LOGISTIC(float)
GPULEARN_INSTANTIATE_LOGISTIC(double)
#undef GPULEARN_INSTANTIATE_LOGISTIC

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, LinearModelPrimitives, CudaLinearModelPrimitives)

}  // namespace gpulearn::detail
