// The emulated CUDA runtime: devices, device and pinned allocations, copies and fills, streams
// as in-order queues that run when the host synchronises, events, and CUDA's error model
// (per-thread last error, sticky device faults). Kernels are queued by launch.cpp.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gpulearn_emu/internal.hpp"
#include "gpulearn_emu/stats.hpp"
#include "runtime_state.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

struct CUstream_st {
  int device = 0;
  unsigned flags = 0;
  bool legacy = false;  // the device's legacy default stream
  std::deque<gpulearn_emu::Work> queue;
};

struct CUevent_st {
  int device = 0;
  cudaStream_t stream = nullptr;  // where it was last recorded
  uint64_t ticket = 0;            // its position in that stream
  bool recorded = false;
};

namespace gpulearn_emu {

namespace {

constexpr size_t kDefaultCapacity = size_t{141} * 1000 * 1000 * 1000;  // an H200's 141 GB
constexpr size_t kAlignment = 256;  // cudaMalloc's guarantee

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v, &end, 10);
  return end != v && *end == '\0' ? static_cast<size_t>(x) : fallback;
}

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;

}  // namespace

State& state() {
  static State* s = [] {
    auto* st = new State();  // never destroyed: plugins may call in during exit
    const size_t n = env_size("GPULEARN_EMULATED_DEVICES", 1);
    const size_t capacity = env_size("GPULEARN_EMULATED_MEMORY_BYTES", kDefaultCapacity);
    st->devices.resize(std::min<size_t>(n, 64));
    for (size_t i = 0; i < st->devices.size(); ++i) {
      st->devices[i].capacity = capacity;
      st->devices[i].legacy = new CUstream_st();
      st->devices[i].legacy->device = static_cast<int>(i);
      st->devices[i].legacy->legacy = true;
    }
    return st;
  }();
  return *s;
}

cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

int current_device() { return t_device; }

DeviceState* device_state(int device) {
  State& s = state();
  if (device < 0 || device >= static_cast<int>(s.devices.size())) return nullptr;
  return &s.devices[static_cast<size_t>(device)];
}

cudaError_t sticky(int device) {
  DeviceState* d = device_state(device);
  return d != nullptr ? d->sticky : cudaSuccess;
}

// ---- Allocations ----------------------------------------------------------------------------------

const Allocation* find_allocation(const void* p) {
  State& s = state();
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = s.allocations.upper_bound(a);
  if (it == s.allocations.begin()) return nullptr;
  --it;
  const Allocation& al = it->second;
  // One past the end counts as inside: an end pointer is a legitimate kernel argument.
  if (a >= it->first && a <= it->first + al.bytes) return &al;
  return nullptr;
}

namespace {
bool inside(const Allocation* al, const void* p, size_t bytes) {
  if (al == nullptr) return false;
  const auto a = reinterpret_cast<uintptr_t>(p);
  const auto base = reinterpret_cast<uintptr_t>(al->base);
  return a >= base && bytes <= al->bytes && a - base <= al->bytes - bytes;
}
}  // namespace

bool is_device_range(const void* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  const Allocation* al = find_allocation(p);
  return al != nullptr && !al->pinned && inside(al, p, bytes);
}

bool is_kernel_accessible(const void* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  return inside(find_allocation(p), p, bytes);
}

bool is_pinned(const void* p) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  const Allocation* al = find_allocation(p);
  return al != nullptr && al->pinned;
}

// Under AddressSanitizer, device memory is poisoned for the host while no emulated work runs:
// a host read of device memory is reported by ASan at the offending line.
void protect_device_memory(bool protect) {
#if defined(__SANITIZE_ADDRESS__)
  for (auto& [base, al] : state().allocations) {
    if (al.pinned || al.bytes == 0) continue;
    if (protect) {
      ASAN_POISON_MEMORY_REGION(al.base, al.bytes);
    } else {
      ASAN_UNPOISON_MEMORY_REGION(al.base, al.bytes);
    }
  }
#else
  (void)protect;
#endif
}

ExecutionScope::ExecutionScope() {
  State& s = state();
  if (s.executing++ == 0) protect_device_memory(false);
}
ExecutionScope::~ExecutionScope() {
  State& s = state();
  if (--s.executing == 0) protect_device_memory(true);
}

// ---- Streams ------------------------------------------------------------------------------------

namespace {

// The stream a handle names, or nullptr for an unknown one.
CUstream_st* resolve(cudaStream_t stream) {
  State& s = state();
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) {
    DeviceState* d = device_state(t_device);
    return d != nullptr ? d->legacy : nullptr;
  }
  return s.streams.count(stream) != 0 ? stream : nullptr;
}

// Runs the queue of one stream up to and including `ticket` (all of it by default).
void run_queue(CUstream_st* st, uint64_t ticket = UINT64_MAX) {
  State& s = state();
  DeviceState* d = device_state(st->device);
  ExecutionScope scope;
  const int saved_device = t_device;
  t_device = st->device;
  while (!st->queue.empty() && st->queue.front().ticket <= ticket) {
    Work w = std::move(st->queue.front());
    st->queue.pop_front();
    // After a fault the device runs nothing more, as a GPU whose context is broken.
    if (d->sticky == cudaSuccess) w.fn();
    ++s.stats.work_items;
  }
  t_device = saved_device;
}

bool syncs_with_legacy(const CUstream_st* st) {
  return st->legacy || (st->flags & cudaStreamNonBlocking) == 0;
}

// Legacy default-stream semantics: work on the legacy stream waits for the earlier work of every
// blocking stream of its device, and work on a blocking stream waits for the legacy stream's
// earlier work. So the legacy stream and the blocking streams run as one queue, in the order
// their work was queued (tickets), until `target` has run everything up to `ticket`.
void run_in_legacy_order(CUstream_st* target, uint64_t ticket) {
  State& s = state();
  DeviceState* d = device_state(target->device);
  while (!target->queue.empty() && target->queue.front().ticket <= ticket) {
    CUstream_st* next = d->legacy;
    for (CUstream_st* other : s.stream_order) {
      if (other->device != target->device || !syncs_with_legacy(other) || other->queue.empty()) {
        continue;
      }
      if (next->queue.empty() || other->queue.front().ticket < next->queue.front().ticket) {
        next = other;
      }
    }
    run_queue(next, next->queue.front().ticket);  // its first item only
  }
}

void flush(CUstream_st* st, uint64_t ticket = UINT64_MAX) {
  if (syncs_with_legacy(st)) {
    run_in_legacy_order(st, ticket);
  } else {
    run_queue(st, ticket);
  }
}

void flush_device(int device) {
  State& s = state();
  DeviceState* d = device_state(device);
  if (d == nullptr) return;
  run_in_legacy_order(d->legacy, UINT64_MAX);
  for (CUstream_st* st : s.stream_order) {
    if (st->device == device && syncs_with_legacy(st)) run_in_legacy_order(st, UINT64_MAX);
  }
  for (CUstream_st* st : s.stream_order) {
    if (st->device == device) run_queue(st);
  }
}

}  // namespace

cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  CUstream_st* st = resolve(stream);
  if (st == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky(st->device); e != cudaSuccess) return set_error(e);
  st->queue.push_back(Work{std::move(work), what != nullptr ? what : "", ++s.next_ticket});
  return cudaSuccess;
}

void fault(cudaError_t code, const std::string& message) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  DeviceState* d = device_state(t_device);
  if (d == nullptr || d->sticky != cudaSuccess) return;
  d->sticky = code;
  d->sticky_message = std::string(cudaGetErrorString(code)) + " [CUDA emulator, device " +
                      std::to_string(t_device) + ": " + message + "]";
  ++s.stats.faults;
  std::fprintf(stderr, "gpulearn CUDA emulator: %s\n", d->sticky_message.c_str());
}

}  // namespace gpulearn_emu

using gpulearn_emu::set_error;
using gpulearn_emu::state;

namespace {

using Lock = std::lock_guard<std::recursive_mutex>;

// The common prologue of an API call: the sticky error of the current device, if any.
cudaError_t check_sticky() { return gpulearn_emu::sticky(gpulearn_emu::t_device); }

struct ErrorName {
  cudaError_t code;
  const char* name;
  const char* text;
};
constexpr ErrorName kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration",
     "invalid configuration argument"},
    {cudaErrorInvalidPitchValue, "cudaErrorInvalidPitchValue", "invalid pitch argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection",
     "invalid copy direction for memcpy"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorNoKernelImageForDevice, "cudaErrorNoKernelImageForDevice",
     "no kernel image is available for execution on the device"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle",
     "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress",
     "an illegal memory access was encountered"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources",
     "too many resources requested for launch"},
    {cudaErrorLaunchTimeout, "cudaErrorLaunchTimeout",
     "the launch timed out and was terminated"},
    {cudaErrorAssert, "cudaErrorAssert", "device-side assert triggered"},
    {cudaErrorIllegalInstruction, "cudaErrorIllegalInstruction",
     "an illegal instruction was encountered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};

const ErrorName* lookup(cudaError_t e) {
  for (const auto& x : kErrors) {
    if (x.code == e) return &x;
  }
  return nullptr;
}

// Copies between any two spaces, as the copy engine does; runs inside queued work.
void checked_copy(void* dst, const void* src, size_t bytes, const char* what) {
  if (!gpulearn_emu::is_kernel_accessible(dst, bytes) &&
      !gpulearn_emu::is_kernel_accessible(src, bytes)) {
    // Host to host through the copy engine: legal.
  }
  std::memmove(dst, src, bytes);
  (void)what;
}

enum class Space { kDevice, kPinned, kPageable };

Space space_of(const void* p, size_t bytes, bool* whole) {
  const gpulearn_emu::Allocation* al = gpulearn_emu::find_allocation(p);
  if (al == nullptr) {
    *whole = true;
    return Space::kPageable;
  }
  const auto a = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(al->base);
  *whole = bytes <= al->bytes && a - base <= al->bytes - bytes;
  return al->pinned ? Space::kPinned : Space::kDevice;
}

// One rectangle copy (height rows of width bytes), on `stream`, with CUDA's rules for when
// the call returns: synchronous for device-to-pageable copies and pageable-to-pageable copies;
// the pageable source of a host-to-device copy is staged at call time.
cudaError_t copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                    size_t height, cudaMemcpyKind kind, cudaStream_t stream, bool synchronous) {
  using gpulearn_emu::state;
  Lock lock(state().mutex);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  if (width == 0 || height == 0) return cudaSuccess;
  if (dpitch < width || spitch < width) return set_error(cudaErrorInvalidPitchValue);
  if (dst == nullptr || src == nullptr) return set_error(cudaErrorInvalidValue);
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) {
    return set_error(cudaErrorInvalidMemcpyDirection);
  }
  const size_t dspan = (height - 1) * dpitch + width, sspan = (height - 1) * spitch + width;
  bool dwhole = true, swhole = true;
  const Space ds = space_of(dst, dspan, &dwhole), ss = space_of(src, sspan, &swhole);
  // A range that starts in an allocation and runs past its end: the runtime rejects it.
  if (!dwhole || !swhole) return set_error(cudaErrorInvalidValue);
  // An explicit direction must match the pointers (unified addressing tells them apart).
  const bool dst_dev = ds != Space::kPageable, src_dev = ss != Space::kPageable;
  if ((kind == cudaMemcpyHostToDevice && (ds != Space::kDevice || ss == Space::kDevice)) ||
      (kind == cudaMemcpyDeviceToHost && (ss != Space::kDevice || ds == Space::kDevice)) ||
      (kind == cudaMemcpyDeviceToDevice && (ds != Space::kDevice || ss != Space::kDevice))) {
    if (!(kind == cudaMemcpyHostToDevice && ds == Space::kPinned) &&
        !(kind == cudaMemcpyDeviceToHost && ss == Space::kPinned)) {
      return set_error(cudaErrorInvalidValue);
    }
  }
  (void)dst_dev;
  (void)src_dev;
  std::shared_ptr<std::vector<unsigned char>> staged;
  const void* from = src;
  if (ss == Space::kPageable && ds != Space::kPageable) {
    // Staged now: the caller may reuse its buffer as soon as the call returns.
    staged = std::make_shared<std::vector<unsigned char>>(sspan);
    std::memcpy(staged->data(), src, sspan);
    from = staged->data();
  }
  const bool to_pageable = ds == Space::kPageable;
  auto work = [dst, dpitch, from, spitch, width, height, staged] {
    for (size_t r = 0; r < height; ++r) {
      checked_copy(static_cast<unsigned char*>(dst) + r * dpitch,
                   static_cast<const unsigned char*>(from) + r * spitch, width, "cudaMemcpy");
    }
  };
  const cudaError_t e = gpulearn_emu::enqueue(stream, work, "cudaMemcpy");
  if (e != cudaSuccess) return e;
  if (synchronous || to_pageable) {
    CUstream_st* st = gpulearn_emu::resolve_stream(stream);
    gpulearn_emu::flush_stream(st);
    if (const cudaError_t s = gpulearn_emu::sticky(st->device); s != cudaSuccess) {
      return set_error(s);
    }
  }
  return cudaSuccess;
}

cudaError_t fill_2d(void* dst, size_t pitch, int value, size_t width, size_t height,
                    cudaStream_t stream, bool synchronous) {
  Lock lock(state().mutex);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  if (width == 0 || height == 0) return cudaSuccess;
  if (pitch < width) return set_error(cudaErrorInvalidPitchValue);
  const size_t span = (height - 1) * pitch + width;
  bool whole = true;
  if (space_of(dst, span, &whole) != Space::kDevice || !whole) {
    return set_error(cudaErrorInvalidValue);
  }
  auto work = [dst, pitch, value, width, height] {
    for (size_t r = 0; r < height; ++r) {
      std::memset(static_cast<unsigned char*>(dst) + r * pitch, value, width);
    }
  };
  const cudaError_t e = gpulearn_emu::enqueue(stream, work, "cudaMemset");
  if (e != cudaSuccess) return e;
  if (synchronous) {
    CUstream_st* st = gpulearn_emu::resolve_stream(stream);
    gpulearn_emu::flush_stream(st);
    return set_error(gpulearn_emu::sticky(st->device));
  }
  return cudaSuccess;
}

}  // namespace

namespace gpulearn_emu {
CUstream_st* resolve_stream(cudaStream_t stream) { return resolve(stream); }
void flush_stream(CUstream_st* st) { flush(st); }
}  // namespace gpulearn_emu

// ---- The C API ------------------------------------------------------------------------------------

const char* cudaGetErrorName(cudaError_t error) {
  const ErrorName* e = lookup(error);
  return e != nullptr ? e->name : "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  // The sticky fault of the current device carries the emulator's account of what failed.
  {
    Lock lock(state().mutex);
    gpulearn_emu::DeviceState* d = gpulearn_emu::device_state(gpulearn_emu::t_device);
    if (d != nullptr && d->sticky == error && error != cudaSuccess && !d->sticky_message.empty()) {
      return d->sticky_message.c_str();
    }
  }
  const ErrorName* e = lookup(error);
  return e != nullptr ? e->text : "unrecognized error code";
}

cudaError_t cudaGetLastError() {
  const cudaError_t s = check_sticky();
  if (s != cudaSuccess) return s;
  const cudaError_t e = gpulearn_emu::t_last_error;
  gpulearn_emu::t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() {
  const cudaError_t s = check_sticky();
  return s != cudaSuccess ? s : gpulearn_emu::t_last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return set_error(cudaErrorInvalidValue);
  *count = static_cast<int>(state().devices.size());
  if (*count == 0) return set_error(cudaErrorNoDevice);
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return set_error(cudaErrorInvalidValue);
  if (state().devices.empty()) return set_error(cudaErrorNoDevice);
  *device = gpulearn_emu::t_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (gpulearn_emu::device_state(device) == nullptr) return set_error(cudaErrorInvalidDevice);
  gpulearn_emu::t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  gpulearn_emu::DeviceState* d = gpulearn_emu::device_state(device);
  if (prop == nullptr) return set_error(cudaErrorInvalidValue);
  if (d == nullptr) return set_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof(prop->name), "%s", gpulearn_emu::kDeviceName);
  prop->totalGlobalMem = d->capacity;
  prop->sharedMemPerBlock = gpulearn_emu::kSharedPerBlock;
  prop->sharedMemPerBlockOptin = gpulearn_emu::kSharedPerBlockOptin;
  prop->sharedMemPerMultiprocessor = gpulearn_emu::kSharedPerSm;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->memPitch = SIZE_MAX;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->clockRate = 1980000;
  prop->totalConstMem = 65536;
  prop->major = 9;
  prop->minor = 0;
  prop->textureAlignment = 512;
  prop->multiProcessorCount = gpulearn_emu::kMultiProcessors;
  prop->canMapHostMemory = 1;
  prop->concurrentKernels = 1;
  prop->pciBusID = device;
  prop->memoryBusWidth = 6144;
  prop->l2CacheSize = 60 * 1024 * 1024;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->unifiedAddressing = 1;
  prop->memoryClockRate = 2619000;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  cudaDeviceProp p;
  if (value == nullptr) return set_error(cudaErrorInvalidValue);
  if (const cudaError_t e = cudaGetDeviceProperties(&p, device); e != cudaSuccess) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(p.sharedMemPerMultiprocessor);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(p.sharedMemPerBlockOptin);
      break;
    default: return set_error(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  Lock lock(state().mutex);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  gpulearn_emu::flush_device(gpulearn_emu::t_device);
  return set_error(check_sticky());
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  Lock lock(state().mutex);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  gpulearn_emu::DeviceState* d = gpulearn_emu::device_state(gpulearn_emu::t_device);
  if (d == nullptr) return set_error(cudaErrorNoDevice);
  if (free_bytes != nullptr) *free_bytes = d->capacity - std::min(d->capacity, d->used);
  if (total_bytes != nullptr) *total_bytes = d->capacity;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return set_error(cudaErrorInvalidValue);
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) { return cudaDriverGetVersion(version); }

namespace {
cudaError_t allocate(void** ptr, size_t bytes, bool pinned) {
  using namespace gpulearn_emu;
  State& s = state();
  Lock lock(s.mutex);
  if (ptr == nullptr) return set_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  DeviceState* d = device_state(t_device);
  if (d == nullptr) return set_error(cudaErrorNoDevice);
  if (bytes == 0) return cudaSuccess;
  if (!pinned && bytes > d->capacity - std::min(d->capacity, d->used)) {
    ++s.stats.failed_allocations;
    return set_error(cudaErrorMemoryAllocation);
  }
  void* p = nullptr;
  // The exact size, not rounded up: AddressSanitizer's red zone then starts at the last byte.
  if (posix_memalign(&p, kAlignment, bytes) != 0 || p == nullptr) {
    ++s.stats.failed_allocations;
    return set_error(cudaErrorMemoryAllocation);
  }
  // New memory holds garbage on a GPU: the poison pattern makes a read of it visible.
  poison(p, bytes);
  s.allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{p, bytes, t_device, pinned};
  if (!pinned) {
    d->used += bytes;
#if defined(__SANITIZE_ADDRESS__)
    if (s.executing == 0) ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
  }
  ++s.stats.allocations;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr, bool pinned) {
  using namespace gpulearn_emu;
  State& s = state();
  Lock lock(s.mutex);
  if (ptr == nullptr) return cudaSuccess;
  auto it = s.allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.allocations.end() || it->second.pinned != pinned) {
    return set_error(cudaErrorInvalidValue);
  }
  // cudaFree waits for the device: queued work may still use the memory.
  flush_device(it->second.device);
  Allocation al = it->second;
  s.allocations.erase(it);
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(al.base, al.bytes);
#endif
  if (!pinned) device_state(al.device)->used -= al.bytes;
  std::free(al.base);
  return check_sticky() != cudaSuccess ? set_error(check_sticky()) : cudaSuccess;
}
}  // namespace

cudaError_t cudaMalloc(void** ptr, size_t bytes) { return allocate(ptr, bytes, false); }
cudaError_t cudaFree(void* ptr) { return release(ptr, false); }
cudaError_t cudaMallocHost(void** ptr, size_t bytes) { return allocate(ptr, bytes, true); }
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned) { return allocate(ptr, bytes, true); }
cudaError_t cudaFreeHost(void* ptr) { return release(ptr, true); }

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p) {
  Lock lock(state().mutex);
  if (attr == nullptr) return set_error(cudaErrorInvalidValue);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  *attr = cudaPointerAttributes{cudaMemoryTypeUnregistered, -2, nullptr, nullptr};
  const gpulearn_emu::Allocation* al = gpulearn_emu::find_allocation(p);
  if (al != nullptr && p != static_cast<const char*>(al->base) + al->bytes) {
    attr->type = al->pinned ? cudaMemoryTypeHost : cudaMemoryTypeDevice;
    attr->device = al->device;
    attr->devicePointer = const_cast<void*>(p);
    attr->hostPointer = al->pinned ? const_cast<void*>(p) : nullptr;
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return copy_2d(dst, bytes, src, bytes, bytes, 1, kind, nullptr, true);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  return copy_2d(dst, bytes, src, bytes, bytes, 1, kind, stream, false);
}
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind) {
  return copy_2d(dst, dpitch, src, spitch, width, height, kind, nullptr, true);
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  return copy_2d(dst, dpitch, src, spitch, width, height, kind, stream, false);
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  return fill_2d(dst, bytes, value, bytes, 1, nullptr, true);
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  return fill_2d(dst, bytes, value, bytes, 1, stream, false);
}
cudaError_t cudaMemset2DAsync(void* dst, size_t pitch, int value, size_t width, size_t height,
                              cudaStream_t stream) {
  return fill_2d(dst, pitch, value, width, height, stream, false);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  gpulearn_emu::State& s = state();
  Lock lock(s.mutex);
  if (stream == nullptr || flags > cudaStreamNonBlocking) return set_error(cudaErrorInvalidValue);
  if (const cudaError_t e = check_sticky(); e != cudaSuccess) return set_error(e);
  if (gpulearn_emu::device_state(gpulearn_emu::t_device) == nullptr) {
    return set_error(cudaErrorNoDevice);
  }
  auto* st = new CUstream_st();
  st->device = gpulearn_emu::t_device;
  st->flags = flags;
  s.streams.insert(st);
  s.stream_order.push_back(st);
  *stream = st;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  gpulearn_emu::State& s = state();
  Lock lock(s.mutex);
  if (stream == nullptr || s.streams.count(stream) == 0) {
    return set_error(cudaErrorInvalidResourceHandle);
  }
  // Work already queued still completes, as on hardware.
  gpulearn_emu::flush(stream);
  s.streams.erase(stream);
  s.stream_order.erase(std::find(s.stream_order.begin(), s.stream_order.end(), stream));
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  Lock lock(state().mutex);
  CUstream_st* st = gpulearn_emu::resolve(stream);
  if (st == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = gpulearn_emu::sticky(st->device); e != cudaSuccess) return set_error(e);
  gpulearn_emu::flush(st);
  return set_error(gpulearn_emu::sticky(st->device));
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  // A query makes progress here (the emulator has no background engine): it runs the queue,
  // so that a polling loop terminates.
  return cudaStreamSynchronize(stream);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  Lock lock(state().mutex);
  if (event == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  // One host thread runs all queues in order of synchronisation; making the event's stream
  // run before this stream's later work is enough: run it when that work runs.
  cudaStream_t other = event->recorded ? event->stream : nullptr;
  const uint64_t ticket = event->ticket;
  if (other == nullptr) return cudaSuccess;
  return gpulearn_emu::enqueue(
      stream,
      [other, ticket] {
        CUstream_st* st = gpulearn_emu::resolve(other);
        if (st != nullptr) gpulearn_emu::flush(st, ticket);
      },
      "cudaStreamWaitEvent");
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  if (event == nullptr) return set_error(cudaErrorInvalidValue);
  *event = new CUevent_st();
  (*event)->device = gpulearn_emu::t_device;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  Lock lock(state().mutex);
  if (event == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  CUstream_st* st = gpulearn_emu::resolve(stream);
  if (st == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  const cudaError_t e = gpulearn_emu::enqueue(stream, [] {}, "cudaEventRecord");
  if (e != cudaSuccess) return e;
  event->stream = st;
  event->ticket = st->queue.back().ticket;
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  Lock lock(state().mutex);
  if (event == nullptr) return set_error(cudaErrorInvalidResourceHandle);
  if (!event->recorded) return cudaSuccess;
  CUstream_st* st = gpulearn_emu::resolve(event->stream);
  if (st != nullptr) gpulearn_emu::flush(st, event->ticket);
  return set_error(gpulearn_emu::sticky(event->device));
}
cudaError_t cudaEventQuery(cudaEvent_t event) { return cudaEventSynchronize(event); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  // The emulator has no device clock: elapsed times say nothing about a GPU.
  if (ms == nullptr) return set_error(cudaErrorInvalidValue);
  *ms = 0.0f;
  return cudaSuccess;
}

cudaError_t gpulearn_emu_func_set_attribute(const void* func, cudaFuncAttribute attr, int value) {
  Lock lock(state().mutex);
  if (func == nullptr) return set_error(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > gpulearn_emu::kSharedPerBlockOptin) {
      return set_error(cudaErrorInvalidValue);
    }
    state().max_dynamic_shared[func] = static_cast<size_t>(value);
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {
    return value >= -1 && value <= 100 ? cudaSuccess : set_error(cudaErrorInvalidValue);
  }
  return set_error(cudaErrorInvalidValue);
}

cudaError_t gpulearn_emu_func_get_attributes(cudaFuncAttributes* attr, const void* func) {
  Lock lock(state().mutex);
  if (attr == nullptr) return set_error(cudaErrorInvalidValue);
  if (func == nullptr) return set_error(cudaErrorInvalidDeviceFunction);
  *attr = cudaFuncAttributes{};
  attr->maxThreadsPerBlock = 1024;
  attr->numRegs = 32;
  attr->ptxVersion = 90;
  attr->binaryVersion = 90;
  auto it = state().max_dynamic_shared.find(func);
  attr->maxDynamicSharedSizeBytes = static_cast<int>(
      it != state().max_dynamic_shared.end() ? it->second : gpulearn_emu::kSharedPerBlock);
  return cudaSuccess;
}

// ---- For tests and reports ---------------------------------------------------------------------

extern "C" GPULEARN_EMU_API_CXX void gpulearn_emu_reset_device_for_tests() {
  gpulearn_emu::State& s = state();
  Lock lock(s.mutex);
  for (auto& d : s.devices) {
    d.sticky = cudaSuccess;
    d.sticky_message.clear();
    d.legacy->queue.clear();
  }
  for (CUstream_st* st : s.stream_order) st->queue.clear();
  gpulearn_emu::t_last_error = cudaSuccess;
}

extern "C" GPULEARN_EMU_API_CXX gpulearn_emu::Stats gpulearn_emu_stats() {
  Lock lock(state().mutex);
  return state().stats;
}
