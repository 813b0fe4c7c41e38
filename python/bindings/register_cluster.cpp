// gpulearn._core, clustering: KMeans. Record: {centers, inertia, n_iter, tol} (KMeansModel);
// predict and transform take a record with centers (n_clusters x n_features).
//
// The driver over a data interface (include/gpulearn/cluster/kmeans_data.hpp), for
// gpulearn.dask: KMeansDataFloat32/64 are the interface, to subclass in Python (a trampoline
// calls the Python methods, with the GIL, from the driver, and a Python exception raised there
// leaves kmeans_fit_data as itself); kmeans_block(ctx, X, w, offset, state...) is the local
// implementation over one block of rows, whose methods the workers call. Both speak the same
// Python signatures:
//   check() -> (max_abs_x, max_weight)
//   reset_labels(), keep_labels(), release_potentials(), take_candidate(c)
//   assign(shift|None, centers (k, d), weighted, keep_distances, want_sums, want_weights)
//       -> (inertia, changed, sums (k, d) float64 | None, weights (k,) float64 | None)
//   init_potentials(shift, center (1, d)); lower_potentials(shift, candidates (m, d))
//   candidate_potentials(shift, candidates (t, d)) -> (t,) float64
//   total(by_potentials) -> float
//   weighted_draws(by_potentials, u (t,) float64) -> (t,) int64
//   independent_draws(scale, seed) -> int64 array, ascending
//   largest_distances(m) -> ((m,) int64, (m,) T)
//   rows(idx (t,) int64, want_labels, want_weights) -> ((t, d) T, (t,) int32 | None,
//       (t,) float64 | None)
// Row indices are global (a block adds its offset).
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/cluster/kmeans_data.hpp"

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

// ---- the data interface across the binding

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
py::object host_array(const T* data, std::vector<py::ssize_t> shape) {
  if (data == nullptr) return py::none();
  py::array_t<T> a(shape);
  py::ssize_t size = 1;
  for (const auto s : shape) size *= s;
  std::copy(data, data + size, a.mutable_data());
  return std::move(a);
}

// `obj` as an array of exactly `size` U, copied into out (a Python implementation's result).
template <typename U>
void copy_result(const py::handle& obj, U* out, int64_t size, const char* what) {
  const auto a = Array<U>::ensure(obj);
  GPULEARN_EXPECTS(a && a.size() == size, "KMeansData.", what, " returned ",
                   a ? std::to_string(a.size()) : std::string("no array"), " values, expected ",
                   size);
  std::copy(a.data(), a.data() + size, out);
}

// Calls the Python methods of a KMeansData subclass (the driver runs with the GIL released).
template <typename T>
class PyKMeansData : public KMeansData<T> {
 public:
  using Base = KMeansData<T>;

  int64_t n_rows() override { PYBIND11_OVERRIDE_PURE(int64_t, Base, n_rows, ); }
  int64_t n_features() override { PYBIND11_OVERRIDE_PURE(int64_t, Base, n_features, ); }
  bool has_weights() override { PYBIND11_OVERRIDE_PURE(bool, Base, has_weights, ); }
  void reset_labels() override { PYBIND11_OVERRIDE_PURE(void, Base, reset_labels, ); }
  void keep_labels() override { PYBIND11_OVERRIDE_PURE(void, Base, keep_labels, ); }
  void take_candidate(int64_t c) override { PYBIND11_OVERRIDE_PURE(void, Base, take_candidate, c); }
  double total(bool by_potentials) override {
    PYBIND11_OVERRIDE_PURE(double, Base, total, by_potentials);
  }
  void release_potentials() override { PYBIND11_OVERRIDE_PURE(void, Base, release_potentials, ); }

  // The methods exchanging arrays convert them here (PYBIND11_OVERRIDE_PURE cannot: pointers).
  KMeansDataRange check() override {
    py::gil_scoped_acquire gil;
    const py::tuple r(method("check")());
    return KMeansDataRange{r[0].cast<double>(), r[1].cast<double>()};
  }
  KMeansPassStats assign(const T* shift, const T* centers, int64_t k, bool weighted,
                         bool keep_distances, double* sums, double* weights) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    const py::tuple r(method("assign")(host_array(shift, {d}), host_array(centers, {k, d}),
                                       weighted, keep_distances, sums != nullptr,
                                       weights != nullptr));
    if (sums != nullptr) copy_result(r[2], sums, k * d, "assign");
    if (weights != nullptr) copy_result(r[3], weights, k, "assign");
    return KMeansPassStats{r[0].cast<double>(), r[1].cast<int64_t>()};
  }
  void init_potentials(const T* shift, const T* center) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    method("init_potentials")(host_array(shift, {d}), host_array(center, {1, d}));
  }
  void candidate_potentials(const T* shift, const T* candidates, int64_t t, double* out) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    copy_result(
        method("candidate_potentials")(host_array(shift, {d}), host_array(candidates, {t, d})), out,
        t, "candidate_potentials");
  }
  void lower_potentials(const T* shift, const T* candidates, int64_t m) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    method("lower_potentials")(host_array(shift, {d}), host_array(candidates, {m, d}));
  }
  void weighted_draws(bool by_potentials, const double* u, int64_t t, int64_t* idx) override {
    py::gil_scoped_acquire gil;
    copy_result(method("weighted_draws")(by_potentials, host_array(u, {t})), idx, t,
                "weighted_draws");
  }
  std::vector<int64_t> independent_draws(double scale, uint64_t seed) override {
    py::gil_scoped_acquire gil;
    const auto a = Array<int64_t>::ensure(method("independent_draws")(scale, seed));
    GPULEARN_EXPECTS(a && a.ndim() == 1, "KMeansData.independent_draws must return indices");
    return std::vector<int64_t>(a.data(), a.data() + a.size());
  }
  void largest_distances(int64_t m, int64_t* idx, T* values) override {
    py::gil_scoped_acquire gil;
    const py::tuple r(method("largest_distances")(m));
    copy_result(r[0], idx, m, "largest_distances");
    if (values != nullptr) copy_result(r[1], values, m, "largest_distances");
  }
  void rows(const int64_t* idx, int64_t t, T* out, int32_t* labels, double* weights) override {
    py::gil_scoped_acquire gil;
    const int64_t d = this->n_features();
    const py::tuple r(method("rows")(host_array(idx, {t}), labels != nullptr, weights != nullptr));
    copy_result(r[0], out, t * d, "rows");
    if (labels != nullptr) copy_result(r[1], labels, t, "rows");
    if (weights != nullptr) copy_result(r[2], weights, t, "rows");
  }

 private:
  py::function method(const char* name) {
    py::function f = py::get_override(static_cast<const Base*>(this), name);
    if (!f) {
      throw py::type_error(std::string("KMeansData subclass does not implement ") + name + "()");
    }
    return f;
  }
};

// The Python methods of a LocalKMeansData over one block (the signatures at the top).
template <typename T>
void def_block_methods(py::class_<LocalKMeansData<T>>& cls) {
  using D = LocalKMeansData<T>;
  // A shift (None: no shift, a null pointer; a default array_t is an empty array, not null).
  struct Shift {
    Array<T> array;
    const T* data = nullptr;
  };
  const auto shift_of = [](const py::object& s) {
    Shift out;
    if (!s.is_none()) {
      out.array = Array<T>::ensure(s);
      GPULEARN_EXPECTS(out.array, "the shift must be an array of numbers");
      out.data = out.array.data();
    }
    return out;
  };
  cls.def("check",
          [](D& b) {
            const KMeansDataRange r = compute([&] { return b.check(); });
            return py::make_tuple(r.max_abs_x, r.max_weight);
          })
      .def("reset_labels", [](D& b) { compute([&] { b.reset_labels(); }); })
      .def("keep_labels", [](D& b) { compute([&] { b.keep_labels(); }); })
      .def("release_potentials", [](D& b) { compute([&] { b.release_potentials(); }); })
      .def("take_candidate", [](D& b, int64_t c) { compute([&] { b.take_candidate(c); }); })
      .def("total", [](D& b, bool by) { return compute([&] { return b.total(by); }); })
      .def("flush", [](D& b) { compute([&] { b.flush(); }); })
      .def("assign",
           [shift_of](D& b, const py::object& shift, const Array<T>& centers, bool weighted,
                      bool keep, bool want_sums, bool want_weights) {
             const Shift s = shift_of(shift);
             const int64_t k = centers.shape(0), d = b.n_features();
             GPULEARN_EXPECTS(centers.ndim() == 2 && centers.shape(1) == d,
                              "centers must be (k, n_features)");
             std::vector<double> sums(want_sums ? k * d : 0), weights(want_weights ? k : 0);
             const KMeansPassStats st = compute([&] {
               return b.assign(s.data, centers.data(), k, weighted, keep,
                               want_sums ? sums.data() : nullptr,
                               want_weights ? weights.data() : nullptr);
             });
             return py::make_tuple(
                 st.inertia, st.changed,
                 want_sums ? py::object(move_to_numpy(std::move(sums), {k, d})) : py::none(),
                 want_weights ? py::object(move_to_numpy(std::move(weights), {k})) : py::none());
           })
      .def("init_potentials",
           [shift_of](D& b, const py::object& shift, const Array<T>& center) {
             const Shift s = shift_of(shift);
             compute([&] { b.init_potentials(s.data, center.data()); });
           })
      .def("candidate_potentials",
           [shift_of](D& b, const py::object& shift, const Array<T>& cands) {
             const Shift s = shift_of(shift);
             const int64_t t = cands.shape(0);
             std::vector<double> pot(t);
             compute([&] { b.candidate_potentials(s.data, cands.data(), t, pot.data()); });
             return move_to_numpy(std::move(pot), {t});
           })
      .def("lower_potentials",
           [shift_of](D& b, const py::object& shift, const Array<T>& cands) {
             const Shift s = shift_of(shift);
             compute([&] { b.lower_potentials(s.data, cands.data(), cands.shape(0)); });
           })
      .def("weighted_draws",
           [](D& b, bool by, const Array<double>& u) {
             const int64_t t = u.size();
             std::vector<int64_t> idx(t);
             compute([&] { b.weighted_draws(by, u.data(), t, idx.data()); });
             return move_to_numpy(std::move(idx), {t});
           })
      .def("independent_draws",
           [](D& b, double scale, uint64_t seed) {
             std::vector<int64_t> idx = compute([&] { return b.independent_draws(scale, seed); });
             const auto t = len(idx.size());
             return move_to_numpy(std::move(idx), {t});
           })
      .def("largest_distances",
           [](D& b, int64_t m) {
             std::vector<int64_t> idx(m);
             std::vector<T> values(m);
             compute([&] { b.largest_distances(m, idx.data(), values.data()); });
             return py::make_tuple(move_to_numpy(std::move(idx), {m}),
                                   move_to_numpy(std::move(values), {m}));
           })
      .def("rows", [](D& b, const Array<int64_t>& idx, bool want_labels, bool want_weights) {
        const int64_t t = idx.size(), d = b.n_features();
        std::vector<T> out(t * d);
        std::vector<int32_t> labels(want_labels ? t : 0);
        std::vector<double> weights(want_weights ? t : 0);
        compute([&] {
          b.rows(idx.data(), t, out.data(), want_labels ? labels.data() : nullptr,
                 want_weights ? weights.data() : nullptr);
        });
        return py::make_tuple(
            move_to_numpy(std::move(out), {t, d}),
            want_labels ? py::object(move_to_numpy(std::move(labels), {t})) : py::none(),
            want_weights ? py::object(move_to_numpy(std::move(weights), {t})) : py::none());
      });
}

// An optional per-row state array of the block (None: not used by this call).
template <typename U>
U* state_of(const py::object& ref, int64_t rows, int64_t cols, bool on_device, const char* what) {
  if (ref.is_none()) return nullptr;
  const auto a = ref.cast<ArrayRef>();
  GPULEARN_EXPECTS(
      a.rows == rows && a.cols == cols && (a.ld == cols || a.rows <= 1) && a.on_device == on_device,
      "k-means block state '", what, "' must be a contiguous (", rows, ", ", cols,
      ") array where X is");
  return reinterpret_cast<U*>(a.ptr);
}

template <typename T>
void bind_data(py::module_& m, const char* interface, const char* block) {
  py::class_<KMeansData<T>, PyKMeansData<T>>(m, interface,
                                             "k-means' passes over its data (subclass in Python)")
      .def(py::init<>());
  py::class_<LocalKMeansData<T>> cls(m, block, "k-means' passes over one block of rows");
  def_block_methods(cls);
  m.def(
      "kmeans_fit_data",
      [](const KMeansParams& p, KMeansData<T>& data, const py::object& init_centers) {
        Array<T> init;
        const T* start = nullptr;
        if (p.init == KMeansInit::kArray) {
          init = Array<T>::ensure(init_centers);
          GPULEARN_EXPECTS(init && init.ndim() == 2 && init.shape(0) == p.n_clusters &&
                               init.shape(1) == data.n_features(),
                           "The shape of the initial centers must be (n_clusters, n_features) "
                           "= (",
                           p.n_clusters, ", ", data.n_features(), ")");
          start = init.data();
        }
        return kmeans_record(compute([&] { return kmeans_fit<T>(p, data, start); }));
      },
      py::arg("params"), py::arg("data"), py::arg("init_centers"));
}

}  // namespace

void register_cluster(py::module_& m) {
  bind_data<float>(m, "KMeansDataFloat32", "KMeansBlockFloat32");
  bind_data<double>(m, "KMeansDataFloat64", "KMeansBlockFloat64");
  // One block of rows [offset, offset + rows) with its per-row state (ArrayRefs in X's memory,
  // None where unused; candidates is rows x n_candidates). Keep X, w and the state alive while
  // the block is used.
  m.def(
      "kmeans_block",
      [](Context& ctx, const ArrayRef& X, const py::object& w, int64_t offset,
         const py::object& labels, const py::object& best_labels, const py::object& distances,
         const py::object& potentials, const py::object& candidates) -> py::object {
        return by_dtype(X, [&](auto zero) -> py::object {
          using T = decltype(zero);
          KMeansRowState<T> st;
          const int64_t n = X.rows;
          st.labels = state_of<int32_t>(labels, n, 1, X.on_device, "labels");
          st.best_labels = state_of<int32_t>(best_labels, n, 1, X.on_device, "best_labels");
          st.distances = state_of<T>(distances, n, 1, X.on_device, "distances");
          st.potentials = state_of<T>(potentials, n, 1, X.on_device, "potentials");
          if (!candidates.is_none()) {
            const auto c = candidates.cast<ArrayRef>();
            st.n_candidates = c.cols;
            st.candidates = state_of<T>(candidates, n, c.cols, X.on_device, "candidates");
          }
          return py::cast(std::make_unique<LocalKMeansData<T>>(ctx, X.view<const T>(),
                                                               weights_of<T>(w), offset, st));
        });
      },
      py::keep_alive<0, 1>(), py::arg("ctx"), py::arg("X"), py::arg("sample_weight"),
      py::arg("offset"), py::arg("labels") = py::none(), py::arg("best_labels") = py::none(),
      py::arg("distances") = py::none(), py::arg("potentials") = py::none(),
      py::arg("candidates") = py::none());
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

  // Sparse X (a CsrRef, gpulearn/_sparse.py): the same functions over SparseKMeansData.
  m.def(
      "kmeans_fit",
      [](Context& ctx, const KMeansParams& p, const CsrRef& X, const py::object& w,
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
          return kmeans_record(compute(
              [&] { return kmeans_fit<T>(ctx, p, X.view<T>(), weights_of<T>(w), start, out); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"), py::arg("sample_weight"),
      py::arg("init_centers"), py::arg("labels"));
  m.def(
      "kmeans_predict",
      [](Context& ctx, const py::dict& record, const CsrRef& X, const py::object& w,
         const ArrayRef& labels) {
        int32_t* out = labels_out(labels, X.rows);
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const KMeansModel<T> model = kmeans_model_of<T>(record);
          return compute(
              [&] { return kmeans_predict<T>(ctx, model, X.view<T>(), weights_of<T>(w), out); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("sample_weight"), py::arg("labels"));
  m.def(
      "kmeans_sq_distances",
      [](Context& ctx, const py::dict& record, const CsrRef& X, const ArrayRef& out) {
        by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const KMeansModel<T> model = kmeans_model_of<T>(record);
          compute([&] { kmeans_sq_distances<T>(ctx, model, X.view<T>(), out.view<T>()); });
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"));
}

}  // namespace gpulearn::bindings
