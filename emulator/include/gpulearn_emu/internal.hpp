// What the emulator's libraries (runtime, launch, cuBLAS, cuSOLVER, CUB) share: the stream
// queue, the allocation table and the fault channel. Not for gpulearn's cuda/ sources.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "gpulearn_emu/runtime_api.hpp"

namespace gpulearn_emu {

/// Queues `work` on `stream` (0, cudaStreamLegacy and cudaStreamPerThread name the current
/// device's default stream). It runs when the host synchronises with the stream (a stream,
/// event or device sync, a synchronous copy, cudaFree), in queue order, never at enqueue time.
/// `what` names the work in fault messages (a kernel's or a library routine's name).
/// Returns the sticky error of the device if one is pending (and queues nothing), else
/// cudaSuccess; an unknown stream gives cudaErrorInvalidResourceHandle.
GPULEARN_EMU_API_CXX cudaError_t enqueue(cudaStream_t stream, std::function<void()> work,
                                         const char* what);

/// Called from inside queued work: the work failed as a kernel fails on hardware. The error
/// becomes sticky on the device (every later call returns it) and `message` is what
/// cudaGetErrorString returns for it from then on (it names the kernel or routine). The
/// message is also written to stderr once. Returns normally: the caller then returns from
/// its work.
GPULEARN_EMU_API_CXX void fault(cudaError_t code, const std::string& message);

/// True when [p, p + bytes) lies inside one live device allocation (any device).
GPULEARN_EMU_API_CXX bool is_device_range(const void* p, size_t bytes);
/// True when [p, p + bytes) lies inside one live device or pinned (cudaMallocHost) allocation:
/// memory a kernel may dereference.
GPULEARN_EMU_API_CXX bool is_kernel_accessible(const void* p, size_t bytes);
/// True when p lies inside a pinned host allocation.
GPULEARN_EMU_API_CXX bool is_pinned(const void* p);

/// Fills bytes with the poison pattern (0xFF: NaN as float and double, -1 as an integer) that
/// new device and shared memory, and scratch a library no longer needs, hold.
inline void poison(void* p, size_t bytes) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) b[i] = 0xFF;
}
constexpr unsigned char kPoisonByte = 0xFF;

/// The calling host thread's current device.
GPULEARN_EMU_API_CXX int current_device();

}  // namespace gpulearn_emu
