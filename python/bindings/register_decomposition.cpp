// gpulearn._core, decompositions: PCA and TruncatedSVD. Records: PcaModel's and
// TruncatedSvdModel's fields; transform and the PCA statistics take the record back. The fits
// also run over data implemented in Python (SpectralData, gpulearn.dask): the spectral_* block
// functions are LocalSpectralData's reductions on one block of rows.
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"
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

// The same transform of a CSR X (sparse input: forward only, inverse_transform's input is
// dense): forward(ctx, model, CsrView, out).
template <typename ModelOf, typename Forward>
auto sparse_projection(ModelOf model_of, Forward forward) {
  return [=](Context& ctx, const py::dict& record, const CsrRef& X, const ArrayRef& out,
             bool inverted) {
    GPULEARN_EXPECTS(!inverted, "inverse_transform takes dense input");
    by_dtype(X, [&](auto zero) {
      using T = decltype(zero);
      const auto model = model_of(record, zero);
      compute([&] { forward(ctx, model, X.view<T>(), out.view<T>()); });
    });
  };
}

// ---- the data interface across the binding

// An optional host array in T, C order (None: empty); `what` names it in errors.
template <typename T>
std::vector<T> host_values(const py::object& obj, const char* what) {
  if (obj.is_none()) return {};
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  GPULEARN_EXPECTS(a, what, " must be an array of numbers");
  return std::vector<T>(a.data(), a.data() + a.size());
}

// A host T array of `count` values as NumPy (shape `shape`), or None for a null pointer.
template <typename T>
py::object numpy_or_none(const T* data, std::vector<py::ssize_t> shape) {
  if (data == nullptr) return py::none();
  py::array_t<T> a(shape);
  std::copy(data, data + a.size(), a.mutable_data());
  return std::move(a);
}

// Copies the array `obj` (converted to U, C order) into out after checking its shape.
template <typename U>
void copy_result(const py::object& obj, const std::vector<py::ssize_t>& shape, U* out,
                 const char* what) {
  const auto a = py::array_t<U, py::array::c_style | py::array::forcecast>::ensure(obj);
  GPULEARN_EXPECTS(a && a.ndim() == static_cast<py::ssize_t>(shape.size()), what,
                   " returned no array of ", shape.size(), " dimension(s)");
  for (size_t i = 0; i < shape.size(); ++i) {
    GPULEARN_EXPECTS(a.shape(i) == shape[i], what, " returned an array of the wrong shape");
  }
  std::copy(a.data(), a.data() + a.size(), out);
}

// SpectralData as Python implements it (gpulearn.dask's blocks): the same reductions with NumPy
// arrays in and out; mean, Z and Y are None where the C++ pointer is null. Subclassed in Python
// through the trampoline below.
class PySpectralData {
 public:
  virtual ~PySpectralData() = default;
  virtual int64_t rows() = 0;
  virtual int64_t cols() = 0;
  virtual std::string dtype() = 0;  // "float32" or "float64": the T the fit computes in
  virtual double max_abs() = 0;
  virtual py::object column_means() = 0;                                    // (d,)
  virtual py::object centered_gram(py::object mean, double scale) = 0;      // (d, d)
  virtual py::object centered_r_factor(py::object mean, double scale) = 0;  // (min(n, d), d)
  // (out (d, l) float64, ||Xc||_F^2)
  virtual py::tuple centered_products(py::object mean, double scale, py::object Z,
                                      py::object Y) = 0;
};

class PySpectralDataTrampoline : public PySpectralData {
 public:
  int64_t rows() override { PYBIND11_OVERRIDE_PURE(int64_t, PySpectralData, rows); }
  int64_t cols() override { PYBIND11_OVERRIDE_PURE(int64_t, PySpectralData, cols); }
  std::string dtype() override { PYBIND11_OVERRIDE_PURE(std::string, PySpectralData, dtype); }
  double max_abs() override { PYBIND11_OVERRIDE_PURE(double, PySpectralData, max_abs); }
  py::object column_means() override {
    PYBIND11_OVERRIDE_PURE(py::object, PySpectralData, column_means);
  }
  py::object centered_gram(py::object mean, double scale) override {
    PYBIND11_OVERRIDE_PURE(py::object, PySpectralData, centered_gram, mean, scale);
  }
  py::object centered_r_factor(py::object mean, double scale) override {
    PYBIND11_OVERRIDE_PURE(py::object, PySpectralData, centered_r_factor, mean, scale);
  }
  py::tuple centered_products(py::object mean, double scale, py::object Z, py::object Y) override {
    PYBIND11_OVERRIDE_PURE(py::tuple, PySpectralData, centered_products, mean, scale, Z, Y);
  }
};

// The driver's view of a PySpectralData. The driver runs inside compute(), without the GIL: each
// reduction takes it for the call into Python. An exception raised in Python leaves the driver
// as pybind11's error_already_set, which pybind11 turns back into the original exception.
template <typename T>
class PythonSpectralData final : public SpectralData<T> {
 public:
  explicit PythonSpectralData(PySpectralData& py) : py_(py) {
    py::gil_scoped_acquire gil;
    rows_ = py_.rows();
    cols_ = py_.cols();
  }
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }

  T max_abs() override {
    py::gil_scoped_acquire gil;
    return static_cast<T>(py_.max_abs());
  }

  void column_means(T* mean) override {
    py::gil_scoped_acquire gil;
    copy_result<T>(py_.column_means(), {cols_}, mean, "column_means");
  }

  void centered_gram(const T* mean, T scale, T* gram) override {
    py::gil_scoped_acquire gil;
    copy_result<T>(py_.centered_gram(numpy_or_none(mean, {cols_}), scale), {cols_, cols_}, gram,
                   "centered_gram");
  }

  int64_t centered_r_factor(const T* mean, T scale, T* r_factor) override {
    py::gil_scoped_acquire gil;
    const int64_t r = std::min(rows_, cols_);
    copy_result<T>(py_.centered_r_factor(numpy_or_none(mean, {cols_}), scale), {r, cols_}, r_factor,
                   "centered_r_factor");
    return r;
  }

  double centered_products(const T* mean, T scale, int64_t l, const T* Z, const T* Y,
                           double* out) override {
    py::gil_scoped_acquire gil;
    const py::tuple result =
        py_.centered_products(numpy_or_none(mean, {cols_}), scale, numpy_or_none(Z, {cols_, l}),
                              numpy_or_none(Y, {rows_, l}));
    GPULEARN_EXPECTS(result.size() == 2, "centered_products returns (out, total)");
    copy_result<double>(result[0], {cols_, l}, out, "centered_products");
    return result[1].cast<double>();
  }

 private:
  PySpectralData& py_;
  int64_t rows_ = 0, cols_ = 0;
};

// f(PythonSpectralData<T>&) in the T the Python data computes in.
template <typename F>
auto by_data_dtype(PySpectralData& data, F f) {
  const std::string dtype = data.dtype();
  if (dtype == "float32") {
    PythonSpectralData<float> X(data);
    return f(X);
  }
  GPULEARN_EXPECTS(dtype == "float64", "unsupported dtype ", dtype,
                   ": expected float32 or float64");
  PythonSpectralData<double> X(data);
  return f(X);
}

// One block's reductions: LocalSpectralData on the block's rows, on the block's device.
void bind_spectral_blocks(py::module_& m) {
  py::class_<PySpectralData, PySpectralDataTrampoline>(
      m, "SpectralData",
      "The reductions a decomposition fit makes over X (decomposition::SpectralData), "
      "implemented in Python")
      .def(py::init<>())
      .def("rows", &PySpectralData::rows)
      .def("cols", &PySpectralData::cols)
      .def("dtype", &PySpectralData::dtype)
      .def("max_abs", &PySpectralData::max_abs)
      .def("column_means", &PySpectralData::column_means)
      .def("centered_gram", &PySpectralData::centered_gram)
      .def("centered_r_factor", &PySpectralData::centered_r_factor)
      .def("centered_products", &PySpectralData::centered_products);

  m.def(
      "spectral_max_abs",
      [](Context& ctx, const ArrayRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          LocalSpectralData<T> data(ctx, X.view<const T>());
          return static_cast<double>(compute([&] { return data.max_abs(); }));
        });
      },
      py::arg("ctx"), py::arg("X"));
  m.def(
      "spectral_column_means",
      [](Context& ctx, const ArrayRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          LocalSpectralData<T> data(ctx, X.view<const T>());
          std::vector<T> mean(X.cols);
          compute([&] { data.column_means(mean.data()); });
          return py::array(move_to_numpy(std::move(mean), {X.cols}));
        });
      },
      py::arg("ctx"), py::arg("X"));
  m.def(
      "spectral_centered_gram",
      [](Context& ctx, const ArrayRef& X, const py::object& mean, double scale) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          LocalSpectralData<T> data(ctx, X.view<const T>());
          const std::vector<T> mu = host_values<T>(mean, "mean");
          std::vector<T> gram(checked_mul(X.cols, X.cols));
          compute([&] {
            data.centered_gram(mu.empty() ? nullptr : mu.data(), static_cast<T>(scale),
                               gram.data());
          });
          return py::array(move_to_numpy(std::move(gram), {X.cols, X.cols}));
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("mean"), py::arg("scale"));
  m.def(
      "spectral_centered_r_factor",
      [](Context& ctx, const ArrayRef& X, const py::object& mean, double scale) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          LocalSpectralData<T> data(ctx, X.view<const T>());
          const std::vector<T> mu = host_values<T>(mean, "mean");
          std::vector<T> R(checked_mul(std::min(X.rows, X.cols), X.cols));
          const int64_t r = compute([&] {
            return data.centered_r_factor(mu.empty() ? nullptr : mu.data(), static_cast<T>(scale),
                                          R.data());
          });
          R.resize(checked_mul(r, X.cols));
          return py::array(move_to_numpy(std::move(R), {r, X.cols}));
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("mean"), py::arg("scale"));
  m.def(
      "spectral_centered_products",
      [](Context& ctx, const ArrayRef& X, const py::object& mean, double scale, const py::object& Z,
         const py::object& Y) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          LocalSpectralData<T> data(ctx, X.view<const T>());
          const std::vector<T> mu = host_values<T>(mean, "mean");
          // Exactly one of Z (n_features x l) and Y (the block's n_rows x l).
          GPULEARN_EXPECTS(Z.is_none() != Y.is_none(), "give exactly one of Z and Y");
          const bool by_z = !Z.is_none();
          const auto basis =
              py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(by_z ? Z : Y);
          GPULEARN_EXPECTS(basis && basis.ndim() == 2 && basis.shape(0) == (by_z ? X.cols : X.rows),
                           by_z ? "Z must be (n_features, l)" : "Y must be (n_rows, l)");
          const int64_t d = X.cols, l = basis.shape(1);
          std::vector<double> out(checked_mul(d, l));
          const double total = compute([&] {
            return data.centered_products(mu.empty() ? nullptr : mu.data(), static_cast<T>(scale),
                                          l, by_z ? basis.data() : nullptr,
                                          by_z ? nullptr : basis.data(), out.data());
          });
          return py::make_tuple(move_to_numpy(std::move(out), {d, l}), total);
        });
      },
      py::arg("ctx"), py::arg("X"), py::arg("mean"), py::arg("scale"), py::arg("Z") = py::none(),
      py::arg("Y") = py::none());
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
  bind_spectral_blocks(m);
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
  m.def(
      "pca_fit",
      [](Context& ctx, const PcaParams& p, const CsrRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return pca_record(compute([&] { return pca_fit<T>(ctx, p, X.view<T>()); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"));
  m.def(
      "pca_fit_data",
      [](Context& ctx, const PcaParams& p, PySpectralData& data) {
        return by_data_dtype(
            data, [&](auto& X) { return pca_record(compute([&] { return pca_fit(ctx, p, X); })); });
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"));
  m.def("pca_transform",
        projection([](const py::dict& r, auto zero) { return pca_model_of<decltype(zero)>(r); },
                   [](auto&&... a) { pca_transform(a...); },
                   [](auto&&... a) { pca_inverse_transform(a...); }),
        py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
  m.def("pca_transform",
        sparse_projection([](const py::dict& r, auto zero) { return pca_model_of<decltype(zero)>(r); },
                          [](auto&&... a) { pca_transform(a...); }),
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
  m.def(
      "truncated_svd_fit",
      [](Context& ctx, const TruncatedSvdParams& p, const CsrRef& X) {
        return by_dtype(X, [&](auto zero) {
          using T = decltype(zero);
          return spectrum_record(compute([&] { return truncated_svd_fit<T>(ctx, p, X.view<T>()); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("X"));
  m.def(
      "truncated_svd_fit_data",
      [](Context& ctx, const TruncatedSvdParams& p, PySpectralData& data) {
        return by_data_dtype(data, [&](auto& X) {
          return spectrum_record(compute([&] { return truncated_svd_fit(ctx, p, X); }));
        });
      },
      py::arg("ctx"), py::arg("params"), py::arg("data"));
  m.def("truncated_svd_transform",
        projection([](const py::dict& r, auto zero) { return tsvd_model_of<decltype(zero)>(r); },
                   [](auto&&... a) { truncated_svd_transform(a...); },
                   [](auto&&... a) { truncated_svd_inverse_transform(a...); }),
        py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
  m.def("truncated_svd_transform",
        sparse_projection(
            [](const py::dict& r, auto zero) { return tsvd_model_of<decltype(zero)>(r); },
            [](auto&&... a) { truncated_svd_transform(a...); }),
        py::arg("ctx"), py::arg("model"), py::arg("X"), py::arg("out"), py::arg("inverse"));
}

}  // namespace gpulearn::bindings
