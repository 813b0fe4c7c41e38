// Context: one device and the resources computing on it needs, created lazily.
//
// A CPU context owns a thread count and never touches the CUDA driver. A CUDA context loads the
// CUDA backend (a separate shared library) on first use and owns its stream, cuBLAS and cuSOLVER
// handles and workspace. A Context is not thread-safe: use one per thread.
#pragma once

#include <memory>

#include "gpulearn/core/device.hpp"

namespace gpulearn {

namespace detail {
class Backend;
}

class Context {
 public:
  /// Throws Unsupported when a CUDA device is asked for and the backend is unavailable (not
  /// built, its libraries missing, no device), InvalidArgument when the ordinal is out of range.
  explicit Context(Device device = Device::parse("auto"));
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Device& device() const { return device_; }

  /// CPU threads used by host computation; 0 (the default): GPULEARN_NUM_THREADS, else all
  /// hardware threads.
  int n_threads() const { return n_threads_; }
  /// The CPU threads host computation runs on: n_threads(), or the default count it stands for.
  int threads() const;
  void set_n_threads(int n);

  /// Blocks until all work queued on this context's device has finished.
  void synchronize();

  /// Gives back device scratch (over 1 MiB) that earlier calls left cached for reuse. Call it
  /// between calls, e.g. before each estimator call as the Python package does; a call that
  /// needs scratch again allocates it.
  void trim_scratch();

  /// The backend implementing the primitives for this device (internal).
  detail::Backend& backend();

 private:
  Device device_;
  int n_threads_ = 0;
  std::unique_ptr<detail::Backend> backend_;
};

}  // namespace gpulearn
