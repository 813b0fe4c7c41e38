// gpulearn._core: the thin compiled layer under the pure-Python estimators. This file holds
// what every family uses (errors, ArrayRef, Context, the device queries, build_info); each
// family registers its own functions and classes (register_<family>.cpp), under the
// conventions of common.hpp.
#include <cstdint>
#include <string>
#include <utility>

#include "common.hpp"
#include "gpulearn/core/device.hpp"

namespace gpulearn::bindings {

void register_core(py::module_& m) {
  // Errors: the C++ hierarchy mapped onto the exceptions scikit-learn users expect.
  static py::exception<DeviceError> device_error(m, "DeviceError", PyExc_RuntimeError);
  static py::exception<NotFitted> not_fitted(m, "NotFittedError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const Unsupported& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const NotFitted& e) {
      PyErr_SetString(not_fitted.ptr(), e.what());
    } catch (const DeviceError& e) {
      PyErr_SetString(device_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<ArrayRef>(m, "ArrayRef")
      .def(py::init([](std::uintptr_t ptr, int64_t rows, int64_t cols, int64_t ld,
                       std::string dtype, bool on_device) {
             return ArrayRef{ptr, rows, cols, ld, std::move(dtype), on_device};
           }),
           py::arg("ptr"), py::arg("rows"), py::arg("cols"), py::arg("ld"), py::arg("dtype"),
           py::arg("on_device"))
      // The descriptor of a host NumPy array (1-D: a column), read from the array in C++:
      // the one Python spelled out costs microseconds per call (a dict for
      // __array_interface__, the dtype's name), which a small predict pays twice.
      .def_static(
          "of_host",
          [](const py::array& a) {
            GPULEARN_EXPECTS(a.ndim() == 1 || a.ndim() == 2,
                             "ArrayRef.of_host takes a 1-D or 2-D array, got ", a.ndim(), "-D");
            const int64_t item = a.itemsize();
            const int64_t rows = a.shape(0), cols = a.ndim() == 2 ? a.shape(1) : 1;
            const int64_t ld = rows > 1 ? a.strides(0) / item : (a.ndim() == 2 ? cols : 1);
            const char kind = a.dtype().kind();
            std::string dtype;
            if ((kind == 'f' || kind == 'i') && (item == 4 || item == 8)) {
              dtype = std::string(kind == 'f' ? "float" : "int") + (item == 4 ? "32" : "64");
            } else {
              dtype = py::str(a.dtype().attr("name"));
            }
            return ArrayRef{reinterpret_cast<std::uintptr_t>(a.data()),
                            rows,
                            cols,
                            ld,
                            std::move(dtype),
                            false};
          },
          py::arg("array"))
      .def_readonly("rows", &ArrayRef::rows)
      .def_readonly("cols", &ArrayRef::cols)
      .def_readonly("dtype", &ArrayRef::dtype)
      .def_readonly("on_device", &ArrayRef::on_device);

  // A host CSR matrix (scipy's, made canonical by gpulearn/_sparse.py): the arrays are checked
  // for their dtypes and contiguity here, and the structure (offsets, column range) in C++
  // before any pass reads it.
  py::class_<CsrRef>(m, "CsrRef")
      .def_static(
          "of_host",
          [](const py::array& values, const py::array& indices, const py::array& indptr,
             int64_t rows, int64_t cols) {
            auto contiguous_1d = [](const py::array& a) {
              return a.ndim() == 1 && (a.shape(0) <= 1 || a.strides(0) == a.itemsize());
            };
            GPULEARN_EXPECTS(contiguous_1d(values) && contiguous_1d(indices) &&
                                 contiguous_1d(indptr),
                             "CsrRef.of_host takes contiguous 1-D arrays");
            const char kind = values.dtype().kind();
            GPULEARN_EXPECTS(kind == 'f' && (values.itemsize() == 4 || values.itemsize() == 8),
                             "sparse values must be float32 or float64");
            GPULEARN_EXPECTS(indices.dtype().kind() == 'i' && indices.itemsize() == 4,
                             "sparse column indices must be int32");
            GPULEARN_EXPECTS(indptr.dtype().kind() == 'i' && indptr.itemsize() == 8,
                             "sparse row offsets must be int64");
            GPULEARN_EXPECTS(indptr.shape(0) == rows + 1, "sparse row offsets have ",
                             indptr.shape(0), " entries for ", rows, " rows");
            CsrRef ref{reinterpret_cast<std::uintptr_t>(values.data()),
                       reinterpret_cast<std::uintptr_t>(indices.data()),
                       reinterpret_cast<std::uintptr_t>(indptr.data()),
                       rows,
                       cols,
                       values.itemsize() == 4 ? "float32" : "float64",
                       false};
            const int64_t stored = std::min<int64_t>(values.shape(0), indices.shape(0));
            by_dtype(ref, [&](auto zero) {
              using T = decltype(zero);
              return check_csr_structure(ref.view<T>(), stored);
            });
            return ref;
          },
          py::arg("values"), py::arg("indices"), py::arg("indptr"), py::arg("rows"),
          py::arg("cols"))
      .def_static(
          "of_device",
          [](std::uintptr_t values, std::uintptr_t indices, std::uintptr_t indptr, int64_t rows,
             int64_t cols, const std::string& dtype) {
            GPULEARN_EXPECTS(dtype == "float32" || dtype == "float64",
                             "sparse values must be float32 or float64, got ", dtype);
            GPULEARN_EXPECTS(rows >= 0 && cols >= 0 && cols <= INT32_MAX,
                             "a sparse matrix of shape (", rows, ", ", cols,
                             ") cannot be read: at most ", INT32_MAX, " columns");
            GPULEARN_EXPECTS(indptr != 0, "sparse row offsets at a null address");
            return CsrRef{values, indices, indptr, rows, cols, dtype, true};
          },
          py::arg("values"), py::arg("indices"), py::arg("indptr"), py::arg("rows"),
          py::arg("cols"), py::arg("dtype"),
          "A canonical CSR matrix in device memory, read in place: the addresses of its float "
          "values, int32 column indices and int64 row offsets (rows + 1, from 0). Its structure "
          "is not read here (it is on the device): the caller checks it.")
      .def_readonly("rows", &CsrRef::rows)
      .def_readonly("cols", &CsrRef::cols)
      .def_readonly("dtype", &CsrRef::dtype)
      .def_readonly("on_device", &CsrRef::on_device);

  py::class_<Context>(m, "Context")
      .def(py::init([](const std::string& device, int n_threads) {
             auto ctx = std::make_unique<Context>(Device::parse(device));
             ctx->set_n_threads(n_threads);
             return ctx;
           }),
           py::arg("device"), py::arg("n_threads") = 0,
           "A compiled context; n_threads: its CPU threads (0: GPULEARN_NUM_THREADS, else every "
           "hardware thread)")
      .def_property_readonly("device", [](const Context& c) { return c.device().to_string(); })
      .def_property_readonly("threads", &Context::threads,
                             "CPU threads of host computation (n_threads, else "
                             "GPULEARN_NUM_THREADS, else every hardware thread)")
      .def("synchronize", &Context::synchronize, py::call_guard<py::gil_scoped_release>())
      .def("trim_scratch", &Context::trim_scratch, py::call_guard<py::gil_scoped_release>(),
           "Gives back device scratch (over 1 MiB) that earlier calls left cached");

  m.def(
      "auto_device", [] { return Device::auto_device().to_string(); },
      "What 'auto' resolves to when neither the data nor the configuration decides: 'cuda:0' "
      "with a real CUDA device, else 'cpu' (Device::auto_device, the one rule).");
  m.def("cuda_available", &cuda_available);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_unavailable_reason", &cuda_unavailable_reason);
  m.def("cuda_emulated", &cuda_emulated);
  m.def("build_info", [] {
    const BuildInfo b = build_info();
    py::dict d;
    d["version"] = b.version;
    d["cuda_built"] = b.cuda_built;
    d["cuda_architectures"] = b.cuda_architectures;
    d["cuda_version"] = b.cuda_version;
    d["compiler"] = b.compiler;
    return d;
  });
}

}  // namespace gpulearn::bindings

PYBIND11_MODULE(_core, m) {
  using namespace gpulearn::bindings;
  m.doc() = "gpulearn's compiled core (internal; use the estimators in gpulearn.*)";
  register_core(m);
  register_linear_model(m);
  register_cluster(m);
  register_neighbors(m);
  register_decomposition(m);
  register_ensemble(m);
}
