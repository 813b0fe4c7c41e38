// gpulearn._core, decompositions: PCA and TruncatedSVD. Records: PcaModel's and
// TruncatedSvdModel's fields; transform and the PCA statistics take the record back.
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"

namespace gpulearn::bindings {
namespace {

using namespace decomposition;

template <typename T>
PcaModel<T> pca_model_of(const py::dict& d) {
  PcaModel<T> m;
  m.components = record_vector<T>(d, "components");
  m.explained_variance = record_vector<T>(d, "explained_variance");
  m.mean = record_vector<T>(d, "mean");
  m.n_features = static_cast<int64_t>(m.mean.size());
  m.n_components = static_cast<int64_t>(m.explained_variance.size());
  GPULEARN_EXPECTS(static_cast<int64_t>(m.components.size()) == m.n_components * m.n_features,
                   "components must be (n_components, n_features)");
  m.noise_variance = d["noise_variance"].cast<double>();
  m.whiten = d["whiten"].cast<bool>();
  return m;
}

// The fields PcaModel and TruncatedSvdModel share: the components and their spectrum (the
// whole record of a TruncatedSvdModel).
template <typename Model>
py::dict spectrum_record(const Model& m) {
  py::dict d;
  const py::ssize_t k = m.n_components;
  d["components"] = to_numpy(m.components, {k, m.n_features});
  d["explained_variance"] = to_numpy(m.explained_variance, {k});
  d["explained_variance_ratio"] = to_numpy(m.explained_variance_ratio, {k});
  d["singular_values"] = to_numpy(m.singular_values, {k});
  return d;
}

template <typename T>
py::dict pca_record(const PcaModel<T>& m) {
  py::dict d = spectrum_record(m);
  d["mean"] = to_numpy(m.mean, {m.n_features});
  d["noise_variance"] = m.noise_variance;
  d["n_components"] = m.n_components;
  d["whiten"] = m.whiten;
  d["fit_transform_components"] =
      m.fit_transform_components.empty()
          ? py::object(py::none())
          : py::object(to_numpy(m.fit_transform_components, {m.n_components, m.n_features}));
  d["solver"] = m.solver;
  return d;
}

template <typename T>
TruncatedSvdModel<T> tsvd_model_of(const py::dict& d) {
  const auto components = record_array<T>(d, "components");
  GPULEARN_EXPECTS(components.ndim() == 2, "components must be (n_components, n_features)");
  TruncatedSvdModel<T> m;
  m.n_components = components.shape(0);
  m.n_features = components.shape(1);
  m.components.assign(components.data(), components.data() + components.size());
  return m;
}

// scikit-learn's n_components: None (all), an int (a count), a float (a variance fraction) or
// "mle".
NComponents n_components_of(const py::object& v) {
  if (v.is_none()) return NComponents::all();
  if (py::isinstance<py::str>(v)) {
    const auto s = v.cast<std::string>();
    GPULEARN_EXPECTS(s == "mle", "n_components must be None, an int, a float or 'mle', got '", s,
                     "'");
    return NComponents::mle();
  }
  if (py::isinstance<py::int_>(v) || py::hasattr(v, "__index__")) {
    return NComponents::of(v.cast<int64_t>());
  }
  return NComponents::variance_fraction(v.cast<double>());
}

py::object n_components_value(const NComponents& n) {
  switch (n.kind) {
    case NComponents::Kind::kAll:
      return py::none();
    case NComponents::Kind::kCount:
      return py::int_(n.count);
    case NComponents::Kind::kVarianceFraction:
      return py::float_(n.fraction);
    case NComponents::Kind::kMle:
      return py::str("mle");
  }
  return py::none();
}

// The randomized solvers' start matrix: None (drawn from random_state) or an array of numbers.
template <typename P>
void def_random_start(py::class_<P>& cls) {
  cls.def_property(
      "random_start",
      [](const P& p) -> py::object {
        if (p.random_start.empty()) return py::none();
        return to_numpy(p.random_start, {len(p.random_start.size())});
      },
      [](P& p, const py::object& v) { p.random_start = doubles_of(v); });
}

// transform(ctx, model record, X, out, inverse) of a decomposition: model_of(record, T{}) reads
// the model in X's type; forward/inverse(ctx, model, X, out) project.
template <typename ModelOf, typename Forward, typename Inverse>
auto projection(ModelOf model_of, Forward forward, Inverse inverse) {
  return [=](Context& ctx, const py::dict& record, const ArrayRef& X, const ArrayRef& out,
             bool inverted) {
    by_dtype(X, [&](auto zero) {
      using T = decltype(zero);
      const auto model = model_of(record, zero);
      compute([&] {
        if (inverted) {
          inverse(ctx, model, X.view<const T>(), out.view<T>());
        } else {
          forward(ctx, model, X.view<const T>(), out.view<T>());
        }
      });
    });
  };
}

const EnumNames<PcaSolver> kPcaSolvers = {{PcaSolver::kAuto, "auto"},
                                          {PcaSolver::kFull, "full"},
                                          {PcaSolver::kCovarianceEigh, "covariance_eigh"},
                                          {PcaSolver::kRandomized, "randomized"},
                                          {PcaSolver::kArpack, "arpack"}};

void bind_params(py::module_& m) {
  auto pca = params_class<PcaParams>(m, "PcaParams", "decomposition::PcaParams");
  pca.def_property(
         "n_components", [](const PcaParams& p) { return n_components_value(p.n_components); },
         [](PcaParams& p, const py::object& v) { p.n_components = n_components_of(v); })
      .def_readwrite("whiten", &PcaParams::whiten)
      .def_readwrite("tol", &PcaParams::tol)
      .def_property(
          "iterated_power",
          [](const PcaParams& p) -> py::object {
            return p.iterated_power < 0 ? py::object(py::str("auto"))
                                        : py::object(py::int_(p.iterated_power));
          },
          [](PcaParams& p, const py::object& v) {
            p.iterated_power =
                py::isinstance<py::str>(v) && v.cast<std::string>() == "auto" ? -1 : v.cast<int>();
          })
      .def_readwrite("n_oversamples", &PcaParams::n_oversamples)
      .def_readwrite("random_state", &PcaParams::random_state);
  def_enum(pca, "svd_solver", &PcaParams::svd_solver, kPcaSolvers, [](const std::string& s) {
    GPULEARN_FAIL(InvalidArgument, "unknown svd_solver '", s, "'");
  });
  def_random_start(pca);

  auto tsvd = params_class<TruncatedSvdParams>(m, "TruncatedSvdParams",
                                               "decomposition::TruncatedSvdParams");
  tsvd.def_readwrite("n_components", &TruncatedSvdParams::n_components)
      .def_readwrite("n_iter", &TruncatedSvdParams::n_iter)
      .def_readwrite("n_oversamples", &TruncatedSvdParams::n_oversamples)
      .def_readwrite("random_state", &TruncatedSvdParams::random_state)
      .def_readwrite("tol", &TruncatedSvdParams::tol);
  def_enum(
      tsvd, "algorithm", &TruncatedSvdParams::algorithm,
      {{TruncatedSvdAlgorithm::kRandomized, "randomized"},
       {TruncatedSvdAlgorithm::kArpack, "arpack"}},
      [](const std::string& s) { GPULEARN_FAIL(InvalidArgument, "unknown algorithm '", s, "'"); });
  def_random_start(tsvd);
}

}  // namespace

void register_decomposition(py::module_& m) {
  bind_params(m);
  m.def(
      "pca_resolve_solver",
      [](const PcaParams& p, int64_t n, int64_t d) {
        return std::string(name_of(kPcaSolvers, pca_resolve_solver(p, n, d)));
      },
      py::arg("params"), py::arg("n"), py::arg("d"));
  m.def(
      "pca_fit",
      [](Context& ctx, const PcaParams& p, const ArrayRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return pca_record(compute([&] { return pca_fit<T>(ctx, p, X.view<const T>()); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"));
  m.def("pca_transform",
        projection([](const py::dict& r, auto zero) { return pca_model_of<decltype(zero)>(r); },
                   [](auto&&... a) { pca_transform(a...); },
                   [](auto&&... a) { pca_inverse_transform(a...); }),
        py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
  m.def(
      "pca_covariance",
      [](Context& ctx, const py::dict& record, const std::string& dtype, bool precision) {
        auto run = [&](auto zero) {
          using T = decltype(zero);
          const PcaModel<T> model = pca_model_of<T>(record);
          const std::vector<T> c = compute([&] {
            return precision ? pca_precision<T>(ctx, model) : pca_covariance<T>(ctx, model);
          });
          return py::array(to_numpy(c, {model.n_features, model.n_features}));
        };
        return dtype == "float32" ? run(0.0f) : run(0.0);
      },
      py::arg("ctx"), py::arg("model"), py::arg("dtype"), py::arg("precision"));
  m.def(
      "pca_score_samples",
      [](Context& ctx, const py::dict& record, const ArrayRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          const PcaModel<T> model = pca_model_of<T>(record);
          py::array_t<T> out(X.rows);
          T* data = out.mutable_data();
          compute([&] {
            pca_score_samples<T>(ctx, model, X.view<const T>(), VectorView<T>(data, X.rows));
          });
          return py::array(out);
        });
      },
      py::arg("ctx"), py::arg("model"), py::arg("X"));
  m.def(
      "truncated_svd_fit",
      [](Context& ctx, const TruncatedSvdParams& p, const ArrayRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return spectrum_record(
              compute([&] { return truncated_svd_fit<T>(ctx, p, X.view<const T>()); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"));
  m.def("truncated_svd_transform",
        projection([](const py::dict& r, auto zero) { return tsvd_model_of<decltype(zero)>(r); },
                   [](auto&&... a) { truncated_svd_transform(a...); },
                   [](auto&&... a) { truncated_svd_inverse_transform(a...); }),
        py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
}

}  // namespace gpulearn::bindings
