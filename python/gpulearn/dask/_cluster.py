"""gpulearn.dask.KMeans: k-means fitted across a Dask cluster by the single-machine driver.

The C++ driver (src/cluster/kmeans.cpp) is written over k-means' passes over its data
(``KMeansData``, include/gpulearn/cluster/kmeans_data.hpp). ``_BlockedKMeansData`` implements
those passes here: each is one ``Partitions.map_state`` over the blocks, where every block runs
the same pass of the single-machine implementation (``_core.kmeans_block``, a LocalKMeansData
over the block's rows) on its own device, and the client combines the small results in block
order. The per-row state of the fit (labels, distances, k-means++ potentials) stays beside each
block on its worker; the driver runs once, on the client, and sees only reductions, a few
indices and a few rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .. import _arrays, _core
from .._config import check_device_string
from ..cluster import KMeans as _LocalKMeans
from ._base import DaskEstimatorMixin, dask_or_local
from ._inputs import as_dask_array
from ._parts import state_of

# ---- on the workers: one pass of the local implementation over one block ----------------------
# A block's state is a dict of arrays in X's memory (NumPy, or CuPy beside CuPy blocks): 'w' (the
# checked weights), 'labels', 'best' (the kept labels), 'dist', 'pot', 'cand'. A pass that writes
# an array writes a new one (copied first where it also reads it), so a state Dask already holds
# never changes under it.


def _xp(block):
    if _arrays.device_ordinal(block.X) is not None:
        import cupy

        return cupy
    return np


def _ref(a):
    if a is None:
        return None
    return _arrays.device_ref(a) if _arrays.device_ordinal(a) is not None else _arrays.host_ref(a)


def _aligned(a):
    """``a`` C-ordered and aligned (arrays Dask deserialises may sit at any byte offset)."""
    return None if a is None else np.require(a, requirements=["C", "A"])


def _local(block, state, **arrays):
    """The LocalKMeansData of the block with the given state arrays (keep them alive)."""
    return _core.kmeans_block(block.context, _ref(block.X), _ref(state["w"]), block.offset,
                              **{k: _ref(v) for k, v in arrays.items()})


def _check(block, state, dtype):
    w = block.w
    if w is not None:
        # scikit-learn's checks and messages, as the single-machine fit's _weights.
        w = _check_sample_weight(_arrays.to_host(w), np.empty((block.n_rows, 0), dtype=dtype),
                                 dtype=dtype, ensure_non_negative=True)
        if _xp(block) is not np:
            w = _arrays.to_device_like(block.X, w)
    state = {"w": w}
    return _local(block, state).check(), state


def _reset_labels(block, state):
    return None, {**state, "labels": _xp(block).full(block.n_rows, -1, dtype=np.int32)}


def _assign(block, state, shift, centers, weighted, keep, want_sums, want_weights):
    xp = _xp(block)
    new = {**state, "labels": state["labels"].copy()}
    if keep:
        new["dist"] = xp.empty(block.n_rows, dtype=block.X.dtype)
    local = _local(block, new, labels=new["labels"], distances=new.get("dist") if keep else None)
    result = local.assign(_aligned(shift), _aligned(centers), weighted, keep, want_sums,
                          want_weights)
    local.flush()
    return result, new


def _keep_labels(block, state):
    return None, {**state, "best": state["labels"]}


def _init_potentials(block, state, shift, center):
    new = {**state, "pot": _xp(block).empty(block.n_rows, dtype=block.X.dtype)}
    local = _local(block, new, potentials=new["pot"])
    local.init_potentials(_aligned(shift), _aligned(center))
    local.flush()
    return None, new


def _candidate_potentials(block, state, shift, candidates):
    cand = _xp(block).empty((block.n_rows, candidates.shape[0]), dtype=block.X.dtype)
    new = {**state, "cand": cand}
    local = _local(block, new, potentials=state["pot"], candidates=cand)
    out = local.candidate_potentials(_aligned(shift), _aligned(candidates))
    local.flush()
    return out, new


def _take_candidate(block, state, c):
    new = {**state, "pot": state["pot"].copy()}
    local = _local(block, new, potentials=new["pot"], candidates=state["cand"])
    local.take_candidate(c)
    local.flush()
    return None, new


def _total(block, state, by_potentials):
    pot = state["pot"] if by_potentials else None
    return _local(block, state, potentials=pot).total(by_potentials), state


def _lower_potentials(block, state, shift, candidates):
    xp = _xp(block)
    new = {**state, "labels": state["labels"].copy(), "pot": state["pot"].copy(),
           "dist": xp.empty(block.n_rows, dtype=block.X.dtype)}
    local = _local(block, new, labels=new["labels"], distances=new["dist"],
                   potentials=new["pot"])
    local.lower_potentials(_aligned(shift), _aligned(candidates))
    local.flush()
    return None, new


def _release_potentials(block, state):
    return None, {k: v for k, v in state.items() if k not in ("pot", "cand")}


def _weighted_draws(block, state, by_potentials, plan):
    u = plan.get(block.offset)
    if u is None:
        return np.empty(0, dtype=np.int64), state
    pot = state["pot"] if by_potentials else None
    return _local(block, state, potentials=pot).weighted_draws(by_potentials, _aligned(u)), state


def _independent_draws(block, state, scale, seed):
    return _local(block, state, potentials=state["pot"]).independent_draws(scale, seed), state


def _largest_distances(block, state, m):
    local = _local(block, state, distances=state["dist"])
    return local.largest_distances(min(m, block.n_rows)), state


def _rows(block, state, plan, want_labels, want_weights):
    idx = plan.get(block.offset)
    if idx is None:
        return None, state
    local = _local(block, state, labels=state["labels"] if want_labels else None)
    return local.rows(_aligned(idx), want_labels, want_weights), state


def _best_labels(handle):
    return state_of(handle)["best"]


# ---- on the client: the passes the driver asks for, combined in block order ----------------------


class _BlockedPasses:
    """KMeansData's methods over ``Partitions`` (mixed into the bound interface class of the
    data's dtype, whose trampoline the driver calls). Sums are taken in block order, in double,
    so a fit repeats itself bit for bit on the same blocks."""

    def __init__(self, parts, has_weights):
        super().__init__()
        self._parts = parts
        self._has_weights = bool(has_weights)
        self._state = None
        self._starts = np.asarray(parts.offsets[:-1], dtype=np.int64)

    def _map(self, fn, *args):
        out, self._state = self._parts.map_state(fn, self._state, *args,
                                                 step=f"k-means {fn.__name__.strip('_')}")
        return out

    def n_rows(self):
        return self._parts.n_rows

    def n_features(self):
        return self._parts.n_features

    def has_weights(self):
        return self._has_weights

    def check(self):
        ranges = self._map(_check, self._parts.dtype)
        return max(r[0] for r in ranges), max(r[1] for r in ranges)

    def reset_labels(self):
        self._map(_reset_labels)

    def assign(self, shift, centers, weighted, keep, want_sums, want_weights):
        results = self._map(_assign, shift, centers, weighted, keep, want_sums, want_weights)
        inertia, changed, sums, weights = 0.0, 0, None, None
        for r in results:
            inertia += r[0]
            changed += r[1]
            if want_sums:
                sums = r[2] if sums is None else sums + r[2]
            if want_weights:
                weights = r[3] if weights is None else weights + r[3]
        return inertia, changed, sums, weights

    def keep_labels(self):
        self._map(_keep_labels)

    def init_potentials(self, shift, center):
        self._map(_init_potentials, shift, center)

    def candidate_potentials(self, shift, candidates):
        out = None
        for r in self._map(_candidate_potentials, shift, candidates):
            out = r if out is None else out + r
        return out

    def take_candidate(self, c):
        self._map(_take_candidate, int(c))

    def total(self, by_potentials):
        out = 0.0
        for r in self._map(_total, bool(by_potentials)):
            out += r
        return out

    def lower_potentials(self, shift, candidates):
        self._map(_lower_potentials, shift, candidates)

    def release_potentials(self):
        self._map(_release_potentials)

    def weighted_draws(self, by_potentials, u):
        # numpy.searchsorted over the global cumulative sum, in two steps: the blocks' totals
        # (summed in block order) say which block holds each draw; that block searches its
        # own running sum for the remainder.
        totals = np.asarray(self._map(_total, bool(by_potentials)), dtype=np.float64)
        cum = np.cumsum(totals)
        target = np.asarray(u, dtype=np.float64) * cum[-1]
        b = np.minimum(np.searchsorted(cum, target, side="left"), len(cum) - 1)
        rest = target - np.where(b > 0, cum[np.maximum(b - 1, 0)], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            local_u = np.where(totals[b] > 0, rest / totals[b], 0.0)
        plan = {int(self._starts[j]): local_u[b == j] for j in np.unique(b)}
        found = self._map(_weighted_draws, bool(by_potentials), plan)
        idx = np.empty(len(target), dtype=np.int64)
        for j in np.unique(b):
            idx[b == j] = found[j]
        return idx

    def independent_draws(self, scale, seed):
        found = self._map(_independent_draws, float(scale), int(seed))
        return np.concatenate([np.asarray(f, dtype=np.int64) for f in found])

    def largest_distances(self, m):
        found = self._map(_largest_distances, int(m))
        idx = np.concatenate([f[0] for f in found])
        values = np.concatenate([f[1] for f in found])
        # Largest first, ties to the lowest global index: the single-machine primitive's order.
        order = np.lexsort((idx, -values.astype(np.float64)))[:m]
        return idx[order], values[order]

    def rows(self, idx, want_labels, want_weights):
        idx = np.asarray(idx, dtype=np.int64)
        b = np.searchsorted(self._starts, idx, side="right") - 1
        plan = {int(self._starts[j]): idx[b == j] for j in np.unique(b)}
        found = self._map(_rows, plan, bool(want_labels), bool(want_weights))
        out = np.empty((len(idx), self._parts.n_features), dtype=self._parts.dtype)
        labels = np.empty(len(idx), dtype=np.int32) if want_labels else None
        weights = np.empty(len(idx), dtype=np.float64) if want_weights else None
        for j in np.unique(b):
            rows, lab, wts = found[j]
            out[b == j] = _arrays.to_host(rows)
            if want_labels:
                labels[b == j] = lab
            if want_weights:
                weights[b == j] = wts
        return out, labels, weights

    # ---- after the fit
    def label_blocks(self):
        """The kept labels of each block (futures, or arrays for LocalPartitions)."""
        client = getattr(self._parts, "client", None)
        if client is None:
            return [s["best"] for s in self._state]
        return [client.submit(_best_labels, s, pure=False) for s in self._state]


class _BlockedKMeansData64(_BlockedPasses, _core.KMeansDataFloat64):
    pass


class _BlockedKMeansData32(_BlockedPasses, _core.KMeansDataFloat32):
    pass


def _labels_array(data, row_chunks):
    """The kept labels as a dask array chunked like X's rows (X's empty chunks included)."""
    import dask
    import dask.array as da

    blocks = iter(data.label_blocks())
    pieces = []
    for rows in row_chunks:
        if rows == 0:
            continue
        part = next(blocks)
        if not isinstance(part, np.ndarray):
            part = dask.delayed(part)
        pieces.append(da.from_delayed(part, shape=(rows,), dtype=np.int32,
                                      meta=np.empty((0,), dtype=np.int32)))
    # Concatenation drops X's empty chunks; the rechunk puts them back (no data moves).
    return da.concatenate(pieces).rechunk((tuple(row_chunks),))


def _block_inertia(X, w, model):
    if X.shape[0] == 0:
        return np.zeros((1, 1))
    return np.array([[-model.score(X, sample_weight=w[:, 0])]])


class KMeans(DaskEstimatorMixin, _LocalKMeans):
    """K-Means clustering over a Dask cluster: :class:`gpulearn.cluster.KMeans` with each pass
    over X run where X's blocks are.

    Takes the parameters of :class:`gpulearn.cluster.KMeans` (``init`` may be "k-means++",
    "random", "k-means||" or an array; a callable is not supported: it would need all of X in
    one process). Input: a dask array chunked by rows only, or a dask dataframe; NumPy input is
    fitted by the single-machine class.

    The fit is the single-machine driver with its passes done block by block: the same data and
    ``random_state`` give the same initial centers, the same iterations and the same labels as
    :class:`gpulearn.cluster.KMeans`, and ``cluster_centers_`` and ``inertia_`` equal to within
    float reduction order (~1e-12 relative in float64, ~1e-5 in float32; a label can only differ
    for a row within rounding of equidistant to two centers). Per Lloyd iteration each block
    sends back k x d + k partial sums (float64) and two numbers; k-means++ moves 2 + ln k rows
    and as many sums per center (five steps per center: prefer "k-means||" for large k, five
    rounds of four steps); the labels, distances and potentials stay on the workers. Under
    dask-cuda, give CuPy-backed blocks: a host block on a GPU worker is copied to the device
    at every pass.

    Attributes
    ----------
    cluster_centers_, inertia_, n_iter_, n_features_in_, feature_names_in_
        As :class:`gpulearn.cluster.KMeans` (NumPy).
    labels_ : dask array of shape (n_samples,), int32
        Chunked like X's rows and computed from the labels kept on the workers (as cuML's dask
        KMeans); ``to_local()`` turns it into NumPy.
    """

    @dask_or_local
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering of a dask array or dataframe (see the class docstring).

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features) or dask dataframe
        y : Ignored
        sample_weight : dask array of shape (n_samples,), number or None

        Returns
        -------
        self : object
        """
        import dask.array as da

        self._validate_params()
        check_device_string(self.device)
        if callable(self.init):
            raise NotImplementedError(
                "gpulearn.dask.KMeans does not take a callable init (it would need all of X in "
                "one process): pass 'k-means++', 'random', 'k-means||' or an array of centers.")
        Xd, names = as_dask_array(X)
        parts = self._partitions(Xd, None, sample_weight)
        parts.feature_names = names
        self._set_feature_names(parts)
        if parts.n_rows < self.n_clusters:
            raise ValueError(f"n_samples={parts.n_rows} should be >= "
                             f"n_clusters={self.n_clusters}.")
        random_state = check_random_state(self.random_state)
        n_init = self._resolved_n_init()
        dtype = parts.dtype
        cls = _BlockedKMeansData32 if dtype == np.float32 else _BlockedKMeansData64
        data = cls(parts, sample_weight is not None)
        init_name, centers, runs = self._init_spec(dtype, n_init)
        result = _core.kmeans_fit_data(self._core_params(init_name, runs, random_state), data,
                                       centers)
        labels = _labels_array(data, Xd.chunks[0])
        distinct = len(da.unique(labels).compute())
        self._set_fitted(result, labels, dtype, n_init, distinct=distinct)
        return self

    @dask_or_local
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_`` (a dask array chunked like X for Dask input)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    @dask_or_local
    def predict(self, X):
        """The closest cluster of each row: a dask array chunked like X for Dask input."""
        return self._dask_method("predict", X)

    @dask_or_local
    def transform(self, X):
        """Distances to the centers: a dask array chunked like X for Dask input."""
        return self._dask_method("transform", X)

    @dask_or_local
    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then transform X."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    @dask_or_local
    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia, summed over X's blocks where they are."""
        import dask.array as da

        check_is_fitted(self)
        Xd, _ = as_dask_array(X)
        rows = Xd.chunks[0]
        if sample_weight is None:
            w = da.full((Xd.shape[0],), 1.0, chunks=(rows,))
        else:
            w, _ = as_dask_array(sample_weight, "sample_weight", ensure_2d=False)
            w = w.rechunk((rows,))
        per_block = da.map_blocks(_block_inertia, Xd, w[:, None], self._local_for_prediction(),
                                  dtype=np.float64, chunks=((1,) * len(rows), (1,)))
        return -float(per_block.sum().compute())

    def _local_for_prediction(self):
        # The fitted state without labels_ (n labels, which stay on the workers).
        local = _LocalKMeans(**self.get_params())
        params = set(self.get_params())
        local.__dict__.update({k: v for k, v in vars(self).items()
                               if k not in params and k != "labels_"})
        return local

    def to_local(self):
        """The fitted single-machine :class:`gpulearn.cluster.KMeans` (``labels_`` computed to
        NumPy)."""
        local = super().to_local()
        labels = getattr(self, "labels_", None)
        if labels is not None and hasattr(labels, "compute"):
            local.labels_ = np.asarray(_arrays.to_host(labels.compute()))
        return local


__all__ = ["KMeans"]
