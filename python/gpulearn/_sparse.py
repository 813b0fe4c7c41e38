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


class HostCsr:
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

    def to_scipy(self):
        """The matrix as a scipy ``csr_matrix`` (scipy may widen the index arrays)."""
        return sparse.csr_matrix((self.values, self.indices, self.indptr), shape=self.shape)


def as_csr(X, dtype=None):
    """``X`` (scipy.sparse, already validated by scikit-learn's ``check_array``) as a ``HostCsr``.

    dtype : the values' dtype (default: float32 stays float32, anything else becomes float64).
    A matrix with more columns than int32 indices hold is refused with a ValueError.
    """
    n_rows, n_cols = X.shape
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
    values = np.ascontiguousarray(X.data, dtype=dtype)
    indices = np.ascontiguousarray(X.indices, dtype=np.int32)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    return HostCsr(values, indices, indptr, (n_rows, n_cols))
