// Stand-in for CUDA's cuda_runtime.h when cuda/ is compiled for the CUDA emulator
// (GPULEARN_CUDA_EMULATION): the runtime API, the device-code built-ins and kernel launches.
#pragma once

#include "gpulearn_emu/device.hpp"  // first: it includes the standard headers before its macros
#include "gpulearn_emu/launch.hpp"
#include "gpulearn_emu/runtime_api.hpp"
