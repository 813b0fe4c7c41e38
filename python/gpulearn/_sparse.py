"""Sparse input: scipy.sparse matrices and arrays made into the CSR form the compiled core reads.

The core reads one layout (``gpulearn/core/sparse.hpp``): float32 or float64 values, int32
column indices, int64 row offsets, no duplicate entries within a row. ``as_csr`` makes it from
any scipy.sparse format, copying only what differs (a CSC or COO input is converted, as
scikit-learn converts it; duplicate entries are summed, as scipy sums them; int64 indices become
int32), so memory stays O(nnz). Nothing here densifies. See docs/sparse.md.
"""

import numpy as np
from scipy import sparse

from . import _core

# The formats scikit-learn's validation accepts as they are (anything else becomes CSR there).
ACCEPTED_FORMATS = ("csr", "csc", "coo")

INT32_MAX = np.iinfo(np.int32).max


def is_sparse(X):
    """Whether ``X`` is a scipy.sparse matrix or array."""
    return sparse.issparse(X)


def is_device_sparse(X):
    """Whether ``X`` is a ``cupyx.scipy.sparse`` matrix (sparse data in GPU memory)."""
    if not type(X).__module__.startswith("cupyx."):
        return False
    from cupyx.scipy import sparse as device_sparse

    return device_sparse.issparse(X)


class Csr:
    """A canonical CSR matrix as the core reads it (``HostCsr`` or ``DeviceCsr``)."""

    __slots__ = ()


class HostCsr(Csr):
    """A canonical CSR matrix in host memory, as the core reads it, and its ``_core.CsrRef``.

    values : float32 or float64, one per stored entry.
    indices : int32 column indices.
    indptr : int64 row offsets (rows + 1).
    shape : (rows, cols).
    """

    __slots__ = ("values", "indices", "indptr", "shape", "ref")

    def __init__(self, values, indices, indptr, shape):
        self.values = values
        self.indices = indices
        self.indptr = indptr
        self.shape = shape
        self.ref = _core.CsrRef.of_host(values, indices, indptr, shape[0], shape[1])

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def nnz(self):
        return int(self.indptr[-1] - self.indptr[0])

    def astype(self, dtype):
        """This matrix with values of ``dtype`` (the index arrays shared)."""
        return HostCsr(self.values.astype(dtype), self.indices, self.indptr, self.shape)

    def to_scipy(self):
        """The matrix as a scipy ``csr_matrix`` (scipy may widen the index arrays)."""
        return sparse.csr_matrix((self.values, self.indices, self.indptr), shape=self.shape)


def as_csr(X, dtype=None):
    """``X`` (scipy.sparse, already validated by scikit-learn's ``check_array``) as a ``HostCsr``.

    dtype : the values' dtype (default: float32 stays float32, anything else becomes float64).
    A matrix with more columns than int32 indices hold is refused with a ValueError.
    """
    return HostCsr(*_canonical_arrays(X, dtype, np), X.shape)


def _canonical_arrays(X, dtype, xp):
    """(values, indices, indptr) of ``X`` (scipy.sparse with xp = NumPy, cupyx.scipy.sparse
    with xp = CuPy, which share these methods) in the core's layout, copying only what differs.
    Refuses more columns than int32 indices hold."""
    n_cols = X.shape[1]
    if n_cols > INT32_MAX:
        raise ValueError(
            f"X has {n_cols} features: gpulearn's sparse input takes at most {INT32_MAX} "
            f"(its column indices are int32).")
    X = X.tocsr()
    if not X.has_canonical_format:
        # Sorted indices and summed duplicates, on a copy: inputs are never written.
        X = X.copy()
        X.sum_duplicates()
    if dtype is None:
        dtype = np.float32 if X.dtype == np.float32 else np.float64
    return (xp.ascontiguousarray(X.data, dtype=dtype),
            xp.ascontiguousarray(X.indices, dtype=xp.int32),
            xp.ascontiguousarray(X.indptr, dtype=xp.int64))


class DeviceCsr(Csr):
    """A canonical CSR matrix in GPU memory (CuPy arrays), read there in place by the core; the
    layout of ``HostCsr``. ``device`` is the CuPy device holding it."""

    __slots__ = ("values", "indices", "indptr", "shape", "ref")

    def __init__(self, values, indices, indptr, shape):
        self.values = values
        self.indices = indices
        self.indptr = indptr
        self.shape = shape
        self.ref = _core.CsrRef.of_device(values.data.ptr, indices.data.ptr, indptr.data.ptr,
                                          shape[0], shape[1], values.dtype.name)

    @property
    def dtype(self):
        return np.dtype(self.values.dtype)

    @property
    def device(self):
        return self.values.device

    @property
    def nnz(self):
        return int(self.values.size)

    def astype(self, dtype):
        """This matrix with values of ``dtype`` (the index arrays shared), on its GPU."""
        return DeviceCsr(self.values.astype(dtype), self.indices, self.indptr, self.shape)

    def to_scipy(self):
        """The matrix copied to the host as a scipy ``csr_matrix``."""
        return sparse.csr_matrix((self.values.get(), self.indices.get(), self.indptr.get()),
                                 shape=self.shape)


def as_device_csr(X, dtype=None):
    """``X`` (a ``cupyx.scipy.sparse`` matrix) as a ``DeviceCsr`` on its own GPU, converted
    there and only where it differs from the core's layout (CSC and COO become CSR, duplicates
    are summed on a copy, index arrays widened or narrowed); the input is never written.

    dtype : the values' dtype (default: float32 stays float32, anything else becomes float64).
    Complex values, more columns than int32 indices hold and a broken structure (offsets not
    non-decreasing from 0, column indices out of range) are refused with a ValueError; NaN or
    infinity is refused by the core's pass over the values, as for host data.
    """
    import cupy

    n_rows, n_cols = X.shape
    if np.dtype(X.dtype).kind == "c":
        raise ValueError("Complex data not supported")
    with cupy.cuda.Device(X.data.device.id):
        values, indices, indptr = _canonical_arrays(X, dtype, cupy)
        # The structure check of the host path (check_csr_structure), in one copy to the host.
        checks = cupy.stack([
            indptr[0] != 0,
            indptr[-1] != values.size,
            (cupy.diff(indptr) < 0).any(),
            (indices.min() < 0) if indices.size else cupy.asarray(False),
            (indices.max() >= n_cols) if indices.size else cupy.asarray(False),
        ]).get()
    problems = ["its row offsets do not start at 0", "its row offsets do not end at its "
                "number of stored entries", "its row offsets decrease",
                "a column index is negative", f"a column index is not below its {n_cols} columns"]
    broken = [p for p, bad in zip(problems, checks) if bad]
    if broken:
        raise ValueError("X is not a valid CSR matrix: " + "; ".join(broken))
    return DeviceCsr(values, indices, indptr, (n_rows, n_cols))
