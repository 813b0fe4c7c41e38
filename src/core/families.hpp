// The estimator families whose primitives every backend provides: the one place core names
// them. Each entry is the family's primitive interface, a class template over the element type
// declared in src/<family>/primitives.hpp (core sees only the name). Adding a family adds one
// line here; docs/architecture.md ("Adding an estimator family") lists the other places, all in
// the family's own folders.
#pragma once

#define GPULEARN_FAMILIES(X) \
  X(ClusterPrimitives)       \
  X(NeighborsPrimitives)     \
  X(DecompositionPrimitives) \
  X(LinearModelPrimitives)   \
  X(EnsemblePrimitives)     \
  X(SparsePrimitives)

namespace gpulearn::detail {
#define GPULEARN_DECLARE_FAMILY(P) \
  template <typename T>            \
  class P;
GPULEARN_FAMILIES(GPULEARN_DECLARE_FAMILY)
#undef GPULEARN_DECLARE_FAMILY
}  // namespace gpulearn::detail
