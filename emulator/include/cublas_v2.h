// Stand-in for CUDA's cublas_v2.h when cuda/ is compiled for the CUDA emulator. The real header
// maps the plain names onto the _v2 entry points; the emulator's entry points have the plain
// names, declared in cublas_api.h.
#pragma once

#include "cublas_api.h"
