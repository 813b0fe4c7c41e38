// Stand-in for CUB's cub/cub.cuh under the gpulearn CUDA emulator: the device-wide algorithms
// the emulator provides (those gpulearn's cuda/ sources use). See cub/detail/emulation.cuh.
#pragma once

#include "cub/device/device_radix_sort.cuh"
#include "cub/device/device_scan.cuh"
#include "cub/device/device_segmented_radix_sort.cuh"
#include "cub/device/device_select.cuh"
#include "cub/util_type.cuh"
