// GPULEARN_HOST_DEVICE marks a function that nvcc compiles for the host and the device and g++
// for the host: the one definition of a rule both backends follow.
#pragma once

#ifdef __CUDACC__
#define GPULEARN_HOST_DEVICE __host__ __device__
#else
#define GPULEARN_HOST_DEVICE
#endif
