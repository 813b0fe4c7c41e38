// What every family's bindings share (internal to gpulearn._core): the ArrayRef descriptor, the
// dispatch on the feature dtype, the GIL release around compute, model records, Params classes.
//
// The conventions, the same for every family:
// - Arrays cross as ArrayRef descriptors built in Python (gpulearn/_arrays.py): a raw address
//   with shape, row stride, dtype and memory space. One path serves NumPy arrays, CuPy arrays
//   and PyTorch CUDA tensors alike, and computing needs no Python object, so the GIL is released
//   around every call into the library (compute()).
// - Hyper-parameters cross as the C++ XxxParams struct, bound as a class with named fields
//   (params_class), enums as scikit-learn's strings (def_enum).
// - A fitted model crosses as a record: a dict keyed by the C++ XxxModel field names, NumPy
//   arrays and scalars, returned by fit and taken back by predict/transform (record_vector and
//   friends read it).
// - Labels cross as NumPy int32 arrays (labels_of), never as Python lists.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"

namespace gpulearn::bindings {

namespace py = pybind11;

// A 2-D array as Python describes it: address, shape, row stride (elements), dtype, space.
struct ArrayRef {
  std::uintptr_t ptr = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;
  std::string dtype;  // "float32" | "float64" | "int32" | "int64"
  bool on_device = false;

  template <typename T>
  MatrixView<T> view() const {
    return MatrixView<T>(reinterpret_cast<T*>(ptr), rows, cols, ld,
                         on_device ? MemorySpace::kDevice : MemorySpace::kHost);
  }
  // A column vector (rows x 1, stride ld) as a VectorView.
  template <typename T>
  VectorView<const T> vector() const {
    return VectorView<const T>(reinterpret_cast<const T*>(ptr), rows, ld,
                               on_device ? MemorySpace::kDevice : MemorySpace::kHost);
  }
};

// A CSR matrix as Python describes it (gpulearn/_sparse.py): the addresses of its values
// (float32 or float64), int32 column indices and int64 row offsets, its shape and its space.
struct CsrRef {
  std::uintptr_t values = 0;
  std::uintptr_t indices = 0;
  std::uintptr_t indptr = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::string dtype;  // "float32" | "float64"
  bool on_device = false;

  template <typename T>
  CsrView<T> view() const {
    return CsrView<T>(reinterpret_cast<const T*>(values), reinterpret_cast<const int32_t*>(indices),
                      reinterpret_cast<const int64_t*>(indptr), rows, cols,
                      on_device ? MemorySpace::kDevice : MemorySpace::kHost);
  }
};

// Calls f(float{}) or f(double{}) as X's dtype says: the only two feature types gpulearn
// computes in. f is a generic lambda; `using T = decltype(zero);` names the type inside.
template <typename F>
auto by_dtype(const ArrayRef& X, F f) {
  if (X.dtype == "float32") return f(0.0f);
  if (X.dtype == "float64") return f(0.0);
  GPULEARN_FAIL(InvalidArgument, "unsupported dtype ", X.dtype, ": expected float32 or float64");
}

template <typename F>
auto by_dtype(const CsrRef& X, F f) {
  if (X.dtype == "float32") return f(0.0f);
  if (X.dtype == "float64") return f(0.0);
  GPULEARN_FAIL(InvalidArgument, "unsupported dtype ", X.dtype, ": expected float32 or float64");
}

// Runs f (a call into the library, touching no Python object) with the GIL released.
template <typename F>
auto compute(F f) {
  py::gil_scoped_release release;
  return f();
}

// Optional sample weights: None, or an ArrayRef column.
template <typename T>
VectorView<const T> weights_of(const py::object& w) {
  return w.is_none() ? VectorView<const T>() : w.cast<ArrayRef>().vector<T>();
}

// The int32 labels of n rows, as a contiguous NumPy int32 array (never a list: a list of a
// million Python ints costs more than the fit).
using Labels = py::array_t<int32_t, py::array::c_style>;
inline const int32_t* labels_of(const Labels& labels, int64_t n) {
  GPULEARN_EXPECTS(labels && labels.ndim() == 1 && labels.shape(0) == n,
                   "labels must be an int32 array of ", n, " entries");
  return labels.data();
}

// The int32 labels an estimator allocated for n rows (a contiguous column in X's memory).
inline int32_t* labels_out(const ArrayRef& labels, int64_t n) {
  GPULEARN_EXPECTS(labels.dtype == "int32" && labels.rows == n && labels.cols == 1,
                   "labels must be an int32 array of ", n, " entries");
  return reinterpret_cast<int32_t*>(labels.ptr);
}

// ---- NumPy out

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// A vector handed to NumPy without a copy: the array owns it through a capsule.
template <typename T>
py::array_t<T> move_to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

inline py::ssize_t len(size_t n) { return static_cast<py::ssize_t>(n); }

// ---- records in: a model's fields by name

// The array record[key] in T, C order (converted when it is not), viewed without a copy when
// it already is.
template <typename T>
py::array_t<T, py::array::c_style> record_array(const py::dict& record, const char* key) {
  GPULEARN_EXPECTS(record.contains(key), "the model record has no '", key, "'");
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(record[key]);
  GPULEARN_EXPECTS(a, "model entry '", key, "' is not a numeric array");
  return a;
}

template <typename T>
std::vector<T> record_vector(const py::dict& record, const char* key) {
  const auto a = record_array<T>(record, key);
  return std::vector<T>(a.data(), a.data() + a.size());
}

// An optional float64 array (None: empty), flattened in C order.
inline std::vector<double> doubles_of(const py::object& obj) {
  if (obj.is_none()) return {};
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
  GPULEARN_EXPECTS(a, "expected an array of numbers");
  return std::vector<double>(a.data(), a.data() + a.size());
}

// ---- Params classes

// A bound XxxParams: default-constructed (the C++ defaults, which are scikit-learn's), or built
// by keyword (Params(n_clusters=3, init="random")); an unknown keyword is an AttributeError.
template <typename P>
py::class_<P> params_class(py::module_& m, const char* name, const char* doc) {
  py::class_<P> cls(m, name, doc);
  cls.def(py::init([name](const py::kwargs& fields) {
    auto p = std::make_unique<P>();
    // A non-owning view of *p, so the fields' own setters (and conversions) apply.
    const py::object view = py::cast(p.get(), py::return_value_policy::reference);
    for (const auto& [key, value] : fields) {
      if (!py::hasattr(view, key)) {
        throw py::attribute_error(std::string(name) + " has no field '" +
                                  std::string(py::str(key)) + "'");
      }
      py::setattr(view, key, value);
    }
    return p;
  }));
  return cls;
}

// An enum field as scikit-learn's strings. names: {value, "name"} pairs; fail(s) throws for an
// unknown name.
template <typename E>
using EnumNames = std::vector<std::pair<E, const char*>>;

template <typename E>
const char* name_of(const EnumNames<E>& names, E e) {
  for (const auto& [v, n] : names) {
    if (v == e) return n;
  }
  return "";
}

template <typename P, typename E, typename Fail>
void def_enum(py::class_<P>& cls, const char* field, E P::*member, EnumNames<E> names, Fail fail) {
  cls.def_property(
      field, [member, names](const P& p) { return std::string(name_of(names, p.*member)); },
      [member, names, fail](P& p, const std::string& s) {
        for (const auto& [v, n] : names) {
          if (s == n) {
            p.*member = v;
            return;
          }
        }
        fail(s);
      });
}

// A count where scikit-learn writes None for "no limit" (the C++ field holds -1).
template <typename P>
void def_optional_count(py::class_<P>& cls, const char* field, int64_t P::*member) {
  cls.def_property(
      field,
      [member](const P& p) -> py::object {
        return p.*member < 0 ? py::none() : py::object(py::int_(p.*member));
      },
      [member](P& p, const py::object& v) { p.*member = v.is_none() ? -1 : v.cast<int64_t>(); });
}

// ---- the families

void register_core(py::module_& m);
void register_linear_model(py::module_& m);
void register_cluster(py::module_& m);
void register_neighbors(py::module_& m);
void register_decomposition(py::module_& m);
void register_ensemble(py::module_& m);

}  // namespace gpulearn::bindings
