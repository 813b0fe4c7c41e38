// Distance tiles of the nearest-neighbour primitives (see neighbors_common.cuh): the GEMM
// family's dot products by cuBLAS, the other metrics' reduced distances by a tiled kernel of our
// own, and the per-row factors (squared norms, inverse norms) the GEMM family's distances need;
// with a shift (squared Euclidean), the shifted tile copies the GEMM reads and the norms of the
// shifted rows; and a sparse index's inverse norms (cosine) from its squared norms.
//
// GEMM layout, as in kmeans_assign.cu: the row-major query tile (rows x d, stride ldq) is to
// cuBLAS the column-major d x rows matrix, the row-major index tile (cols x d, stride ldx) the
// column-major d x cols one, and the row-major rows x cols products (stride ldo) the
// column-major cols x rows matrix X Q^T = gemm(T, N). The handle's math mode is
// CUBLAS_DEFAULT_MATH: no TF32 for float.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/blas_lapack.cuh"
#include "core/launch.cuh"
#include "core/row_norms.cuh"
#include "neighbors/neighbors_common.cuh"
#include "neighbors/search_source.cuh"

namespace gpulearn::detail {

namespace {

// xs (rows x d, contiguous) = x (stride ld) less s from every row, in T.
template <typename T>
__global__ void __launch_bounds__(kBlockThreads)
    shift_rows_kernel(const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift, T* xs) {
  for (int64_t i = blockIdx.y; i < rows; i += gridDim.y) {
    const T* xi = x + i * ld;
    T* out = xs + i * d;
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < d;
         j += int64_t{gridDim.x} * blockDim.x) {
      out[j] = xi[j] - shift[j];
    }
  }
}

// ---- Direct distances ------------------------------------------------------------------------

// A block computes a kTile x kTile block of pairs, its 256 threads (16 x 16) kMicro x kMicro
// pairs each, strided by 16 so that a half-warp writes 16 consecutive entries of a row. The
// block stages kDepth features of its kTile queries and kTile index rows in shared memory per
// step; padding (features past d, rows past the tile) is zero, which adds nothing to any of the
// three metrics (|0 - 0|^p = 0 for p > 0).
constexpr int kTile = 64;
constexpr int kDepth = 16;
constexpr int kSide = 16;
constexpr int kMicro = kTile / kSide;
static_assert(kSide * kSide == kBlockThreads, "one thread per micro-tile");

__device__ __forceinline__ float pow_t(float v, float p) { return powf(v, p); }
__device__ __forceinline__ double pow_t(double v, double p) { return pow(v, p); }

// acc combined with the term of one feature's difference, in T.
template <typename T, Rdist kKind>
__device__ __forceinline__ T direct_step(T acc, T diff, T p) {
  const T a = diff < T(0) ? -diff : diff;
  if constexpr (kKind == Rdist::kChebyshev) {
    return a > acc ? a : acc;
  } else if constexpr (kKind == Rdist::kMinkowski) {
    return acc + pow_t(a, p);
  } else {  // kManhattan
    return acc + a;
  }
}

template <typename T>
struct DirectArgs {
  const T* q;
  int64_t ldq, rows;
  const T* x;
  int64_t ldx, cols, d;
  T p;
  T* out;
  int64_t ldo;
};

template <typename T, Rdist kKind>
__global__ void __launch_bounds__(kBlockThreads) direct_tile_kernel(DirectArgs<T> a) {
  // +1: the staging stores walk the feature index fastest, which would otherwise hit one bank.
  __shared__ T qs[kDepth][kTile + 1];
  __shared__ T xs[kDepth][kTile + 1];
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t row_blocks = (a.rows + kTile - 1) / kTile;
  const int64_t col_blocks = (a.cols + kTile - 1) / kTile;
  // Grid-stride over the block tiles (block-uniform bounds: every thread reaches the barriers).
  for (int64_t rb = blockIdx.y; rb < row_blocks; rb += gridDim.y) {
    for (int64_t cb = blockIdx.x; cb < col_blocks; cb += gridDim.x) {
      const int64_t r0 = rb * kTile, c0 = cb * kTile;
      T acc[kMicro][kMicro];
#pragma unroll
      for (int i = 0; i < kMicro; ++i) {
#pragma unroll
        for (int j = 0; j < kMicro; ++j) acc[i][j] = T(0);
      }
      for (int64_t l0 = 0; l0 < a.d; l0 += kDepth) {
        for (int e = threadIdx.x; e < kTile * kDepth; e += kBlockThreads) {
          const int rr = e / kDepth, ll = e % kDepth;
          const int64_t l = l0 + ll;
          const int64_t qr = r0 + rr, xr = c0 + rr;
          qs[ll][rr] = qr < a.rows && l < a.d ? a.q[qr * a.ldq + l] : T(0);
          xs[ll][rr] = xr < a.cols && l < a.d ? a.x[xr * a.ldx + l] : T(0);
        }
        __syncthreads();
#pragma unroll 4
        for (int ll = 0; ll < kDepth; ++ll) {
          T qv[kMicro], xv[kMicro];
#pragma unroll
          for (int i = 0; i < kMicro; ++i) {
            qv[i] = qs[ll][ty + kSide * i];
            xv[i] = xs[ll][tx + kSide * i];
          }
#pragma unroll
          for (int i = 0; i < kMicro; ++i) {
#pragma unroll
            for (int j = 0; j < kMicro; ++j) {
              acc[i][j] = direct_step<T, kKind>(acc[i][j], qv[i] - xv[j], a.p);
            }
          }
        }
        __syncthreads();  // the stage is refilled by the next step
      }
#pragma unroll
      for (int i = 0; i < kMicro; ++i) {
        const int64_t r = r0 + ty + kSide * i;
        if (r >= a.rows) continue;
#pragma unroll
        for (int j = 0; j < kMicro; ++j) {
          const int64_t c = c0 + tx + kSide * j;
          if (c < a.cols) a.out[r * a.ldo + c] = acc[i][j];
        }
      }
    }
  }
}

template <typename T, Rdist kKind>
void direct_tile_launch(const DirectArgs<T>& a, cudaStream_t stream) {
  const int64_t row_blocks = ceil_div(a.rows, kTile), col_blocks = ceil_div(a.cols, kTile);
  const dim3 grid(static_cast<unsigned>(std::clamp<int64_t>(col_blocks, 1, INT32_MAX)),
                  static_cast<unsigned>(std::clamp<int64_t>(row_blocks, 1, kMaxGridY)));
  GPULEARN_LAUNCH(grid, kBlockThreads, 0, stream, direct_tile_kernel<T, kKind>)(a);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
__global__ void inverse_norms_kernel(const T* sq, int64_t n, T* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const double s = sq[i];
    out[i] = s > 0 ? static_cast<T>(1.0 / sqrt(s)) : T(0);
  }
}

}  // namespace

template <typename T>
void inverse_norms_async(const T* sq, int64_t n, T* out, cudaStream_t stream) {
  if (n <= 0) return;
  GPULEARN_LAUNCH(grid_for(n), kBlockThreads, 0, stream, inverse_norms_kernel<T>)(sq, n, out);
  GPULEARN_CUDA_CHECK_LAUNCH();
}

template <typename T>
void row_factors_async(Approx a, const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift,
                       T* f, cudaStream_t stream) {
  if (!uses_factors(a)) return;
  shifted_row_norms_async(x, ld, rows, d, shift, static_cast<T*>(nullptr),
                          a == Approx::kCosine ? RowNorm::kInverse : RowNorm::kSquared, f, stream);
}

template <typename T>
GemmRows<T> shifted_tile_async(const T* x, int64_t ld, int64_t rows, int64_t d, const T* shift,
                               T* xs, cudaStream_t stream) {
  if (shift == nullptr) return {x, ld};
  if (rows > 0 && d > 0) {
    GPULEARN_LAUNCH(elementwise_grid(rows, d), kBlockThreads, 0, stream, shift_rows_kernel<T>)
    (x, ld, rows, d, shift, xs);
    GPULEARN_CUDA_CHECK_LAUNCH();
  }
  return {xs, d};
}

template <typename T>
void distance_tile_async(CudaBackend& be, RdistSpec metric, const T* q, int64_t ldq, int64_t rows,
                         const T* x, int64_t ldx, int64_t cols, int64_t d, T* out, int64_t ldo) {
  if (rows <= 0 || cols <= 0) return;
  GPULEARN_ASSERT(d >= 1 && ldo >= cols);
  if (rdist_uses_gemm(metric.kind)) {
    const T one = 1, zero = 0;
    GPULEARN_CUBLAS_TRY(Blas<T>::gemm(be.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, cols, rows, d, &one, x,
                                      ldx, q, ldq, &zero, out, ldo));
    return;
  }
  DirectArgs<T> a{};
  a.q = q;
  a.ldq = ldq;
  a.rows = rows;
  a.x = x;
  a.ldx = ldx;
  a.cols = cols;
  a.d = d;
  a.p = static_cast<T>(metric.p);
  a.out = out;
  a.ldo = ldo;
  switch (metric.kind) {
    case Rdist::kManhattan:
      return direct_tile_launch<T, Rdist::kManhattan>(a, be.stream());
    case Rdist::kChebyshev:
      return direct_tile_launch<T, Rdist::kChebyshev>(a, be.stream());
    default:
      return direct_tile_launch<T, Rdist::kMinkowski>(a, be.stream());
  }
}

#define GPULEARN_DISTANCE_TILE(T)                                                               \
  template void row_factors_async<T>(Approx, const T*, int64_t, int64_t, int64_t, const T*, T*, \
                                     cudaStream_t);                                             \
  template GemmRows<T> shifted_tile_async<T>(const T*, int64_t, int64_t, int64_t, const T*, T*, \
                                             cudaStream_t);                                     \
  template void distance_tile_async<T>(CudaBackend&, RdistSpec, const T*, int64_t, int64_t,     \
                                       const T*, int64_t, int64_t, int64_t, T*, int64_t);        \
  template void inverse_norms_async<T>(const T*, int64_t, T*, cudaStream_t);
GPULEARN_DISTANCE_TILE(float)
GPULEARN_DISTANCE_TILE(double)
#undef GPULEARN_DISTANCE_TILE

}  // namespace gpulearn::detail
