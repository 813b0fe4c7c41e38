// The CUDA runtime API as the emulator provides it: the types, constants and host functions of
// cuda_runtime.h that gpulearn's cuda/ sources use, with the runtime's documented semantics
// (error codes, sticky errors, stream order, pageable-copy synchronisation). Implemented in
// emulator/src/runtime.cpp over host memory.
#pragma once

#include <cstddef>
#include <cstdint>

#define CUDART_VERSION 13000
#define GPULEARN_CUDA_EMULATED 1

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct uint3 {
  unsigned x, y, z;
};

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidPitchValue = 12,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchTimeout = 702,
  cudaErrorAssert = 710,
  cudaErrorIllegalInstruction = 715,
  cudaErrorLaunchFailure = 719,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorUnknown = 999,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaMemoryType : int {
  cudaMemoryTypeUnregistered = 0,
  cudaMemoryTypeHost = 1,
  cudaMemoryTypeDevice = 2,
  cudaMemoryTypeManaged = 3,
};

struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};

enum cudaFuncAttribute : int {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion;
  int binaryVersion;
  int cacheModeCA;
  int maxDynamicSharedSizeBytes;
  int preferredShmemCarveout;
};

enum cudaDeviceAttr : int {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxBlockDimX = 2,
  cudaDevAttrMaxBlockDimY = 3,
  cudaDevAttrMaxBlockDimZ = 4,
  cudaDevAttrMaxGridDimX = 5,
  cudaDevAttrMaxGridDimY = 6,
  cudaDevAttrMaxGridDimZ = 7,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  size_t totalConstMem;
  int major;
  int minor;
  size_t textureAlignment;
  int multiProcessorCount;
  int integrated;
  int canMapHostMemory;
  int concurrentKernels;
  int pciBusID;
  int pciDeviceID;
  int memoryBusWidth;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  int unifiedAddressing;
  size_t sharedMemPerMultiprocessor;
  size_t sharedMemPerBlockOptin;
  int memoryClockRate;
};

struct CUstream_st;
using cudaStream_t = CUstream_st*;
struct CUevent_st;
using cudaEvent_t = CUevent_st*;

constexpr unsigned cudaStreamDefault = 0x0;
constexpr unsigned cudaStreamNonBlocking = 0x1;
constexpr unsigned cudaHostAllocDefault = 0x0;
constexpr unsigned cudaEventDefault = 0x0;
constexpr unsigned cudaEventDisableTiming = 0x2;
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)

#define GPULEARN_EMU_API extern "C" __attribute__((visibility("default")))
#define GPULEARN_EMU_API_CXX __attribute__((visibility("default")))

GPULEARN_EMU_API const char* cudaGetErrorName(cudaError_t error);
GPULEARN_EMU_API const char* cudaGetErrorString(cudaError_t error);
GPULEARN_EMU_API cudaError_t cudaGetLastError();
GPULEARN_EMU_API cudaError_t cudaPeekAtLastError();

GPULEARN_EMU_API cudaError_t cudaGetDeviceCount(int* count);
GPULEARN_EMU_API cudaError_t cudaGetDevice(int* device);
GPULEARN_EMU_API cudaError_t cudaSetDevice(int device);
GPULEARN_EMU_API cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
GPULEARN_EMU_API cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
GPULEARN_EMU_API cudaError_t cudaDeviceSynchronize();
GPULEARN_EMU_API cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
GPULEARN_EMU_API cudaError_t cudaDriverGetVersion(int* version);
GPULEARN_EMU_API cudaError_t cudaRuntimeGetVersion(int* version);

GPULEARN_EMU_API cudaError_t cudaMalloc(void** ptr, size_t bytes);
GPULEARN_EMU_API cudaError_t cudaFree(void* ptr);
GPULEARN_EMU_API cudaError_t cudaMallocHost(void** ptr, size_t bytes);
GPULEARN_EMU_API cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned flags);
GPULEARN_EMU_API cudaError_t cudaFreeHost(void* ptr);
GPULEARN_EMU_API cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p);

GPULEARN_EMU_API cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes,
                                        cudaMemcpyKind kind);
GPULEARN_EMU_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes,
                                             cudaMemcpyKind kind, cudaStream_t stream = 0);
GPULEARN_EMU_API cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src,
                                          size_t spitch, size_t width, size_t height,
                                          cudaMemcpyKind kind);
GPULEARN_EMU_API cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src,
                                               size_t spitch, size_t width, size_t height,
                                               cudaMemcpyKind kind, cudaStream_t stream = 0);
GPULEARN_EMU_API cudaError_t cudaMemset(void* dst, int value, size_t bytes);
GPULEARN_EMU_API cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes,
                                             cudaStream_t stream = 0);
GPULEARN_EMU_API cudaError_t cudaMemset2DAsync(void* dst, size_t pitch, int value, size_t width,
                                               size_t height, cudaStream_t stream = 0);

GPULEARN_EMU_API cudaError_t cudaStreamCreate(cudaStream_t* stream);
GPULEARN_EMU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
GPULEARN_EMU_API cudaError_t cudaStreamDestroy(cudaStream_t stream);
GPULEARN_EMU_API cudaError_t cudaStreamSynchronize(cudaStream_t stream);
GPULEARN_EMU_API cudaError_t cudaStreamQuery(cudaStream_t stream);
GPULEARN_EMU_API cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                                 unsigned flags = 0);

GPULEARN_EMU_API cudaError_t cudaEventCreate(cudaEvent_t* event);
GPULEARN_EMU_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
GPULEARN_EMU_API cudaError_t cudaEventDestroy(cudaEvent_t event);
GPULEARN_EMU_API cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
GPULEARN_EMU_API cudaError_t cudaEventSynchronize(cudaEvent_t event);
GPULEARN_EMU_API cudaError_t cudaEventQuery(cudaEvent_t event);
GPULEARN_EMU_API cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// Kernel attributes are keyed by the kernel's host address, as the real runtime's are.
GPULEARN_EMU_API cudaError_t gpulearn_emu_func_set_attribute(const void* func,
                                                             cudaFuncAttribute attr, int value);
GPULEARN_EMU_API cudaError_t gpulearn_emu_func_get_attributes(cudaFuncAttributes* attr,
                                                              const void* func);
// cuda_runtime.h's C++ overloads for typed pointers.
template <typename T>
inline cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
template <typename T>
inline cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F* func, cudaFuncAttribute attr, int value) {
  return gpulearn_emu_func_set_attribute(reinterpret_cast<const void*>(func), attr, value);
}
// cudaFuncGetAttributes, which reads a kernel's launch bounds: gpulearn_emu/launch.hpp.
