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

// The loss of row i from z_i + b, in double; z_i is overwritten with w_i times its derivative
// in z (probabilities minus the one-hot label), rounded to T and then weighted in T as the CPU
// backend does. slots[block] += the block's weighted losses. A label outside [0, m) in the
// multinomial case gives a NaN loss rather than a read outside the row.
template <typename T>
__global__ void loss_residual_kernel(T* z, int64_t rows, int64_t m, const T* b,
                                     const int32_t* labels, const T* w, int64_t w_ld,
                                     double* slots) {
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    T* zi = z + i * m;
    const int32_t label = labels[i];
    const T wt = w != nullptr ? w[i * w_ld] : T(1);
    double loss;
    if (m == 1) {
      // log(1 + e^v) - y v, written so that neither term overflows.
      const double v = zi[0] + b[0], y = label;
      loss = fmax(v, 0.0) + log1p(exp(-fabs(v))) - y * v;
      const double p = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
      T r = static_cast<T>(p - y);
      if (w != nullptr) r *= wt;
      zi[0] = r;
    } else {
      double top = 0.0;
      for (int64_t t = 0; t < m; ++t) {
        const T v = zi[t] + b[t];
        zi[t] = v;
        if (t == 0 || v > top) top = v;
      }
      double sum = 0.0;
      for (int64_t t = 0; t < m; ++t) sum += exp(static_cast<double>(zi[t]) - top);
      const double lse = top + log(sum);
      const bool valid = label >= 0 && label < m;
      loss = valid ? lse - static_cast<double>(zi[label]) : nan("");
      for (int64_t t = 0; t < m; ++t) {
        T r = static_cast<T>(exp(static_cast<double>(zi[t]) - lse) - (t == label ? 1.0 : 0.0));
        if (w != nullptr) r *= wt;
        zi[t] = r;
      }
    }
    acc += static_cast<double>(wt) * loss;
  }
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) slots[blockIdx.x] += acc;
}

// slots[t * kSumSlices + s] += the sum over row slice s of r[:, t] (rows x m, row-major), in
// double. blockIdx.y strides over the columns; gridDim.x <= kSumSlices.
template <typename T>
__global__ void column_sums_kernel(const T* r, int64_t rows, int64_t m, double* slots) {
  for (int64_t t = blockIdx.y; t < m; t += gridDim.y) {
    double acc = 0.0;
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
         i += int64_t{gridDim.x} * blockDim.x) {
      acc += static_cast<double>(r[i * m + t]);
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
    (s.z, rows, m, b_d, lab, wc.data, wc.ld, s.slots);
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
    GPULEARN_LAUNCH(sums_grid, kBlockThreads, 0, stream, column_sums_kernel<T>)
    (s.z, rows, m, s.slots + kLossBlocks + 1);
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
GPULEARN_INSTANTIATE_LOGISTIC(float)
GPULEARN_INSTANTIATE_LOGISTIC(double)
#undef GPULEARN_INSTANTIATE_LOGISTIC

GPULEARN_DEFINE_FAMILY_FACTORIES(CudaBackend, LinearModelPrimitives, CudaLinearModelPrimitives)

}  // namespace gpulearn::detail
