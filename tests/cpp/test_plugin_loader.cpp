// The loader's check of the plugin ABI (src/core/backend_loader.cpp): a plugin built from other
// boundary headers is refused with the reason, one built from these is loaded. The two stand-in
// plugins are tests/cpp/plugins/fake_plugin.cpp, built with ABI offsets 1 and 0.
#include <gtest/gtest.h>

#include <string>

#include "core/backend_loader.hpp"
#include "gpulearn/version.hpp"
#include "test_util.hpp"

namespace {

using gpulearn::detail::CudaPlugin;
using gpulearn::test_util::ScopedEnv;

std::string fake_plugin(const char* name) {
  return std::string(GPULEARN_FAKE_PLUGIN_DIR) + "/lib" + name + ".so";
}

TEST(PluginLoader, APluginBuiltFromOtherBoundaryHeadersIsRefusedWithTheReason) {
  if (GPULEARN_WITH_CUDA == 0) GTEST_SKIP() << "built without CUDA: the loader opens no plugin";
  ScopedEnv env("GPULEARN_CUDA_PLUGIN", fake_plugin("gpulearn_fake_plugin_other_abi").c_str());
  CudaPlugin plugin;  // not the process-wide one: this one reads the variable afresh
  EXPECT_EQ(plugin.device_count(), 0);
  const std::string reason = plugin.unavailable_reason();
  EXPECT_NE(reason.find("does not match this gpulearn build"), std::string::npos) << reason;
  EXPECT_NE(reason.find("reinstall gpulearn"), std::string::npos) << reason;
}

TEST(PluginLoader, APluginBuiltFromTheseHeadersIsLoaded) {
  if (GPULEARN_WITH_CUDA == 0) GTEST_SKIP() << "built without CUDA: the loader opens no plugin";
  ScopedEnv env("GPULEARN_CUDA_PLUGIN", fake_plugin("gpulearn_fake_plugin_same_abi").c_str());
  CudaPlugin plugin;
  EXPECT_EQ(plugin.device_count(), 1);
  EXPECT_EQ(plugin.unavailable_reason(), "");
}

}  // namespace
