// A stand-in CUDA plugin for the loader's tests (tests/cpp/test_plugin_loader.cpp): it reports
// this build's plugin ABI plus GPULEARN_FAKE_ABI_OFFSET, and one device. It creates no backend.
#include "gpulearn_plugin_abi.hpp"

#define GPULEARN_FAKE_EXPORT extern "C" __attribute__((visibility("default")))

GPULEARN_FAKE_EXPORT int gpulearn_cuda_plugin_abi() {
  return gpulearn::detail::kCudaPluginAbi + GPULEARN_FAKE_ABI_OFFSET;
}

GPULEARN_FAKE_EXPORT int gpulearn_cuda_device_count(char*, int) { return 1; }
