// out = X coef^T + 1 intercept^T, one row chunk at a time: GEMM, then a bias kernel. out lives
// where X does; for host data each chunk is computed on the device and copied back.
//
// Layout: row-major X (m x d, stride ld) is, to cuBLAS, X^T (d x m, leading dimension ld);
// row-major coef (k x d) is coef^T (d x k, leading dimension d). The row-major m x k output is
// the column-major k x m matrix out^T = coef X^T = op_T(coef^T) op_N(X^T): gemm(T, N).
#include <algorithm>
#include <cstdint>

#include "core/blas_lapack.cuh"
#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"

namespace gpulearn::detail {

namespace {

// out[i * ld + t] += intercept[t] for a rows x k block. Few targets (the usual case): one
// thread per row, so that no thread idles on a missing column; many: threads along the row.
constexpr int64_t kRowPerThreadTargets = 16;

template <typename T>
__global__ void add_intercept_rows_kernel(T* out, int64_t ld, int64_t rows, int64_t k,
                                          const T* intercept) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows;
       i += int64_t{gridDim.x} * blockDim.x) {
    for (int64_t t = 0; t < k; ++t) out[i * ld + t] += intercept[t];
  }
}

template <typename T>
__global__ void add_intercept_cols_kernel(T* out, int64_t ld, int64_t rows, int64_t k,
                                          const T* intercept) {
  for (int64_t i = blockIdx.y; i < rows; i += gridDim.y) {
    for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < k;
         t += int64_t{gridDim.x} * blockDim.x) {
      out[i * ld + t] += intercept[t];
    }
  }
}

template <typename T>
void add_intercept_async(T* out, int64_t ld, int64_t rows, int64_t k, const T* intercept,
                         cudaStream_t stream) {
  if (k <= kRowPerThreadTargets) {
    const auto blocks = grid_for(rows);
    GPULEARN_LAUNCH(blocks, kBlockThreads, 0, stream, add_intercept_rows_kernel<T>)
    (out, ld, rows, k, intercept);
  } else {
    GPULEARN_LAUNCH(elementwise_grid(rows, k), kBlockThreads, 0, stream,
                    add_intercept_cols_kernel<T>)
    (out, ld, rows, k, intercept);
  }
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
void affine_predict_impl(CudaBackend& be, MatrixView<const T> X, const T* coef, const T* intercept,
                         MatrixView<T> out) {
  const int64_t n = X.rows, d = X.cols, k = out.cols;
  if (n == 0 || k == 0) return;
  cudaStream_t stream = be.stream();
  const bool out_on_host = out.space == MemorySpace::kHost;
  if (!out_on_host) check_device_pointer(out.data, "the output");
  DeviceBuffer<T> params(checked_add(checked_mul(k, d), k));  // coef, then intercept
  T* coef_d = params.data();
  T* intercept_d = params.data() + k * d;

  int64_t chunk = n;
  if (X.space == MemorySpace::kHost || out_on_host) {
    int64_t per_row = checked_mul(RowChunks<T>::staging_elems(X, 1), int64_t{sizeof(T)});
    if (out_on_host) per_row = checked_add(per_row, checked_mul(k, int64_t{sizeof(T)}));
    chunk = be.chunk_rows(n, per_row);
  }
  struct Scratch {
    T *stage_x, *stage_out;
  };
  auto layout = [&](Carver& c) {
    Scratch s;
    s.stage_x = c.take<T>(RowChunks<T>::staging_elems(X, chunk));
    s.stage_out = c.take<T>(out_on_host ? checked_mul(chunk, k) : 0);
    return s;
  };
  const Scratch s = be.carve_chunk_workspace(layout);

  GPULEARN_CUDA_TRY(cudaMemcpyAsync(coef_d, coef, checked_bytes(k * d, sizeof(T)),
                                    cudaMemcpyHostToDevice, stream));
  GPULEARN_CUDA_TRY(cudaMemcpyAsync(intercept_d, intercept, checked_bytes(k, sizeof(T)),
                                    cudaMemcpyHostToDevice, stream));
  RowChunks<T> xr(X, s.stage_x, stream);
  const T one = 1, zero = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t m = std::min(chunk, n - begin);
    const DeviceRows<const T> x = xr.load(begin, m);
    T* dst = out_on_host ? s.stage_out : out.data + begin * out.ld;
    const int64_t dst_ld = out_on_host ? k : out.ld;
    GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, k, m, d, &one, coef_d,
                                      d, x.data, x.ld, &zero, dst, dst_ld));
    add_intercept_async(dst, dst_ld, m, k, static_cast<const T*>(intercept_d), stream);
    if (out_on_host) {
      copy_rows_async(out.data + begin * out.ld, out.ld, static_cast<const T*>(dst), dst_ld, m, k,
                      cudaMemcpyDeviceToHost, stream);
    }
  }
  be.sync_stream();
}

}  // namespace

#define GPULEARN_CUDA_PREDICT(T)                                                             \
  void CudaBackend::affine_predict(MatrixView<const T> X, const T* coef, const T* intercept, \
                                   MatrixView<T> out) {                                      \
    DeviceGuard guard(device_);                                                              \
    affine_predict_impl(*this, X, coef, intercept, out);                                     \
  }
GPULEARN_CUDA_PREDICT(float)
GPULEARN_CUDA_PREDICT(double)
#undef GPULEARN_CUDA_PREDICT

}  // namespace gpulearn::detail
