// The centred, scaled, weighted normal equations, one row chunk at a time: a kernel writes the
// chunk's Xc = sqrt(w) (X - x_mean) x_scale and Yc likewise (row-major), SYRK adds Xc^T Xc into
// G and GEMM adds Xc^T Yc into B, both resident on the device until the end.
//
// Layout: a row-major m x c block with row stride ld is, to cuBLAS, the column-major c x m
// matrix (its transpose) with leading dimension ld. So Xc is seen as Xc^T (d x m) and
//   G = Xc^T Xc = (Xc^T)(Xc^T)^T  -> syrk(N) on Xc^T, column-major d x d (lower triangle);
//   B^T = Yc^T Xc                 -> gemm(N, T) of Yc^T (k x m) and Xc^T (d x m): column-major
//                                    k x d, which read row-major is B (d x k), as wanted.
#include <algorithm>
#include <cstdint>

#include "core/blas_lapack.cuh"
#include "core/centred_chunk.cuh"
#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

namespace {

// SYRK filled the lower triangle of the column-major d x d G; mirror it into the upper one so
// that G reads the same row-major and column-major.
template <typename T>
__global__ void mirror_lower_kernel(T* g, int64_t d) {
  for (int64_t j = blockIdx.y; j < d; j += gridDim.y) {  // column
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < j;
         i += int64_t{gridDim.x} * blockDim.x) {
      g[j * d + i] = g[i * d + j];  // (i, j) above the diagonal <- (j, i) below it
    }
  }
}

template <typename T>
void centered_gram_impl(CudaBackend& be, MatrixView<const T> X, MatrixView<const T> Y,
                        VectorView<const T> w, const T* x_mean, const T* y_mean, T x_scale,
                        T y_scale, T* gram, T* xty) {
  const int64_t n = X.rows, d = X.cols, k = Y.cols;
  cudaStream_t stream = be.stream();
  const MatrixView<const T> W = weight_column(w);
  // The results first, so that the chunk size sees the memory they take.
  DeviceBuffer<T> G(checked_mul(d, d)), B(checked_mul(d, k)), means(checked_add(d, k));

  // Per row: the staging copies of host data (X, Y, w) and the centred copies (Xc, Yc).
  int64_t per_row = checked_mul(checked_add(d, k), int64_t{sizeof(T)});
  per_row = checked_add(per_row, staging_bytes_per_row<T>({X, Y, W}));
  const int64_t chunk = be.chunk_rows(n, per_row);

  struct Scratch {
    T *xc, *yc;
    FitInputs<T> in;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.xc = c.take<T>(checked_mul(chunk, d));
    s.yc = c.take<T>(checked_mul(chunk, k));
    s.in = FitInputs<T>{X, Y, W};
    s.in.carve(c, chunk);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  upload_means_async(means.data(), x_mean, d, y_mean, k, stream);
  // Zeroed, so that every chunk accumulates with beta = 1 (and n = 0 gives zeros).
  GPULEARN_CUDA_TRY(cudaMemsetAsync(G.data(), 0, checked_bytes(d * d, sizeof(T)), stream));
  GPULEARN_CUDA_TRY(cudaMemsetAsync(B.data(), 0, checked_bytes(d * k, sizeof(T)), stream));

  const RowChunks<T> xr = s.in.x(stream), yr = s.in.y(stream), wr = s.in.w(stream);
  const T one = 1;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    const DeviceRows<const T> wc = wr.load(begin, m);
    centre_scale_async<T, false>(xr.load(begin, m), m, d, means.data(), x_scale, wc,
                                 CentredDst<T>{s.xc, d, 0}, stream);
    centre_scale_async<T, false>(yr.load(begin, m), m, k, means.data() + d, y_scale, wc,
                                 CentredDst<T>{s.yc, k, 0}, stream);
    GPULEARN_CUBLAS_TRY(Blas<T>::syrk(be.cublas(), CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, d, m, &one,
                                      s.xc, d, &one, G.data(), d));
    if (k == 0) continue;  // cuBLAS rejects the leading dimensions k = 0
    GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, k, d, m, &one, s.yc, k,
                                      s.xc, d, &one, B.data(), k));
  }
  const dim3 grid(static_cast<unsigned>(std::clamp<int64_t>(ceil_div(d, kBlockThreads), 1, 64)),
                  static_cast<unsigned>(std::clamp<int64_t>(d, 1, kMaxGridY)));
  GPULEARN_LAUNCH(grid, kBlockThreads, 0, stream, mirror_lower_kernel<T>)(G.data(), d);
  GPULEARN_CUDA_CHECK_LAUNCH();
  // Symmetric, so the column-major G is also the row-major gram; B is already row-major d x k.
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(gram, G.data(), checked_bytes(d * d, sizeof(T)),
                                    cudaMemcpyDeviceToHost, stream));
  if (k > 0) {  // xty may then be null
    GPULEARN_CUDA_TRY(cudaMemcpyAsync(xty, B.data(), checked_bytes(d * k, sizeof(T)),
                                      cudaMemcpyDeviceToHost, stream));
  }
  be.sync_stream();
}

}  // namespace

#define GPULEARN_CUDA_GRAM(T)                                                              \
  void CudaBackend::centered_gram(MatrixView<const T> X, MatrixView<const T> Y,            \
                                  VectorView<const T> w, const T* x_mean, const T* y_mean, \
                                  T x_scale, T y_scale, T* gram, T* xty) {                 \
    DeviceGuard guard(device_);                                                            \
    centered_gram_impl(*this, X, Y, w, x_mean, y_mean, x_scale, y_scale, gram, xty);       \
  }
GPULEARN_CUDA_GRAM(float)
GPULEARN_CUDA_GRAM(double)
#undef GPULEARN_CUDA_GRAM

}  // namespace gpulearn::detail
