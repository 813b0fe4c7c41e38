// A counter-based uniform draw that every backend computes the same way (k-means||'s
// independent sampling, the decompositions' random starts).
#pragma once

#include <cstdint>

#include "host_device.hpp"

namespace gpulearn::detail {

/// The uniform number in [0, 1) drawn for index i under seed: the same on every backend.
GPULEARN_HOST_DEVICE inline double hash_uniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(i) + 1);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace gpulearn::detail
