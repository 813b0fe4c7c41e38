// Weighted column means of X and Y and the weight total, accumulated in double (as the CPU
// backend does) so that float32 data keeps its digits at any n. Deterministic: each block owns
// one partial row (no atomics), and the partials are summed in a fixed order.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

namespace {

constexpr int kSumCols = 32;  // threads along the columns: one warp reads 32 adjacent entries
constexpr int kSumRows = 8;   // threads along the rows
constexpr int64_t kMaxSlabs = 1024;  // row slabs (gridDim.y), each with its own partial row
// Partials are slabs x columns doubles: keep them within this many bytes for very wide X.
constexpr int64_t kMaxPartialBytes = int64_t{64} << 20;

// partial[slab * cols + j] += sum over this slab's rows i of w_i * x_ij, in double.
template <typename T>
__global__ void weighted_col_sums_kernel(const T* x, int64_t ld, int64_t rows, int64_t cols,
                                         const T* w, int64_t w_ld, double* partial) {
  __shared__ double red[kSumRows][kSumCols];
  const int tx = threadIdx.x, ty = threadIdx.y;
  // Block-uniform loop: every thread reaches the barriers.
  for (int64_t c0 = blockIdx.x * int64_t{kSumCols}; c0 < cols;
       c0 += int64_t{gridDim.x} * kSumCols) {
    const int64_t j = c0 + tx;
    double acc = 0.0;
    if (j < cols) {
      for (int64_t i = blockIdx.y * int64_t{kSumRows} + ty; i < rows;
           i += int64_t{gridDim.y} * kSumRows) {
        const double wi = w == nullptr ? 1.0 : static_cast<double>(w[i * w_ld]);
        acc += wi * static_cast<double>(x[i * ld + j]);
      }
    }
    red[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && j < cols) {
      double s = 0.0;
      for (int q = 0; q < kSumRows; ++q) s += red[q][tx];
      partial[blockIdx.y * cols + j] += s;
    }
    __syncthreads();
  }
}

template <typename T>
void col_sums_async(DeviceRows<const T> x, int64_t rows, int64_t cols, DeviceRows<const T> w,
                    int64_t slabs, double* partial, cudaStream_t stream) {
  const int64_t gx = std::clamp<int64_t>(ceil_div(cols, kSumCols), 1, kMaxGridY);
  // Slabs past the rows would only add zeros: launching just the slabs that hold rows keeps
  // every row in the same slab (row i in slab i / kSumRows either way), so the sums are the
  // same to the bit, without the idle blocks (a chunk of a few rows launched 1024 slabs).
  const int64_t used = std::clamp<int64_t>(ceil_div(rows, kSumRows), 1, slabs);
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(used));
  GPULEARN_LAUNCH(grid, dim3(kSumCols, kSumRows), 0, stream, weighted_col_sums_kernel<T>)
  (x.data, x.ld, rows, cols, w.data, w.ld, partial);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
void weighted_means_impl(CudaBackend& be, MatrixView<const T> X, MatrixView<const T> Y,
                         VectorView<const T> w, T* x_mean, T* y_mean, double* w_sum) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  const MatrixView<const T> W = weight_column(w);
  const bool weighted = !W.empty();
  const bool any_host = X.space == MemorySpace::kHost || Y.space == MemorySpace::kHost ||
                        (weighted && W.space == MemorySpace::kHost);
  const int64_t width = checked_add(checked_add(d, k), 1);  // X, Y and w columns
  const int64_t chunk =
      any_host ? be.chunk_rows(n, checked_mul(width, int64_t{sizeof(T)})) : std::max<int64_t>(n, 1);
  const int64_t slabs = std::clamp<int64_t>(
      kMaxPartialBytes / checked_mul(width, int64_t{sizeof(double)}), 1, kMaxSlabs);

  struct Scratch {
    double *partial, *sums;
    FitInputs<T> in;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.partial = c.take<double>(checked_mul(slabs, width));  // [X | Y | w] slab-major blocks
    s.sums = c.take<double>(width);
    s.in = FitInputs<T>{X, Y, W};
    s.in.carve(c, chunk);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  cudaStream_t stream = be.stream();
  double* px = s.partial;
  double* py = px + slabs * d;
  double* pw = py + slabs * k;
  GPULEARN_CUDA_TRY(
      cudaMemsetAsync(s.partial, 0, checked_bytes(slabs * width, sizeof(double)), stream));
  const RowChunks<T> xr = s.in.x(stream), yr = s.in.y(stream), wr = s.in.w(stream);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    const DeviceRows<const T> wc = wr.load(begin, m);
    col_sums_async(xr.load(begin, m), m, d, wc, slabs, px, stream);
    col_sums_async(yr.load(begin, m), m, k, wc, slabs, py, stream);
    // The weight total: the weights as a one-column matrix, unweighted.
    if (weighted) col_sums_async(wc, m, 1, DeviceRows<const T>{}, slabs, pw, stream);
  }
  sum_partial_rows_async(px, slabs, d, s.sums, stream);
  sum_partial_rows_async(py, slabs, k, s.sums + d, stream);
  sum_partial_rows_async(pw, slabs, 1, s.sums + d + k, stream);
  std::vector<double> sums(width);
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(sums.data(), s.sums, checked_bytes(width, sizeof(double)),
                                    cudaMemcpyDeviceToHost, stream));
  be.sync_stream();

  // Unit weights sum to n exactly, as the CPU backend's running sum of ones does.
  const double total = weighted ? sums[d + k] : static_cast<double>(n);
  *w_sum = total;
  const double inv = total > 0 ? 1.0 / total : 0.0;
  for (int64_t j = 0; j < d; ++j) x_mean[j] = static_cast<T>(sums[j] * inv);
  for (int64_t j = 0; j < k; ++j) y_mean[j] = static_cast<T>(sums[d + j] * inv);
}

}  // namespace

#define GPULEARN_CUDA_MEANS(T)                                                                   \
  void CudaBackend::weighted_means(MatrixView<const T> X, MatrixView<const T> Y,                 \
                                   VectorView<const T> w, T* x_mean, T* y_mean, double* w_sum) { \
    DeviceGuard guard(device_);                                                                  \
    weighted_means_impl(*this, X, Y, w, x_mean, y_mean, w_sum);                                  \
  }
GPULEARN_CUDA_MEANS(float)
GPULEARN_CUDA_MEANS(double)
#undef GPULEARN_CUDA_MEANS

}  // namespace gpulearn::detail
