// The CPU backend's memory: host allocations and copies (the Backend interface's allocate and
// copy, which drivers use for scratch in the backend's native space).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cpu_backend.hpp"

namespace gpulearn::detail {

std::shared_ptr<void> CpuBackend::allocate(int64_t bytes) {
  void* p = std::malloc(static_cast<size_t>(std::max<int64_t>(bytes, 1)));
  if (p == nullptr)
    GPULEARN_FAIL(OutOfMemory, "could not allocate ", bytes, " bytes of host memory");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

void CpuBackend::copy(void* dst, MemorySpace dst_space, const void* src, MemorySpace src_space,
                      int64_t bytes) {
  GPULEARN_EXPECTS(dst_space == MemorySpace::kHost && src_space == MemorySpace::kHost,
                   "the CPU backend copies host memory only");
  if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
}

}  // namespace gpulearn::detail
