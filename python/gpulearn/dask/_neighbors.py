"""gpulearn.dask's nearest neighbours: NearestNeighbors, KNeighborsClassifier and
KNeighborsRegressor over an index that stays distributed.

Fitting persists the index blocks (and their targets) where they are and checks them there.
A query block travels to each index block's worker, which returns its block's k best
candidates (the single-machine search, ``_core.kneighbors``, on that block: distances of the
selected pairs recomputed directly in double, so they do not depend on the blocking), with
global indices; one task per query block merges the candidate lists by (distance, global index)
and, for the classifier and regressor, votes or averages with the single-machine code. What
travels per query block of m rows: the block itself to each of the P index blocks
(m d values each) and P lists of m k candidates back (distance, index, target).

The neighbours equal the single-machine estimator's exactly (same indices, same distances, ties
to the smaller global index), so predictions are equal too.
"""

from __future__ import annotations

import dask
import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_n_features, check_is_fitted

from .. import _arrays, _core
from .._config import check_device_string
from ..neighbors import KNeighborsClassifier as _KNeighborsClassifier
from ..neighbors import KNeighborsRegressor as _KNeighborsRegressor
from ..neighbors import NearestNeighbors as _NearestNeighbors
from ._base import DaskEstimatorMixin, check_feature_names, dask_or_local
from ._inputs import as_dask_array, partition


def _check_index_block(block, estimator_name, y_kind):
    """The fit's checks of one index block, with scikit-learn's messages; its row count."""
    from sklearn.utils.validation import _assert_all_finite

    X = block.X if _arrays.device_ordinal(block.X) is None else _arrays.to_host(block.X)
    _assert_all_finite(X, input_name="X", estimator_name=estimator_name)
    if y_kind == "regressor" and not np.isfinite(np.asarray(block.y, dtype=np.float64)).all():
        raise ValueError("Input y contains NaN or infinity.")
    return block.n_rows


def _unique_targets(block):
    """Per output column, the distinct targets of the block."""
    y = np.asarray(block.y)
    y2 = y.reshape(y.shape[0], -1)
    return [np.unique(y2[:, k]) for k in range(y2.shape[1])]


def _ref(arr):
    return _arrays.host_ref(arr) if _arrays.device_ordinal(arr) is None else _arrays.device_ref(arr)


def _candidates(index, queries, k, metric, p, same_block, with_targets):
    """The k best rows of the index block for each query of the query block (fewer where the
    block is smaller): (distances, global indices, targets or None), on the host."""
    n_rows = index.n_rows - (1 if same_block else 0)
    kk = min(k, n_rows)
    m = queries.n_rows
    if kk <= 0:
        targets = None
        if with_targets:
            y = np.asarray(index.y)
            targets = np.empty((m, 0) + y.shape[1:], dtype=y.dtype)
        return (np.empty((m, 0), dtype=queries.X.dtype), np.empty((m, 0), dtype=np.int64),
                targets)
    ctx = index.context
    on_device = _arrays.device_ordinal(index.X) is not None
    Q = queries.X
    if on_device and _arrays.device_ordinal(Q) is None:
        Q = _arrays.to_device_like(index.X, Q)
    elif not on_device and _arrays.device_ordinal(Q) is not None:
        Q = np.ascontiguousarray(_arrays.to_host(Q))
    kind = _arrays.input_kind(index.X)
    dist = _arrays.empty_like_input(kind, (m, kk), index.X.dtype, like=index.X)
    ind = _arrays.empty_like_input(kind, (m, kk), np.int64, like=index.X)
    _core.kneighbors(ctx, _core.NeighborsParams(metric=metric, p=float(p)), _ref(index.X),
                     _ref(index.X if same_block else Q), same_block, kk, _ref(dist), _ref(ind))
    dist = np.asarray(_arrays.to_host(dist))
    ind = np.asarray(_arrays.to_host(ind))
    targets = np.asarray(index.y)[ind] if with_targets else None
    return dist, ind + index.offset, targets


def _merge(k, largest_first, *candidates):
    """The k best of the candidate lists of one query block, by (distance, global index), or
    by (-similarity, global index) for the inner product."""
    dist = np.concatenate([c[0] for c in candidates], axis=1)
    ind = np.concatenate([c[1] for c in candidates], axis=1)
    order = np.lexsort((ind, -dist if largest_first else dist), axis=1)[:, :k]
    out = [np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)]
    if candidates[0][2] is not None:
        targets = np.concatenate([c[2] for c in candidates], axis=1)
        t2 = targets.reshape(targets.shape[0], targets.shape[1], -1)
        out.append(np.take_along_axis(t2, order[:, :, None], axis=1))
    return out


def _merged_part(merged, i):
    return merged[i]


def _vote_block(template, k, largest_first, *candidates):
    """The single-machine vote on one query block's merged neighbours (labels encoded as the
    single-machine fit encodes them)."""
    dist, _, labels = _merge(k, largest_first, *candidates)
    classes = template.classes_ if template.outputs_2d_ else [template.classes_]
    encoded = np.stack([np.searchsorted(c, labels[:, :, j]) for j, c in enumerate(classes)],
                       axis=2)
    return template._vote(dist, encoded)


def _average_block(template, one_output, k, largest_first, *candidates):
    """The single-machine average on one query block's merged neighbours."""
    dist, _, targets = _merge(k, largest_first, *candidates)
    return template._average(dist, targets, one_output)


def _shape_and_dtype(a):
    return a.shape[1:], a.dtype


class _DaskNeighborsMixin(DaskEstimatorMixin):
    """The distributed index and search the three estimators share."""

    _target_kind = None  # None, "classifier" or "regressor"

    def _dask_fit_index(self, X, y=None):
        self._validate_params()
        check_device_string(self.device)
        metric, p = self._resolved_metric()
        if self._target_kind is not None and y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        parts = partition(X, y, client=None, device=self.device,
                          estimator=type(self).__name__)
        parts.map(_check_index_block, type(self).__name__, self._target_kind, step="check")
        self._set_feature_names(parts)
        self._index = parts
        self.n_samples_fit_ = parts.n_rows
        self._fit_method = "brute"
        self._metric, self._p = metric, p
        self._set_effective_metric(metric, p)
        return parts

    def _searchable(self):
        check_is_fitted(self, "n_samples_fit_")
        if not hasattr(self, "_index"):
            raise TypeError(f"this {type(self).__name__} was fitted on NumPy data; query it "
                            f"with NumPy data (or fit it on a Dask collection)")
        return self._index

    def _query_parts(self, X):
        """(query partitions, same_as_index): X=None queries the index itself."""
        index = self._searchable()
        if X is None:
            return index, True
        Xd, names = as_dask_array(X)
        _check_n_features(self, Xd, reset=False)
        check_feature_names(self, names, Xd.shape[1])
        queries = partition(Xd, client=index.client, device=self.device,
                            estimator=type(self).__name__, dtype=index.dtype)
        queries.map(_check_index_block, type(self).__name__, None, step="check queries")
        return queries, False

    def _dask_search(self, X, n_neighbors, reduce=None):
        """Per query block, the candidates of every index block, merged by a task of its own:
        futures of the merged (dist, ind[, targets]) or of ``reduce`` applied to them."""
        index = self._searchable()
        queries, same = self._query_parts(X)
        k = self._checked_n_neighbors(n_neighbors, same, queries.n_rows)
        client = index.client
        with_targets = reduce is not None
        largest_first = self._metric == "inner_product"
        index.traffic["steps"] += 1
        out = []
        for j, q in enumerate(queries.blocks):
            cands = [client.submit(_candidates, ib, q, k, self._metric, self._p, same and i == j,
                                   with_targets, pure=False)
                     for i, ib in enumerate(index.blocks)]
            if reduce is None:
                out.append(client.submit(_merge, k, largest_first, *cands, pure=False))
            else:
                fn, *args = reduce
                out.append(client.submit(fn, *args, k, largest_first, *cands, pure=False))
        index.wait(out, "search")
        return queries, k, out

    def _as_dask(self, futures, queries, tail, dtype):
        import dask.array as da

        rows = np.diff(queries.offsets)
        return da.concatenate([
            da.from_delayed(dask.delayed(f), shape=(int(r),) + tail, dtype=dtype)
            for f, r in zip(futures, rows)])

    def _kneighbors_dask(self, X, n_neighbors, return_distance):
        queries, k, merged = self._dask_search(X, n_neighbors)
        client = queries.client
        dist = [client.submit(_merged_part, f, 0, pure=False) for f in merged]
        ind = [client.submit(_merged_part, f, 1, pure=False) for f in merged]
        ind_arr = self._as_dask(ind, queries, (k,), np.int64)
        if not return_distance:
            return ind_arr
        return self._as_dask(dist, queries, (k,), queries.dtype), ind_arr

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the K-neighbors of a point (see the single-machine class). With a Dask
        collection, or X=None after a Dask fit, the results are dask arrays chunked like the
        queries."""
        if X is None and hasattr(self, "_index") or hasattr(X, "dask"):
            return self._kneighbors_dask(X, n_neighbors, return_distance)
        return super().kneighbors(X, n_neighbors, return_distance)

    def _template(self):
        """The fitted state the vote or the average needs, without the index (small)."""
        params = self.get_params()
        local = self._local_class()(**params)
        keep = ("classes_", "outputs_2d_", "_metric", "_p")
        local.__dict__.update({k: v for k, v in vars(self).items() if k in keep})
        return local

    def to_local(self):
        """The equivalent fitted single-machine estimator. The index is the model: this gathers
        the whole fitted data (and targets) into this process."""
        local = super().to_local()
        parts = local.__dict__.pop("_index", None)
        local.__dict__.pop("_one_output", None)
        if parts is not None:
            blocks = parts.client.gather(parts.blocks)
            local._fit_X = np.concatenate([np.asarray(_arrays.to_host(b.X)) for b in blocks])
            if self._target_kind is not None:
                y = np.concatenate([np.asarray(b.y) for b in blocks])
                local._y = self._encode_targets(y)
        return local

    def _encode_targets(self, y):
        return y

    def __getstate__(self):
        if hasattr(self, "_index"):
            raise TypeError(f"a gpulearn.dask.{type(self).__name__} fitted on a Dask collection "
                            f"holds its index on the workers and does not pickle; pickle "
                            f"to_local() instead")
        return super().__getstate__()


class NearestNeighbors(_DaskNeighborsMixin, _NearestNeighbors):
    """Unsupervised nearest neighbours over a distributed index (exact brute force).

    Parameters and attributes are those of :class:`gpulearn.neighbors.NearestNeighbors`.
    ``fit`` on a Dask array or dataframe keeps the index on the workers; ``kneighbors`` with a
    Dask collection (or X=None) returns dask arrays chunked like the queries. The neighbours
    are exactly the single-machine estimator's (ties to the smaller global index).
    Radius queries need NumPy input (or ``to_local()``).
    """

    @dask_or_local
    def fit(self, X, y=None):
        """Keep the blocks of X on their workers as the index."""
        self._dask_fit_index(X)
        return self


class _DaskSupervisedNeighbors(_DaskNeighborsMixin):
    """What the classifier and the regressor add: scores over Dask input, from their own
    distributed predict."""

    def score(self, X, y, sample_weight=None):
        if not hasattr(X, "dask"):
            return super().score(X, y, sample_weight)
        return self._dask_score(X, y, sample_weight)

    def _dask_method(self, method, X, **kwargs):
        return getattr(self, method)(X, **kwargs)


class KNeighborsClassifier(_DaskSupervisedNeighbors, _KNeighborsClassifier):
    """k-nearest-neighbours vote over a distributed index (exact brute force).

    Parameters and attributes are those of :class:`gpulearn.neighbors.KNeighborsClassifier`.
    The vote runs beside each query block, on the merged neighbours' labels (they travel with
    the candidates), with the single-machine code: predictions and probabilities equal the
    single-machine estimator's exactly.
    """

    _target_kind = "classifier"

    @dask_or_local
    def fit(self, X, y):
        """Keep X's blocks on their workers as the index, with their labels."""
        parts = self._dask_fit_index(X, y)
        uniques = parts.map(_unique_targets, step="classes")
        n_outputs = len(uniques[0])
        classes = [np.unique(np.concatenate([u[k] for u in uniques])) for k in range(n_outputs)]
        yd, _ = as_dask_array(y, "y", ensure_2d=False)
        if yd.ndim == 2 and yd.shape[1] == 1:
            from sklearn.utils.validation import column_or_1d

            column_or_1d(np.empty((0, 1)), warn=True)  # scikit-learn's DataConversionWarning
        for c in classes:
            check_classification_targets(c)
        self.outputs_2d_ = n_outputs > 1
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        return self

    def _encode_targets(self, y):
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        y2 = y.reshape(y.shape[0], -1)
        enc = np.stack([np.searchsorted(c, y2[:, k]) for k, c in enumerate(classes)], axis=1)
        return enc if self.outputs_2d_ else enc.ravel()

    def _dask_proba(self, X):
        check_is_fitted(self, "n_samples_fit_")
        self._check_weights_metric()
        queries, _, out = self._dask_search(X, None, reduce=(_vote_block, self._template()))
        return queries, out

    def predict_proba(self, X):
        """Probability estimates; dask arrays chunked like X for Dask input."""
        if not hasattr(X, "dask"):
            return super().predict_proba(X)
        queries, out = self._dask_proba(X)
        client = queries.client
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        per_output = [self._as_dask([client.submit(_merged_part, f, k, pure=False) for f in out],
                                    queries, (len(c),), np.float64)
                      for k, c in enumerate(classes)]
        return per_output if self.outputs_2d_ else per_output[0]

    def predict(self, X):
        """The class labels; a dask array chunked like X for Dask input."""
        if not hasattr(X, "dask"):
            return super().predict(X)
        queries, out = self._dask_proba(X)
        template = self._template()
        labels = [queries.client.submit(template._labels_of, f, pure=False) for f in out]
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        tail = (len(classes),) if self.outputs_2d_ else ()
        return self._as_dask(labels, queries, tail, classes[0].dtype)


class KNeighborsRegressor(_DaskSupervisedNeighbors, _KNeighborsRegressor):
    """k-nearest-neighbours regression over a distributed index (exact brute force).

    Parameters and attributes are those of :class:`gpulearn.neighbors.KNeighborsRegressor`.
    The average runs beside each query block on the merged neighbours' targets, with the
    single-machine code: predictions equal the single-machine estimator's exactly.
    """

    _target_kind = "regressor"

    @dask_or_local
    def fit(self, X, y):
        """Keep X's blocks on their workers as the index, with their targets."""
        yd, _ = as_dask_array(y, "y", ensure_2d=False)
        if yd.dtype.kind not in "biuf":
            y = yd.astype(np.float64)
        self._dask_fit_index(X, y)
        self._one_output = yd.ndim == 1
        return self

    def predict(self, X):
        """The (weighted) average target; a dask array chunked like X for Dask input."""
        if not hasattr(X, "dask"):
            return super().predict(X)
        check_is_fitted(self, "n_samples_fit_")
        if self.weights == "distance" and self._metric == "inner_product":
            raise ValueError("weights='distance' needs a distance; metric='inner_product' is a "
                             "similarity")
        queries, _, out = self._dask_search(
            X, None, reduce=(_average_block, self._template(), self._one_output))
        probe = queries.client.submit(_shape_and_dtype, out[0]).result()
        return self._as_dask(out, queries, probe[0], probe[1])
