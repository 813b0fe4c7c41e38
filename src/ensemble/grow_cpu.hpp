// The CPU backend's tree growing (grow_cpu.cpp), for CpuEnsemblePrimitives (forest_cpu.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "forest_rules.hpp"

namespace gpulearn::detail {

/// EnsemblePrimitives::grow_trees on n_threads threads, one tree per task. root_weights (n_trees,
/// or null): for a tree grown from a node of a larger tree, that tree's root weight in quanta (the
/// scale of split_improvement; 0: the grown root's own).
void grow_trees_cpu(int n_threads, const forest::TrainingSet& data, const forest::GrowSpec& spec,
                    int64_t n_trees, const int32_t* counts, const double* class_mult,
                    const uint64_t* keys, std::vector<forest::GrownTree>& trees,
                    const int64_t* root_weights = nullptr);

}  // namespace gpulearn::detail
