// The plugin's C entry points, looked up by the core's loader (src/core/backend_loader.cpp)
// with dlsym. No exception may cross this boundary: each failure becomes a return value and a
// reason in the caller's buffer.
#include <cuda_runtime.h>

#include <array>
#include <cstdio>
#include <exception>

#include "core/backend.hpp"
#include "core/cuda_backend.cuh"
#include "gpulearn_plugin_abi.hpp"

#define GPULEARN_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

void write_reason(char* err, int err_len, const char* reason) {
  if (err == nullptr || err_len <= 0) return;
  std::snprintf(err, static_cast<size_t>(err_len), "%s", reason);
}

}  // namespace

GPULEARN_PLUGIN_EXPORT int gpulearn_cuda_plugin_abi() { return gpulearn::detail::kCudaPluginAbi; }

GPULEARN_PLUGIN_EXPORT int gpulearn_cuda_device_count(char* err, int err_len) {
  int count = 0;
  // Without a driver (or with one too old for this runtime) this returns an error code rather
  // than crashing: cudaErrorInsufficientDriver, cudaErrorNoDevice, ...
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (err != nullptr && err_len > 0) {
      const auto len = static_cast<size_t>(err_len);
      if (status == cudaErrorInsufficientDriver) {
        // Also what a machine without any NVIDIA driver reports: say what to check.
        std::snprintf(err, len,
                      "%s (%s from cudaGetDeviceCount: is an NVIDIA driver installed, and recent "
                      "enough for CUDA %s?)",
                      cudaGetErrorString(status), cudaGetErrorName(status),
                      gpulearn_cuda_toolkit_version());
      } else {
        std::snprintf(err, len, "%s (%s from cudaGetDeviceCount)", cudaGetErrorString(status),
                      cudaGetErrorName(status));
      }
    }
    return -1;
  }
  return count;
}

GPULEARN_PLUGIN_EXPORT gpulearn::detail::Backend* gpulearn_cuda_create_backend(int device,
                                                                               char* err,
                                                                               int err_len) {
  try {
    return new gpulearn::detail::CudaBackend(device);
  } catch (const std::exception& e) {
    write_reason(err, err_len, e.what());
  } catch (...) {
    write_reason(err, err_len, "unknown error while creating the CUDA backend");
  }
  return nullptr;
}

// 1 when this plugin was built against the CUDA emulator (emulator/): its devices are the CPU.
GPULEARN_PLUGIN_EXPORT int gpulearn_cuda_emulated() {
#if defined(GPULEARN_CUDA_EMULATION)
  return 1;
#else
  return 0;
#endif
}

GPULEARN_PLUGIN_EXPORT const char* gpulearn_cuda_toolkit_version() {
  // CUDART_VERSION is major * 1000 + minor * 10. snprintf into a fixed buffer: nothing here
  // can throw.
  static const std::array<char, 32> version = [] {
    std::array<char, 32> v{};
#if defined(GPULEARN_CUDA_EMULATION)
    std::snprintf(v.data(), v.size(), "%d.%d emulated", CUDART_VERSION / 1000,
                  CUDART_VERSION % 1000 / 10);
#else
    std::snprintf(v.data(), v.size(), "%d.%d", CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
#endif
    return v;
  }();
  return version.data();
}
