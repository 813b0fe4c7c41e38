// gpulearn._core, clustering: KMeans. Record: {centers, inertia, n_iter, tol} (KMeansModel);
// predict and transform take a record with centers (n_clusters x n_features).
#include <cstdint>
#include <string>

#include "common.hpp"
#include "gpulearn/cluster/kmeans.hpp"

namespace gpulearn::bindings {
namespace {

using namespace cluster;

template <typename T>
KMeansModel<T> kmeans_model_of(const py::dict& record) {
  const auto centers = record_array<T>(record, "centers");
  GPULEARN_EXPECTS(centers.ndim() == 2, "cluster centers must be (n_clusters, n_features)");
  KMeansModel<T> m;
  m.n_clusters = centers.shape(0);
  m.n_features = centers.shape(1);
  m.centers.assign(centers.data(), centers.data() + centers.size());
  return m;
}

template <typename T>
py::dict kmeans_record(const KMeansModel<T>& m) {
  py::dict d;
  d["centers"] = to_numpy(m.centers, {m.n_clusters, m.n_features});
  d["inertia"] = m.inertia;
  d["n_iter"] = m.n_iter;
  d["tol"] = m.tol;
  return d;
}

void bind_params(py::module_& m) {
  auto cls = params_class<KMeansParams>(m, "KMeansParams", "cluster::KMeansParams");
  cls.def_readwrite("n_clusters", &KMeansParams::n_clusters)
      .def_readwrite("n_init", &KMeansParams::n_init)
      .def_readwrite("max_iter", &KMeansParams::max_iter)
      .def_readwrite("tol", &KMeansParams::tol)
      .def_readwrite("seed", &KMeansParams::seed)
      .def_readwrite("n_local_trials", &KMeansParams::n_local_trials)
      .def_readwrite("parallel_rounds", &KMeansParams::parallel_rounds)
      .def_readwrite("oversampling_factor", &KMeansParams::oversampling_factor);
  // "array": the centers given to kmeans_fit (scikit-learn's init=ndarray).
  def_enum(cls, "init", &KMeansParams::init,
           {{KMeansInit::kKMeansPlusPlus, "k-means++"},
            {KMeansInit::kRandom, "random"},
            {KMeansInit::kArray, "array"},
            {KMeansInit::kParallel, "k-means||"}},
           [](const std::string& s) {
             GPULEARN_FAIL(InvalidArgument,
                           "init must be 'k-means++', 'random', 'k-means||' or an array, got '", s,
                           "'");
           });
}

}  // namespace

void register_cluster(py::module_& m) {
  bind_params(m);
  m.def(
      "kmeans_fit",
      [](Context& ctx, const KMeansParams& p, const ArrayRef& X, const py::object& w,
         const py::object& init_centers, const ArrayRef& labels) {
        int32_t* out = labels_out(labels, X.rows);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          py::array_t<T, py::array::c_style> init;
          if (p.init == KMeansInit::kArray) {
            init = py::array_t<T, py::array::c_style>::ensure(init_centers);
            GPULEARN_EXPECTS(init && init.ndim() == 2 && init.shape(0) == p.n_clusters &&
                                 init.shape(1) == X.cols,
                             "The shape of the initial centers must be (n_clusters, n_features) "
                             "= (",
                             p.n_clusters, ", ", X.cols, ")");
          }
          const T* start = init ? init.data() : nullptr;
          return kmeans_record(compute([&] {
            return kmeans_fit<T>(ctx, p, X.view<const T>(), weights_of<T>(w), start, out);
          }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("sample_weight"),
      py::arg("init_centers"), py::arg("labels"));
  m.def(
      "kmeans_predict",
      [](Context& ctx, const py::dict& record, const ArrayRef& X, const py::object& w,
         const ArrayRef& labels) {
        int32_t* out = labels_out(labels, X.rows);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const KMeansModel<T> model = kmeans_model_of<T>(record);
          return compute([&] {
            return kmeans_predict<T>(ctx, model, X.view<const T>(), weights_of<T>(w), out);
          });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("sample_weight"), py::arg("labels"));
  m.def(
      "kmeans_sq_distances",
      [](Context& ctx, const py::dict& record, const ArrayRef& X, const ArrayRef& out) {
        by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const KMeansModel<T> model = kmeans_model_of<T>(record);
          compute([&] { kmeans_sq_distances<T>(ctx, model, X.view<const T>(), out.view<T>()); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"));
}

}  // namespace gpulearn::bindings
