// Device: where an estimator computes. Parsing never touches the CUDA driver.
#pragma once

#include <string>

namespace gpulearn {

enum class DeviceKind { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;  // the CUDA ordinal; 0 for the CPU

  /// Parses "auto" | "cpu" | "cuda" | "cuda:N" (case-insensitive, surrounding blanks ignored),
  /// the one grammar gpulearn accepts in C++ and Python. "auto" is auto_device(). Throws
  /// InvalidArgument naming the accepted forms for anything else.
  static Device parse(const std::string& text);

  /// What "auto" means where nothing else decides (Python first prefers the device its data
  /// is on, then the configured one): cuda:0 when the CUDA backend loads and sees a real
  /// device, else cpu. The one rule; may load the CUDA backend.
  static Device auto_device();

  static Device cpu() { return Device{DeviceKind::kCpu, 0}; }
  static Device cuda(int index = 0) { return Device{DeviceKind::kCuda, index}; }

  bool is_cuda() const { return kind == DeviceKind::kCuda; }
  std::string to_string() const;  // "cpu" or "cuda:N"

  friend bool operator==(const Device& a, const Device& b) {
    return a.kind == b.kind && a.index == b.index;
  }
};

/// True when the CUDA backend was built, loads (its libraries are present) and sees a device.
/// Never throws; the first call may load the backend.
bool cuda_available();

/// Number of CUDA devices the backend sees; 0 when it is absent or cannot load.
int cuda_device_count();

/// True when the CUDA backend is the CUDA emulator's (a test build, GPULEARN_CUDA_EMULATION):
/// its devices run on the CPU. device "auto" never picks an emulated device.
bool cuda_emulated();

/// Why the CUDA backend is unavailable ("" when it is available).
std::string cuda_unavailable_reason();

/// A short description of the build: version, whether CUDA was compiled, the architectures.
struct BuildInfo {
  std::string version;
  bool cuda_built = false;
  std::string cuda_architectures;  // e.g. "75;80;86;89;90"
  std::string cuda_version;        // the toolkit the backend was compiled with, "" if none
  std::string compiler;
};
BuildInfo build_info();

}  // namespace gpulearn
