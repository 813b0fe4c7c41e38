// Kernels of cuda/core called directly on the CUDA emulator (emulator builds only: the file is
// empty elsewhere, since the host compiler cannot compile CUDA kernels for a GPU).
//
// 64-bit indexing. On an H200 (141 GB) an elementwise pass may cover more than 2^31 elements
// (1e7 x 300 float32 is 3e9): a kernel that indexes with 32 bits wraps there and writes outside
// its buffer. The pass below covers 2^31 + 4096 one-byte elements (2 GiB, no race check: the
// emulator checks launches only while less than 256 MiB is live), so a 32-bit index wraps
// inside it: a write before the buffer (caught by AddressSanitizer in the sanitizer build, a
// crash without it) and a tail left unwritten (caught below). It takes 1.5-3 minutes under
// AddressSanitizer (2^31 emulated writes), the longest test of the CI's command by twice: it
// runs in bash scripts/test-emulated (GPULEARN_EMU_SLOW_TESTS=1), not in bash scripts/test.
#if defined(GPULEARN_CUDA_EMULATION)

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/launch.cuh"
#include "gpulearn/core/device.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

TEST(CudaKernelsEmu, FillCoversMoreThan2To31Elements) {
  GPULEARN_SKIP_SLOW_ON_EMULATOR();
  const int64_t n = (int64_t{1} << 31) + 4096;
  int8_t* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, static_cast<size_t>(n)), cudaSuccess);
  fill_async<int8_t>(d, n, 7, nullptr);
  // Windows at the start, around 2^31 (where a 32-bit index wraps) and at the end.
  for (const int64_t at : {int64_t{0}, (int64_t{1} << 31) - 4096, n - 8192}) {
    std::vector<int8_t> h(8192, 0);
    ASSERT_EQ(cudaMemcpy(h.data(), d + at, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < h.size(); ++i) {
      ASSERT_EQ(h[i], 7) << "element " << at + static_cast<int64_t>(i) << " of " << n;
    }
  }
  EXPECT_EQ(cudaFree(d), cudaSuccess);
}

}  // namespace
}  // namespace gpulearn::detail

#endif  // GPULEARN_CUDA_EMULATION
