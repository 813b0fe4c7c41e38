// gpulearn._core, nearest neighbours: brute-force k-nearest and radius queries. A radius query
// returns its RadiusNeighbors record {offsets, indices, distances} (CSR rows).
#include <cstdint>
#include <string>
#include <type_traits>

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


// A float ArrayRef or CsrRef's dtype, for the one-dtype check of a search's arrays.
const std::string& dtype_of(const ArrayRef& a) { return a.dtype; }
const std::string& dtype_of(const CsrRef& a) { return a.dtype; }

// The view a search reads of either kind of rows.
template <typename T>
MatrixView<const T> rows_of(const ArrayRef& a) {
  return a.view<const T>();
}
template <typename T>
CsrView<T> rows_of(const CsrRef& a) {
  return a.view<T>();
}

// kneighbors and radius_neighbors where the index (I) or the queries (Q) are sparse (CsrRef):
// overloads of the dense functions' names, chosen by the arguments' types.
template <typename I, typename Q>
void bind_sparse_pair(py::module_& m) {
  m.def(
      "kneighbors",
      [](Context& ctx, const NeighborsParams& p, const I& index, const Q& queries,
         bool exclude_self, int64_t k, const ArrayRef& dist, const ArrayRef& idx) {
        GPULEARN_EXPECTS(idx.dtype == "int64" && dist.dtype == dtype_of(queries) &&
                             dtype_of(index) == dtype_of(queries),
                         "kneighbors: indices must be int64 and every float array one dtype");
        by_dtype(queries, [&](auto zero) {
          using T = decltype(zero);
          compute([&] {
            if constexpr (std::is_same_v<I, CsrRef> && std::is_same_v<Q, CsrRef>) {
              kneighbors<T>(ctx, p, rows_of<T>(index), rows_of<T>(queries), k, exclude_self,
                            dist.view<T>(), idx.view<int64_t>());
            } else {
              GPULEARN_EXPECTS(!exclude_self, "exclude_self needs the queries to be the index");
              kneighbors<T>(ctx, p, rows_of<T>(index), rows_of<T>(queries), k, dist.view<T>(),
                            idx.view<int64_t>());
            }
          });
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("index"), py::arg("queries"),
      py::arg("exclude_self"), py::arg("k"), py::arg("distances"), py::arg("indices"));
  m.def(
      "radius_neighbors",
      [](Context& ctx, const NeighborsParams& p, const I& index, const Q& queries,
         bool exclude_self, double radius, bool sort_results) {
        GPULEARN_EXPECTS(dtype_of(index) == dtype_of(queries),
                         "radius_neighbors: the index and the queries must share one dtype");
        return by_dtype(queries, [&](auto zero) {
          using T = decltype(zero);
          RadiusNeighbors<T> r = compute([&] {
            if constexpr (std::is_same_v<I, CsrRef> && std::is_same_v<Q, CsrRef>) {
              return radius_neighbors<T>(ctx, p, rows_of<T>(index), rows_of<T>(queries), radius,
                                         exclude_self, sort_results);
            } else {
              GPULEARN_EXPECTS(!exclude_self, "exclude_self needs the queries to be the index");
              return radius_neighbors<T>(ctx, p, rows_of<T>(index), rows_of<T>(queries), radius,
                                         sort_results);
            }
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

void bind_sparse(py::module_& m) {
  bind_sparse_pair<CsrRef, CsrRef>(m);
  bind_sparse_pair<CsrRef, ArrayRef>(m);
  bind_sparse_pair<ArrayRef, CsrRef>(m);
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
  bind_sparse(m);
}

}  // namespace gpulearn::bindings
