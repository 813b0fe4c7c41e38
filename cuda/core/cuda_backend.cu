// CudaBackend's lifetime (stream, library handles, scratch), its chunk sizing, and the memory
// services of the Backend interface (allocate, copy).
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <memory>

#include "core/cuda_backend.cuh"
#include "core/launch.cuh"
#include "core/row_chunks.cuh"
#include "gpulearn/version.hpp"

namespace gpulearn::detail {

namespace {

// A kernel whose only use is to ask the runtime whether this build has code for the device.
__global__ void probe_kernel() {}

// The share of free device memory one pass may take for its chunk scratch, and the cap: large
// enough that kernel launches and library calls are amortised over millions of entries, small
// enough to leave room for the caller's own device data and other libraries.
constexpr size_t kChunkShareDivisor = 4;
constexpr size_t kMaxChunkBytes = size_t{512} << 20;
constexpr size_t kMinChunkBytes = size_t{8} << 20;
// The budget of fixed_tile_rows: a constant, so that tiles (and with them the rounding of the
// library calls made per tile) are the same on every run and every GPU.
constexpr int64_t kFixedTileBytes = int64_t{256} << 20;

// The scratch a backend keeps between calls (trim_scratch). A larger block, left by a fit on
// large data, is given back at the next call: the device memory returns to the caller's other
// work, and calls on small data stop carrying it (on the emulator, every launch whose arguments
// point into a block snapshots all of it for the race check: a 100 MB block left by one Ridge
// fit made each later small logistic fit 75x slower).
constexpr size_t kKeptScratchBytes = size_t{1} << 20;

// GPULEARN_CUDA_MAX_CHUNK_ROWS as a positive row count, or 0 when unset or not one.
int64_t env_chunk_cap() { return env_positive("GPULEARN_CUDA_MAX_CHUNK_ROWS"); }

// Owns one allocate()d block; frees it with its device current (the deleter may run on any
// thread, with any device current). Never throws.
struct DeviceAllocation {
  int device = 0;
  DeviceBuffer<std::byte> buffer;
  ~DeviceAllocation() {
    int previous = -1;
    const bool have_previous = cudaGetDevice(&previous) == cudaSuccess;
    if (previous != device) (void)cudaSetDevice(device);
    buffer.reset();
    if (have_previous && previous != device) (void)cudaSetDevice(previous);
  }
};

void check_architecture(int device) {
  cudaFuncAttributes attr{};
  const cudaError_t status = cudaFuncGetAttributes(&attr, probe_kernel);
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  cudaDeviceProp prop{};
  const bool have_prop = cudaGetDeviceProperties(&prop, device) == cudaSuccess;
  GPULEARN_FAIL(DeviceError, "CUDA device ", device, " (", have_prop ? prop.name : "unknown",
                ", compute capability ", have_prop ? prop.major : 0, ".",
                have_prop ? prop.minor : 0,
                ") cannot run this build of gpulearn, compiled for CUDA architectures ",
                GPULEARN_CUDA_ARCHITECTURES, ": ", cudaGetErrorName(status), " (",
                cudaGetErrorString(status), ")");
}

}  // namespace

int64_t env_positive(const char* name) {
  const char* env = std::getenv(name);
  if (env == nullptr) return 0;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(env, &end, 10);
  return errno == 0 && end != env && *end == '\0' && v > 0 ? static_cast<int64_t>(v) : 0;
}

CudaBackend::CudaBackend(int device) : device_(device) {
  int count = 0;
  GPULEARN_CUDA_TRY(cudaGetDeviceCount(&count));
  GPULEARN_EXPECTS(device >= 0 && device < count, "CUDA device ", device, " does not exist (",
                   count, " device(s) found)");
  DeviceGuard guard(device_);
  try {
    check_architecture(device_);
    // Non-blocking: the legacy default stream, which other code in the process may use, never
    // serialises with ours.
    GPULEARN_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    GPULEARN_CUBLAS_TRY(cublasCreate(&cublas_));
    GPULEARN_CUBLAS_TRY(cublasSetStream(cublas_, stream_));
    // The default math mode never uses TF32 tensor cores for float (that takes
    // CUBLAS_TF32_TENSOR_OP_MATH): float32 results keep full single precision, as on the CPU.
    GPULEARN_CUBLAS_TRY(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    GPULEARN_CUBLAS_TRY(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    GPULEARN_CUSOLVER_TRY(cusolverDnCreate(&cusolver_));
    GPULEARN_CUSOLVER_TRY(cusolverDnSetStream(cusolver_, stream_));
  } catch (...) {
    release();
    throw;
  }
}

CudaBackend::~CudaBackend() {
  // Never throws: every status is ignored. The handles belong to device_, so make it current.
  int previous = -1;
  const bool have_previous = cudaGetDevice(&previous) == cudaSuccess;
  (void)cudaSetDevice(device_);
  if (stream_ != nullptr) (void)cudaStreamSynchronize(stream_);
  release();
  if (have_previous && previous != device_) (void)cudaSetDevice(previous);
}

void CudaBackend::release() noexcept {
  chunk_ws_.release();
  solver_ws_.release();
  if (cusolver_ != nullptr) (void)cusolverDnDestroy(cusolver_);
  if (cublas_ != nullptr) (void)cublasDestroy(cublas_);
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  cusolver_ = nullptr;
  cublas_ = nullptr;
  stream_ = nullptr;
}

void CudaBackend::synchronize() {
  DeviceGuard guard(device_);
  sync_stream();
}

void CudaBackend::trim_scratch() {
  if (chunk_ws_.capacity() <= kKeptScratchBytes && solver_ws_.capacity() <= kKeptScratchBytes) {
    return;
  }
  DeviceGuard guard(device_);
  sync_stream();
  if (chunk_ws_.capacity() > kKeptScratchBytes) chunk_ws_.release();
  if (solver_ws_.capacity() > kKeptScratchBytes) solver_ws_.release();
}

int64_t CudaBackend::chunk_rows(int64_t n, int64_t bytes_per_row, int64_t min_rows) const {
  bytes_per_row = std::max<int64_t>(bytes_per_row, 1);
  size_t free_bytes = 0, total_bytes = 0;
  GPULEARN_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  // The chunk workspace we already hold is reused, so it counts as available.
  const size_t available = free_bytes + chunk_ws_.capacity();
  const size_t budget = std::clamp(available / kChunkShareDivisor,
                                   std::min(kMinChunkBytes, available), kMaxChunkBytes);
  int64_t rows = static_cast<int64_t>(budget / static_cast<size_t>(bytes_per_row));
  if (const int64_t cap = env_chunk_cap(); cap > 0) rows = std::min(rows, cap);
  rows = std::max<int64_t>(rows, std::max<int64_t>(min_rows, 1));
  return std::max<int64_t>(1, std::min(rows, n));
}

int64_t CudaBackend::fixed_tile_rows(int64_t n, int64_t bytes_per_row, int64_t multiple) const {
  multiple = std::max<int64_t>(multiple, 1);
  int64_t rows = kFixedTileBytes / std::max<int64_t>(bytes_per_row, 1);
  if (const int64_t cap = env_chunk_cap(); cap > 0) rows = std::min(rows, cap);
  rows = std::min(rows, checked_mul(ceil_div(n, multiple), multiple));
  return std::max(rows / multiple, int64_t{1}) * multiple;
}

std::shared_ptr<void> CudaBackend::allocate(int64_t bytes) {
  GPULEARN_EXPECTS(bytes >= 0, "allocation size must be non-negative, got ", bytes);
  DeviceGuard guard(device_);
  auto block = std::make_shared<DeviceAllocation>();
  block->device = device_;
  try {
    block->buffer.allocate(bytes);
  } catch (const OutOfMemory&) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
    GPULEARN_FAIL(OutOfMemory, kCudaOomPrefix, "cannot allocate ", bytes,
                  " bytes on cuda:", device_, " (", free_bytes, " of ", total_bytes,
                  " bytes free)");
  }
  // The aliasing constructor: the control block owns the allocation, the pointer is its data.
  return std::shared_ptr<void>(block, block->buffer.data());
}

void CudaBackend::copy(void* dst, MemorySpace dst_space, const void* src, MemorySpace src_space,
                       int64_t bytes) {
  GPULEARN_EXPECTS(bytes >= 0, "copy size must be non-negative, got ", bytes);
  if (bytes == 0) return;
  DeviceGuard guard(device_);
  if (dst_space == MemorySpace::kDevice) check_device_pointer(dst, "the copy's destination");
  if (src_space == MemorySpace::kDevice) check_device_pointer(src, "the copy's source");
  // On the backend's stream, so that the copy sees every primitive queued before it. The runtime
  // infers the direction from the addresses (unified addressing), so pinned host memory labelled
  // as device memory, which check_device_pointer accepts, is copied correctly too.
  GPULEARN_CUDA_TRY(
      cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault, stream_));
  sync_stream();
}

}  // namespace gpulearn::detail
