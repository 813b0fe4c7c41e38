// Loads the CUDA backend plugin (libgpulearn_cuda.so) once, on first need. The core library
// never links CUDA: a machine without NVIDIA libraries runs everything on the CPU, and asking
// for CUDA there gives the reason the plugin could not load.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"

namespace gpulearn::detail {

class CudaPlugin {
 public:
  /// Devices the plugin sees; 0 when it is not built, cannot load, or sees none.
  int device_count();
  /// "" when a device is available, else why not.
  std::string unavailable_reason();
  /// The toolkit the plugin was built with, "" when it is not loaded.
  std::string toolkit_version();
  /// True when the loaded plugin runs on the CUDA emulator.
  bool emulated();
  /// A backend for the device; throws Unsupported with the reason.
  std::unique_ptr<Backend> create(int device);

 private:
  void load();
  bool tried_ = false;
  void* handle_ = nullptr;
  int count_ = 0;
  std::string reason_;
};

/// The process-wide plugin (loading is serialised internally).
CudaPlugin& cuda_plugin();

}  // namespace gpulearn::detail
