#include "gpulearn/core/device.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "backend_loader.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/version.hpp"

namespace gpulearn {

namespace {
// Lower case, surrounding blanks removed; blanks inside ("cu da") stay and make it invalid.
std::string normalise(const std::string& text) {
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  const auto first = std::find_if_not(text.begin(), text.end(), blank);
  const auto last = std::find_if_not(text.rbegin(), text.rend(), blank).base();
  std::string s;
  for (auto it = first; it < last; ++it) {
    s += static_cast<char>(std::tolower(static_cast<unsigned char>(*it)));
  }
  return s;
}
}  // namespace

Device Device::parse(const std::string& text) {
  const std::string s = normalise(text);
  if (s == "cpu") return cpu();
  if (s == "auto") return auto_device();
  if (s == "cuda") return cuda(0);
  const std::string p = "cuda:";
  if (s.rfind(p, 0) == 0 && s.size() > p.size() && s.size() <= p.size() + 4 &&
      std::all_of(s.begin() + p.size(), s.end(), [](char c) { return std::isdigit(c); })) {
    return cuda(std::stoi(s.substr(p.size())));
  }
  GPULEARN_FAIL(InvalidArgument, "invalid device '", text,
                "': expected 'auto', 'cpu', 'cuda' or 'cuda:N' with N a device ordinal");
}

Device Device::auto_device() {
  // An emulated device (a test build of the CUDA emulator) runs on the CPU: never chosen by
  // "auto", only by an explicit "cuda"/"cuda:N".
  return cuda_available() && !cuda_emulated() ? cuda(0) : cpu();
}

std::string Device::to_string() const {
  return kind == DeviceKind::kCpu ? "cpu" : "cuda:" + std::to_string(index);
}

bool cuda_available() { return detail::cuda_plugin().device_count() > 0; }

int cuda_device_count() { return std::max(0, detail::cuda_plugin().device_count()); }

bool cuda_emulated() { return detail::cuda_plugin().emulated(); }

std::string cuda_unavailable_reason() { return detail::cuda_plugin().unavailable_reason(); }

BuildInfo build_info() {
  BuildInfo info;
  info.version = GPULEARN_VERSION;
  info.cuda_built = GPULEARN_WITH_CUDA != 0;
  info.cuda_architectures = GPULEARN_CUDA_ARCHITECTURES;
  info.cuda_version = detail::cuda_plugin().toolkit_version();
  info.compiler = GPULEARN_CXX_COMPILER;
  return info;
}

}  // namespace gpulearn
