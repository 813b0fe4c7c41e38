// The CPU backend's tree growing (grow_cpu.cpp), for CpuEnsemblePrimitives (forest_cpu.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "forest_rules.hpp"

namespace gpulearn::detail {

/// EnsemblePrimitives::grow_trees on n_threads threads, one tree per task.
void grow_trees_cpu(int n_threads, const forest::TrainingSet& data, const forest::GrowSpec& spec,
                    int64_t n_trees, const int32_t* counts, const double* class_mult,
                    const uint64_t* keys, std::vector<forest::GrownTree>& trees);

}  // namespace gpulearn::detail
