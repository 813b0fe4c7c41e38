// gpulearn._core, nearest neighbours: brute-force k-nearest and radius queries. A radius query
// returns its RadiusNeighbors record {offsets, indices, distances} (CSR rows).
#include <cstdint>
#include <string>

#include "common.hpp"
#include "gpulearn/neighbors/nearest_neighbors.hpp"

namespace gpulearn::bindings {
namespace {

using namespace neighbors;

void bind_params(py::module_& m) {
  auto cls = params_class<NeighborsParams>(m, "NeighborsParams", "neighbors::NeighborsParams");
  cls.def_readwrite("p", &NeighborsParams::p);
  def_enum(cls, "metric", &NeighborsParams::metric,
           {{Metric::kMinkowski, "minkowski"},
            {Metric::kEuclidean, "euclidean"},
            {Metric::kSqEuclidean, "sqeuclidean"},
            {Metric::kManhattan, "manhattan"},
            {Metric::kChebyshev, "chebyshev"},
            {Metric::kCosine, "cosine"},
            {Metric::kInnerProduct, "inner_product"}},
           [](const std::string& s) {
             GPULEARN_FAIL(Unsupported, "metric '", s, "' is not implemented in gpulearn");
           });
}

}  // namespace

void register_neighbors(py::module_& m) {
  bind_params(m);
  m.def(
      "kneighbors",
      [](Context& ctx, const NeighborsParams& p, const ArrayRef& index, const ArrayRef& queries,
         bool exclude_self, int64_t k, const ArrayRef& dist, const ArrayRef& idx) {
        GPULEARN_EXPECTS(
            idx.dtype == "int64" && dist.dtype == queries.dtype && index.dtype == queries.dtype,
            "kneighbors: indices must be int64 and every float array one dtype");
        by_dtype(queries, [&](auto zero) {
          using T = decltype(zero);
          compute([&] {
            kneighbors<T>(ctx, p, index.view<const T>(), queries.view<const T>(), k, exclude_self,
                          dist.view<T>(), idx.view<int64_t>());
          });
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("index"), py::arg("queries"),
      py::arg("exclude_self"), py::arg("k"), py::arg("distances"), py::arg("indices"));
  m.def(
      "radius_neighbors",
      [](Context& ctx, const NeighborsParams& p, const ArrayRef& index, const ArrayRef& queries,
         bool exclude_self, double radius, bool sort_results) {
        GPULEARN_EXPECTS(index.dtype == queries.dtype,
                         "radius_neighbors: the index and the queries must share one dtype");
        return by_dtype(queries, [&](auto zero) {
          using T = decltype(zero);
          RadiusNeighbors<T> r = compute([&] {
            return radius_neighbors<T>(ctx, p, index.view<const T>(), queries.view<const T>(),
                                       radius, exclude_self, sort_results);
          });
          const py::ssize_t nnz = len(r.indices.size());
          py::dict d;
          d["offsets"] = move_to_numpy(std::move(r.offsets), {len(r.offsets.size())});
          d["indices"] = move_to_numpy(std::move(r.indices), {nnz});
          d["distances"] = move_to_numpy(std::move(r.distances), {nnz});
          return d;
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("index"), py::arg("queries"),
      py::arg("exclude_self"), py::arg("radius"), py::arg("sort_results"));
}

}  // namespace gpulearn::bindings
