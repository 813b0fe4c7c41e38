#include "backend_loader.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "gpulearn/core/error.hpp"
#include "gpulearn/version.hpp"
#include "gpulearn_plugin_abi.hpp"

namespace gpulearn::detail {

namespace {

constexpr int kErrLen = 1024;

// The plugin sits beside the core library (build tree, install tree and wheel alike).
std::string plugin_path() {
  if (const char* env = std::getenv("GPULEARN_CUDA_PLUGIN"); env != nullptr && *env != '\0') {
    return env;
  }
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cuda_plugin), &info) != 0 && info.dli_fname != nullptr) {
    std::string self(info.dli_fname);
    const auto slash = self.find_last_of('/');
    if (slash != std::string::npos) return self.substr(0, slash + 1) + "libgpulearn_cuda.so";
  }
  return "libgpulearn_cuda.so";
}

template <typename F>
F symbol(void* handle, const char* name) {
  return reinterpret_cast<F>(dlsym(handle, name));
}

std::mutex& plugin_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

CudaPlugin& cuda_plugin() {
  static CudaPlugin plugin;
  return plugin;
}

void CudaPlugin::load() {
  if (tried_) return;
  tried_ = true;
  if (GPULEARN_WITH_CUDA == 0) {
    reason_ =
        "gpulearn was built without CUDA (nvcc was not found at build time, or "
        "GPULEARN_WITH_CUDA=OFF)";
    return;
  }
  const std::string path = plugin_path();
  // RTLD_LOCAL: the plugin's CUDA libraries stay out of the global namespace.
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = dlerror();
    reason_ = "the CUDA backend could not be loaded from " + path + ": " +
              (why != nullptr ? why : "unknown error") +
              " (are the NVIDIA driver and the CUDA libraries installed?)";
    return;
  }
  auto abi = symbol<int (*)()>(handle_, "gpulearn_cuda_plugin_abi");
  auto count = symbol<int (*)(char*, int)>(handle_, "gpulearn_cuda_device_count");
  if (abi == nullptr || count == nullptr || abi() != kCudaPluginAbi) {
    reason_ = "the CUDA backend at " + path + " does not match this gpulearn build (ABI " +
              std::to_string(abi != nullptr ? abi() : -1) + ", expected " +
              std::to_string(kCudaPluginAbi) + "); reinstall gpulearn";
    dlclose(handle_);
    handle_ = nullptr;
    return;
  }
  char err[kErrLen] = {0};
  count_ = count(err, kErrLen);
  if (count_ < 0) {
    count_ = 0;
    reason_ = std::string("no usable CUDA device: ") + err;
  } else if (count_ == 0) {
    reason_ = "no CUDA device was found";
  }
}

int CudaPlugin::device_count() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load();
  return count_;
}

std::string CudaPlugin::unavailable_reason() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load();
  return count_ > 0 ? std::string() : reason_;
}

bool CudaPlugin::emulated() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load();
  if (handle_ == nullptr) return false;
  auto emulated = symbol<int (*)()>(handle_, "gpulearn_cuda_emulated");
  return emulated != nullptr && emulated() != 0;
}

std::string CudaPlugin::toolkit_version() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load();
  if (handle_ == nullptr) return "";
  auto version = symbol<const char* (*)()>(handle_, "gpulearn_cuda_toolkit_version");
  return version != nullptr ? version() : "";
}

std::unique_ptr<Backend> CudaPlugin::create(int device) {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load();
  if (count_ <= 0) GPULEARN_FAIL(Unsupported, "CUDA was requested but is unavailable: ", reason_);
  if (device < 0 || device >= count_) {
    // A user error (ValueError in Python), as context.hpp documents.
    GPULEARN_FAIL(InvalidArgument, "CUDA device ", device, " does not exist: ", count_,
                  " device(s) found (cuda:0 .. cuda:", count_ - 1, ")");
  }
  auto create = symbol<Backend* (*)(int, char*, int)>(handle_, "gpulearn_cuda_create_backend");
  char err[kErrLen] = {0};
  Backend* backend = create != nullptr ? create(device, err, kErrLen) : nullptr;
  if (backend == nullptr) {
    GPULEARN_FAIL(DeviceError, "could not initialise CUDA device ", device, ": ", err);
  }
  return std::unique_ptr<Backend>(backend);
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return cuda_plugin().create(device); }

}  // namespace gpulearn::detail
