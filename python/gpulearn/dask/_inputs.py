"""Dask collections in, ``DaskPartitions`` and Dask collections out.

Inputs are ``dask.array`` collections chunked by rows only, or ``dask.dataframe`` frames (taken
as their ``to_dask_array`` with known lengths). The blocks are persisted once and stay on the
workers that hold them; y and sample weights are rechunked to X's row chunks, so each block's
rows travel together. Blocks with zero rows are dropped (they contribute nothing).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _arrays, _devices
from ._parts import Block, DaskPartitions

_FLOATS = (np.float64, np.float32)


def get_client(client=None):
    """The Dask client to compute with: the one given, else the current default one."""
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        raise ValueError(
            "gpulearn.dask needs a running distributed.Client (for example "
            "distributed.Client(distributed.LocalCluster()) or dask_cuda.LocalCUDACluster); "
            "none was found. Install the extra with: pip install gpulearn[dask]") from None


def is_dask_collection(obj):
    try:
        from dask.base import is_dask_collection as check
    except ImportError:
        return False
    return check(obj)


def _is_dataframe(obj):
    return hasattr(obj, "to_dask_array") and hasattr(obj, "npartitions")


def as_dask_array(X, name="X", *, ensure_2d=True):
    """X as a dask array chunked by rows, with known chunk sizes; its feature names (dataframes
    with string column names) or None."""
    import dask.array as da

    feature_names = None
    if _is_dataframe(X):
        cols = getattr(X, "columns", None)
        if cols is not None and len(cols) and all(isinstance(c, str) for c in cols):
            feature_names = np.asarray(list(cols), dtype=object)
        X = X.to_dask_array(lengths=True)
    elif not isinstance(X, da.Array):
        if is_dask_collection(X):
            raise TypeError(f"{name} must be a dask array or a dask dataframe; got "
                            f"{type(X).__name__}")
        X = da.from_array(np.asarray(X), chunks=(-1,) + (-1,) * (np.ndim(X) - 1))
    if ensure_2d and X.ndim != 2:
        raise ValueError(f"Expected a 2D dask array for {name}, got an array of {X.ndim} "
                         f"dimension(s) with shape {X.shape}. Reshape it, e.g. X.reshape(-1, 1) "
                         f"for a single feature.")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.ndim == 2 and len(X.chunks[1]) != 1:
        raise ValueError(
            f"{name} is chunked across its {X.shape[1]} columns ({len(X.chunks[1])} column "
            f"chunks); gpulearn.dask needs each chunk to hold whole rows: use "
            f"{name}.rechunk({{1: -1}}) first.")
    return X, feature_names


def compute_dtype(X):
    """The dtype a fit computes in: float32 stays float32, everything else becomes float64."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def _make_block(X, y, w, offset, device, dtype):
    """A ``Block`` on the worker holding X's rows: X validated and made C-ordered in the
    computing dtype, the device resolved there (a worker's own GPU, or its CPU)."""
    from sklearn.utils import check_array

    data_device = _arrays.device_ordinal(X)
    if data_device is None:
        X = check_array(X, dtype=dtype, ensure_all_finite=False, ensure_min_samples=0,
                        order="C")
        # Aligned too: a chunk Dask received from another process may sit at any byte offset,
        # and the core reads whole elements.
        X = np.require(_arrays.readable(X), requirements=["A"])
    else:
        X, _ = _arrays.as_device_matrix(X, "X", dtype=dtype)
    return Block(X, y, w, int(offset), _devices.resolve(device, data_device))


def partition(X, y=None, sample_weight=None, *, client=None, device="auto", estimator="",
              dtype=None):
    """``DaskPartitions`` of X (and y, sample_weight, aligned to X's rows), persisted; X in
    ``dtype`` (a fitted model's) or by the fit rule (``compute_dtype``)."""
    client = get_client(client)
    X, feature_names = as_dask_array(X)
    n, d = X.shape
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape=({n}, {d})) while a minimum of 1 "
                         f"is required.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape=({n}, {d})) while a minimum of "
                         f"1 is required.")
    dtype = compute_dtype(X) if dtype is None else np.dtype(dtype)
    row_chunks = X.chunks[0]
    parts = {"X": X}
    for name, v in (("y", y), ("sample_weight", sample_weight)):
        if v is None:
            continue
        if isinstance(v, numbers.Number):
            import dask.array as da

            v = da.full((n,), v, chunks=(row_chunks,), dtype=np.float64)
        v, _ = as_dask_array(v, name, ensure_2d=False)
        if v.shape[0] != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{n}, {v.shape[0]}]")
        if v.ndim > 2:
            raise ValueError(f"{name} must be 1D or 2D; got shape {v.shape}")
        chunks = (row_chunks,) + tuple((s,) for s in v.shape[1:])
        parts[name] = v.rechunk(chunks)
    names = list(parts)
    persisted = client.persist([parts[k] for k in names])
    from distributed import futures_of

    # The future of each block, by its key: (name, i, 0) for X, (name, i[, 0]) for y and w.
    by_key = {f.key: f for p in persisted for f in futures_of(p)}

    def block(k, i):
        if k not in names:
            return None
        p = persisted[names.index(k)]
        return by_key[(p.name, i) + (0,) * (p.ndim - 1)]

    futures = []
    offsets = [0]
    for i, rows in enumerate(row_chunks):
        if rows == 0:
            continue
        futures.append(client.submit(_make_block, block("X", i), block("y", i),
                                     block("sample_weight", i), offsets[-1], device, dtype,
                                     pure=False))
        offsets.append(offsets[-1] + rows)
    return DaskPartitions(client, futures, offsets, d, dtype, feature_names,
                          estimator=estimator)
