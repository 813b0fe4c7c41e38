// The runtime's state, shared by runtime.cpp and launch.cpp. One recursive mutex guards it and
// serialises execution: queued work runs on the host thread that synchronises, one item at a
// time, so blocks run one after another.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gpulearn_emu/internal.hpp"
#include "gpulearn_emu/stats.hpp"

namespace gpulearn_emu {

constexpr const char* kDeviceName = "NVIDIA H200 (emulated: gpulearn CUDA emulator on the CPU)";
constexpr size_t kSharedPerBlock = 48 * 1024;
constexpr size_t kSharedPerBlockOptin = 227 * 1024;
constexpr size_t kSharedPerSm = 228 * 1024;
constexpr int kMultiProcessors = 132;

struct Work {
  std::function<void()> fn;
  std::string what;
  uint64_t ticket = 0;
};

struct Allocation {
  void* base = nullptr;
  size_t bytes = 0;
  int device = 0;
  bool pinned = false;
};

struct DeviceState {
  size_t capacity = 0;
  size_t used = 0;
  cudaError_t sticky = cudaSuccess;
  std::string sticky_message;
  CUstream_st* legacy = nullptr;
};

struct State {
  std::recursive_mutex mutex;
  std::vector<DeviceState> devices;
  std::map<uintptr_t, Allocation> allocations;
  std::set<CUstream_st*> streams;
  std::vector<CUstream_st*> stream_order;
  std::map<const void*, size_t> max_dynamic_shared;
  uint64_t next_ticket = 0;
  int executing = 0;
  Stats stats;
};

State& state();
cudaError_t set_error(cudaError_t e);
DeviceState* device_state(int device);
cudaError_t sticky(int device);
const Allocation* find_allocation(const void* p);
CUstream_st* resolve_stream(cudaStream_t stream);
void flush_stream(CUstream_st* st);

/// While one exists, queued work is executing (device memory is open to the host code that
/// emulates the device).
struct ExecutionScope {
  ExecutionScope();
  ~ExecutionScope();
};

}  // namespace gpulearn_emu
